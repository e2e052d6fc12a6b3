//! Accuracy on real messages: every message of `tests/corpus/messages.jsonl` (published error
//! texts with their source) is classified and compared with its labelled category.
//!
//! The corpus has two splits. Rules are written against the `tune` split only; the `holdout`
//! split is an honest measure of how the rules generalise to wordings they were not written
//! for. Enforced: >= 95% on tune and overall, >= 85% on holdout (a floor chosen before the
//! holdout figure was looked at).
//!
//! Always printed (visible with `cargo test --test corpus -- --nocapture`): accuracy per split,
//! a confusion summary per expected category, and the tune misses with id, expected and got
//! category, winning rule and an excerpt. Holdout misses are counted but their messages are
//! only printed with `FLOWDX_CORPUS_HOLDOUT_MISSES=1`, so that tuning rules does not peek at
//! them.
//!
//! Context: a corpus row is classified as an Entra sign-in log row (`Context::SignIn`, where a
//! bare number is read as an AADSTS code) when its product is `entra` and the message is a
//! sign-in log row: it starts with a number (`50053`, `50089 | ...`), or carries the sign-in
//! log's own field names (`Sign-in error code`, `errorCode`, `ResultType`). Every other row is
//! a flow run message (`Context::Run`, the default).

use std::collections::BTreeMap;

use flowdx::classify::{Classifier, MsgContext};
use flowdx::model::Context;

const TUNE_FLOOR: f64 = 0.95;
const OVERALL_FLOOR: f64 = 0.95;
const HOLDOUT_FLOOR: f64 = 0.85;

#[derive(serde::Deserialize)]
struct Row {
    id: String,
    message: String,
    source: String,
    product: String,
    aadsts: Option<String>,
    category: String,
    split: String,
}

fn corpus() -> Vec<Row> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/messages.jsonl");
    let text = std::fs::read_to_string(path).expect("read the corpus");
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("corpus line {}: {e}", i + 1))
        })
        .collect()
}

/// The documented sign-in rule (see the module comment).
fn context_of(row: &Row) -> MsgContext {
    let m = row.message.trim_start();
    let lower = m.to_ascii_lowercase();
    let signin_row = m.starts_with(|c: char| c.is_ascii_digit())
        || lower.contains("sign-in error code")
        || lower.contains("errorcode\"")
        || lower.contains("resulttype");
    let context = if row.product == "entra" && signin_row {
        Context::SignIn
    } else {
        Context::Run
    };
    MsgContext {
        context,
        ..MsgContext::default()
    }
}

fn excerpt(s: &str, n: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= n {
        flat
    } else {
        format!("{}...", flat.chars().take(n).collect::<String>())
    }
}

struct Outcome<'a> {
    row: &'a Row,
    got: &'static str,
    rule: String,
}

fn pct(ok: usize, n: usize) -> f64 {
    if n == 0 { 1.0 } else { ok as f64 / n as f64 }
}

#[test]
fn corpus_accuracy() {
    let rows = corpus();
    let c = Classifier::builtin();
    let outcomes: Vec<Outcome<'_>> = rows
        .iter()
        .map(|row| {
            let d = c.classify(&row.message, context_of(row));
            Outcome {
                row,
                got: d.category.as_str(),
                rule: c.rule_id(d.rule).to_string(),
            }
        })
        .collect();

    let count = |split: Option<&str>| {
        let sel: Vec<&Outcome<'_>> = outcomes
            .iter()
            .filter(|o| split.is_none_or(|s| o.row.split == s))
            .collect();
        let ok = sel.iter().filter(|o| o.got == o.row.category).count();
        (ok, sel.len())
    };
    let (tune_ok, tune_n) = count(Some("tune"));
    let (hold_ok, hold_n) = count(Some("holdout"));
    let (all_ok, all_n) = count(None);

    // Confusion summary: per expected category, how many were right and where the rest went.
    let mut conf: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for o in &outcomes {
        *conf
            .entry(o.row.category.as_str())
            .or_default()
            .entry(o.got)
            .or_default() += 1;
    }
    eprintln!("\ncorpus confusion (expected: right/total, then wrong got x count):");
    for (exp, gots) in &conf {
        let total: usize = gots.values().sum();
        let right = gots.get(exp).copied().unwrap_or(0);
        let wrong: Vec<String> = gots
            .iter()
            .filter(|(g, _)| *g != exp)
            .map(|(g, n)| format!("{g} x{n}"))
            .collect();
        eprintln!(
            "  {exp:<20} {right:>3}/{total:<3} {}",
            if wrong.is_empty() {
                String::new()
            } else {
                format!("-> {}", wrong.join(", "))
            }
        );
    }

    let show_holdout = std::env::var_os("FLOWDX_CORPUS_HOLDOUT_MISSES").is_some();
    eprintln!("\ncorpus misses (id, expected, got, rule, excerpt):");
    let mut hidden = 0;
    for o in outcomes.iter().filter(|o| o.got != o.row.category) {
        if o.row.split == "holdout" && !show_holdout {
            hidden += 1;
            continue;
        }
        eprintln!(
            "  {} [{}] expected {} got {} by {} | {}",
            o.row.id,
            o.row.split,
            o.row.category,
            o.got,
            o.rule,
            excerpt(&o.row.message, 110)
        );
    }
    if hidden > 0 {
        eprintln!(
            "  ({hidden} holdout misses not shown; FLOWDX_CORPUS_HOLDOUT_MISSES=1 shows them)"
        );
    }

    let (t, h, a) = (
        pct(tune_ok, tune_n),
        pct(hold_ok, hold_n),
        pct(all_ok, all_n),
    );
    eprintln!(
        "\ncorpus accuracy: tune {tune_ok}/{tune_n} = {:.1}%, holdout {hold_ok}/{hold_n} = {:.1}%, overall {all_ok}/{all_n} = {:.1}%\n",
        t * 100.0,
        h * 100.0,
        a * 100.0
    );

    assert!(
        t >= TUNE_FLOOR,
        "tune accuracy {:.1}% below {:.0}%",
        t * 100.0,
        TUNE_FLOOR * 100.0
    );
    assert!(
        a >= OVERALL_FLOOR,
        "overall accuracy {:.1}% below {:.0}%",
        a * 100.0,
        OVERALL_FLOOR * 100.0
    );
    assert!(
        h >= HOLDOUT_FLOOR,
        "holdout accuracy {:.1}% below {:.0}%",
        h * 100.0,
        HOLDOUT_FLOOR * 100.0
    );
}

/// The corpus is what the issue asks for: big enough, every category, mostly without codes,
/// every entry sourced, codes in the documented shape.
#[test]
fn corpus_shape() {
    let rows = corpus();
    assert!(rows.len() >= 150, "{} messages, want >= 150", rows.len());
    let mut ids = std::collections::HashSet::new();
    for r in &rows {
        assert!(ids.insert(r.id.as_str()), "duplicate id {}", r.id);
        assert!(!r.source.trim().is_empty(), "{} has no source", r.id);
        assert!(
            r.split == "tune" || r.split == "holdout",
            "{}: split {}",
            r.id,
            r.split
        );
        assert!(
            flowdx::vocab::Category::ALL
                .iter()
                .any(|c| c.as_str() == r.category),
            "{}: unknown category {}",
            r.id,
            r.category
        );
        if let Some(code) = &r.aadsts {
            assert!(
                code.starts_with("AADSTS") && code[6..].chars().all(|c| c.is_ascii_digit()),
                "{}: aadsts {code:?} is not AADSTS<digits>",
                r.id
            );
        }
        assert!(!r.product.is_empty(), "{} has no product", r.id);
    }
    for cat in flowdx::vocab::Category::ALL {
        assert!(
            rows.iter().any(|r| r.category == cat.as_str()),
            "no corpus message for category {}",
            cat.as_str()
        );
    }
    let without = rows.iter().filter(|r| r.aadsts.is_none()).count();
    assert!(
        without * 2 >= rows.len(),
        "{without} of {} without a code, want at least half",
        rows.len()
    );
}

/// One representative message per rule family added for the corpus: family, category and
/// rule id, so a change of priorities that steals a family's message shows here by name.
#[test]
fn corpus_rule_families() {
    use flowdx::vocab::Category as C;
    let table: &[(&str, &str, C, &str)] = &[
        (
            "Device object was not found in the tenant '<TenantID>' directory.",
            "device",
            C::CaDevice,
            "text:device-object",
        ),
        (
            "Access to '{tenant}' tenant is denied.",
            "location",
            C::CaLocation,
            "text:tenant-denied",
        ),
        (
            "The user could not be authenticated as the grant is expired. The user must sign in again.",
            "lifetime",
            C::TokenMaxAge,
            "text:grant-expired",
        ),
        (
            "IDX10222: Lifetime validation failed. The token is not yet valid.",
            "lifetime",
            C::OtherAuth,
            "text:token-not-yet-valid",
        ),
        (
            "Data source credentials are missing or invalid.",
            "credentials",
            C::CredentialsInvalid,
            "text:credentials-missing-or-invalid",
        ),
        (
            "Access token validation failure. Invalid audience.",
            "app",
            C::AppConfig,
            "text:token-audience-issuer",
        ),
        (
            "Tenant 'contoso.example' not found.",
            "tenant",
            C::TenantConfig,
            "text:tenant-not-found",
        ),
        (
            "Error from token exchange. Permission denied due to missing connection ACL.",
            "connection",
            C::OtherAuth,
            "text:token-exchange",
        ),
        (
            "For security reasons, user confirmation is required for this request.",
            "connection",
            C::OtherAuth,
            "text:sign-in-interrupt",
        ),
        (
            "Unable to start flow due to connection references missing connections.",
            "flow-logic",
            C::NotAuth,
            "text:connection-references-unset",
        ),
        (
            "ServiceException: Code: ErrorAccessDenied Message: Access is denied.",
            "http-auth",
            C::OtherAuth,
            "text:access-denied",
        ),
        (
            "\"ErrorCode\": \"3205\", \"Message\": \"Transient system error.\"",
            "service",
            C::Transient,
            "text:transient-error",
        ),
        (
            "ActionConditionFailed. The 'runAfter' condition for action 'Get_a_record' is not satisfied.",
            "flow-logic",
            C::NotAuth,
            "text:run-after-skipped",
        ),
        (
            "{\"error\":{\"code\":\"itemNotFound\",\"message\":\"Item does not exist\"}}",
            "flow-logic",
            C::NotAuth,
            "text:not-found",
        ),
        (
            "The file is locked for shared use by someone else.",
            "flow-logic",
            C::NotAuth,
            "text:request-conflict",
        ),
    ];
    let c = Classifier::builtin();
    for (text, family, cat, id) in table {
        let d = c.classify(text, MsgContext::default());
        assert_eq!(c.rule_id(d.rule), *id, "rule for {text:?}");
        assert_eq!(c.rule(d.rule).family, *family, "family for {text:?}");
        assert_eq!(d.category, *cat, "category for {text:?}");
    }
}

/// Where the text alone cannot decide, the diagnosis is a hypothesis and its note (the
/// `ambiguous_note` of `classify --format json`) names the evidence that would.
#[test]
fn ambiguous_texts_are_hypotheses_with_a_note() {
    use flowdx::vocab::Confidence;
    let c = Classifier::builtin();
    for text in [
        "Failed to refresh access token for service",
        "Failed to refresh access token for service: office365.",
        "The remote server returned an error: (401) Unauthorized.",
        "Request failed with status code 401",
    ] {
        let d = c.classify(text, MsgContext::default());
        assert_eq!(d.confidence, Confidence::Hypothesis, "{text:?}");
        let note = c.note(&d).unwrap_or_else(|| panic!("no note for {text:?}"));
        assert!(
            note.contains("connection's status") && note.contains("sign-in log"),
            "{text:?}: {note}"
        );
    }
}

/// Regression: four invalid UTF-8 bytes (`80 b9 80 b9`), decoded lossily as exports are,
/// once made a sign-in row's code finder cut a string inside a character.
#[test]
fn lossy_decoded_bytes_never_panic_the_classifier() {
    use flowdx::classify::{Classifier, MsgContext};
    use flowdx::model::Context;
    let c = Classifier::builtin();
    let text = String::from_utf8_lossy(&[0x80, 0xb9, 0x80, 0xb9]).into_owned();
    for context in [Context::Run, Context::SignIn, Context::ConnectionStatus] {
        for t in [
            text.as_str(),
            "Sign-in error code \u{fffd}\u{fffd}",
            "errorcode\u{fffd}",
        ] {
            let d = c.classify(
                t,
                MsgContext {
                    context,
                    host: None,
                },
            );
            assert!(d.span.1 <= t.len());
        }
    }
}

//! `flowdx explain TOPIC`: what an AADSTS code, an effect, a category, a root cause or a fix
//! means for flows, what fixes it and who acts. Everything printed comes from the compiled-in
//! catalog, vocabulary and rules, so the explanation always matches what `classify` does.

use crate::classify::{Classifier, catalog, knowledge, parse_code};
use crate::vocab::{Category, Confidence, Effect, Fix, RootCause};
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Explain one topic: an AADSTS code (AADSTS50076, 50076 or aadsts50076), one of \
the source document's effects (E1 to E7), a category (mfa-required), a root cause \
(token-inactivity) or a fix (repair-connection). The explanation says what it is, what it means \
for flows, which fix applies and who must act, and how it connects to the other topics."
)]
pub struct Args {
    /// The code, effect, category, root cause or fix to explain.
    #[arg(value_name = "TOPIC")]
    pub topic: String,
}

pub fn run(args: Args, out: &mut dyn Write) -> crate::Result<u8> {
    let text = explain_topic(&args.topic)?;
    out.write_all(text.as_bytes())
        .map_err(crate::Error::Output)?;
    Ok(crate::cmd::EXIT_OK)
}

/// The explanation of a topic, or an error naming what was expected.
pub fn explain_topic(topic: &str) -> crate::Result<String> {
    let t = topic.trim();
    let mut out = String::new();
    if let Some(code) = parse_code(t) {
        let Some(info) = catalog::lookup(code) else {
            return Err(crate::Error::Usage(format!(
                "AADSTS{code} is not in flowdx's catalog of {} codes (see `flowdx codes`)",
                catalog::catalog().len()
            )));
        };
        explain_code(info, &mut out);
        return Ok(out);
    }
    let mut found = false;
    if let Ok(e) = t.parse::<Effect>() {
        explain_effect(e, &mut out);
        found = true;
    }
    if let Ok(c) = t.parse::<Category>() {
        explain_category(c, &mut out);
        found = true;
    }
    if let Ok(r) = t.parse::<RootCause>() {
        if found {
            out.push('\n');
        }
        explain_root_cause(r, &mut out);
        found = true;
    }
    if let Ok(f) = t.parse::<Fix>() {
        explain_fix(f, &mut out);
        found = true;
    }
    if found {
        Ok(out)
    } else {
        Err(crate::Error::Usage(format!(
            "unknown topic '{topic}': expected an AADSTS code (AADSTS50076, 50076), an effect (E1-E7), \
a category ({}), a root cause ({}) or a fix ({})",
            names(Category::ALL.iter().map(|c| c.as_str())),
            names(RootCause::ALL.iter().map(|r| r.as_str())),
            names(Fix::ALL.iter().map(|f| f.as_str())),
        )))
    }
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

fn line(out: &mut String, label: &str, text: &str) {
    out.push_str(&format!("{label:<12} {text}\n"));
}

fn explain_code(info: &catalog::CodeInfo, out: &mut String) {
    let title = if info.name.is_empty() {
        info.label()
    } else {
        format!("{} {}", info.label(), info.name)
    };
    out.push_str(&title);
    if info.extra {
        out.push_str(" (seen in real messages; not in Entra's published table)");
    }
    out.push_str("\n\n");
    match &info.text {
        Some(t) => line(out, "for flows:", t),
        None => line(
            out,
            "for flows:",
            "No flow-specific description; the category below says what kind of failure it is.",
        ),
    }
    line(
        out,
        "category:",
        &format!(
            "{}: {}",
            info.category,
            knowledge::category_text(info.category)
        ),
    );
    line(
        out,
        "root cause:",
        &format!(
            "{}: {}",
            info.root_cause,
            knowledge::root_cause_text(info.root_cause)
        ),
    );
    if info.effects.is_empty() {
        line(out, "effects:", "none of E1-E7");
    }
    for (i, e) in info.effects.iter().enumerate() {
        line(
            out,
            if i == 0 { "effects:" } else { "" },
            &format!("{e} {}", knowledge::effect_title(e)),
        );
    }
    line(
        out,
        "fix:",
        &format!("{} (actor: {})", info.fix, info.actor),
    );
    line(out, "", knowledge::fix_text(info.fix));
    let mut confidence = info.confidence;
    if let Some(cap) = knowledge::root_cause_cap(info.root_cause) {
        confidence = confidence.min(cap);
    }
    line(out, "confidence:", confidence.as_str());
    line(
        out,
        "owner alone:",
        if info.owner_can_fix {
            "yes: the connection's owner can resolve it without an admin"
        } else {
            "no: the owner cannot resolve it without an admin"
        },
    );
    if let Some(n) = info.note.as_deref().or_else(|| {
        (confidence < Confidence::Certain)
            .then(|| knowledge::root_cause_note(info.root_cause))
            .flatten()
    }) {
        line(out, "to decide:", n);
    }
    out.push_str(
        "\nIn context: creating a connection turns MFA and conditional access failures into E2/E3 \
(root cause signin-not-matching-policy); a flow started from SharePoint, Teams, Power Apps or \
Excel adds E5.\n",
    );
}

fn explain_effect(e: Effect, out: &mut String) {
    out.push_str(&format!("{e}: {}\n\n", knowledge::effect_title(e)));
    line(out, "what:", knowledge::effect_text(e));
    let mut led = Vec::new();
    for c in Category::ALL {
        let d = knowledge::category_defaults(*c);
        if d.effects.contains(e) {
            led.push(format!("{c} (root cause {})", d.root_cause));
        }
    }
    for a in knowledge::adjustments() {
        let touches = a.effects.is_some_and(|x| x.contains(e)) || a.add_effects.contains(e);
        if !touches {
            continue;
        }
        let mut when = Vec::new();
        if let Some(c) = a.context {
            when.push(format!("context {}", context_name(c)));
        }
        match a.host {
            knowledge::HostMatch::Ignore => {}
            knowledge::HostMatch::Any => when.push("any embedding host".into()),
            knowledge::HostMatch::Is(h) => when.push(format!("host {h:?}")),
        }
        let cats = names(a.categories.iter().map(|c| c.as_str()));
        let rc = a
            .root_cause
            .map(|r| format!(", root cause {r}"))
            .unwrap_or_default();
        led.push(format!("{cats} in {}{rc}", when.join(" and ")));
    }
    if led.is_empty() {
        line(
            out,
            "comes from:",
            "no message shows it directly; it is documented for people using the portal",
        );
    }
    for (i, l) in led.iter().enumerate() {
        line(out, if i == 0 { "comes from:" } else { "" }, l);
    }
}

fn context_name(c: crate::model::Context) -> &'static str {
    use crate::model::Context::*;
    match c {
        Run => "run",
        ConnectionCreation => "connection-creation",
        ConnectionStatus => "connection-status",
        SignIn => "sign-in",
    }
}

fn rules_where(pred: impl Fn(&crate::classify::Rule) -> bool) -> Vec<String> {
    Classifier::builtin()
        .rules()
        .iter()
        .filter(|r| r.id.starts_with("text:") && pred(r))
        .map(|r| r.id.clone())
        .collect()
}

fn codes_where(pred: impl Fn(&catalog::CodeInfo) -> bool) -> Vec<String> {
    catalog::catalog()
        .iter()
        .filter(|c| pred(c))
        .map(|c| c.code.to_string())
        .collect()
}

fn list_line(out: &mut String, label: &str, items: &[String], max: usize) {
    if items.is_empty() {
        return;
    }
    let shown = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let more = if items.len() > max {
        format!(" and {} more", items.len() - max)
    } else {
        String::new()
    };
    line(out, label, &format!("{shown}{more}"));
}

fn explain_category(c: Category, out: &mut String) {
    let d = knowledge::category_defaults(c);
    out.push_str(&format!("category {c}\n\n"));
    line(out, "what:", knowledge::category_text(c));
    line(
        out,
        "root cause:",
        &format!(
            "{} (by default): {}",
            d.root_cause,
            knowledge::root_cause_text(d.root_cause)
        ),
    );
    let effects = d.effects.joined(", ");
    line(
        out,
        "effects:",
        if effects.is_empty() {
            "none of E1-E7"
        } else {
            &effects
        },
    );
    line(out, "fix:", &format!("{} (actor: {})", d.fix, d.actor));
    line(out, "", knowledge::fix_text(d.fix));
    list_line(out, "codes:", &codes_where(|i| i.category == c), 24);
    list_line(out, "text rules:", &rules_where(|r| r.category == c), 24);
}

fn explain_root_cause(r: RootCause, out: &mut String) {
    out.push_str(&format!("root cause {r}\n\n"));
    line(out, "why:", knowledge::root_cause_text(r));
    if let Some(cap) = knowledge::root_cause_cap(r) {
        line(out, "confidence:", &format!("at most {cap}"));
    }
    if let Some(n) = knowledge::root_cause_note(r) {
        line(out, "to decide:", n);
    }
    let cats: Vec<String> = Category::ALL
        .iter()
        .filter(|c| knowledge::category_defaults(**c).root_cause == r)
        .map(|c| c.to_string())
        .collect();
    list_line(out, "categories:", &cats, 20);
    let ctx: Vec<String> = knowledge::adjustments()
        .iter()
        .filter(|a| a.root_cause == Some(r))
        .map(|a| names(a.categories.iter().map(|c| c.as_str())))
        .collect();
    list_line(out, "in context:", &ctx, 5);
    list_line(out, "codes:", &codes_where(|i| i.root_cause == r), 24);
    list_line(out, "text rules:", &rules_where(|x| x.root_cause == r), 24);
}

fn explain_fix(f: Fix, out: &mut String) {
    out.push_str(&format!("fix {f}\n\n"));
    line(out, "who:", knowledge::fix_actor(f).as_str());
    line(out, "what:", knowledge::fix_text(f));
    let cats: Vec<String> = Category::ALL
        .iter()
        .filter(|c| knowledge::category_defaults(**c).fix == f)
        .map(|c| c.to_string())
        .collect();
    list_line(out, "categories:", &cats, 20);
    list_line(out, "codes:", &codes_where(|i| i.fix == f), 24);
    list_line(out, "text rules:", &rules_where(|x| x.fix == f), 24);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_in_any_spelling() {
        for t in ["AADSTS50076", "50076", "aadsts50076"] {
            let s = explain_topic(t).unwrap();
            assert!(
                s.starts_with("AADSTS50076 UserStrongAuthClientAuthNRequired"),
                "{s}"
            );
            assert!(s.contains("category:    mfa-required"), "{s}");
            assert!(s.contains("root cause:  ca-policy-after-connection"), "{s}");
            assert!(s.contains("E1 Future runs fail"), "{s}");
            assert!(
                s.contains("fix:         repair-connection (actor: owner)"),
                "{s}"
            );
        }
        let s = explain_topic("50078").unwrap();
        assert!(
            s.contains("confidence:  hypothesis") && s.contains("to decide:"),
            "{s}"
        );
        assert!(explain_topic("AADSTS1").is_err());
        let e = explain_topic("AADSTS99999").unwrap_err().to_string();
        assert!(e.contains("not in flowdx's catalog"), "{e}");
    }

    #[test]
    fn effects_categories_root_causes_fixes() {
        let s = explain_topic("E5").unwrap();
        assert!(s.starts_with("E5: Embedded flows fail"), "{s}");
        assert!(s.contains("embedded-host-session"), "{s}");
        let s = explain_topic("e2").unwrap();
        assert!(s.contains("connection-creation"), "{s}");
        let s = explain_topic("E4").unwrap();
        assert!(s.contains("no message shows it directly"), "{s}");
        let s = explain_topic("token-inactive").unwrap();
        assert!(
            s.contains("70008") && s.contains("text:refresh-token-inactive"),
            "{s}"
        );
        let s = explain_topic("token-inactivity").unwrap();
        assert!(s.starts_with("root cause token-inactivity"), "{s}");
        let s = explain_topic("mfa-max-age").unwrap();
        assert!(s.contains("at most hypothesis"), "{s}");
        let s = explain_topic("repair-connection").unwrap();
        assert!(s.contains("who:         owner"), "{s}");
        // `unknown` is both a category and a root cause.
        let s = explain_topic("unknown").unwrap();
        assert!(
            s.contains("category unknown") && s.contains("root cause unknown"),
            "{s}"
        );
    }

    #[test]
    fn unknown_topic_lists_what_was_expected() {
        let e = explain_topic("bogus").unwrap_err().to_string();
        assert!(e.contains("unknown topic 'bogus'"), "{e}");
        assert!(
            e.contains("mfa-required") && e.contains("E1-E7") && e.contains("retry-later"),
            "{e}"
        );
    }
}

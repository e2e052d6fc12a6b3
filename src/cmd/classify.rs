//! `flowdx classify`: classify error messages one by one, the way `analyze` classifies the
//! texts it finds in exports, and show everything the diagnosis rests on.
//!
//! Input: the messages given as arguments; without any, stdin (or `--input FILE`) one message
//! per line; with `--jsonl`, one JSON object per line whose `message` field is classified
//! (optional `context` and `host` fields override the flags for that line). Output keeps the
//! input order.
//!
//! `--format json` writes one object per message per line with exactly these keys:
//! `message`, `aadsts` (array of `"AADSTS50076"` strings), `category`, `root_cause`, `effects`
//! (array of `"E1"`..), `fix`, `fix_text`, `actor`, `confidence`, `rule` (the rule id),
//! `evidence` (the matched text), `token` (object or null: `service`,
//! `service_correlation_id`, `correlation_id`, `trace_id`, `timestamp`, `issued_on`,
//! `tokens_valid_from` as ISO 8601 UTC, `inactive_for` in seconds; absent fields omitted) and
//! `ambiguous_note` (string or null: for diagnoses that are not certain, which evidence would
//! decide). `--explain` adds `matches`: every rule that matched, winner first, each with
//! `rule`, `family`, `category`, `priority`, `span` (`[start, end]` byte offsets), `evidence`
//! and `winner`.

use crate::classify::{
    Classifier, Diagnosis, MsgContext, RuleMatch, TokenDetails,
    knowledge::{self, parse_context, parse_host},
};
use crate::filter::{Filter, FilterArgs};
use crate::model::{Context, Host};
use crate::time::format_iso;
use serde_json::{Map, Value, json};
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Classify error messages: the AADSTS codes they carry, the category of failure, \
the likely root cause, which documented effects apply, the fix and who must carry it out, how sure \
the diagnosis is, and the rule and text it rests on.\n\nMessages come from the arguments, else from \
stdin (or --input) one per line. With --jsonl each input line is a JSON object and its `message` \
field is classified; `context` and `host` fields on a line override the flags.\n\nThe context \
matters: a failure while creating a connection is effect E2/E3, a flow started from SharePoint, \
Teams, Power Apps or Excel adds E5. Sign-in log rows (--context sign-in) may carry a bare code \
such as `50076`."
)]
pub struct Args {
    /// Messages to classify; without any, read one message per line from stdin or --input.
    #[arg(value_name = "MESSAGE")]
    pub messages: Vec<String>,

    /// Read JSON objects, one per line, and classify their `message` field.
    #[arg(long)]
    pub jsonl: bool,

    /// Read input lines from FILE instead of stdin.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Where the messages come from: run, connection-creation, connection-status or sign-in.
    #[arg(long, value_name = "CONTEXT", default_value = "run", value_parser = parse_context)]
    pub context: Context,

    /// The product hosting the flow's trigger: sharepoint, teams, power-apps or excel (E5).
    #[arg(long, value_name = "HOST", value_parser = parse_host)]
    pub host: Option<Host>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Also list every rule that matched, with its byte span, winner first.
    #[arg(long)]
    pub explain: bool,

    /// Add or override rules from a TOML or JSON rules file (same format as data/rules.toml).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// Messages carry no time, owner, environment or connector: of the filters only
    /// --category and --root-cause apply; messages outside them are not written.
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(serde::Deserialize)]
struct JsonLine {
    message: Option<String>,
    context: Option<String>,
    host: Option<String>,
}

pub fn run(args: Args, out: &mut dyn Write) -> crate::Result<u8> {
    let classifier = match &args.rules {
        Some(p) => Classifier::with_user_rules(p)?,
        None => Classifier::builtin(),
    };
    let base = MsgContext {
        context: args.context,
        host: args.host,
    };
    let filter = args.filter.build()?;
    if filter.needs_context() {
        return Err(crate::Error::Usage(
            "classify reads bare messages, which carry no time, owner, environment or \
             connector; of the filters only --category and --root-cause apply"
                .into(),
        ));
    }
    if args.jsonl && !args.messages.is_empty() {
        return Err(crate::Error::Usage(
            "--jsonl reads stdin or --input; give either messages or --jsonl, not both".into(),
        ));
    }
    if !args.messages.is_empty() {
        for m in &args.messages {
            emit(&classifier, m, base, &args, &filter, out)?;
        }
        return Ok(crate::cmd::EXIT_OK);
    }

    let (name, reader): (PathBuf, Box<dyn BufRead>) = match &args.input {
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|e| crate::Error::io(p, e))?;
            (p.clone(), Box::new(std::io::BufReader::new(f)))
        }
        None => ("-".into(), Box::new(std::io::stdin().lock())),
    };
    let mut reader = reader;
    let mut buf = Vec::new();
    let mut number = 0u64;
    loop {
        number += 1;
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| crate::Error::io(&name, e))?;
        if n == 0 {
            break;
        }
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            return Err(crate::Error::Input {
                path: name.clone(),
                what: format!(
                    "line {number}: longer than {} MiB; one message per line was expected",
                    MAX_LINE >> 20
                ),
            });
        }
        // Messages pasted from Excel or old exports are not always UTF-8: read them lossily
        // rather than refuse the rest of the input.
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim_end_matches('\n').trim_end_matches('\r');
        if args.jsonl {
            if line.trim().is_empty() {
                continue;
            }
            let (message, ctx) =
                parse_json_line(line, base).map_err(|what| crate::Error::Input {
                    path: name.clone(),
                    what: format!("line {number}: {what}"),
                })?;
            emit(&classifier, &message, ctx, &args, &filter, out)?;
        } else {
            emit(&classifier, line, base, &args, &filter, out)?;
        }
    }
    Ok(crate::cmd::EXIT_OK)
}

/// The longest input line `classify` reads: far above any real error message, low enough
/// that a file without newlines cannot exhaust memory.
const MAX_LINE: usize = 16 << 20;

fn parse_json_line(line: &str, base: MsgContext) -> Result<(String, MsgContext), String> {
    let j: JsonLine = serde_json::from_str(line)
        .map_err(|e| format!("expected a JSON object with a \"message\" field: {e}"))?;
    let message = j
        .message
        .ok_or_else(|| "the object has no \"message\" field".to_string())?;
    let mut ctx = base;
    if let Some(c) = j.context {
        ctx.context = parse_context(&c)?;
    }
    if let Some(h) = j.host {
        ctx.host = Some(parse_host(&h)?);
    }
    Ok((message, ctx))
}

fn emit(
    c: &Classifier,
    message: &str,
    ctx: MsgContext,
    args: &Args,
    filter: &Filter,
    out: &mut dyn Write,
) -> crate::Result<()> {
    let d = c.classify(message, ctx);
    if !filter.selects_diagnosis(d.category, d.root_cause) {
        return Ok(());
    }
    let matches = if args.explain {
        c.explain(message, ctx)
    } else {
        Vec::new()
    };
    match args.format {
        Format::Json => {
            let v = to_json(c, message, &d, args.explain.then_some(&matches[..]));
            serde_json::to_writer(&mut *out, &v)
                .map_err(|e| crate::Error::Output(std::io::Error::other(e)))?;
            writeln!(out).map_err(crate::Error::Output)
        }
        Format::Text => {
            write_text(c, message, &d, &matches, args.explain, out).map_err(crate::Error::Output)
        }
    }
}

fn token_json(t: &TokenDetails) -> Value {
    let mut m = Map::new();
    let mut s = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    };
    s("service", &t.service);
    s("service_correlation_id", &t.service_correlation_id);
    s("correlation_id", &t.correlation_id);
    s("trace_id", &t.trace_id);
    for (k, v) in [
        ("timestamp", t.timestamp),
        ("issued_on", t.issued_on),
        ("tokens_valid_from", t.tokens_valid_from),
    ] {
        if let Some(ts) = v {
            m.insert(k.into(), json!(format_iso(ts)));
        }
    }
    if let Some(s) = t.inactive_for {
        m.insert("inactive_for".into(), json!(s));
    }
    Value::Object(m)
}

/// The JSON object for one message (see the module docs for the keys).
pub fn to_json(
    c: &Classifier,
    message: &str,
    d: &Diagnosis,
    matches: Option<&[RuleMatch<'_>]>,
) -> Value {
    let mut v = json!({
        "message": message,
        "aadsts": d.aadsts.iter().map(|c| format!("AADSTS{c}")).collect::<Vec<_>>(),
        "category": d.category,
        "root_cause": d.root_cause,
        "effects": d.effects,
        "fix": d.fix,
        "fix_text": knowledge::fix_text(d.fix),
        "actor": d.actor,
        "confidence": d.confidence,
        "rule": c.rule_id(d.rule),
        "evidence": d.evidence(message),
        "token": d.token.as_deref().map(token_json),
        "ambiguous_note": c.note(d),
    });
    if let Some(ms) = matches {
        v["matches"] = ms
            .iter()
            .map(|m| {
                json!({
                    "rule": m.id,
                    "family": m.family,
                    "category": m.category,
                    "priority": m.priority,
                    "span": [m.span.0, m.span.1],
                    "evidence": message.get(m.span.0..m.span.1).unwrap_or(""),
                    "winner": m.winner,
                })
            })
            .collect();
    }
    v
}

fn write_text(
    c: &Classifier,
    message: &str,
    d: &Diagnosis,
    matches: &[RuleMatch<'_>],
    explain: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(out, "message:     {}", one_line(message, 300))?;
    if !d.aadsts.is_empty() {
        let codes: Vec<String> = d.aadsts.iter().map(|c| format!("AADSTS{c}")).collect();
        writeln!(out, "aadsts:      {}", codes.join(", "))?;
    }
    writeln!(
        out,
        "category:    {}: {}",
        d.category,
        knowledge::category_text(d.category)
    )?;
    writeln!(
        out,
        "root cause:  {}: {}",
        d.root_cause,
        knowledge::root_cause_text(d.root_cause)
    )?;
    if d.effects.is_empty() {
        writeln!(out, "effects:     none of E1-E7")?;
    }
    for (i, e) in d.effects.iter().enumerate() {
        let label = if i == 0 { "effects:" } else { "" };
        writeln!(
            out,
            "{label:<12} {e} {}: {}",
            knowledge::effect_title(e),
            knowledge::effect_text(e)
        )?;
    }
    writeln!(out, "fix:         {} (actor: {})", d.fix, d.actor)?;
    writeln!(out, "             {}", knowledge::fix_text(d.fix))?;
    writeln!(out, "confidence:  {}", d.confidence)?;
    writeln!(out, "rule:        {}", c.rule_id(d.rule))?;
    let ev = d.evidence(message);
    if !ev.is_empty() {
        writeln!(out, "evidence:    {}", one_line(ev, 300))?;
    }
    if let Some(t) = d.token.as_deref() {
        let mut parts = Vec::new();
        if let Some(s) = &t.service {
            parts.push(format!("service={s}"));
        }
        if let Some(s) = &t.service_correlation_id {
            parts.push(format!("service_correlation_id={s}"));
        }
        if let Some(s) = &t.correlation_id {
            parts.push(format!("correlation_id={s}"));
        }
        if let Some(s) = &t.trace_id {
            parts.push(format!("trace_id={s}"));
        }
        for (k, v) in [
            ("timestamp", t.timestamp),
            ("issued_on", t.issued_on),
            ("tokens_valid_from", t.tokens_valid_from),
        ] {
            if let Some(ts) = v {
                parts.push(format!("{k}={}", format_iso(ts)));
            }
        }
        if let Some(s) = t.inactive_for {
            parts.push(format!("inactive_for={}d{}s", s / 86_400, s % 86_400));
        }
        writeln!(out, "token:       {}", parts.join(" "))?;
    }
    if let Some(n) = c.note(d) {
        writeln!(out, "to decide:   {n}")?;
    }
    if explain {
        if matches.is_empty() {
            writeln!(out, "matches:     none")?;
        } else {
            writeln!(out, "matches:")?;
        }
        for m in matches {
            writeln!(
                out,
                "  {} {:<36} {:<14} {:<19} prio {:>4}  {}..{}  {}",
                if m.winner { "*" } else { "-" },
                m.id,
                m.family,
                m.category.as_str(),
                m.priority,
                m.span.0,
                m.span.1,
                one_line(message.get(m.span.0..m.span.1).unwrap_or(""), 80)
            )?;
        }
    }
    writeln!(out)
}

/// A text on one line, whitespace (and escaped `\r\n`) collapsed, cut at `max` characters.
fn one_line(s: &str, max: usize) -> String {
    let flat = s.replace("\\r\\n", " ").replace("\\n", " ");
    let mut out = String::with_capacity(flat.len().min(max + 3));
    let mut n = 0;
    for w in flat.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
        n += w.chars().count() + 1;
        if n > max {
            break;
        }
    }
    if out.chars().count() > max {
        let cut: String = out.chars().take(max).collect();
        return format!("{cut}...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn run_cli(argv: &[&str]) -> (crate::Result<u8>, String) {
        let cli = crate::cmd::Cli::try_parse_from(argv).unwrap();
        let mut out = Vec::new();
        let r = crate::cmd::run(cli, &mut out);
        (r, String::from_utf8(out).unwrap())
    }

    const MFA: &str = "AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.";

    #[test]
    fn json_has_exactly_the_documented_keys() {
        let (r, out) = run_cli(&[
            "flowdx",
            "classify",
            "--format",
            "json",
            MFA,
            "ActionFailed",
        ]);
        assert_eq!(r.unwrap(), 0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        let v: Value = serde_json::from_str(lines[0]).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort();
        let mut want = vec![
            "message",
            "aadsts",
            "category",
            "root_cause",
            "effects",
            "fix",
            "fix_text",
            "actor",
            "confidence",
            "rule",
            "evidence",
            "token",
            "ambiguous_note",
        ];
        want.sort();
        assert_eq!(keys, want);
        assert_eq!(v["aadsts"], json!(["AADSTS50076"]));
        assert_eq!(v["category"], "mfa-required");
        assert_eq!(v["effects"], json!(["E1"]));
        assert_eq!(v["actor"], "owner");
        assert_eq!(v["rule"], "aadsts:50076");
        assert!(v["token"].is_null() && v["ambiguous_note"].is_null());
        let w: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(w["category"], "unknown");
        assert!(
            w["ambiguous_note"]
                .as_str()
                .unwrap()
                .contains("failing action")
        );
    }

    #[test]
    fn context_host_and_explain() {
        let (_, out) = run_cli(&[
            "flowdx",
            "classify",
            "--format",
            "json",
            "--context",
            "connection-creation",
            MFA,
        ]);
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["effects"], json!(["E2", "E3"]));
        assert_eq!(v["root_cause"], "signin-not-matching-policy");
        let (_, out) = run_cli(&[
            "flowdx",
            "classify",
            "--format",
            "json",
            "--host",
            "sharepoint",
            "--explain",
            MFA,
        ]);
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["effects"], json!(["E1", "E5"]));
        let m = v["matches"].as_array().unwrap();
        assert_eq!(m[0]["rule"], "aadsts:50076");
        assert_eq!(m[0]["winner"], true);
        assert!(m.iter().any(|x| x["rule"] == "text:mfa-must-use"));
    }

    #[test]
    fn text_output_shows_the_diagnosis() {
        let t = "Failed to refresh access token for service: office365. Correlation Id=g-1, UTC TimeStamp=5/2/2024 6:01:13 AM, Error: The refresh token has expired due to inactivity. The token was issued on 2024-01-05T10:00:00Z and was inactive for 90.00:00:00.";
        let (r, out) = run_cli(&["flowdx", "classify", "--explain", t]);
        assert_eq!(r.unwrap(), 0);
        for want in [
            "category:    token-inactive",
            "root cause:  token-inactivity",
            "E1 Future runs fail",
            "fix:         reauthenticate-idle-connection (actor: owner)",
            "confidence:  certain",
            "rule:        text:refresh-token-inactive",
            "evidence:    expired due to inactivity",
            "service=office365",
            "issued_on=2024-01-05T10:00:00Z",
            "inactive_for=90d0s",
            "* text:refresh-token-inactive",
        ] {
            assert!(out.contains(want), "missing {want:?} in\n{out}");
        }
    }

    #[test]
    fn jsonl_from_a_file_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.jsonl");
        std::fs::write(
            &p,
            "{\"message\": \"50076\", \"context\": \"sign-in\"}\n\n{\"message\": \"TooManyRequests\"}\n{\"message\": \"x\", \"host\": \"teams\"}\n",
        )
        .unwrap();
        let (r, out) = run_cli(&[
            "flowdx",
            "classify",
            "--jsonl",
            "--format",
            "json",
            "--input",
            p.to_str().unwrap(),
        ]);
        assert_eq!(r.unwrap(), 0);
        let v: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0]["aadsts"], json!(["AADSTS50076"]));
        assert_eq!(v[1]["category"], "not-auth");
        assert_eq!(v[2]["category"], "unknown");

        std::fs::write(&p, "{\"message\": \"ok\"}\nnot json\n").unwrap();
        let (r, _) = run_cli(&[
            "flowdx",
            "classify",
            "--jsonl",
            "--input",
            p.to_str().unwrap(),
        ]);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("in.jsonl") && e.contains("line 2"), "{e}");
        std::fs::write(&p, "{\"text\": \"ok\"}\n").unwrap();
        let (r, _) = run_cli(&[
            "flowdx",
            "classify",
            "--jsonl",
            "--input",
            p.to_str().unwrap(),
        ]);
        assert!(r.unwrap_err().to_string().contains("no \"message\" field"));
    }

    #[test]
    fn plain_lines_from_a_file_and_user_rules() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.txt");
        std::fs::write(&p, "ActionFailed\r\nLogin failed for user 'svc'.\n").unwrap();
        let rules = dir.path().join("r.toml");
        std::fs::write(
            &rules,
            "[[rule]]\nid = \"site:sql\"\nfamily = \"sql\"\nany = [\"login failed for user\"]\ncategory = \"credentials-invalid\"\n",
        )
        .unwrap();
        let (r, out) = run_cli(&[
            "flowdx",
            "classify",
            "--format",
            "json",
            "--input",
            p.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
        ]);
        assert_eq!(r.unwrap(), 0);
        let v: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(v[0]["message"], "ActionFailed");
        assert_eq!(v[1]["rule"], "site:sql");
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[[rule]]\nid = 3\n").unwrap();
        let (r, _) = run_cli(&["flowdx", "classify", "--rules", bad.to_str().unwrap(), "x"]);
        assert!(r.unwrap_err().to_string().contains("bad.toml:2"));
    }

    #[test]
    fn bad_flags_fail_at_parse_time() {
        assert!(
            crate::cmd::Cli::try_parse_from(["flowdx", "classify", "--host", "outlook"]).is_err()
        );
        assert!(
            crate::cmd::Cli::try_parse_from(["flowdx", "classify", "--context", "later"]).is_err()
        );
        let (r, _) = run_cli(&["flowdx", "classify", "--jsonl", "x"]);
        assert!(matches!(r, Err(crate::Error::Usage(_))));
    }
}

//! End-to-end tests of the reports people use: golden files for every format on the
//! samples, hostile cells through the binary (CSV and HTML), the page rendered in a real
//! browser, `tag` round trips, redaction, filters and `--fail-on`.
//!
//! Every run uses paths relative to the crate root (the binary runs there), so the
//! snapshots hold no machine-dependent path.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run flowdx in the crate root with `args`; returns (status, stdout, stderr).
fn flowdx(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::cargo_bin("flowdx")
        .unwrap()
        .current_dir(root())
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn analyze_samples(format: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "analyze",
        "samples",
        "--no-progress",
        "-f",
        format,
        "-j",
        "2",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = flowdx(&args);
    assert_eq!(code, 0, "flowdx {args:?} failed: {err}");
    String::from_utf8(out).unwrap()
}

fn json_of_samples(extra: &[&str]) -> serde_json::Value {
    serde_json::from_str(&analyze_samples("json", extra)).unwrap()
}

/// A scratch folder in the crate's target dir (relative paths keep output stable).
fn scratch(name: &str) -> PathBuf {
    let d = root().join("target").join("test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn snapshot_table() {
    insta::assert_snapshot!(
        "samples_table",
        analyze_samples("table", &["--color", "never"])
    );
}

#[test]
fn snapshot_json() {
    insta::assert_snapshot!("samples_json", analyze_samples("json", &[]));
}

#[test]
fn snapshot_csv() {
    insta::assert_snapshot!("samples_csv", analyze_samples("csv", &[]));
}

#[test]
fn snapshot_markdown() {
    insta::assert_snapshot!("samples_markdown", analyze_samples("markdown", &[]));
}

#[test]
fn snapshot_html() {
    insta::assert_snapshot!("samples_html", analyze_samples("html", &[]));
}

#[test]
fn markdown_starts_with_a_summary_before_any_table() {
    let md = analyze_samples("markdown", &[]);
    let first_table = md.find("\n|").expect("a table");
    let head = &md[..first_table];
    assert!(head.contains("failures"), "summary first: {head}");
    assert!(head.contains("must"), "who acts before the tables: {head}");
}

#[test]
fn csv_excel_adds_bom_and_times_are_iso_utc() {
    let plain = analyze_samples("csv", &[]);
    let excel = analyze_samples("csv", &["--excel"]);
    assert_eq!(excel.strip_prefix('\u{feff}'), Some(plain.as_str()));
    let mut rd = csv::Reader::from_reader(plain.as_bytes());
    let hdr = rd.headers().unwrap().clone();
    let first = hdr.iter().position(|h| h == "first_seen").unwrap();
    let mut rows = 0;
    for rec in rd.records() {
        let rec = rec.unwrap();
        rows += 1;
        let t = &rec[first];
        assert!(
            t.is_empty() || (t.len() == 20 && t.ends_with('Z') && &t[10..11] == "T"),
            "{t}"
        );
    }
    assert!(rows > 0);
    // One header row: no later row repeats it.
    assert_eq!(plain.matches("owner,connection,").count(), 1);
}

const HOSTILE: &[&str] = &[
    "=HYPERLINK(\"http://evil.example/\",\"x\")",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\tTAB",
    "\rCR",
];

/// A JSON Lines run history whose every text field is hostile.
fn hostile_runs(dir: &Path, cells: &[&str]) -> PathBuf {
    let mut text = String::new();
    for (i, bad) in cells.iter().enumerate() {
        let rec = serde_json::json!({
            "run_id": format!("{bad}-run{i}"),
            "flow_id": format!("{bad}-flow{i}"),
            "flow_name": bad,
            "owner": bad,
            "environment": bad,
            "connection": format!("{bad}-conn{i}"),
            "status": "Failed",
            "start_time": "2024-05-02T06:01:13Z",
            "error_code": "Unauthorized",
            "error_message": format!("{bad} AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'. {bad}"),
        });
        text.push_str(&rec.to_string());
        text.push('\n');
        let rec = serde_json::json!({
            "run_id": format!("{bad}-u{i}"),
            "flow_name": bad,
            "owner": bad,
            "connection": bad,
            "status": "Failed",
            "start_time": "2024-05-03T06:01:13Z",
            "error_message": format!("{bad} something nobody has a rule for {i}"),
        });
        text.push_str(&rec.to_string());
        text.push('\n');
    }
    let p = dir.join("runs.jsonl");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn csv_injection_is_neutralised_in_every_text_column_end_to_end() {
    let dir = scratch("csv-injection");
    let runs = hostile_runs(&dir, HOSTILE);
    let (code, out, err) = flowdx(&["analyze", &rel(&runs), "--no-progress", "-f", "csv"]);
    assert_eq!(code, 0, "{err}");
    let mut rd = csv::Reader::from_reader(out.as_slice());
    let hdr = rd.headers().unwrap().clone();
    let mut rows = 0;
    for rec in rd.records() {
        let rec = rec.unwrap();
        rows += 1;
        for (name, cell) in hdr.iter().zip(rec.iter()) {
            assert!(
                !matches!(
                    cell.as_bytes().first(),
                    Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
                ),
                "column {name} starts dangerously: {cell:?}"
            );
        }
    }
    assert!(rows >= 1, "the hostile runs make groups");
}

#[test]
fn html_escapes_markup_from_every_text() {
    let dir = scratch("html-injection");
    let bad = [
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(2)>",
        "'><svg onload=alert(3)>",
    ];
    let runs = hostile_runs(&dir, &bad);
    let (code, out, err) = flowdx(&["analyze", &rel(&runs), "--no-progress", "-f", "html"]);
    assert_eq!(code, 0, "{err}");
    let html = String::from_utf8(out).unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<img"));
    assert!(!html.contains("<svg onload"));
    assert_eq!(html.matches("<script>").count(), 1, "only our own script");
}

#[test]
fn html_is_self_contained() {
    let html = analyze_samples("html", &[]);
    // Messages may quote URLs as text; what matters is that nothing is loaded.
    for bad in ["<link", " src=", "href=\"http", "@import", "url("] {
        assert!(
            !html.contains(bad),
            "page refers to something outside: {bad}"
        );
    }
    assert!(html.contains("@media print"));
    assert!(html.contains("max-width:700px"));
}

fn find_chromium() -> Option<PathBuf> {
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        if let Some(paths) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&paths) {
                let p = dir.join(name);
                if p.is_file() {
                    return Some(p);
                }
            }
        }
    }
    None
}

/// The text of the element with this id in a dumped DOM (`<x id="ID" ...>TEXT<`).
fn text_of_id(dom: &str, id: &str) -> Option<String> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let rest = &dom[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')? + start;
    Some(rest[start..end].trim().to_string())
}

#[test]
fn html_report_in_headless_chromium_shows_the_json_counts() {
    let Some(chromium) = find_chromium() else {
        println!(
            "SKIPPED: no chromium binary on PATH; install it (apt-get install -y chromium) to run this test"
        );
        return;
    };
    let dir = scratch("browser");
    let page = dir.join("report.html");
    std::fs::write(&page, analyze_samples("html", &[])).unwrap();
    let json = json_of_samples(&[]);
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium failed: {:?}", out);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script ran to the end"
    );
    let groups = json["groups"].as_array().unwrap().len();
    assert!(groups > 0);
    assert_eq!(text_of_id(&dom, "group-count").unwrap(), groups.to_string());
    assert_eq!(text_of_id(&dom, "shown-count").unwrap(), groups.to_string());
    for (id, key) in [
        ("total-records", "records"),
        ("total-not-failed", "not_failed"),
        ("total-classified", "classified"),
        ("total-unclassified", "unclassified"),
        ("total-malformed", "malformed"),
        ("total-failed-runs", "failed_runs"),
    ] {
        assert_eq!(
            text_of_id(&dom, id).unwrap(),
            json["totals"][key].to_string(),
            "{id}"
        );
    }
    // The script filled the owner filter with one option per distinct owner (plus "all").
    let owners: std::collections::BTreeSet<&str> = json["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["owner"].as_str().unwrap())
        .collect();
    let sel = dom.find("data-filter=\"owner\"").unwrap();
    let sel_end = dom[sel..].find("</select>").unwrap() + sel;
    assert_eq!(
        dom[sel..sel_end].matches("<option").count(),
        owners.len() + 1
    );
    // One bar segment per (day, root cause) with failures; their sum is the failed runs.
    let bars: u64 = dom
        .match_indices("data-count=\"")
        .map(|(i, m)| {
            let s = &dom[i + m.len()..];
            s[..s.find('"').unwrap()].parse::<u64>().unwrap()
        })
        .sum();
    let daily: u64 = json["daily"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["failed"].as_object().unwrap().values())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(bars, daily);
}

#[test]
fn fail_on_sets_status_one_only_on_a_match() {
    let run = |what: &str| {
        flowdx(&[
            "analyze",
            "samples",
            "--no-progress",
            "-f",
            "json",
            "-o",
            "/dev/null",
            "--fail-on",
            what,
        ])
        .0
    };
    assert_eq!(run("any"), 1);
    assert_eq!(run("actor:admin"), 1);
    assert_eq!(run("mfa-required"), 1);
    assert_eq!(run("ca-device"), 0, "no device failures in the samples");
    assert_eq!(run("no-such-thing"), 2);
    let (code, _, _) = flowdx(&["analyze", "samples", "--no-progress", "-o", "/dev/null"]);
    assert_eq!(code, 0);
}

#[test]
fn completions_and_man_come_from_the_command_line_definition() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (code, out, err) = flowdx(&["completions", shell]);
        assert_eq!(code, 0, "{err}");
        assert!(
            String::from_utf8(out).unwrap().contains("fail-on"),
            "{shell}"
        );
    }
    let (code, out, _) = flowdx(&["man"]);
    assert_eq!(code, 0);
    assert!(String::from_utf8(out).unwrap().contains(".TH flowdx"));
}

#[test]
fn redacted_reports_name_no_sample_person() {
    let plain = json_of_samples(&[]);
    let mut people: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for g in plain["groups"].as_array().unwrap() {
        let owner = g["owner"].as_str().unwrap();
        if owner != "unknown" {
            people.insert(owner.to_string());
            if let Some((name, rest)) = owner.split_once('<') {
                people.insert(name.trim().to_string());
                people.insert(rest.trim_end_matches('>').to_string());
            }
        }
    }
    let text = plain.to_string();
    for word in text.split(|c: char| !(c.is_alphanumeric() || "@._-".contains(c))) {
        if word.contains('@') && word.contains('.') {
            people.insert(word.to_string());
        }
    }
    assert!(people.len() > 3, "{people:?}");
    for format in ["json", "csv", "markdown", "html", "table"] {
        let out = analyze_samples(
            format,
            &["--redact", "--redact-key", "k1", "--color", "never"],
        );
        for p in &people {
            assert!(!out.contains(p.as_str()), "{format} names {p}");
        }
        assert!(out.contains("person-"), "{format}");
        let again = analyze_samples(
            format,
            &["--redact", "--redact-key", "k1", "--color", "never"],
        );
        assert_eq!(out, again, "same key, same pseudonyms");
    }
}

//! The shared filters (`--since`, `--until`, `--owner`, `--environment`, `--connector`,
//! `--category`, `--root-cause`) on `analyze`, `merge` of filtered partials, `tag` and
//! `classify`.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn flowdx() -> Command {
    Command::cargo_bin("flowdx").expect("binary built")
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn analyze_json(args: &[&str]) -> Value {
    let out = flowdx()
        .arg("analyze")
        .arg(samples())
        .args(args)
        .args(["--format", "json", "--no-progress"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "analyze failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

fn num(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// The identity, in total and per input.
fn assert_balanced(r: &Value) {
    let sum = |c: &Value| {
        num(c, "not_failed")
            + num(c, "classified")
            + num(c, "unclassified")
            + num(c, "malformed")
            + num(c, "filtered")
    };
    assert_eq!(num(&r["totals"], "records"), sum(&r["totals"]));
    for i in r["inputs"].as_array().unwrap() {
        assert_eq!(num(i, "records"), sum(i), "{i}");
    }
}

#[test]
fn category_filter_keeps_only_that_category_and_counts_the_rest() {
    let all = analyze_json(&[]);
    let only = analyze_json(&["--category", "token-revoked"]);
    assert_balanced(&all);
    assert_balanced(&only);
    let (ta, to) = (&all["totals"], &only["totals"]);
    assert_eq!(num(ta, "filtered"), 0);
    assert_eq!(num(ta, "records"), num(to, "records"));
    assert_eq!(num(ta, "not_failed"), num(to, "not_failed"));
    assert_eq!(num(ta, "failed"), num(to, "failed") + num(to, "filtered"));
    assert!(num(to, "filtered") > 0 && num(to, "classified") > 0);
    let groups = only["groups"].as_array().unwrap();
    assert!(!groups.is_empty());
    for g in groups {
        assert_eq!(g["category"], "token-revoked", "{g}");
    }
    // Failures of that category are the same with or without the filter.
    let count = |r: &Value| -> u64 {
        r["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["category"] == "token-revoked")
            .map(|g| num(g, "failures"))
            .sum()
    };
    assert_eq!(count(&all), count(&only));
    assert_eq!(
        num(to, "unclassified"),
        0,
        "unexplained failures are unknown"
    );
}

#[test]
fn time_window_selects_a_subset_and_still_adds_up() {
    let all = analyze_json(&[]);
    let may = analyze_json(&["--since", "2024-05-01", "--until", "2024-05-31"]);
    let later = analyze_json(&["--since", "2024-06-01"]);
    for r in [&may, &later] {
        assert_balanced(r);
    }
    let failed = |r: &Value| num(&r["totals"], "failed");
    assert!(failed(&may) > 0 && failed(&may) < failed(&all));
    assert_eq!(
        failed(&all),
        failed(&may) + num(&may["totals"], "filtered"),
        "every failure is selected or filtered"
    );
    for d in may["daily"].as_array().unwrap() {
        let day = d["day"].as_str().unwrap();
        let failed_that_day = d["failed"].as_object().is_some_and(|m| !m.is_empty());
        assert!(
            !failed_that_day || day.starts_with("2024-05"),
            "a failure outside the window in the daily series: {d}"
        );
    }
}

#[test]
fn owner_filter_keeps_only_that_owners_groups() {
    let r = analyze_json(&["--owner", "megan"]);
    assert_balanced(&r);
    let groups = r["groups"].as_array().unwrap();
    assert!(!groups.is_empty());
    for g in groups {
        assert!(
            g["owner"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("megan"),
            "{g}"
        );
    }
}

#[test]
fn unknown_category_is_an_error_naming_the_valid_ones() {
    for cmd in ["analyze", "tag", "classify"] {
        flowdx()
            .args([cmd, "--category", "mfa", "x"])
            .assert()
            .code(2)
            .stderr(predicates::str::contains("mfa-required"))
            .stderr(predicates::str::contains("token-inactive"));
    }
    flowdx()
        .args(["analyze", "--root-cause", "bad", "x"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("token-inactivity"));
}

#[test]
fn since_after_until_is_an_error() {
    flowdx()
        .arg("analyze")
        .arg(samples())
        .args(["--since", "2024-06-01", "--until", "2024-05-01"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is after --until"));
}

#[test]
fn filtered_partials_merge_like_one_filtered_run() {
    let dir = tempfile::tempdir().unwrap();
    let runs = samples().join("runs");
    let filter = ["--category", "token-revoked"];
    let mut parts = Vec::new();
    for (n, files) in [
        vec!["dataverse-flowrun-export.csv", "flow-api-runs.json"],
        vec!["get-flowrun-export.csv", "runs.jsonl.gz"],
    ]
    .iter()
    .enumerate()
    {
        let part = dir.path().join(format!("part{n}.json"));
        flowdx()
            .args(["analyze", "--no-progress", "--partial", "-o"])
            .arg(&part)
            .args(files.iter().map(|f| runs.join(f)))
            .args(filter)
            .assert()
            .success();
        parts.push(part);
    }
    let merged = flowdx()
        .args(["merge", "-f", "json"])
        .args(&parts)
        .output()
        .unwrap();
    assert!(merged.status.success());
    let merged: Value = serde_json::from_slice(&merged.stdout).unwrap();
    let one = flowdx()
        .args(["analyze", "--no-progress", "-f", "json"])
        .args(
            [
                "dataverse-flowrun-export.csv",
                "flow-api-runs.json",
                "get-flowrun-export.csv",
                "runs.jsonl.gz",
            ]
            .iter()
            .map(|f| runs.join(f)),
        )
        .args(filter)
        .output()
        .unwrap();
    let one: Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_balanced(&merged);
    assert!(num(&merged["totals"], "filtered") > 0);
    assert_eq!(merged["totals"], one["totals"]);
    assert_eq!(merged["groups"], one["groups"]);
}

#[test]
fn tag_leaves_failures_outside_the_filters_untagged() {
    let path = samples().join("runs/dataverse-flowrun-export.csv");
    let inv = samples().join("inventory/connections.json");
    let run = |extra: &[&str]| {
        let out = flowdx()
            .arg("tag")
            .arg(&path)
            .arg("--join")
            .arg(&inv)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (all, _) = run(&[]);
    let (none, stderr) = run(&["--category", "mfa-required"]);
    assert!(all.contains(";token-revoked;"));
    assert!(!none.contains(";token-revoked;"));
    assert_eq!(
        all.lines().count(),
        none.lines().count(),
        "every row is kept"
    );
    assert!(
        stderr.contains("0 failed runs tagged") && stderr.contains("untagged by the filters"),
        "{stderr}"
    );
}

#[test]
fn classify_writes_only_messages_in_the_filters() {
    let out = flowdx()
        .args([
            "classify",
            "--format",
            "json",
            "--category",
            "mfa-required",
            "AADSTS50076: you must use multi-factor authentication",
            "AADSTS700082: The refresh token has expired due to inactivity.",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("mfa-required"));
    flowdx()
        .args(["classify", "--owner", "megan", "AADSTS50076"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "only --category and --root-cause",
        ));
}

#[test]
fn tag_only_selected_writes_the_header_and_the_selected_failures() {
    let path = samples().join("runs/dataverse-flowrun-export.csv");
    let inv = samples().join("inventory/connections.json");
    let out = flowdx()
        .arg("tag")
        .arg(&path)
        .arg("--join")
        .arg(&inv)
        .args([
            "--only-selected",
            "--category",
            "token-revoked",
            "--jobs",
            "2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().ends_with(";flowdx_aadsts"));
    let rows: Vec<&str> = lines.collect();
    assert!(!rows.is_empty());
    for row in &rows {
        assert!(
            row.contains(";Failed;") && row.contains(";token-revoked;"),
            "{row}"
        );
    }
    // Every selected row is a row of the input, with the cells appended.
    let input = std::fs::read_to_string(&path).unwrap();
    for row in rows {
        let original = row.rsplitn(7, ';').last().unwrap();
        assert!(input.contains(original), "{original}");
    }
}

//! End-to-end tests: run the binary on the bundled samples and on malformed inputs.

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

fn groups_of<'a>(report: &'a Value, owner_part: &str) -> Vec<&'a Value> {
    report["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter(|g| g["owner"].as_str().unwrap_or("").contains(owner_part))
        .collect()
}

#[test]
fn samples_accounting_holds_per_input_and_in_total() {
    let r = analyze_json(&[samples().to_str().unwrap()]);
    let t = &r["totals"];
    assert_eq!(
        num(t, "records"),
        num(t, "not_failed")
            + num(t, "classified")
            + num(t, "unclassified")
            + num(t, "malformed")
            + num(t, "filtered")
    );
    let inputs = r["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 14, "every sample export is read");
    for i in inputs {
        assert_eq!(
            num(i, "records"),
            num(i, "not_failed")
                + num(i, "classified")
                + num(i, "unclassified")
                + num(i, "malformed")
                + num(i, "filtered"),
            "{i}"
        );
        assert_eq!(num(i, "malformed"), 0, "samples are well formed: {i}");
    }
    let sum: u64 = inputs.iter().map(|i| num(i, "records")).sum();
    assert_eq!(sum, num(t, "records"));
    // The samples' README is not an export: listed as skipped, with a reason.
    let skipped = r["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["path"].as_str().unwrap().ends_with("README.md"))
    );
}

#[test]
fn samples_kinds_are_sniffed() {
    let r = analyze_json(&[samples().to_str().unwrap()]);
    let kind_of = |name: &str| -> String {
        r["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} not read"))["kind"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(kind_of("flow-api-runs.json"), "run-history");
    assert_eq!(kind_of("dataverse-flowrun-export.csv"), "run-history");
    assert_eq!(kind_of("get-flowrun-export.csv"), "run-history");
    assert_eq!(kind_of("runs.jsonl.gz"), "run-history");
    assert_eq!(kind_of("logicapps-run-actions.json"), "run-actions");
    assert_eq!(kind_of("flows.json"), "flow-inventory");
    assert_eq!(kind_of("connections.json"), "connection-inventory");
    assert_eq!(
        kind_of("InteractiveSignIns_2024-04-01_2024-05-31.csv"),
        "sign-in-log"
    );
    assert_eq!(kind_of("signins-graph.json"), "sign-in-log");
    assert_eq!(kind_of("Get-AzureADPolicy.txt"), "token-policy");
    assert_eq!(kind_of("tokenLifetimePolicies.json"), "token-policy");
}

#[test]
fn samples_story_is_diagnosed_per_owner() {
    let r = analyze_json(&[samples().to_str().unwrap()]);
    // Password reset: Megan's connections, token revoked, owner repairs.
    let megan = groups_of(&r, "Megan Bowen");
    assert!(!megan.is_empty());
    assert!(
        megan
            .iter()
            .any(|g| g["root_cause"] == "credentials-changed"
                && g["category"] == "token-revoked"
                && g["actor"] == "owner")
    );
    // Departed owner: the admin reassigns.
    let lee = groups_of(&r, "Lee Gu");
    assert!(
        lee.iter()
            .any(|g| g["root_cause"] == "owner-account-unavailable"
                && g["fix"] == "reassign-owner"
                && g["actor"] == "admin")
    );
    // Idle connection.
    let nestor = groups_of(&r, "Nestor Wilke");
    assert!(nestor.iter().any(|g| {
        g["root_cause"] == "token-inactivity"
            && g["aadsts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "AADSTS700082")
    }));
    // Timing names the cause of Alex's failures: a 14-day remember-MFA cycle.
    let alex = groups_of(&r, "Alex Wilber");
    assert!(alex.iter().any(|g| g["root_cause"] == "mfa-max-age"));
    // Portal CSV has no error text: explained through the connection's status.
    let diego = groups_of(&r, "Diego Siciliani");
    assert!(diego.iter().any(|g| g["category"] == "mfa-required"
        && g["evidence_source"] == "connection-status"
        && num(g, "failed_runs") > 0));
    // Every group names an owner and a connection: the inventories name them all.
    for g in r["groups"].as_array().unwrap() {
        if num(g, "failed_runs") > 0 && g["category"] != "not-auth" && g["category"] != "unknown" {
            assert_ne!(g["owner"], "unknown", "{g}");
        }
    }
    // A bare ActionFailed with healthy connections stays unexplained, grouped by signature.
    assert!(num(&r["totals"], "unclassified") > 0);
    assert!(!r["unexplained"].as_array().unwrap().is_empty());
}

#[test]
fn output_is_identical_for_any_thread_count() {
    let dir = samples();
    let one = flowdx()
        .args([
            "analyze",
            dir.to_str().unwrap(),
            "--format",
            "json",
            "-j",
            "1",
        ])
        .output()
        .unwrap();
    let two = flowdx()
        .args([
            "analyze",
            dir.to_str().unwrap(),
            "--format",
            "json",
            "-j",
            "2",
        ])
        .output()
        .unwrap();
    assert!(one.status.success() && two.status.success());
    assert_eq!(one.stdout, two.stdout);
}

#[test]
fn every_output_format_renders() {
    let dir = samples();
    for fmt in ["table", "json", "csv", "markdown"] {
        let out = flowdx()
            .args([
                "analyze",
                dir.to_str().unwrap(),
                "--format",
                fmt,
                "--color",
                "never",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{fmt}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("UTF-8");
        assert!(text.contains("Megan Bowen"), "{fmt} names the owners");
        assert!(
            !text.contains('\u{1b}'),
            "{fmt}: no colour codes when asked for none"
        );
    }
}

#[test]
fn csv_report_written_to_file_opens_as_a_sheet() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("report.csv");
    flowdx()
        .args(["analyze"])
        .arg(samples().join("runs"))
        .arg(samples().join("inventory"))
        .args(["--format", "csv", "-o"])
        .arg(&path)
        .assert()
        .success();
    let mut rdr = csv::Reader::from_path(&path).unwrap();
    let headers = rdr.headers().unwrap().clone();
    for col in [
        "owner",
        "connection",
        "category",
        "root_cause",
        "fix",
        "actor",
        "failed_runs",
    ] {
        assert!(headers.iter().any(|h| h == col), "column {col}");
    }
    let rows: Vec<_> = rdr.records().collect::<Result<_, _>>().unwrap();
    assert!(!rows.is_empty());
    for row in &rows {
        assert_eq!(row.len(), headers.len());
        for cell in row.iter() {
            assert!(
                !cell.starts_with(['=', '+', '@']),
                "formula-looking cell {cell}"
            );
        }
    }
}

#[test]
fn classify_json_has_the_documented_fields() {
    let out = flowdx()
        .args([
            "classify",
            "--format",
            "json",
            "AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000002-0000-0ff1-ce00-000000000000'.",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "aadsts",
        "category",
        "root_cause",
        "effects",
        "fix",
        "actor",
        "confidence",
        "rule",
        "evidence",
    ] {
        assert!(v.get(key).is_some(), "{key} in {v}");
    }
    assert_eq!(v["category"], "mfa-required");
    assert_eq!(v["aadsts"][0], "AADSTS50076");
    assert!(v["effects"].as_array().unwrap().iter().any(|e| e == "E1"));
}

#[test]
fn classify_reads_stdin_lines_and_jsonl_in_order() {
    let out = flowdx()
        .args(["classify", "--format", "json"])
        .write_stdin(
            "Rate limit is exceeded. Try again in 22 seconds.\nThe user account is disabled.\n",
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["category"], "not-auth");
    assert_eq!(lines[1]["category"], "account-state");

    let out = flowdx()
        .args(["classify", "--format", "json", "--jsonl"])
        .write_stdin("{\"message\":\"AADSTS700082: The refresh token has expired due to inactivity.\"}\n{\"message\":\"AADSTS53003: Access has been blocked by Conditional Access policies.\"}\n")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let cats: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["category"].clone())
        .collect();
    assert_eq!(
        cats,
        vec![Value::from("token-inactive"), Value::from("ca-blocked")]
    );
}

#[test]
fn explain_codes_effects_and_root_causes() {
    for topic in [
        "AADSTS50076",
        "50076",
        "E1",
        "token-inactivity",
        "repair-connection",
    ] {
        flowdx().args(["explain", topic]).assert().success();
    }
    flowdx().args(["explain", "no-such-thing"]).assert().code(2);
}

#[test]
fn codes_lists_the_whole_catalog_as_csv() {
    let out = flowdx()
        .args(["codes", "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut rdr = csv::Reader::from_reader(out.stdout.as_slice());
    let n = rdr.records().count();
    assert!(n > 300, "catalog has {n} codes");
}

#[test]
fn a_named_file_that_is_not_an_export_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("notes.txt");
    std::fs::write(&path, "remember to call the customer\n").unwrap();
    let out = flowdx().arg("analyze").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("notes.txt"), "{err}");
}

#[test]
fn a_stray_file_in_a_folder_is_skipped_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("notes.txt"),
        "remember to call the customer\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("runs.jsonl"),
        "{\"run_id\":\"r1\",\"status\":\"Failed\",\"start_time\":\"2024-05-02T06:00:00Z\",\"error_message\":\"AADSTS50076: you must use multi-factor authentication\"}\n",
    )
    .unwrap();
    let out = flowdx()
        .args(["analyze", tmp.path().to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("notes.txt"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["skipped"].as_array().unwrap().len(), 1);
    assert_eq!(num(&v["totals"], "classified"), 1);
}

#[test]
fn a_broken_line_is_counted_and_strict_makes_it_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("runs.jsonl");
    std::fs::write(
        &path,
        concat!(
            "{\"run_id\":\"r1\",\"status\":\"Succeeded\",\"start_time\":\"2024-05-02T06:00:00Z\"}\n",
            "{\"run_id\":\"r2\",\"status\":\"Failed\",\"start_ti\n",
            "{\"run_id\":\"r3\",\"status\":\"Failed\",\"start_time\":\"2024-05-02T07:00:00Z\",\"error_message\":\"The user account is disabled.\"}\n",
        ),
    )
    .unwrap();
    let v = analyze_json(&[path.to_str().unwrap()]);
    let t = &v["totals"];
    assert_eq!(num(t, "records"), 3);
    assert_eq!(num(t, "malformed"), 1);
    assert_eq!(num(t, "not_failed"), 1);
    assert_eq!(num(t, "classified"), 1);
    let m = &v["malformed"][0];
    assert!(m["file"].as_str().unwrap().ends_with("runs.jsonl"));
    assert!(m.to_string().contains('2'), "names line 2: {m}");

    let out = flowdx()
        .args(["analyze", path.to_str().unwrap(), "--strict"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("runs.jsonl"));
}

#[test]
fn samples_show_a_finding_of_each_kind() {
    let r = analyze_json(&[samples().to_str().unwrap()]);
    let findings = r["findings"].as_array().unwrap();
    let of_kind = |k: &str| -> Vec<&Value> { findings.iter().filter(|f| f["kind"] == k).collect() };
    for kind in [
        "policy-wave",
        "cadence",
        "inactivity",
        "inactivity-forecast",
        "revocation",
        "owner-gone",
        "confounder",
        "token-policy",
    ] {
        assert!(!of_kind(kind).is_empty(), "no {kind} finding");
    }
    // The CA wave of the story: 7 connections of 6 owners, named policy from the sign-ins.
    let wave = of_kind("policy-wave")[0];
    assert_eq!(wave["connections"].as_array().unwrap().len(), 7, "{wave}");
    assert!(wave["title"].as_str().unwrap().contains("CA012"));
    // Alex's remember-MFA cycle.
    let cadence = of_kind("cadence")[0];
    assert_eq!(cadence["details"]["interval_days"], 14);
    // Megan's password reset, at the TokensValidFrom instant.
    let rev = of_kind("revocation")[0];
    assert_eq!(rev["onset"], "2024-04-22T09:14:07Z");
    // One finding per policy, even though two exports list the same policies.
    let policies: Vec<_> = of_kind("token-policy")
        .iter()
        .map(|f| f["title"].as_str().unwrap().to_string())
        .collect();
    let mut unique = policies.clone();
    unique.dedup();
    assert_eq!(policies, unique);
    // Groups point to the findings that explain them.
    let megan = groups_of(&r, "Megan Bowen");
    assert!(
        megan
            .iter()
            .all(|g| !g["findings"].as_array().unwrap().is_empty())
    );
}

#[test]
fn policy_checks_each_exported_policy_once() {
    let out = flowdx()
        .args(["policy", "--format", "json"])
        .arg(samples().join("policy"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let policies = v["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 2, "two policies, each exported twice: {v}");
    let text = v.to_string();
    assert!(text.contains("MaxAgeMultiFactor"));
    assert!(
        text.contains("2021-01-30"),
        "retired settings are flagged: {text}"
    );
}

/// Run flowdx in the crate folder (so report paths are the same relative paths in every
/// run); stdout, after checking success.
fn run_in_crate(args: &[&str]) -> Vec<u8> {
    let out = flowdx()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn merged_shards_equal_one_run_over_all_inputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let part = |n: usize| dir.path().join(format!("part{n}.json"));
    let joins = [
        "samples/inventory/connections.json",
        "samples/inventory/flows.json",
        "samples/policy/Get-AzureADPolicy.txt",
        "samples/policy/tokenLifetimePolicies.json",
        "samples/signins/InteractiveSignIns_2024-04-01_2024-05-31.csv",
        "samples/signins/signins-graph.json",
        "samples/runs/logicapps-run-actions.json",
    ];
    let join_args: Vec<&str> = joins.iter().flat_map(|j| ["--join", j]).collect();
    // Shards 1 and 2 use the enrichment for joins only; shard 3 also reports it.
    let shards: [Vec<&str>; 3] = [
        vec![
            "samples/runs/dataverse-flowrun-export.csv",
            "samples/runs/dataverse-flowruns.json",
            "samples/runs/flow-api-runs.json",
        ],
        vec![
            "samples/runs/get-flowrun-export.csv",
            "samples/runs/logicapps-runs.json",
        ],
        vec![
            "samples/runs/portal-run-history_a4587ac0-6ac6-480f-9ac6-3d4273a211df.csv",
            "samples/runs/runs.jsonl.gz",
        ],
    ];
    for (n, files) in shards.iter().enumerate() {
        let out = part(n + 1);
        let mut args = vec!["analyze", "--no-progress", "--partial", "-o"];
        args.push(out.to_str().expect("UTF-8 temp path"));
        args.extend(files);
        if n == 2 {
            args.extend(joins);
        } else {
            args.extend(&join_args);
        }
        run_in_crate(&args);
    }
    let one = run_in_crate(&[
        "analyze",
        "--no-progress",
        "-f",
        "json",
        "samples/runs",
        "samples/inventory",
        "samples/policy",
        "samples/signins",
    ]);
    let report: Value = serde_json::from_slice(&one).expect("JSON");
    assert!(
        report["findings"].as_array().is_some_and(|f| f.len() >= 8),
        "the one run finds the timing story"
    );
    let p = |n: usize| part(n).to_str().expect("UTF-8").to_string();
    // Any order.
    for order in [[1, 2, 3], [3, 1, 2], [2, 3, 1]] {
        let mut args = vec!["merge".to_string(), "-f".into(), "json".into()];
        args.extend(order.iter().map(|&n| p(n)));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let merged = run_in_crate(&args);
        assert!(
            merged == one,
            "merge in order {order:?} differs from one run"
        );
    }
    // In stages: (1 + 2) as a partial, then with 3.
    let staged = dir.path().join("staged.json");
    run_in_crate(&[
        "merge",
        "--partial",
        "-o",
        staged.to_str().expect("UTF-8"),
        &p(1),
        &p(2),
    ]);
    let merged = run_in_crate(&[
        "merge",
        "-f",
        "json",
        staged.to_str().expect("UTF-8"),
        &p(3),
    ]);
    assert!(merged == one, "staged merge differs from one run");
    // Several partials in one file, one per line (a scheduler's collected output).
    let lines = dir.path().join("all.jsonl");
    let mut all = Vec::new();
    for n in [2, 3, 1] {
        all.extend(std::fs::read(part(n)).expect("read part"));
    }
    std::fs::write(&lines, all).expect("write");
    let merged = run_in_crate(&["merge", "-f", "json", lines.to_str().expect("UTF-8")]);
    assert!(
        merged == one,
        "merge of a file of partials differs from one run"
    );
}

#[test]
fn merge_names_a_file_that_is_not_a_partial() {
    flowdx()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["merge", "samples/inventory/flows.json"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "samples/inventory/flows.json: not a flowdx partial report",
        ));
}

#[test]
fn join_refuses_a_run_history() {
    flowdx()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "analyze",
            "samples/runs/flow-api-runs.json",
            "--join",
            "samples/runs/runs.jsonl.gz",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--join samples/runs/runs.jsonl.gz: a run-history is analysed, not joined",
        ));
}

/// `--progress` draws on standard error even when it is a pipe (indicatif's stderr target
/// would hide itself there); without the flag a pipe gets no progress at all.
#[test]
fn progress_is_forced_by_flag_and_off_on_a_pipe_by_default() {
    let sample = samples().join("runs").join("get-flowrun-export.csv");
    let forced = flowdx()
        .arg("analyze")
        .arg(&sample)
        .args(["--format", "json", "--progress"])
        .output()
        .expect("runs");
    assert!(forced.status.success());
    assert!(
        !forced.stderr.is_empty(),
        "--progress wrote nothing to a piped stderr"
    );
    let default = flowdx()
        .arg("analyze")
        .arg(&sample)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    assert!(default.status.success());
    let text = String::from_utf8_lossy(&default.stderr);
    assert!(
        !text.contains("records/s") && !text.contains('\u{1b}'),
        "progress drawn on a pipe without --progress: {text:?}"
    );
}

// ---- Filters shared by analyze, tag and classify ----

/// `analyze samples/ ARGS --format json`.
fn analyze_samples(args: &[&str]) -> Value {
    let dir = samples();
    let mut all = vec![dir.to_str().unwrap()];
    all.extend_from_slice(args);
    analyze_json(&all)
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
    let all = analyze_samples(&[]);
    let only = analyze_samples(&["--category", "token-revoked"]);
    assert_eq!(only["filter"], "--category token-revoked");
    assert!(all.get("filter").is_none(), "no filter, no field");
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
    let all = analyze_samples(&[]);
    let may = analyze_samples(&["--since", "2024-05-01", "--until", "2024-05-31"]);
    let later = analyze_samples(&["--since", "2024-06-01"]);
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
    let r = analyze_samples(&["--owner", "megan"]);
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

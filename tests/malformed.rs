//! The malformed-input corpus (`tests/malformed/`, one small file per case) run through the
//! built binary: good records around a bad one are analysed, every bad record is counted
//! with its position and a reason, the accounting identity holds, and files that are not
//! exports are errors when named and skips inside a folder.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/malformed")
        .join(name)
}

fn flowdx() -> Command {
    let mut c = Command::cargo_bin("flowdx").expect("the flowdx binary");
    c.env("NO_COLOR", "1");
    c
}

/// `analyze PATH -f json`, expecting success; the parsed report.
fn analyze(path: &Path) -> Value {
    let out = flowdx()
        .args(["analyze", "--no-progress", "-f", "json"])
        .arg(path)
        .output()
        .expect("run flowdx");
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_accounting(&report);
    report
}

/// records = not_failed + classified + unclassified + malformed + filtered, overall and per
/// input.
fn assert_accounting(r: &Value) {
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}"));
    let t = &r["totals"];
    assert_eq!(
        n(t, "records"),
        n(t, "not_failed")
            + n(t, "classified")
            + n(t, "unclassified")
            + n(t, "malformed")
            + n(t, "filtered"),
        "totals: {t}"
    );
    for i in r["inputs"].as_array().expect("inputs") {
        assert_eq!(
            n(i, "records"),
            n(i, "not_failed")
                + n(i, "classified")
                + n(i, "unclassified")
                + n(i, "malformed")
                + n(i, "filtered"),
            "input: {i}"
        );
    }
    assert_eq!(n(r, "malformed_total"), n(t, "malformed"));
}

fn totals(r: &Value) -> (u64, u64, u64) {
    let t = &r["totals"];
    (
        t["records"].as_u64().unwrap_or(0),
        t["classified"].as_u64().unwrap_or(0),
        t["malformed"].as_u64().unwrap_or(0),
    )
}

/// The listed malformed records as `unit at: reason`.
fn malformed(r: &Value) -> Vec<String> {
    r["malformed"]
        .as_array()
        .expect("malformed[]")
        .iter()
        .map(|m| {
            format!(
                "{} {} {}: {}",
                m["file"].as_str().unwrap_or(""),
                m["position"]["unit"].as_str().unwrap_or(""),
                m["position"]["at"],
                m["reason"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// `analyze PATH` expecting status 2; stderr.
fn analyze_fails(args: &[&str], path: &Path) -> String {
    let out = flowdx()
        .args(["analyze", "--no-progress"])
        .args(args)
        .arg(path)
        .output()
        .expect("run flowdx");
    assert_eq!(out.status.code(), Some(2), "{}", path.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn truncated_gzip_keeps_the_records_before_the_cut() {
    let r = analyze(&corpus("truncated.jsonl.gz"));
    let (records, classified, bad) = totals(&r);
    assert!(
        records > 50,
        "records before the cut are analysed: {records}"
    );
    assert!(classified > 10);
    assert_eq!(bad, 1);
    let m = malformed(&r);
    assert!(m[0].contains("truncated.jsonl.gz line"), "{m:?}");
    assert!(m[0].contains("incomplete deflate stream"), "{m:?}");
}

#[test]
fn json_page_cut_mid_record_keeps_whole_records() {
    let r = analyze(&corpus("cut-page.json"));
    assert_eq!(totals(&r), (3, 1, 1));
    let m = malformed(&r);
    assert!(m[0].contains("byte"), "{m:?}");
    assert!(m[0].contains("file ends inside a record"), "{m:?}");
}

#[test]
fn one_broken_json_line_among_good_ones() {
    let r = analyze(&corpus("broken-line.jsonl"));
    assert_eq!(totals(&r), (5, 3, 1));
    assert_eq!(
        malformed(&r)[0],
        "broken-line.jsonl line 3: record ends early (truncated?): \
         EOF while parsing a string at line 1 column 34"
            .replace(
                "broken-line.jsonl",
                &corpus("broken-line.jsonl").display().to_string()
            )
    );
}

#[test]
fn strict_turns_a_malformed_record_into_status_2_with_the_same_message() {
    let err = analyze_fails(&["--strict"], &corpus("broken-line.jsonl"));
    assert!(err.contains("1 malformed record(s)"), "{err}");
    assert!(
        err.contains("broken-line.jsonl: line 3: record ends early"),
        "{err}"
    );
}

#[test]
fn windows_1252_message_is_read_not_rejected() {
    let r = analyze(&corpus("cp1252.csv"));
    assert_eq!(totals(&r), (2, 1, 0));
}

#[test]
fn utf16_format_list_from_powershell_5() {
    let r = analyze(&corpus("utf16-format-list.txt"));
    assert_eq!(r["inputs"][0]["format"], "text");
    assert_eq!(totals(&r), (4, 3, 0));
}

#[test]
fn ragged_csv_rows_are_malformed_with_their_lines() {
    let r = analyze(&corpus("ragged.csv"));
    assert_eq!(totals(&r), (4, 2, 2));
    let m = malformed(&r);
    assert!(
        m[0].ends_with("line 3: expected 4 fields, found 2"),
        "{m:?}"
    );
    assert!(
        m[1].ends_with("line 4: expected 4 fields, found 6"),
        "{m:?}"
    );
}

#[test]
fn unclosed_quote_drops_its_line_and_keeps_the_rows_around_it() {
    let r = analyze(&corpus("unclosed-quote.csv"));
    // R001 and R002 before it, R004 after it; R003's line opens a quote never closed.
    assert_eq!(totals(&r), (4, 1, 1));
    assert_eq!(r["totals"]["failed"], 2);
    let m = malformed(&r);
    assert!(m[0].ends_with("line 4: a quoted field opened on this line is never closed; the line is skipped and the lines after it are read as records"), "{m:?}");
}

#[test]
fn quoted_newlines_stay_inside_their_field() {
    let r = analyze(&corpus("quoted-newlines.csv"));
    assert_eq!(totals(&r), (2, 1, 0));
}

#[test]
fn duplicate_headers_use_the_first_column() {
    let r = analyze(&corpus("duplicate-headers.csv"));
    // The first Status column says R001 failed and R002 succeeded.
    assert_eq!(totals(&r), (2, 1, 0));
    assert_eq!(r["totals"]["not_failed"], 1);
}

#[test]
fn csv_without_header_named_is_an_error_saying_what_was_expected() {
    let err = analyze_fails(&[], &corpus("no-header.csv"));
    assert!(
        err.contains("no-header.csv: not a recognised export"),
        "{err}"
    );
    assert!(err.contains("expected one of: run history"), "{err}");
}

#[test]
fn semicolon_and_tab_delimiters() {
    for f in ["semicolon.csv", "tab.tsv"] {
        let r = analyze(&corpus(f));
        assert_eq!(totals(&r), (2, 1, 0), "{f}");
    }
}

#[test]
fn empty_and_blank_files_named_are_errors() {
    for f in ["empty.csv", "blank.jsonl"] {
        let err = analyze_fails(&[], &corpus(f));
        assert!(
            err.contains("not a recognised export: the file is empty"),
            "{err}"
        );
    }
}

#[test]
fn prose_named_is_an_error_a_person_understands() {
    let err = analyze_fails(&[], &corpus("prose.md"));
    assert!(
        err.contains(
            "prose.md: not a recognised export: text without columns: expected CSV with a \
             header row, JSON, JSON Lines or PowerShell Format-List"
        ),
        "{err}"
    );
}

#[test]
fn excel_separator_hint_alone_is_an_error_not_a_crash() {
    // Regression: `sep=;` with no newline after it once hit an `expect` in the sniffer.
    let err = analyze_fails(&[], &corpus("sep-hint-only.csv"));
    assert!(
        err.contains("sep-hint-only.csv: not a recognised export"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn binary_named_is_an_error() {
    let err = analyze_fails(&[], &corpus("binary.dat"));
    assert!(
        err.contains("binary.dat: not a recognised export: a binary file"),
        "{err}"
    );
}

#[test]
fn deeply_nested_json_is_one_malformed_record() {
    let r = analyze(&corpus("deep.json"));
    assert_eq!(totals(&r), (3, 2, 1));
    let m = malformed(&r);
    assert!(
        m[0].ends_with("record 2: nesting deeper than 128 levels"),
        "{m:?}"
    );
}

#[test]
fn numbers_where_strings_are_expected() {
    let r = analyze(&corpus("numbers.jsonl"));
    let (records, classified, bad) = totals(&r);
    assert_eq!(records, 4);
    assert_eq!(classified, 2);
    assert_eq!(bad, 1);
    assert!(malformed(&r)[0].ends_with("line 3: no status field"));
}

#[test]
fn us_european_and_iso_dates_agree() {
    let days = |f: &str| {
        let r = analyze(&corpus(f));
        assert_eq!(totals(&r), (3, 2, 0), "{f}");
        r["as_of"].to_string()
    };
    let iso = days("dates-iso.csv");
    assert_eq!(days("dates-us.csv"), iso);
    assert_eq!(days("dates-eu.csv"), iso);
}

#[test]
fn powershell_stringified_objects() {
    let r = analyze(&corpus("powershell-objects.csv"));
    assert_eq!(totals(&r).0, 3);
    assert!(
        totals(&r).1 >= 1,
        "the MFA failure inside @{{...}} is classified"
    );
}

#[test]
fn a_folder_skips_what_is_not_an_export_and_goes_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    for f in ["broken-line.jsonl", "prose.md", "binary.dat", "empty.csv"] {
        std::fs::copy(corpus(f), d.join(f)).expect("copy");
    }
    std::os::unix::fs::symlink(d.join("gone.csv"), d.join("dangling.csv")).expect("symlink");
    std::fs::create_dir(d.join("runs.csv")).expect("dir named like a file");
    let fifo = d.join("pipe.jsonl");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let out = flowdx()
        .args(["analyze", "--no-progress", "-f", "json"])
        .arg(d)
        .output()
        .expect("run flowdx");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_accounting(&r);
    assert_eq!(totals(&r), (5, 3, 1));
    let skipped: Vec<String> = r["skipped"]
        .as_array()
        .expect("skipped[]")
        .iter()
        .map(|s| {
            let p = s["path"].as_str().unwrap_or("");
            let name = Path::new(p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            format!(
                "{}: {}",
                name.unwrap_or_default(),
                s["reason"].as_str().unwrap_or("")
            )
        })
        .collect();
    let has = |s: &str| {
        assert!(
            skipped.iter().any(|k| k.starts_with(s)),
            "{s} in {skipped:?}"
        );
        assert!(
            err.contains(&format!(
                "skipping {}",
                d.join(s.split(':').next().unwrap_or("")).display()
            )),
            "{s}: {err}"
        );
    };
    has("prose.md: text without columns");
    has("binary.dat: ");
    has("empty.csv: empty file");
    has("dangling.csv: cannot read");
    if made {
        has("pipe.jsonl: not a regular file");
    }
}

#[test]
fn a_failed_run_leaves_an_existing_report_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.json");
    std::fs::write(&report, "previous report\n").expect("write");
    flowdx()
        .args(["analyze", "--no-progress", "-f", "json", "-o"])
        .arg(&report)
        .arg(corpus("prose.md"))
        .assert()
        .code(2);
    let strict = flowdx()
        .args(["analyze", "--no-progress", "--strict", "-f", "json", "-o"])
        .arg(&report)
        .arg(corpus("broken-line.jsonl"))
        .output()
        .expect("run flowdx");
    assert_eq!(strict.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(&report).expect("read"),
        "previous report\n"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 1, "no temporary files left behind: {left:?}");
}

#[test]
fn a_10_mb_csv_field_is_read_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big-field.csv");
    let mut body = String::from("Run ID,Start time,Status,Error message\n");
    body.push_str("R001,2024-05-01 10:00,Failed,AADSTS50076 multi-factor\n");
    body.push_str("R002,2024-05-02 10:00,Failed,\"");
    body.push_str(&"x".repeat(10 << 20));
    body.push_str("\"\nR003,2024-05-03 10:00,Succeeded,\n");
    std::fs::write(&path, body).expect("write");
    // Under the default limit (64 MiB) the 10 MB field is read.
    let r = analyze(&path);
    assert_eq!(totals(&r).0, 3);
    assert_eq!(totals(&r).2, 0);
}

#[test]
fn a_100_mb_json_line_without_newline_is_malformed_not_unbounded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("long-line.jsonl");
    let mut body = String::from(
        "{\"run_id\":\"R001\",\"status\":\"Failed\",\"start_time\":\"2024-05-01T10:00:00Z\",\
         \"error_message\":\"AADSTS50076 multi-factor\"}\n{\"run_id\":\"R002\",\"status\":\"",
    );
    body.push_str(&"x".repeat(100 << 20));
    std::fs::write(&path, body).expect("write");
    let r = analyze(&path);
    let (records, classified, bad) = totals(&r);
    assert_eq!((records, classified, bad), (2, 1, 1));
    let m = malformed(&r);
    assert!(m[0].contains("line 2"), "{m:?}");
}

#[test]
fn extreme_times_and_spans_are_not_taken_as_times() {
    // Epoch values at the ends of i64 and spans of quadrillions of hours are read as no time
    // at all; the records are still classified from their codes.
    let r = analyze(&corpus("extreme-values.jsonl"));
    assert_eq!(totals(&r), (4, 4, 0));
}

#[test]
fn text_that_is_no_code_or_span_never_panics() {
    for args in [
        &["explain", "aaaaaé"][..],
        &["explain", "AADSTSé"],
        &[
            "classify",
            "The token was inactive for 9999999999999999:0:0.",
        ],
        &[
            "classify",
            "AADSTS700082: issued on -9223372036854775808 and was inactive for 1e308:0:0",
        ],
    ] {
        let out = flowdx().args(args).output().expect("run flowdx");
        let code = out.status.code();
        assert!(
            matches!(code, Some(0..=2)),
            "{args:?} ended with {code:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "{args:?}"
        );
    }
}

#[test]
fn deeply_nested_powershell_objects_are_read_without_exhausting_the_stack() {
    let dir = std::env::temp_dir().join(format!("flowdx-deep-ps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("deep-ps.csv");
    let depth = 200_000;
    let nested = format!(
        "{}message=AADSTS50076: you must use multi-factor authentication{}",
        "@{error=".repeat(depth),
        "}".repeat(depth)
    );
    let csv = format!(
        "\"FlowRunName\",\"Status\",\"StartTime\",\"Internal\"\n\"R1\",\"Failed\",\"5/31/2024 9:00:01 AM\",\"{nested}\"\n"
    );
    std::fs::write(&path, csv).expect("write input");
    let out = flowdx()
        .args(["analyze", "--no-progress", "-f", "json"])
        .arg(&path)
        .output()
        .expect("run flowdx");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_accounting(&report);
    assert_eq!(report["totals"]["records"], 1);
}

#[test]
fn classify_reads_non_utf8_lines_and_refuses_an_endless_line() {
    let mut input = b"AADSTS50076: you must use multi-factor authentication \xe9t\xe9\n".to_vec();
    input.extend_from_slice(
        b"AADSTS53003: Access has been blocked by Conditional Access policies.\n",
    );
    let out = flowdx()
        .args(["classify", "--format", "json"])
        .write_stdin(input)
        .output()
        .expect("run flowdx");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2);

    let endless = vec![b'x'; 17 << 20];
    let out = flowdx()
        .arg("classify")
        .write_stdin(endless)
        .output()
        .expect("run flowdx");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1: longer than 16 MiB"), "{err}");
}

#[test]
fn fuzz_found_connection_name_with_multibyte_text_before_its_guid() {
    // `fuzz/` decode_text found it: a connection name whose last 36 bytes start inside a
    // character. The inventory is read and the file accounted for.
    let out = flowdx()
        .args([
            "analyze",
            "--no-progress",
            "-f",
            "json",
            "--input-format",
            "text",
        ])
        .args(["--kind", "connection-inventory"])
        .arg(corpus("fuzz-connection-name.txt"))
        .output()
        .expect("run flowdx");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{err}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_accounting(&report);
}

//! `flowdx tag`: the input comes back byte for byte once the appended columns are removed,
//! the output does not depend on --jobs or the chunk size, and bad input is reported.

use assert_cmd::Command;
use std::io::Read;
use std::path::{Path, PathBuf};

const APPENDED: usize = 6;

fn flowdx() -> Command {
    Command::cargo_bin("flowdx").expect("binary built")
}

fn runs(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/runs")
        .join(name)
}

/// Run `flowdx tag` with `args`; stdout and stderr, asserting success.
fn tag(args: &[&str]) -> (Vec<u8>, String) {
    let out = flowdx().arg("tag").args(args).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "tag failed: {stderr}");
    (out.stdout, stderr)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Records of a CSV text: cut at line breaks outside quotes, endings kept.
fn csv_records(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let (mut start, mut q) = (0, false);
    for (i, &b) in data.iter().enumerate() {
        match b {
            b'"' => q = !q,
            b'\n' if !q => {
                out.push(&data[start..=i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < data.len() {
        out.push(&data[start..]);
    }
    out
}

fn ending(rec: &[u8]) -> usize {
    if rec.ends_with(b"\r\n") {
        2
    } else if rec.ends_with(b"\n") {
        1
    } else {
        0
    }
}

/// Remove the six appended cells from every record of a tagged CSV (the header included;
/// a `sep=` line and blank lines have none).
fn strip_csv(tagged: &[u8], delim: u8) -> Vec<u8> {
    let mut out = Vec::new();
    for rec in csv_records(tagged) {
        let body = &rec[..rec.len() - ending(rec)];
        let bare = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
        if bare.trim_ascii().is_empty() || bare.starts_with(b"sep=") {
            out.extend_from_slice(rec);
            continue;
        }
        let mut delims = Vec::new();
        let mut q = false;
        for (i, &b) in body.iter().enumerate() {
            if b == b'"' {
                q = !q;
            } else if b == delim && !q {
                delims.push(i);
            }
        }
        assert!(
            delims.len() >= APPENDED,
            "record lacks the appended cells: {rec:?}"
        );
        out.extend_from_slice(&body[..delims[delims.len() - APPENDED]]);
        out.extend_from_slice(&rec[body.len()..]);
    }
    out
}

/// Remove the six appended fields from every line of a tagged JSON Lines text.
fn strip_jsonl(tagged: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(tagged.to_vec()).unwrap();
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        match line.find("\"flowdx_category\":") {
            Some(at) => {
                let from = if line[..at].ends_with(',') {
                    at - 1
                } else {
                    at
                };
                let to = line.rfind('}').unwrap();
                out.push_str(&line[..from]);
                out.push_str(&line[to..]);
            }
            None => out.push_str(line),
        }
    }
    out.into_bytes()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn samples_round_trip_byte_for_byte() {
    for (name, delim) in [
        ("dataverse-flowrun-export.csv", b';'),
        ("get-flowrun-export.csv", b','),
        (
            "portal-run-history_a4587ac0-6ac6-480f-9ac6-3d4273a211df.csv",
            b',',
        ),
    ] {
        let path = runs(name);
        let (out, _) = tag(&[path.to_str().unwrap()]);
        let header = csv_records(&out)[0];
        assert!(
            String::from_utf8_lossy(header).contains(
                "flowdx_category{d}flowdx_root_cause{d}flowdx_fix{d}flowdx_actor{d}\
                 flowdx_confidence{d}flowdx_aadsts"
                    .replace("{d}", &(delim as char).to_string())
                    .as_str()
            ),
            "{name}: {}",
            String::from_utf8_lossy(header)
        );
        let input = std::fs::read(&path).unwrap();
        assert!(
            strip_csv(&out, delim) == input,
            "{name} does not round-trip"
        );
    }
    let path = runs("runs.jsonl.gz");
    let (out, stderr) = tag(&[path.to_str().unwrap()]);
    let input = gunzip(&std::fs::read(&path).unwrap());
    assert!(
        strip_jsonl(&out) == input,
        "runs.jsonl.gz does not round-trip"
    );
    assert!(stderr.contains("failed runs tagged"), "{stderr}");
}

#[test]
fn dataverse_failures_take_their_diagnosis_from_the_joins() {
    let inv = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/inventory");
    let path = runs("dataverse-flowrun-export.csv");
    let (plain, _) = tag(&[path.to_str().unwrap()]);
    let (joined, _) = tag(&[
        path.to_str().unwrap(),
        "--join",
        inv.join("connections.json").to_str().unwrap(),
        "--join",
        inv.join("flows.json").to_str().unwrap(),
    ]);
    let count = |t: &[u8], what: &str| String::from_utf8_lossy(t).matches(what).count();
    assert!(count(&joined, ";token-revoked;") > count(&plain, ";token-revoked;"));
    assert_eq!(count(&joined, ";unknown;"), 0);
    assert!(strip_csv(&joined, b';') == std::fs::read(&path).unwrap());
}

/// A semicolon CSV with a sep= line, a BOM, CRLF, quoted line breaks, a blank line, a
/// malformed row and no final line break.
const AWKWARD_CSV: &[u8] = b"\xef\xbb\xbfsep=;\r\n\
Run ID;Status;Start time;Error message\r\n\
r1;Failed;2024-05-01T10:00:00Z;\"AADSTS50076: Due to a configuration change made by your \
administrator,\r\nor because you moved to a new location, you must use multi-factor \
authentication; \"\"quoted\"\"\"\r\n\
r2;Succeeded;2024-05-01T11:00:00Z;\r\n\
\r\n\
r3;Failed;2024-05-02T10:00:00Z;AADSTS700082: The refresh token has expired due to inactivity.\r\n\
r4;Failed\r\n\
r5;Failed;2024-05-03T10:00:00Z;\"AADSTS53003: Access has been blocked by Conditional Access policies.\"";

#[test]
fn semicolon_crlf_quoted_newlines_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "runs.csv", AWKWARD_CSV);
    let (out, stderr) = tag(&[p.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out);
    assert!(out.starts_with(b"\xef\xbb\xbfsep=;\r\n"), "{text}");
    assert!(text.contains(";mfa-required;"), "{text}");
    assert!(text.contains(";token-inactive;"), "{text}");
    assert!(text.contains("AADSTS50076"), "{text}");
    assert!(
        text.contains("r2;Succeeded;2024-05-01T11:00:00Z;;;;;;;\r\n"),
        "{text}"
    );
    assert!(
        text.contains("r4;Failed;;;;;;\r\n"),
        "malformed row, empty cells: {text}"
    );
    assert!(strip_csv(&out, b';') == AWKWARD_CSV, "{text}");
    assert!(
        stderr.contains("5 records, 3 failed runs tagged, 1 malformed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("runs.csv: line 8: expected 4 fields, found 2"),
        "{stderr}"
    );
}

#[test]
fn tab_delimited_lf_round_trips_in_its_delimiter() {
    let input = b"Run ID\tStatus\tError message\nr1\tFailed\t\"AADSTS50158: External security challenge not satisfied.\"\nr2\tSucceeded\t\n";
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "runs.tsv", input);
    let (out, _) = tag(&[p.to_str().unwrap(), "--input-format", "csv"]);
    assert!(
        out.starts_with(b"Run ID\tStatus\tError message\tflowdx_category\t"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(strip_csv(&out, b'\t') == input);
}

const AWKWARD_JSONL: &[u8] = b"{\"run_id\":\"a\",\"status\":\"Failed\",\"error_message\":\"AADSTS50076: you must use multi-factor authentication\"}\r\n\
{\"run_id\":\"b\",\"status\":\"Succeeded\"}\n\
\n\
{\"run_id\":\"c\",\"status\":\"Failed\",\"error_mess\n\
  {\"run_id\":\"d\",\"status\":\"Failed\",\"error_message\":\"AADSTS700082: The refresh token has expired due to inactivity.\"}  \n\
{\"run_id\":\"e\",\"status\":\"Failed\"}";

#[test]
fn json_lines_gain_fields_and_broken_lines_pass_through() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "runs.jsonl", AWKWARD_JSONL);
    let (out, stderr) = tag(&[p.to_str().unwrap()]);
    let text = String::from_utf8(out.clone()).unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    let first: serde_json::Value = serde_json::from_str(lines[0].trim()).unwrap();
    assert_eq!(first["flowdx_category"], "mfa-required");
    assert_eq!(first["flowdx_aadsts"][0], "AADSTS50076");
    let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert!(second["flowdx_category"].is_null());
    assert_eq!(
        lines[3],
        "{\"run_id\":\"c\",\"status\":\"Failed\",\"error_mess"
    );
    let fourth: serde_json::Value = serde_json::from_str(lines[4].trim()).unwrap();
    assert_eq!(fourth["flowdx_category"], "token-inactive");
    assert!(strip_jsonl(&out) == AWKWARD_JSONL, "{text}");
    assert!(stderr.contains("1 malformed"), "{stderr}");
    assert!(stderr.contains("runs.jsonl: line 4"), "{stderr}");
}

#[test]
fn output_is_the_same_for_any_jobs_and_chunk_size() {
    let dir = tempfile::tempdir().unwrap();
    // Enough records for many 64-byte chunks.
    let mut big = AWKWARD_CSV.to_vec();
    big.extend_from_slice(b"\r\n");
    for i in 0..300 {
        big.extend_from_slice(
            format!(
                "x{i};Failed;2024-05-04T10:00:00Z;\"AADSTS5000{}: line one\nline two\"\r\n",
                i % 10
            )
            .as_bytes(),
        );
    }
    let p = write(dir.path(), "runs.csv", &big);
    let q = write(dir.path(), "runs.jsonl", &AWKWARD_JSONL.repeat(50));
    for path in [&p, &q] {
        let path = path.to_str().unwrap();
        let (one, e1) = tag(&[path, "--jobs", "1"]);
        for chunk in ["64", "200", "4096"] {
            let (four, e4) = tag(&[path, "--jobs", "4", "--chunk-size", chunk]);
            assert!(one == four, "{path}: --jobs 4 --chunk-size {chunk} differs");
            assert_eq!(e1, e4);
        }
    }
    let (out, _) = tag(&[p.to_str().unwrap(), "--jobs", "3", "--chunk-size", "64"]);
    assert!(strip_csv(&out, b';') == big);
}

#[test]
fn strict_makes_malformed_records_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "runs.csv", AWKWARD_CSV);
    flowdx()
        .args(["tag", "--strict", p.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("1 malformed record(s); first: "))
        .stderr(predicates::str::contains(
            "line 8: expected 4 fields, found 2",
        ));
}

#[test]
fn unclosed_quote_passes_the_rest_through() {
    let input =
        b"Run ID,Status,Error message\nr1,Failed,\"AADSTS50076 never closed\nr2,Succeeded,\n";
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "runs.csv", input);
    let (out, stderr) = tag(&[p.to_str().unwrap(), "--input-format", "csv"]);
    assert!(
        out.ends_with(b"\"AADSTS50076 never closed\nr2,Succeeded,,,,,,,\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(stderr.contains("1 malformed"), "{stderr}");
}

#[test]
fn inventories_and_sign_in_logs_are_refused() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    for p in [
        samples.join("inventory/flows.json"),
        samples.join("signins/InteractiveSignIns_2024-04-01_2024-05-31.csv"),
    ] {
        flowdx()
            .args(["tag", p.to_str().unwrap()])
            .assert()
            .code(2)
            .stderr(predicates::str::contains(p.to_str().unwrap()))
            .stderr(predicates::str::contains("not a run history"));
    }
}

#[test]
fn several_inputs_go_into_a_folder_under_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.csv", AWKWARD_CSV);
    let b = runs("runs.jsonl.gz");
    let out = dir.path().join("tagged");
    std::fs::create_dir(&out).unwrap();
    flowdx()
        .args(["tag", a.to_str().unwrap(), b.to_str().unwrap(), "-o"])
        .arg(&out)
        .assert()
        .success()
        .stdout("");
    let ta = std::fs::read(out.join("a.csv")).unwrap();
    assert!(strip_csv(&ta, b';') == AWKWARD_CSV);
    // A .gz name means gzip output.
    let tb = gunzip(&std::fs::read(out.join("runs.jsonl.gz")).unwrap());
    assert!(strip_jsonl(&tb) == gunzip(&std::fs::read(&b).unwrap()));
    // Several inputs without a folder are an error.
    flowdx()
        .args(["tag", a.to_str().unwrap(), b.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("-o DIR"));
    // One input into a file.
    let one = dir.path().join("one.csv");
    flowdx()
        .args(["tag", a.to_str().unwrap(), "-o"])
        .arg(&one)
        .assert()
        .success();
    assert!(std::fs::read(&one).unwrap() == ta);
}

//! Properties over random input: every record written is counted exactly once (the
//! accounting identity holds and damaged records are the malformed ones), the report does
//! not depend on the number of threads or the chunk size, and the classifier takes any
//! bytes without panicking.

use flowdx::classify::{Classifier, MsgContext};
use flowdx::cmd::analyze::{Plan, analyze, discover_inputs};
use flowdx::ingest::Overrides;
use flowdx::model::Context;
use flowdx::report::{OutputFormat, RenderOptions, render};
use proptest::prelude::*;
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

fn classifier() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(Classifier::builtin)
}

/// One run record: good (a status and a message) or damaged beyond reading.
#[derive(Clone, Debug)]
enum Rec {
    Good {
        status: &'static str,
        day: u8,
        message: String,
    },
    Damaged,
}

fn message() -> impl Strategy<Value = String> {
    let parts = prop_oneof![
        Just("AADSTS50076: Due to a configuration change made by your administrator, you must use multi-factor authentication.".to_string()),
        Just("AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.".to_string()),
        Just("AADSTS53003: Access has been blocked by Conditional Access policies.".to_string()),
        Just("AADSTS50173: The provided grant has expired due to it being revoked.".to_string()),
        Just("ActionFailed".to_string()),
        Just("Unauthorized".to_string()),
        Just("\"quoted\", with comma".to_string()),
        Just("é ü 日本".to_string()),
        Just("line\nbreak".to_string()),
        "[ -~]{0,30}",
    ];
    proptest::collection::vec(parts, 0..3).prop_map(|p| p.join(" "))
}

fn record() -> impl Strategy<Value = Rec> {
    prop_oneof![
        8 => (
            prop_oneof![Just("Failed"), Just("Succeeded"), Just("Cancelled"), Just("Running")],
            1u8..28,
            message(),
        )
            .prop_map(|(status, day, message)| Rec::Good { status, day, message }),
        1 => Just(Rec::Damaged),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    Csv,
    Jsonl,
}

/// The file's bytes, and how many damaged records it holds.
fn write(shape: Shape, recs: &[Rec]) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut damaged = 0;
    match shape {
        Shape::Csv => {
            out.extend_from_slice(b"Run ID,Start time,Status,Error message\r\n");
            for (i, r) in recs.iter().enumerate() {
                match r {
                    Rec::Good {
                        status,
                        day,
                        message,
                    } => {
                        let m = message.replace('"', "\"\"");
                        out.extend_from_slice(
                            format!("R{i},2024-05-{day:02} 10:00,{status},\"{m}\"\r\n").as_bytes(),
                        );
                    }
                    Rec::Damaged => {
                        damaged += 1;
                        out.extend_from_slice(
                            format!("R{i},2024-05-01,Failed,x,extra\r\n").as_bytes(),
                        );
                    }
                }
            }
        }
        Shape::Jsonl => {
            for (i, r) in recs.iter().enumerate() {
                match r {
                    Rec::Good {
                        status,
                        day,
                        message,
                    } => {
                        let v = serde_json::json!({
                            "name": format!("R{i}"),
                            "properties": {
                                "startTime": format!("2024-05-{day:02}T10:00:00Z"),
                                "status": status,
                                "error": {"code": "ActionFailed", "message": message},
                            }
                        });
                        out.extend_from_slice(v.to_string().as_bytes());
                        out.push(b'\n');
                    }
                    Rec::Damaged => {
                        damaged += 1;
                        out.extend_from_slice(
                            format!("{{\"name\":\"R{i}\",\"properties\":{{\n").as_bytes(),
                        );
                    }
                }
            }
        }
    }
    (out, damaged)
}

fn report(path: &Path, jobs: usize, chunk_size: usize) -> (Value, String) {
    let (inputs, skipped) = discover_inputs(&[path.to_path_buf()], &Overrides::default())
        .expect("the file is an export");
    let plan = Plan {
        inputs,
        joins: Vec::new(),
        skipped,
        classifier: classifier().clone(),
        progress: false,
        jobs,
        strict: false,
        as_of: None,
        chunk_size,
        filter: Default::default(),
    };
    let report = analyze(&plan).expect("analyze");
    report.check_accounting().expect("accounting identity");
    let mut out = Vec::new();
    render(
        &report,
        OutputFormat::Json,
        &RenderOptions::default(),
        &mut out,
    )
    .expect("render");
    let text = String::from_utf8(out).expect("UTF-8 report");
    (serde_json::from_str(&text).expect("JSON report"), text)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Every record written is counted once; damaged ones are the malformed ones; the
    /// report is the same for any thread count and chunk size.
    #[test]
    fn every_record_counted_and_the_report_ignores_threads_and_chunks(
        recs in proptest::collection::vec(record(), 1..120),
        jsonl in any::<bool>(),
        chunk_size in 64usize..2048,
    ) {
        let shape = if jsonl { Shape::Jsonl } else { Shape::Csv };
        // A damaged JSON line at the very end would be "the file ends inside a record";
        // keep the last record whole so each damaged one is one malformed record.
        let mut recs = recs;
        if let Some(last) = recs.last_mut() && matches!(last, Rec::Damaged) {
            *last = Rec::Good { status: "Succeeded", day: 1, message: String::new() };
        }
        let (bytes, damaged) = write(shape, &recs);
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(if jsonl { "runs.jsonl" } else { "runs.csv" });
        std::fs::write(&path, &bytes).expect("write");

        let (one, one_text) = report(&path, 1, 0);
        let t = &one["totals"];
        prop_assert_eq!(t["records"].as_u64(), Some(recs.len() as u64), "{}", t);
        prop_assert_eq!(t["malformed"].as_u64(), Some(damaged), "{}", t);
        let failed = recs.iter().filter(|r| matches!(r, Rec::Good { status: "Failed", .. })).count();
        prop_assert_eq!(t["failed"].as_u64(), Some(failed as u64), "{}", t);

        for jobs in [2, 3] {
            let (_, text) = report(&path, jobs, chunk_size);
            prop_assert!(text == one_text, "-j{} with {}-byte chunks differs", jobs, chunk_size);
        }
    }

    /// Any bytes, decoded as a person's tools would (lossy UTF-8), classify without a panic,
    /// in every context, and the evidence is a part of the text.
    #[test]
    fn classify_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        for context in [
            Context::Run,
            Context::ConnectionCreation,
            Context::ConnectionStatus,
            Context::SignIn,
        ] {
            let ctx = MsgContext { context, host: None };
            let d = classifier().classify(&text, ctx);
            let evidence = d.evidence(&text);
            prop_assert!(text.contains(evidence));
            let _ = classifier().note(&d);
            let _ = classifier().explain(&text, ctx);
        }
    }

    /// AADSTS-shaped text with arbitrary surroundings classifies without a panic too (the
    /// random bytes above rarely reach the code parser).
    #[test]
    fn classify_takes_any_text_around_codes(
        before in "\\PC{0,40}",
        code in 0u32..2_000_000,
        after in "\\PC{0,60}",
    ) {
        let text = format!("{before}AADSTS{code}{after}");
        let d = classifier().classify(&text, MsgContext { context: Context::Run, host: None });
        prop_assert!(text.contains(d.evidence(&text)));
    }
}

//! The same bytes in give the same report out, whatever the number of worker threads and
//! however the input is cut into chunks: generated CSV and JSON Lines runs, cut into
//! 64 KiB chunks (dozens per file), analysed with 1, 2 and 3 jobs, against one pass with the
//! default chunk size. Regression guard for the parallel fold and the report merge.

use flowdx::classify::Classifier;
use flowdx::cmd::analyze::{Plan, analyze, discover_inputs};
use flowdx::r#gen::{Format, Generator, Target};
use flowdx::ingest::Overrides;
use flowdx::report::{OutputFormat, RenderOptions, render};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

fn generate(dir: &Path, format: Format, bytes: u64, seed: u64) -> PathBuf {
    let path = dir.join(format!("runs-{seed}.{}", format.extension()));
    let file = std::fs::File::create(&path).unwrap();
    let mut w = BufWriter::new(file);
    Generator::new(format, Target::Bytes(bytes), seed)
        .write_runs(&mut w)
        .unwrap();
    w.flush().unwrap();
    path
}

fn report_json(paths: &[PathBuf], jobs: usize, chunk_size: usize) -> String {
    let (inputs, skipped) = discover_inputs(paths, &Overrides::default()).unwrap();
    let plan = Plan {
        inputs,
        joins: Vec::new(),
        skipped,
        classifier: Classifier::builtin(),
        progress: false,
        jobs,
        strict: false,
        as_of: None,
        chunk_size,
        filter: Default::default(),
    };
    let report = analyze(&plan).unwrap();
    report.check_accounting().unwrap();
    let mut out = Vec::new();
    render(
        &report,
        OutputFormat::Json,
        &RenderOptions::default(),
        &mut out,
    )
    .unwrap();
    let partial = report.to_partial_json();
    String::from_utf8(out).unwrap() + &partial
}

#[test]
fn any_jobs_and_chunking_give_the_same_report_on_generated_runs() {
    let dir = tempfile::tempdir().unwrap();
    let paths = vec![
        generate(dir.path(), Format::Csv, 2_000_000, 7),
        generate(dir.path(), Format::Jsonl, 2_000_000, 8),
    ];
    let whole = report_json(&paths, 1, 0);
    assert!(whole.contains("\"daily\""));
    for jobs in [1, 2, 3] {
        let cut = report_json(&paths, jobs, 64 * 1024);
        assert!(
            cut == whole,
            "-j{jobs} with 64 KiB chunks differs from one pass"
        );
    }
}

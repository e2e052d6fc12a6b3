//! The whole pipeline, end to end: ~20 MB of generated runs (CSV and JSON Lines, written
//! once to a temporary file by `flowdx::r#gen`) through discover, sniff, decode, join,
//! classify, aggregate, merge and infer (`cmd::analyze::analyze`), with one job and with
//! every core. Throughput in input bytes; compare with `benches/throughput.sh`, which runs
//! the binary on ~1 GB beside `xsv count`, `wc -l` and `gzip -dc`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flowdx::classify::Classifier;
use flowdx::cmd::analyze::{Plan, analyze, discover_inputs};
use flowdx::r#gen::{Format, Generator, Target};
use flowdx::ingest::Overrides;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

const BYTES: u64 = 20_000_000;

fn generate(dir: &std::path::Path, format: Format) -> PathBuf {
    let path = dir.join(format!("runs.{}", format.extension()));
    let mut w = BufWriter::new(std::fs::File::create(&path).expect("create bench input"));
    Generator::new(format, Target::Bytes(BYTES), 42)
        .write_runs(&mut w)
        .expect("generate bench input");
    w.flush().expect("write bench input");
    path
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .warm_up_time(Duration::from_secs(2));
    for format in [Format::Csv, Format::Jsonl] {
        let path = generate(dir.path(), format);
        let bytes = std::fs::metadata(&path).expect("stat bench input").len();
        g.throughput(Throughput::Bytes(bytes));
        let mut jobs = vec![1];
        if cores > 1 {
            jobs.push(cores);
        }
        for j in jobs {
            let id = BenchmarkId::new(format.extension(), format!("j{j}"));
            g.bench_function(id, |b| {
                b.iter(|| {
                    let (inputs, skipped) =
                        discover_inputs(std::slice::from_ref(&path), &Overrides::default())
                            .expect("discover");
                    let plan = Plan {
                        joins: Vec::new(),
                        inputs,
                        skipped,
                        classifier: Classifier::builtin(),
                        progress: false,
                        jobs: j,
                        strict: false,
                        as_of: None,
                        chunk_size: 0,
                        filter: Default::default(),
                    };
                    black_box(analyze(&plan).expect("analyze"))
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

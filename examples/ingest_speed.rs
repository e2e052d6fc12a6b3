//! Decode files with `ingest::fold` and print records and MB/s per file:
//! `cargo run --release --example ingest_speed -- FILE...`

use flowdx::ingest::{self, IngestOptions, Overrides};
use flowdx::model::Item;
use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (sources, skipped) = ingest::discover(&paths)?;
    for s in skipped {
        eprintln!("skipped {}: {}", s.path, s.reason);
    }
    let workers = std::env::var("FLOWDX_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(0);
    let (inputs, skipped) = ingest::sniff_all(sources, &Overrides::default())?;
    for s in skipped {
        eprintln!("skipped {}: {}", s.path, s.reason);
    }
    for input in inputs {
        let size = input.source.size.unwrap_or(0);
        let opts = IngestOptions {
            workers,
            ..Default::default()
        };
        let t = Instant::now();
        let accs = ingest::fold(
            &input,
            &opts,
            || [0u64; 3],
            |acc, item| match item {
                Item::Malformed(_) => acc[2] += 1,
                Item::Run(r) if r.status.is_failed() => {
                    acc[0] += 1;
                    acc[1] += 1
                }
                _ => acc[0] += 1,
            },
        )?;
        let secs = t.elapsed().as_secs_f64();
        if std::env::var_os("FLOWDX_DEBUG").is_some() {
            eprintln!(
                "per worker: {:?}",
                accs.iter().map(|a| a[0]).collect::<Vec<_>>()
            );
        }
        let sum = accs
            .iter()
            .fold([0u64; 3], |a, b| [a[0] + b[0], a[1] + b[1], a[2] + b[2]]);
        println!(
            "{}: {} {} records={} failed={} malformed={} {:.3}s {:.0} MB/s",
            input.source.display,
            input.kind,
            input.format,
            sum[0],
            sum[1],
            sum[2],
            secs,
            size as f64 / secs / 1e6
        );
    }
    Ok(())
}

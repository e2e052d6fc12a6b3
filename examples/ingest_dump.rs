//! Show what ingest makes of files: kind, format, the first record and the first failed
//! run of each, and every malformed record's reason:
//! `cargo run --release --example ingest_dump -- PATH...`

use flowdx::ingest::{self, IngestOptions, Overrides};
use flowdx::model::Item;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let paths: Vec<std::path::PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    let (sources, mut skipped) = ingest::discover(&paths)?;
    let (inputs, more) = ingest::sniff_all(sources, &Overrides::default())?;
    skipped.extend(more);
    for s in skipped {
        println!("skipped {}: {}", s.path, s.reason);
    }
    for input in inputs {
        println!(
            "== {} ({}, {})",
            input.source.display, input.kind, input.format
        );
        let accs = ingest::fold(
            &input,
            &IngestOptions::default(),
            Vec::new,
            |acc: &mut Vec<String>, item| {
                let keep = match &item {
                    Item::Malformed(_) => true,
                    Item::Run(r) if r.status.is_failed() => acc.len() < 2,
                    _ => acc.is_empty(),
                };
                if keep {
                    acc.push(format!("{item:?}"));
                }
            },
        )?;
        for line in accs.iter().flatten() {
            println!("{line}");
        }
    }
    Ok(())
}

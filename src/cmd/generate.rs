//! `flowdx generate` (hidden): write a synthetic tenant export for tests and benchmarks.
//! The shapes and proportions are documented in the `gen` module (`src/gen/mod.rs`).

use crate::r#gen::{self, Format, Generator, Target};
use crate::{Error, Result};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Write a realistic synthetic tenant export (runs of thousands of flows, owners and \
connections, with conditional access, MFA and token failures in the shapes real exports carry \
them), streaming and deterministic: the same seed gives the same bytes on any machine. Used by \
the tests and by benches/throughput.sh."
)]
#[command(group(clap::ArgGroup::new("amount").required(true).args(["size", "records"])))]
pub struct Args {
    /// Output shape.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    /// Approximate uncompressed size: 100MB, 1GB, 500M, 2.5GB, 64MiB (stops within one record).
    #[arg(long, value_parser = r#gen::parse_size)]
    pub size: Option<u64>,
    /// Exact number of run records.
    #[arg(long)]
    pub records: Option<u64>,
    /// Seed: the same seed gives the same tenant and the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Build the tenant (owners, flows, connections) for this size instead of for --size:
    /// files of any size then hold the same tenant, only more or fewer runs of it, which is
    /// what a memory-flatness measurement compares.
    #[arg(long, value_parser = r#gen::parse_size, value_name = "SIZE")]
    pub tenant_size: Option<u64>,
    /// Write here instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Compress with gzip (implied when FILE ends in .gz).
    #[arg(long)]
    pub gzip: bool,
    /// Also write flows.json and connections.json for the same tenant into DIR.
    #[arg(long, value_name = "DIR")]
    pub inventory: Option<PathBuf>,
    /// Do not print the one-line summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<u8> {
    let target = match (args.size, args.records) {
        (Some(b), _) => Target::Bytes(b),
        (None, Some(n)) => Target::Records(n),
        (None, None) => return Err(Error::Usage("give --size or --records".into())),
    };
    let gzip = args.gzip
        || args
            .output
            .as_ref()
            .is_some_and(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz")));
    let started = Instant::now();
    let g = match args.tenant_size {
        Some(b) => Generator::with_tenant_of(args.format, target, Target::Bytes(b), args.seed),
        None => Generator::new(args.format, target, args.seed),
    };

    if let Some(dir) = &args.inventory {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        write_file(&dir.join("flows.json"), |w| g.write_flows(w).map(|_| ()))?;
        write_file(&dir.join("connections.json"), |w| {
            g.write_connections(w).map(|_| ())
        })?;
    }

    let stats = match &args.output {
        Some(path) => {
            let mut stats = None;
            write_file(path, |w| {
                stats = Some(write_runs(&g, w, gzip)?);
                Ok(())
            })?;
            stats.expect("written")
        }
        None => write_runs(&g, out, gzip).map_err(Error::Output)?,
    };

    if !args.quiet {
        let secs = started.elapsed().as_secs_f64();
        let t = &g.tenant;
        eprintln!(
            "flowdx generate: {} runs, {} bytes ({}, seed {}{}) in {:.2} s, {:.0} MB/s; tenant: {} owners, {} flows, {} connections, {} environments",
            stats.records,
            stats.bytes,
            args.format.name(),
            args.seed,
            if gzip { ", gzip" } else { "" },
            secs,
            stats.bytes as f64 / 1e6 / secs.max(1e-9),
            t.owners.len(),
            t.flows.len(),
            t.connections.len(),
            t.environments.len(),
        );
    }
    Ok(super::EXIT_OK)
}

fn write_runs(g: &Generator, out: &mut dyn Write, gzip: bool) -> std::io::Result<r#gen::Stats> {
    if gzip {
        let mut z = GzEncoder::new(out, Compression::default());
        let stats = g.write_runs(&mut z)?;
        z.finish()?.flush()?;
        Ok(stats)
    } else {
        let stats = g.write_runs(out)?;
        out.flush()?;
        Ok(stats)
    }
}

fn write_file(path: &Path, body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    body(&mut w)
        .and_then(|()| w.flush())
        .map_err(|e| Error::io(path, e))
}

//! The JSON Lines reference of the throughput script: serde_json into owned structs on one
//! thread, a line at a time into one reused buffer (reference/anchors.md, "jsonl-owned").
//! The JSON Lines target of 350 MB/s is this figure as measured there; timed in the same
//! run as `analyze`, it shows how fast this host is now.
//!
//! `cargo run --release --example serde_lines -- FILE.jsonl`

use serde::Deserialize;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::time::Instant;

/// A run as the management API writes it: the fields a diagnosis reads, owned. Unknown
/// fields (the actions, the correlation) are parsed and dropped, as serde does.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Run {
    name: Option<String>,
    id: Option<String>,
    owner: Option<String>,
    connection: Option<String>,
    properties: Option<Properties>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct Properties {
    start_time: Option<String>,
    end_time: Option<String>,
    status: Option<String>,
    code: Option<String>,
    error: Option<ErrorBody>,
    trigger: Option<Trigger>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Trigger {
    name: Option<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or("usage: serde_lines FILE.jsonl")?;
    let t = Instant::now();
    let mut reader = BufReader::with_capacity(1 << 20, File::open(&path)?);
    let mut line = Vec::new();
    let (mut bytes, mut records, mut failed) = (0u64, 0u64, 0u64);
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let run: Run =
            serde_json::from_slice(text).map_err(|e| format!("record {}: {e}", records + 1))?;
        records += 1;
        let status = run.properties.as_ref().and_then(|p| p.status.as_deref());
        failed += u64::from(status == Some("Failed"));
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{}: records={records} failed={failed} {secs:.3}s {:.0} MB/s",
        path.to_string_lossy(),
        bytes as f64 / 1e6 / secs
    );
    Ok(())
}

//! Decode throughput of the ingest stage: CSV and JSON Lines run histories generated in
//! memory (written once to a temporary file, read from the page cache), decoded by
//! `ingest::fold` with the default workers into a per-worker count.
//!
//! `cargo bench --bench decode`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flowdx::ingest::{self, IngestOptions, Overrides};
use flowdx::model::Item;
use std::fmt::Write as _;
use std::hint::black_box;

/// A small deterministic generator (64-bit LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const MESSAGES: &[(&str, &str)] = &[
    (
        "Unauthorized",
        "AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000002-0000-0ff1-ce00-000000000000'.",
    ),
    (
        "ActionFailed",
        "An action failed. No dependent actions succeeded.",
    ),
    (
        "InvalidTemplate",
        "Unable to process template language expressions in action 'Compose' inputs.",
    ),
    ("429", "Rate limit is exceeded. Try again in 22 seconds."),
    (
        "Unauthorized",
        "Failed to refresh access token for service: office365. Correlation Id=g-1, UTC TimeStamp=5/2/2024 6:01:13 AM, Error: AADSTS700082: The refresh token has expired due to inactivity.",
    ),
];

struct Row {
    run: String,
    flow: u64,
    status: &'static str,
    start: String,
    end: String,
    code: &'static str,
    message: String,
}

fn rows(target: usize, mut f: impl FnMut(&Row) -> usize) {
    let mut rng = Lcg(7);
    let mut written = 0;
    let mut i = 0u64;
    while written < target {
        let status = match rng.next(100) {
            0..70 => "Succeeded",
            70..92 => "Failed",
            92..97 => "Cancelled",
            _ => "TimedOut",
        };
        let (code, message) = if status == "Succeeded" {
            ("", String::new())
        } else {
            let (c, m) = MESSAGES[rng.next(MESSAGES.len() as u64) as usize];
            let mut m = m.to_string();
            if rng.next(100) < 3 {
                m.push_str(&" tail".repeat(200));
            }
            if rng.next(200) == 0 {
                m.push_str("\nsecond \"quoted\" line");
            }
            (c, m)
        };
        let (h, min) = (rng.next(24), rng.next(60));
        let row = Row {
            run: format!("085848{:020}CU{:02}", 99_999_999_999_999 - i, i % 100),
            flow: rng.next(40),
            status,
            start: format!("2024-05-{:02}T{h:02}:{min:02}:03.1234567Z", 1 + i % 28),
            end: format!("2024-05-{:02}T{h:02}:{min:02}:09.7654321Z", 1 + i % 28),
            code,
            message,
        };
        written += f(&row);
        i += 1;
    }
}

fn csv_data(target: usize) -> Vec<u8> {
    let mut s = String::from(
        "run_id,flow_name,owner,environment,connection,trigger,status,start_time,end_time,duration_ms,error_code,error_message\n",
    );
    rows(target, |r| {
        let before = s.len();
        let msg = if r.message.contains(['"', ',', '\n']) {
            format!("\"{}\"", r.message.replace('"', "\"\""))
        } else {
            r.message.clone()
        };
        let _ = writeln!(
            s,
            "{},Flow {},user{}@contoso.com,Default-1e852b49,shared-office365-{},Recurrence,{},{},{},6530,{},{}",
            r.run,
            r.flow,
            r.flow % 9,
            r.flow,
            r.status,
            r.start,
            r.end,
            r.code,
            msg
        );
        s.len() - before
    });
    s.into_bytes()
}

fn jsonl_data(target: usize) -> Vec<u8> {
    let mut s = String::new();
    rows(target, |r| {
        let before = s.len();
        let error = if r.code.is_empty() {
            "null".to_string()
        } else {
            format!(
                "{{\"code\":{},\"message\":{}}}",
                serde_json::to_string(r.code).unwrap(),
                serde_json::to_string(&r.message).unwrap()
            )
        };
        let _ = writeln!(
            s,
            "{{\"name\":\"{}\",\"flow_name\":\"Flow {}\",\"owner\":\"user{}@contoso.com\",\"environment\":\"Default-1e852b49\",\"connection\":\"shared-office365-{}\",\"properties\":{{\"trigger\":{{\"name\":\"Recurrence\"}},\"status\":\"{}\",\"startTime\":\"{}\",\"endTime\":\"{}\",\"durationMs\":6530,\"error\":{error}}}}}",
            r.run,
            r.flow,
            r.flow % 9,
            r.flow,
            r.status,
            r.start,
            r.end
        );
        s.len() - before
    });
    s.into_bytes()
}

fn bench_decode(c: &mut Criterion) {
    let size = std::env::var("FLOWDX_BENCH_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(64)
        << 20;
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("decode");
    group.sample_size(10);
    for (name, data) in [
        ("runs.csv", csv_data(size)),
        ("runs.jsonl", jsonl_data(size)),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &data).unwrap();
        let (mut sources, _) = ingest::discover(&[path]).unwrap();
        let input = ingest::sniff(sources.remove(0), &Overrides::default()).unwrap();
        let opts = IngestOptions::default();
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let accs = ingest::fold(
                    &input,
                    &opts,
                    || (0u64, 0u64, 0u64),
                    |acc: &mut (u64, u64, u64), item| match item {
                        Item::Run(r) => {
                            acc.0 += 1;
                            acc.1 += r.status.is_failed() as u64;
                            acc.2 += r.texts.len() as u64;
                        }
                        _ => acc.2 += 1_000_000,
                    },
                )
                .unwrap();
                black_box(accs)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);

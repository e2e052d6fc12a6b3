//! The aggregate's hot path: `Report::observe` over 1M observations spread across ~200
//! groups (20 owners × 5 connections × 2 fixes), with the mix a real export has (half the
//! runs succeed, a few are unexplained), and the merge of per-worker reports.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flowdx::classify::Diagnosis;
use flowdx::model::{EvidenceSource, InputFormat, InputKind};
use flowdx::report::{Classified, InputInfo, Observation, Outcome, Report};
use flowdx::vocab::{Actor, Category, Confidence, Effect, Effects, Fix, RootCause};
use std::hint::black_box;

const N: usize = 1_000_000;
const T0: i64 = 1_714_521_600;

/// One record. Owners, connections and flows index small tables, as a decoder's records
/// slice the chunk buffer it is working on (hot in cache); run ids are unique per record.
struct Row {
    run_id: String,
    flow: u16,
    owner: u16,
    connection: u16,
    time: i64,
    kind: u8,
}

struct Names {
    owners: Vec<String>,
    connections: Vec<String>,
    flows: Vec<String>,
}

fn names() -> Names {
    Names {
        owners: (0..20)
            .map(|o| format!("owner{o:02}@contoso.com"))
            .collect(),
        connections: (0..100)
            .map(|c| format!("shared-office365-{:02}{}", c / 5, c % 5))
            .collect(),
        flows: (0..160)
            .map(|f| format!("flow-{:02}-{}", f / 8, f % 8))
            .collect(),
    }
}

fn diagnoses() -> [Diagnosis; 2] {
    let d = |category, root_cause, fix, aadsts: u32| Diagnosis {
        category,
        root_cause,
        effects: Effects::of(&[Effect::E1]),
        fix,
        actor: Actor::Owner,
        confidence: Confidence::Certain,
        aadsts: vec![aadsts],
        rule: 0,
        span: (0, 8),
        token: None,
    };
    [
        d(
            Category::MfaRequired,
            RootCause::CaPolicyAfterConnection,
            Fix::RepairConnection,
            50076,
        ),
        d(
            Category::TokenInactive,
            RootCause::TokenInactivity,
            Fix::ReauthenticateIdleConnection,
            70008,
        ),
    ]
}

fn rows() -> Vec<Row> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    (0..N)
        .map(|i| {
            let owner = next(20);
            let conn = next(5);
            Row {
                run_id: format!("08584{i:015}"),
                flow: (owner * 8 + next(8)) as u16,
                owner: owner as u16,
                connection: (owner * 5 + conn) as u16,
                time: T0 + next(60 * 86_400) as i64,
                kind: next(100) as u8,
            }
        })
        .collect()
}

const MESSAGE: &str = "Failed to refresh access token for service: office365. AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication.";

fn observe_all(rows: &[Row], names: &Names, diags: &[Diagnosis; 2]) -> Report {
    let mut r = Report::new();
    r.add_input(InputInfo {
        path: "runs.csv".into(),
        kind: InputKind::RunHistory,
        format: InputFormat::Csv,
        gzip: false,
        bytes: 0,
    });
    for row in rows {
        let outcome = match row.kind {
            0..50 => Outcome::NotFailed,
            50..95 => Outcome::Classified(Classified {
                diagnosis: &diags[(row.kind & 1) as usize],
                rule: "aadsts:50076",
                evidence: "AADSTS50076",
                message: MESSAGE,
                source: EvidenceSource::ActionError,
            }),
            _ => Outcome::Unclassified {
                message: "ActionFailed. An action failed. No dependent actions succeeded.",
                signature: "ActionFailed. An action failed. No dependent actions succeeded.",
            },
        };
        r.observe(&Observation {
            file: "runs.csv",
            kind: InputKind::RunHistory,
            run_id: Some(&row.run_id),
            flow_id: Some(&names.flows[row.flow as usize]),
            flow_name: None,
            environment: Some("Default-1234"),
            owner: Some(&names.owners[row.owner as usize]),
            connection: Some(&names.connections[row.connection as usize]),
            connector: Some("shared_office365"),
            time: Some(row.time),
            outcome,
        });
    }
    r
}

fn bench(c: &mut Criterion) {
    let rows = rows();
    let names = names();
    let diags = diagnoses();
    let mut g = c.benchmark_group("aggregate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("observe_1m_200_groups", |b| {
        b.iter(|| black_box(observe_all(black_box(&rows), &names, &diags)))
    });
    let workers = 8usize;
    let parts: Vec<Report> = rows
        .chunks(N / workers)
        .map(|c| observe_all(c, &names, &diags))
        .collect();
    g.throughput(Throughput::Elements(workers as u64));
    g.bench_with_input(BenchmarkId::new("merge", workers), &parts, |b, parts| {
        b.iter(|| {
            let mut all = Report::new();
            for p in parts.iter().cloned() {
                all.merge(p);
            }
            black_box(all)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! `Report::observe` must not allocate for records of groups, signatures, timelines and days
//! it already holds: the aggregate's memory and time follow distinct keys, not records.
//!
//! A separate test binary because it installs a counting global allocator.

use flowdx::classify::Diagnosis;
use flowdx::model::{EvidenceSource, InputFormat, InputKind, Malformed, Position};
use flowdx::report::{Classified, InputInfo, Observation, Outcome, Report};
use flowdx::vocab::{Actor, Category, Confidence, Effects, Fix, RootCause};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn observing_known_keys_does_not_allocate() {
    let diagnosis = Diagnosis {
        category: Category::MfaRequired,
        root_cause: RootCause::CaPolicyAfterConnection,
        effects: Effects::NONE,
        fix: Fix::RepairConnection,
        actor: Actor::Owner,
        confidence: Confidence::Certain,
        aadsts: vec![50076],
        rule: 0,
        span: (0, 11),
        token: None,
    };
    let malformed = Malformed {
        file: "runs.csv".into(),
        position: Position::Line(7),
        reason: "unterminated quote".into(),
    };
    let owners = ["alice@contoso.com", "bob@contoso.com"];
    let connections = [
        "shared-office365-1",
        "shared-office365-2",
        "shared-sharepointonline-3",
    ];
    let runs: Vec<String> = (0..40).map(|i| format!("run-{i:03}")).collect();
    let mut obs = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let outcome = match i % 4 {
            0 => Outcome::NotFailed,
            1 | 2 => Outcome::Classified(Classified {
                diagnosis: &diagnosis,
                rule: "aadsts:50076",
                evidence: "AADSTS50076",
                message: "AADSTS50076: multi-factor authentication required",
                source: EvidenceSource::ActionError,
            }),
            _ if i % 8 == 3 => Outcome::Malformed(&malformed),
            _ => Outcome::Unclassified {
                message: "ActionFailed",
                signature: "ActionFailed",
            },
        };
        obs.push(Observation {
            file: "runs.csv",
            kind: InputKind::RunHistory,
            run_id: Some(run),
            flow_id: Some(if i % 2 == 0 { "flow-a" } else { "flow-b" }),
            flow_name: Some("Daily digest"),
            environment: Some("Default-1"),
            owner: Some(owners[i % owners.len()]),
            connection: if i % 5 == 0 {
                None
            } else {
                Some(connections[i % connections.len()])
            },
            connector: Some("shared_office365"),
            time: Some(1_714_521_600 + (i as i64 % 3) * 86_400),
            outcome,
        });
    }
    let mut report = Report::new();
    report.add_input(InputInfo {
        path: "runs.csv".into(),
        kind: InputKind::RunHistory,
        format: InputFormat::Csv,
        gzip: false,
        bytes: 0,
    });
    for o in &obs {
        report.observe(o);
    }

    COUNTING.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        for o in &obs {
            report.observe(o);
        }
    }
    COUNTING.store(false, Ordering::SeqCst);

    assert_eq!(
        ALLOCATIONS.load(Ordering::SeqCst),
        0,
        "allocations on the hot path"
    );
    assert_eq!(report.counts().records, 4 * obs.len() as u64);
    report.check_accounting().unwrap();
}

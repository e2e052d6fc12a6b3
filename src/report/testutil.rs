//! Owned observations for tests: a deterministic generator of varied records (runs that
//! succeed and fail, connection statuses, unexplained messages, malformed lines) and a
//! helper that folds them into a report.

use super::{InputInfo, Observation, Outcome, Report};
use crate::classify::Diagnosis;
use crate::model::{EvidenceSource, InputFormat, InputKind, Malformed, Position, Ts};
use crate::vocab::{Actor, Category, Confidence, Effect, Effects, Fix, RootCause};

pub enum OwnedOutcome {
    NotFailed,
    Classified {
        diagnosis: Diagnosis,
        rule: String,
        evidence: String,
        message: String,
        source: EvidenceSource,
    },
    Unclassified {
        message: String,
        signature: String,
    },
    Malformed(Malformed),
}

pub struct OwnedObs {
    pub file: String,
    pub kind: InputKind,
    pub run_id: Option<String>,
    pub flow_id: Option<String>,
    pub flow_name: Option<String>,
    pub environment: Option<String>,
    pub owner: Option<String>,
    pub connection: Option<String>,
    pub connector: Option<String>,
    pub time: Option<Ts>,
    pub outcome: OwnedOutcome,
}

impl OwnedObs {
    pub fn run(file: &str, outcome: OwnedOutcome) -> OwnedObs {
        OwnedObs {
            file: file.into(),
            kind: InputKind::RunHistory,
            run_id: None,
            flow_id: None,
            flow_name: None,
            environment: None,
            owner: None,
            connection: None,
            connector: None,
            time: None,
            outcome,
        }
    }

    pub fn as_obs(&self) -> Observation<'_> {
        Observation {
            file: &self.file,
            kind: self.kind,
            run_id: self.run_id.as_deref(),
            flow_id: self.flow_id.as_deref(),
            flow_name: self.flow_name.as_deref(),
            environment: self.environment.as_deref(),
            owner: self.owner.as_deref(),
            connection: self.connection.as_deref(),
            connector: self.connector.as_deref(),
            time: self.time,
            outcome: match &self.outcome {
                OwnedOutcome::NotFailed => Outcome::NotFailed,
                OwnedOutcome::Classified {
                    diagnosis,
                    rule,
                    evidence,
                    message,
                    source,
                } => Outcome::Classified(super::Classified {
                    diagnosis,
                    rule,
                    evidence,
                    message,
                    source: *source,
                }),
                OwnedOutcome::Unclassified { message, signature } => {
                    Outcome::Unclassified { message, signature }
                }
                OwnedOutcome::Malformed(m) => Outcome::Malformed(m),
            },
        }
    }
}

pub fn diagnosis(category: Category, root: RootCause, fix: Fix, actor: Actor) -> Diagnosis {
    Diagnosis {
        category,
        root_cause: root,
        effects: Effects::of(&[Effect::E1]),
        fix,
        actor,
        confidence: Confidence::Certain,
        aadsts: Vec::new(),
        rule: 0,
        span: (0, 0),
        token: None,
    }
}

pub fn classified(d: Diagnosis, rule: &str, message: &str) -> OwnedOutcome {
    OwnedOutcome::Classified {
        diagnosis: d,
        rule: rule.into(),
        evidence: message.split('.').next().unwrap_or("").into(),
        message: message.into(),
        source: EvidenceSource::RunError,
    }
}

pub const FILES: [&str; 3] = ["runs-a.csv", "runs-b.jsonl", "connections.json"];

pub fn inputs() -> Vec<InputInfo> {
    vec![
        InputInfo {
            path: FILES[0].into(),
            kind: InputKind::RunHistory,
            format: InputFormat::Csv,
            gzip: false,
            bytes: 1000,
        },
        InputInfo {
            path: FILES[1].into(),
            kind: InputKind::RunHistory,
            format: InputFormat::JsonLines,
            gzip: true,
            bytes: 2000,
        },
        InputInfo {
            path: FILES[2].into(),
            kind: InputKind::ConnectionInventory,
            format: InputFormat::Json,
            gzip: false,
            bytes: 300,
        },
    ]
}

/// Day 2024-05-01T00:00:00Z.
pub const T0: Ts = 1_714_521_600;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// `n` varied observations, the same for the same seed.
pub fn sample(n: usize, seed: u64) -> Vec<OwnedObs> {
    let mut rng = Lcg(seed);
    let diags = [
        (
            diagnosis(
                Category::MfaRequired,
                RootCause::CaPolicyAfterConnection,
                Fix::RepairConnection,
                Actor::Owner,
            ),
            "aadsts:50076",
            vec![50076],
        ),
        (
            diagnosis(
                Category::TokenInactive,
                RootCause::TokenInactivity,
                Fix::ReauthenticateIdleConnection,
                Actor::Owner,
            ),
            "aadsts:70008",
            vec![70008],
        ),
        (
            diagnosis(
                Category::ConsentRequired,
                RootCause::ConsentMissing,
                Fix::GrantConsent,
                Actor::Admin,
            ),
            "aadsts:65001",
            vec![65001],
        ),
        (
            diagnosis(
                Category::CaBlocked,
                RootCause::CaPolicyAfterConnection,
                Fix::RepairConnection,
                Actor::Owner,
            ),
            "aadsts:53003",
            vec![53003],
        ),
        (
            diagnosis(
                Category::NotAuth,
                RootCause::FlowLogic,
                Fix::FixFlow,
                Actor::None,
            ),
            "text:invalid-template",
            vec![],
        ),
    ];
    (0..n)
        .map(|i| {
            let owner = rng.next(7);
            let conn = rng.next(12);
            let flow = rng.next(20);
            let time = T0 + rng.next(30 * 86_400) as i64;
            let file = if rng.next(2) == 0 { FILES[0] } else { FILES[1] };
            let mut o = OwnedObs::run(file, OwnedOutcome::NotFailed);
            o.run_id = Some(format!("run-{:05}", rng.next(100_000)));
            o.flow_id = (flow != 0).then(|| format!("flow-{flow:02}"));
            o.flow_name = Some(format!("Flow number {flow}"));
            o.environment = Some(format!("env-{}", owner % 2));
            o.owner = (owner != 0).then(|| format!("owner{owner}@contoso.com"));
            o.connection = (conn != 0).then(|| format!("shared-office365-{conn:02}"));
            o.connector = Some("shared_office365".into());
            o.time = (rng.next(20) != 0).then_some(time);
            let roll = rng.next(100);
            if roll < 45 {
                // not failed
            } else if roll < 85 {
                let (d, rule, codes) = &diags[rng.next(diags.len() as u64) as usize];
                let mut d = d.clone();
                d.aadsts = codes.clone();
                let msg = format!(
                    "Failed to refresh access token for service: office365. AADSTS{} run {}",
                    codes.first().copied().unwrap_or(0),
                    i % 3
                );
                o.outcome = classified(d, rule, &msg);
                if rng.next(10) == 0 {
                    o.file = FILES[2].into();
                    o.kind = InputKind::ConnectionInventory;
                    o.run_id = None;
                }
            } else if roll < 95 {
                let sig = rng.next(4);
                o.outcome = OwnedOutcome::Unclassified {
                    message: format!("ActionFailed: step {} failed", i % 5),
                    signature: format!("ActionFailed: step <n> failed ({sig})"),
                };
            } else {
                o.outcome = OwnedOutcome::Malformed(Malformed {
                    file: file.into(),
                    position: Position::Line(rng.next(500) + 2),
                    reason: "unterminated quote".into(),
                });
            }
            o
        })
        .collect()
}

/// A report over `obs`, with the inputs registered.
pub fn report_of<'a>(obs: impl IntoIterator<Item = &'a OwnedObs>) -> Report {
    let mut r = Report::new();
    for i in inputs() {
        r.add_input(i);
    }
    for o in obs {
        r.observe(&o.as_obs());
    }
    r
}

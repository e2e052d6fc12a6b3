//! Test fixtures: observations and diagnoses built by hand (the classifier and ingestion are
//! built elsewhere and not called from these tests).

use super::Timelines;
use crate::classify::{Diagnosis, TokenDetails};
use crate::model::{InputKind, Ts};
use crate::report::{Classified, Observation, Outcome};
use crate::vocab::{Actor, Category, Confidence, Effects, Fix, RootCause};

pub fn ts(s: &str) -> Ts {
    crate::time::parse(s, crate::time::DateOrder::Auto).expect("test timestamp")
}

pub fn diag(category: Category, codes: &[u32], token: Option<TokenDetails>) -> Diagnosis {
    Diagnosis {
        category,
        root_cause: RootCause::Unknown,
        effects: Effects::NONE,
        fix: Fix::Investigate,
        actor: Actor::Owner,
        confidence: Confidence::Certain,
        aadsts: codes.to_vec(),
        rule: 0,
        span: (0, 0),
        token: token.map(Box::new),
    }
}

/// Builds timelines from a few calls per fixture line.
pub struct Builder {
    pub t: Timelines,
}

impl Builder {
    pub fn new() -> Self {
        Builder {
            t: Timelines::new(),
        }
    }

    fn obs<'a>(
        kind: InputKind,
        conn: &'a str,
        flow: &'a str,
        owner: &'a str,
        time: Ts,
        outcome: Outcome<'a>,
    ) -> Observation<'a> {
        Observation {
            file: "runs.csv",
            kind,
            run_id: None,
            flow_id: (!flow.is_empty()).then_some(flow),
            flow_name: (!flow.is_empty()).then_some(flow),
            environment: None,
            owner: (!owner.is_empty()).then_some(owner),
            connection: (!conn.is_empty()).then_some(conn),
            connector: Some("shared_office365"),
            time: Some(time),
            outcome,
        }
    }

    /// A successful run.
    pub fn ok(&mut self, conn: &str, flow: &str, owner: &str, at: &str) {
        let o = Self::obs(
            InputKind::RunHistory,
            conn,
            flow,
            owner,
            ts(at),
            Outcome::NotFailed,
        );
        self.t.observe(&o);
    }

    /// A failed run diagnosed with `d`.
    pub fn fail_diag(&mut self, conn: &str, flow: &str, owner: &str, at: &str, d: &Diagnosis) {
        self.observe_diag(InputKind::RunHistory, conn, flow, owner, ts(at), d);
    }

    pub fn observe_diag(
        &mut self,
        kind: InputKind,
        conn: &str,
        flow: &str,
        owner: &str,
        at: Ts,
        d: &Diagnosis,
    ) {
        let c = Classified {
            diagnosis: d,
            rule: "test",
            evidence: "",
            message: "",
            source: crate::model::EvidenceSource::RunError,
        };
        let o = Self::obs(kind, conn, flow, owner, at, Outcome::Classified(c));
        self.t.observe(&o);
    }

    /// A failed run of a category with codes.
    pub fn fail_cat(
        &mut self,
        conn: &str,
        flow: &str,
        owner: &str,
        at: &str,
        cat: Category,
        codes: &[u32],
    ) {
        let d = diag(cat, codes, None);
        self.fail_diag(conn, flow, owner, at, &d);
    }

    /// A failed run no rule explains.
    pub fn fail_unclassified(&mut self, conn: &str, flow: &str, owner: &str, at: &str) {
        let o = Self::obs(
            InputKind::RunHistory,
            conn,
            flow,
            owner,
            ts(at),
            Outcome::Unclassified {
                message: "x",
                signature: "x",
            },
        );
        self.t.observe(&o);
    }
}

/// `2024-03-01T08:00:00Z` plus `days` days and `hours` hours, as ISO text.
pub fn at(base: &str, days: i64, hours: i64) -> String {
    crate::time::format_iso(ts(base) + days * 86_400 + hours * 3_600)
}

//! One group of classified failures: everything that shares an owner, a connection and a fix.
//!
//! A group is what a person acts on ("alice must repair shared-office365-1a2b"), so it keeps
//! the counts, the dominant diagnosis, the time span, the AADSTS codes, the flows affected,
//! a few run ids and one example message. Every choice of an example is order-independent
//! (smallest or earliest by a total order), so merging partial groups gives the same group
//! whatever the split.

use super::bounded::BoundedSet;
use super::observe::{Classified, Observation};
use crate::model::{EvidenceSource, InputKind, Ts};
use crate::vocab::{Actor, Category, Confidence, Effects, Fix, RootCause};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Distinct flows counted exactly per group up to this many (then "at least").
pub const FLOW_CAP: usize = 10_000;
/// Distinct flow names listed per group.
pub const FLOW_NAME_CAP: usize = 1_000;
/// Run ids kept per group (the smallest).
pub const RUN_ID_CAP: usize = 5;
/// Environments kept per group.
pub const ENVIRONMENT_CAP: usize = 64;

/// Label used for an owner or connection that no input names.
pub const UNKNOWN: &str = "unknown";

/// The part of a diagnosis that can differ inside one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DiagKey {
    pub category: Category,
    pub root_cause: RootCause,
    pub confidence: Confidence,
    pub effects: Effects,
    pub actor: Actor,
}

/// How many failures of a group had one diagnosis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagCount {
    #[serde(flatten)]
    pub key: DiagKey,
    pub count: u64,
}

/// One failure chosen to illustrate a group: the earliest by (time, run id, message, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    pub time: Option<Ts>,
    pub run_id: Option<String>,
    pub message: String,
    pub evidence: String,
    pub rule: String,
    pub source: EvidenceSource,
}

/// Borrowed form of an example's ordering key, so the hot path compares without copying.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct ExampleKey<'a> {
    no_time: bool,
    time: Option<Ts>,
    no_run: bool,
    run_id: Option<&'a str>,
    message: &'a str,
    evidence: &'a str,
    rule: &'a str,
    source: EvidenceSource,
}

impl Example {
    fn key(&self) -> ExampleKey<'_> {
        ExampleKey {
            no_time: self.time.is_none(),
            time: self.time,
            no_run: self.run_id.is_none(),
            run_id: self.run_id.as_deref(),
            message: &self.message,
            evidence: &self.evidence,
            rule: &self.rule,
            source: self.source,
        }
    }
}

fn candidate_key<'a>(obs: &Observation<'a>, c: &Classified<'a>) -> ExampleKey<'a> {
    ExampleKey {
        no_time: obs.time.is_none(),
        time: obs.time,
        no_run: obs.run_id.is_none(),
        run_id: obs.run_id,
        message: c.message,
        evidence: c.evidence,
        rule: c.rule,
        source: c.source,
    }
}

/// Classified failures sharing (owner, connection, fix).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Owner label, or [`UNKNOWN`].
    pub owner: String,
    /// Connection name, or [`UNKNOWN`].
    pub connection: String,
    pub fix: Fix,
    /// The connector; the smallest name when observations disagree.
    pub connector: Option<String>,
    pub environments: BoundedSet<ENVIRONMENT_CAP>,
    /// Failures per diagnosis, sorted by key.
    pub diagnoses: Vec<DiagCount>,
    /// Every classified failure in the group, of any input kind.
    pub failures: u64,
    /// Failures from run histories.
    pub failed_runs: u64,
    /// Failures from a connection inventory: the connection's own status says it is broken.
    pub connection_statuses: u64,
    /// Flow ids (or names, where a run has no id).
    pub flows: BoundedSet<FLOW_CAP>,
    pub flow_names: BoundedSet<FLOW_NAME_CAP>,
    pub first_seen: Option<Ts>,
    pub last_seen: Option<Ts>,
    pub aadsts: BTreeSet<u32>,
    pub example: Option<Example>,
    pub run_ids: BoundedSet<RUN_ID_CAP>,
    /// Failures per evidence source (which input supplied the message).
    pub sources: BTreeMap<EvidenceSource, u64>,
}

impl Group {
    pub(crate) fn new(owner: &str, connection: &str, fix: Fix) -> Group {
        Group {
            owner: owner.to_owned(),
            connection: connection.to_owned(),
            fix,
            connector: None,
            environments: BoundedSet::new(),
            diagnoses: Vec::new(),
            failures: 0,
            failed_runs: 0,
            connection_statuses: 0,
            flows: BoundedSet::new(),
            flow_names: BoundedSet::new(),
            first_seen: None,
            last_seen: None,
            aadsts: BTreeSet::new(),
            example: None,
            run_ids: BoundedSet::new(),
            sources: BTreeMap::new(),
        }
    }

    /// Re-attribute the failures of the given categories to a root cause that timing
    /// revealed (a cadence finding, say), at no more than `confidence`.
    pub fn reattribute(
        &mut self,
        categories: impl Fn(Category) -> bool,
        root_cause: RootCause,
        confidence: Confidence,
    ) {
        let old = std::mem::take(&mut self.diagnoses);
        for mut d in old {
            if categories(d.key.category) {
                d.key.root_cause = root_cause;
                d.key.confidence = d.key.confidence.min(confidence);
            }
            add_diag(&mut self.diagnoses, d.key, d.count);
        }
    }

    /// The diagnosis with the most failures; ties go to the smallest key (enum order).
    pub fn dominant(&self) -> Option<DiagKey> {
        self.diagnoses
            .iter()
            .max_by(|a, b| a.count.cmp(&b.count).then_with(|| b.key.cmp(&a.key)))
            .map(|d| d.key)
    }

    /// True when a connection inventory reports the connection as failing.
    pub fn broken_connection(&self) -> bool {
        self.connection_statuses > 0
    }

    /// Fold one classified failure in. Allocates only for values the group has not seen.
    /// True when the report's flows of this failure's root cause need not be offered the
    /// failure's flow again (see [`crate::report::Report`]'s `root_flows`).
    pub(crate) fn observe(&mut self, obs: &Observation<'_>, c: &Classified<'_>) -> bool {
        let d = c.diagnosis;
        self.failures += 1;
        match obs.kind {
            InputKind::RunHistory => self.failed_runs += 1,
            InputKind::ConnectionInventory => self.connection_statuses += 1,
            _ => {}
        }
        let key = DiagKey {
            category: d.category,
            root_cause: d.root_cause,
            confidence: d.confidence,
            effects: d.effects,
            actor: d.actor,
        };
        add_diag(&mut self.diagnoses, key, 1);
        if let Some(conn) = obs.connector.filter(|s| !s.is_empty()) {
            match &self.connector {
                Some(cur) if cur.as_str() <= conn => {}
                _ => self.connector = Some(conn.to_owned()),
            }
        }
        if let Some(env) = obs.environment.filter(|s| !s.is_empty()) {
            self.environments.insert(env);
        }
        let mut flow_held = true;
        if let Some(flow) = obs.flow_id.or(obs.flow_name).filter(|s| !s.is_empty()) {
            flow_held = self.flows.insert(flow);
        }
        if let Some(name) = obs.flow_name.filter(|s| !s.is_empty()) {
            self.flow_names.insert(name);
        }
        if let Some(t) = obs.time {
            self.first_seen = Some(self.first_seen.map_or(t, |f| f.min(t)));
            self.last_seen = Some(self.last_seen.map_or(t, |l| l.max(t)));
        }
        for code in &d.aadsts {
            self.aadsts.insert(*code);
        }
        let replace = match &self.example {
            None => true,
            Some(ex) => candidate_key(obs, c) < ex.key(),
        };
        if replace {
            self.example = Some(Example {
                time: obs.time,
                run_id: obs.run_id.map(str::to_owned),
                message: c.message.to_owned(),
                evidence: c.evidence.to_owned(),
                rule: c.rule.to_owned(),
                source: c.source,
            });
        }
        if let Some(run) = obs.run_id.filter(|s| !s.is_empty()) {
            self.run_ids.insert(run);
        }
        *self.sources.entry(c.source).or_insert(0) += 1;
        // Each flow this group holds was offered to the report's flows of the root cause
        // it failed with; when every failure here had this one, so was this flow.
        flow_held
            && self
                .diagnoses
                .iter()
                .all(|x| x.key.root_cause == d.root_cause)
    }

    /// Fold another group with the same key in.
    pub(crate) fn merge(&mut self, other: Group) {
        debug_assert!(self.owner == other.owner && self.connection == other.connection);
        self.connector = match (self.connector.take(), other.connector) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.environments.merge(other.environments);
        for d in other.diagnoses {
            add_diag(&mut self.diagnoses, d.key, d.count);
        }
        self.failures += other.failures;
        self.failed_runs += other.failed_runs;
        self.connection_statuses += other.connection_statuses;
        self.flows.merge(other.flows);
        self.flow_names.merge(other.flow_names);
        self.first_seen = min_opt(self.first_seen, other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.aadsts.extend(other.aadsts);
        self.example = match (self.example.take(), other.example) {
            (Some(a), Some(b)) => Some(if b.key().cmp(&a.key()) == Ordering::Less {
                b
            } else {
                a
            }),
            (a, b) => a.or(b),
        };
        self.run_ids.merge(other.run_ids);
        for (s, n) in other.sources {
            *self.sources.entry(s).or_insert(0) += n;
        }
    }
}

fn add_diag(list: &mut Vec<DiagCount>, key: DiagKey, n: u64) {
    match list.binary_search_by(|d| d.key.cmp(&key)) {
        Ok(i) => list[i].count += n,
        Err(i) => list.insert(i, DiagCount { key, count: n }),
    }
}

/// The earlier of two optional times, a missing one counting as "no information".
pub(crate) fn min_opt(a: Option<Ts>, b: Option<Ts>) -> Option<Ts> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

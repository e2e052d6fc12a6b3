//! Day-by-day history for the timing rules of the `infer` step.
//!
//! Per connection (or per flow, for runs that name no connection) a map from UTC day
//! number ([`crate::time::day_of`]) to what happened that day: successes and failures,
//! the first and last of each, and the failure categories, root causes and AADSTS codes
//! seen. Per owner and tenant-wide, daily counts by root cause for charts. Memory grows
//! with connections × days, never with records. Only run histories feed the timelines:
//! connection statuses and sign-ins are not runs and would distort the ok/fail counts.

use super::group::min_opt;
use super::strmap::StrMap;
use crate::model::Ts;
use crate::vocab::{Category, RootCause};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What one connection's (or flow's) runs did on one UTC day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayStat {
    pub ok: u64,
    pub fail: u64,
    pub first_ok: Option<Ts>,
    pub last_ok: Option<Ts>,
    pub first_fail: Option<Ts>,
    pub last_fail: Option<Ts>,
    pub categories: BTreeSet<Category>,
    pub root_causes: BTreeSet<RootCause>,
    pub aadsts: BTreeSet<u32>,
}

impl DayStat {
    pub(crate) fn ok_at(&mut self, t: Ts) {
        self.ok += 1;
        self.first_ok = min_opt(self.first_ok, Some(t));
        self.last_ok = self.last_ok.max(Some(t));
    }

    pub(crate) fn fail_at(&mut self, t: Ts, category: Category, root: RootCause, codes: &[u32]) {
        self.fail += 1;
        self.first_fail = min_opt(self.first_fail, Some(t));
        self.last_fail = self.last_fail.max(Some(t));
        self.categories.insert(category);
        self.root_causes.insert(root);
        for c in codes {
            self.aadsts.insert(*c);
        }
    }

    pub(crate) fn merge(&mut self, other: DayStat) {
        self.ok += other.ok;
        self.fail += other.fail;
        self.first_ok = min_opt(self.first_ok, other.first_ok);
        self.last_ok = self.last_ok.max(other.last_ok);
        self.first_fail = min_opt(self.first_fail, other.first_fail);
        self.last_fail = self.last_fail.max(other.last_fail);
        self.categories.extend(other.categories);
        self.root_causes.extend(other.root_causes);
        self.aadsts.extend(other.aadsts);
    }
}

/// One key's days, by UTC day number.
pub type Timeline = BTreeMap<i64, DayStat>;

/// Successes and failures by root cause on one day (owner or tenant charts).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCounts {
    pub ok: u64,
    pub failed: BTreeMap<RootCause, u64>,
}

impl DayCounts {
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }

    pub(crate) fn merge(&mut self, other: DayCounts) {
        self.ok += other.ok;
        for (r, n) in other.failed {
            *self.failed.entry(r).or_insert(0) += n;
        }
    }
}

/// What a timeline is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimelineKey<'a> {
    Connection(&'a str),
    /// A flow id, for runs that name no connection.
    Flow(&'a str),
}

impl std::fmt::Display for TimelineKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimelineKey::Connection(c) => f.write_str(c),
            TimelineKey::Flow(id) => write!(f, "flow:{id}"),
        }
    }
}

/// All timelines and daily counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timelines {
    /// Per connection name.
    pub connections: StrMap<Timeline>,
    /// Per flow id, for runs that name no connection.
    pub flows: StrMap<Timeline>,
    /// Per owner label (`unknown` when none).
    pub owners: StrMap<BTreeMap<i64, DayCounts>>,
    /// Tenant-wide.
    pub tenant: BTreeMap<i64, DayCounts>,
}

impl Timelines {
    /// Every timeline: connections first, then `flow:<id>` ones, each sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (TimelineKey<'_>, &Timeline)> {
        self.connections
            .sorted()
            .into_iter()
            .map(|(k, v)| (TimelineKey::Connection(k), v))
            .chain(
                self.flows
                    .sorted()
                    .into_iter()
                    .map(|(k, v)| (TimelineKey::Flow(k), v)),
            )
    }

    /// The timeline of a key, if any run had it.
    pub fn get(&self, key: TimelineKey<'_>) -> Option<&Timeline> {
        match key {
            TimelineKey::Connection(c) => self.connections.get(c),
            TimelineKey::Flow(f) => self.flows.get(f),
        }
    }

    /// The day record for a key, created when new (allocating the key only then).
    pub(crate) fn day(&mut self, key: TimelineKey<'_>, day: i64) -> &mut DayStat {
        let tl = match key {
            TimelineKey::Connection(c) => self.connections.get_or_default(c),
            TimelineKey::Flow(f) => self.flows.get_or_default(f),
        };
        tl.entry(day).or_default()
    }

    pub(crate) fn owner_day(&mut self, owner: &str, day: i64) -> &mut DayCounts {
        self.owners.get_or_default(owner).entry(day).or_default()
    }

    pub(crate) fn merge(&mut self, other: Timelines) {
        for (mine, theirs) in [
            (&mut self.connections, other.connections),
            (&mut self.flows, other.flows),
        ] {
            for (k, tl) in theirs.into_unordered() {
                let dest = mine.entry_owned(k);
                for (day, stat) in tl {
                    dest.entry(day).or_default().merge(stat);
                }
            }
        }
        for (owner, days) in other.owners.into_unordered() {
            let dest = self.owners.entry_owned(owner);
            for (day, c) in days {
                dest.entry(day).or_default().merge(c);
            }
        }
        for (day, c) in other.tenant {
            self.tenant.entry(day).or_default().merge(c);
        }
    }
}

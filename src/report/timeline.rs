//! Tenant-wide daily counts for the `daily` series of the JSON report and its chart.
//!
//! Per UTC day number ([`crate::time::day_of`]): runs that worked and runs that failed, by
//! root cause. Only run histories feed it: connection statuses and sign-ins are not runs.
//! The per-connection and per-flow day-by-day history lives in one place only, the timing
//! aggregate [`crate::infer::Timelines`], which the report keeps beside this one.

use crate::vocab::RootCause;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Successes and failures by root cause on one day.
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

/// The tenant's daily counts. Memory grows with days, never with records.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timelines {
    /// Tenant-wide, by UTC day number.
    pub tenant: BTreeMap<i64, DayCounts>,
}

impl Timelines {
    /// Count a run that worked on `day`.
    pub(crate) fn ok(&mut self, day: i64) {
        self.tenant.entry(day).or_default().ok += 1;
    }

    /// Count a failed run on `day`. Allocates only for a new day or root cause.
    pub(crate) fn failed(&mut self, day: i64, root: RootCause) {
        *self
            .tenant
            .entry(day)
            .or_default()
            .failed
            .entry(root)
            .or_insert(0) += 1;
    }

    pub(crate) fn merge(&mut self, other: Timelines) {
        for (day, c) in other.tenant {
            self.tenant.entry(day).or_default().merge(c);
        }
    }
}

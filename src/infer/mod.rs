//! Inference: timing patterns across records and token lifetime policy checks, turned into
//! [`Finding`]s.
//!
//! Single records say what failed; the timing across records often says why. The report's
//! aggregate feeds every observation to a [`Timelines`] (see [`timeline`]); after the merge,
//! [`infer`] reads the timelines together with the [`JoinIndex`] (flows, connections, people,
//! failed sign-ins, token policies) and returns findings of eight stable kinds:
//!
//! | kind | module | rule in one line |
//! |---|---|---|
//! | `policy-wave` | [`wave`] | ≥ 3 connections of ≥ 3 owners start failing with MFA/CA codes within 36 h |
//! | `cadence` | [`cadence`] | one connection re-fails a constant N days after each repair (≥ 3 onsets) |
//! | `inactivity` | [`inactivity`] | a token-inactive failure after ≥ 90 days without a successful run |
//! | `inactivity-forecast` | [`inactivity`] | last success + 90 days falls before `as_of` + 30 days |
//! | `revocation` | [`revocation`] | ≥ 2 of one owner's connections fail from one instant |
//! | `owner-gone` | [`owner`] | the owner is disabled, deleted or not in the directory |
//! | `confounder` | [`confounder`] | 14 days of continuous failure (suspension) or 90 days without success |
//! | `token-policy` | [`policy`] | each token lifetime policy against the recommended values |
//!
//! Each module documents its thresholds as constants. Findings come out sorted by kind, then
//! onset, then title, so the output is deterministic.

pub mod cadence;
pub mod confounder;
pub mod inactivity;
pub mod owner;
pub mod policy;
pub mod revocation;
pub mod signin;
pub mod timeline;
pub mod wave;

#[cfg(test)]
mod testutil;

pub use signin::{MatchMethod, SignInMatch, SignInQuery, match_sign_ins};
pub use timeline::Timelines;

use crate::join::JoinIndex;
use crate::model::Ts;
use crate::report::{Finding, FindingKind};
use crate::time::{format_day, format_iso};
use crate::vocab::{Actor, Confidence, Fix, RootCause};
use serde_json::{Map, Value};

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Seconds in an hour.
pub const HOUR: i64 = 3_600;

/// Run every rule over the merged timelines and the join index. `as_of` is the moment the
/// forecast and the dormancy rule count from; by default the latest time in the input.
pub fn infer(t: &Timelines, index: &JoinIndex, as_of: Option<Ts>) -> Vec<Finding> {
    let as_of = as_of.or(t.latest);
    let mut out = Vec::new();
    out.extend(wave::find(t, index));
    let mut cadences = cadence::find(t, index);
    out.extend(inactivity::find(t, index));
    if let Some(now) = as_of {
        out.extend(inactivity::forecast(t, now));
    }
    out.extend(revocation::find(t, index));
    out.extend(owner::find(t, index));
    out.extend(confounder::find(t, index, as_of));
    let mut policies: Vec<Finding> = index.policies.iter().map(policy::check).collect();
    policy::tie_to_cadences(&mut policies, &index.policies, &cadences);
    cadence::tie_to_policies(&mut cadences, &index.policies);
    out.extend(cadences);
    out.extend(policies);
    sort_findings(&mut out);
    out
}

/// The documented order: kind, then onset (none first), then title.
pub fn sort_findings(v: &mut [Finding]) {
    v.sort_by(|a, b| {
        (a.kind, a.onset, &a.title, &a.connections).cmp(&(
            b.kind,
            b.onset,
            &b.title,
            &b.connections,
        ))
    });
}

/// An empty finding of a kind, to be filled in.
pub(crate) fn finding(
    kind: FindingKind,
    title: String,
    confidence: Confidence,
    root_cause: Option<RootCause>,
    fix: Option<Fix>,
    actor: Actor,
) -> Finding {
    Finding {
        kind,
        title,
        confidence,
        root_cause,
        fix,
        actor,
        evidence: Vec::new(),
        owners: Vec::new(),
        connections: Vec::new(),
        flows: Vec::new(),
        onset: None,
        details: Map::new(),
    }
}

/// Days between two instants, as a decimal with one digit (for details and evidence).
pub(crate) fn days_between(from: Ts, to: Ts) -> f64 {
    ((to - from) as f64 / DAY as f64 * 10.0).round() / 10.0
}

/// `2024-05-02 06:01 UTC`.
pub(crate) fn when(t: Ts) -> String {
    let iso = format_iso(t);
    format!(
        "{} {} UTC",
        &iso[..10.min(iso.len())],
        iso.get(11..16).unwrap_or("")
    )
}

pub(crate) fn day(t: Ts) -> String {
    format_day(t)
}

pub(crate) fn put(details: &mut Map<String, Value>, key: &str, v: impl Into<Value>) {
    details.insert(key.to_string(), v.into());
}

/// Sorted, deduplicated strings.
pub(crate) fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// A flow key (`flow:<id>`) back to the flow id, for inventory lookups.
pub(crate) fn flow_id_of(key: &str) -> Option<&str> {
    key.strip_prefix("flow:")
}

/// "1 connection" / "3 connections".
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn empty_input_has_no_findings() {
        assert!(infer(&Timelines::new(), &JoinIndex::new(), None).is_empty());
    }

    #[test]
    fn findings_are_sorted_and_deterministic() {
        let mut b = Builder::new();
        // An idle connection and a dormant flow: two kinds, sorted by kind.
        b.ok("c1", "f1", "alice", "2024-01-01T08:00:00Z");
        b.fail_cat(
            "c1",
            "f1",
            "alice",
            "2024-05-01T08:00:00Z",
            crate::vocab::Category::TokenInactive,
            &[70008],
        );
        let f1 = infer(&b.t, &JoinIndex::new(), None);
        let f2 = infer(&b.t, &JoinIndex::new(), None);
        assert_eq!(f1, f2);
        let kinds: Vec<_> = f1.iter().map(|f| f.kind).collect();
        let mut s = kinds.clone();
        s.sort();
        assert_eq!(kinds, s);
        assert!(kinds.contains(&FindingKind::Inactivity));
    }
}

//! Revocation instant: all of one owner's connections fail from one moment, the moment the
//! owner's refresh tokens were revoked (password change or reset, or an admin revoked their
//! sessions; password *expiry* alone does not revoke). Root cause `credentials-changed`.
//!
//! Per owner (a connection's first known owner), two ways in:
//! 1. `TokensValidFrom`: AADSTS50173 texts carry the revocation instant. Values from at least
//!    [`MIN_CONNECTIONS`] of the owner's connections within [`TVF_AGREE`] (a minute) make the
//!    instant (`certain`).
//! 2. Shared onset: the first `token-revoked`, `credentials-invalid` or `other-auth` failure
//!    after a success, on at least [`MIN_CONNECTIONS`] of the owner's connections, within
//!    [`ONSET_WINDOW`] (an hour) of each other. The instant lies between the latest success
//!    before and the first failure. `likely` when one of them is `token-revoked` or
//!    `credentials-invalid`, else `hypothesis`. It does not fire when another of the owner's
//!    connections ran successfully more than [`GRACE`] after the instant: a revocation stops
//!    them all.
//!
//! A single connection's failure never makes a revocation.

use super::timeline::{ConnTimeline, Timelines};
use super::{HOUR, finding, plural, put, sorted, when};
use crate::join::JoinIndex;
use crate::model::Ts;
use crate::report::{Finding, FindingKind};
use crate::time::format_iso;
use crate::vocab::{Actor, Category, Confidence, Fix, RootCause};
use std::collections::BTreeMap;

/// Fewest connections of one owner.
pub const MIN_CONNECTIONS: usize = 2;
/// TokensValidFrom values this close are one instant.
pub const TVF_AGREE: i64 = 60;
/// First failures this close are one onset.
pub const ONSET_WINDOW: i64 = HOUR;
/// A success this long after the instant contradicts a revocation (access tokens live 60-90
/// minutes after the refresh token is revoked).
pub const GRACE: i64 = 2 * HOUR;

fn is_revocation_category(c: Category) -> bool {
    matches!(
        c,
        Category::TokenRevoked | Category::CredentialsInvalid | Category::OtherAuth
    )
}

struct Hit<'a> {
    time: Ts,
    key: &'a str,
    ct: &'a ConnTimeline,
    last_ok: Option<Ts>,
    strong: bool,
}

/// Find the revocations.
pub fn find(t: &Timelines, index: &JoinIndex) -> Vec<Finding> {
    let mut by_owner: BTreeMap<&str, Vec<(&str, &ConnTimeline)>> = BTreeMap::new();
    for (k, ct) in &t.connections {
        if let Some(o) = ct.owner() {
            by_owner.entry(o).or_default().push((k, ct));
        }
    }
    let mut out = Vec::new();
    for (owner, conns) in by_owner {
        if conns.len() < MIN_CONNECTIONS {
            continue;
        }
        let found = by_tokens_valid_from(owner, &conns).or_else(|| by_shared_onset(owner, &conns));
        if let Some(mut f) = found {
            // The sign-in log at the first failure of each connection, where it has one.
            for (key, ct) in &conns {
                let name = ct.name.as_deref().unwrap_or(key);
                if !f.connections.iter().any(|c| c == name) {
                    continue;
                }
                let first = ct.days.values().find_map(|d| {
                    d.cats
                        .iter()
                        .filter(|c| is_revocation_category(c.category))
                        .map(|c| c.first)
                        .filter(|t| f.onset.is_none_or(|o| *t >= o))
                        .min()
                });
                if let Some(s) =
                    first.and_then(|t| super::sign_in_line(index, ct, t, is_revocation_category))
                {
                    f.evidence.push(format!("{name}: {s}"));
                }
            }
            out.push(f);
        }
    }
    out
}

fn by_tokens_valid_from(owner: &str, conns: &[(&str, &ConnTimeline)]) -> Option<Finding> {
    let mut tvf: Vec<Hit<'_>> = Vec::new();
    for &(key, ct) in conns {
        let mut seen: Vec<Ts> = ct
            .days
            .values()
            .filter_map(|d| d.tokens.tokens_valid_from)
            .flat_map(|s| [s.min, s.max])
            .chain(ct.status.as_ref().and_then(|s| s.tokens_valid_from))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        for v in seen {
            tvf.push(Hit {
                time: v,
                key,
                ct,
                last_ok: None,
                strong: true,
            });
        }
    }
    tvf.sort_by(|a, b| (a.time, a.key).cmp(&(b.time, b.key)));
    let (i, j) = best_cluster(&tvf, TVF_AGREE)?;
    let members = &tvf[i..j];
    let instant = members[0].time;
    let mut f = describe(
        owner,
        members,
        instant,
        Confidence::Certain,
        "TokensValidFrom",
    );
    f.evidence.insert(
        0,
        format!(
            "AADSTS50173 texts on {} give TokensValidFrom {} (within a minute)",
            plural(distinct(members), "connection", "connections"),
            when(instant)
        ),
    );
    Some(f)
}

fn by_shared_onset(owner: &str, conns: &[(&str, &ConnTimeline)]) -> Option<Finding> {
    let mut hits: Vec<Hit<'_>> = Vec::new();
    for &(key, ct) in conns {
        let mut prev: Option<bool> = None;
        for (t, ok) in ct.events(is_revocation_category) {
            if !ok && prev == Some(true) {
                let strong = ct.days.get(&crate::time::day_of(t)).is_some_and(|d| {
                    d.cat(Category::TokenRevoked).is_some()
                        || d.cat(Category::CredentialsInvalid).is_some()
                });
                hits.push(Hit {
                    time: t,
                    key,
                    ct,
                    last_ok: ct.last_ok_before(t),
                    strong,
                });
                break;
            }
            prev = Some(ok);
        }
    }
    hits.sort_by(|a, b| (a.time, a.key).cmp(&(b.time, b.key)));
    let (i, j) = best_cluster(&hits, ONSET_WINDOW)?;
    let members = &hits[i..j];
    let first_fail = members[0].time;
    let after = members.iter().filter_map(|h| h.last_ok).max();
    // Another connection of the owner still working well after the onset contradicts it.
    let contradicted = conns.iter().any(|(k, ct)| {
        !members.iter().any(|m| m.key == *k) && ct.last_ok().is_some_and(|t| t > first_fail + GRACE)
    });
    if contradicted {
        return None;
    }
    let confidence = if members.iter().any(|h| h.strong) {
        Confidence::Likely
    } else {
        Confidence::Hypothesis
    };
    let mut f = describe(owner, members, first_fail, confidence, "shared onset");
    f.evidence.insert(
        0,
        format!(
            "{} of {} connections started failing within an hour: revoked between {} (last success) and {} (first failure)",
            distinct(members),
            owner,
            after.map(when).unwrap_or_else(|| "?".into()),
            when(first_fail)
        ),
    );
    if let Some(a) = after {
        put(&mut f.details, "revoked_after", format_iso(a));
    }
    Some(f)
}

fn distinct(m: &[Hit<'_>]) -> usize {
    let mut k: Vec<&str> = m.iter().map(|h| h.key).collect();
    k.sort_unstable();
    k.dedup();
    k.len()
}

/// The window `[i, j)` of width `w` with the most distinct connections (≥ MIN_CONNECTIONS),
/// earliest on ties.
fn best_cluster(v: &[Hit<'_>], w: i64) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize, usize)> = None;
    let mut j = 0;
    for i in 0..v.len() {
        j = j.max(i);
        while j < v.len() && v[j].time - v[i].time <= w {
            j += 1;
        }
        let n = distinct(&v[i..j]);
        if n >= MIN_CONNECTIONS && best.is_none_or(|(bn, _, _)| n > bn) {
            best = Some((n, i, j));
        }
    }
    best.map(|(_, i, j)| (i, j))
}

fn describe(
    owner: &str,
    m: &[Hit<'_>],
    instant: Ts,
    confidence: Confidence,
    basis: &str,
) -> Finding {
    let n = distinct(m);
    let mut f = finding(
        FindingKind::Revocation,
        format!(
            "{} of {owner} stopped working at {}: password change or reset, or an admin revoked sessions",
            plural(n, "connection", "connections"),
            when(instant)
        ),
        confidence,
        Some(RootCause::CredentialsChanged),
        Some(Fix::RepairConnection),
        Actor::Owner,
    );
    f.onset = Some(instant);
    for h in m {
        f.evidence.push(format!(
            "{}: {} {}",
            h.ct.name.as_deref().unwrap_or(h.key),
            if basis == "TokensValidFrom" {
                "TokensValidFrom"
            } else {
                "first failure"
            },
            when(h.time)
        ));
    }
    f.evidence.push(
        "password expiry alone does not revoke tokens; a change, a self-service or admin reset, or \"revoke sessions\" does. If an admin did it, the admin knows: the owner must still repair each connection"
            .into(),
    );
    f.evidence.push(format!(
        "fix: {owner} edits or re-creates every connection they own (also ones not in this input)"
    ));
    put(&mut f.details, "revoked_at", format_iso(instant));
    put(&mut f.details, "basis", basis);
    put(&mut f.details, "connections_hit", n);
    f.owners = vec![owner.to_string()];
    f.connections = sorted(
        m.iter()
            .map(|h| h.ct.name.clone().unwrap_or_else(|| h.key.to_string()))
            .collect(),
    );
    f.flows = sorted(m.iter().flat_map(|h| h.ct.flow_names()).collect());
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::TokenDetails;
    use crate::infer::testutil::*;

    const BASE: &str = "2024-02-01T08:00:00Z";

    fn revoked(tvf: &str) -> crate::classify::Diagnosis {
        diag(
            Category::TokenRevoked,
            &[50173],
            Some(TokenDetails {
                issued_on: Some(ts("2023-12-01T00:00:00Z")),
                tokens_valid_from: Some(ts(tvf)),
                ..TokenDetails::default()
            }),
        )
    }

    #[test]
    fn tokens_valid_from_agree() {
        let mut b = Builder::new();
        for (i, c) in ["c1", "c2", "c3"].iter().enumerate() {
            b.ok(c, &format!("f{i}"), "adele", BASE);
            let d = revoked(&format!("2024-02-03T09:15:{:02}Z", 10 + i));
            b.fail_diag(c, &format!("f{i}"), "adele", &at(BASE, 3, i as i64), &d);
        }
        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].confidence, Confidence::Certain);
        assert_eq!(f[0].onset, Some(ts("2024-02-03T09:15:10Z")));
        assert_eq!(f[0].details["connections_hit"], 3);
        assert_eq!(f[0].root_cause, Some(RootCause::CredentialsChanged));
    }

    #[test]
    fn shared_onset_within_an_hour() {
        let mut b = Builder::new();
        for c in ["c1", "c2"] {
            b.ok(c, c, "bob", BASE);
        }
        b.fail_cat(
            "c1",
            "c1",
            "bob",
            &at(BASE, 2, 0),
            Category::TokenRevoked,
            &[50173],
        );
        b.fail_cat(
            "c2",
            "c2",
            "bob",
            "2024-02-03T08:40:00Z",
            Category::TokenRevoked,
            &[],
        );
        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].confidence, Confidence::Likely);
        assert_eq!(f[0].details["revoked_after"], "2024-02-01T08:00:00Z");
    }

    #[test]
    fn one_connection_is_not_a_revocation() {
        let mut b = Builder::new();
        b.ok("c1", "f", "adele", BASE);
        b.ok("c2", "g", "adele", BASE);
        let d = revoked("2024-02-03T09:15:00Z");
        b.fail_diag("c1", "f", "adele", &at(BASE, 3, 0), &d);
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }

    #[test]
    fn different_owners_or_hours_apart_are_not() {
        let mut b = Builder::new();
        b.ok("c1", "f", "adele", BASE);
        b.ok("c2", "g", "bob", BASE);
        b.fail_cat(
            "c1",
            "f",
            "adele",
            &at(BASE, 2, 0),
            Category::TokenRevoked,
            &[50173],
        );
        b.fail_cat(
            "c2",
            "g",
            "bob",
            &at(BASE, 2, 0),
            Category::TokenRevoked,
            &[50173],
        );
        b.ok("c3", "h", "carol", BASE);
        b.ok("c4", "i", "carol", BASE);
        b.fail_cat(
            "c3",
            "h",
            "carol",
            &at(BASE, 2, 0),
            Category::TokenRevoked,
            &[50173],
        );
        b.fail_cat(
            "c4",
            "i",
            "carol",
            &at(BASE, 2, 5),
            Category::TokenRevoked,
            &[50173],
        );
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }

    #[test]
    fn a_connection_still_working_contradicts() {
        let mut b = Builder::new();
        for c in ["c1", "c2", "c3"] {
            b.ok(c, c, "bob", BASE);
        }
        b.fail_cat("c1", "c1", "bob", &at(BASE, 2, 0), Category::OtherAuth, &[]);
        b.fail_cat("c2", "c2", "bob", &at(BASE, 2, 0), Category::OtherAuth, &[]);
        b.ok("c3", "c3", "bob", &at(BASE, 4, 0));
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }
}

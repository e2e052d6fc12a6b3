//! Policy wave: many connections of many owners start failing with MFA or conditional access
//! codes from the same hour or day, after working before (effect E1: a CA/MFA policy enabled
//! after the connections were created; root cause `ca-policy-after-connection`).
//!
//! Rule:
//! - Per connection, the *onset* is its first failure of a wave category (`mfa-required`,
//!   `ca-blocked`, `ca-device`, `ca-location`). It counts if a success precedes it, or if no
//!   other authentication failure does (the input starts there). Other failures (throttling,
//!   `not-auth`, `transient`, unknown) never make an onset: noise is ignored by construction.
//! - A wave is a window of [`WINDOW`] (36 h: each flow fails at its *next scheduled run*, so
//!   the leading edge spreads over a day or more) holding onsets of at least
//!   [`MIN_CONNECTIONS`] connections of at least [`MIN_OWNERS`] distinct known owners.
//!   Connections with no known owner count as connections, never as owners, so one person's
//!   problems never make a wave.
//! - Step change: the window must hold at least [`BACKGROUND_FACTOR`] times the onsets
//!   expected from the background rate (onsets outside the window spread over the rest of
//!   the observed span), so a large tenant's steady trickle of first failures is no wave.
//! - The best window (most connections, then most owners, then earliest) is reported, its
//!   connections removed, and the search repeats (two policies, two waves).
//!
//! Confidence `likely`; `certain` when the sign-in log shows one CA policy with result
//! failure for at least two of the wave's owners (and at least half of them) within the
//! window ±[`SIGNIN_SLACK`]; the policy is then named.

use super::signin::{failed_policies, sign_ins_of};
use super::timeline::{ConnTimeline, Timelines};
use super::{HOUR, days_between, finding, plural, put, sorted, when};
use crate::join::JoinIndex;
use crate::model::Ts;
use crate::report::{Finding, FindingKind};
use crate::vocab::{Actor, Category, Confidence, Fix, RootCause};
use std::collections::{BTreeMap, BTreeSet};

/// The window an onset wave may spread over, from its first onset.
pub const WINDOW: i64 = 36 * HOUR;
/// Fewest connections in a wave.
pub const MIN_CONNECTIONS: usize = 3;
/// Fewest distinct owners in a wave.
pub const MIN_OWNERS: usize = 3;
/// How far above the background rate a wave must stand.
pub const BACKGROUND_FACTOR: f64 = 3.0;
/// Sign-ins this long before the first or after the last onset still count.
pub const SIGNIN_SLACK: i64 = 2 * HOUR;

/// Categories that a CA or MFA policy produces.
pub fn is_wave_category(c: Category) -> bool {
    matches!(
        c,
        Category::MfaRequired | Category::CaBlocked | Category::CaDevice | Category::CaLocation
    )
}

/// One connection's onset.
#[derive(Clone, Debug)]
struct Onset<'a> {
    time: Ts,
    key: &'a str,
    conn: &'a ConnTimeline,
    owner: Option<&'a str>,
    worked_before: bool,
}

/// The connection's onsets: each wave-category failure right after a success, and its
/// first one when nothing came before it (no success and no other authentication failure).
fn onsets_of<'a>(key: &'a str, ct: &'a ConnTimeline) -> Vec<Onset<'a>> {
    let mut out = Vec::new();
    let mut prev: Option<bool> = None;
    for (t, ok) in ct.events(is_wave_category) {
        if !ok {
            let onset = match prev {
                Some(true) => true,
                Some(false) => false,
                None => !ct
                    .events(|c| c.is_auth() && !is_wave_category(c))
                    .iter()
                    .any(|&(x, ok)| !ok && x < t),
            };
            if onset {
                out.push(Onset {
                    time: t,
                    key,
                    conn: ct,
                    owner: ct.owner(),
                    worked_before: prev == Some(true),
                });
            }
        }
        prev = Some(ok);
    }
    out
}

/// Find the waves.
pub fn find(t: &Timelines, index: &JoinIndex) -> Vec<Finding> {
    let mut onsets: Vec<Onset<'_>> = t
        .connections
        .iter()
        .flat_map(|(k, ct)| onsets_of(k, ct))
        .collect();
    onsets.sort_by(|a, b| (a.time, a.key).cmp(&(b.time, b.key)));
    let total = onsets.len();
    let span = observed_span(t);
    let mut out = Vec::new();
    let mut remaining = onsets;
    while let Some((i, j)) = best_window(&remaining) {
        let members: Vec<Onset<'_>> = remaining[i..j].to_vec();
        let n = distinct_connections(&members);
        let expected = match span {
            Some(s) if s > WINDOW => {
                (total - members.len()) as f64 * WINDOW as f64 / (s - WINDOW) as f64
            }
            _ => 0.0,
        };
        if (n as f64) < BACKGROUND_FACTOR * expected {
            // The best window does not stand out: no wave here, nor in any smaller window.
            break;
        }
        out.push(describe(&members, expected, index));
        remaining.drain(i..j);
    }
    out
}

/// The observed time span of all run data, in seconds.
fn observed_span(t: &Timelines) -> Option<i64> {
    let mut lo: Option<Ts> = None;
    let mut hi: Option<Ts> = None;
    for ct in t.connections.values() {
        for d in ct.days.values() {
            for s in [d.ok_span, d.fail_span].into_iter().flatten() {
                lo = Some(lo.map_or(s.min, |l| l.min(s.min)));
                hi = Some(hi.map_or(s.max, |h| h.max(s.max)));
            }
        }
    }
    Some(hi? - lo?)
}

fn distinct_connections(m: &[Onset<'_>]) -> usize {
    m.iter().map(|o| o.key).collect::<BTreeSet<_>>().len()
}

/// The qualifying window `[i, j)` with most connections, then most owners, then earliest.
///
/// One pass with a sliding window: distinct connections and owners are counted in place as
/// `j` moves forward and `i` leaves, instead of re-collecting every window (which made the
/// search quadratic in the onsets of a busy window).
fn best_window(v: &[Onset<'_>]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize, usize, usize)> = None; // (n, owners, i, j)
    let mut conns = Counter::default();
    let mut owners = Counter::default();
    let mut j = 0;
    for i in 0..v.len() {
        // j > i from here on: v[i] itself is always inside its own window.
        while j < v.len() && v[j].time - v[i].time <= WINDOW {
            conns.add(v[j].key);
            if let Some(o) = v[j].owner {
                owners.add(o);
            }
            j += 1;
        }
        let (n, o) = (conns.distinct, owners.distinct);
        if n >= MIN_CONNECTIONS && o >= MIN_OWNERS {
            let better = match best {
                None => true,
                Some((bn, bo, _, _)) => (n, o) > (bn, bo),
            };
            if better {
                best = Some((n, o, i, j));
            }
        }
        // v[i] leaves the window before the next start.
        conns.remove(v[i].key);
        if let Some(o) = v[i].owner {
            owners.remove(o);
        }
    }
    best.map(|(_, _, i, j)| (i, j))
}

/// Occurrences per name inside the sliding window, and how many names occur.
#[derive(Default)]
struct Counter<'a> {
    counts: hashbrown::HashMap<&'a str, usize>,
    distinct: usize,
}

impl<'a> Counter<'a> {
    fn add(&mut self, k: &'a str) {
        let c = self.counts.entry(k).or_insert(0);
        if *c == 0 {
            self.distinct += 1;
        }
        *c += 1;
    }

    fn remove(&mut self, k: &'a str) {
        if let Some(c) = self.counts.get_mut(k) {
            *c -= 1;
            if *c == 0 {
                self.distinct -= 1;
            }
        }
    }
}

fn describe(m: &[Onset<'_>], expected: f64, index: &JoinIndex) -> Finding {
    let onset = m[0].time;
    let last = m[m.len() - 1].time;
    let owners: Vec<String> = sorted(m.iter().filter_map(|o| o.owner.map(String::from)).collect());
    let connections: Vec<String> = sorted(
        m.iter()
            .map(|o| o.conn.name.clone().unwrap_or_else(|| o.key.to_string()))
            .collect(),
    );
    let flows: Vec<String> = sorted(m.iter().flat_map(|o| o.conn.flow_names()).collect());

    // Codes and categories of each member's onset day.
    let mut codes: BTreeSet<u32> = BTreeSet::new();
    let mut cats: BTreeMap<Category, usize> = BTreeMap::new();
    let mut services: BTreeSet<String> = BTreeSet::new();
    for o in m {
        if let Some(d) = o.conn.days.get(&crate::time::day_of(o.time)) {
            for c in d.cats.iter().filter(|c| is_wave_category(c.category)) {
                codes.extend(c.codes.iter().copied());
                *cats.entry(c.category).or_default() += 1;
            }
        }
        services.extend(o.conn.services.iter().cloned());
        if let Some(c) = &o.conn.connector {
            services.insert(c.clone());
        }
    }
    let hit = distinct_connections(m);
    let worked = m
        .iter()
        .filter(|o| o.worked_before)
        .map(|o| o.key)
        .collect::<BTreeSet<_>>()
        .len();

    // Sign-ins: which CA policy failed for which owners in the window.
    let mut policy_owners: BTreeMap<String, (BTreeSet<&str>, BTreeSet<String>)> = BTreeMap::new();
    let mut signins = 0usize;
    for owner in owners.iter() {
        for s in sign_ins_of(index, owner, onset - SIGNIN_SLACK, last + SIGNIN_SLACK) {
            signins += 1;
            for p in failed_policies(s) {
                let e = policy_owners.entry(p.name).or_default();
                e.0.insert(owner.as_str());
                e.1.extend(p.grant_controls);
            }
        }
    }
    let top = policy_owners
        .iter()
        .max_by(|a, b| a.1.0.len().cmp(&b.1.0.len()).then(b.0.cmp(a.0)));
    let named = top.filter(|(_, (who, _))| who.len() >= 2 && who.len() * 2 >= owners.len());

    let code_text = if codes.is_empty() {
        cats.keys()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        super::aadsts_list(&codes)
    };
    let mut title = format!(
        "{} of {} started failing with {} within {} h from {}",
        plural(hit, "connection", "connections"),
        plural(owners.len(), "owner", "owners"),
        code_text,
        ((last - onset) as f64 / HOUR as f64).ceil().max(1.0),
        when(onset)
    );
    if let Some((name, _)) = named {
        title.push_str(&format!(": conditional access policy \"{name}\""));
    } else {
        title.push_str(": a conditional access or MFA policy enabled after they were created");
    }
    let mut f = finding(
        FindingKind::PolicyWave,
        title,
        if named.is_some() {
            Confidence::Certain
        } else {
            Confidence::Likely
        },
        Some(RootCause::CaPolicyAfterConnection),
        Some(Fix::RepairConnection),
        Actor::Owner,
    );
    f.onset = Some(onset);
    f.evidence.push(format!(
        "first failures between {} and {} ({:.1} h): {} connections of {} owners",
        when(onset),
        when(last),
        days_between(onset, last) * 24.0,
        hit,
        owners.len()
    ));
    f.evidence.push(format!(
        "{} of them ran successfully before their first failure; the others start failing where the input starts",
        worked
    ));
    for (c, n) in &cats {
        f.evidence
            .push(format!("{n} failing on their first day with {c}"));
    }
    f.evidence.push(format!(
        "background: {expected:.1} first failures expected in any {} h window; this one has {}",
        WINDOW / HOUR,
        hit
    ));
    let mut by_hour: BTreeMap<String, usize> = BTreeMap::new();
    for o in m {
        let hour = crate::time::format_iso(o.time - o.time.rem_euclid(HOUR));
        *by_hour.entry(hour).or_default() += 1;
        let mut line = format!(
            "{} ({}): first failure {}",
            o.conn.name.as_deref().unwrap_or(o.key),
            o.owner.unwrap_or("owner unknown"),
            when(o.time)
        );
        if let Some(s) = super::sign_in_line(index, o.conn, o.time, is_wave_category) {
            line.push_str(&format!("; {s}"));
        }
        f.evidence.push(line);
    }
    match (named, top) {
        (Some((name, (who, grants))), _) => f.evidence.push(format!(
            "sign-in log: CA policy \"{name}\" failed for {} of the {} owners in the window{}",
            who.len(),
            owners.len(),
            if grants.is_empty() {
                String::new()
            } else {
                format!(" (grant controls: {})", grants.iter().cloned().collect::<Vec<_>>().join(", "))
            }
        )),
        (None, Some((name, (who, _)))) => f.evidence.push(format!(
            "sign-in log: CA policy \"{name}\" failed for only {} of the {} owners: not enough to name it",
            who.len(),
            owners.len()
        )),
        (None, None) if signins > 0 => f.evidence.push(format!(
            "sign-in log: {signins} failed sign-ins of these owners in the window, none with a failed CA policy"
        )),
        (None, None) => f.evidence.push(
            "no sign-in log entries for these owners in the window: add the Entra sign-in log to name the policy"
                .into(),
        ),
    }
    f.evidence.push(
        "fix: each owner signs in to Power Automate meeting the policy (MFA, network, device) and repairs the connection; the admin may review the policy's scope"
            .into(),
    );
    put(&mut f.details, "connections_hit", hit);
    put(&mut f.details, "owners_hit", owners.len());
    put(
        &mut f.details,
        "codes",
        codes.iter().copied().collect::<Vec<u32>>(),
    );
    put(
        &mut f.details,
        "categories",
        cats.keys().map(|c| c.as_str()).collect::<Vec<_>>(),
    );
    put(
        &mut f.details,
        "services",
        services.into_iter().collect::<Vec<_>>(),
    );
    put(&mut f.details, "onset", crate::time::format_iso(onset));
    put(
        &mut f.details,
        "onsets_by_hour",
        serde_json::Value::Object(
            by_hour
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::from(v)))
                .collect(),
        ),
    );
    put(&mut f.details, "last_onset", crate::time::format_iso(last));
    put(
        &mut f.details,
        "background_expected",
        (expected * 10.0).round() / 10.0,
    );
    if let Some((name, (who, grants))) = top {
        put(&mut f.details, "policy", name.clone());
        put(&mut f.details, "policy_owners", who.len());
        put(
            &mut f.details,
            "grant_controls",
            grants.iter().cloned().collect::<Vec<_>>(),
        );
    }
    f.owners = owners;
    f.connections = connections;
    f.flows = flows;
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::testutil::*;
    use crate::model::{AppliedPolicy, SignInRecord};

    const BASE: &str = "2024-05-01T08:00:00Z";

    /// `n` connections of owners `owner(i)`, working daily from day 0, failing with 50076
    /// from day `fail_day` at hour `8 + i` (the leading edge follows schedules).
    fn tenant(b: &mut Builder, n: usize, owner: impl Fn(usize) -> String, fail_day: i64) {
        for i in 0..n {
            let c = format!("shared-office365-{i}");
            let f = format!("flow-{i}");
            for d in 0..fail_day {
                b.ok(&c, &f, &owner(i), &at(BASE, d, i as i64));
            }
            for d in fail_day..fail_day + 3 {
                b.fail_cat(
                    &c,
                    &f,
                    &owner(i),
                    &at(BASE, d, i as i64),
                    Category::MfaRequired,
                    &[50076],
                );
            }
        }
    }

    #[test]
    fn fires_on_many_owners_from_one_day() {
        let mut b = Builder::new();
        tenant(&mut b, 5, |i| format!("user{i}@contoso.com"), 10);
        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1, "{f:#?}");
        let w = &f[0];
        assert_eq!(w.kind, FindingKind::PolicyWave);
        assert_eq!(w.confidence, Confidence::Likely);
        assert_eq!(w.root_cause, Some(RootCause::CaPolicyAfterConnection));
        assert_eq!(w.details["connections_hit"], 5);
        assert_eq!(w.details["owners_hit"], 5);
        assert_eq!(w.details["codes"], serde_json::json!([50076]));
        assert_eq!(w.onset, Some(ts(&at(BASE, 10, 0))));
        assert_eq!(w.connections.len(), 5);
    }

    #[test]
    fn survives_noise_on_the_same_days() {
        let mut b = Builder::new();
        tenant(&mut b, 4, |i| format!("user{i}@contoso.com"), 10);
        // Throttling and unrelated failures across many other connections on the same days.
        for i in 0..20 {
            let c = format!("shared-sql-{i}");
            b.ok(&c, &format!("g{i}"), &format!("other{i}"), &at(BASE, 1, 0));
            b.fail_cat(
                &c,
                &format!("g{i}"),
                &format!("other{i}"),
                &at(BASE, 10, 1),
                Category::NotAuth,
                &[],
            );
            b.fail_cat(
                &c,
                &format!("g{i}"),
                &format!("other{i}"),
                &at(BASE, 10, 2),
                Category::Transient,
                &[],
            );
            b.fail_unclassified(&c, &format!("g{i}"), &format!("other{i}"), &at(BASE, 10, 3));
        }
        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].details["connections_hit"], 4);
    }

    #[test]
    fn an_earlier_repaired_episode_does_not_hide_a_connection() {
        let mut b = Builder::new();
        tenant(&mut b, 3, |i| format!("user{i}@contoso.com"), 10);
        // user0's connection had an MFA failure on day 1, repaired the same day.
        b.fail_cat(
            "shared-office365-0",
            "flow-0",
            "user0@contoso.com",
            &at(BASE, 1, 3),
            Category::MfaRequired,
            &[50076],
        );
        b.ok(
            "shared-office365-0",
            "flow-0",
            "user0@contoso.com",
            &at(BASE, 1, 5),
        );
        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].details["connections_hit"], 3);
    }

    #[test]
    fn one_owner_is_not_a_wave() {
        let mut b = Builder::new();
        tenant(&mut b, 6, |_| "adele@contoso.com".to_string(), 10);
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
        // Nor are owners nobody knows.
        let mut b = Builder::new();
        tenant(&mut b, 6, |_| String::new(), 10);
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }

    #[test]
    fn throttling_alone_is_not_a_wave() {
        let mut b = Builder::new();
        for i in 0..10 {
            let c = format!("c{i}");
            b.ok(&c, "f", &format!("u{i}"), &at(BASE, 0, 0));
            b.fail_cat(
                &c,
                "f",
                &format!("u{i}"),
                &at(BASE, 5, 0),
                Category::NotAuth,
                &[],
            );
            b.fail_cat(
                &c,
                "f",
                &format!("u{i}"),
                &at(BASE, 5, 1),
                Category::Transient,
                &[90033],
            );
        }
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }

    #[test]
    fn onsets_spread_over_weeks_are_no_wave() {
        let mut b = Builder::new();
        // One new MFA failure every 4 days across owners: a trickle, not a step.
        for i in 0..8 {
            let c = format!("c{i}");
            let o = format!("u{i}");
            b.ok(&c, "f", &o, &at(BASE, 0, 0));
            b.fail_cat(
                &c,
                "f",
                &o,
                &at(BASE, 4 * i as i64 + 1, 0),
                Category::MfaRequired,
                &[50076],
            );
        }
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }

    #[test]
    fn steady_background_is_no_wave() {
        let mut b = Builder::new();
        // A large tenant: three first failures every day for 60 days.
        for d in 0..60 {
            for k in 0..3 {
                let c = format!("c{d}-{k}");
                let o = format!("u{d}-{k}");
                b.ok(&c, "f", &o, &at(BASE, 0, 0));
                b.fail_cat(
                    &c,
                    "f",
                    &o,
                    &at(BASE, d, k),
                    Category::MfaRequired,
                    &[50076],
                );
            }
        }
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }

    #[test]
    fn sign_ins_name_the_policy() {
        let mut b = Builder::new();
        tenant(&mut b, 3, |i| format!("user{i}@contoso.com"), 10);
        let mut j = JoinIndex::new();
        for i in 0..3 {
            j.add_sign_in(SignInRecord {
                time: Some(ts(&at(BASE, 10, i))),
                user_upn: Some(format!("user{i}@contoso.com")),
                error_code: 50076,
                policies: vec![AppliedPolicy {
                    name: "CA010 Require MFA for Exchange".into(),
                    result: "failure".into(),
                    grant_controls: vec!["Mfa".into()],
                    session_controls: vec![],
                }],
                ..SignInRecord::default()
            });
        }
        let f = find(&b.t, &j);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Certain);
        assert!(
            f[0].title.contains("CA010 Require MFA for Exchange"),
            "{}",
            f[0].title
        );
        assert_eq!(f[0].details["grant_controls"], serde_json::json!(["Mfa"]));
    }
}

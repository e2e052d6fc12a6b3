//! Fixed cadence: the same connection re-fails a constant N days after each repair.
//! 14 days points at "remember MFA" (the source document's claim); another fixed N at a
//! remember-MFA period set to N, a fixed `MaxAgeMultiFactor` (retired since 2021-01-30) or a
//! CA sign-in frequency (`session-policy`, AADSTS70043).
//!
//! Rule, per connection, over successes and failures of the cadence categories
//! (`mfa-required`, `session-policy`, `token-max-age`; all other failures are left out):
//! - an *onset* is a failure right after a success; a *repair* is the first success after
//!   a failure. A flow failing every day with no success in between has one onset only.
//! - at least [`MIN_ONSETS`] onsets (so at least two repair → onset intervals).
//! - for every onset after a repair, the token expired somewhere between the last success
//!   and the failure, and the repair (a new sign-in) happened between the previous
//!   episode's last failure and the first success: N ∈ [last success − first success,
//!   onset − last failure before the repair]. N is the median of (onset − first success),
//!   rounded to whole days; the intervals *agree* when every bracket holds N within
//!   [`TOLERANCE_DAYS`].
//!   Confidence `likely` when N = 14, else `hypothesis`.
//! - otherwise, if the onset-to-onset intervals agree within ±1 day of their median, or the
//!   repair-to-onset intervals agree within ±[`ROUGH_SHARE`] of theirs (at least ±2 days),
//!   the cadence is reported as `hypothesis` ("roughly").
//! - N must be at least one day.

use super::timeline::{ConnTimeline, Timelines};
use super::{DAY, days_between, finding, put, when};
use crate::join::JoinIndex;
use crate::model::{PolicyRecord, Ts};
use crate::report::{Finding, FindingKind};
use crate::vocab::{Actor, Category, Confidence, Fix, RootCause};

/// Fewest onsets for a cadence.
pub const MIN_ONSETS: usize = 3;
/// How far (days) a bracket may miss N and still agree.
pub const TOLERANCE_DAYS: f64 = 1.0;
/// Relative spread allowed for a rough cadence.
pub const ROUGH_SHARE: f64 = 0.2;

/// The categories a fixed token or session lifetime produces.
pub fn is_cadence_category(c: Category) -> bool {
    matches!(
        c,
        Category::MfaRequired | Category::SessionPolicy | Category::TokenMaxAge
    )
}

/// One failure episode's start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpisodeOnset {
    pub time: Ts,
    /// The first success after the previous episode (none for the first episode).
    pub repair: Option<Ts>,
    /// The last failure of the previous episode: the repair (a new sign-in) happened
    /// between it and `repair`, so it bounds N from above.
    pub repair_earliest: Option<Ts>,
    /// The last success before this onset.
    pub last_ok: Ts,
}

/// The onsets of failure episodes of a connection.
pub fn episodes(ct: &ConnTimeline) -> Vec<EpisodeOnset> {
    let mut out = Vec::new();
    let mut prev: Option<bool> = None;
    let mut repair: Option<Ts> = None;
    let mut repair_earliest: Option<Ts> = None;
    let mut last_ok: Option<Ts> = None;
    let mut last_fail: Option<Ts> = None;
    for (t, ok) in ct.events(is_cadence_category) {
        if ok {
            if prev == Some(false) {
                repair = Some(t);
                repair_earliest = last_fail;
            }
            last_ok = Some(t);
        } else {
            if prev == Some(true)
                && let Some(lo) = last_ok
            {
                out.push(EpisodeOnset {
                    time: t,
                    repair: repair.take(),
                    repair_earliest: repair_earliest.take(),
                    last_ok: lo,
                });
            }
            last_fail = Some(t);
        }
        prev = Some(ok);
    }
    out
}

/// A detected cadence.
#[derive(Clone, Debug, PartialEq)]
pub struct Cadence {
    pub days: i64,
    /// Repair → onset intervals, days.
    pub intervals: Vec<f64>,
    /// Onset → onset intervals, days.
    pub onset_intervals: Vec<f64>,
    /// True when the repair brackets all hold N (not just roughly).
    pub tight: bool,
    /// Which intervals agreed: `repair-to-failure` or `failure-to-failure`.
    pub basis: &'static str,
}

/// Detect a cadence in a list of episode onsets.
pub fn detect(ons: &[EpisodeOnset]) -> Option<Cadence> {
    if ons.len() < MIN_ONSETS {
        return None;
    }
    let brackets: Vec<(f64, f64)> = ons
        .iter()
        .filter_map(|o| {
            let r = o.repair?;
            let earliest = o.repair_earliest.unwrap_or(r);
            let lo = (o.last_ok - r).max(0) as f64 / DAY as f64;
            let hi = (o.time - earliest) as f64 / DAY as f64;
            Some((lo, hi))
        })
        .collect();
    let intervals: Vec<f64> = ons
        .iter()
        .filter_map(|o| o.repair.map(|r| days_between(r, o.time)))
        .collect();
    let onset_intervals: Vec<f64> = ons
        .windows(2)
        .map(|w| days_between(w[0].time, w[1].time))
        .collect();

    if brackets.len() >= MIN_ONSETS - 1 {
        // The first success comes at the first run after the repair and the failure at
        // the first run after expiry, so onset − first success is N give or take one run
        // interval either way: the median of those intervals, rounded, estimates N.
        let n = median(&intervals).map(f64::round)?;
        let agree = brackets
            .iter()
            .all(|&(lo, hi)| lo - TOLERANCE_DAYS <= n && hi <= n + 1.0 + TOLERANCE_DAYS);
        if n >= 1.0 && agree {
            return Some(Cadence {
                days: n as i64,
                intervals,
                onset_intervals,
                tight: true,
                basis: "repair-to-failure",
            });
        }
    }
    if let Some(m) = median(&onset_intervals)
        && m >= 1.0
        && onset_intervals.len() >= MIN_ONSETS - 1
        && onset_intervals.iter().all(|x| (x - m).abs() <= 1.0)
    {
        return Some(Cadence {
            days: m.round() as i64,
            intervals,
            onset_intervals,
            tight: false,
            basis: "failure-to-failure",
        });
    }
    if let Some(m) = median(&intervals)
        && m >= 1.0
        && intervals.len() >= MIN_ONSETS - 1
    {
        let slack = (m * ROUGH_SHARE).max(2.0);
        if intervals.iter().all(|x| (x - m).abs() <= slack) {
            return Some(Cadence {
                days: m.round() as i64,
                intervals,
                onset_intervals,
                tight: false,
                basis: "repair-to-failure",
            });
        }
    }
    None
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// Find the cadences, one finding per connection.
pub fn find(t: &Timelines, _index: &JoinIndex) -> Vec<Finding> {
    let mut out = Vec::new();
    for (key, ct) in &t.connections {
        let ons = episodes(ct);
        let Some(c) = detect(&ons) else { continue };
        out.push(describe(key, ct, &ons, &c));
    }
    out
}

fn describe(key: &str, ct: &ConnTimeline, ons: &[EpisodeOnset], c: &Cadence) -> Finding {
    let name = ct.name.clone().unwrap_or_else(|| key.to_string());
    // Which cadence category dominated the onsets.
    let mut session = 0;
    let mut mfa = 0;
    let mut codes: Vec<u32> = Vec::new();
    for o in ons {
        if let Some(d) = ct.days.get(&crate::time::day_of(o.time)) {
            for cs in d.cats.iter().filter(|x| is_cadence_category(x.category)) {
                match cs.category {
                    Category::SessionPolicy => session += 1,
                    _ => mfa += 1,
                }
                codes.extend(cs.codes.iter().copied());
            }
        }
    }
    codes.sort_unstable();
    codes.dedup();
    let sign_in_frequency = session > mfa;
    let confidence = if c.tight && c.days == 14 && !sign_in_frequency {
        Confidence::Likely
    } else {
        Confidence::Hypothesis
    };
    let (root, fix, why) = if sign_in_frequency {
        (
            RootCause::SignInFrequency,
            Fix::ReviewCaPolicy,
            format!(
                "a conditional access sign-in frequency of {} days (session control)",
                c.days
            ),
        )
    } else if c.days == 14 {
        (
            RootCause::MfaMaxAge,
            Fix::SetTokenLifetimePolicy,
            "\"remember multi-factor authentication\" (14 days) as the source document describes"
                .to_string(),
        )
    } else {
        (
            RootCause::MfaMaxAge,
            Fix::SetTokenLifetimePolicy,
            format!(
                "a remember-MFA period of {} days, a conditional access sign-in frequency, or a fixed MaxAgeMultiFactor (retired since 2021-01-30)",
                c.days
            ),
        )
    };
    let title = format!(
        "Connection {name} re-fails {}{} days after each repair: {why}",
        if c.tight { "" } else { "roughly " },
        c.days
    );
    let mut f = finding(
        FindingKind::Cadence,
        title,
        confidence,
        Some(root),
        Some(fix),
        Actor::Admin,
    );
    f.onset = ons.first().map(|o| o.time);
    for o in ons {
        match o.repair {
            Some(r) => f.evidence.push(format!(
                "repaired {} (first success), last success {}, failed {}: {} days",
                when(r),
                when(o.last_ok),
                when(o.time),
                days_between(r, o.time)
            )),
            None => f.evidence.push(format!(
                "failed {} after a success at {}",
                when(o.time),
                when(o.last_ok)
            )),
        }
    }
    f.evidence.push(format!(
        "{} onsets; the {} intervals {}",
        ons.len(),
        c.basis,
        if c.tight {
            format!("all fit {} days within ±{TOLERANCE_DAYS} day", c.days)
        } else {
            format!("agree only roughly around {} days", c.days)
        }
    ));
    if !c.tight || c.days != 14 {
        f.evidence.push(
            "hypothesis: Entra has not enforced MaxAgeMultiFactor since 2021-01-30; a remember-MFA period or a sign-in frequency of the same length is the likelier setting to check"
                .into(),
        );
    } else {
        f.evidence.push(
            "14 days matches the source document's \"remember MFA\" cause; one user report says changing that setting had no effect, so check for a 14-day sign-in frequency too"
                .into(),
        );
    }
    f.evidence.push(
        "a flow suspended after 14 days of continuous failure can look like a 14-day rhythm: check that the runs kept coming"
            .into(),
    );
    put(&mut f.details, "interval_days", c.days);
    put(&mut f.details, "intervals", c.intervals.clone());
    put(&mut f.details, "onset_intervals", c.onset_intervals.clone());
    put(&mut f.details, "onsets", ons.len());
    put(&mut f.details, "basis", c.basis);
    put(&mut f.details, "agree", c.tight);
    put(&mut f.details, "codes", codes);
    f.owners = ct.owners.clone();
    f.connections = vec![name];
    f.flows = ct.flow_names();
    f
}

/// Add to each cadence finding the token policies whose fixed max age equals its N days.
pub fn tie_to_policies(cadences: &mut [Finding], policies: &[PolicyRecord]) {
    for c in cadences.iter_mut() {
        let Some(n) = c.details.get("interval_days").and_then(|v| v.as_i64()) else {
            continue;
        };
        for p in policies {
            for (setting, days) in super::policy::fixed_max_ages(p) {
                if days == n {
                    let before = c.onset.is_some_and(|o| o < super::policy::retired_at());
                    c.evidence.push(format!(
                        "token lifetime policy \"{}\" sets {setting} to {n} days: the source document's cause of AADSTS50076 every {n} days; {}",
                        super::policy::policy_name(p),
                        if before {
                            "these failures predate 2021-01-30, when it was still enforced"
                        } else {
                            "not enforced since 2021-01-30, so it is unlikely to be the cause today"
                        }
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::testutil::*;

    const BASE: &str = "2024-01-01T10:00:00Z";

    /// Daily runs at 08:00; repairs at the given day offsets; each repair lasts `n` days.
    fn connection(b: &mut Builder, n: i64, episodes: usize, repair_lag: i64) {
        let mut day = 0;
        for _ in 0..episodes {
            // Works for n days after the repair (runs daily at 08:00, repair at 10:00 the
            // day before the first success).
            for d in 1..=n {
                b.ok("c1", "f1", "adele", &at(BASE, day + d, -2));
            }
            // Token expired at day + n + 10:00; fails from the next run until repaired.
            for d in n + 1..=n + repair_lag {
                b.fail_cat(
                    "c1",
                    "f1",
                    "adele",
                    &at(BASE, day + d, -2),
                    Category::MfaRequired,
                    &[50076],
                );
            }
            day += n + repair_lag;
        }
    }

    #[test]
    fn fourteen_days_after_each_repair_is_likely() {
        let mut b = Builder::new();
        connection(&mut b, 14, 4, 2);
        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].details["interval_days"], 14);
        assert_eq!(f[0].confidence, Confidence::Likely);
        assert_eq!(f[0].root_cause, Some(RootCause::MfaMaxAge));
        assert_eq!(f[0].fix, Some(Fix::SetTokenLifetimePolicy));
        assert_eq!(f[0].actor, Actor::Admin);
    }

    #[test]
    fn other_n_is_a_hypothesis() {
        let mut b = Builder::new();
        connection(&mut b, 30, 3, 3);
        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].details["interval_days"], 30);
        assert_eq!(f[0].confidence, Confidence::Hypothesis);
    }

    #[test]
    fn two_onsets_are_no_cadence() {
        let mut b = Builder::new();
        connection(&mut b, 14, 2, 2);
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }

    #[test]
    fn daily_failures_without_success_are_no_cadence() {
        let mut b = Builder::new();
        b.ok("c1", "f1", "adele", &at(BASE, 0, 0));
        for d in 1..80 {
            b.fail_cat(
                "c1",
                "f1",
                "adele",
                &at(BASE, d, 0),
                Category::MfaRequired,
                &[50076],
            );
        }
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }

    #[test]
    fn irregular_repairs_are_no_cadence() {
        let mut b = Builder::new();
        let mut day = 0;
        for n in [3, 20, 9, 41] {
            for d in 1..=n {
                b.ok("c1", "f1", "adele", &at(BASE, day + d, 0));
            }
            b.fail_cat(
                "c1",
                "f1",
                "adele",
                &at(BASE, day + n + 1, 0),
                Category::MfaRequired,
                &[50076],
            );
            day += n + 1;
        }
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }

    #[test]
    fn noise_between_does_not_make_onsets() {
        let mut b = Builder::new();
        // Works daily, with throttling failures every 5 days: no auth onsets at all.
        for d in 0..90 {
            if d % 5 == 0 {
                b.fail_cat("c1", "f1", "adele", &at(BASE, d, 0), Category::NotAuth, &[]);
            } else {
                b.ok("c1", "f1", "adele", &at(BASE, d, 0));
            }
        }
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }
}

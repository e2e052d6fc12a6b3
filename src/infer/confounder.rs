//! Confounders: platform behaviour that can look like (or hide) the patterns above.
//!
//! - Suspension: Power Automate turns off a flow whose runs fail continuously for 14 days
//!   (`FlowSuspensionReason=AlwaysFailingDetected`). Fires for a flow whose failures run
//!   without a single success for at least [`SUSPEND_DAYS`] days, or whose inventory record
//!   names a suspension reason. After that, runs stop appearing in exports, so a "14-day"
//!   pattern may be the suspension, not remember-MFA.
//! - Dormancy: on Free, Trial, Community and Microsoft 365 plans a flow with no successful
//!   trigger for 90 days is flagged and then turned off 30 days later. Fires for a flow whose
//!   last success is at least [`DORMANT_DAYS`] days before `as_of`. This is not the 90-day
//!   refresh-token inactivity, though both can hit the same rarely-run flow.
//!
//! Both are `hypothesis`: the export does not say which plan or what the platform did.

use super::timeline::{FlowTimeline, Timelines};
use super::{DAY, days_between, finding, flow_id_of, put, when};
use crate::join::JoinIndex;
use crate::model::Ts;
use crate::report::{Finding, FindingKind};
use crate::time::format_iso;
use crate::vocab::{Actor, Confidence, Fix};
use std::collections::BTreeMap;

/// Continuous failure for this many days suspends a flow.
pub const SUSPEND_DAYS: i64 = 14;
/// No successful trigger for this many days may turn a flow off.
pub const DORMANT_DAYS: i64 = 90;

/// The longest streak of failures without a success: (first, last, failed runs, auth failures).
fn longest_failing_streak(ft: &FlowTimeline) -> Option<(Ts, Ts, u64, u64)> {
    let mut best: Option<(Ts, Ts, u64, u64)> = None;
    let mut cur: Option<(Ts, Ts, u64, u64)> = None;
    for (day, d) in &ft.days {
        if let Some(ok) = d.ok_span(day) {
            // Failures earlier in the day than its first success still extend the streak.
            if let (Some(c), Some(fs)) = (cur.as_mut(), d.fail_span(day))
                && fs.min < ok.min
            {
                c.1 = c.1.max(fs.min);
            }
            keep_longer(&mut best, cur.take());
            // Failures after the day's last success start a new streak.
            if let Some(fs) = d.fail_span(day)
                && fs.max > ok.max
            {
                cur = Some((fs.max, fs.max, 1, 0));
            }
            continue;
        }
        if let Some(fs) = d.fail_span(day) {
            let c = cur.get_or_insert((fs.min, fs.max, 0, 0));
            c.1 = fs.max;
            c.2 += d.fail();
            c.3 += d.auth_fail();
        }
    }
    keep_longer(&mut best, cur);
    best
}

fn keep_longer(best: &mut Option<(Ts, Ts, u64, u64)>, cand: Option<(Ts, Ts, u64, u64)>) {
    if let Some(c) = cand
        && best.is_none_or(|b| c.1 - c.0 > b.1 - b.0)
    {
        *best = Some(c);
    }
}

fn flow_label(key: &str, ft: Option<&FlowTimeline>) -> String {
    ft.and_then(|f| f.name.clone())
        .unwrap_or_else(|| flow_id_of(key).unwrap_or(key).to_string())
}

/// Find the confounders.
pub fn find(t: &Timelines, index: &JoinIndex, as_of: Option<Ts>) -> Vec<Finding> {
    let mut out = Vec::new();
    // Inventory suspension reasons, by flow key.
    let mut reasons: BTreeMap<String, (String, Option<String>, Option<String>)> = BTreeMap::new();
    for fl in index.flows() {
        if let Some(r) = fl
            .suspension_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty() && !r.eq_ignore_ascii_case("none"))
        {
            reasons.insert(
                format!("flow:{}", fl.flow_id.to_ascii_lowercase()),
                (
                    r.to_string(),
                    fl.name.clone(),
                    fl.owner_upn.clone().or(fl.owner_name.clone()),
                ),
            );
        }
    }

    for (key, ft) in &t.flows {
        let streak = longest_failing_streak(ft).filter(|s| s.1 - s.0 >= SUSPEND_DAYS * DAY);
        let reason = reasons.remove(key);
        if streak.is_none() && reason.is_none() {
            continue;
        }
        out.push(suspension(
            key,
            Some(ft),
            streak,
            reason.map(|r| r.0),
            as_of,
        ));
    }
    for (key, (reason, name, owner)) in reasons {
        let mut f = suspension(&key, None, None, Some(reason), as_of);
        if let Some(n) = name {
            f.flows = vec![n];
        }
        f.owners = owner.into_iter().collect();
        out.push(f);
    }

    if let Some(now) = as_of {
        for (key, ft) in &t.flows {
            let Some(last) = ft.last_ok() else { continue };
            if now - last < DORMANT_DAYS * DAY {
                continue;
            }
            let name = flow_label(key, Some(ft));
            let mut f = finding(
                FindingKind::Confounder,
                format!(
                    "Flow {name} has had no successful run since {} ({} days): on some plans it is turned off after 90 days without a successful trigger",
                    super::day(last),
                    (now - last) / DAY
                ),
                Confidence::Hypothesis,
                None,
                None,
                Actor::Owner,
            );
            f.onset = Some(last + DORMANT_DAYS * DAY);
            f.evidence.push(format!(
                "last successful run {}; as of {}",
                when(last),
                when(now)
            ));
            f.evidence.push(
                "Free, Trial, Community and Microsoft 365 plans email the owner and turn such a flow off 30 days later; this is not the 90-day refresh-token inactivity, though both can hit the same rarely-run flow"
                    .into(),
            );
            put(&mut f.details, "confounder", "dormant-flow");
            put(&mut f.details, "last_success", format_iso(last));
            put(&mut f.details, "days_idle", (now - last) / DAY);
            f.owners = ft.owners.clone();
            f.flows = vec![name];
            out.push(f);
        }
    }
    out
}

fn suspension(
    key: &str,
    ft: Option<&FlowTimeline>,
    streak: Option<(Ts, Ts, u64, u64)>,
    reason: Option<String>,
    as_of: Option<Ts>,
) -> Finding {
    let name = flow_label(key, ft);
    let always_failing = reason
        .as_deref()
        .is_some_and(|r| r.to_ascii_lowercase().contains("alwaysfailing"));
    let title = match (&streak, &reason) {
        (Some((a, b, _, _)), _) => format!(
            "Flow {name} failed continuously for {} days from {}: Power Automate suspends flows after 14 days of continuous failure",
            (b - a) / DAY,
            super::day(*a)
        ),
        (None, Some(r)) => format!("Flow {name} is suspended by the platform ({r})"),
        (None, None) => format!("Flow {name} may be suspended"),
    };
    let auth = streak.is_some_and(|s| s.3 * 2 >= s.2 && s.3 > 0);
    let mut f = finding(
        FindingKind::Confounder,
        title,
        if always_failing {
            Confidence::Likely
        } else {
            Confidence::Hypothesis
        },
        None,
        Some(if auth {
            Fix::RepairConnection
        } else {
            Fix::FixFlow
        }),
        Actor::Owner,
    );
    put(&mut f.details, "confounder", "suspension");
    if let Some((a, b, runs, auth_runs)) = streak {
        f.onset = Some(a + SUSPEND_DAYS * DAY);
        f.evidence.push(format!(
            "{runs} failed runs ({auth_runs} authentication failures) and no success from {} to {} ({} days)",
            when(a),
            when(b),
            days_between(a, b)
        ));
        let runs_after = ft.is_some_and(|ft| {
            ft.days.iter().any(|(day, d)| {
                [d.ok_span(day), d.fail_span(day)]
                    .into_iter()
                    .flatten()
                    .any(|s| s.max > b)
            })
        });
        if !runs_after && as_of.is_some_and(|now| now - b > DAY) {
            f.evidence.push(format!(
                "no runs after {}: consistent with the flow having been suspended",
                when(b)
            ));
        }
        put(&mut f.details, "failing_from", format_iso(a));
        put(&mut f.details, "failing_to", format_iso(b));
        put(&mut f.details, "failing_days", days_between(a, b));
        put(&mut f.details, "failed_runs", runs);
    }
    if let Some(r) = &reason {
        f.evidence
            .push(format!("flow inventory: suspension reason {r}"));
        put(&mut f.details, "suspension_reason", r.clone());
    }
    f.evidence.push(
        "a flow that stops running after 14 days of failure can look like a 14-day remember-MFA cadence; fix the cause, then turn the flow back on"
            .into(),
    );
    if let Some(ft) = ft {
        f.owners = ft.owners.clone();
    }
    f.flows = vec![name];
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::testutil::*;
    use crate::model::FlowRecord;
    use crate::vocab::Category;

    const BASE: &str = "2024-04-01T08:00:00Z";

    #[test]
    fn fourteen_days_of_failure_is_a_suspension() {
        let mut b = Builder::new();
        b.ok("c1", "f1", "adele", BASE);
        for d in 1..=16 {
            b.fail_cat(
                "c1",
                "f1",
                "adele",
                &at(BASE, d, 0),
                Category::MfaRequired,
                &[50076],
            );
        }
        let f = find(&b.t, &JoinIndex::new(), Some(ts(&at(BASE, 30, 0))));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].details["confounder"], "suspension");
        assert_eq!(f[0].fix, Some(Fix::RepairConnection));
        assert!(f[0].evidence.iter().any(|e| e.contains("suspended")));
    }

    #[test]
    fn failures_broken_by_successes_are_not() {
        let mut b = Builder::new();
        for d in 0..30 {
            if d % 7 == 0 {
                b.ok("c1", "f1", "adele", &at(BASE, d, 0));
            } else {
                b.fail_cat("c1", "f1", "adele", &at(BASE, d, 0), Category::NotAuth, &[]);
            }
        }
        assert!(find(&b.t, &JoinIndex::new(), Some(ts(&at(BASE, 30, 0)))).is_empty());
    }

    #[test]
    fn inventory_reason_is_named() {
        let mut j = JoinIndex::new();
        j.add_flow(FlowRecord {
            flow_id: "F1".into(),
            name: Some("Invoices".into()),
            suspension_reason: Some("AlwaysFailingDetected".into()),
            ..FlowRecord::default()
        });
        j.add_flow(FlowRecord {
            flow_id: "F2".into(),
            suspension_reason: Some("None".into()),
            ..FlowRecord::default()
        });
        let f = find(&Timelines::new(), &j, None);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Likely);
        assert_eq!(f[0].flows, vec!["Invoices"]);
    }

    #[test]
    fn dormant_flow_after_ninety_days() {
        let mut b = Builder::new();
        b.ok("c1", "rare", "adele", BASE);
        b.ok("c2", "busy", "adele", &at(BASE, 95, 0));
        let f = find(&b.t, &JoinIndex::new(), Some(ts(&at(BASE, 100, 0))));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].details["confounder"], "dormant-flow");
        assert_eq!(f[0].flows, vec!["rare"]);
        // 60 days is not dormant.
        assert!(find(&b.t, &JoinIndex::new(), Some(ts(&at(BASE, 60, 0)))).is_empty());
    }
}

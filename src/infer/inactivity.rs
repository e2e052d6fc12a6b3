//! Inactivity: a connection's refresh token expired because nothing used it for 90 days
//! (MaxInactiveTime's default; AADSTS70008 / 700082), and a forecast of the connections that
//! are about to.
//!
//! `inactivity` fires for each `token-inactive` failure episode of a connection when
//! - the message says "inactive for" at least [`LIMIT_DAYS`] days (`certain`), or
//! - the gap from the connection's last successful run before it to the failure is at least
//!   [`LIMIT_DAYS`] days (`likely`), or, with no success in the input,
//! - the gap from the token's "issued on" date to the failure is (`likely`).
//!
//! A shorter idle time never fires (the category alone is reported per record). A failing
//! connection status from the inventory counts the same way.
//!
//! `inactivity-forecast`: each connection whose last successful run has no failure after it
//! expires at last success + 90 days; those expiring before `as_of` + [`HORIZON_DAYS`] are
//! listed (already past: "fails on its next run"). Use outside these exports (other flows,
//! apps) keeps a token alive, which the evidence says.

use super::timeline::{ConnTimeline, Timelines};
use super::{DAY, day, days_between, finding, put, when};
use crate::join::JoinIndex;
use crate::model::Ts;
use crate::report::{Finding, FindingKind};
use crate::time::format_iso;
use crate::vocab::{Actor, Category, Confidence, Fix, RootCause};

/// MaxInactiveTime: 90 days.
pub const LIMIT_DAYS: i64 = 90;
/// The forecast looks this many days past `as_of`.
pub const HORIZON_DAYS: i64 = 30;

const LIMIT: i64 = LIMIT_DAYS * DAY;

struct Idle {
    failed_at: Ts,
    last_ok: Option<Ts>,
    issued_on: Option<Ts>,
    inactive_for: Option<i64>,
    codes: Vec<u32>,
    from_status: bool,
}

impl Idle {
    /// The idle time and how it was measured, if it reaches the limit.
    fn verdict(&self) -> Option<(i64, Confidence, &'static str)> {
        if let Some(s) = self.inactive_for.filter(|s| *s >= LIMIT) {
            return Some((s, Confidence::Certain, "the message's \"inactive for\""));
        }
        if let Some(lo) = self.last_ok {
            let gap = self.failed_at - lo;
            return (gap >= LIMIT).then_some((
                gap,
                Confidence::Likely,
                "the gap since the last successful run",
            ));
        }
        let gap = self.failed_at - self.issued_on?;
        (gap >= LIMIT).then_some((
            gap,
            Confidence::Likely,
            "the token's \"issued on\" date (no successful run in the input)",
        ))
    }
}

/// The token-inactive failures that start an episode.
fn idle_failures(ct: &ConnTimeline) -> Vec<Idle> {
    let mut out = Vec::new();
    let mut prev: Option<bool> = None;
    for (t, ok) in ct.events(|c| c == Category::TokenInactive) {
        if !ok && prev != Some(false) {
            let d = ct.days.get(&crate::time::day_of(t));
            let cat = d.and_then(|d| d.cat(Category::TokenInactive));
            out.push(Idle {
                failed_at: t,
                last_ok: ct.last_ok_before(t),
                issued_on: d.and_then(|d| d.tokens.issued_on).map(|s| s.min),
                inactive_for: d.and_then(|d| d.tokens.inactive_for),
                codes: cat.map(|c| c.codes.clone()).unwrap_or_default(),
                from_status: false,
            });
        }
        prev = Some(ok);
    }
    if out.is_empty()
        && let Some(st) = &ct.status
        && st.category == Category::TokenInactive
        && let Some(t) = st.timestamp.or(st.time)
    {
        out.push(Idle {
            failed_at: t,
            last_ok: ct.last_ok_before(t),
            issued_on: st.issued_on,
            inactive_for: st.inactive_for,
            codes: st.codes.clone(),
            from_status: true,
        });
    }
    out
}

/// Connections that failed through inactivity.
pub fn find(t: &Timelines, index: &JoinIndex) -> Vec<Finding> {
    let mut out = Vec::new();
    for (key, ct) in &t.connections {
        for idle in idle_failures(ct) {
            let Some((gap, confidence, how)) = idle.verdict() else {
                continue;
            };
            let name = ct.name.clone().unwrap_or_else(|| key.to_string());
            let days = gap / DAY;
            let mut f = finding(
                FindingKind::Inactivity,
                format!(
                    "Connection {name} failed on {} after {days} days without use: its refresh token expired through inactivity (90-day limit)",
                    day(idle.failed_at)
                ),
                confidence,
                Some(RootCause::TokenInactivity),
                Some(Fix::ReauthenticateIdleConnection),
                Actor::Owner,
            );
            f.onset = Some(idle.failed_at);
            f.evidence.push(format!(
                "{} failure at {}{}",
                if idle.from_status {
                    "connection status"
                } else {
                    "token-inactive run"
                },
                when(idle.failed_at),
                if idle.codes.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({})",
                        idle.codes
                            .iter()
                            .map(|c| format!("AADSTS{c}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ));
            match idle.last_ok {
                Some(lo) => f.evidence.push(format!(
                    "last successful run {} ({} days before)",
                    when(lo),
                    days_between(lo, idle.failed_at)
                )),
                None => f
                    .evidence
                    .push("no successful run of this connection in the input".into()),
            }
            if let Some(i) = idle.issued_on {
                f.evidence.push(format!("token issued on {}", when(i)));
            }
            if let Some(s) = idle.inactive_for {
                f.evidence
                    .push(format!("message: inactive for {} days", days_between(0, s)));
            }
            f.evidence.push(format!("idle time from {how}"));
            if let Some(s) =
                super::sign_in_line(index, ct, idle.failed_at, |c| c == Category::TokenInactive)
            {
                f.evidence.push(s);
            }
            f.evidence.push(
                "fix: the owner re-authenticates (edits) the connection; a flow that runs less often than every 90 days needs a scheduled keep-alive run or a service principal connection"
                    .into(),
            );
            put(&mut f.details, "days_idle", days);
            put(&mut f.details, "failed_at", format_iso(idle.failed_at));
            if let Some(lo) = idle.last_ok {
                put(&mut f.details, "last_success", format_iso(lo));
            }
            if let Some(i) = idle.issued_on {
                put(&mut f.details, "issued_on", format_iso(i));
            }
            if let Some(s) = idle.inactive_for {
                put(&mut f.details, "inactive_for_days", days_between(0, s));
            }
            put(&mut f.details, "codes", idle.codes.clone());
            f.owners = ct.owners.clone();
            f.connections = vec![name];
            f.flows = ct.flow_names();
            out.push(f);
        }
    }
    out
}

/// Connections whose last successful use is approaching (or past) 90 days at `as_of`.
pub fn forecast(t: &Timelines, as_of: Ts) -> Vec<Finding> {
    let mut out = Vec::new();
    for (key, ct) in &t.connections {
        // Only real connections (a flow-keyed timeline may stand for several).
        let Some(name) = ct.name.clone() else {
            continue;
        };
        let Some(last_ok) = ct.last_ok() else {
            continue;
        };
        if ct.last_fail().is_some_and(|f| f > last_ok) {
            continue;
        }
        if ct
            .status
            .as_ref()
            .is_some_and(|s| s.time.is_none_or(|st| st > last_ok))
        {
            continue; // The inventory already shows it failing.
        }
        let expires = last_ok + LIMIT;
        if expires > as_of + HORIZON_DAYS * DAY {
            continue;
        }
        let past = expires <= as_of;
        let left = (expires - as_of).div_euclid(DAY);
        let title = if past {
            format!(
                "Connection {name} has not been used since {}: its token expired on {} and it will fail on its next run",
                day(last_ok),
                day(expires)
            )
        } else {
            format!(
                "Connection {name} has not been used since {}: its token expires on {} ({left} days after {})",
                day(last_ok),
                day(expires),
                day(as_of)
            )
        };
        let mut f = finding(
            FindingKind::InactivityForecast,
            title,
            Confidence::Likely,
            Some(RootCause::TokenInactivity),
            Some(Fix::ReauthenticateIdleConnection),
            Actor::Owner,
        );
        f.onset = Some(expires);
        f.evidence.push(format!(
            "last successful run {}; no run after it in the input",
            when(last_ok)
        ));
        f.evidence.push(format!(
            "90 days of inactivity end {}; as of {}",
            when(expires),
            when(as_of)
        ));
        f.evidence.push(
            "use of the connection outside these exports (other flows, apps) resets the clock"
                .into(),
        );
        f.evidence
            .push("fix: run a flow that uses it, or re-authenticate it, before it expires".into());
        put(&mut f.details, "expires_on", format_iso(expires));
        put(&mut f.details, "last_success", format_iso(last_ok));
        put(
            &mut f.details,
            "days_idle",
            (as_of - last_ok).div_euclid(DAY),
        );
        put(&mut f.details, "days_left", left);
        put(&mut f.details, "as_of", format_iso(as_of));
        put(&mut f.details, "expired", past);
        let _ = key;
        f.owners = ct.owners.clone();
        f.connections = vec![name];
        f.flows = ct.flow_names();
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::TokenDetails;
    use crate::infer::testutil::*;
    use crate::model::InputKind;

    const BASE: &str = "2024-01-01T08:00:00Z";

    #[test]
    fn ninety_days_idle_fires() {
        let mut b = Builder::new();
        b.ok("c1", "quarterly", "adele", BASE);
        b.fail_cat(
            "c1",
            "quarterly",
            "adele",
            &at(BASE, 95, 0),
            Category::TokenInactive,
            &[70008],
        );
        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].details["days_idle"], 95);
        assert_eq!(f[0].confidence, Confidence::Likely);
        assert_eq!(f[0].fix, Some(Fix::ReauthenticateIdleConnection));
    }

    #[test]
    fn sixty_days_idle_does_not() {
        let mut b = Builder::new();
        b.ok("c1", "f", "adele", BASE);
        b.fail_cat(
            "c1",
            "f",
            "adele",
            &at(BASE, 60, 0),
            Category::TokenInactive,
            &[70008],
        );
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }

    #[test]
    fn message_dates_without_a_success() {
        let mut b = Builder::new();
        let d = diag(
            Category::TokenInactive,
            &[700082],
            Some(TokenDetails {
                issued_on: Some(ts("2023-10-01T00:00:00Z")),
                inactive_for: Some(90 * DAY),
                ..TokenDetails::default()
            }),
        );
        b.fail_diag("c1", "f", "adele", "2024-01-05T08:00:00Z", &d);
        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Certain);
        assert_eq!(f[0].details["inactive_for_days"], 90.0);

        // A connection status says so too.
        let mut b = Builder::new();
        b.observe_diag(
            InputKind::ConnectionInventory,
            "c2",
            "",
            "bob",
            ts("2024-01-05T08:00:00Z"),
            &d,
        );
        assert_eq!(find(&b.t, &JoinIndex::new()).len(), 1);
    }

    #[test]
    fn forecast_lists_expiring_connections() {
        let mut b = Builder::new();
        b.ok("idle", "f1", "adele", "2024-01-01T08:00:00Z"); // expires 2024-03-31
        b.ok("busy", "f2", "adele", "2024-03-10T08:00:00Z"); // expires 2024-06-08
        b.ok("gone", "f3", "adele", "2023-09-01T08:00:00Z"); // already expired
        b.ok("broken", "f4", "adele", "2024-01-01T08:00:00Z");
        b.fail_cat(
            "broken",
            "f4",
            "adele",
            "2024-01-02T08:00:00Z",
            Category::MfaRequired,
            &[50076],
        );
        let f = forecast(&b.t, ts("2024-03-15T00:00:00Z"));
        let names: Vec<_> = f.iter().map(|f| f.connections[0].as_str()).collect();
        assert_eq!(names, vec!["gone", "idle"]);
        assert_eq!(f[1].details["expires_on"], "2024-03-31T08:00:00Z");
        assert_eq!(f[1].details["expired"], false);
        assert_eq!(f[0].details["expired"], true);
        assert!(f[0].title.contains("next run"));
    }

    #[test]
    fn forecast_is_quiet_for_recent_use() {
        let mut b = Builder::new();
        b.ok("c", "f", "adele", "2024-03-01T08:00:00Z");
        assert!(forecast(&b.t, ts("2024-03-15T00:00:00Z")).is_empty());
    }
}

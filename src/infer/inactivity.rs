//! Inactivity: a connection's refresh token expired because nothing used it for 90 days
//! (MaxInactiveTime's default; AADSTS70008 / 700082), and a forecast of the connections that
//! are about to.
//!
//! A *failure episode* is a `token-inactive` run failure after a successful run of the
//! connection (or at the start of the input), with the token-inactive failures that follow
//! it up to the next success. An episode counts when one of three rules measures at least
//! [`LIMIT_DAYS`] days of idle time before its first failure:
//! - `inactive-for-message`: the message says "inactive for" that long (`certain`);
//! - `idle-since-last-success`: the gap from the connection's last successful run before it
//!   (`likely`);
//! - `idle-since-issued-on`: with no success before it in the input, the gap from the
//!   token's "issued on" date (`likely`).
//!
//! A shorter idle time never counts (the category alone is reported per record). A failing
//! connection status from the inventory is an episode too when no run shows one.
//!
//! `inactivity` fires once per connection with counted episodes: how many, the first and
//! the last, the failed runs on their days, the longest idle time and the rule that measured
//! it, each rule that fired with what it matched, and the earliest episode's dates, codes
//! and sign-in. One finding rather than one per episode or per confidence: the owner, the
//! connection and the fix are the same for every episode, and a connection that lapses
//! again and again is one pattern to read, not many. Its confidence is the strongest rule's
//! (one episode whose message states the inactivity makes the connection's cause certain);
//! the evidence gives each rule's episode count, so the weaker measurements stay visible.
//!
//! Its `details`: `episodes`, `failed_runs` (token-inactive failed runs on the days of the
//! counted episodes), `failure_days`, `first_failed_at`, `last_failed_at`,
//! `longest_idle_days`, `longest_idle_rule`, `longest_idle_failed_at`, `rule` (the strongest
//! rule that fired), `episodes_by_rule` (rule id to count), `codes` (all episodes') and
//! `first_episode` (`failed_at`, `source` run or connection-status, `rule`, `days_idle`,
//! and, where known, `last_success`, `issued_on`, `inactive_for_days`, `codes`).
//!
//! `inactivity-forecast`: each connection whose last successful run has no failure after it
//! expires at last success + 90 days; those expiring before `as_of` + [`HORIZON_DAYS`] are
//! listed (already past: "fails on its next run"). Use outside these exports (other flows,
//! apps) keeps a token alive, which the evidence says. It is one finding per connection by
//! construction.

use super::timeline::{ConnTimeline, Timelines};
use super::{DAY, aadsts_list, day, days_between, finding, plural, put, when};
use crate::join::JoinIndex;
use crate::model::Ts;
use crate::report::{Finding, FindingKind};
use crate::time::{day_of, format_iso};
use crate::vocab::{Actor, Category, Confidence, Fix, RootCause};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// MaxInactiveTime: 90 days.
pub const LIMIT_DAYS: i64 = 90;
/// The forecast looks this many days past `as_of`.
pub const HORIZON_DAYS: i64 = 30;

const LIMIT: i64 = LIMIT_DAYS * DAY;

/// The rule that measured an episode's idle time, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Measure {
    /// The message's "inactive for".
    Message,
    /// The gap since the last successful run.
    SinceLastSuccess,
    /// The gap since the token's "issued on" date, with no success before the failure.
    SinceIssuedOn,
}

impl Measure {
    const ALL: [Measure; 3] = [
        Measure::Message,
        Measure::SinceLastSuccess,
        Measure::SinceIssuedOn,
    ];

    /// The rule's stable id (evidence and `details`).
    fn id(self) -> &'static str {
        match self {
            Measure::Message => "inactive-for-message",
            Measure::SinceLastSuccess => "idle-since-last-success",
            Measure::SinceIssuedOn => "idle-since-issued-on",
        }
    }

    fn confidence(self) -> Confidence {
        match self {
            Measure::Message => Confidence::Certain,
            Measure::SinceLastSuccess | Measure::SinceIssuedOn => Confidence::Likely,
        }
    }

    /// How the idle time was measured, in words.
    fn how(self) -> &'static str {
        match self {
            Measure::Message => "the message's \"inactive for\"",
            Measure::SinceLastSuccess => "the gap since the last successful run",
            Measure::SinceIssuedOn => {
                "the token's \"issued on\" date (no successful run before it in the input)"
            }
        }
    }
}

/// One failure episode: its first failure and what the input says about the time before it.
struct Idle {
    failed_at: Ts,
    last_ok: Option<Ts>,
    issued_on: Option<Ts>,
    inactive_for: Option<i64>,
    codes: Vec<u32>,
    from_status: bool,
    /// The days (UTC day numbers) with a failure of the episode, ascending.
    days: Vec<i64>,
}

impl Idle {
    /// The idle time and the rule that measured it, if it reaches the limit.
    fn verdict(&self) -> Option<(i64, Measure)> {
        if let Some(s) = self.inactive_for.filter(|s| *s >= LIMIT) {
            return Some((s, Measure::Message));
        }
        if let Some(lo) = self.last_ok {
            let gap = self.failed_at - lo;
            return (gap >= LIMIT).then_some((gap, Measure::SinceLastSuccess));
        }
        let gap = self.failed_at - self.issued_on?;
        (gap >= LIMIT).then_some((gap, Measure::SinceIssuedOn))
    }

    /// A successful run came after the start of the idle time the message states.
    fn success_inside_idle(&self) -> bool {
        match (self.inactive_for, self.last_ok) {
            (Some(idle), Some(lo)) => self.failed_at - lo < idle,
            _ => false,
        }
    }

    /// What `m` matched for this episode, in words.
    fn matched(&self, m: Measure) -> String {
        match m {
            Measure::Message => format!(
                "the message of the failure at {} reads \"inactive for {}\" (at least {LIMIT_DAYS} days)",
                when(self.failed_at),
                timespan(self.inactive_for.unwrap_or_default())
            ),
            Measure::SinceLastSuccess => format!(
                "{} days from the last successful run {} to the failure at {} (at least {LIMIT_DAYS})",
                days_between(self.last_ok.unwrap_or_default(), self.failed_at),
                when(self.last_ok.unwrap_or_default()),
                when(self.failed_at)
            ),
            Measure::SinceIssuedOn => format!(
                "{} days from the token's \"issued on\" {} to the failure at {} (at least {LIMIT_DAYS}), no successful run before it in the input",
                days_between(self.issued_on.unwrap_or_default(), self.failed_at),
                when(self.issued_on.unwrap_or_default()),
                when(self.failed_at)
            ),
        }
    }
}

/// Seconds as the .NET time span Entra writes: `90.00:00:00`.
fn timespan(s: i64) -> String {
    let (d, r) = (s.div_euclid(DAY), s.rem_euclid(DAY));
    format!("{d}.{:02}:{:02}:{:02}", r / 3_600, r % 3_600 / 60, r % 60)
}

/// The connection's token-inactive failure episodes, in time order.
fn idle_failures(ct: &ConnTimeline) -> Vec<Idle> {
    let mut out: Vec<Idle> = Vec::new();
    let mut prev: Option<bool> = None;
    for (t, ok) in ct.events(|c| c == Category::TokenInactive) {
        if !ok && prev != Some(false) {
            let d = ct.days.get(&day_of(t));
            let cat = d.and_then(|d| d.cat(Category::TokenInactive));
            out.push(Idle {
                failed_at: t,
                last_ok: ct.last_ok_before(t),
                issued_on: d.and_then(|d| d.tokens.issued_on).map(|s| s.min),
                inactive_for: d.and_then(|d| d.tokens.inactive_for),
                codes: cat.map(|c| c.codes.clone()).unwrap_or_default(),
                from_status: false,
                days: Vec::new(),
            });
        }
        if !ok && let Some(e) = out.last_mut() {
            let d = day_of(t);
            if e.days.last() != Some(&d) {
                e.days.push(d);
            }
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
            days: Vec::new(),
        });
    }
    out
}

/// An episode that counts, with its idle time and the rule that measured it.
struct Counted {
    idle: Idle,
    gap: i64,
    measure: Measure,
}

/// Connections that failed through inactivity: one finding per connection.
pub fn find(t: &Timelines, index: &JoinIndex) -> Vec<Finding> {
    let mut out = Vec::new();
    for (key, ct) in &t.connections {
        let counted: Vec<Counted> = idle_failures(ct)
            .into_iter()
            .filter_map(|idle| {
                let (gap, measure) = idle.verdict()?;
                Some(Counted { idle, gap, measure })
            })
            .collect();
        if counted.is_empty() {
            continue;
        }
        let name = ct.name.clone().unwrap_or_else(|| key.to_string());
        out.push(connection_finding(index, ct, name, &counted));
    }
    out
}

/// The finding for one connection's counted episodes (at least one, in time order).
fn connection_finding(
    index: &JoinIndex,
    ct: &ConnTimeline,
    name: String,
    counted: &[Counted],
) -> Finding {
    let first = &counted[0];
    let last = &counted[counted.len() - 1];
    // The longest idle time; the earliest episode among equals.
    let longest = counted.iter().rev().max_by_key(|c| c.gap).unwrap_or(first);
    let strongest = counted
        .iter()
        .map(|c| c.measure)
        .min()
        .unwrap_or(first.measure);
    let n = counted.len();
    let fail_days: BTreeSet<i64> = counted
        .iter()
        .flat_map(|c| c.idle.days.iter().copied())
        .collect();
    let runs: u64 = fail_days
        .iter()
        .filter_map(|d| ct.days.get(d)?.cat(Category::TokenInactive))
        .map(|c| c.count)
        .sum();
    let longest_days = longest.gap / DAY;

    let title = if n == 1 {
        format!(
            "Connection {name} failed on {} after {longest_days} days without use: its refresh token expired through inactivity (90-day limit)",
            day(first.idle.failed_at)
        )
    } else {
        format!(
            "Connection {name} failed through inactivity in {n} episodes from {} to {}, the longest after {longest_days} days without use: its refresh token expired (90-day limit)",
            day(first.idle.failed_at),
            day(last.idle.failed_at)
        )
    };
    let mut f = finding(
        FindingKind::Inactivity,
        title,
        strongest.confidence(),
        Some(RootCause::TokenInactivity),
        Some(Fix::ReauthenticateIdleConnection),
        Actor::Owner,
    );
    f.onset = Some(first.idle.failed_at);

    // What the finding covers.
    let runs_text = if first.idle.from_status {
        "connection status only, no failed run in the input".to_string()
    } else {
        format!(
            "{} on {}",
            plural(
                runs as usize,
                "token-inactive failed run",
                "token-inactive failed runs"
            ),
            plural(fail_days.len(), "day", "days")
        )
    };
    f.evidence.push(if n == 1 {
        format!(
            "1 failure episode, at {} ({runs_text})",
            when(first.idle.failed_at)
        )
    } else {
        format!(
            "{n} failure episodes, each from a token-inactive failure to the next successful run, the first at {} and the last at {} ({runs_text})",
            when(first.idle.failed_at),
            when(last.idle.failed_at)
        )
    });
    // Each rule that fired, with what it matched on its earliest episode.
    let mut by_rule = Map::new();
    for m in Measure::ALL {
        let mut of_rule = counted.iter().filter(|c| c.measure == m);
        let Some(c) = of_rule.next() else {
            continue;
        };
        let k = 1 + of_rule.count();
        by_rule.insert(m.id().into(), k.into());
        f.evidence.push(format!(
            "rule {} ({}) on {}{}: {}",
            m.id(),
            m.confidence(),
            plural(k, "episode", "episodes"),
            if k > 1 { ", the earliest" } else { "" },
            c.idle.matched(m)
        ));
    }
    f.evidence.push(format!(
        "{}: {} days before the failure at {}, from {} ({})",
        if n == 1 {
            "idle time"
        } else {
            "longest idle time"
        },
        days_between(0, longest.gap),
        when(longest.idle.failed_at),
        longest.measure.how(),
        longest.measure.id()
    ));
    // Episodes whose message states more idle time than the input allows: a run on this
    // connection worked inside it. Entra speaks of the token it was asked to refresh, so the
    // message stands, but the input's connection was then not that token all along.
    let contradicted: Vec<&Counted> = counted
        .iter()
        .filter(|c| c.measure == Measure::Message && c.idle.success_inside_idle())
        .collect();
    if let Some(c) = contradicted.first() {
        f.evidence.push(format!(
            "{} the message's idle time contains a successful run of this connection (the earliest: success at {}, {} days before the failure at {}, whose message says inactive for {}): the expired token is not the one those runs used (two connections under one name, or a sign-in in between), so check the connection's history before trusting the idle time",
            if contradicted.len() == 1 {
                "In 1 episode".to_string()
            } else {
                format!("In {} episodes", contradicted.len())
            },
            when(c.idle.last_ok.unwrap_or_default()),
            days_between(c.idle.last_ok.unwrap_or_default(), c.idle.failed_at),
            when(c.idle.failed_at),
            timespan(c.idle.inactive_for.unwrap_or_default())
        ));
        put(
            &mut f.details,
            "episodes_with_success_inside_idle",
            contradicted.len(),
        );
    }
    // The earliest episode's details: one line each for a single episode, one line in all
    // beside the summary of many.
    let e = &first.idle;
    let mut facts = vec![format!(
        "{} failure at {}{}",
        if e.from_status {
            "connection status"
        } else {
            "token-inactive run"
        },
        when(e.failed_at),
        if e.codes.is_empty() {
            String::new()
        } else {
            format!(" ({})", aadsts_list(&e.codes))
        }
    )];
    facts.push(match e.last_ok {
        Some(lo) => format!(
            "last successful run {} ({} days before)",
            when(lo),
            days_between(lo, e.failed_at)
        ),
        None => "no successful run of this connection before it in the input".into(),
    });
    if let Some(i) = e.issued_on {
        facts.push(format!("token issued on {}", when(i)));
    }
    if let Some(s) = e.inactive_for {
        facts.push(format!("message: inactive for {} days", days_between(0, s)));
    }
    if n == 1 {
        f.evidence.extend(facts);
    } else {
        f.evidence
            .push(format!("earliest episode: {}", facts.join("; ")));
    }
    // A sign-in of the earliest episode, else of the longest or the last.
    let mut tried = Vec::new();
    for c in [first, longest, last] {
        let at = c.idle.failed_at;
        if tried.contains(&at) {
            continue;
        }
        tried.push(at);
        if let Some(s) = super::sign_in_line(index, ct, at, |c| c == Category::TokenInactive) {
            f.evidence.push(if at == first.idle.failed_at {
                s
            } else {
                format!("failure at {}: {s}", when(at))
            });
            break;
        }
    }
    f.evidence.push(
        "fix: the owner re-authenticates (edits) the connection; a flow that runs less often than every 90 days needs a scheduled keep-alive run or a service principal connection"
            .into(),
    );

    let mut codes: Vec<u32> = counted
        .iter()
        .flat_map(|c| c.idle.codes.iter().copied())
        .collect();
    codes.sort_unstable();
    codes.dedup();
    put(&mut f.details, "episodes", n);
    put(&mut f.details, "failed_runs", runs);
    put(&mut f.details, "failure_days", fail_days.len());
    put(
        &mut f.details,
        "first_failed_at",
        format_iso(first.idle.failed_at),
    );
    put(
        &mut f.details,
        "last_failed_at",
        format_iso(last.idle.failed_at),
    );
    put(&mut f.details, "longest_idle_days", longest_days);
    put(&mut f.details, "longest_idle_rule", longest.measure.id());
    put(
        &mut f.details,
        "longest_idle_failed_at",
        format_iso(longest.idle.failed_at),
    );
    put(&mut f.details, "rule", strongest.id());
    put(&mut f.details, "episodes_by_rule", Value::Object(by_rule));
    put(&mut f.details, "codes", codes);
    put(&mut f.details, "first_episode", episode_details(first));
    f.owners = ct.owners.clone();
    f.connections = vec![name];
    f.flows = ct.flow_names();
    f
}

/// One episode's figures for `details`.
fn episode_details(c: &Counted) -> Value {
    let e = &c.idle;
    let mut d = Map::new();
    put(&mut d, "failed_at", format_iso(e.failed_at));
    put(
        &mut d,
        "source",
        if e.from_status {
            "connection-status"
        } else {
            "run"
        },
    );
    put(&mut d, "rule", c.measure.id());
    put(&mut d, "days_idle", c.gap / DAY);
    if let Some(lo) = e.last_ok {
        put(&mut d, "last_success", format_iso(lo));
    }
    if let Some(i) = e.issued_on {
        put(&mut d, "issued_on", format_iso(i));
    }
    if let Some(s) = e.inactive_for {
        put(&mut d, "inactive_for_days", days_between(0, s));
    }
    put(&mut d, "codes", e.codes.clone());
    Value::Object(d)
}

/// Connections whose last successful use is approaching (or past) 90 days at `as_of`.
pub fn forecast(t: &Timelines, as_of: Ts) -> Vec<Finding> {
    let mut out = Vec::new();
    for (_, ct) in &t.connections {
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

    /// A token-inactive run failure (AADSTS70008) of `conn`'s flow `flow`, owned by adele.
    fn idle_fail(b: &mut Builder, conn: &str, flow: &str, time: &str) {
        b.fail_cat(conn, flow, "adele", time, Category::TokenInactive, &[70008]);
    }

    /// An AADSTS700082 message stating 90 days of inactivity (and the issue date, if given).
    fn inactive_90(issued_on: Option<Ts>) -> crate::classify::Diagnosis {
        diag(
            Category::TokenInactive,
            &[700082],
            Some(TokenDetails {
                issued_on,
                inactive_for: Some(90 * DAY),
                ..TokenDetails::default()
            }),
        )
    }

    #[test]
    fn ninety_days_idle_fires() {
        let mut b = Builder::new();
        b.ok("c1", "quarterly", "adele", BASE);
        idle_fail(&mut b, "c1", "quarterly", &at(BASE, 95, 0));
        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].details["episodes"], 1);
        assert_eq!(f[0].details["longest_idle_days"], 95);
        assert_eq!(f[0].details["first_episode"]["days_idle"], 95);
        assert_eq!(f[0].details["rule"], "idle-since-last-success");
        assert_eq!(f[0].confidence, Confidence::Likely);
        assert_eq!(f[0].fix, Some(Fix::ReauthenticateIdleConnection));
    }

    #[test]
    fn sixty_days_idle_does_not() {
        let mut b = Builder::new();
        b.ok("c1", "f", "adele", BASE);
        idle_fail(&mut b, "c1", "f", &at(BASE, 60, 0));
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }

    #[test]
    fn message_dates_without_a_success() {
        let mut b = Builder::new();
        let d = inactive_90(Some(ts("2023-10-01T00:00:00Z")));
        b.fail_diag("c1", "f", "adele", "2024-01-05T08:00:00Z", &d);
        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Certain);
        assert_eq!(f[0].details["first_episode"]["inactive_for_days"], 90.0);
        assert_eq!(f[0].details["rule"], "inactive-for-message");
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.contains("rule inactive-for-message") && e.contains("90.00:00:00")),
            "{:#?}",
            f[0].evidence
        );

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

    /// A message saying "inactive for 90 days" hours after a run on the same connection
    /// worked: the finding still stands on the message, and says the input contradicts it.
    #[test]
    fn a_success_inside_the_stated_idle_time_is_called_out() {
        let d = inactive_90(None);
        let flagged = |f: &Finding| {
            f.evidence
                .iter()
                .any(|e| e.contains("contains a successful run of this connection"))
        };
        let mut b = Builder::new();
        b.ok("c1", "f", "adele", "2024-01-05T03:00:00Z");
        b.fail_diag("c1", "f", "adele", "2024-01-05T08:00:00Z", &d);
        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1);
        assert!(flagged(&f[0]), "{:#?}", f[0].evidence);
        assert!(
            f[0].evidence.iter().any(|e| e.contains("0.2 days before")),
            "{:#?}",
            f[0].evidence
        );
        assert_eq!(f[0].details["episodes_with_success_inside_idle"], 1);

        // The last success 91 days before: nothing to call out.
        let mut b = Builder::new();
        b.ok("c1", "f", "adele", "2023-10-06T08:00:00Z");
        b.fail_diag("c1", "f", "adele", "2024-01-05T08:00:00Z", &d);
        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1);
        assert!(!flagged(&f[0]), "{:#?}", f[0].evidence);
        assert!(
            f[0].details
                .get("episodes_with_success_inside_idle")
                .is_none()
        );
    }

    /// Repaired and idle again, three times, plus a short idle spell: one finding that
    /// counts the three long episodes, their runs, the first, the last and the longest.
    #[test]
    fn several_episodes_make_one_finding() {
        let mut b = Builder::new();
        let inactive = |b: &mut Builder, days: i64, hours: i64| {
            idle_fail(b, "c1", "quarterly", &at(BASE, days, hours))
        };
        b.ok("c1", "quarterly", "adele", BASE);
        inactive(&mut b, 95, 0); // 95 days idle
        inactive(&mut b, 95, 1);
        b.ok("c1", "quarterly", "adele", &at(BASE, 96, 0));
        inactive(&mut b, 200, 0); // 104 days idle
        b.ok("c1", "quarterly", "adele", &at(BASE, 201, 0));
        inactive(&mut b, 320, 0); // 119 days idle
        inactive(&mut b, 320, 1);
        inactive(&mut b, 320, 2);
        b.ok("c1", "quarterly", "adele", &at(BASE, 330, 0));
        inactive(&mut b, 340, 0); // 10 days: not inactivity

        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1, "{f:#?}");
        let f = &f[0];
        assert_eq!(f.connections, ["c1"]);
        assert_eq!(f.confidence, Confidence::Likely);
        assert_eq!(f.onset, Some(ts(&at(BASE, 95, 0))));
        assert_eq!(f.details["episodes"], 3);
        assert_eq!(f.details["failed_runs"], 6);
        assert_eq!(f.details["failure_days"], 3);
        assert_eq!(f.details["first_failed_at"], at(BASE, 95, 0));
        assert_eq!(f.details["last_failed_at"], at(BASE, 320, 0));
        assert_eq!(f.details["longest_idle_days"], 119);
        assert_eq!(f.details["longest_idle_failed_at"], at(BASE, 320, 0));
        assert_eq!(f.details["longest_idle_rule"], "idle-since-last-success");
        assert_eq!(f.details["episodes_by_rule"]["idle-since-last-success"], 3);
        assert_eq!(f.details["first_episode"]["days_idle"], 95);
        assert_eq!(f.details["first_episode"]["last_success"], at(BASE, 0, 0));
        assert!(f.title.contains("3 episodes"), "{}", f.title);
        assert!(f.title.contains("119 days"), "{}", f.title);
        let ev = f.evidence.join("\n");
        assert!(ev.contains("3 failure episodes"), "{ev}");
        assert!(
            ev.contains("6 token-inactive failed runs on 3 days"),
            "{ev}"
        );
        assert!(
            ev.contains("rule idle-since-last-success (likely) on 3 episodes"),
            "{ev}"
        );
        assert!(ev.contains("longest idle time: 119 days"), "{ev}");
        assert!(
            ev.contains("earliest episode: token-inactive run failure"),
            "{ev}"
        );
    }

    #[test]
    fn two_connections_make_two_findings() {
        let mut b = Builder::new();
        for c in ["c1", "c2"] {
            b.ok(c, c, "adele", BASE);
            for d in [95, 96] {
                idle_fail(&mut b, c, c, &at(BASE, d, 0));
            }
        }
        let f = find(&b.t, &JoinIndex::new());
        let mut names: Vec<_> = f.iter().map(|f| f.connections.clone()).collect();
        names.sort();
        assert_eq!(names, [["c1"], ["c2"]]);
        for f in &f {
            // Two failing days without a success between them: one episode.
            assert_eq!(f.details["episodes"], 1);
            assert_eq!(f.details["failed_runs"], 2);
        }
    }

    /// One episode the message measures and one only the gap does: the connection's cause
    /// is certain, and the evidence names both rules with their counts.
    #[test]
    fn the_strongest_rule_sets_the_confidence() {
        let mut b = Builder::new();
        b.ok("c1", "f", "adele", BASE);
        idle_fail(&mut b, "c1", "f", &at(BASE, 100, 0));
        b.ok("c1", "f", "adele", &at(BASE, 101, 0));
        let d = inactive_90(None);
        b.fail_diag("c1", "f", "adele", &at(BASE, 195, 0), &d);
        let f = find(&b.t, &JoinIndex::new());
        assert_eq!(f.len(), 1, "{f:#?}");
        let f = &f[0];
        assert_eq!(f.confidence, Confidence::Certain);
        assert_eq!(f.details["rule"], "inactive-for-message");
        assert_eq!(f.details["episodes_by_rule"]["inactive-for-message"], 1);
        assert_eq!(f.details["episodes_by_rule"]["idle-since-last-success"], 1);
        // The longest is the 100-day gap, measured by the gap since the last success.
        assert_eq!(f.details["longest_idle_days"], 100);
        assert_eq!(f.details["longest_idle_rule"], "idle-since-last-success");
        assert_eq!(f.details["codes"], serde_json::json!([70008, 700082]));
        let ev = f.evidence.join("\n");
        assert!(
            ev.contains("rule inactive-for-message (certain) on 1 episode"),
            "{ev}"
        );
        assert!(
            ev.contains("rule idle-since-last-success (likely) on 1 episode"),
            "{ev}"
        );
    }

    #[test]
    fn short_idle_spells_never_fire() {
        let mut b = Builder::new();
        b.ok("c1", "f", "adele", BASE);
        let mut day = 0;
        for gap in [10, 30, 60, 89] {
            day += gap;
            idle_fail(&mut b, "c1", "f", &at(BASE, day, 0));
            b.ok("c1", "f", "adele", &at(BASE, day, 1));
        }
        // A message under the limit does not fire either.
        let d = diag(
            Category::TokenInactive,
            &[700082],
            Some(TokenDetails {
                inactive_for: Some(45 * DAY),
                ..TokenDetails::default()
            }),
        );
        b.fail_diag("c1", "f", "adele", &at(BASE, day + 20, 0), &d);
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }

    #[test]
    fn timespans_read_like_entra() {
        assert_eq!(timespan(90 * DAY), "90.00:00:00");
        assert_eq!(timespan(90 * DAY + 3_723), "90.01:02:03");
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

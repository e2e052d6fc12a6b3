//! [`Timelines`]: the mergeable aggregate the timing rules read.
//!
//! Single records say what failed; the timing across records says why. The timing rules need,
//! per connection and per flow, when it last worked and when (and how) it started failing, day
//! by day. That is what this aggregate keeps: one [`DayStat`] per connection and UTC day, one
//! [`FlowDay`] per flow and day, a little per owner (account-state signals) and the names to
//! show. Memory grows with connections × days and flows × days, never with records: every list
//! inside a day is small and capped.
//!
//! `merge` is associative and commutative (sums, minima, maxima, capped sorted unions, and
//! "keep the greatest" under a total order), so partial timelines built per file, chunk or
//! thread combine to the same value in any order, and the JSON (BTreeMap, sorted vectors) is
//! byte-identical.
//!
//! Keys: a run or connection status is filed under its connection (normalised with
//! [`crate::join::connection_key`]); without one, under `flow:<flow id>`, else
//! `flow-name:<name>`, else `file:<path>` (a portal CSV download holds one flow per file).

use super::days::Days;
use super::hot::{self, Entries};
use crate::classify::TokenDetails;
use crate::join::connection_key;
use crate::model::{InputKind, Ts};
use crate::report::{Observation, Outcome, StrMap};
use crate::time::day_of;
use crate::vocab::Category;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Most owners kept per connection and per flow.
pub const MAX_OWNERS: usize = 8;
/// Most flows kept per connection.
pub const MAX_FLOWS: usize = 32;
/// Most distinct AADSTS codes kept per category and day.
pub const MAX_CODES: usize = 8;
/// Most token services kept per connection.
pub const MAX_SERVICES: usize = 4;

/// A closed interval of timestamps, merged by min/max.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    pub min: Ts,
    pub max: Ts,
}

impl Span {
    pub fn at(t: Ts) -> Span {
        Span { min: t, max: t }
    }

    pub fn merge(a: Option<Span>, b: Option<Span>) -> Option<Span> {
        match (a, b) {
            (Some(a), Some(b)) => Some(Span {
                min: a.min.min(b.min),
                max: a.max.max(b.max),
            }),
            (a, None) => a,
            (None, b) => b,
        }
    }
}

/// The Entra ids of one failure, kept so a finding can be joined to the sign-in log.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Sample {
    pub time: Ts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// Failures of one category on one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatStat {
    pub category: Category,
    pub count: u64,
    pub first: Ts,
    pub last: Ts,
    /// Hours of the day (UTC, bit 0 = 00:00-00:59) with a failure of this category.
    #[serde(default)]
    pub hours: u32,
    /// AADSTS codes seen, sorted, at most [`MAX_CODES`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<u32>,
    /// The earliest failure's Entra ids (sign-in join).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<Box<Sample>>,
}

impl CatStat {
    fn merge(&mut self, o: &CatStat) {
        self.count += o.count;
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        self.hours |= o.hours;
        union_capped(&mut self.codes, &o.codes, MAX_CODES);
        self.sample = min_opt(self.sample.take(), o.sample.clone());
    }
}

/// Token dates parsed from failure messages on one day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenDates {
    /// "TokensValidFrom": the revocation instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_valid_from: Option<Span>,
    /// "issued on".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_on: Option<Span>,
    /// "inactive for", seconds, the largest seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_for: Option<i64>,
}

impl TokenDates {
    fn add(&mut self, t: &TokenDetails) {
        self.tokens_valid_from =
            Span::merge(self.tokens_valid_from, t.tokens_valid_from.map(Span::at));
        self.issued_on = Span::merge(self.issued_on, t.issued_on.map(Span::at));
        self.inactive_for = self.inactive_for.max(t.inactive_for);
    }

    fn merge(&mut self, o: &TokenDates) {
        self.tokens_valid_from = Span::merge(self.tokens_valid_from, o.tokens_valid_from);
        self.issued_on = Span::merge(self.issued_on, o.issued_on);
        self.inactive_for = self.inactive_for.max(o.inactive_for);
    }

    pub fn is_empty(&self) -> bool {
        *self == TokenDates::default()
    }
}

/// One connection on one UTC day: runs that worked, runs that failed and how.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayStat {
    pub ok: u64,
    pub fail: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok_span: Option<Span>,
    /// Hours of the day with a successful run (bit 0 = 00:00-00:59 UTC): with the spans, the
    /// order of successes and failures inside a day survives aggregation to the hour.
    #[serde(default)]
    pub ok_hours: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_span: Option<Span>,
    /// Failures by category, sorted by category.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cats: Vec<CatStat>,
    #[serde(default, skip_serializing_if = "Tokens::is_empty")]
    pub tokens: Tokens,
}

/// A day's [`TokenDates`], kept behind a pointer only when a message gave any: most days
/// have none, and every connection day pays for the field.
#[derive(Clone, Debug, Default)]
pub struct Tokens(Option<Box<TokenDates>>);

static NO_TOKENS: TokenDates = TokenDates {
    tokens_valid_from: None,
    issued_on: None,
    inactive_for: None,
};

impl std::ops::Deref for Tokens {
    type Target = TokenDates;
    fn deref(&self) -> &TokenDates {
        self.0.as_deref().unwrap_or(&NO_TOKENS)
    }
}

impl Tokens {
    fn add(&mut self, t: &TokenDetails) {
        if t.tokens_valid_from.is_some() || t.issued_on.is_some() || t.inactive_for.is_some() {
            self.0.get_or_insert_default().add(t);
        }
    }

    fn merge(&mut self, o: &Tokens) {
        if !o.is_empty() {
            self.0.get_or_insert_default().merge(o);
        }
    }

    pub fn is_empty(&self) -> bool {
        (**self).is_empty()
    }
}

/// Equal when the dates are, held or not.
impl PartialEq for Tokens {
    fn eq(&self, other: &Tokens) -> bool {
        **self == **other
    }
}

impl Eq for Tokens {}

impl Serialize for Tokens {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Tokens {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Tokens, D::Error> {
        let t = TokenDates::deserialize(d)?;
        Ok(Tokens((!t.is_empty()).then(|| Box::new(t))))
    }
}

impl DayStat {
    fn merge(&mut self, o: &DayStat) {
        self.ok += o.ok;
        self.fail += o.fail;
        self.ok_span = Span::merge(self.ok_span, o.ok_span);
        self.ok_hours |= o.ok_hours;
        self.fail_span = Span::merge(self.fail_span, o.fail_span);
        for c in &o.cats {
            match self.cats.binary_search_by(|x| x.category.cmp(&c.category)) {
                Ok(i) => self.cats[i].merge(c),
                Err(i) => self.cats.insert(i, c.clone()),
            }
        }
        self.tokens.merge(&o.tokens);
    }

    /// Count one failed run in place (the same result as merging a one-failure day).
    fn fail_at(&mut self, t: Ts, category: Category, codes: &[u32], tok: Option<&TokenDetails>) {
        self.fail += 1;
        self.fail_span = Span::merge(self.fail_span, Some(Span::at(t)));
        let i = match self.cats.binary_search_by(|x| x.category.cmp(&category)) {
            Ok(i) => {
                let c = &mut self.cats[i];
                c.count += 1;
                c.first = c.first.min(t);
                c.last = c.last.max(t);
                c.hours |= hour_bit(t);
                i
            }
            Err(i) => {
                // Room for exactly one more: a day has a few categories at most, and the
                // four a first push reserves (then eight) would be mostly empty slots on
                // every failing day.
                self.cats.reserve_exact(1);
                self.cats.insert(
                    i,
                    CatStat {
                        category,
                        count: 1,
                        first: t,
                        last: t,
                        hours: hour_bit(t),
                        codes: Vec::new(),
                        sample: None,
                    },
                );
                i
            }
        };
        let c = &mut self.cats[i];
        for code in codes {
            if let Err(j) = c.codes.binary_search(code) {
                c.codes.insert(j, *code);
            }
        }
        c.codes.truncate(MAX_CODES);
        if let Some(k) = tok {
            let key = (
                t,
                k.correlation_id.as_deref(),
                k.trace_id.as_deref(),
                k.service.as_deref(),
            );
            let better = match &c.sample {
                None => true,
                Some(s) => {
                    key < (
                        s.time,
                        s.correlation_id.as_deref(),
                        s.trace_id.as_deref(),
                        s.service.as_deref(),
                    )
                }
            };
            if better {
                c.sample = Some(Box::new(Sample {
                    time: t,
                    correlation_id: k.correlation_id.clone(),
                    trace_id: k.trace_id.clone(),
                    service: k.service.clone(),
                }));
            }
            self.tokens.add(k);
        }
    }

    pub fn cat(&self, c: Category) -> Option<&CatStat> {
        self.cats.iter().find(|x| x.category == c)
    }

    /// The day's successful runs to the hour, in order (exact at the first and last).
    pub fn ok_times(&self) -> Vec<Ts> {
        match self.ok_span {
            Some(s) => hour_times(s, self.ok_hours),
            None => Vec::new(),
        }
    }
}

/// The bit of a time's hour of day.
pub fn hour_bit(t: Ts) -> u32 {
    1 << (t.rem_euclid(86_400) / 3_600)
}

/// Event times for a day's span and hour mask: the exact first and last times, and the
/// middle of every marked hour between them.
pub fn hour_times(span: Span, hours: u32) -> Vec<Ts> {
    let day_start = span.min - span.min.rem_euclid(86_400);
    let (h_min, h_max) = (
        span.min.rem_euclid(86_400) / 3_600,
        span.max.rem_euclid(86_400) / 3_600,
    );
    let mut v = vec![span.min];
    for h in (h_min + 1)..h_max {
        if hours & (1 << h) != 0 {
            v.push(day_start + h * 3_600 + 1_800);
        }
    }
    if span.max != span.min {
        v.push(span.max);
    }
    v
}

/// A connection's latest status from the connection inventory.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StatusStat {
    /// When the status was recorded (last modified), if known; statuses without a time sort
    /// first and lose to any dated one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Ts>,
    pub category: Category,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_valid_from: Option<Ts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_on: Option<Ts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_for: Option<i64>,
    /// The Entra timestamp in the message ("UTC TimeStamp=").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Ts>,
}

/// A connection (or connection-less flow): names and its days.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnTimeline {
    /// The name as first seen (smallest, for determinism), for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
    /// Flow id or name → display name (capped).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flows: BTreeMap<String, String>,
    /// Token services named in failure messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    pub days: Days<DayStat>,
    /// The latest failing status from the connection inventory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusStat>,
}

impl ConnTimeline {
    fn merge(&mut self, o: &ConnTimeline) {
        self.name = min_opt(self.name.take(), o.name.clone());
        self.connector = min_opt(self.connector.take(), o.connector.clone());
        union_capped(&mut self.owners, &o.owners, MAX_OWNERS);
        for (k, v) in &o.flows {
            insert_capped(&mut self.flows, k, v);
        }
        union_capped(&mut self.services, &o.services, MAX_SERVICES);
        for (d, s) in &o.days {
            self.days.get_or_default(d).merge(s);
        }
        self.status = max_opt(self.status.take(), o.status.clone());
    }

    /// The first known owner (the connection's owner when the inventory names it).
    pub fn owner(&self) -> Option<&str> {
        self.owners.first().map(String::as_str)
    }

    /// The time of the last successful run, if any.
    pub fn last_ok(&self) -> Option<Ts> {
        self.days
            .values()
            .rev()
            .find_map(|d| d.ok_span.map(|s| s.max))
    }

    /// The last successful run strictly before `t`, to day-level precision inside `t`'s day
    /// (a success earlier on the same day counts only if its first success precedes `t`).
    pub fn last_ok_before(&self, t: Ts) -> Option<Ts> {
        for (_, d) in self.days.back_from(day_of(t)) {
            if let Some(x) = d.ok_times().into_iter().rev().find(|x| *x < t) {
                return Some(x);
            }
        }
        None
    }

    /// The last run failure of any kind.
    pub fn last_fail(&self) -> Option<Ts> {
        self.days
            .values()
            .rev()
            .find_map(|d| d.fail_span.map(|s| s.max))
    }

    /// Run events (time, worked?) in time order, to the hour: each day's first and last
    /// success and failure exactly, and the hours between that had one. Only failures of
    /// the categories `failing` accepts are included.
    /// Failures of other categories are left out (noise for the rule asking).
    pub fn events(&self, failing: impl Fn(Category) -> bool) -> Vec<(Ts, bool)> {
        let mut ev = Vec::new();
        for d in self.days.values() {
            ev.extend(d.ok_times().into_iter().map(|t| (t, true)));
            let mut hours = 0;
            let mut span = None;
            for c in d.cats.iter().filter(|c| failing(c.category)) {
                hours |= c.hours;
                span = Span::merge(
                    span,
                    Some(Span {
                        min: c.first,
                        max: c.last,
                    }),
                );
            }
            if let Some(s) = span {
                ev.extend(hour_times(s, hours).into_iter().map(|t| (t, false)));
            }
        }
        // At equal times a failure sorts before a success (`false < true`): a tie never
        // reads as "worked, then failed", so it cannot make a false onset.
        ev.sort_unstable();
        ev.dedup();
        ev
    }

    /// Flow display names (capped).
    pub fn flow_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.flows.values().cloned().collect();
        v.sort();
        v.dedup();
        v
    }
}

/// One flow on one day (any connection), in 28 bytes: there is one per flow and day and
/// every run updates one, so its size is what the timing store's memory and cache misses
/// follow. Counts are `u32` (saturating); times are seconds into the day, the map's key
/// being the day. [`FlowDay::ok_span`] and [`FlowDay::fail_span`] give absolute times back,
/// and the JSON form is the same as a struct of `u64` counts and [`Span`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowDay {
    ok: u32,
    fail: u32,
    auth_fail: u32,
    /// First and last success, seconds into the day; [`NO_TIME`] when none.
    ok_at: (u32, u32),
    /// First and last failure, seconds into the day; [`NO_TIME`] when none.
    fail_at: (u32, u32),
}

/// No time in a [`FlowDay`] span (past any second of a day).
const NO_TIME: u32 = u32::MAX;

impl Default for FlowDay {
    fn default() -> Self {
        FlowDay {
            ok: 0,
            fail: 0,
            auth_fail: 0,
            ok_at: (NO_TIME, NO_TIME),
            fail_at: (NO_TIME, NO_TIME),
        }
    }
}

impl FlowDay {
    pub fn ok(&self) -> u64 {
        u64::from(self.ok)
    }

    pub fn fail(&self) -> u64 {
        u64::from(self.fail)
    }

    /// Of the failures, how many were authentication failures.
    pub fn auth_fail(&self) -> u64 {
        u64::from(self.auth_fail)
    }

    /// First and last success of the day `day`.
    pub fn ok_span(&self, day: i64) -> Option<Span> {
        day_span(day, self.ok_at)
    }

    /// First and last failure of the day `day`.
    pub fn fail_span(&self, day: i64) -> Option<Span> {
        day_span(day, self.fail_at)
    }

    /// Count one run at `t`, which falls on this day.
    fn run(&mut self, t: Ts, failed: bool, auth: bool) {
        let sec = t.rem_euclid(86_400) as u32;
        if failed {
            self.fail = self.fail.saturating_add(1);
            self.auth_fail = self.auth_fail.saturating_add(u32::from(auth));
            widen(&mut self.fail_at, (sec, sec));
        } else {
            self.ok = self.ok.saturating_add(1);
            widen(&mut self.ok_at, (sec, sec));
        }
    }

    fn merge(&mut self, o: &FlowDay) {
        self.ok = self.ok.saturating_add(o.ok);
        self.fail = self.fail.saturating_add(o.fail);
        self.auth_fail = self.auth_fail.saturating_add(o.auth_fail);
        widen(&mut self.ok_at, o.ok_at);
        widen(&mut self.fail_at, o.fail_at);
    }
}

/// Widen a span of seconds into the day by another (either may be empty).
fn widen(span: &mut (u32, u32), o: (u32, u32)) {
    if o.0 == NO_TIME {
        return;
    }
    if span.0 == NO_TIME {
        *span = o;
    } else {
        span.0 = span.0.min(o.0);
        span.1 = span.1.max(o.1);
    }
}

fn day_span(day: i64, (first, last): (u32, u32)) -> Option<Span> {
    (first != NO_TIME).then(|| Span {
        min: day * 86_400 + i64::from(first),
        max: day * 86_400 + i64::from(last),
    })
}

/// A [`FlowDay`] as written in a partial report.
#[derive(Serialize, Deserialize)]
struct FlowDayJson {
    ok: u64,
    fail: u64,
    auth_fail: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ok_span: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fail_span: Option<Span>,
}

/// Serde for a flow's days: [`FlowDay`]s as [`FlowDayJson`], checked on the way in.
mod flow_days {
    use super::{Days, FlowDay, FlowDayJson, NO_TIME, Span};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(days: &Days<FlowDay>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(days.iter().map(|(day, d)| {
            (
                day,
                FlowDayJson {
                    ok: d.ok(),
                    fail: d.fail(),
                    auth_fail: d.auth_fail(),
                    ok_span: d.ok_span(day),
                    fail_span: d.fail_span(day),
                },
            )
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Days<FlowDay>, D::Error> {
        let json = BTreeMap::<i64, FlowDayJson>::deserialize(d)?;
        let mut out = Days::new();
        for (day, j) in json {
            let within = |s: Option<Span>| -> Result<(u32, u32), D::Error> {
                let Some(s) = s else {
                    return Ok((NO_TIME, NO_TIME));
                };
                let start = day
                    .checked_mul(86_400)
                    .ok_or_else(|| D::Error::custom("day out of range"))?;
                let sec = |t: i64| {
                    t.checked_sub(start)
                        .filter(|x| (0..86_400).contains(x) && s.min <= s.max)
                        .map(|x| x as u32)
                };
                match (sec(s.min), sec(s.max)) {
                    (Some(a), Some(b)) => Ok((a, b)),
                    _ => Err(D::Error::custom(format!(
                        "flow day {day}: span {}..{} is not inside the day",
                        s.min, s.max
                    ))),
                }
            };
            let sat = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
            out.insert(
                day,
                FlowDay {
                    ok: sat(j.ok),
                    fail: sat(j.fail),
                    auth_fail: sat(j.auth_fail),
                    ok_at: within(j.ok_span)?,
                    fail_at: within(j.fail_span)?,
                },
            );
        }
        Ok(out)
    }
}

/// A flow's runs per day, for the confounders (suspension, dormancy).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowTimeline {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
    #[serde(with = "flow_days")]
    pub days: Days<FlowDay>,
}

impl FlowTimeline {
    fn merge(&mut self, o: &FlowTimeline) {
        self.name = min_opt(self.name.take(), o.name.clone());
        union_capped(&mut self.owners, &o.owners, MAX_OWNERS);
        for (d, s) in &o.days {
            self.days.get_or_default(d).merge(s);
        }
    }

    pub fn last_ok(&self) -> Option<Ts> {
        self.days
            .iter()
            .rev()
            .find_map(|(day, d)| d.ok_span(day).map(|s| s.max))
    }
}

/// Account-state signals (disabled, deleted, not found) about one person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSignal {
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<u32>,
    /// Which inputs said so (`run-history`, `connection-inventory`, `sign-in-log`).
    pub kinds: Vec<InputKind>,
}

/// What is known about one owner beyond their connections.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerStat {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountSignal>,
}

impl OwnerStat {
    fn merge(&mut self, o: &OwnerStat) {
        self.account = match (self.account.take(), &o.account) {
            (Some(mut a), Some(b)) => {
                a.count += b.count;
                a.span = Span::merge(a.span, b.span);
                union_capped(&mut a.codes, &b.codes, MAX_CODES);
                union_capped(&mut a.kinds, &b.kinds, InputKind::ALL.len());
                Some(a)
            }
            (a, None) => a,
            (None, Some(b)) => Some(b.clone()),
        };
    }
}

/// The timing aggregate: see the module documentation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timelines {
    /// Connection key → timeline (hashed: every run looks one up; iterated in key order).
    pub connections: StrMap<ConnTimeline>,
    /// Flow id (or `flow-name:`/`file:` key) → runs per day.
    pub flows: StrMap<FlowTimeline>,
    /// Owner label → signals.
    pub owners: BTreeMap<String, OwnerStat>,
    /// The latest time seen in any input: the default `--as-of`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<Ts>,
    /// Runs' names already resolved to their entries (not data: never compared or written).
    #[serde(skip)]
    hot: Scratch<NameCache>,
    /// Where runs' flow and connection days go instead of `flows` and `connections`, when
    /// several workers share one store (not data: never compared or written).
    #[serde(skip)]
    shared: Shared,
    /// Runs taken but not counted yet (only while sharing a store; not data).
    #[serde(skip)]
    waiting: Scratch<Waiting>,
}

/// Working state kept beside the data and not part of it. A copy starts empty (what it
/// holds belongs to the store it was built in, and waiting runs are counted once, by the
/// store that took them), and it equals any other, so it never affects comparisons.
#[derive(Debug, Default)]
struct Scratch<T>(T);

impl<T: Default> Clone for Scratch<T> {
    fn clone(&self) -> Self {
        Scratch::default()
    }
}

impl<T> PartialEq for Scratch<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> Eq for Scratch<T> {}

impl<T> std::ops::Deref for Scratch<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Scratch<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// A handle on the [`SharedRuns`] a store's runs go to, if any. Equal to any other, so it
/// never affects comparisons.
#[derive(Clone, Debug, Default)]
struct Shared(Option<Arc<SharedRuns>>);

impl PartialEq for Shared {
    fn eq(&self, _: &Shared) -> bool {
        true
    }
}

impl Eq for Shared {}

/// Shards per kind of entry in a [`SharedRuns`]: with two to a few workers, two of them
/// rarely want the same lock at once.
const SHARDS: usize = 64;

/// The flow and connection entries of run histories, one store for all the workers of a
/// pass instead of one each: memory and the cache's working set no longer grow with the
/// number of workers. Each entry lives in one shard, chosen by its key, behind that
/// shard's lock; a run takes the lock of its flow's shard, then of its connection's, one at
/// a time. Every update is commutative (counts, minima and maxima, the smallest names), so
/// the order in which workers take the locks never shows in the result.
#[derive(Debug)]
pub struct SharedRuns {
    flows: Box<[Shard<FlowTimeline>]>,
    connections: Box<[Shard<ConnTimeline>]>,
}

/// Each shard on cache lines of its own: a lock and map header that shared a line with a
/// neighbour's would bounce between cores whenever two workers use adjacent shards.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard<V>(Mutex<StrMap<V>>);

impl<V> Shard<V> {
    /// The shard's entries (a worker that panicked holding the lock left them consistent:
    /// every update is a handful of field writes on one entry).
    fn lock(&self) -> MutexGuard<'_, StrMap<V>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Move the shard's entries out.
    fn take(&self) -> StrMap<V> {
        std::mem::take(&mut *self.lock())
    }
}

/// Move `from`'s entries into `into`, merging those under a key `into` already has.
fn absorb_entries<V>(into: &mut StrMap<V>, from: StrMap<V>, merge: impl Fn(&mut V, &V)) {
    for (k, v) in from.into_unordered() {
        match into.get_mut(&k) {
            Some(mine) => merge(mine, &v),
            None => into.insert(k, v),
        }
    }
}

impl SharedRuns {
    pub fn new() -> Arc<SharedRuns> {
        Arc::new(SharedRuns {
            flows: (0..SHARDS).map(|_| Shard::default()).collect(),
            connections: (0..SHARDS).map(|_| Shard::default()).collect(),
        })
    }

    /// The shard of a key (a fixed hash: the same shard in every process).
    fn shard_of(key: &str) -> usize {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(key, &mut h);
        (std::hash::Hasher::finish(&h) % SHARDS as u64) as usize
    }

    /// Move everything out into a store of its own (shards hold disjoint keys).
    pub fn take(&self) -> Timelines {
        let mut t = Timelines::new();
        for shard in &self.flows {
            absorb_entries(&mut t.flows, shard.take(), FlowTimeline::merge);
        }
        for shard in &self.connections {
            absorb_entries(&mut t.connections, shard.take(), ConnTimeline::merge);
        }
        t
    }
}

/// The names cache ([`hot::Hot`]) and the key of the run being looked up.
#[derive(Debug, Default)]
struct NameCache {
    cache: hot::Hot,
    key: Vec<u8>,
}

/// The names of a run that its flow and connection entries depend on, in the order of its
/// key (the file only when it names the flow).
const NAMES: usize = 6;

/// Append an observation's names to `out` as one key (see [`hot::encode_name`]).
fn encode_names(out: &mut Vec<u8>, obs: &Observation<'_>) {
    let flow_id = clean(obs.flow_id);
    let flow_name = clean(obs.flow_name);
    let file = match (flow_id, flow_name) {
        (None, None) => Some(obs.file),
        _ => None,
    };
    for name in [
        flow_id,
        flow_name,
        file,
        clean(obs.connection),
        clean(obs.connector),
        clean(obs.owner),
    ] {
        hot::encode_name(out, name);
    }
}

/// The observation a key was encoded from, as far as resolving its entries reads it.
fn names_observation(key: &[u8]) -> Observation<'_> {
    let [flow_id, flow_name, file, connection, connector, owner] = hot::decode_names::<NAMES>(key);
    Observation {
        file: file.unwrap_or(""),
        kind: InputKind::RunHistory,
        run_id: None,
        flow_id,
        flow_name,
        environment: None,
        owner,
        connection,
        connector,
        time: None,
        outcome: Outcome::NotFailed,
    }
}

/// Runs a worker sharing a store has not counted yet. Counting a run means a lookup in the
/// names cache and two entries' days, each usually a cache miss on tenant-sized tables; a
/// batch does each step for all its runs before the next step, so that the misses overlap.
/// Every update is commutative, so counting later never shows in the result.
#[derive(Debug, Default)]
struct Waiting {
    /// The runs' keys, back to back.
    keys: Vec<u8>,
    runs: Vec<WaitingRun>,
}

/// Runs counted per batch.
const BATCH: usize = 1024;
/// Most AADSTS codes a waiting run carries (runs with more are counted at once).
const WAIT_CODES: usize = 2;

/// What counting one run needs, owned: [`RunFacts`] without a token's details.
#[derive(Clone, Copy, Debug)]
struct WaitingRun {
    key: (usize, usize),
    t: Ts,
    day: i64,
    failed: bool,
    category: Category,
    codes: [u32; WAIT_CODES],
    n_codes: u8,
}

impl WaitingRun {
    fn facts(&self) -> RunFacts<'_> {
        RunFacts {
            t: self.t,
            day: self.day,
            failed: self.failed,
            category: self.category,
            codes: &self.codes[..usize::from(self.n_codes)],
            tok: None,
        }
    }
}

/// Read a value the caller does not need yet, so that its load is on its way (the sum of
/// such reads is kept from being optimised away).
fn touch(sink: &mut u64, v: u64) {
    *sink = sink.wrapping_add(v);
}

impl Timelines {
    pub fn new() -> Self {
        Timelines::default()
    }

    /// Send runs' flow and connection days to `runs` from now on (everything else stays
    /// here). Call on an empty store.
    pub fn share(&mut self, runs: Arc<SharedRuns>) {
        self.hot = Scratch::default();
        self.shared = Shared(Some(runs));
    }

    /// Count the runs still waiting and stop sending runs to a shared store.
    pub fn unshare(&mut self) {
        self.count_waiting();
        self.hot = Scratch::default();
        self.shared = Shared(None);
    }

    /// [`Timelines::merge`], moving `other`'s entries rather than copying them (entries
    /// are only added, so resolved names stay valid).
    pub fn absorb(&mut self, other: Timelines) {
        absorb_entries(
            &mut self.connections,
            other.connections,
            ConnTimeline::merge,
        );
        absorb_entries(&mut self.flows, other.flows, FlowTimeline::merge);
        for (k, v) in other.owners {
            self.owners.entry(k).or_default().merge(&v);
        }
        self.latest = max_opt(self.latest, other.latest);
    }

    /// Fold one observation in. Only runs count as usage and as run failures; connection
    /// statuses keep the latest failing status per connection; sign-ins (and any input)
    /// contribute account-state signals about their person.
    pub fn observe(&mut self, obs: &Observation<'_>) {
        if let Some(t) = obs.time {
            self.latest = Some(self.latest.map_or(t, |l| l.max(t)));
        }
        let classified = match obs.outcome {
            Outcome::Classified(c) => Some(c),
            _ => None,
        };
        if let (Some(c), Some(owner)) = (classified, clean(obs.owner))
            && c.diagnosis.category == Category::AccountState
        {
            let a = AccountSignal {
                count: 1,
                span: obs.time.map(Span::at),
                codes: capped_sorted(&c.diagnosis.aadsts, MAX_CODES),
                kinds: vec![obs.kind],
            };
            get_or_insert(&mut self.owners, owner).merge(&OwnerStat { account: Some(a) });
        }
        match obs.kind {
            InputKind::RunHistory => self.observe_run(obs),
            InputKind::ConnectionInventory => self.observe_status(obs),
            _ => {}
        }
    }

    /// A run: its flow's day and its connection's (or flow's) day. The flow and connection
    /// entries, with their names, owners and flows, depend only on the run's names, so they
    /// are resolved once per distinct set of names ([`hot::Hot`]); each run then only counts.
    /// In a shared store, runs wait to be counted in a batch ([`Waiting`]); runs with a
    /// token's details or many codes are counted at once.
    fn observe_run(&mut self, obs: &Observation<'_>) {
        if matches!(obs.outcome, Outcome::Malformed(_)) {
            return;
        }
        let Some(t) = obs.time else { return };
        let run = RunFacts::of(obs, t);
        if self.shared.0.is_some() && run.tok.is_none() && run.codes.len() <= WAIT_CODES {
            let waiting = &mut *self.waiting;
            let start = waiting.keys.len();
            encode_names(&mut waiting.keys, obs);
            let mut codes = [0; WAIT_CODES];
            codes[..run.codes.len()].copy_from_slice(run.codes);
            waiting.runs.push(WaitingRun {
                key: (start, waiting.keys.len()),
                t,
                day: run.day,
                failed: run.failed,
                category: run.category,
                codes,
                n_codes: run.codes.len() as u8,
            });
            if waiting.runs.len() >= BATCH {
                self.count_waiting();
            }
            return;
        }
        let shared = self.shared.0.as_deref();
        let NameCache { cache, key } = &mut *self.hot;
        key.clear();
        encode_names(key, obs);
        let hash = cache.hash(key);
        let (flow_at, conn_at) = cache.get_or_put(hash, key, || {
            resolve_run(&mut self.flows, &mut self.connections, shared, obs)
        });
        if let Some(at) = flow_at {
            with_entry(&mut self.flows, shared.map(|s| &*s.flows), at, |ft| {
                run.count_flow(ft)
            });
        }
        if let Some(at) = conn_at {
            with_entry(
                &mut self.connections,
                shared.map(|s| &*s.connections),
                at,
                |ct| run.count_connection(ct),
            );
        }
    }

    /// Count the waiting runs, each step for the whole batch: hash every key and read its
    /// slot of the names cache, read every stored key, resolve; then per shard of the shared
    /// store (each lock taken once), read every run's entry and day, then count.
    fn count_waiting(&mut self) {
        let Some(shared) = self.shared.0.clone() else {
            return;
        };
        let mut waiting = std::mem::take(&mut self.waiting.0);
        let key = |r: &WaitingRun| &waiting.keys[r.key.0..r.key.1];
        let mut sink = 0;
        let hashes: Vec<u64> = waiting
            .runs
            .iter()
            .map(|r| self.hot.cache.hash(key(r)))
            .collect();
        // Loops of a few instructions per run: many loads in flight at once.
        for &h in &hashes {
            touch(&mut sink, self.hot.cache.touch_slot(h));
        }
        for &h in &hashes {
            touch(&mut sink, self.hot.cache.touch_key(h));
        }
        let mut flows = Vec::with_capacity(waiting.runs.len());
        let mut conns = Vec::with_capacity(waiting.runs.len());
        for (n, (r, &h)) in waiting.runs.iter().zip(&hashes).enumerate() {
            let k = key(r);
            let (flow_at, conn_at) = self.hot.cache.get_or_put(h, k, || {
                let obs = names_observation(k);
                resolve_run(&mut self.flows, &mut self.connections, Some(&shared), &obs)
            });
            flows.extend(flow_at.map(|at| (at, n)));
            conns.extend(conn_at.map(|at| (at, n)));
        }
        let runs = &waiting.runs;
        count_by_shard(
            &shared.flows,
            &flows,
            &mut sink,
            |ft: &FlowTimeline, n| ft.days.get(&runs[n].day).map_or(0, |d| u64::from(d.ok)),
            |ft, n| runs[n].facts().count_flow(ft),
        );
        count_by_shard(
            &shared.connections,
            &conns,
            &mut sink,
            |ct: &ConnTimeline, n| ct.days.get(&runs[n].day).map_or(0, |d| d.ok),
            |ct, n| runs[n].facts().count_connection(ct),
        );
        std::hint::black_box(sink);
        // Keep the buffers for the next batch.
        waiting.keys.clear();
        waiting.runs.clear();
        *self.waiting = waiting;
    }

    fn observe_status(&mut self, obs: &Observation<'_>) {
        let Outcome::Classified(c) = obs.outcome else {
            return;
        };
        let Some(key) = conn_key(obs) else { return };
        let ct = self.connections.entry_owned(key);
        ct.name = min_opt(ct.name.take(), clean(obs.connection).map(str::to_string));
        ct.connector = min_opt(
            ct.connector.take(),
            clean(obs.connector).map(str::to_string),
        );
        if let Some(o) = clean(obs.owner) {
            union_capped(&mut ct.owners, &[o.to_string()], MAX_OWNERS);
        }
        let tok = c.diagnosis.token.as_deref();
        if let Some(svc) = tok.and_then(|k| k.service.as_deref()) {
            union_capped(&mut ct.services, &[svc.to_string()], MAX_SERVICES);
        }
        let st = StatusStat {
            time: obs.time,
            category: c.diagnosis.category,
            codes: capped_sorted(&c.diagnosis.aadsts, MAX_CODES),
            tokens_valid_from: tok.and_then(|k| k.tokens_valid_from),
            issued_on: tok.and_then(|k| k.issued_on),
            inactive_for: tok.and_then(|k| k.inactive_for),
            timestamp: tok.and_then(|k| k.timestamp),
        };
        ct.status = max_opt(ct.status.take(), Some(st));
    }

    /// Combine another partial aggregate into this one (associative, commutative).
    pub fn merge(&mut self, other: &Timelines) {
        self.absorb(other.clone());
    }
}

/// A run's flow key and connection key (the flow's key for a run naming no connection).
fn run_keys(obs: &Observation<'_>) -> (Option<String>, Option<String>) {
    let mut flow_key = String::new();
    let flow = write_flow_key(obs, &mut flow_key).then_some(flow_key);
    let conn = match clean(obs.connection) {
        Some(c) => {
            let mut k = String::new();
            write_connection_key(c, &mut k);
            Some(k)
        }
        None => flow.clone(),
    };
    (flow, conn)
}

/// The names part of a run, which is the same for every run with the same names: find or
/// add its flow and connection entries (in `shared` when there is one, else in `flows` and
/// `connections`) and keep their names. Returns where they are.
fn resolve_run(
    flows: &mut StrMap<FlowTimeline>,
    connections: &mut StrMap<ConnTimeline>,
    shared: Option<&SharedRuns>,
    obs: &Observation<'_>,
) -> Entries {
    let (flow_key, conn_key) = run_keys(obs);
    let flow_at = flow_key
        .as_deref()
        .map(|k| place(flows, shared.map(|s| &*s.flows), k, |ft| name_flow(ft, obs)));
    let conn_at = conn_key.as_deref().map(|k| {
        place(connections, shared.map(|s| &*s.connections), k, |ct| {
            name_connection(ct, obs, flow_key.as_deref())
        })
    });
    (flow_at, conn_at)
}

/// Find or add `key`'s entry, in its shard of `shards` when given, else in `own` (shard 0),
/// and update it with `f`. Returns (shard, index).
fn place<V: Default>(
    own: &mut StrMap<V>,
    shards: Option<&[Shard<V>]>,
    key: &str,
    f: impl FnOnce(&mut V),
) -> (usize, usize) {
    let add = |map: &mut StrMap<V>| {
        let i = map.index_or_default(key);
        f(map.at_mut(i));
        i
    };
    match shards {
        Some(shards) => {
            let s = SharedRuns::shard_of(key);
            (s, add(&mut shards[s].lock()))
        }
        None => (0, add(own)),
    }
}

/// Update the entry at `(shard, index)` from [`place`] with `f`.
fn with_entry<V>(
    own: &mut StrMap<V>,
    shards: Option<&[Shard<V>]>,
    (s, i): (usize, usize),
    f: impl FnOnce(&mut V),
) {
    match shards {
        Some(shards) => f(shards[s].lock().at_mut(i)),
        None => f(own.at_mut(i)),
    }
}

/// A run's entry in a shared store and the run: ((shard, index), run).
type AtRun = ((usize, usize), usize);

/// Count runs in their entries of a shared store, shard by shard: `at` holds each run's
/// entry as ((shard, index), run), in run order. Under each shard's lock, `read` reads every
/// run's entry and day first (loads that overlap), then `count` counts them.
fn count_by_shard<V>(
    shards: &[Shard<V>],
    at: &[AtRun],
    sink: &mut u64,
    read: impl Fn(&V, usize) -> u64,
    count: impl Fn(&mut V, usize),
) {
    let (sorted, ends) = by_shard(at, shards.len());
    let mut start = 0;
    for (s, &end) in ends.iter().enumerate() {
        let group = &sorted[start..end];
        start = end;
        if group.is_empty() {
            continue;
        }
        let mut map = shards[s].lock();
        for &((_, i), n) in group {
            touch(sink, read(map.at(i), n));
        }
        for &((_, i), n) in group {
            count(map.at_mut(i), n);
        }
    }
}

/// `at`'s entries ordered by shard (`shards` of them), keeping the order of `at` within a
/// shard, and where each shard's entries end: a counting sort, a few instructions per entry
/// where a comparison sort of a batch cost several hundred per run.
fn by_shard(at: &[AtRun], shards: usize) -> (Vec<AtRun>, Vec<usize>) {
    let mut ends = vec![0usize; shards];
    for &((s, _), _) in at {
        ends[s] += 1;
    }
    let mut next = Vec::with_capacity(shards);
    let mut total = 0;
    for end in &mut ends {
        next.push(total);
        total += *end;
        *end = total;
    }
    let mut sorted = at.to_vec();
    for &a in at {
        let slot = &mut next[a.0.0];
        sorted[*slot] = a;
        *slot += 1;
    }
    (sorted, ends)
}

/// Keep a flow entry's display name and owners.
fn name_flow(ft: &mut FlowTimeline, obs: &Observation<'_>) {
    min_str(&mut ft.name, clean(obs.flow_name));
    if let Some(o) = clean(obs.owner) {
        insert_str_capped(&mut ft.owners, o, MAX_OWNERS);
    }
}

/// Keep a connection entry's names, owners and the flow the run belongs to.
fn name_connection(ct: &mut ConnTimeline, obs: &Observation<'_>, flow_key: Option<&str>) {
    min_str(&mut ct.name, clean(obs.connection));
    min_str(&mut ct.connector, clean(obs.connector));
    if let Some(o) = clean(obs.owner) {
        insert_str_capped(&mut ct.owners, o, MAX_OWNERS);
    }
    if let Some(key) = flow_key {
        let name = clean(obs.flow_name).unwrap_or(key);
        insert_capped(&mut ct.flows, key, name);
    }
}

/// What counting one run needs, read from its observation once.
struct RunFacts<'a> {
    t: Ts,
    day: i64,
    failed: bool,
    category: Category,
    codes: &'a [u32],
    tok: Option<&'a TokenDetails>,
}

impl<'a> RunFacts<'a> {
    fn of(obs: &Observation<'a>, t: Ts) -> Self {
        let (category, codes, tok): (Category, &[u32], Option<&TokenDetails>) = match obs.outcome {
            Outcome::Classified(c) => (
                c.diagnosis.category,
                &c.diagnosis.aadsts,
                c.diagnosis.token.as_deref(),
            ),
            _ => (Category::Unknown, &[], None),
        };
        RunFacts {
            t,
            day: day_of(t),
            failed: !matches!(obs.outcome, Outcome::NotFailed),
            category,
            codes,
            tok,
        }
    }

    /// Count the run on its flow's day.
    fn count_flow(&self, ft: &mut FlowTimeline) {
        ft.days
            .get_or_default(self.day)
            .run(self.t, self.failed, self.category.is_auth());
    }

    /// Count the run on its connection's day, with how it failed.
    fn count_connection(&self, ct: &mut ConnTimeline) {
        if self.failed
            && let Some(svc) = self.tok.and_then(|k| k.service.as_deref())
        {
            insert_str_capped(&mut ct.services, svc, MAX_SERVICES);
        }
        let ds = ct.days.get_or_default(self.day);
        if self.failed {
            ds.fail_at(self.t, self.category, self.codes, self.tok);
        } else {
            ds.ok += 1;
            ds.ok_span = Span::merge(ds.ok_span, Some(Span::at(self.t)));
            ds.ok_hours |= hour_bit(self.t);
        }
    }
}

fn clean(s: Option<&str>) -> Option<&str> {
    s.map(crate::model::trim).filter(|s| !s.is_empty())
}

/// The timeline key of an observation.
pub fn conn_key(obs: &Observation<'_>) -> Option<String> {
    if let Some(c) = clean(obs.connection) {
        return Some(connection_key(c));
    }
    let mut k = String::new();
    write_flow_key(obs, &mut k).then_some(k)
}

/// [`connection_key`] written into a reused buffer.
fn write_connection_key(name: &str, out: &mut String) {
    let t = name.trim().trim_end_matches('/');
    out.clear();
    out.push_str(t.rsplit('/').next().unwrap_or(t));
    out.make_ascii_lowercase();
}

/// The flow key of an observation (its flow id, else its name, else its file) written into
/// `out`; false when there is none.
fn write_flow_key(obs: &Observation<'_>, out: &mut String) -> bool {
    out.clear();
    if let Some(f) = clean(obs.flow_id) {
        out.push_str("flow:");
        out.push_str(f);
        out[5..].make_ascii_lowercase();
    } else if let Some(n) = clean(obs.flow_name) {
        out.push_str("flow-name:");
        out.push_str(n);
    } else if let Some(f) = clean(Some(obs.file)) {
        out.push_str("file:");
        out.push_str(f);
    } else {
        return false;
    }
    true
}

/// The value under `key`, inserted (copying the key) only when new.
fn get_or_insert<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

/// Keep the smaller of a kept name and a new one, copying only when the new one wins.
fn min_str(slot: &mut Option<String>, new: Option<&str>) {
    if let Some(n) = new
        && slot.as_deref().is_none_or(|old| n < old)
    {
        *slot = Some(n.to_string());
    }
}

/// [`union_capped`] with one borrowed item: copies it only when it is kept.
fn insert_str_capped(into: &mut Vec<String>, x: &str, cap: usize) {
    // A full list keeps only the smallest: anything past its last item is out (one compare
    // instead of a binary search, the usual case on a busy connection's day).
    if into.len() >= cap && into.last().is_some_and(|l| x > l.as_str()) {
        return;
    }
    if let Err(i) = into.binary_search_by(|s| s.as_str().cmp(x))
        && i < cap
    {
        into.insert(i, x.to_string());
        into.truncate(cap);
    }
}

fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

fn max_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Sorted union, keeping the `cap` smallest: associative and commutative.
fn union_capped<T: Ord + Clone>(into: &mut Vec<T>, from: &[T], cap: usize) {
    for x in from {
        if let Err(i) = into.binary_search(x) {
            into.insert(i, x.clone());
        }
    }
    into.truncate(cap);
}

fn capped_sorted<T: Ord + Clone>(xs: &[T], cap: usize) -> Vec<T> {
    let mut v = Vec::new();
    union_capped(&mut v, xs, cap);
    v
}

/// Insert into a map keeping only the [`MAX_FLOWS`] smallest keys; an existing key keeps
/// the smaller value.
fn insert_capped(map: &mut BTreeMap<String, String>, k: &str, v: &str) {
    match map.get_mut(k) {
        Some(old) => {
            if v < old.as_str() {
                *old = v.to_string();
            }
        }
        None => {
            map.insert(k.to_string(), v.to_string());
            while map.len() > MAX_FLOWS {
                map.pop_last();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::TokenDetails;
    use crate::infer::testutil::*;
    use crate::model::EvidenceSource;
    use crate::report::Classified;

    /// kind, connection, flow, owner, time, diagnosis (none: a success).
    type Item = (
        InputKind,
        &'static str,
        &'static str,
        &'static str,
        Ts,
        Option<crate::classify::Diagnosis>,
    );

    /// A mixed bag of observations: runs that work and fail, statuses, sign-ins.
    fn fixture() -> Vec<Item> {
        let tok = TokenDetails {
            service: Some("office365".into()),
            correlation_id: Some("corr-1".into()),
            tokens_valid_from: Some(ts("2024-02-03T09:00:00Z")),
            issued_on: Some(ts("2024-01-01T00:00:00Z")),
            ..TokenDetails::default()
        };
        let mut v = Vec::new();
        for d in 0..12i64 {
            let t = ts("2024-02-01T08:00:00Z") + d * 43_200;
            let who = ["adele", "bob", "carol"][(d % 3) as usize];
            let conn = ["c1", "c2"][(d % 2) as usize];
            let diag = match d % 4 {
                0 => None,
                1 => Some(diag(Category::MfaRequired, &[50076], None)),
                2 => Some(diag(Category::TokenRevoked, &[50173], Some(tok.clone()))),
                _ => Some(diag(Category::NotAuth, &[], None)),
            };
            v.push((InputKind::RunHistory, conn, "flow-a", who, t, diag));
        }
        v.push((
            InputKind::ConnectionInventory,
            "c1",
            "",
            "adele",
            ts("2024-02-05T00:00:00Z"),
            Some(diag(Category::TokenInactive, &[70008], Some(tok.clone()))),
        ));
        v.push((
            InputKind::SignInLog,
            "",
            "",
            "dave",
            ts("2024-02-06T00:00:00Z"),
            Some(diag(Category::AccountState, &[50057], None)),
        ));
        v
    }

    fn build(items: &[Item]) -> Timelines {
        let mut t = Timelines::new();
        feed(&mut t, items);
        t
    }

    fn feed(t: &mut Timelines, items: &[Item]) {
        for (kind, conn, flow, owner, time, d) in items {
            let outcome = match d {
                Some(d) => Outcome::Classified(Classified {
                    diagnosis: d,
                    rule: "r",
                    evidence: "",
                    message: "",
                    source: EvidenceSource::RunError,
                }),
                None => Outcome::NotFailed,
            };
            t.observe(&Observation {
                file: "x.csv",
                kind: *kind,
                run_id: None,
                flow_id: (!flow.is_empty()).then_some(*flow),
                // Names present or missing in turn, so that every part of a run's names
                // key is exercised: a flow's name beside its id for some flows, no
                // connector for some connections, no owner where the fixture gives none.
                flow_name: flow.ends_with(['1', '3', '5']).then_some(*flow),
                environment: None,
                owner: (!owner.is_empty()).then_some(*owner),
                connection: (!conn.is_empty()).then_some(*conn),
                connector: (!conn.ends_with('7')).then_some("shared_office365"),
                time: Some(*time),
                outcome,
            });
        }
    }

    fn json(t: &Timelines) -> String {
        serde_json::to_string(t).unwrap()
    }

    #[test]
    fn merge_is_commutative_and_matches_one_pass() {
        let items = fixture();
        let whole = json(&build(&items));
        for k in 0..=items.len() {
            let (a, b) = items.split_at(k);
            let (ta, tb) = (build(a), build(b));
            let mut ab = ta.clone();
            ab.merge(&tb);
            let mut ba = tb.clone();
            ba.merge(&ta);
            assert_eq!(json(&ab), whole, "split at {k}");
            assert_eq!(json(&ba), whole, "split at {k}, reversed");
        }
    }

    /// Workers sharing one store of runs, each with its own store for the rest, end with
    /// what one store fed everything gives, however the items are dealt out and in whatever
    /// order the workers run (here: interleaved one item at a time on threads).
    #[test]
    fn a_shared_store_matches_one_store() {
        let items = fixture();
        let whole = json(&build(&items));
        for workers in 1..=3 {
            for offset in 0..workers {
                let runs = SharedRuns::new();
                let parts: Vec<Timelines> = std::thread::scope(|s| {
                    let handles: Vec<_> = (0..workers)
                        .map(|w| {
                            let runs = runs.clone();
                            let mine: Vec<Item> = items
                                .iter()
                                .enumerate()
                                .filter(|(i, _)| (i + offset) % workers == w)
                                .map(|(_, it)| it.clone())
                                .collect();
                            s.spawn(move || {
                                let mut t = Timelines::new();
                                t.share(runs);
                                for it in &mine {
                                    feed(&mut t, std::slice::from_ref(it));
                                    std::thread::yield_now();
                                }
                                t.unshare();
                                t
                            })
                        })
                        .collect();
                    handles.into_iter().map(|h| h.join().unwrap()).collect()
                });
                let mut all = Timelines::new();
                for p in &parts {
                    assert!(
                        p.flows.is_empty() && p.connections.iter().all(|(_, c)| c.days.is_empty())
                    );
                    all.merge(p);
                }
                all.absorb(runs.take());
                assert_eq!(json(&all), whole, "{workers} workers, offset {offset}");
                assert!(runs.take().flows.is_empty(), "take empties the store");
            }
        }
    }

    /// Many runs over many names: more than a batch, runs that wait and runs counted at
    /// once (a token's details, more codes than a waiting run keeps), and a connection
    /// status and a sign-in.
    fn many_runs() -> Vec<Item> {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let flows: Vec<&str> = (0..40).map(|i| leak(format!("flow-{i}"))).collect();
        let conns: Vec<&str> = (0..25).map(|i| leak(format!("conn-{i}"))).collect();
        let owners = ["adele", "bob", "carol", "dave", ""];
        let tok = TokenDetails {
            service: Some("office365".into()),
            correlation_id: Some("corr-9".into()),
            ..TokenDetails::default()
        };
        let mut v: Vec<Item> = (0..3 * BATCH + 7)
            .map(|i| {
                let t = ts("2024-01-01T00:00:00Z") + (i as i64 * 7_919) % (60 * 86_400);
                let diag = match i % 7 {
                    0..=2 => None,
                    3 => Some(diag(Category::MfaRequired, &[50076], None)),
                    4 => Some(diag(Category::TokenRevoked, &[50173], Some(tok.clone()))),
                    5 => Some(diag(Category::CaBlocked, &[53003, 50158, 530032], None)),
                    _ => Some(diag(Category::NotAuth, &[], None)),
                };
                let flow = if i % 11 == 0 {
                    ""
                } else {
                    flows[i * 7 % flows.len()]
                };
                let conn = if i % 13 == 0 {
                    ""
                } else {
                    conns[i % conns.len()]
                };
                (InputKind::RunHistory, conn, flow, owners[i % 5], t, diag)
            })
            .collect();
        v.extend(
            fixture()
                .into_iter()
                .filter(|it| it.0 != InputKind::RunHistory),
        );
        v
    }

    #[test]
    fn a_shared_store_counts_batches_like_one_store() {
        let items = many_runs();
        let whole = json(&build(&items));
        for workers in 1..=3 {
            let runs = SharedRuns::new();
            let parts: Vec<Timelines> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..workers)
                    .map(|w| {
                        let runs = runs.clone();
                        let mine: Vec<Item> =
                            items.iter().skip(w).step_by(workers).cloned().collect();
                        s.spawn(move || {
                            let mut t = Timelines::new();
                            t.share(runs);
                            feed(&mut t, &mine);
                            t.unshare();
                            t
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let mut all = Timelines::new();
            for p in &parts {
                all.merge(p);
            }
            all.absorb(runs.take());
            assert_eq!(json(&all), whole, "{workers} workers");
        }
    }

    /// Runs wait until a batch is full or the store stops sharing, and are counted then.
    #[test]
    fn waiting_runs_are_counted_when_sharing_stops() {
        let items: Vec<Item> = many_runs()
            .into_iter()
            .filter(|it| it.0 == InputKind::RunHistory && it.5.is_none())
            .take(BATCH - 1)
            .collect();
        let runs = SharedRuns::new();
        let mut t = Timelines::new();
        t.share(runs.clone());
        feed(&mut t, &items);
        let counted = |runs: &SharedRuns| -> u64 {
            runs.flows
                .iter()
                .flat_map(|s| {
                    s.lock()
                        .values()
                        .map(|f| f.days.values().map(FlowDay::ok).sum::<u64>())
                        .collect::<Vec<_>>()
                })
                .sum()
        };
        assert_eq!(counted(&runs), 0, "a batch that is not full waits");
        t.unshare();
        assert_eq!(counted(&runs), items.len() as u64);
        t.absorb(runs.take());
        assert_eq!(json(&t), json(&build(&items)));
    }

    #[test]
    fn merge_is_associative() {
        let items = fixture();
        let n = items.len();
        let (a, rest) = items.split_at(n / 3);
        let (b, c) = rest.split_at(n / 3);
        let (ta, tb, tc) = (build(a), build(b), build(c));
        let mut left = ta.clone();
        left.merge(&tb);
        left.merge(&tc);
        let mut bc = tb.clone();
        bc.merge(&tc);
        let mut right = ta.clone();
        right.merge(&bc);
        assert_eq!(json(&left), json(&right));
    }

    #[test]
    fn json_round_trips() {
        let t = build(&fixture());
        let back: Timelines = serde_json::from_str(&json(&t)).unwrap();
        assert_eq!(back, t);
        // Usage and failures are counted from runs only; the status is kept apart.
        let c1 = &t.connections["c1"];
        assert!(c1.status.is_some());
        let runs: u64 = c1.days.values().map(|d| d.ok + d.fail).sum();
        assert_eq!(runs, 6);
        assert!(t.owners["dave"].account.is_some());
        assert_eq!(t.latest, Some(ts("2024-02-06T20:00:00Z")));
    }

    /// The names cache only saves work: every run observed on its own and merged gives
    /// the same timelines as one pass that reuses resolved names.
    #[test]
    fn resolved_names_change_nothing() {
        let items = fixture();
        let whole = build(&items);
        assert!(whole.hot.cache.len() > 0);
        let mut one_by_one = Timelines::new();
        for item in &items {
            one_by_one.merge(&build(std::slice::from_ref(item)));
        }
        assert_eq!(json(&one_by_one), json(&whole));
    }

    /// A flow day keeps seconds into the day; its spans, merge and JSON give back the
    /// absolute times, and JSON whose span leaves its day is refused.
    #[test]
    fn flow_days_are_compact_and_exact() {
        let day = day_of(ts("2024-02-01T00:00:00Z"));
        let mut a = FlowDay::default();
        a.run(ts("2024-02-01T23:59:59Z"), false, false);
        a.run(ts("2024-02-01T08:00:00Z"), true, true);
        let mut b = FlowDay::default();
        b.run(ts("2024-02-01T00:00:00Z"), false, false);
        b.run(ts("2024-02-01T09:30:00Z"), true, false);
        a.merge(&b);
        assert_eq!((a.ok(), a.fail(), a.auth_fail()), (2, 2, 1));
        assert_eq!(
            a.ok_span(day),
            Some(Span {
                min: ts("2024-02-01T00:00:00Z"),
                max: ts("2024-02-01T23:59:59Z")
            })
        );
        assert_eq!(
            a.fail_span(day).map(|s| (s.min, s.max)),
            Some((ts("2024-02-01T08:00:00Z"), ts("2024-02-01T09:30:00Z")))
        );
        assert_eq!(FlowDay::default().ok_span(day), None);
        assert!(std::mem::size_of::<FlowDay>() <= 28);

        let ft = FlowTimeline {
            days: [(day, a)].into_iter().collect(),
            ..FlowTimeline::default()
        };
        let j = serde_json::to_string(&ft).unwrap();
        assert!(
            j.contains(r#""ok":2,"fail":2,"auth_fail":1,"ok_span":{"#),
            "{j}"
        );
        assert_eq!(serde_json::from_str::<FlowTimeline>(&j).unwrap(), ft);
        let outside = format!(
            r#"{{"days":{{"{day}":{{"ok":1,"fail":0,"auth_fail":0,"ok_span":{{"min":{},"max":{}}}}}}}}}"#,
            day * 86_400 - 1,
            day * 86_400
        );
        let e = serde_json::from_str::<FlowTimeline>(&outside).unwrap_err();
        assert!(e.to_string().contains("not inside the day"), "{e}");
    }

    #[test]
    fn name_keys_never_collide() {
        let enc = |names: &[Option<&str>]| {
            let mut k = Vec::new();
            for n in names {
                hot::encode_name(&mut k, *n);
            }
            k
        };
        let lists: [&[Option<&str>]; 6] = [
            &[Some("ab"), None],
            &[Some("a"), Some("b")],
            &[None, Some("ab")],
            &[Some(""), Some("ab")],
            &[Some("ab"), Some("")],
            &[Some("a\u{ff}"), None],
        ];
        for (i, a) in lists.iter().enumerate() {
            for (j, b) in lists.iter().enumerate() {
                assert_eq!(enc(a) == enc(b), i == j, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn names_cache_is_bounded_and_stays_right() {
        let ok_run = |t: &mut Timelines, flow: &str, time: &str| {
            t.observe(&Observation {
                file: "x.csv",
                kind: InputKind::RunHistory,
                run_id: None,
                flow_id: Some(flow),
                flow_name: None,
                environment: None,
                owner: Some("adele"),
                connection: Some("c1"),
                connector: None,
                time: Some(ts(time)),
                outcome: Outcome::NotFailed,
            })
        };
        let mut t = Timelines::new();
        let n = hot::MAX_KEYS + 10;
        for i in 0..n {
            ok_run(&mut t, &format!("flow{i}"), "2024-02-01T08:00:00Z");
        }
        // Full at MAX_KEYS names, the cache started afresh and holds the last ten.
        assert_eq!(t.hot.cache.len(), 10);
        assert_eq!(t.flows.len(), n);
        // The first flow's names are no longer cached; written another way, they still
        // resolve to its entry.
        ok_run(&mut t, " FLOW0 ", "2024-02-01T09:00:00Z");
        ok_run(&mut t, " FLOW0 ", "2024-02-01T09:00:00Z");
        assert_eq!(t.flows.len(), n);
        assert_eq!(
            t.flows["flow:flow0"]
                .days
                .values()
                .map(FlowDay::ok)
                .sum::<u64>(),
            3
        );
        assert_eq!(
            t.connections["c1"].days.values().map(|d| d.ok).sum::<u64>(),
            n as u64 + 2
        );
    }

    /// The counting sort gives what sorting by shard, then by run, gave.
    #[test]
    fn by_shard_is_a_stable_sort_by_shard() {
        let mut rng = crate::r#gen::rng::Rng::new(7, 0);
        for len in [0, 1, 5, 1024] {
            let at: Vec<AtRun> = (0..len)
                .map(|n| {
                    (
                        (rng.below(SHARDS as u64) as usize, rng.below(99) as usize),
                        n,
                    )
                })
                .collect();
            let (sorted, ends) = by_shard(&at, SHARDS);
            let mut want = at.clone();
            want.sort_by_key(|&((s, _), n)| (s, n));
            assert_eq!(sorted, want);
            assert_eq!(ends.len(), SHARDS);
            for (s, &end) in ends.iter().enumerate() {
                assert_eq!(end, want.iter().filter(|a| a.0.0 <= s).count());
            }
        }
    }

    #[test]
    fn caps_bound_memory() {
        let mut t = Timelines::new();
        let d = diag(Category::MfaRequired, &[50076], None);
        for i in 0..100 {
            let owner = format!("owner{i:03}");
            let flow = format!("flow{i:03}");
            t.observe(&Observation {
                file: "x.csv",
                kind: InputKind::RunHistory,
                run_id: None,
                flow_id: Some(&flow),
                flow_name: None,
                environment: None,
                owner: Some(&owner),
                connection: Some("shared"),
                connector: None,
                time: Some(ts("2024-02-01T08:00:00Z") + i),
                outcome: Outcome::Classified(Classified {
                    diagnosis: &d,
                    rule: "r",
                    evidence: "",
                    message: "",
                    source: EvidenceSource::RunError,
                }),
            });
        }
        let c = &t.connections["shared"];
        assert_eq!(c.days.len(), 1);
        let day = c.days.values().next().unwrap();
        assert_eq!(day.fail, 100);
        assert_eq!(c.flows.len(), MAX_FLOWS);
        assert_eq!(c.owners.len(), MAX_OWNERS);
    }
}

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
//! | `inactivity` | [`inactivity`] | per connection: its token-inactive failure episodes after ≥ 90 days without use |
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
pub mod days;
mod hot;
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
pub use timeline::{SharedRuns, Timelines};

use crate::join::JoinIndex;
use crate::model::Ts;
use crate::report::{Finding, FindingKind};
use crate::time::{format_day, format_iso};
use crate::vocab::{Actor, Confidence, Fix, RootCause};
use rayon::prelude::*;
use serde_json::{Map, Value};

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Seconds in an hour.
pub const HOUR: i64 = 3_600;

/// Run every rule over the merged timelines and the join index. `as_of` is the moment the
/// forecast and the dormancy rule count from; by default the latest time in the input.
pub fn infer(t: &Timelines, index: &JoinIndex, as_of: Option<Ts>) -> Vec<Finding> {
    let as_of = as_of.or(t.latest);
    // The rules only read the timelines and the index: they run side by side, and their
    // findings are concatenated in this fixed order before the sort.
    let rules: [&(dyn Fn() -> Vec<Finding> + Sync); 6] = [
        &|| wave::find(t, index),
        &|| inactivity::find(t, index),
        &|| as_of.map_or_else(Vec::new, |now| inactivity::forecast(t, now)),
        &|| revocation::find(t, index),
        &|| owner::find(t, index),
        &|| confounder::find(t, index, as_of),
    ];
    let (mut cadences, found) = rayon::join(
        || cadence::find(t, index),
        || rules.par_iter().map(|rule| rule()).collect::<Vec<_>>(),
    );
    let mut out: Vec<Finding> = found.into_iter().flatten().collect();
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

/// One line of sign-in evidence for a connection's failure at `at` (a category the rule
/// cares about): the failure's Entra ids from the timeline, else the owner and a ±10 min
/// window. `None` when the sign-in log has nothing.
pub(crate) fn sign_in_line(
    index: &JoinIndex,
    ct: &timeline::ConnTimeline,
    at: Ts,
    wanted: impl Fn(crate::vocab::Category) -> bool,
) -> Option<String> {
    if index.sign_ins.is_empty() {
        return None;
    }
    let sample = ct
        .days
        .get(&crate::time::day_of(at))
        .into_iter()
        .flat_map(|d| d.cats.iter())
        .filter(|c| wanted(c.category))
        .filter_map(|c| c.sample.as_ref())
        .min();
    let q = SignInQuery {
        correlation_id: sample.and_then(|s| s.correlation_id.as_deref()),
        trace_id: sample.and_then(|s| s.trace_id.as_deref()),
        user: ct.owner(),
        service: sample
            .and_then(|s| s.service.as_deref())
            .or(ct.connector.as_deref()),
        time: Some(sample.map_or(at, |s| s.time)),
    };
    match_sign_ins(index, &q).first().map(SignInMatch::describe)
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

/// `AADSTS70008, AADSTS700082`.
pub(crate) fn aadsts_list<'a>(codes: impl IntoIterator<Item = &'a u32>) -> String {
    codes
        .into_iter()
        .map(|&c| crate::report::render::aadsts(c))
        .collect::<Vec<_>>()
        .join(", ")
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

    /// One tenant's story (after `samples/README.md`): a CA wave, a 14-day cycle with a
    /// 14-day MaxAgeMultiFactor policy, a password reset, a leaver, an idle quarterly flow
    /// and throttling noise. Each finding fires once, where it should, and nowhere else.
    #[test]
    fn one_tenant_story() {
        use crate::classify::TokenDetails;
        use crate::model::{AppliedPolicy, PolicyRecord, SignInRecord};
        use crate::vocab::Category;
        const BASE: &str = "2024-03-01T06:15:00Z";
        let mut b = Builder::new();
        // The wave on day 62, each flow at its next hourly slot.
        let wave = [
            ("w1", "adele"),
            ("w2", "adele"),
            ("w3", "diego"),
            ("w4", "lynne"),
            ("w5", "nestor"),
        ];
        for (i, (c, o)) in wave.iter().enumerate() {
            for d in 0..62 {
                b.ok(c, c, o, &at(BASE, d, i as i64));
            }
            for d in 62..64 {
                b.fail_cat(
                    c,
                    c,
                    o,
                    &at(BASE, d, i as i64),
                    Category::MfaRequired,
                    &[50076],
                );
            }
        }
        // Alex: fails 14 days after each repair, repaired three hours later.
        let mut repair = crate::infer::testutil::ts(BASE);
        for _ in 0..5 {
            let mut t = repair;
            while t < repair + 14 * DAY {
                b.ok("c03", "f03", "alex", &format_iso(t));
                t += 6 * HOUR;
            }
            b.fail_cat(
                "c03",
                "f03",
                "alex",
                &format_iso(t),
                Category::MfaRequired,
                &[50076],
            );
            b.fail_cat(
                "c03",
                "f03",
                "alex",
                &format_iso(t + HOUR),
                Category::MfaRequired,
                &[50076],
            );
            repair = t + 3 * HOUR;
        }
        // Megan resets her password on day 50: three connections, one instant.
        for c in ["m1", "m2", "m3"] {
            b.ok(c, c, "megan", &at(BASE, 49, 0));
            let d = diag(
                Category::TokenRevoked,
                &[50173],
                Some(TokenDetails {
                    tokens_valid_from: Some(crate::infer::testutil::ts("2024-04-20T09:14:07Z")),
                    ..TokenDetails::default()
                }),
            );
            b.fail_diag(c, c, "megan", &at(BASE, 51, 0), &d);
        }
        // Lee is disabled on day 60.
        b.ok("l1", "l1", "lee", &at(BASE, 59, 0));
        b.fail_cat(
            "l1",
            "l1",
            "lee",
            &at(BASE, 60, 0),
            Category::AccountState,
            &[50057],
        );
        // Nestor's quarterly flow, idle 95 days (input starts earlier for it).
        b.ok("q1", "q1", "nestor", "2023-12-01T08:00:00Z");
        b.fail_cat(
            "q1",
            "q1",
            "nestor",
            &at("2023-12-01T08:00:00Z", 95, 0),
            Category::TokenInactive,
            &[700082],
        );
        // Pradeep's throttling, all over the wave days too.
        for d in 0..70 {
            let cat = if d % 3 == 0 {
                Category::NotAuth
            } else {
                Category::Transient
            };
            if d % 2 == 0 {
                b.ok("p1", "p1", "pradeep", &at(BASE, d, 1));
            } else {
                b.fail_cat("p1", "p1", "pradeep", &at(BASE, d, 1), cat, &[]);
            }
        }

        let mut j = JoinIndex::new();
        for (i, (_, o)) in wave.iter().enumerate() {
            j.add_sign_in(SignInRecord {
                time: Some(crate::infer::testutil::ts(&at(BASE, 62, i as i64))),
                user_upn: Some(o.to_string()),
                error_code: 50076,
                policies: vec![AppliedPolicy {
                    name: "CA012: Require MFA for Office 365".into(),
                    result: "failure".into(),
                    grant_controls: vec!["Mfa".into()],
                    session_controls: vec![],
                }],
                ..SignInRecord::default()
            });
        }
        j.add_policy(PolicyRecord {
            display_name: Some("OrganizationDefaultPolicyScenario".into()),
            definition: r#"{"TokenLifetimePolicy":{"Version":1,"MaxAgeMultiFactor":"14.00:00:00","MaxAgeSessionMultiFactor":"14.00:00:00"}}"#.into(),
            ..PolicyRecord::default()
        });

        let as_of = crate::infer::testutil::ts(&at(BASE, 70, 0));
        let f = infer(&b.t, &j, Some(as_of));
        let of = |k: FindingKind| f.iter().filter(|x| x.kind == k).collect::<Vec<_>>();

        let w = of(FindingKind::PolicyWave);
        assert_eq!(w.len(), 1, "{w:#?}");
        assert_eq!(w[0].connections, ["w1", "w2", "w3", "w4", "w5"]);
        assert_eq!(w[0].confidence, Confidence::Certain);
        assert!(w[0].title.contains("CA012"));

        let c = of(FindingKind::Cadence);
        assert_eq!(c.len(), 1, "{c:#?}");
        assert_eq!(c[0].connections, ["c03"]);
        assert_eq!(c[0].details["interval_days"], 14);
        assert!(
            c[0].evidence
                .iter()
                .any(|e| e.contains("OrganizationDefaultPolicyScenario"))
        );

        let r = of(FindingKind::Revocation);
        assert_eq!(r.len(), 1, "{r:#?}");
        assert_eq!(r[0].owners, ["megan"]);

        let g = of(FindingKind::OwnerGone);
        assert_eq!(g.len(), 1, "{g:#?}");
        assert_eq!(g[0].owners, ["lee"]);

        let i = of(FindingKind::Inactivity);
        assert_eq!(i.len(), 1, "{i:#?}");
        assert_eq!(i[0].connections, ["q1"]);

        let p = of(FindingKind::TokenPolicy);
        assert_eq!(p.len(), 1);
        assert!(
            p[0].evidence.iter().any(|e| e.contains("c03")),
            "{:#?}",
            p[0].evidence
        );

        // Nothing about Pradeep's noise.
        assert!(
            !f.iter().any(|x| x.owners.iter().any(|o| o == "pradeep")),
            "{f:#?}"
        );
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

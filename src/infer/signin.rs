//! The sign-in join: which Entra sign-in record(s) belong to a failing run or connection
//! error, and what they say (conditional access policies with result failure, their grant
//! controls, the failure reason, device and location).
//!
//! Match order, strongest first (the match used is reported as [`MatchMethod`]):
//! 1. `correlation-id`: the token-refresh message's `correlation_id` equals the sign-in's
//!    correlation id;
//! 2. `request-id`: the message's `trace_id` equals the sign-in's request id;
//! 3. `user-time-window`: same person (through the people directory), a compatible resource
//!    (the connector's service against the sign-in's resource or app, when both are known) and
//!    a time within ±[`WINDOW`] seconds. At most [`MAX_WINDOW_MATCHES`] nearest are kept.

use crate::join::JoinIndex;
use crate::model::{SignInRecord, Ts};
use serde::{Deserialize, Serialize};

/// The time window for a user-and-time match: ±10 minutes.
pub const WINDOW: i64 = 600;
/// At most this many sign-ins are returned for a window match.
pub const MAX_WINDOW_MATCHES: usize = 3;

/// How a sign-in was matched to a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchMethod {
    CorrelationId,
    RequestId,
    UserTimeWindow,
}

impl MatchMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchMethod::CorrelationId => "correlation-id",
            MatchMethod::RequestId => "request-id",
            MatchMethod::UserTimeWindow => "user-time-window",
        }
    }
}

/// What to look for: the ids and context of one failure.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignInQuery<'a> {
    pub correlation_id: Option<&'a str>,
    pub trace_id: Option<&'a str>,
    /// The person (owner label, UPN, id or name).
    pub user: Option<&'a str>,
    /// Token service or connector (`office365`, `shared_sharepointonline`).
    pub service: Option<&'a str>,
    /// When the failure happened (the message's UTC timestamp is best).
    pub time: Option<Ts>,
}

impl<'a> SignInQuery<'a> {
    /// A query from a diagnosis's parsed token fields, the owner and the run time.
    pub fn from_diagnosis(
        d: &'a crate::classify::Diagnosis,
        owner: Option<&'a str>,
        connector: Option<&'a str>,
        time: Option<Ts>,
    ) -> Self {
        let tok = d.token.as_deref();
        SignInQuery {
            correlation_id: tok.and_then(|t| t.correlation_id.as_deref()),
            trace_id: tok.and_then(|t| t.trace_id.as_deref()),
            user: owner,
            service: tok.and_then(|t| t.service.as_deref()).or(connector),
            time: tok.and_then(|t| t.timestamp).or(time),
        }
    }
}

/// A conditional access policy that failed in a sign-in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FailedPolicy {
    pub name: String,
    pub grant_controls: Vec<String>,
    pub session_controls: Vec<String>,
}

/// One sign-in matched to a failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInMatch {
    pub method: MatchMethod,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<Ts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub error_code: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_status: Option<String>,
    /// Policies with result `failure`.
    pub failed_policies: Vec<FailedPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_app: Option<String>,
}

impl SignInMatch {
    fn new(s: &SignInRecord, method: MatchMethod, index: &JoinIndex) -> Self {
        SignInMatch {
            method,
            time: s.time,
            request_id: s.request_id.clone(),
            correlation_id: s.correlation_id.clone(),
            user: user_key(s).map(|k| index.person_label(k)),
            app: s.app.clone(),
            resource: s.resource.clone(),
            error_code: s.error_code,
            failure_reason: s.failure_reason.clone(),
            ca_status: s.ca_status.clone(),
            failed_policies: failed_policies(s),
            device: s.device.clone(),
            location: s.location.clone(),
            ip: s.ip.clone(),
            client_app: s.client_app.clone(),
        }
    }

    /// One line of evidence: `sign-in 2024-05-02 06:01 UTC (correlation-id): AADSTS50076,
    /// CA policy "Require MFA" failed (grant: Mfa), device ..., location ...`.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "sign-in {} matched by {}: AADSTS{}",
            self.time.map(super::when).unwrap_or_else(|| "?".into()),
            self.method.as_str(),
            self.error_code
        );
        if let Some(u) = &self.user {
            s.push_str(&format!(", user {u}"));
        }
        if let Some(r) = self.resource.as_ref().or(self.app.as_ref()) {
            s.push_str(&format!(", resource {r}"));
        }
        if let Some(r) = &self.failure_reason {
            s.push_str(&format!(", reason \"{}\"", r.trim()));
        }
        for p in &self.failed_policies {
            s.push_str(&format!(", CA policy \"{}\" failed", p.name));
            if !p.grant_controls.is_empty() {
                s.push_str(&format!(" (grant: {})", p.grant_controls.join(", ")));
            }
        }
        if let Some(d) = &self.device {
            s.push_str(&format!(", device {d}"));
        }
        if let Some(l) = &self.location {
            s.push_str(&format!(", location {l}"));
        }
        s
    }
}

/// Policies whose result is `failure` (enforced; report-only results are left out).
pub fn failed_policies(s: &SignInRecord) -> Vec<FailedPolicy> {
    let mut v: Vec<FailedPolicy> = s
        .policies
        .iter()
        .filter(|p| p.result.trim().eq_ignore_ascii_case("failure"))
        .map(|p| FailedPolicy {
            name: p.name.clone(),
            grant_controls: p.grant_controls.clone(),
            session_controls: p.session_controls.clone(),
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

fn user_key(s: &SignInRecord) -> Option<&str> {
    s.user_upn
        .as_deref()
        .or(s.user_id.as_deref())
        .or(s.user_name.as_deref())
}

/// Does the sign-in's user name the same person as `who` (a label, UPN, id or name)?
pub fn same_person(index: &JoinIndex, who: &str, s: &SignInRecord) -> bool {
    let want = index.person_label(who).to_ascii_lowercase();
    let who_l = who.trim().to_ascii_lowercase();
    [
        s.user_id.as_deref(),
        s.user_upn.as_deref(),
        s.user_name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(|k| k.trim().to_ascii_lowercase())
    .filter(|k| !k.is_empty())
    .any(|k| {
        k == who_l || index.person_label(&k).to_ascii_lowercase() == want || {
            // A label `Name <upn>` contains the UPN.
            k.contains('@') && who_l.contains(&format!("<{k}>"))
        }
    })
}

/// Words a sign-in's resource or app name carries for a connector service.
fn resource_words(service: &str) -> &'static [&'static str] {
    let s = service.to_ascii_lowercase();
    let s = s.trim_start_matches("shared_");
    match s {
        "office365" | "office365users" | "office365groups" | "outlook" | "exchange" => {
            &["exchange", "outlook", "graph"]
        }
        "sharepointonline" | "onedriveforbusiness" | "excelonlinebusiness" => {
            &["sharepoint", "onedrive", "graph"]
        }
        "teams" => &["teams", "skype", "graph"],
        "planner" | "todo" | "onenote" => &["graph", "planner"],
        "commondataservice" | "commondataserviceforapps" | "dynamicscrmonline" => {
            &["dynamics", "dataverse", "crm", "common data"]
        }
        "flow" | "flowmanagement" | "logicflows" => &["flow", "power automate"],
        _ => &[],
    }
}

/// Is the sign-in about the service's resource? Unknown on either side counts as yes.
fn resource_fits(service: Option<&str>, s: &SignInRecord) -> bool {
    let Some(svc) = service else { return true };
    let words = resource_words(svc);
    if words.is_empty() {
        return true;
    }
    let names: Vec<String> = [s.resource.as_deref(), s.app.as_deref()]
        .into_iter()
        .flatten()
        .map(str::to_ascii_lowercase)
        .collect();
    if names.is_empty() {
        return true;
    }
    names
        .iter()
        .any(|n| words.iter().any(|w| n.contains(w)) || n.contains("flow"))
}

fn eq_id(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            let (a, b) = (a.trim(), b.trim());
            !a.is_empty() && a.eq_ignore_ascii_case(b)
        }
        _ => false,
    }
}

/// The sign-ins (from the index's failed sign-ins) that belong to a failure, strongest match
/// first. Empty when nothing matches.
pub fn match_sign_ins(index: &JoinIndex, q: &SignInQuery<'_>) -> Vec<SignInMatch> {
    let by_corr: Vec<SignInMatch> = index
        .sign_ins
        .iter()
        .filter(|s| eq_id(q.correlation_id, s.correlation_id.as_deref()))
        .map(|s| SignInMatch::new(s, MatchMethod::CorrelationId, index))
        .collect();
    if !by_corr.is_empty() {
        return by_corr;
    }
    let by_req: Vec<SignInMatch> = index
        .sign_ins
        .iter()
        .filter(|s| eq_id(q.trace_id, s.request_id.as_deref()))
        .map(|s| SignInMatch::new(s, MatchMethod::RequestId, index))
        .collect();
    if !by_req.is_empty() {
        return by_req;
    }
    let (Some(user), Some(t)) = (q.user, q.time) else {
        return Vec::new();
    };
    let mut near: Vec<(i64, &SignInRecord)> = index
        .sign_ins
        .iter()
        .filter_map(|s| {
            let st = s.time?;
            let d = (st - t).abs();
            (d <= WINDOW && same_person(index, user, s) && resource_fits(q.service, s))
                .then_some((d, s))
        })
        .collect();
    near.sort_by(|a, b| (a.0, a.1.time, &a.1.request_id).cmp(&(b.0, b.1.time, &b.1.request_id)));
    near.into_iter()
        .take(MAX_WINDOW_MATCHES)
        .map(|(_, s)| SignInMatch::new(s, MatchMethod::UserTimeWindow, index))
        .collect()
}

/// The failed sign-ins of one person within `[from, to]`.
pub fn sign_ins_of<'i>(
    index: &'i JoinIndex,
    who: &str,
    from: Ts,
    to: Ts,
) -> impl Iterator<Item = &'i SignInRecord> {
    let who = who.to_string();
    index.sign_ins.iter().filter(move |s| {
        s.time.is_some_and(|t| t >= from && t <= to) && same_person(index, &who, s)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AppliedPolicy;

    pub fn sign_in(user: &str, at: &str, code: u32, policy: Option<&str>) -> SignInRecord {
        SignInRecord {
            time: Some(crate::infer::testutil::ts(at)),
            request_id: Some(format!("req-{user}-{at}")),
            correlation_id: Some(format!("corr-{user}-{at}")),
            user_upn: Some(user.to_string()),
            resource: Some("Office 365 Exchange Online".into()),
            error_code: code,
            failure_reason: Some("you must use multi-factor authentication".into()),
            ca_status: Some("failure".into()),
            policies: policy
                .map(|p| {
                    vec![
                        AppliedPolicy {
                            name: p.into(),
                            result: "failure".into(),
                            grant_controls: vec!["Mfa".into()],
                            session_controls: vec![],
                        },
                        AppliedPolicy {
                            name: "Report only".into(),
                            result: "reportOnlyFailure".into(),
                            grant_controls: vec!["Block".into()],
                            session_controls: vec![],
                        },
                    ]
                })
                .unwrap_or_default(),
            device: Some("Windows 10".into()),
            location: Some("Dublin, IE".into()),
            ..SignInRecord::default()
        }
    }

    fn index() -> JoinIndex {
        let mut j = JoinIndex::new();
        j.add_sign_in(sign_in(
            "adele@contoso.com",
            "2024-05-02T06:01:12Z",
            50076,
            Some("CA001 Require MFA"),
        ));
        j.add_sign_in(sign_in(
            "bob@contoso.com",
            "2024-05-02T06:03:00Z",
            53003,
            None,
        ));
        j
    }

    #[test]
    fn correlation_id_wins() {
        let j = index();
        let q = SignInQuery {
            correlation_id: Some("CORR-adele@contoso.com-2024-05-02T06:01:12Z"),
            ..SignInQuery::default()
        };
        let m = match_sign_ins(&j, &q);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].method, MatchMethod::CorrelationId);
        assert_eq!(
            m[0].failed_policies.len(),
            1,
            "report-only results are left out"
        );
        assert_eq!(m[0].failed_policies[0].name, "CA001 Require MFA");
        assert_eq!(m[0].failed_policies[0].grant_controls, vec!["Mfa"]);
        let line = m[0].describe();
        assert!(line.contains("correlation-id") && line.contains("CA001 Require MFA"));
        assert!(line.contains("Dublin, IE") && line.contains("Windows 10"));
    }

    #[test]
    fn request_id_then_window() {
        let j = index();
        let q = SignInQuery {
            correlation_id: Some("nope"),
            trace_id: Some("req-bob@contoso.com-2024-05-02T06:03:00Z"),
            ..SignInQuery::default()
        };
        assert_eq!(match_sign_ins(&j, &q)[0].method, MatchMethod::RequestId);

        let t = crate::infer::testutil::ts("2024-05-02T06:08:00Z");
        let q = SignInQuery {
            user: Some("adele@contoso.com"),
            service: Some("office365"),
            time: Some(t),
            ..SignInQuery::default()
        };
        let m = match_sign_ins(&j, &q);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].method, MatchMethod::UserTimeWindow);
        assert_eq!(m[0].error_code, 50076);
    }

    #[test]
    fn window_needs_user_time_and_resource() {
        let j = index();
        let far = crate::infer::testutil::ts("2024-05-02T07:30:00Z");
        let q = SignInQuery {
            user: Some("adele@contoso.com"),
            time: Some(far),
            ..SignInQuery::default()
        };
        assert!(match_sign_ins(&j, &q).is_empty(), "outside ±10 min");
        let near = crate::infer::testutil::ts("2024-05-02T06:02:00Z");
        let q = SignInQuery {
            user: Some("carol@contoso.com"),
            time: Some(near),
            ..SignInQuery::default()
        };
        assert!(match_sign_ins(&j, &q).is_empty(), "another person");
        let q = SignInQuery {
            user: Some("adele@contoso.com"),
            service: Some("sharepointonline"),
            time: Some(near),
            ..SignInQuery::default()
        };
        assert!(match_sign_ins(&j, &q).is_empty(), "another resource");
    }
}

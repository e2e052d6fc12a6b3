//! Token lifetime policies against the recommended values (source document, KB 4467879):
//! `MaxInactiveTime` 90 days, `MaxAgeSingleFactor` and `MaxAgeMultiFactor` until-revoked,
//! `MaxAgeSessionMultiFactor` as the admin chooses. Since 2021-01-30 Entra no longer enforces
//! the refresh and session token settings (`MaxInactiveTime`, `MaxAge*`); only
//! `AccessTokenLifetime` is still honoured. Old policies still export with the retired
//! settings, so each is flagged "not enforced since 2021-01-30".
//!
//! [`check`] turns one policy into a `token-policy` finding: `certain` about what the policy
//! says; what it does (a fixed `MaxAgeMultiFactor` breaking connections with AADSTS50076
//! every N days, as the source document claims) is stated as a hypothesis in the evidence.

use super::{DAY, finding, put};
use crate::model::{PolicyRecord, Ts};
use crate::report::{Finding, FindingKind};
use crate::time::parse_timespan;
use crate::vocab::{Actor, Confidence, Fix};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The date Entra stopped enforcing refresh and session token lifetime settings.
pub const RETIRED_ON: &str = "2021-01-30";

/// The status of one setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Enforced and as recommended (or a free choice within limits).
    Ok,
    /// Enforced and not as recommended.
    Differs,
    /// Retired: exported but not enforced since 2021-01-30.
    RetiredNotEnforced,
    /// A property flowdx does not know.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Differs => "differs",
            Status::RetiredNotEnforced => "retired-not-enforced",
            Status::Unknown => "unknown",
        }
    }
}

/// One setting checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingCheck {
    pub name: String,
    pub value: String,
    pub recommended: String,
    pub status: Status,
    pub retired: bool,
    /// Whether the value is what the source document recommends.
    pub matches_recommended: bool,
    pub advice: String,
}

/// A value as written: a span in seconds, until-revoked, or unreadable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lifetime {
    Span(i64),
    UntilRevoked,
    Unreadable,
}

fn read(v: &str) -> Lifetime {
    let t = v.trim();
    if t.eq_ignore_ascii_case("until-revoked") || t.eq_ignore_ascii_case("untilrevoked") {
        return Lifetime::UntilRevoked;
    }
    match parse_timespan(t) {
        Some(s) => Lifetime::Span(s),
        None => Lifetime::Unreadable,
    }
}

/// `14 days`, `8 h`, `90 days 0 h 30 min`.
pub fn human_span(secs: i64) -> String {
    let d = secs / DAY;
    let h = (secs % DAY) / 3600;
    let m = (secs % 3600) / 60;
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d} day{}", if d == 1 { "" } else { "s" }));
    }
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    if parts.is_empty() {
        format!("{secs} s")
    } else {
        parts.join(" ")
    }
}

/// The settings of a policy: the decoded list, or parsed from the raw definition when the
/// decoder left it empty. Lenient: PowerShell's `{...}` array braces, whitespace, a
/// `definition` array of JSON strings.
pub fn settings_of(p: &PolicyRecord) -> Vec<(String, String)> {
    if !p.settings.is_empty() {
        return p.settings.clone();
    }
    parse_definition(&p.definition)
}

/// Parse a `{"TokenLifetimePolicy":{...}}` definition into (setting, value) pairs.
pub fn parse_definition(text: &str) -> Vec<(String, String)> {
    let mut t = text.trim();
    // `{{"TokenLifetimePolicy":...}}` as PowerShell prints an array of one.
    while t.starts_with("{{") && t.ends_with("}}") {
        t = &t[1..t.len() - 1];
    }
    let v: Value = match serde_json::from_str(t) {
        Ok(v) => v,
        Err(_) => match serde_json::from_str(&t.replace(['\r', '\n'], "")) {
            Ok(v) => v,
            Err(_) => return Vec::new(),
        },
    };
    let v = match v {
        // A definition array of JSON strings (Graph).
        Value::Array(items) => {
            return items
                .iter()
                .filter_map(|i| i.as_str())
                .flat_map(parse_definition)
                .collect();
        }
        Value::String(s) => return parse_definition(&s),
        v => v,
    };
    let inner = v
        .as_object()
        .and_then(|o| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("TokenLifetimePolicy"))
                .map(|(_, v)| v)
        })
        .unwrap_or(&v);
    let Some(obj) = inner.as_object() else {
        return Vec::new();
    };
    obj.iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect()
}

/// The policy's display name, else its id.
pub fn policy_name(p: &PolicyRecord) -> String {
    p.display_name
        .clone()
        .or_else(|| p.id.clone())
        .unwrap_or_else(|| "(unnamed)".into())
}

/// The order settings are shown in: the documented table's, unknown ones last.
const ORDER: &[&str] = &[
    "version",
    "accesstokenlifetime",
    "maxinactivetime",
    "maxagesinglefactor",
    "maxagemultifactor",
    "maxagesessionsinglefactor",
    "maxagesessionmultifactor",
];

fn rank(name: &str) -> usize {
    let k = name.trim().to_ascii_lowercase();
    ORDER.iter().position(|o| *o == k).unwrap_or(ORDER.len())
}

/// Check each setting of a policy, in the documented order (unknown settings last).
pub fn check_settings(p: &PolicyRecord) -> Vec<SettingCheck> {
    let mut v: Vec<SettingCheck> = settings_of(p)
        .into_iter()
        .map(|(name, value)| check_one(&name, &value))
        .collect();
    v.sort_by_key(|c| rank(&c.name));
    v
}

fn check_one(name: &str, value: &str) -> SettingCheck {
    let v = read(value);
    let retired_note = format!("retired: not enforced since {RETIRED_ON}");
    let mk = |recommended: &str, retired: bool, matches: bool, advice: String| SettingCheck {
        name: name.to_string(),
        value: value.to_string(),
        recommended: recommended.to_string(),
        status: if retired {
            Status::RetiredNotEnforced
        } else if matches {
            Status::Ok
        } else {
            Status::Differs
        },
        retired,
        matches_recommended: matches,
        advice,
    };
    let key = name.trim().to_ascii_lowercase();
    match key.as_str() {
        "version" => {
            let ok = value.trim() == "1";
            mk(
                "1",
                false,
                ok,
                if ok {
                    "must be 1".into()
                } else {
                    "must be 1: Entra rejects other versions".into()
                },
            )
        }
        "maxinactivetime" => {
            let matches = matches!(v, Lifetime::Span(s) if s >= 90 * DAY);
            let advice = match v {
                Lifetime::Span(s) if s < 90 * DAY => format!(
                    "{retired_note}. Written as {}: while enforced it expired connections idle for that long (AADSTS70008); today the 90-day default applies. Remove the setting",
                    human_span(s)
                ),
                Lifetime::Unreadable => format!("{retired_note}; the value is not a time span"),
                _ => format!(
                    "{retired_note}; 90 days is also the default: connections unused for 90 days fail with AADSTS70008"
                ),
            };
            mk("90.00:00:00", true, matches, advice)
        }
        "maxagemultifactor" | "maxagesinglefactor" => {
            let factor = if key == "maxagemultifactor" {
                "multi-factor"
            } else {
                "single-factor"
            };
            let matches = v == Lifetime::UntilRevoked;
            let advice = match v {
                Lifetime::Span(s) => format!(
                    "{retired_note}. A fixed {} is the source document's cause of connections failing with AADSTS50076 every {} after sign-in (hypothesis: not enforced today; check remember-MFA and sign-in frequency instead). Set until-revoked or remove it",
                    human_span(s),
                    human_span(s)
                ),
                Lifetime::UntilRevoked => format!(
                    "{retired_note}; until-revoked keeps {factor} refresh tokens (flow connections) valid until revoked"
                ),
                Lifetime::Unreadable => format!("{retired_note}; the value is not a time span"),
            };
            mk("until-revoked", true, matches, advice)
        }
        "maxagesessionmultifactor" => mk(
            "as chosen",
            true,
            true,
            format!(
                "{retired_note}; no direct effect on flow connections (web sign-in sessions only): any value is a free choice"
            ),
        ),
        "maxagesessionsinglefactor" => mk(
            "until-revoked",
            true,
            v == Lifetime::UntilRevoked,
            format!("{retired_note}; session tokens only, no direct effect on flow connections"),
        ),
        "accesstokenlifetime" => {
            let (matches, advice) = match v {
                Lifetime::Span(s) if (600..=DAY).contains(&s) => (
                    true,
                    format!(
                        "still honoured: access tokens live {} (10 min to 1 day allowed); no effect on connection failures",
                        human_span(s)
                    ),
                ),
                Lifetime::Span(s) => (
                    false,
                    format!("{} is outside the allowed 10 min to 1 day", human_span(s)),
                ),
                _ => (
                    false,
                    "not a time span: must be 10 min to 1 day".to_string(),
                ),
            };
            mk("01:00:00 (default)", false, matches, advice)
        }
        _ => SettingCheck {
            name: name.to_string(),
            value: value.to_string(),
            recommended: String::new(),
            status: Status::Unknown,
            retired: false,
            matches_recommended: true,
            advice: "not a token lifetime setting flowdx knows; not checked".into(),
        },
    }
}

/// The fixed max ages (setting name, whole days) a policy's finding records, for tying to
/// cadences.
pub fn fixed_max_ages(p: &PolicyRecord) -> Vec<(String, i64)> {
    settings_of(p)
        .into_iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            k == "maxagemultifactor" || k == "maxagesinglefactor"
        })
        .filter_map(|(k, v)| match read(&v) {
            Lifetime::Span(s) => Some((k, (s + DAY / 2) / DAY)),
            _ => None,
        })
        .collect()
}

/// One token lifetime policy as a finding.
pub fn check(p: &PolicyRecord) -> Finding {
    let name = policy_name(p);
    let checks = check_settings(p);
    let harmful: Vec<&SettingCheck> = checks.iter().filter(|c| !c.matches_recommended).collect();
    let retired: Vec<&SettingCheck> = checks.iter().filter(|c| c.retired).collect();
    let title = if checks.is_empty() {
        format!("Token lifetime policy \"{name}\" has no settings flowdx could read")
    } else if harmful.is_empty() {
        format!(
            "Token lifetime policy \"{name}\" holds the recommended values{}",
            if retired.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} retired and not enforced since {RETIRED_ON}",
                    retired
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        )
    } else {
        format!(
            "Token lifetime policy \"{name}\" differs from the recommended values: {}",
            harmful
                .iter()
                .map(|c| format!(
                    "{} = {}{}",
                    c.name,
                    c.value,
                    if c.retired {
                        " (not enforced since 2021-01-30)"
                    } else {
                        ""
                    }
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let (fix, actor) = if harmful.is_empty() {
        (None, Actor::None)
    } else {
        (Some(Fix::SetTokenLifetimePolicy), Actor::Admin)
    };
    let mut f = finding(
        FindingKind::TokenPolicy,
        title,
        Confidence::Certain,
        None,
        fix,
        actor,
    );
    if !p.definition.trim().is_empty() {
        f.evidence
            .push(format!("definition: {}", p.definition.trim()));
    }
    if p.is_organization_default == Some(true) {
        f.evidence
            .push("organization default: applies to every app without its own policy".into());
    }
    for c in &checks {
        f.evidence.push(format!(
            "{} = {} (recommended {}): {}: {}",
            c.name,
            c.value,
            if c.recommended.is_empty() {
                "-"
            } else {
                &c.recommended
            },
            c.status.as_str(),
            c.advice
        ));
    }
    if !harmful.is_empty() {
        f.evidence.push(
            "fix (source document): MaxAgeMultiFactor until-revoked, MaxAgeSessionMultiFactor as wanted, then clear \"remember multi-factor authentication\"; today use conditional access sign-in frequency for session length"
                .into(),
        );
    }
    let settings: Vec<Value> = checks
        .iter()
        .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
        .collect();
    put(&mut f.details, "policy", name);
    if let Some(id) = &p.id {
        put(&mut f.details, "policy_id", id.clone());
    }
    if let Some(d) = p.is_organization_default {
        put(&mut f.details, "is_organization_default", d);
    }
    put(&mut f.details, "settings", settings);
    put(
        &mut f.details,
        "retired",
        retired.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
    );
    put(&mut f.details, "retired_on", RETIRED_ON);
    f
}

/// Add to each policy finding the cadences whose N days equals a fixed max age it sets.
pub fn tie_to_cadences(findings: &mut [Finding], policies: &[PolicyRecord], cadences: &[Finding]) {
    for (f, p) in findings.iter_mut().zip(policies) {
        for (setting, days) in fixed_max_ages(p) {
            let hits: Vec<&Finding> = cadences
                .iter()
                .filter(|c| c.details.get("interval_days").and_then(Value::as_i64) == Some(days))
                .collect();
            if hits.is_empty() {
                continue;
            }
            let conns: Vec<String> = hits.iter().flat_map(|c| c.connections.clone()).collect();
            f.evidence.push(format!(
                "{setting} = {days} days matches a {days}-day re-failure cadence on {}: the setting itself is not enforced since {RETIRED_ON}, so check remember-MFA or a sign-in frequency of {days} days (hypothesis)",
                conns.join(", ")
            ));
            put(&mut f.details, "cadence_days", days);
        }
    }
}

/// The retirement instant: a failure before it could still be caused by a retired setting.
pub fn retired_at() -> Ts {
    crate::time::parse(RETIRED_ON, crate::time::DateOrder::Auto).unwrap_or(1_611_964_800)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, def: &str) -> PolicyRecord {
        PolicyRecord {
            display_name: Some(name.into()),
            definition: def.into(),
            ..PolicyRecord::default()
        }
    }

    #[test]
    fn source_document_definition() {
        let p = policy(
            "DefaultPolicyScenario",
            r#"{"TokenLifetimePolicy":{"Version":1,"MaxAgeMultiFactor":"14.00:00:00","MaxAgeSessionMultiFactor":"14.00:00:00"}}"#,
        );
        let c = check_settings(&p);
        assert_eq!(c.len(), 3);
        let mf = c.iter().find(|c| c.name == "MaxAgeMultiFactor").unwrap();
        assert_eq!(mf.status, Status::RetiredNotEnforced);
        assert!(!mf.matches_recommended);
        assert_eq!(mf.recommended, "until-revoked");
        assert!(mf.advice.contains("AADSTS50076") && mf.advice.contains("2021-01-30"));
        let smf = c
            .iter()
            .find(|c| c.name == "MaxAgeSessionMultiFactor")
            .unwrap();
        assert!(smf.matches_recommended && smf.retired);
        let v = c.iter().find(|c| c.name == "Version").unwrap();
        assert_eq!(v.status, Status::Ok);

        let f = check(&p);
        assert_eq!(f.kind, FindingKind::TokenPolicy);
        assert_eq!(f.confidence, Confidence::Certain);
        assert_eq!(f.fix, Some(Fix::SetTokenLifetimePolicy));
        assert_eq!(f.actor, Actor::Admin);
        assert!(
            f.title.contains("MaxAgeMultiFactor = 14.00:00:00"),
            "{}",
            f.title
        );
        assert_eq!(
            f.details["retired"],
            serde_json::json!(["MaxAgeMultiFactor", "MaxAgeSessionMultiFactor"])
        );
        assert_eq!(
            fixed_max_ages(&p),
            vec![("MaxAgeMultiFactor".to_string(), 14)]
        );
    }

    #[test]
    fn graph_example_is_recommended() {
        // The Graph tokenLifetimePolicy example: definition is an array of JSON strings.
        let p = PolicyRecord {
            id: Some("2b85ad39-0bb9-4a51-8c8f-2654caac6b92".into()),
            display_name: Some("OrganizationDefaultPolicyScenario".into()),
            is_organization_default: Some(true),
            settings: Vec::new(),
            definition: r#"["{\"TokenLifetimePolicy\":{\"Version\":1,\"MaxInactiveTime\":\"90.00:00:00\",\"MaxAgeSingleFactor\":\"until-revoked\",\"MaxAgeMultiFactor\":\"until-revoked\",\"AccessTokenLifetime\":\"08:00:00\"}}"]"#.into(),
        };
        let c = check_settings(&p);
        assert_eq!(c.len(), 5);
        assert!(c.iter().all(|c| c.matches_recommended), "{c:#?}");
        let retired: Vec<_> = c
            .iter()
            .filter(|c| c.retired)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            retired,
            vec!["MaxInactiveTime", "MaxAgeSingleFactor", "MaxAgeMultiFactor"]
        );
        let at = c.iter().find(|c| c.name == "AccessTokenLifetime").unwrap();
        assert_eq!(at.status, Status::Ok);
        let f = check(&p);
        assert_eq!(f.fix, None);
        assert_eq!(f.actor, Actor::None);
        assert!(f.title.contains("recommended values"), "{}", f.title);
        assert!(fixed_max_ages(&p).is_empty());
    }

    #[test]
    fn decoded_settings_and_powershell_braces() {
        let p = policy(
            "WebPolicyScenario",
            r#"{{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"03:00:00"}}}"#,
        );
        assert_eq!(settings_of(&p).len(), 2);
        let p = PolicyRecord {
            settings: vec![
                ("MaxInactiveTime".into(), "14.00:00:00".into()),
                ("AccessTokenLifetime".into(), "2.00:00:00".into()),
                ("Frobnicate".into(), "1".into()),
            ],
            ..PolicyRecord::default()
        };
        let c = check_settings(&p);
        let names: Vec<_> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["AccessTokenLifetime", "MaxInactiveTime", "Frobnicate"]
        );
        assert_eq!(c[0].status, Status::Differs);
        assert!(!c[1].matches_recommended && c[1].advice.contains("14 days"));
        assert_eq!(c[2].status, Status::Unknown);
    }
}

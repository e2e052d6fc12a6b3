//! Filters shared by `analyze`, `tag` and `classify`: which failures a report or a tagged
//! file is about.
//!
//! Filters select *failures* (classified or not). Records that did not fail and malformed
//! records are counted as always; a failure outside the filters is counted as `filtered`
//! (so `records = not_failed + classified + unclassified + malformed + filtered` still
//! holds) and left out of groups, root causes, unexplained signatures and the daily series.
//! The timing analysis still sees every failure, so a 14-day cadence or a policy wave is
//! found as in the whole data; findings are shown for the groups that remain.
//!
//! Within one flag the values are alternatives (`--owner a --owner b`: either); different
//! flags must all hold. Owner, environment and connector match case-insensitively on a part
//! of the value; a failure that lacks the field (no owner known) does not match.
//! `--since` and `--until` take dates or times (UTC unless the value says otherwise); a bare
//! date in `--until` includes that whole day. A failure without a time does not match a time
//! filter.

use crate::model::Ts;
use crate::report::{Observation, Outcome};
use crate::time::DateOrder;
use crate::vocab::{Category, RootCause};
use crate::{Error, Result};

/// The filter flags, flattened into each command's arguments.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Filters")]
pub struct FilterArgs {
    /// Only failures at or after this date or time (e.g. 2024-05-01 or 2024-05-01T08:00:00Z).
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    pub since: Option<Ts>,

    /// Only failures up to this date or time; a bare date includes the whole day.
    #[arg(long, value_name = "DATE", value_parser = parse_until)]
    pub until: Option<Ts>,

    /// Only failures of flows owned by someone matching this (part of a name, UPN or id;
    /// any case). Repeatable.
    #[arg(long, value_name = "OWNER")]
    pub owner: Vec<String>,

    /// Only failures in an environment matching this (part of its name or id). Repeatable.
    #[arg(long, value_name = "ENV")]
    pub environment: Vec<String>,

    /// Only failures on a connector matching this (e.g. office365, sharepoint). Repeatable.
    #[arg(long, value_name = "CONNECTOR")]
    pub connector: Vec<String>,

    /// Only failures of this category (mfa-required, ca-blocked, ..., unknown). Repeatable.
    #[arg(long, value_name = "CATEGORY", value_parser = parse_category)]
    pub category: Vec<Category>,

    /// Only failures with this root cause (token-inactivity, ..., unknown). Repeatable.
    #[arg(long = "root-cause", value_name = "ROOT_CAUSE", value_parser = parse_root_cause)]
    pub root_cause: Vec<RootCause>,
}

fn parse_date(s: &str) -> std::result::Result<Ts, String> {
    crate::time::parse(s, DateOrder::Auto).ok_or_else(|| {
        format!("expected a date such as 2024-05-31 or 2024-05-31T12:00:00Z, got '{s}'")
    })
}

fn parse_since(s: &str) -> std::result::Result<Ts, String> {
    parse_date(s)
}

/// A bare date (no time of day) ends at the end of that day.
fn parse_until(s: &str) -> std::result::Result<Ts, String> {
    let t = parse_date(s)?;
    let bare = !s.contains(':') && !s.contains('T') && t.rem_euclid(86_400) == 0;
    Ok(if bare { t + 86_399 } else { t })
}

fn parse_category(s: &str) -> std::result::Result<Category, String> {
    s.parse()
}

fn parse_root_cause(s: &str) -> std::result::Result<RootCause, String> {
    s.parse()
}

/// What the filters look at besides the diagnosis.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts<'a> {
    pub time: Option<Ts>,
    pub owner: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub connector: Option<&'a str>,
}

/// A validated filter.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    since: Option<Ts>,
    until: Option<Ts>,
    owner: Vec<String>,
    environment: Vec<String>,
    connector: Vec<String>,
    category: Vec<Category>,
    root_cause: Vec<RootCause>,
}

impl FilterArgs {
    /// Check the flags together (`--since` after `--until` is an error).
    pub fn build(&self) -> Result<Filter> {
        if let (Some(s), Some(u)) = (self.since, self.until)
            && s > u
        {
            return Err(Error::Usage(format!(
                "--since {} is after --until {}",
                crate::time::format_iso(s),
                crate::time::format_iso(u)
            )));
        }
        let lower = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        };
        Ok(Filter {
            since: self.since,
            until: self.until,
            owner: lower(&self.owner),
            environment: lower(&self.environment),
            connector: lower(&self.connector),
            category: self.category.clone(),
            root_cause: self.root_cause.clone(),
        })
    }
}

/// `wanted` holds lowercased values; an ASCII one is searched for without lowercasing (and
/// allocating) the record's value, as this runs for every failure.
fn matches_any(wanted: &[String], value: Option<&str>) -> bool {
    wanted.is_empty()
        || value.is_some_and(|v| {
            wanted.iter().any(|w| {
                if w.is_ascii() {
                    crate::classify::token::find_ci(v, w).is_some()
                } else {
                    v.to_lowercase().contains(w.as_str())
                }
            })
        })
}

impl Filter {
    /// No filter given.
    pub fn is_empty(&self) -> bool {
        self.since.is_none()
            && self.until.is_none()
            && self.owner.is_empty()
            && self.environment.is_empty()
            && self.connector.is_empty()
            && self.category.is_empty()
            && self.root_cause.is_empty()
    }

    /// Whether the filter needs more than a diagnosis (times, owners, ...).
    pub fn needs_context(&self) -> bool {
        self.since.is_some()
            || self.until.is_some()
            || !self.owner.is_empty()
            || !self.environment.is_empty()
            || !self.connector.is_empty()
    }

    /// Whether a diagnosis with this category and root cause is selected.
    pub fn selects_diagnosis(&self, category: Category, root_cause: RootCause) -> bool {
        (self.category.is_empty() || self.category.contains(&category))
            && (self.root_cause.is_empty() || self.root_cause.contains(&root_cause))
    }

    /// Whether an observation is selected: anything that is not a failure is; a failure
    /// must match every filter.
    pub fn selects(&self, obs: &Observation<'_>) -> bool {
        let (category, root_cause) = match &obs.outcome {
            Outcome::Classified(c) => (c.diagnosis.category, c.diagnosis.root_cause),
            Outcome::Unclassified { .. } => (Category::Unknown, RootCause::Unknown),
            Outcome::NotFailed | Outcome::Malformed(_) => return true,
        };
        self.selects_failure(
            &Facts {
                time: obs.time,
                owner: obs.owner,
                environment: obs.environment,
                connector: obs.connector,
            },
            category,
            root_cause,
        )
    }

    /// Whether a failure with these facts and this diagnosis is selected.
    pub fn selects_failure(
        &self,
        facts: &Facts<'_>,
        category: Category,
        root_cause: RootCause,
    ) -> bool {
        if self.is_empty() {
            return true;
        }
        let in_time = match facts.time {
            Some(t) => self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u),
            None => self.since.is_none() && self.until.is_none(),
        };
        in_time
            && matches_any(&self.owner, facts.owner)
            && matches_any(&self.environment, facts.environment)
            && matches_any(&self.connector, facts.connector)
            && self.selects_diagnosis(category, root_cause)
    }

    /// The filters as one line for report headers (`--owner megan --since 2024-05-01`).
    pub fn describe(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let mut parts = Vec::new();
        if let Some(s) = self.since {
            parts.push(format!("--since {}", crate::time::format_iso(s)));
        }
        if let Some(u) = self.until {
            parts.push(format!("--until {}", crate::time::format_iso(u)));
        }
        for (flag, values) in [
            ("--owner", &self.owner),
            ("--environment", &self.environment),
            ("--connector", &self.connector),
        ] {
            parts.extend(values.iter().map(|v| format!("{flag} {v}")));
        }
        parts.extend(self.category.iter().map(|c| format!("--category {c}")));
        parts.extend(self.root_cause.iter().map(|r| format!("--root-cause {r}")));
        Some(parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        f: FilterArgs,
    }

    fn filter(args: &[&str]) -> std::result::Result<Filter, String> {
        let cli = Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.f.build().map_err(|e| e.to_string())
    }

    fn failure<'a>(owner: Option<&'a str>, time: Option<Ts>) -> Observation<'a> {
        Observation {
            file: "f",
            kind: crate::model::InputKind::RunHistory,
            run_id: None,
            flow_id: None,
            flow_name: None,
            environment: Some("Default-123"),
            owner,
            connection: None,
            connector: Some("shared_office365"),
            time,
            outcome: Outcome::Unclassified {
                message: "m",
                signature: "m",
            },
        }
    }

    #[test]
    fn unknown_category_names_the_valid_ones() {
        let e = filter(&["--category", "mfa"]).unwrap_err();
        assert!(
            e.contains("mfa-required") && e.contains("token-inactive"),
            "{e}"
        );
        let e = filter(&["--root-cause", "nope"]).unwrap_err();
        assert!(e.contains("token-inactivity"), "{e}");
    }

    #[test]
    fn since_after_until_is_an_error() {
        let e = filter(&["--since", "2024-06-01", "--until", "2024-05-01"]).unwrap_err();
        assert!(e.contains("--since") && e.contains("after --until"), "{e}");
        // The same day works: --until includes the whole day.
        filter(&["--since", "2024-05-01", "--until", "2024-05-01"]).unwrap();
    }

    #[test]
    fn failures_must_match_every_flag() {
        let may_1_noon = crate::time::parse("2024-05-01T12:00:00Z", DateOrder::Auto);
        let f = filter(&["--until", "2024-05-01", "--owner", "MEGAN"]).unwrap();
        assert!(f.selects(&failure(Some("megan.bowen@contoso.com"), may_1_noon)));
        assert!(!f.selects(&failure(Some("alex@contoso.com"), may_1_noon)));
        assert!(!f.selects(&failure(None, may_1_noon)));
        assert!(!f.selects(&failure(Some("megan"), None)));
        let f = filter(&["--since", "2024-05-02", "--connector", "office365"]).unwrap();
        assert!(!f.selects(&failure(Some("megan"), may_1_noon)));
        let f = filter(&["--category", "unknown", "--environment", "default"]).unwrap();
        assert!(f.selects(&failure(None, None)));
        let mut ok = failure(None, None);
        ok.outcome = Outcome::NotFailed;
        assert!(filter(&["--category", "ca-blocked"]).unwrap().selects(&ok));
    }

    #[test]
    fn text_filters_match_a_part_in_any_case() {
        let f = filter(&["--owner", "BOWEN@"]).unwrap();
        assert!(f.selects(&failure(Some("Megan.Bowen@contoso.com"), None)));
        assert!(!f.selects(&failure(Some("Megan.Bowen.contoso.com"), None)));
        let f = filter(&["--owner", "STRÖM"]).unwrap();
        assert!(f.selects(&failure(Some("Åsa Ström"), None)));
        assert!(!f.selects(&failure(Some("Asa Strom"), None)));
    }
}

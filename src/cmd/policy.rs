//! `flowdx policy`: check token lifetime policy exports on their own.
//!
//! Reads `Get-AzureADPolicy`, `Get-MgPolicyTokenLifetimePolicy` or Graph
//! `tokenLifetimePolicies` exports (files, folders, `.gz`, `-`), and prints each policy's
//! settings with the recommended value, a status (`ok`, `differs`, `retired-not-enforced`,
//! `unknown`) and advice. The checks are [`crate::infer::policy`]'s.
//!
//! JSON output (`--format json`): `{"policies": [{"id", "display_name",
//! "is_organization_default", "definition", "settings": [{"name", "value", "recommended",
//! "status", "retired", "matches_recommended", "advice"}], "finding": Finding}],
//! "skipped": [{"path", "reason"}]}`.

use crate::infer::policy::{SettingCheck, check, check_settings, policy_name};
use crate::ingest::{self, IngestOptions, Overrides};
use crate::model::{InputKind, Item, PolicyRecord};
use crate::{Error, Result};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Check token lifetime policies (Get-AzureADPolicy, Get-MgPolicyTokenLifetimePolicy or \
Graph tokenLifetimePolicies exports) against the values the Power Automate support article \
recommends: MaxInactiveTime 90 days, MaxAgeSingleFactor and MaxAgeMultiFactor until-revoked, \
MaxAgeSessionMultiFactor as chosen. Entra stopped enforcing the refresh and session token \
settings on 2021-01-30; flowdx flags each of them as retired and not enforced. Only \
AccessTokenLifetime is still honoured.\n\nExit status: 0 the check ran (whatever it found), 2 error."
)]
pub struct Args {
    /// Policy export files or folders; `-` reads stdin.
    #[arg(required = true, value_name = "FILE")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

#[derive(Serialize)]
struct PolicyOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_organization_default: Option<bool>,
    definition: &'a str,
    settings: Vec<SettingCheck>,
    finding: crate::report::Finding,
}

#[derive(Serialize)]
struct Out<'a> {
    policies: Vec<PolicyOut<'a>>,
    skipped: &'a [ingest::Skipped],
}

/// Read every policy from the inputs.
pub fn read_policies(paths: &[PathBuf]) -> Result<(Vec<PolicyRecord>, Vec<ingest::Skipped>)> {
    let (sources, mut skipped) = ingest::discover(paths)?;
    let overrides = Overrides::default();
    let opts = IngestOptions::default();
    let mut policies = Vec::new();
    for source in sources {
        let named = source.named;
        let display = source.display.clone();
        let path = source.path.clone();
        let input = ingest::sniff(source, &overrides)?;
        if input.kind != InputKind::TokenPolicy {
            let reason = format!(
                "a {} export, not a token lifetime policy export",
                input.kind.as_str()
            );
            if named {
                return Err(Error::Input { path, what: reason });
            }
            eprintln!("flowdx: {display}: skipped: {reason}");
            skipped.push(ingest::Skipped {
                path: display,
                reason,
            });
            continue;
        }
        let parts = ingest::fold(
            &input,
            &opts,
            Vec::new,
            |acc: &mut Vec<PolicyRecord>, item| {
                if let Item::Policy(p) = item {
                    acc.push(p);
                }
            },
        )?;
        policies.extend(parts.into_iter().flatten());
    }
    // The same policy exported twice (PowerShell and Graph) is listed once, as in analyze.
    let mut index = crate::join::JoinIndex::new();
    for p in policies {
        index.add_policy(p);
    }
    Ok((index.policies, skipped))
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<u8> {
    let (policies, skipped) = read_policies(&args.paths)?;
    if args.format == "json" {
        write_json(&policies, &skipped, out)?;
    } else {
        write_table(&policies, &skipped, out)?;
    }
    Ok(crate::cmd::EXIT_OK)
}

/// The JSON document described in the module documentation.
pub fn write_json(
    policies: &[PolicyRecord],
    skipped: &[ingest::Skipped],
    out: &mut dyn Write,
) -> Result<()> {
    let doc = Out {
        policies: policies
            .iter()
            .map(|p| PolicyOut {
                id: p.id.as_deref(),
                display_name: policy_name(p),
                is_organization_default: p.is_organization_default,
                definition: &p.definition,
                settings: check_settings(p),
                finding: check(p),
            })
            .collect(),
        skipped,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)
        .map_err(|e| Error::Output(std::io::Error::other(e)))?;
    writeln!(out).map_err(Error::Output)
}

/// A table per policy: setting, value, recommended, status, advice.
pub fn write_table(
    policies: &[PolicyRecord],
    skipped: &[ingest::Skipped],
    out: &mut dyn Write,
) -> Result<()> {
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(Error::Output);
    if policies.is_empty() {
        w(out, "no token lifetime policies found".into())?;
    }
    for (i, p) in policies.iter().enumerate() {
        if i > 0 {
            w(out, String::new())?;
        }
        let f = check(p);
        let mut head = format!("Policy: {}", policy_name(p));
        if let Some(id) = &p.id {
            head.push_str(&format!(" ({id})"));
        }
        if p.is_organization_default == Some(true) {
            head.push_str(" [organization default]");
        }
        w(out, head)?;
        w(out, format!("  {}", f.title))?;
        let rows = check_settings(p);
        let headers = ["SETTING", "VALUE", "RECOMMENDED", "STATUS"];
        let cols: Vec<[String; 4]> = rows
            .iter()
            .map(|c| {
                [
                    c.name.clone(),
                    c.value.clone(),
                    if c.recommended.is_empty() {
                        "-".into()
                    } else {
                        c.recommended.clone()
                    },
                    c.status.as_str().to_string(),
                ]
            })
            .collect();
        let mut widths = headers.map(str::len);
        for r in &cols {
            for (k, cell) in r.iter().enumerate() {
                widths[k] = widths[k].max(cell.chars().count());
            }
        }
        let line = |cells: [&str; 5]| {
            format!(
                "  {:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                cells[4],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            )
            .trim_end()
            .to_string()
        };
        w(
            out,
            line([headers[0], headers[1], headers[2], headers[3], "ADVICE"]),
        )?;
        for (r, c) in cols.iter().zip(&rows) {
            w(out, line([&r[0], &r[1], &r[2], &r[3], &c.advice]))?;
        }
    }
    for s in skipped {
        w(out, format!("skipped {}: {}", s.path, s.reason))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<PolicyRecord> {
        vec![PolicyRecord {
            id: Some("b5bf1c7c".into()),
            display_name: Some("DefaultPolicyScenario".into()),
            is_organization_default: Some(true),
            settings: Vec::new(),
            definition: r#"{"TokenLifetimePolicy":{"Version":1,"MaxAgeMultiFactor":"14.00:00:00","MaxAgeSessionMultiFactor":"14.00:00:00"}}"#.into(),
        }]
    }

    #[test]
    fn table_lists_each_setting() {
        let mut buf = Vec::new();
        write_table(&sample(), &[], &mut buf).unwrap();
        let s = String::from_utf8(buf).unwrap();
        assert!(s.contains("Policy: DefaultPolicyScenario (b5bf1c7c) [organization default]"));
        assert!(s.contains("MaxAgeMultiFactor"), "{s}");
        assert!(s.contains("retired-not-enforced"));
        assert!(s.contains("until-revoked"));
    }

    #[test]
    fn json_has_settings_and_finding() {
        let mut buf = Vec::new();
        write_json(&sample(), &[], &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        let p = &v["policies"][0];
        assert_eq!(p["settings"].as_array().unwrap().len(), 3);
        assert_eq!(p["finding"]["kind"], "token-policy");
        assert_eq!(p["finding"]["fix"], "set-token-lifetime-policy");
    }
}

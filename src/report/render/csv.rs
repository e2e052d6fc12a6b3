//! The CSV report: one row per group, for spreadsheets. Columns are the JSON group fields in
//! the same order ([`COLUMNS`]); lists (environments, effects, flow names, AADSTS codes, run
//! ids, findings) are joined with `;`, evidence sources as `source=count`; times are ISO
//! 8601 UTC; booleans `true`/`false`. UTF-8, with a byte order mark when asked (Excel).
//!
//! Spreadsheet-safe: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return
//! gets a leading `'`, so Excel and LibreOffice show it as text instead of running it as a
//! formula (OWASP "CSV injection"). Error messages and names come from exported data that
//! anyone able to name a flow or trigger an error can influence.

use super::RenderOptions;
use super::json::Group;
use crate::report::Report;
use std::borrow::Cow;
use std::io::{self, Write};

/// The header row.
pub const COLUMNS: &[&str] = &[
    "owner",
    "connection",
    "connector",
    "environments",
    "category",
    "root_cause",
    "effects",
    "fix",
    "fix_text",
    "actor",
    "confidence",
    "failures",
    "failed_runs",
    "broken_connection",
    "connection_statuses",
    "flows",
    "flows_capped",
    "flow_names",
    "first_seen",
    "last_seen",
    "aadsts",
    "example",
    "evidence",
    "rule",
    "evidence_source",
    "evidence_sources",
    "run_ids",
    "findings",
];

/// Neutralise a cell a spreadsheet would read as a formula.
pub fn safe_cell(s: &str) -> Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

fn row(g: &Group<'_>) -> Vec<String> {
    let opt = |s: Option<&str>| s.unwrap_or("").to_string();
    vec![
        g.owner.to_string(),
        g.connection.to_string(),
        opt(g.connector),
        g.environments.join(";"),
        g.category.to_string(),
        g.root_cause.to_string(),
        g.effects.joined(";"),
        g.fix.to_string(),
        g.fix_text.to_string(),
        g.actor.to_string(),
        g.confidence.to_string(),
        g.failures.to_string(),
        g.failed_runs.to_string(),
        g.broken_connection.to_string(),
        g.connection_statuses.to_string(),
        g.flows.to_string(),
        g.flows_capped.to_string(),
        g.flow_names.join(";"),
        g.first_seen.clone().unwrap_or_default(),
        g.last_seen.clone().unwrap_or_default(),
        g.aadsts.join(";"),
        opt(g.example),
        opt(g.evidence),
        opt(g.rule),
        g.evidence_source
            .map(|s| s.as_str())
            .unwrap_or("")
            .to_string(),
        g.evidence_sources
            .iter()
            .map(|(s, n)| format!("{}={n}", s.as_str()))
            .collect::<Vec<_>>()
            .join(";"),
        g.run_ids.join(";"),
        g.findings.join(";"),
    ]
}

pub(crate) fn render(report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    if opts.excel_bom {
        out.write_all("\u{feff}".as_bytes())?;
    }
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(&mut *out);
    w.write_record(COLUMNS)?;
    for v in report.group_views() {
        let cells = row(&Group::of(&v));
        debug_assert_eq!(cells.len(), COLUMNS.len());
        w.write_record(cells.iter().map(|c| safe_cell(c).into_owned()))?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::*;
    use crate::report::{Finding, FindingKind};
    use crate::vocab::{Actor, Category, Confidence, Fix, RootCause};

    fn csv_of(r: &Report, opts: &RenderOptions) -> String {
        let mut buf = Vec::new();
        render(r, opts, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn hostile_values_in_every_text_column_are_neutralised() {
        for bad in [
            "=HYPERLINK(\"http://x\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\tcmd",
            "\rcmd",
        ] {
            let mut o = OwnedObs::run(
                FILES[0],
                classified(
                    {
                        let mut d = diagnosis(
                            Category::MfaRequired,
                            RootCause::CaPolicyAfterConnection,
                            Fix::RepairConnection,
                            Actor::Owner,
                        );
                        d.aadsts = vec![50076];
                        d
                    },
                    bad,
                    bad,
                ),
            );
            if let OwnedOutcome::Classified { evidence, .. } = &mut o.outcome {
                *evidence = bad.to_string();
            }
            o.owner = Some(bad.into());
            o.connection = Some(bad.into());
            o.connector = Some(bad.into());
            o.environment = Some(bad.into());
            o.flow_id = Some(bad.into());
            o.flow_name = Some(bad.into());
            o.run_id = Some(bad.into());
            let mut r = report_of([&o]);
            r.add_findings([Finding {
                kind: FindingKind::Cadence,
                title: bad.into(),
                confidence: Confidence::Likely,
                root_cause: None,
                fix: None,
                actor: Actor::Admin,
                evidence: vec![],
                owners: vec![],
                connections: vec![bad.into()],
                flows: vec![],
                onset: None,
                details: Default::default(),
            }]);
            let text = csv_of(&r, &RenderOptions::default());
            let mut rd = ::csv::ReaderBuilder::new().from_reader(text.as_bytes());
            let rec = rd.records().next().unwrap().unwrap();
            let hdr = rd.headers().unwrap().clone();
            for (name, cell) in hdr.iter().zip(rec.iter()) {
                let first = cell.as_bytes().first().copied();
                assert!(
                    !matches!(first, Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')),
                    "column {name} starts dangerously: {cell:?}"
                );
            }
            for col in [
                "owner",
                "connection",
                "connector",
                "environments",
                "flow_names",
                "example",
                "evidence",
                "rule",
                "run_ids",
                "findings",
            ] {
                let i = hdr.iter().position(|h| h == col).unwrap();
                assert_eq!(&rec[i], format!("'{bad}"), "column {col}");
            }
        }
    }

    #[test]
    fn header_matches_columns_and_bom_is_optional() {
        let r = report_of(&sample(300, 2));
        let plain = csv_of(&r, &RenderOptions::default());
        assert!(plain.starts_with("owner,connection,connector,"));
        assert_eq!(plain.lines().count(), r.groups().len() + 1);
        let bom = csv_of(
            &r,
            &RenderOptions {
                excel_bom: true,
                ..RenderOptions::default()
            },
        );
        assert_eq!(bom.strip_prefix('\u{feff}'), Some(plain.as_str()));
        let mut rd = ::csv::Reader::from_reader(plain.as_bytes());
        assert_eq!(rd.headers().unwrap().iter().collect::<Vec<_>>(), COLUMNS);
        for rec in rd.records() {
            assert_eq!(rec.unwrap().len(), COLUMNS.len());
        }
    }

    #[test]
    fn lists_are_joined_and_times_iso() {
        let mut a = OwnedObs::run(
            FILES[0],
            classified(
                {
                    let mut d = diagnosis(
                        Category::MfaRequired,
                        RootCause::CaPolicyAfterConnection,
                        Fix::RepairConnection,
                        Actor::Owner,
                    );
                    d.aadsts = vec![50079, 50076];
                    d
                },
                "aadsts:50076",
                "AADSTS50076: MFA required",
            ),
        );
        a.owner = Some("alice".into());
        a.connection = Some("c1".into());
        a.run_id = Some("r2".into());
        a.time = Some(T0);
        let mut b = OwnedObs::run(FILES[0], OwnedOutcome::NotFailed);
        b.outcome = classified(
            diagnosis(
                Category::MfaRequired,
                RootCause::CaPolicyAfterConnection,
                Fix::RepairConnection,
                Actor::Owner,
            ),
            "aadsts:50076",
            "later",
        );
        b.owner = Some("alice".into());
        b.connection = Some("c1".into());
        b.run_id = Some("r1".into());
        b.time = Some(T0 + 61);
        let text = csv_of(&report_of([&a, &b]), &RenderOptions::default());
        let mut rd = ::csv::Reader::from_reader(text.as_bytes());
        let hdr = rd.headers().unwrap().clone();
        let rec = rd.records().next().unwrap().unwrap();
        let get = |c: &str| rec[hdr.iter().position(|h| h == c).unwrap()].to_string();
        assert_eq!(get("aadsts"), "AADSTS50076;AADSTS50079");
        assert_eq!(get("run_ids"), "r1;r2");
        assert_eq!(get("first_seen"), "2024-05-01T00:00:00Z");
        assert_eq!(get("last_seen"), "2024-05-01T00:01:01Z");
        assert_eq!(get("effects"), "E1");
        assert_eq!(get("evidence_sources"), "run-error=2");
        assert_eq!(get("example"), "AADSTS50076: MFA required");
    }
}

//! The JSON report: for programs. The format is stable; fields are only ever added, with a
//! new `version`. Times are ISO 8601 UTC (`2024-05-02T06:01:13Z`) or `null`; AADSTS codes
//! are strings (`"AADSTS50076"`); identifiers are the kebab-case vocabulary of
//! [`crate::vocab`]. Lists are sorted as described, so the same input gives the same bytes.
//!
//! ```text
//! {
//!   "version": 1,                       format version of this document
//!   "tool": "flowdx 0.1.0",
//!   "as_of": time|null,                 latest time seen in any record
//!   "filter": string                    only when filters were given: them, as flags
//!                                       (`--owner megan --since 2024-05-01T00:00:00Z`)
//!   "totals": {
//!     "records", "not_failed", "failed" (= classified + unclassified),
//!     "failed_runs" (failures from run histories), "classified", "unclassified",
//!     "malformed", "filtered" (failures the filters left out), "skipped_files", "inputs"
//!                                        all integers; records = not_failed + classified
//!                                        + unclassified + malformed + filtered
//!   },
//!   "inputs": [ {                       one per input file, sorted by path
//!     "path", "kind" (run-history, connection-inventory, ...; null if never registered),
//!     "format" (csv, json, jsonl, text; null if never registered), "gzip", "bytes",
//!     "records", "not_failed", "classified", "unclassified", "malformed", "filtered"
//!   } ],
//!   "skipped": [ { "path", "reason" } ],         files found but not recognised, by path
//!   "groups": [ {                       classified failures by (owner, connection, fix);
//!                                       most failed runs first, then most failures,
//!                                       then owner, connection, fix
//!     "owner": string ("unknown" when no input names it),
//!     "connection": string ("unknown" likewise),
//!     "connector": string|null,
//!     "environments": [string],         sorted
//!     "category", "root_cause", "effects" ([E1..E7]), "actor", "confidence":
//!                                       the dominant diagnosis (most failures; ties by
//!                                       vocabulary order)
//!     "fix": string, "fix_text": string (what to do, for people),
//!     "failures": int                   every classified failure in the group,
//!     "failed_runs": int                those from run histories,
//!     "broken_connection": bool         a connection inventory reports the connection failing,
//!     "connection_statuses": int        failing statuses from connection inventories,
//!     "flows": int                      distinct flows (exact unless flows_capped),
//!     "flows_capped": bool              more than 10000 distinct flows,
//!     "flow_names": [string],           sorted, at most 1000
//!     "first_seen", "last_seen": time|null,
//!     "aadsts": ["AADSTS50076", ...],   sorted by number
//!     "example": string|null            the message of the earliest failure (time, run id),
//!     "evidence": string|null           the text the rule matched in it,
//!     "rule": string|null               the rule that fired (`aadsts:50076`, `text:...`),
//!     "evidence_source": string|null    where the message came from (run-error,
//!                                       action-error, run-actions, connection-status,
//!                                       sign-in-log),
//!     "evidence_sources": {source: int} failures per evidence source,
//!     "run_ids": [string],              the 5 smallest run ids
//!     "findings": [string]              titles of findings about this connection (or owner)
//!   } ],
//!   "root_causes": [ {                  most failures first
//!     "root_cause", "failures", "owners" (distinct named owners), "connections" (distinct
//!     named connections), "flows", "flows_capped", "fix" and "actor" (those with the most
//!     failures)
//!   } ],
//!   "unexplained": [ {                  failures no rule explains, by message signature;
//!                                       most failures first, then signature
//!     "signature", "count", "failed_runs", "example" (message of the earliest failure),
//!     "files" ([path], sorted)
//!   } ],
//!   "malformed": [ { "file", "position": {"unit": "line"|"record"|"byte"|"file", "at": int},
//!                    "reason" } ],      the first 20 by (file, position)
//!   "malformed_total": int,
//!   "findings": [ {                     timing and policy findings, sorted by kind, title
//!     "kind" (policy-wave, cadence, inactivity, inactivity-forecast, revocation, owner-gone,
//!     confounder, token-policy), "title", "confidence", "root_cause"|null, "fix"|null,
//!     "actor", "evidence" [string], "owners" [string], "connections" [string],
//!     "flows" [string], "onset": time|null, "details": {...} (kind-specific figures)
//!   } ],
//!   "daily": [ {                        tenant-wide, per UTC day, sorted by day
//!     "day": "2024-05-02", "ok": int, "failed": {root_cause: int}
//!   } ]
//! }
//! ```

use super::{RenderOptions, aadsts};
use crate::model::{EvidenceSource, Malformed};
use crate::report::{Finding, GroupView, Report};
use crate::vocab::{Actor, Category, Confidence, Effects, Fix, RootCause};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// The version of this document format.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct Doc<'a> {
    version: u32,
    tool: &'static str,
    as_of: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<&'a str>,
    totals: Totals,
    inputs: Vec<Input<'a>>,
    skipped: Vec<crate::ingest::Skipped>,
    groups: Vec<Group<'a>>,
    root_causes: Vec<RootCauseOut>,
    unexplained: Vec<UnexplainedOut<'a>>,
    malformed: Vec<&'a Malformed>,
    malformed_total: u64,
    findings: Vec<FindingOut<'a>>,
    daily: Vec<Daily<'a>>,
}

#[derive(Serialize)]
struct Totals {
    records: u64,
    not_failed: u64,
    failed: u64,
    failed_runs: u64,
    classified: u64,
    unclassified: u64,
    malformed: u64,
    filtered: u64,
    skipped_files: u64,
    inputs: u64,
}

#[derive(Serialize)]
struct Input<'a> {
    path: &'a str,
    kind: Option<&'static str>,
    format: Option<&'static str>,
    gzip: bool,
    bytes: u64,
    records: u64,
    not_failed: u64,
    classified: u64,
    unclassified: u64,
    malformed: u64,
    filtered: u64,
}

/// One group, as both the JSON and the CSV write it (same fields, same order).
#[derive(Serialize)]
pub(crate) struct Group<'a> {
    pub owner: &'a str,
    pub connection: &'a str,
    pub connector: Option<&'a str>,
    pub environments: Vec<&'a str>,
    pub category: Category,
    pub root_cause: RootCause,
    pub effects: Effects,
    pub fix: Fix,
    pub fix_text: &'static str,
    pub actor: Actor,
    pub confidence: Confidence,
    pub failures: u64,
    pub failed_runs: u64,
    pub broken_connection: bool,
    pub connection_statuses: u64,
    pub flows: u64,
    pub flows_capped: bool,
    pub flow_names: Vec<&'a str>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub aadsts: Vec<String>,
    pub example: Option<&'a str>,
    pub evidence: Option<&'a str>,
    pub rule: Option<&'a str>,
    pub evidence_source: Option<EvidenceSource>,
    pub evidence_sources: BTreeMap<EvidenceSource, u64>,
    pub run_ids: Vec<&'a str>,
    pub findings: Vec<&'a str>,
}

impl<'a> Group<'a> {
    pub(crate) fn of(v: &GroupView<'a>) -> Group<'a> {
        let g = v.group;
        let d = v.dominant;
        let ex = g.example.as_ref();
        Group {
            owner: &g.owner,
            connection: &g.connection,
            connector: g.connector.as_deref(),
            environments: g.environments.iter().collect(),
            category: d.category,
            root_cause: d.root_cause,
            effects: d.effects,
            fix: g.fix,
            fix_text: v.fix_text,
            actor: d.actor,
            confidence: d.confidence,
            failures: g.failures,
            failed_runs: g.failed_runs,
            broken_connection: g.broken_connection(),
            connection_statuses: g.connection_statuses,
            flows: g.flows.len() as u64,
            flows_capped: g.flows.overflow(),
            flow_names: g.flow_names.iter().collect(),
            first_seen: g.first_seen.map(crate::time::format_iso),
            last_seen: g.last_seen.map(crate::time::format_iso),
            aadsts: g.aadsts.iter().map(|c| aadsts(*c)).collect(),
            example: ex.map(|e| e.message.as_str()),
            evidence: ex.map(|e| e.evidence.as_str()),
            rule: ex.map(|e| e.rule.as_str()),
            evidence_source: ex.map(|e| e.source),
            evidence_sources: g.sources.clone(),
            run_ids: g.run_ids.iter().collect(),
            findings: v.findings.iter().map(|f| f.title.as_str()).collect(),
        }
    }
}

#[derive(Serialize)]
struct RootCauseOut {
    root_cause: RootCause,
    failures: u64,
    owners: u64,
    connections: u64,
    flows: u64,
    flows_capped: bool,
    fix: Fix,
    actor: Actor,
}

#[derive(Serialize)]
struct UnexplainedOut<'a> {
    signature: &'a str,
    count: u64,
    failed_runs: u64,
    example: Option<&'a str>,
    files: Vec<&'a str>,
}

#[derive(Serialize)]
struct FindingOut<'a> {
    kind: crate::report::FindingKind,
    title: &'a str,
    confidence: Confidence,
    root_cause: Option<RootCause>,
    fix: Option<Fix>,
    actor: Actor,
    evidence: &'a [String],
    owners: &'a [String],
    connections: &'a [String],
    flows: &'a [String],
    onset: Option<String>,
    details: &'a serde_json::Map<String, serde_json::Value>,
}

impl<'a> FindingOut<'a> {
    fn of(f: &'a Finding) -> FindingOut<'a> {
        FindingOut {
            kind: f.kind,
            title: &f.title,
            confidence: f.confidence,
            root_cause: f.root_cause,
            fix: f.fix,
            actor: f.actor,
            evidence: &f.evidence,
            owners: &f.owners,
            connections: &f.connections,
            flows: &f.flows,
            onset: f.onset.map(crate::time::format_iso),
            details: &f.details,
        }
    }
}

#[derive(Serialize)]
struct Daily<'a> {
    day: String,
    ok: u64,
    failed: &'a BTreeMap<RootCause, u64>,
}

pub(crate) fn render(report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let t = report.totals();
    let doc = Doc {
        version: VERSION,
        tool: concat!("flowdx ", env!("CARGO_PKG_VERSION")),
        as_of: report.as_of().map(crate::time::format_iso),
        filter: opts.filter_note.as_deref(),
        totals: Totals {
            records: t.records,
            not_failed: t.not_failed,
            failed: t.failed,
            failed_runs: t.failed_runs,
            classified: t.classified,
            unclassified: t.unclassified,
            malformed: t.malformed,
            filtered: t.filtered,
            skipped_files: t.skipped_files,
            inputs: t.inputs,
        },
        inputs: report
            .inputs()
            .iter()
            .map(|(path, s)| Input {
                path,
                kind: s.info.as_ref().map(|i| i.kind.as_str()),
                format: s.info.as_ref().map(|i| i.format.as_str()),
                gzip: s.info.as_ref().is_some_and(|i| i.gzip),
                bytes: s.info.as_ref().map_or(0, |i| i.bytes),
                records: s.counts.records,
                not_failed: s.counts.not_failed,
                classified: s.counts.classified,
                unclassified: s.counts.unclassified,
                malformed: s.counts.malformed,
                filtered: s.counts.filtered,
            })
            .collect(),
        skipped: report.skipped().collect(),
        groups: report.group_views().iter().map(Group::of).collect(),
        root_causes: report
            .root_causes()
            .into_iter()
            .map(|r| RootCauseOut {
                root_cause: r.root_cause,
                failures: r.failures,
                owners: r.owners,
                connections: r.connections,
                flows: r.flows,
                flows_capped: r.flows_capped,
                fix: r.fix,
                actor: r.actor,
            })
            .collect(),
        unexplained: report
            .unexplained_sorted()
            .into_iter()
            .map(|(sig, u)| UnexplainedOut {
                signature: sig,
                count: u.count,
                failed_runs: u.failed_runs,
                example: u.example.as_ref().map(|e| e.message.as_str()),
                files: u.files.iter().collect(),
            })
            .collect(),
        malformed: report.malformed().collect(),
        malformed_total: t.malformed,
        findings: report.findings().iter().map(FindingOut::of).collect(),
        daily: report
            .timelines()
            .tenant
            .iter()
            .map(|(day, c)| Daily {
                day: crate::time::format_day(day * 86_400),
                ok: c.ok,
                failed: &c.failed,
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    //! The schema test: the documented format as typed structs that deny unknown fields.
    //! Output that gains, loses or retypes a field fails here, so the module documentation
    //! and these structs must change together.

    use super::*;
    use crate::report::testutil::*;
    use crate::report::{FindingKind, OutputFormat, render as render_any};
    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct SDoc {
        version: u32,
        tool: String,
        as_of: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<String>,
        totals: STotals,
        inputs: Vec<SInput>,
        skipped: Vec<SSkipped>,
        groups: Vec<SGroup>,
        root_causes: Vec<SRootCause>,
        unexplained: Vec<SUnexplained>,
        malformed: Vec<SMalformed>,
        malformed_total: u64,
        findings: Vec<SFinding>,
        daily: Vec<SDaily>,
    }

    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct STotals {
        records: u64,
        not_failed: u64,
        failed: u64,
        failed_runs: u64,
        classified: u64,
        unclassified: u64,
        malformed: u64,
        filtered: u64,
        skipped_files: u64,
        inputs: u64,
    }

    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct SInput {
        path: String,
        kind: Option<crate::model::InputKind>,
        format: Option<String>,
        gzip: bool,
        bytes: u64,
        records: u64,
        not_failed: u64,
        classified: u64,
        unclassified: u64,
        malformed: u64,
        filtered: u64,
    }

    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct SSkipped {
        path: String,
        reason: String,
    }

    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct SGroup {
        owner: String,
        connection: String,
        connector: Option<String>,
        environments: Vec<String>,
        category: Category,
        root_cause: RootCause,
        effects: Effects,
        fix: Fix,
        fix_text: String,
        actor: Actor,
        confidence: Confidence,
        failures: u64,
        failed_runs: u64,
        broken_connection: bool,
        connection_statuses: u64,
        flows: u64,
        flows_capped: bool,
        flow_names: Vec<String>,
        first_seen: Option<String>,
        last_seen: Option<String>,
        aadsts: Vec<String>,
        example: Option<String>,
        evidence: Option<String>,
        rule: Option<String>,
        evidence_source: Option<EvidenceSource>,
        evidence_sources: BTreeMap<EvidenceSource, u64>,
        run_ids: Vec<String>,
        findings: Vec<String>,
    }

    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct SRootCause {
        root_cause: RootCause,
        failures: u64,
        owners: u64,
        connections: u64,
        flows: u64,
        flows_capped: bool,
        fix: Fix,
        actor: Actor,
    }

    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct SUnexplained {
        signature: String,
        count: u64,
        failed_runs: u64,
        example: Option<String>,
        files: Vec<String>,
    }

    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct SMalformed {
        file: String,
        position: SPosition,
        reason: String,
    }

    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct SPosition {
        unit: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        at: Option<u64>,
    }

    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct SFinding {
        kind: FindingKind,
        title: String,
        confidence: Confidence,
        root_cause: Option<RootCause>,
        fix: Option<Fix>,
        actor: Actor,
        evidence: Vec<String>,
        owners: Vec<String>,
        connections: Vec<String>,
        flows: Vec<String>,
        onset: Option<String>,
        details: serde_json::Map<String, Value>,
    }

    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct SDaily {
        day: String,
        ok: u64,
        failed: BTreeMap<RootCause, u64>,
    }

    fn sample_report() -> Report {
        let mut r = report_of(&sample(900, 21));
        r.add_skipped(crate::ingest::Skipped {
            path: "photo.png".into(),
            reason: "binary file".into(),
        });
        r.add_findings([Finding {
            kind: FindingKind::Cadence,
            title: "shared-office365-03 fails every 14 days".into(),
            confidence: Confidence::Hypothesis,
            root_cause: Some(RootCause::MfaMaxAge),
            fix: Some(Fix::SetTokenLifetimePolicy),
            actor: Actor::Admin,
            evidence: vec!["failures on 2024-05-02, 2024-05-16, 2024-05-30".into()],
            owners: vec!["owner3@contoso.com".into()],
            connections: vec!["shared-office365-03".into()],
            flows: vec![],
            onset: Some(T0 + 86_400),
            details: serde_json::json!({"interval_days": 14})
                .as_object()
                .unwrap()
                .clone(),
        }]);
        r
    }

    fn json_of(r: &Report) -> String {
        let mut buf = Vec::new();
        render(r, &RenderOptions::default(), &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn output_matches_the_documented_schema_exactly() {
        let text = json_of(&sample_report());
        let doc: SDoc = serde_json::from_str(&text).expect("documented schema");
        // Typed round trip equals the output: no field missing, none retyped.
        let original: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_value(&doc).unwrap(), original);

        assert_eq!(doc.version, VERSION);
        assert!(doc.tool.starts_with("flowdx "));
        let t = &doc.totals;
        assert_eq!(
            t.records,
            t.not_failed + t.classified + t.unclassified + t.malformed + t.filtered
        );
        assert_eq!(t.failed, t.classified + t.unclassified);
        assert_eq!(t.skipped_files, 1);
        assert_eq!(doc.malformed_total, t.malformed);
        assert!(doc.malformed.len() <= 20);
        assert!(!doc.groups.is_empty() && !doc.root_causes.is_empty());
        for g in &doc.groups {
            assert!(g.aadsts.iter().all(|c| c.starts_with("AADSTS")));
            for time in [&g.first_seen, &g.last_seen].into_iter().flatten() {
                assert!(time.ends_with('Z') && time.len() == 20, "{time}");
            }
            assert!(g.run_ids.len() <= 5);
        }
        let sorted = doc.groups.windows(2).all(|w| {
            (
                std::cmp::Reverse(w[0].failed_runs),
                std::cmp::Reverse(w[0].failures),
            ) <= (
                std::cmp::Reverse(w[1].failed_runs),
                std::cmp::Reverse(w[1].failures),
            )
        });
        assert!(sorted, "groups sorted by failed runs");
        let with_finding = doc
            .groups
            .iter()
            .find(|g| g.connection == "shared-office365-03")
            .unwrap();
        assert_eq!(
            with_finding.findings,
            ["shared-office365-03 fails every 14 days"]
        );
        assert_eq!(
            doc.findings[0].onset.as_deref(),
            Some("2024-05-02T00:00:00Z")
        );
        assert_eq!(doc.daily.first().unwrap().day, "2024-05-01");
    }

    #[test]
    fn empty_report_is_valid_too() {
        let text = json_of(&Report::new());
        let doc: SDoc = serde_json::from_str(&text).unwrap();
        assert_eq!(doc.totals.records, 0);
        assert!(doc.as_of.is_none());
    }

    #[test]
    fn every_format_renders_the_same_after_a_partial_round_trip() {
        let r = sample_report();
        let back = Report::from_partial_json(&r.to_partial_json()).unwrap();
        for f in OutputFormat::ALL {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let opts = RenderOptions {
                width: Some(100),
                ..RenderOptions::default()
            };
            render_any(&r, *f, &opts, &mut a).unwrap();
            render_any(&back, *f, &opts, &mut b).unwrap();
            assert_eq!(a, b, "{f}");
        }
    }

    #[test]
    fn every_format_is_independent_of_the_split() {
        let obs = sample(1200, 33);
        let whole = report_of(&obs);
        let mut parts: Vec<Report> = obs.chunks(97).map(report_of).collect();
        parts.reverse();
        let mut merged = Report::new();
        for p in parts {
            merged.merge(p);
        }
        for f in OutputFormat::ALL {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            render_any(&whole, *f, &RenderOptions::default(), &mut a).unwrap();
            render_any(&merged, *f, &RenderOptions::default(), &mut b).unwrap();
            assert_eq!(a, b, "{f}");
        }
    }

    #[test]
    fn io_errors_become_output_errors() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let r = sample_report();
        for f in OutputFormat::ALL {
            let err = render_any(&r, *f, &RenderOptions::default(), &mut Broken).unwrap_err();
            assert!(matches!(err, crate::Error::Output(_)), "{f}: {err}");
        }
    }
}

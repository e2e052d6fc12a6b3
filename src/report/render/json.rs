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
//!   "totals": {
//!     "records", "not_failed", "failed" (= classified + unclassified),
//!     "failed_runs" (failures from run histories), "classified", "unclassified",
//!     "malformed", "skipped_files", "inputs"           all integers;
//!                                        records = not_failed + classified + unclassified + malformed
//!   },
//!   "inputs": [ {                       one per input file, sorted by path
//!     "path", "kind" (run-history, connection-inventory, ...; null if never registered),
//!     "format" (csv, json, jsonl, text; null if never registered), "gzip", "bytes",
//!     "records", "not_failed", "classified", "unclassified", "malformed"
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

pub(crate) fn render(
    report: &Report,
    _opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let t = report.totals();
    let doc = Doc {
        version: VERSION,
        tool: concat!("flowdx ", env!("CARGO_PKG_VERSION")),
        as_of: report.as_of().map(crate::time::format_iso),
        totals: Totals {
            records: t.records,
            not_failed: t.not_failed,
            failed: t.failed,
            failed_runs: t.failed_runs,
            classified: t.classified,
            unclassified: t.unclassified,
            malformed: t.malformed,
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

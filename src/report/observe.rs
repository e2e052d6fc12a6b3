//! What the analysis hands the aggregate for each record, after classification and joins.

use crate::classify::Diagnosis;
use crate::model::{EvidenceSource, InputFormat, InputKind, Malformed, Ts};
use crate::vocab::{Actor, Confidence, Fix, RootCause};
use serde::{Deserialize, Serialize};

/// One input file, as sniffed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputInfo {
    /// The path as given or found (`-` for stdin).
    pub path: String,
    pub kind: InputKind,
    pub format: InputFormat,
    pub gzip: bool,
    pub bytes: u64,
}

/// A classified failure: the diagnosis and where it came from.
#[derive(Clone, Copy, Debug)]
pub struct Classified<'a> {
    pub diagnosis: &'a Diagnosis,
    /// The id of the rule that fired (`aadsts:50076`, `text:refresh-inactive`, ...).
    pub rule: &'a str,
    /// The text the rule matched.
    pub evidence: &'a str,
    /// The whole message the evidence was found in.
    pub message: &'a str,
    /// Which input supplied the message (the run itself, a joined connection status, ...).
    pub source: EvidenceSource,
}

/// The outcome of one record.
#[derive(Clone, Copy, Debug)]
pub enum Outcome<'a> {
    /// A run that did not fail, or an enrichment record without an error.
    NotFailed,
    /// A failure that a rule explains.
    Classified(Classified<'a>),
    /// A failure no rule explains; grouped by the message's signature.
    Unclassified {
        /// The best message available (may be empty when the export has no text at all).
        message: &'a str,
        /// The message's signature ([`crate::classify::signature`]), computed by the caller:
        /// unexplained failures are grouped by it.
        signature: &'a str,
    },
    /// A record that could not be decoded.
    Malformed(&'a Malformed),
}

/// What one record contributes to the report. Borrowed: the aggregate copies only what a
/// new group needs.
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    /// The input file's path, as in [`InputInfo::path`].
    pub file: &'a str,
    /// The kind of the input the record came from.
    pub kind: InputKind,
    pub run_id: Option<&'a str>,
    pub flow_id: Option<&'a str>,
    pub flow_name: Option<&'a str>,
    pub environment: Option<&'a str>,
    /// Resolved owner label (display name and UPN where known, else an id); None = unknown.
    pub owner: Option<&'a str>,
    /// Resolved connection name; None = unknown.
    pub connection: Option<&'a str>,
    pub connector: Option<&'a str>,
    /// When it happened (run start, sign-in time, connection last modified).
    pub time: Option<Ts>,
    pub outcome: Outcome<'a>,
}

/// The kind of a timing or policy finding (issue "timing and policy").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    PolicyWave,
    Cadence,
    Inactivity,
    InactivityForecast,
    Revocation,
    OwnerGone,
    Confounder,
    TokenPolicy,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::PolicyWave => "policy-wave",
            FindingKind::Cadence => "cadence",
            FindingKind::Inactivity => "inactivity",
            FindingKind::InactivityForecast => "inactivity-forecast",
            FindingKind::Revocation => "revocation",
            FindingKind::OwnerGone => "owner-gone",
            FindingKind::Confounder => "confounder",
            FindingKind::TokenPolicy => "token-policy",
        }
    }
}

/// A cause that shows only across records (timing) or in policy settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// One sentence a person reads first.
    pub title: String,
    pub confidence: Confidence,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<RootCause>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    pub actor: Actor,
    /// The facts the finding rests on, one per line.
    pub evidence: Vec<String>,
    pub owners: Vec<String>,
    pub connections: Vec<String>,
    pub flows: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onset: Option<Ts>,
    /// Kind-specific figures (interval days, expiry dates, policy settings, ...).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, serde_json::Value>,
}

//! The normalised records that every decoder produces, whatever the export's own shape.
//!
//! Run records borrow from the decoder's buffer (`Cow<'a, str>`) so the hot path does not
//! allocate per record; the smaller enrichment records (flows, connections, sign-ins,
//! policies, failing actions) are owned because they are kept for the joins.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// [`str::trim`], without decoding characters in the usual case of a name that starts and
/// ends with an ASCII character other than whitespace (runs are keyed by names trimmed
/// several times each).
#[inline]
pub fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let plain = |c: u8| c.is_ascii() && !c.is_ascii_whitespace() && c != 0x0b;
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) if plain(f) && plain(l) => s,
        _ => s.trim(),
    }
}

/// Whether bytes are a GUID: 8-4-4-4-12 hex digits (either case), 36 bytes in all. The
/// dashes are checked first (most text that is not a GUID fails there), then every other
/// byte without a branch per byte.
pub fn is_guid(b: &[u8]) -> bool {
    /// Where a GUID has its dashes.
    const DASH_AT: [usize; 4] = [8, 13, 18, 23];
    /// The same, by position.
    const DASHES: [bool; 36] = {
        let mut d = [false; 36];
        let mut k = 0;
        while k < DASH_AT.len() {
            d[DASH_AT[k]] = true;
            k += 1;
        }
        d
    };
    b.len() == 36
        && DASH_AT.iter().all(|&i| b[i] == b'-')
        && b.iter()
            .zip(DASHES)
            .fold(true, |ok, (&c, dash)| ok & (dash | c.is_ascii_hexdigit()))
}

/// Seconds since the Unix epoch, UTC.
pub type Ts = i64;

/// Which kind of export a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// Flow runs: portal CSV, runs API pages, Dataverse flowrun, Get-FlowRun, generic CSV/JSONL.
    RunHistory,
    /// Logic Apps run-action lists (`.../runs/{run}/actions`), joined to runs by run id.
    RunActions,
    /// Get-AdminFlow, flows API, CoE admin_flow.
    FlowInventory,
    /// Get-AdminPowerAppConnection, connections API, Microsoft.Web/connections.
    ConnectionInventory,
    /// Entra sign-in logs: admin center CSV/JSON, Graph signIns, Log Analytics.
    SignInLog,
    /// Get-AzureADPolicy, Graph tokenLifetimePolicies.
    TokenPolicy,
}

impl InputKind {
    pub const ALL: &'static [InputKind] = &[
        InputKind::RunHistory,
        InputKind::RunActions,
        InputKind::FlowInventory,
        InputKind::ConnectionInventory,
        InputKind::SignInLog,
        InputKind::TokenPolicy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::RunHistory => "run-history",
            InputKind::RunActions => "run-actions",
            InputKind::FlowInventory => "flow-inventory",
            InputKind::ConnectionInventory => "connection-inventory",
            InputKind::SignInLog => "sign-in-log",
            InputKind::TokenPolicy => "token-policy",
        }
    }

    /// Enrichment kinds are read before run histories: they feed the joins.
    pub fn is_enrichment(self) -> bool {
        self != InputKind::RunHistory
    }
}

impl std::str::FromStr for InputKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        InputKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<_> = InputKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown kind '{s}' (expected one of: {})", names.join(", "))
            })
    }
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The container format of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputFormat {
    /// Comma, semicolon or tab separated, with a header row.
    Csv,
    /// A JSON array of records, or an object whose `value` array holds them (API pages).
    Json,
    /// One JSON object per line.
    JsonLines,
    /// PowerShell `Format-List` text (`Name : value` blocks).
    Text,
}

impl InputFormat {
    pub const ALL: &'static [InputFormat] = &[
        InputFormat::Csv,
        InputFormat::Json,
        InputFormat::JsonLines,
        InputFormat::Text,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Csv => "csv",
            InputFormat::Json => "json",
            InputFormat::JsonLines => "jsonl",
            InputFormat::Text => "text",
        }
    }
}

impl std::str::FromStr for InputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" | "tsv" => Ok(InputFormat::Csv),
            "json" => Ok(InputFormat::Json),
            "jsonl" | "json-lines" | "ndjson" => Ok(InputFormat::JsonLines),
            "text" | "txt" => Ok(InputFormat::Text),
            _ => Err(format!(
                "unknown input format '{s}' (expected csv, json, jsonl or text)"
            )),
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run's outcome, normalised from the many spellings exports use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Succeeded,
    Failed,
    Cancelled,
    Running,
    Skipped,
    Other,
}

impl RunStatus {
    /// Case-insensitive mapping of every status value seen in exports.
    pub fn parse(s: &str) -> RunStatus {
        let t = s.trim();
        let eq = |w: &str| t.eq_ignore_ascii_case(w);
        if eq("succeeded") || eq("success") || eq("successful") || eq("ok") {
            RunStatus::Succeeded
        } else if eq("failed")
            || eq("failure")
            || eq("faulted")
            || eq("timedout")
            || eq("timed out")
            || eq("error")
            || eq("aborted")
        {
            RunStatus::Failed
        } else if eq("cancelled") || eq("canceled") {
            RunStatus::Cancelled
        } else if eq("running") || eq("waiting") || eq("paused") || eq("suspended") {
            RunStatus::Running
        } else if eq("skipped") || eq("ignored") {
            RunStatus::Skipped
        } else {
            RunStatus::Other
        }
    }

    pub fn is_failed(self) -> bool {
        self == RunStatus::Failed
    }
}

/// In what situation a message was produced. Classification uses it to choose the effect:
/// a failure while creating a connection is E2/E3, a run that fails after working is E1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Context {
    /// A flow run (the default).
    #[default]
    Run,
    /// Creating a connection (manually or automatically from a template).
    ConnectionCreation,
    /// The status of an existing connection (inventory).
    ConnectionStatus,
    /// An Entra sign-in log row.
    SignIn,
}

/// Most trigger names whose host a thread keeps (it starts afresh when full).
const TRIGGERS_KEPT: usize = 1024;
/// Longest trigger name whose host is kept, in bytes: what is kept stays under 400 KB
/// per thread, whatever the input.
const TRIGGER_KEPT_LEN: usize = 256;

thread_local! {
    /// Trigger names seen on this thread and their hosts.
    static TRIGGERS: std::cell::RefCell<hashbrown::HashMap<Box<str>, Option<Host>>> =
        std::cell::RefCell::new(hashbrown::HashMap::new());
}

/// The product that hosts a flow's trigger, for effect E5 (embedded experiences).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Host {
    SharePoint,
    Teams,
    PowerApps,
    Excel,
}

impl Host {
    /// The host product a flow is started from, when its trigger is an instant one that a
    /// person starts inside SharePoint, Teams, Power Apps or Excel (effect E5). Automated
    /// triggers (webhooks, polling, recurrence) run on the owner's connections alone and
    /// are not embedded use, even when their connector is SharePoint or Teams.
    ///
    /// A failed run's trigger is read on every failure, and a tenant has few distinct
    /// trigger names: each thread keeps the answers for up to 1,024 names
    /// (thirteen searches of a name cost about a thousand instructions, a lookup a tenth).
    pub fn from_trigger(trigger: &str) -> Option<Host> {
        if trigger.len() > TRIGGER_KEPT_LEN {
            return Host::of_trigger(trigger);
        }
        TRIGGERS.with_borrow_mut(|kept| {
            if let Some(&host) = kept.get(trigger) {
                return host;
            }
            let host = Host::of_trigger(trigger);
            if kept.len() >= TRIGGERS_KEPT {
                kept.clear();
            }
            kept.insert(trigger.into(), host);
            host
        })
    }

    /// [`Host::from_trigger`] worked out.
    fn of_trigger(trigger: &str) -> Option<Host> {
        let has = |w: &str| crate::classify::token::find_ci(trigger, w).is_some();
        const AUTOMATED: [&str; 8] = [
            "webhook",
            "recurrence",
            "when_a",
            "when a",
            "getonnew",
            "getonupdated",
            "polling",
            "scheduled",
        ];
        if AUTOMATED.iter().any(|w| has(w)) {
            return None;
        }
        if has("powerapp") || has("power apps") {
            Some(Host::PowerApps)
        } else if has("excel") {
            Some(Host::Excel)
        } else if has("teams") {
            Some(Host::Teams)
        } else if has("sharepoint") && has("selected") {
            Some(Host::SharePoint)
        } else {
            None
        }
    }
}

/// Where a piece of evidence came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceSource {
    /// The run's own error code and message.
    RunError,
    /// A failing action's error inside the run record (runs with expanded actions).
    ActionError,
    /// A failing action from a separate run-actions export, joined by run id.
    RunActions,
    /// The status of the connection the flow uses, from the connection inventory.
    ConnectionStatus,
    /// A matching Entra sign-in record.
    SignInLog,
}

impl EvidenceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceSource::RunError => "run-error",
            EvidenceSource::ActionError => "action-error",
            EvidenceSource::RunActions => "run-actions",
            EvidenceSource::ConnectionStatus => "connection-status",
            EvidenceSource::SignInLog => "sign-in-log",
        }
    }
}

/// One error text attached to a record.
#[derive(Clone, Debug, PartialEq)]
pub struct Text<'a> {
    pub source: EvidenceSource,
    /// The failing action's name, where known.
    pub action: Option<Cow<'a, str>>,
    /// The error code next to the message (`ActionFailed`, `Unauthorized`, `InvalidTemplate`).
    pub code: Option<Cow<'a, str>>,
    pub text: Cow<'a, str>,
}

/// One run, normalised.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord<'a> {
    pub run_id: Option<Cow<'a, str>>,
    pub flow_id: Option<Cow<'a, str>>,
    pub flow_name: Option<Cow<'a, str>>,
    pub environment: Option<Cow<'a, str>>,
    pub owner: Option<Cow<'a, str>>,
    /// Connection name or id, where the export names one.
    pub connection: Option<Cow<'a, str>>,
    /// Connector (`shared_office365`), where the export names one.
    pub connector: Option<Cow<'a, str>>,
    /// Trigger name or kind, used for E5 (embedded hosts).
    pub trigger: Option<Cow<'a, str>>,
    pub status: RunStatus,
    /// When the run is counted: its start, or its end when the export gives no start. The
    /// end is not read when the start is there (nothing else uses it, and a timestamp is a
    /// tenth of the cost of decoding a record).
    pub time: Option<Ts>,
    /// Error texts: the run-level error first, then failing actions.
    pub texts: Vec<Text<'a>>,
    /// 1-based line (CSV, JSON Lines) or record number (JSON) in its file.
    pub position: Position,
}

impl<'a> RunRecord<'a> {
    pub fn new(status: RunStatus, position: Position) -> Self {
        RunRecord {
            run_id: None,
            flow_id: None,
            flow_name: None,
            environment: None,
            owner: None,
            connection: None,
            connector: None,
            trigger: None,
            status,
            time: None,
            texts: Vec::new(),
            position,
        }
    }
}

/// A failing (or succeeded) action from a run-actions export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub run_id: String,
    pub action: String,
    pub status: RunStatus,
    pub code: Option<String>,
    pub message: Option<String>,
    pub start: Option<Ts>,
}

/// A flow's reference to one connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRef {
    /// Connection name (`shared-office365-<guid>`) where known.
    pub connection: Option<String>,
    /// Connector (`shared_office365`).
    pub connector: Option<String>,
}

/// A flow from an inventory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct FlowRecord {
    pub flow_id: String,
    pub name: Option<String>,
    pub environment: Option<String>,
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub owner_upn: Option<String>,
    pub state: Option<String>,
    pub suspension_reason: Option<String>,
    pub trigger: Option<String>,
    pub created: Option<Ts>,
    pub connections: Vec<ConnectionRef>,
}

/// A connection's health as the inventory reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionStatus {
    Connected,
    Error,
    Unknown,
}

/// A connection from an inventory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    /// Connection name (`shared-office365-<guid>`), the join key.
    pub connection: String,
    pub connector: Option<String>,
    pub display_name: Option<String>,
    pub environment: Option<String>,
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub owner_upn: Option<String>,
    pub status: ConnectionStatus,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created: Option<Ts>,
    pub last_modified: Option<Ts>,
}

/// A conditional access policy as a sign-in record lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedPolicy {
    pub name: String,
    pub result: String,
    pub grant_controls: Vec<String>,
    pub session_controls: Vec<String>,
}

/// An Entra sign-in record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct SignInRecord {
    pub time: Option<Ts>,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    pub user_id: Option<String>,
    pub user_upn: Option<String>,
    pub user_name: Option<String>,
    pub app: Option<String>,
    pub app_id: Option<String>,
    pub resource: Option<String>,
    pub resource_id: Option<String>,
    /// 0 on success.
    pub error_code: u32,
    pub failure_reason: Option<String>,
    /// `success`, `failure`, `notApplied` (lower-cased).
    pub ca_status: Option<String>,
    pub policies: Vec<AppliedPolicy>,
    pub client_app: Option<String>,
    pub device: Option<String>,
    pub location: Option<String>,
    pub ip: Option<String>,
    pub interactive: Option<bool>,
}

/// A token lifetime policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct PolicyRecord {
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub is_organization_default: Option<bool>,
    /// The policy's settings as written (`MaxAgeMultiFactor` -> `14.00:00:00`).
    pub settings: Vec<(String, String)>,
    /// The raw definition text, for evidence.
    pub definition: String,
}

/// Where in a file something is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "unit", content = "at")]
pub enum Position {
    /// 1-based line.
    Line(u64),
    /// 1-based record number (JSON arrays, text blocks).
    Record(u64),
    /// Byte offset from the start of the (decompressed) stream.
    Byte(u64),
    /// The whole file.
    File,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Record(n) => write!(f, "record {n}"),
            Position::Byte(n) => write!(f, "byte {n}"),
            Position::File => f.write_str("file"),
        }
    }
}

/// A record that could not be decoded, with a reason a person understands.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Malformed {
    pub file: String,
    pub position: Position,
    pub reason: String,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.position, self.reason)
    }
}

/// One decoded item, of whatever kind the file holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Item<'a> {
    Run(RunRecord<'a>),
    Action(ActionRecord),
    Flow(FlowRecord),
    Connection(ConnectionRecord),
    SignIn(SignInRecord),
    Policy(PolicyRecord),
    Malformed(Malformed),
}

#[cfg(test)]
mod host_tests {
    use super::{Host, TRIGGER_KEPT_LEN, TRIGGERS, TRIGGERS_KEPT};

    /// Real trigger names and made-up ones, asked for more often than the thread keeps
    /// (so the kept answers start afresh on the way): each name's host worked out, the
    /// first time and every time after.
    #[test]
    fn kept_hosts_are_the_hosts() {
        let named = [
            ("manual", None),
            ("Recurrence", None),
            ("When_a_new_email_arrives_(V3)", None),
            ("For_a_selected_item", None),
            ("For a selected file (SharePoint)", Some(Host::SharePoint)),
            ("PowerApps", Some(Host::PowerApps)),
            ("Power Apps (V2)", Some(Host::PowerApps)),
            ("For_a_selected_row (Excel)", Some(Host::Excel)),
            ("For a selected message (Teams)", Some(Host::Teams)),
            ("Teams webhook", None),
            ("SHAREPOINT", None),
            ("é teams é", Some(Host::Teams)),
            ("", None),
        ];
        let mut triggers: Vec<String> = named.iter().map(|(t, _)| t.to_string()).collect();
        triggers.push(format!(
            "For a selected file (SharePoint) {}",
            "x".repeat(300)
        ));
        triggers.push(format!("Recurrence {}", "x".repeat(300)));
        triggers.extend((0..TRIGGERS_KEPT + 10).map(|i| match i % 3 {
            0 => format!("Excel sheet {i}"),
            1 => format!("Recurrence {i}"),
            _ => format!("trigger {i}"),
        }));
        for round in 0..2 {
            for (t, want) in named {
                assert_eq!(Host::from_trigger(t), want, "round {round}: {t:?}");
            }
            for t in &triggers {
                assert_eq!(
                    Host::from_trigger(t),
                    Host::of_trigger(t),
                    "round {round}: {t:?}"
                );
            }
        }
        assert!(
            TRIGGERS.with_borrow(|kept| kept.len() <= TRIGGERS_KEPT
                && kept.keys().all(|k| k.len() <= TRIGGER_KEPT_LEN))
        );
    }
}

#[cfg(test)]
mod guid_tests {
    use super::is_guid;

    /// Against the definition, position by position: every byte of a GUID swapped for a
    /// dash, a hex digit of either case, or a byte that is neither.
    #[test]
    fn is_guid_checks_every_position() {
        let spec = |b: &[u8]| {
            b.len() == 36
                && b.iter().enumerate().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => *c == b'-',
                    _ => c.is_ascii_hexdigit(),
                })
        };
        let good = *b"19528cc4-23c1-4b39-abea-f010eb9fe3f9";
        assert!(is_guid(&good));
        for i in 0..good.len() {
            for c in [b'-', b'0', b'a', b'F', b'g', b'G', b' ', 0xc3] {
                let mut g = good;
                g[i] = c;
                assert_eq!(is_guid(&g), spec(&g), "{i} {c}");
            }
        }
        assert!(!is_guid(&good[1..]));
        assert!(!is_guid(b""));
    }
}

#[cfg(test)]
mod trim_tests {
    use super::trim;
    use proptest::prelude::*;

    #[test]
    fn trims_like_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{b}a\u{b}",
            "\u{c}x",
            "x\u{85}",
            "\u{3000}name\u{2003}",
            "\u{1c}a\u{1f}",
            "é",
            "\té\n",
            "a b",
            "\r\n",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn any_text(s in "[ \\t\\n\\x0b\\x0c\\r\\x1c\\u{85}\\u{a0}\\u{3000}a-zé]{0,8}") {
            prop_assert_eq!(trim(&s), s.trim());
        }
    }
}

#[cfg(test)]
mod status_tests {
    use super::RunStatus;
    use proptest::prelude::*;

    /// The words each status is written as, in any case, padded or not.
    const WORDS: &[(&str, RunStatus)] = &[
        ("succeeded", RunStatus::Succeeded),
        ("success", RunStatus::Succeeded),
        ("successful", RunStatus::Succeeded),
        ("ok", RunStatus::Succeeded),
        ("failed", RunStatus::Failed),
        ("failure", RunStatus::Failed),
        ("faulted", RunStatus::Failed),
        ("timedout", RunStatus::Failed),
        ("timed out", RunStatus::Failed),
        ("error", RunStatus::Failed),
        ("aborted", RunStatus::Failed),
        ("cancelled", RunStatus::Cancelled),
        ("canceled", RunStatus::Cancelled),
        ("running", RunStatus::Running),
        ("waiting", RunStatus::Running),
        ("paused", RunStatus::Running),
        ("suspended", RunStatus::Running),
        ("skipped", RunStatus::Skipped),
        ("ignored", RunStatus::Skipped),
    ];

    #[test]
    fn every_status_word_in_any_case() {
        for (w, want) in WORDS {
            for v in [w.to_string(), w.to_uppercase(), format!(" \t{w} "), {
                let mut c = w.chars();
                c.next()
                    .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
            }] {
                assert_eq!(RunStatus::parse(&v), *want, "{v:?}");
            }
        }
        for v in [
            "",
            "succeededx",
            "fail",
            "successfully",
            "timed  out",
            "Failed.",
            "ﬁled",
        ] {
            assert_eq!(RunStatus::parse(v), RunStatus::Other, "{v:?}");
        }
    }

    proptest! {
        /// Anything that is not one of the words (ignoring case and surrounding whitespace)
        /// is `Other`.
        #[test]
        fn other_words_are_other(s in "\\PC{0,14}") {
            let known = WORDS.iter().find(|(w, _)| s.trim().eq_ignore_ascii_case(w));
            prop_assert_eq!(RunStatus::parse(&s), known.map_or(RunStatus::Other, |k| k.1));
        }
    }
}

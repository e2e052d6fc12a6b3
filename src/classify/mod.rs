//! Classification: from one error text (and its context) to a [`Diagnosis`].
//!
//! The knowledge is data compiled into the binary: the AADSTS catalog (`data/aadsts.tsv`),
//! the text rules (`data/rules.toml`) and the vocabulary texts (`data/vocab.toml`). A user
//! rules file in the same format adds or overrides rules at run time (`--rules`).
//! The hot path runs cheap literal checks first and only then regexes.

use crate::model::{Context, Host, Ts};
use crate::vocab::{Actor, Category, Confidence, Effects, Fix, RootCause};

/// What surrounds a message: decides effects and sometimes the root cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MsgContext {
    pub context: Context,
    /// Host product of the flow's trigger (SharePoint, Teams, Power Apps, Excel): E5.
    pub host: Option<Host>,
}

/// Fields parsed out of the token-refresh message and its embedded OAuth error JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenDetails {
    /// `office365`, `sharepointonline`, `aadcertificate`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The connector token service's id (`g-<guid>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_correlation_id: Option<String>,
    /// Entra's correlation id (joins to the sign-in log).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Entra's trace id (the sign-in log's request id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Ts>,
    /// "The token was issued on ..." / "The grant was issued on ...".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_on: Option<Ts>,
    /// "... was inactive for 90.00:00:00", in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inactive_for: Option<i64>,
    /// "... TokensValidFrom date ... is '...'": the revocation instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_valid_from: Option<Ts>,
}

impl TokenDetails {
    pub fn is_empty(&self) -> bool {
        *self == TokenDetails::default()
    }
}

/// The verdict for one message.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnosis {
    pub category: Category,
    pub root_cause: RootCause,
    pub effects: Effects,
    pub fix: Fix,
    pub actor: Actor,
    pub confidence: Confidence,
    /// AADSTS codes found, in order of appearance, without duplicates.
    pub aadsts: Vec<u32>,
    /// Index of the rule that fired, in [`Classifier::rule_id`]'s table.
    pub rule: u16,
    /// Byte span of the matched text in the message.
    pub span: (usize, usize),
    /// Parsed token-refresh fields, when the message has them.
    pub token: Option<Box<TokenDetails>>,
}

impl Diagnosis {
    /// The matched text, cut from the message the diagnosis was made from.
    pub fn evidence<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.span.0..self.span.1).unwrap_or("")
    }
}

pub mod knowledge;

/// The compiled rule set: the AADSTS catalog and the text rules, plus any user rules.
/// Built once, shared read-only by every worker (`Sync`).
pub struct Classifier {
    _private: (),
}

impl Classifier {
    /// The built-in rules only.
    pub fn builtin() -> Classifier {
        unimplemented!("classifier")
    }

    /// The built-in rules plus a user rules file (TOML or JSON) that adds or overrides rules.
    pub fn with_user_rules(_path: &std::path::Path) -> crate::Result<Classifier> {
        unimplemented!("classifier")
    }

    /// Classify one message. Always returns a diagnosis; `Category::Unknown` when no rule fires.
    pub fn classify(&self, _text: &str, _ctx: MsgContext) -> Diagnosis {
        unimplemented!("classifier")
    }

    /// The stable id of a rule (`aadsts:50076`, `text:refresh-token-inactive`, a user rule id).
    pub fn rule_id(&self, _rule: u16) -> &str {
        unimplemented!("classifier")
    }
}

/// The signature of a message no rule explains: numbers, GUIDs, dates, emails and URLs masked.
pub fn signature(_text: &str) -> String {
    unimplemented!("signature")
}

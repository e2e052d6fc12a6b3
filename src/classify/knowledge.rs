//! Human texts for the vocabulary (descriptions, fix instructions) and the defaults that turn
//! a category into a diagnosis, loaded from `data/vocab.toml` once.
//!
//! The file is compiled in; [`Vocab::parse`] checks that every category, root cause, effect
//! and fix has its entry, so a missing text is a test failure, never a blank in a report.

use crate::model::{Context, Host};
use crate::vocab::{Actor, Category, Confidence, Effect, Effects, Fix, RootCause};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

const VOCAB_TOML: &str = include_str!("../../data/vocab.toml");

static VOCAB: LazyLock<Vocab> =
    LazyLock::new(|| Vocab::parse(VOCAB_TOML).unwrap_or_else(|e| panic!("data/vocab.toml: {e}")));

/// What a category means for a diagnosis when no rule says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Defaults {
    pub root_cause: RootCause,
    pub fix: Fix,
    pub actor: Actor,
    pub effects: Effects,
}

/// Which hosts an adjustment applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostMatch {
    /// The adjustment does not look at the host.
    Ignore,
    /// Any known host.
    Any,
    /// One host.
    Is(Host),
}

/// A context adjustment: how the situation a message came from changes its diagnosis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adjust {
    pub context: Option<Context>,
    pub host: HostMatch,
    pub categories: Vec<Category>,
    /// Only touch diagnoses whose root cause (before adjusting) is one of these; empty = any.
    pub root_causes: Vec<RootCause>,
    pub root_cause: Option<RootCause>,
    pub effects: Option<Effects>,
    pub add_effects: Effects,
    pub confidence: Option<Confidence>,
}

impl Adjust {
    /// Does this adjustment apply to a message in `context`/`host` diagnosed as `category`
    /// with `root_cause`?
    pub fn applies(
        &self,
        context: Context,
        host: Option<Host>,
        category: Category,
        root_cause: RootCause,
    ) -> bool {
        if self.context.is_some_and(|c| c != context) {
            return false;
        }
        let host_ok = match self.host {
            HostMatch::Ignore => true,
            HostMatch::Any => host.is_some(),
            HostMatch::Is(h) => host == Some(h),
        };
        host_ok
            && self.categories.contains(&category)
            && (self.root_causes.is_empty() || self.root_causes.contains(&root_cause))
    }
}

/// The parsed `vocab.toml`, indexed by each enum's declaration order.
#[derive(Debug)]
pub struct Vocab {
    category_text: Vec<String>,
    defaults: Vec<Defaults>,
    root_cause_text: Vec<String>,
    root_cause_cap: Vec<Option<Confidence>>,
    root_cause_note: Vec<Option<String>>,
    effect_title: Vec<String>,
    effect_text: Vec<String>,
    fix_text: Vec<String>,
    fix_actor: Vec<Actor>,
    adjust: Vec<Adjust>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VocabFile {
    category: BTreeMap<Category, CategorySpec>,
    root_cause: BTreeMap<RootCause, RootCauseSpec>,
    effect: BTreeMap<Effect, EffectSpec>,
    fix: BTreeMap<Fix, FixSpec>,
    #[serde(default)]
    adjust: Vec<AdjustSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategorySpec {
    text: String,
    root_cause: RootCause,
    fix: Fix,
    actor: Option<Actor>,
    #[serde(default)]
    effects: Vec<Effect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RootCauseSpec {
    text: String,
    confidence: Option<Confidence>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EffectSpec {
    title: String,
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixSpec {
    actor: Actor,
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdjustSpec {
    context: Option<Context>,
    host: Option<String>,
    categories: Vec<Category>,
    #[serde(default)]
    root_causes: Vec<RootCause>,
    root_cause: Option<RootCause>,
    effects: Option<Vec<Effect>>,
    #[serde(default)]
    add_effects: Vec<Effect>,
    confidence: Option<Confidence>,
}

/// Parse a host name as users and data files write it (`sharepoint`, `share-point`,
/// `teams`, `power-apps`, `powerapps`, `excel`).
pub fn parse_host(s: &str) -> Result<Host, String> {
    let t: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .collect::<String>()
        .to_ascii_lowercase();
    match t.as_str() {
        "sharepoint" => Ok(Host::SharePoint),
        "teams" => Ok(Host::Teams),
        "powerapps" => Ok(Host::PowerApps),
        "excel" => Ok(Host::Excel),
        _ => Err(format!(
            "unknown host '{s}' (expected sharepoint, teams, power-apps or excel)"
        )),
    }
}

/// Parse a message context (`run`, `connection-creation`, `connection-status`, `sign-in`).
pub fn parse_context(s: &str) -> Result<Context, String> {
    let t: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .collect::<String>()
        .to_ascii_lowercase();
    match t.as_str() {
        "run" => Ok(Context::Run),
        "connectioncreation" | "creation" => Ok(Context::ConnectionCreation),
        "connectionstatus" | "connection" => Ok(Context::ConnectionStatus),
        "signin" | "signinlog" => Ok(Context::SignIn),
        _ => Err(format!(
            "unknown context '{s}' (expected run, connection-creation, connection-status or sign-in)"
        )),
    }
}

fn complete<K: Copy + Ord + std::fmt::Display, V>(
    all: &[K],
    map: &BTreeMap<K, V>,
    what: &str,
) -> Result<(), String> {
    let missing: Vec<String> = all
        .iter()
        .filter(|k| !map.contains_key(k))
        .map(|k| k.to_string())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("missing {what} entries: {}", missing.join(", ")))
    }
}

fn nonblank(text: &str, what: &str) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() {
        Err(format!("{what} has an empty text"))
    } else {
        Ok(t.to_string())
    }
}

impl Vocab {
    /// Parse and check a vocabulary file.
    pub fn parse(src: &str) -> Result<Vocab, String> {
        let file: VocabFile = toml::from_str(src).map_err(|e| e.to_string())?;
        complete(Category::ALL, &file.category, "category")?;
        complete(RootCause::ALL, &file.root_cause, "root_cause")?;
        complete(Effect::ALL, &file.effect, "effect")?;
        complete(Fix::ALL, &file.fix, "fix")?;

        let mut fix_text = Vec::new();
        let mut fix_actor = Vec::new();
        for (f, spec) in &file.fix {
            fix_text.push(nonblank(&spec.text, f.as_str())?);
            fix_actor.push(spec.actor);
        }
        let mut category_text = Vec::new();
        let mut defaults = Vec::new();
        for (c, spec) in &file.category {
            category_text.push(nonblank(&spec.text, c.as_str())?);
            defaults.push(Defaults {
                root_cause: spec.root_cause,
                fix: spec.fix,
                actor: spec.actor.unwrap_or(fix_actor[spec.fix as usize]),
                effects: Effects::of(&spec.effects),
            });
        }
        let mut root_cause_text = Vec::new();
        let mut root_cause_cap = Vec::new();
        let mut root_cause_note = Vec::new();
        for (r, spec) in &file.root_cause {
            root_cause_text.push(nonblank(&spec.text, r.as_str())?);
            root_cause_cap.push(spec.confidence);
            root_cause_note.push(spec.note.as_ref().map(|n| n.trim().to_string()));
        }
        let mut effect_title = Vec::new();
        let mut effect_text = Vec::new();
        for (e, spec) in &file.effect {
            effect_title.push(nonblank(&spec.title, e.as_str())?);
            effect_text.push(nonblank(&spec.text, e.as_str())?);
        }
        let mut adjust = Vec::new();
        for (i, a) in file.adjust.into_iter().enumerate() {
            let host = match a.host.as_deref() {
                None => HostMatch::Ignore,
                Some(h) if h.trim().eq_ignore_ascii_case("any") => HostMatch::Any,
                Some(h) => {
                    HostMatch::Is(parse_host(h).map_err(|e| format!("adjust #{}: {e}", i + 1))?)
                }
            };
            adjust.push(Adjust {
                context: a.context,
                host,
                categories: a.categories,
                root_causes: a.root_causes,
                root_cause: a.root_cause,
                effects: a.effects.map(|e| Effects::of(&e)),
                add_effects: Effects::of(&a.add_effects),
                confidence: a.confidence,
            });
        }
        Ok(Vocab {
            category_text,
            defaults,
            root_cause_text,
            root_cause_cap,
            root_cause_note,
            effect_title,
            effect_text,
            fix_text,
            fix_actor,
            adjust,
        })
    }
}

/// The compiled-in vocabulary.
pub fn vocab() -> &'static Vocab {
    &VOCAB
}

/// What the category means, in one sentence.
pub fn category_text(c: Category) -> &'static str {
    &VOCAB.category_text[c as usize]
}

/// Why it happened, in one or two sentences.
pub fn root_cause_text(r: RootCause) -> &'static str {
    &VOCAB.root_cause_text[r as usize]
}

/// The source document's effect, retold.
pub fn effect_text(e: Effect) -> &'static str {
    &VOCAB.effect_text[e as usize]
}

/// A few words naming the effect ("Future runs fail").
pub fn effect_title(e: Effect) -> &'static str {
    &VOCAB.effect_title[e as usize]
}

/// What exactly to do, and where.
pub fn fix_text(f: Fix) -> &'static str {
    &VOCAB.fix_text[f as usize]
}

/// Who carries out the fix unless a rule says otherwise.
pub fn fix_actor(f: Fix) -> Actor {
    VOCAB.fix_actor[f as usize]
}

/// The diagnosis a category gets when no rule overrides it.
pub fn category_defaults(c: Category) -> Defaults {
    VOCAB.defaults[c as usize]
}

/// The most confidence a diagnosis with this root cause can claim, if capped.
pub fn root_cause_cap(r: RootCause) -> Option<Confidence> {
    VOCAB.root_cause_cap[r as usize]
}

/// Which evidence would settle this root cause, for contested or inferred causes.
pub fn root_cause_note(r: RootCause) -> Option<&'static str> {
    VOCAB.root_cause_note[r as usize].as_deref()
}

/// The context adjustments, in the order they are tried.
pub fn adjustments() -> &'static [Adjust] {
    &VOCAB.adjust
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_identifier_has_text() {
        for c in Category::ALL {
            assert!(!category_text(*c).is_empty(), "{c}");
        }
        for r in RootCause::ALL {
            assert!(!root_cause_text(*r).is_empty(), "{r}");
        }
        for e in Effect::ALL {
            assert!(!effect_text(*e).is_empty(), "{e}");
            assert!(!effect_title(*e).is_empty(), "{e}");
        }
        for f in Fix::ALL {
            assert!(!fix_text(*f).is_empty(), "{f}");
        }
    }

    #[test]
    fn defaults_follow_the_design() {
        let d = category_defaults(Category::MfaRequired);
        assert_eq!(d.root_cause, RootCause::CaPolicyAfterConnection);
        assert_eq!(d.fix, Fix::RepairConnection);
        assert_eq!(d.actor, Actor::Owner);
        assert!(d.effects.contains(Effect::E1));
        let d = category_defaults(Category::TokenMaxAge);
        assert_eq!(d.root_cause, RootCause::MfaMaxAge);
        assert_eq!(d.actor, Actor::Admin);
        assert_eq!(
            root_cause_cap(RootCause::MfaMaxAge),
            Some(Confidence::Hypothesis)
        );
        let d = category_defaults(Category::Transient);
        assert_eq!((d.fix, d.actor), (Fix::RetryLater, Actor::None));
    }

    #[test]
    fn incomplete_vocab_is_rejected() {
        let err = Vocab::parse("[category]\n[root_cause]\n[effect]\n[fix]\n").unwrap_err();
        assert!(err.contains("missing category entries"), "{err}");
    }

    #[test]
    fn hosts_and_contexts_parse() {
        assert_eq!(parse_host("SharePoint"), Ok(Host::SharePoint));
        assert_eq!(parse_host("power-apps"), Ok(Host::PowerApps));
        assert!(parse_host("outlook").is_err());
        assert_eq!(
            parse_context("connection-creation"),
            Ok(Context::ConnectionCreation)
        );
        assert_eq!(parse_context("sign-in"), Ok(Context::SignIn));
        assert!(parse_context("later").is_err());
    }
}

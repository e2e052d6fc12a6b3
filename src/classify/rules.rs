//! Rule specifications (`data/rules.toml`, user rules files) and their compilation into the
//! matcher the classifier runs: one Aho-Corasick automaton over every rule's literals plus the
//! literals that trigger AADSTS extraction and the token parser, per-rule regexes, and an
//! index from AADSTS code to the rules that a code triggers.
//!
//! Rules are stored sorted by priority (highest first, file order breaking ties), so a rule's
//! index is also its rank: the classifier evaluates candidates in index order and the first
//! that applies wins.

use crate::classify::catalog::{self, CODE_PRIORITY};
use crate::classify::knowledge;
use crate::classify::literals::Literals;
use crate::classify::token;
use crate::model::Context;
use crate::vocab::{Actor, Category, Confidence, Effect, Effects, Fix, RootCause};
use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const RULES_TOML: &str = include_str!("../../data/rules.toml");

/// Default priority of a text rule.
pub const TEXT_PRIORITY: i32 = 50;

/// One rule as written in a rules file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    pub family: Option<String>,
    #[serde(default)]
    pub any: Vec<String>,
    pub regex: Option<String>,
    #[serde(default)]
    pub codes: Vec<u32>,
    #[serde(default)]
    pub contexts: Vec<Context>,
    pub category: Category,
    pub root_cause: Option<RootCause>,
    pub fix: Option<Fix>,
    pub actor: Option<Actor>,
    pub confidence: Option<Confidence>,
    pub effects: Option<Vec<Effect>>,
    pub note: Option<String>,
    pub priority: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

/// Where a rule came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Generated from the AADSTS catalog.
    Catalog,
    /// `data/rules.toml`.
    Builtin,
    /// A user rules file.
    User(PathBuf),
    /// The fallback when nothing matches.
    Fallback,
}

/// A compiled rule. Overrides are resolved against the category's defaults at compile time.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    pub family: String,
    pub category: Category,
    pub root_cause: RootCause,
    pub fix: Fix,
    pub actor: Actor,
    pub effects: Effects,
    pub confidence: Confidence,
    pub priority: i32,
    pub note: Option<String>,
    /// Lower-cased literals; the rule needs one of them when non-empty.
    pub any: Vec<String>,
    pub regex: Option<Regex>,
    /// The rule needs one of these codes in the message when non-empty.
    pub codes: Vec<u32>,
    /// The rule applies only in these contexts when non-empty.
    pub contexts: Vec<Context>,
    pub origin: Origin,
}

/// What a literal in the automaton stands for, besides rule literals.
pub const PAT_AADSTS: u8 = 1;
pub const PAT_ERROR_CODES: u8 = 2;
pub const PAT_TOKEN: u8 = 4;

/// The compiled rule set.
#[derive(Debug)]
pub struct Compiled {
    /// Sorted by priority, highest first; the last one is the fallback (`none`).
    pub rules: Vec<Rule>,
    pub lits: Literals,
    /// The automaton's literals, by pattern id.
    pub patterns: Vec<String>,
    /// Per automaton pattern: special flags and the rules it makes candidates.
    pub pat_flags: Vec<u8>,
    /// Per automaton pattern: which token-message key it is (`PAT_TOKEN`), else `u8::MAX`.
    pub pat_key: Vec<u8>,
    pub pat_rules: Vec<Vec<u16>>,
    /// Rules triggered by a code alone (they have `codes` and no `any`).
    pub code_rules: HashMap<u32, Vec<u16>>,
    /// Rules with neither literals nor codes: evaluated on every message.
    pub always: Vec<u16>,
    /// Index of the fallback rule.
    pub none: u16,
}

/// The built-in text rules as written.
pub fn builtin_specs() -> Vec<RuleSpec> {
    let file: RuleFile =
        toml::from_str(RULES_TOML).unwrap_or_else(|e| panic!("data/rules.toml: {e}"));
    file.rule
}

/// One code rule per catalog entry (`aadsts:<code>`).
pub fn catalog_specs() -> Vec<RuleSpec> {
    catalog::catalog()
        .iter()
        .map(|c| RuleSpec {
            id: format!("aadsts:{}", c.code),
            family: Some("aadsts".into()),
            any: Vec::new(),
            regex: None,
            codes: vec![c.code],
            contexts: Vec::new(),
            category: c.category,
            root_cause: Some(c.root_cause),
            fix: Some(c.fix),
            actor: Some(c.actor),
            confidence: Some(c.confidence),
            effects: Some(c.effects.iter().collect()),
            note: c.note.clone(),
            priority: Some(c.priority),
        })
        .collect()
}

/// Read a user rules file: TOML or JSON by extension, else whichever parses.
pub fn read_user_rules(path: &Path) -> crate::Result<(String, Vec<RuleSpec>)> {
    let src = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let specs = match ext.as_deref() {
        Some("toml") => parse_toml(path, &src)?,
        Some("json") => parse_json(path, &src)?,
        _ => {
            let looks_json = src.trim_start().starts_with(['{', '[']);
            if looks_json {
                parse_json(path, &src)?
            } else {
                parse_toml(path, &src)?
            }
        }
    };
    Ok((src, specs))
}

fn rules_err(path: &Path, line: usize, what: impl Into<String>) -> crate::Error {
    crate::Error::Rules {
        path: path.to_path_buf(),
        line,
        what: what.into(),
    }
}

fn line_of(src: &str, byte: usize) -> usize {
    src[..byte.min(src.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

fn parse_toml(path: &Path, src: &str) -> crate::Result<Vec<RuleSpec>> {
    match toml::from_str::<RuleFile>(src) {
        Ok(f) => Ok(f.rule),
        Err(e) => {
            let line = e.span().map(|s| line_of(src, s.start)).unwrap_or(0);
            Err(rules_err(
                path,
                line,
                format!(
                    "{} (expected [[rule]] tables with id, family, category and any and/or regex)",
                    e.message()
                ),
            ))
        }
    }
}

fn parse_json(path: &Path, src: &str) -> crate::Result<Vec<RuleSpec>> {
    let value: serde_json::Value = serde_json::from_str(src)
        .map_err(|e| rules_err(path, e.line(), format!("not valid JSON: {e}")))?;
    let list = match value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(mut o) => match o.remove("rule").or_else(|| o.remove("rules")) {
            Some(serde_json::Value::Array(a)) => a,
            _ => {
                return Err(rules_err(
                    path,
                    1,
                    "expected an object with a \"rule\" array (or a bare array of rules)",
                ));
            }
        },
        _ => {
            return Err(rules_err(
                path,
                1,
                "expected an object with a \"rule\" array (or a bare array of rules)",
            ));
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, v) in list.into_iter().enumerate() {
        let id = v.get("id").and_then(|x| x.as_str()).map(str::to_string);
        let spec: RuleSpec = serde_json::from_value(v).map_err(|e| {
            let line = id.as_deref().map(|id| id_line(src, id)).unwrap_or(0);
            let who = id
                .map(|id| format!("rule '{id}'"))
                .unwrap_or(format!("rule #{}", i + 1));
            rules_err(path, line, format!("{who}: {e}"))
        })?;
        out.push(spec);
    }
    Ok(out)
}

/// The line where a rule's id is written, for messages about that rule.
fn id_line(src: &str, id: &str) -> usize {
    let quoted = [format!("\"{id}\""), format!("'{id}'")];
    quoted
        .iter()
        .filter_map(|q| src.find(q.as_str()))
        .min()
        .map(|b| line_of(src, b))
        .unwrap_or(0)
}

/// Merge user rules into the built-in ones: same id replaces, a new id is added.
pub fn merge(
    base: Vec<(RuleSpec, Origin)>,
    user: Vec<RuleSpec>,
    path: &Path,
    src: &str,
) -> crate::Result<Vec<(RuleSpec, Origin)>> {
    let mut out = base;
    let mut index: HashMap<String, usize> = out
        .iter()
        .enumerate()
        .map(|(i, (s, _))| (s.id.clone(), i))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for spec in user {
        if !seen.insert(spec.id.clone()) {
            return Err(rules_err(
                path,
                id_line(src, &spec.id),
                format!("rule '{}' is defined twice in this file", spec.id),
            ));
        }
        let origin = Origin::User(path.to_path_buf());
        match index.get(&spec.id) {
            Some(&i) => out[i] = (spec, origin),
            None => {
                index.insert(spec.id.clone(), out.len());
                out.push((spec, origin));
            }
        }
    }
    Ok(out)
}

/// A problem with one rule: its id and what is wrong.
#[derive(Debug)]
pub struct SpecError {
    pub id: String,
    pub what: String,
}

fn compile_one(spec: RuleSpec, origin: Origin) -> Result<Rule, SpecError> {
    let err = |what: String| SpecError {
        id: spec.id.clone(),
        what,
    };
    if spec.id.trim().is_empty() {
        return Err(err("the id is empty".into()));
    }
    let any: Vec<String> = spec
        .any
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    if any.iter().any(|s| s.is_empty()) {
        return Err(err("`any` holds an empty literal".into()));
    }
    if any.is_empty() && spec.regex.is_none() && spec.codes.is_empty() {
        return Err(err(
            "a rule needs at least one of `any` (literals), `regex` or `codes`".into(),
        ));
    }
    let regex = match &spec.regex {
        Some(r) => Some(
            RegexBuilder::new(r)
                .case_insensitive(true)
                .size_limit(8 << 20)
                .build()
                .map_err(|e| err(format!("invalid regex: {e}")))?,
        ),
        None => None,
    };
    let d = knowledge::category_defaults(spec.category);
    let fix = spec.fix.unwrap_or(d.fix);
    let actor = spec.actor.unwrap_or(if spec.fix.is_some() {
        knowledge::fix_actor(fix)
    } else {
        d.actor
    });
    let code_only = spec.any.is_empty() && spec.regex.is_none() && !spec.codes.is_empty();
    let default_priority = if code_only {
        CODE_PRIORITY
    } else {
        TEXT_PRIORITY
    };
    Ok(Rule {
        family: spec
            .family
            .clone()
            .filter(|f| !f.trim().is_empty())
            .unwrap_or_else(|| "user".into()),
        category: spec.category,
        root_cause: spec.root_cause.unwrap_or(d.root_cause),
        fix,
        actor,
        effects: spec
            .effects
            .as_deref()
            .map(Effects::of)
            .unwrap_or(d.effects),
        confidence: spec.confidence.unwrap_or(Confidence::Likely),
        priority: spec.priority.unwrap_or(default_priority),
        note: spec.note.clone().map(|n| n.trim().to_string()),
        any,
        regex,
        codes: spec.codes.clone(),
        contexts: spec.contexts.clone(),
        origin,
        id: spec.id,
    })
}

/// Compile a full rule list. Errors name the rule and its origin.
pub fn compile(specs: Vec<(RuleSpec, Origin)>) -> Result<Compiled, (Origin, SpecError)> {
    let mut rules = Vec::with_capacity(specs.len() + 1);
    for (spec, origin) in specs {
        let o = origin.clone();
        rules.push(compile_one(spec, origin).map_err(|e| (o, e))?);
    }
    // Stable sort: equal priorities keep file order (catalog, built-in, user).
    rules.sort_by_key(|r| std::cmp::Reverse(r.priority));
    let d = knowledge::category_defaults(Category::Unknown);
    rules.push(Rule {
        id: "none".into(),
        family: "none".into(),
        category: Category::Unknown,
        root_cause: d.root_cause,
        fix: d.fix,
        actor: d.actor,
        effects: d.effects,
        confidence: Confidence::Hypothesis,
        priority: i32::MIN,
        note: None,
        any: Vec::new(),
        regex: None,
        codes: Vec::new(),
        contexts: Vec::new(),
        origin: Origin::Fallback,
    });
    if rules.len() > u16::MAX as usize {
        return Err((
            Origin::Fallback,
            SpecError {
                id: String::new(),
                what: format!("too many rules ({}; at most {})", rules.len(), u16::MAX),
            },
        ));
    }

    let mut patterns: Vec<String> = Vec::new();
    let mut pat_index: HashMap<String, usize> = HashMap::new();
    let mut pat_flags: Vec<u8> = Vec::new();
    let mut pat_rules: Vec<Vec<u16>> = Vec::new();
    let mut intern = |lit: &str, patterns: &mut Vec<String>| -> usize {
        *pat_index.entry(lit.to_string()).or_insert_with(|| {
            patterns.push(lit.to_string());
            pat_flags.push(0);
            pat_rules.push(Vec::new());
            patterns.len() - 1
        })
    };
    let mut specials: Vec<(usize, u8)> = Vec::new();
    specials.push((intern("aadsts", &mut patterns), PAT_AADSTS));
    specials.push((intern("error_codes", &mut patterns), PAT_ERROR_CODES));
    let mut keys = Vec::new();
    for (k, t) in token::KEYS.iter().enumerate() {
        let p = intern(t, &mut patterns);
        specials.push((p, PAT_TOKEN));
        keys.push((p, k as u8));
    }
    let mut lit_of_rule: Vec<(usize, u16)> = Vec::new();
    let mut code_rules: HashMap<u32, Vec<u16>> = HashMap::new();
    let mut always = Vec::new();
    let none = (rules.len() - 1) as u16;
    for (i, r) in rules.iter().enumerate().take(none as usize) {
        let i = i as u16;
        if !r.any.is_empty() {
            for lit in &r.any {
                lit_of_rule.push((intern(lit, &mut patterns), i));
            }
        } else if !r.codes.is_empty() {
            for c in &r.codes {
                code_rules.entry(*c).or_default().push(i);
            }
        } else {
            always.push(i);
        }
    }
    for (p, f) in specials {
        pat_flags[p] |= f;
    }
    let mut pat_key = vec![u8::MAX; patterns.len()];
    for (p, k) in keys {
        pat_key[p] = k;
    }
    for (p, r) in lit_of_rule {
        if !pat_rules[p].contains(&r) {
            pat_rules[p].push(r);
        }
    }
    let lits = Literals::new(&patterns).map_err(|what| {
        (
            Origin::Fallback,
            SpecError {
                id: String::new(),
                what,
            },
        )
    })?;
    Ok(Compiled {
        rules,
        lits,
        patterns,
        pat_flags,
        pat_key,
        pat_rules,
        code_rules,
        always,
        none,
    })
}

/// The built-in rule list: catalog code rules, then the text rules.
pub fn builtin_list() -> Vec<(RuleSpec, Origin)> {
    catalog_specs()
        .into_iter()
        .map(|s| (s, Origin::Catalog))
        .chain(builtin_specs().into_iter().map(|s| (s, Origin::Builtin)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_compile_and_are_prefiltered() {
        let specs = builtin_specs();
        let mut ids = std::collections::HashSet::new();
        for s in &specs {
            assert!(ids.insert(s.id.clone()), "duplicate id {}", s.id);
            assert!(s.id.starts_with("text:"), "{}", s.id);
            assert!(s.family.is_some(), "{} has no family", s.id);
            assert!(!s.any.is_empty(), "{} has no literal prefilter", s.id);
        }
        let c = compile(builtin_list()).unwrap();
        assert!(c.always.is_empty());
        assert_eq!(c.rules[c.none as usize].id, "none");
        assert!(c.rules.windows(2).all(|w| w[0].priority >= w[1].priority));
    }

    #[test]
    fn a_rule_needs_a_trigger() {
        let spec: RuleSpec = toml::from_str("id = \"x\"\ncategory = \"unknown\"").unwrap();
        let e = compile(vec![(spec, Origin::Builtin)]).unwrap_err().1;
        assert!(e.what.contains("at least one"), "{}", e.what);
    }
}

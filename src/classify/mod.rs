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

pub mod catalog;
pub mod knowledge;
mod literals;
pub mod rules;
mod signature;
mod template;
pub mod token;

pub use catalog::{CodeInfo, catalog, parse_code};
pub use rules::{Origin, Rule};
pub use signature::signature;
pub use token::parse_token_message;

use rules::{Compiled, PAT_AADSTS, PAT_ERROR_CODES, PAT_TOKEN};
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::{Arc, LazyLock};

/// What the rules decided about a message (or template), before the message's own values
/// (token fields, evidence text) are read.
struct Verdict {
    rule: u16,
    span: (usize, usize),
    aadsts: Vec<u32>,
    token_at: token::KeyPositions,
}

/// Longest message whose verdict a thread keeps.
const MEMO_TEXT_MAX: usize = 16 * 1024;
/// Most verdicts a thread keeps, and most bytes of templates; past either, it starts afresh.
const MEMO_ENTRIES: usize = 4096;
const MEMO_BYTES: usize = 2 << 20;

/// A thread's verdicts by template (and context), for the built-in rules.
#[derive(Default)]
struct Memo {
    /// The current message's template and context bytes.
    key: Vec<u8>,
    verdicts: hashbrown::HashMap<Box<[u8]>, Verdict>,
    bytes: usize,
}

impl Memo {
    /// Make `text`'s key: its template, then the context.
    fn make_key(&mut self, text: &str, ctx: MsgContext) {
        self.key.clear();
        self.key.extend_from_slice(text.as_bytes());
        template::mask(&mut self.key);
        self.key.push(ctx.context as u8);
        self.key.push(ctx.host.map_or(0, |h| h as u8 + 1));
    }

    /// Keep the verdict for the current key.
    fn keep(&mut self, v: Verdict) {
        if self.verdicts.len() >= MEMO_ENTRIES || self.bytes + self.key.len() > MEMO_BYTES {
            self.verdicts.clear();
            self.bytes = 0;
        }
        self.bytes += self.key.len();
        self.verdicts.insert(self.key.as_slice().into(), v);
    }
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

/// A template's bytes as text: masking turns ASCII bytes into ASCII bytes, so a message's
/// template is as valid UTF-8 as the message.
fn template_text(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// The template of a message.
fn template_of(text: &str) -> String {
    let mut b = text.as_bytes().to_vec();
    template::mask(&mut b);
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

static BUILTIN: LazyLock<Arc<Compiled>> = LazyLock::new(|| {
    Arc::new(
        rules::compile(rules::builtin_list()).unwrap_or_else(|(origin, e)| {
            panic!("built-in rule '{}' ({origin:?}): {}", e.id, e.what)
        }),
    )
});

/// Longest evidence cut from a message for a code rule (the code and its sentence).
const EVIDENCE_MAX: usize = 320;

/// The compiled rule set: the AADSTS catalog and the text rules, plus any user rules.
/// Built once, shared read-only by every worker (`Sync`); cloning is cheap.
///
/// With the built-in rules, a message is classified by its template (ids and
/// times zeroed at the same length), and each thread keeps the verdicts of the templates it
/// has seen, so a failure that recurs in many runs is classified once per thread. A user
/// rule may name an id or a time, so with user rules every message is classified as
/// written.
#[derive(Clone)]
pub struct Classifier {
    inner: Arc<Compiled>,
    /// Classify templates (and keep their verdicts) rather than messages as written.
    templates: bool,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("rules", &self.inner.rules.len())
            .finish()
    }
}

/// One rule that matched a message, for `classify --explain`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RuleMatch<'a> {
    /// Index in [`Classifier::rule_id`]'s table.
    pub rule: u16,
    pub id: &'a str,
    pub family: &'a str,
    pub category: Category,
    pub priority: i32,
    /// Byte span of the text the rule matched.
    pub span: (usize, usize),
    /// The rule that decides the diagnosis.
    pub winner: bool,
}

/// Candidate rules for one message: a bit set sized to the rule count, on the stack for any
/// realistic rule set.
struct Bits {
    stack: [u64; 32],
    heap: Vec<u64>,
    /// Words in use: the rule count / 64, rounded up.
    len: usize,
}

impl Bits {
    fn new(rules: usize) -> Bits {
        let words = rules.div_ceil(64);
        Bits {
            stack: [0; 32],
            heap: if words > 32 {
                vec![0; words]
            } else {
                Vec::new()
            },
            len: words,
        }
    }
    fn words(&mut self) -> &mut [u64] {
        if self.heap.is_empty() {
            &mut self.stack[..self.len]
        } else {
            &mut self.heap
        }
    }
    fn set(&mut self, i: u16) -> bool {
        let w = &mut self.words()[i as usize / 64];
        let bit = 1u64 << (i % 64);
        let new = *w & bit == 0;
        *w |= bit;
        new
    }
    /// The rules in the set, lowest index (highest priority) first.
    fn ones(&self) -> impl Iterator<Item = u16> + '_ {
        let words: &[u64] = if self.heap.is_empty() {
            &self.stack[..self.len]
        } else {
            &self.heap
        };
        words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some((wi * 64) as u16 + b as u16)
            })
        })
    }
}

/// Where each candidate rule was first seen (a literal or a code), kept for the evidence.
/// Rules and spans sit in separate arrays so that a fresh list is two plain zero fills.
struct Hits {
    rule: [u16; 32],
    span: [(u32, u32); 32],
    len: usize,
}

impl Hits {
    fn new() -> Hits {
        Hits {
            rule: [0; 32],
            span: [(0, 0); 32],
            len: 0,
        }
    }
    fn push(&mut self, rule: u16, s: usize, e: usize) {
        if self.len < self.rule.len() {
            self.rule[self.len] = rule;
            self.span[self.len] = (s as u32, e as u32);
            self.len += 1;
        }
    }
    fn find(&self, rule: u16) -> Option<usize> {
        self.rule[..self.len].iter().position(|r| *r == rule)
    }
    /// Keep the earliest occurrence: the scanner reports long texts out of order.
    fn earlier(&mut self, rule: u16, s: usize, e: usize) {
        if let Some(k) = self.find(rule)
            && (s as u32) < self.span[k].0
        {
            self.span[k] = (s as u32, e as u32);
        }
    }
    fn get(&self, rule: u16) -> Option<(usize, usize)> {
        self.find(rule)
            .map(|k| (self.span[k].0 as usize, self.span[k].1 as usize))
    }
}

/// What one pass over a message found.
struct Scan {
    bits: Bits,
    hits: Hits,
    codes: Vec<u32>,
    /// Spans of the first codes, parallel to `codes`.
    code_spans: [(u32, u32); 8],
    /// Positions of the token-message keys.
    token_at: token::KeyPositions,
}

impl Scan {
    fn new(rules: usize) -> Scan {
        Scan {
            bits: Bits::new(rules),
            hits: Hits::new(),
            codes: Vec::new(),
            code_spans: [(0, 0); 8],
            token_at: [usize::MAX; token::KEYS.len()],
        }
    }
    fn add_code(&mut self, code: u32, s: usize, e: usize) {
        match self.codes.iter().position(|c| *c == code) {
            None => {
                if self.codes.len() < self.code_spans.len() {
                    self.code_spans[self.codes.len()] = (s as u32, e as u32);
                }
                self.codes.push(code);
            }
            Some(k) if k < self.code_spans.len() && (s as u32) < self.code_spans[k].0 => {
                self.code_spans[k] = (s as u32, e as u32);
            }
            Some(_) => {}
        }
    }
    /// Put the codes in order of appearance (the scanner reports long texts out of order).
    fn order_codes(&mut self) {
        let n = self.codes.len().min(self.code_spans.len());
        if n < 2 {
            return;
        }
        let mut pairs = [(0u32, 0u32, 0u32); 8];
        for (k, p) in pairs.iter_mut().enumerate().take(n) {
            *p = (self.code_spans[k].0, self.code_spans[k].1, self.codes[k]);
        }
        pairs[..n].sort_unstable();
        for (k, p) in pairs.iter().enumerate().take(n) {
            self.code_spans[k] = (p.0, p.1);
            self.codes[k] = p.2;
        }
    }
    fn code_span(&self, i: usize) -> (usize, usize) {
        self.code_spans
            .get(i)
            .map(|s| (s.0 as usize, s.1 as usize))
            .unwrap_or((0, 0))
    }
}

/// Read the 5-7 digit code right after `AADSTS` at `at`; returns the code and its end.
fn read_code(b: &[u8], at: usize) -> Option<(u32, usize)> {
    let n = b[at..]
        .iter()
        .take(9)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if !(5..=7).contains(&n) {
        return None;
    }
    let code = b[at..at + n]
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    Some((code, at + n))
}

/// Read an `error_codes":[50076,50079]` list (quotes escaped any number of times).
fn read_code_list(b: &[u8], mut at: usize, scan: &mut Scan) {
    let limit = (at + 12).min(b.len());
    while at < limit && matches!(b[at], b'"' | b'\\' | b':' | b' ') {
        at += 1;
    }
    if at >= b.len() || b[at] != b'[' {
        return;
    }
    at += 1;
    loop {
        while at < b.len() && b[at] == b' ' {
            at += 1;
        }
        let start = at;
        let Some((code, end)) = read_code(b, at) else {
            return;
        };
        scan.add_code(code, start, end);
        at = end;
        while at < b.len() && b[at] == b' ' {
            at += 1;
        }
        if at < b.len() && b[at] == b',' {
            at += 1;
        } else {
            return;
        }
    }
}

/// A sign-in log's bare code: `50076`, `Sign-in error code: 50076`, `50076: Strong auth...`,
/// also after other fields of the row (`Status  Failure\nSign-in error code  500021`) and in
/// the JSON form (`"errorCode": 50053`). Only called for sign-in rows without an AADSTS code.
fn bare_signin_code(text: &str) -> Option<(u32, usize, usize)> {
    let b = text.as_bytes();
    let mut from = text.len() - text.trim_start().len();
    for label in [
        "sign-in error code",
        "signin error code",
        "errorcode",
        "error code",
        "resulttype",
    ] {
        let l = label.as_bytes();
        if let Some(p) = b.windows(l.len()).position(|w| w.eq_ignore_ascii_case(l)) {
            from = p + l.len();
            break;
        }
    }
    let rest = &text[from..];
    let rest2 = rest.trim_start_matches([':', ' ', '=', '\t', '\r', '\n', '"']);
    let start = from + (rest.len() - rest2.len());
    let b = rest2.as_bytes();
    let (code, end) = read_code(b, 0)?;
    if b.get(end).is_some_and(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some((code, start, start + end))
}

/// Widen a code's span to the sentence that follows it (`AADSTS50076: Due to ... '<resource>'.`).
fn sentence_after(text: &str, span: (usize, usize)) -> (usize, usize) {
    let b = text.as_bytes();
    let (s, mut e) = span;
    if e < b.len() && b[e] == b':' {
        let limit = (s + EVIDENCE_MAX).min(b.len());
        e += 1;
        while e < limit {
            match b[e] {
                b'\r' | b'\n' | b'"' | b'\\' => break,
                b'.' if e + 1 >= b.len() || b[e + 1] == b' ' => {
                    e += 1;
                    break;
                }
                _ => e += 1,
            }
        }
        while !text.is_char_boundary(e) {
            e -= 1;
        }
    }
    (s, e)
}

impl Classifier {
    /// The built-in rules only.
    pub fn builtin() -> Classifier {
        Classifier {
            inner: Arc::clone(&BUILTIN),
            templates: true,
        }
    }

    /// The built-in rules plus a user rules file (TOML or JSON) that adds or overrides rules.
    /// A rule with the id of a built-in rule (`text:...` or `aadsts:<code>`) replaces it.
    pub fn with_user_rules(path: &std::path::Path) -> crate::Result<Classifier> {
        let (src, user) = rules::read_user_rules(path)?;
        let merged = rules::merge(rules::builtin_list(), user, path, &src)?;
        let compiled = rules::compile(merged).map_err(|(_, e)| crate::Error::Rules {
            path: path.to_path_buf(),
            line: rules_line(&src, &e.id),
            what: if e.id.is_empty() {
                e.what
            } else {
                format!("rule '{}': {}", e.id, e.what)
            },
        })?;
        Ok(Classifier {
            inner: Arc::new(compiled),
            templates: false,
        })
    }

    /// Classify one message. Always returns a diagnosis; `Category::Unknown` when no rule fires.
    pub fn classify(&self, text: &str, ctx: MsgContext) -> Diagnosis {
        if !self.templates || text.len() > MEMO_TEXT_MAX {
            return self.classify_uncached(text, ctx);
        }
        MEMO.with_borrow_mut(|memo| {
            memo.make_key(text, ctx);
            if let Some(v) = memo.verdicts.get(memo.key.as_slice()) {
                return self.apply(v, text, ctx);
            }
            let v = self.verdict(&template_text(&memo.key[..text.len()]), ctx);
            let d = self.apply(&v, text, ctx);
            memo.keep(v);
            d
        })
    }

    /// [`Classifier::classify`] without the thread's kept verdicts: the cost of classifying a
    /// message never seen (for measurements), and the same diagnosis.
    pub fn classify_uncached(&self, text: &str, ctx: MsgContext) -> Diagnosis {
        let v = if self.templates {
            self.verdict(&template_of(text), ctx)
        } else {
            self.verdict(text, ctx)
        };
        self.apply(&v, text, ctx)
    }

    /// The rule, evidence, codes and token keys of a message (or template): everything the
    /// diagnosis takes from the rules.
    fn verdict(&self, text: &str, ctx: MsgContext) -> Verdict {
        let mut scan = Scan::new(self.inner.rules.len());
        self.scan(text, ctx, &mut scan);
        let (rule, span) = self
            .pick(text, ctx, &scan)
            .unwrap_or((self.inner.none, (0, 0)));
        Verdict {
            rule,
            span,
            aadsts: std::mem::take(&mut scan.codes),
            token_at: scan.token_at,
        }
    }

    /// The diagnosis of `text` from its verdict: token fields read from the message itself.
    fn apply(&self, v: &Verdict, text: &str, ctx: MsgContext) -> Diagnosis {
        let token = token::parse_at(text, &v.token_at).map(Box::new);
        self.diagnose(v.rule, v.span, text, ctx, v.aadsts.clone(), token)
    }

    /// Every rule that matches the message, the winner first, then by priority.
    pub fn explain(&self, text: &str, ctx: MsgContext) -> Vec<RuleMatch<'_>> {
        let owned;
        let template = if self.templates {
            owned = template_of(text);
            owned.as_str()
        } else {
            text
        };
        let mut scan = Scan::new(self.inner.rules.len());
        self.scan(template, ctx, &mut scan);
        let winner = self.pick(template, ctx, &scan).map(|w| w.0);
        let mut out: Vec<RuleMatch<'_>> = scan
            .bits
            .ones()
            .filter_map(|i| {
                let span = self.applies(i, template, ctx, &scan)?;
                let r = &self.inner.rules[i as usize];
                let span = if is_code_rule(r) {
                    sentence_after(text, span)
                } else {
                    span
                };
                Some(RuleMatch {
                    rule: i,
                    id: &r.id,
                    family: &r.family,
                    category: r.category,
                    priority: r.priority,
                    span,
                    winner: Some(i) == winner,
                })
            })
            .collect();
        out.sort_by_key(|m| (!m.winner, m.rule));
        out
    }

    /// The stable id of a rule (`aadsts:50076`, `text:refresh-token-inactive`, a user rule id).
    pub fn rule_id(&self, rule: u16) -> &str {
        self.inner
            .rules
            .get(rule as usize)
            .map(|r| r.id.as_str())
            .unwrap_or("none")
    }

    /// A compiled rule by index (the fallback rule for an out-of-range index).
    pub fn rule(&self, rule: u16) -> &Rule {
        self.inner
            .rules
            .get(rule as usize)
            .unwrap_or(&self.inner.rules[self.inner.none as usize])
    }

    /// All rules, highest priority first; the last is the fallback `none`.
    pub fn rules(&self) -> &[Rule] {
        &self.inner.rules
    }

    /// For a diagnosis that is not certain: which evidence would decide (from the rule, or
    /// from the root cause when that is contested).
    pub fn note(&self, d: &Diagnosis) -> Option<&str> {
        if d.confidence == Confidence::Certain {
            return None;
        }
        self.rule(d.rule)
            .note
            .as_deref()
            .or_else(|| knowledge::root_cause_note(d.root_cause))
    }

    /// One pass of the literal automaton: candidate rules, AADSTS codes, token triggers.
    /// Fills `scan`, fresh from [`Scan::new`] (built by the caller, so that it is not moved).
    fn scan(&self, text: &str, ctx: MsgContext, scan: &mut Scan) {
        let c = &*self.inner;
        let b = text.as_bytes();
        c.lits.for_each(b, |p, start, end| {
            let flags = c.pat_flags[p];
            if flags != 0 {
                if flags & PAT_AADSTS != 0
                    && let Some((code, e)) = read_code(b, end)
                {
                    scan.add_code(code, start, e);
                }
                if flags & PAT_ERROR_CODES != 0 {
                    read_code_list(b, end, scan);
                }
                if flags & PAT_TOKEN != 0 {
                    token::note_key(&mut scan.token_at, b, c.pat_key[p] as usize, start, end);
                }
            }
            for &r in &c.pat_rules[p] {
                if scan.bits.set(r) {
                    scan.hits.push(r, start, end);
                } else {
                    scan.hits.earlier(r, start, end);
                }
            }
        });
        scan.order_codes();
        if ctx.context == Context::SignIn
            && scan.codes.is_empty()
            && let Some((code, s, e)) = bare_signin_code(text)
        {
            scan.add_code(code, s, e);
        }
        for i in 0..scan.codes.len() {
            if let Some(rs) = c.code_rules.get(&scan.codes[i]) {
                let (s, e) = scan.code_span(i);
                for &r in rs {
                    if scan.bits.set(r) {
                        scan.hits.push(r, s, e);
                    }
                }
            }
        }
        for &r in &c.always {
            scan.bits.set(r);
        }
    }

    /// The deciding rule: the highest priority that applies; among equals, the earliest evidence.
    fn pick(&self, text: &str, ctx: MsgContext, scan: &Scan) -> Option<(u16, (usize, usize))> {
        let rules = &self.inner.rules;
        let mut best: Option<(u16, (usize, usize))> = None;
        for i in scan.bits.ones() {
            if let Some((b, _)) = best
                && rules[i as usize].priority < rules[b as usize].priority
            {
                break;
            }
            if let Some(span) = self.applies(i, text, ctx, scan) {
                match best {
                    Some((_, bs)) if span.0 >= bs.0 => {}
                    _ => best = Some((i, span)),
                }
            }
        }
        best
    }

    /// Does candidate rule `i` apply? Returns the span of its evidence.
    fn applies(&self, i: u16, text: &str, ctx: MsgContext, scan: &Scan) -> Option<(usize, usize)> {
        let r = &self.inner.rules[i as usize];
        if !r.contexts.is_empty() && !r.contexts.contains(&ctx.context) {
            return None;
        }
        let mut code_span = None;
        if !r.codes.is_empty() {
            let k = scan.codes.iter().position(|c| r.codes.contains(c))?;
            code_span = Some(scan.code_span(k));
        }
        if let Some(re) = &r.regex {
            return re.find(text).map(|m| (m.start(), m.end()));
        }
        if !r.any.is_empty() {
            return scan.hits.get(i).or_else(|| self.literal_span(i, text));
        }
        code_span
    }

    /// The first occurrence of any of rule `i`'s literals (when the hit list overflowed).
    fn literal_span(&self, i: u16, text: &str) -> Option<(usize, usize)> {
        let c = &*self.inner;
        let mut found = None;
        c.lits.for_each(text.as_bytes(), |p, s, e| {
            if c.pat_rules[p].contains(&i) && found.is_none_or(|f: (usize, usize)| s < f.0) {
                found = Some((s, e));
            }
        });
        found
    }

    fn diagnose(
        &self,
        rule: u16,
        span: (usize, usize),
        text: &str,
        ctx: MsgContext,
        aadsts: Vec<u32>,
        token: Option<Box<TokenDetails>>,
    ) -> Diagnosis {
        let r = &self.inner.rules[rule as usize];
        let mut root_cause = r.root_cause;
        let mut effects = r.effects;
        let mut confidence = r.confidence;
        if let Some(a) = knowledge::adjustments()
            .iter()
            .find(|a| a.applies(ctx.context, ctx.host, r.category, root_cause))
        {
            if let Some(rc) = a.root_cause {
                root_cause = rc;
            }
            if let Some(e) = a.effects {
                effects = e;
            }
            effects = effects.union(a.add_effects);
            if let Some(c) = a.confidence {
                confidence = confidence.min(c);
            }
        }
        if let Some(cap) = knowledge::root_cause_cap(root_cause) {
            confidence = confidence.min(cap);
        }
        let span = if is_code_rule(r) {
            sentence_after(text, span)
        } else {
            span
        };
        Diagnosis {
            category: r.category,
            root_cause,
            effects,
            fix: r.fix,
            actor: r.actor,
            confidence,
            aadsts,
            rule,
            span,
            token,
        }
    }
}

/// A rule triggered by codes alone: its evidence is the code and the sentence after it.
fn is_code_rule(r: &Rule) -> bool {
    r.any.is_empty() && r.regex.is_none() && !r.codes.is_empty()
}

/// The line of a rule's id in a rules file (0 when not found).
fn rules_line(src: &str, id: &str) -> usize {
    if id.is_empty() {
        return 0;
    }
    [format!("\"{id}\""), format!("'{id}'")]
        .iter()
        .filter_map(|q| src.find(q.as_str()))
        .min()
        .map(|b| src[..b].bytes().filter(|c| *c == b'\n').count() + 1)
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod tests;

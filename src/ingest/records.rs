//! From a record's mapped values ([`Slots`]) to the normalised model, one builder per kind.
//!
//! Readers (CSV, JSON, JSON Lines, Format-List) only fill slots, using the tables in
//! [`super::mapping`]; everything that interprets values lives here: ARM ids
//! (`/environments/{env}/flows/{guid}/runs/{run}`), PowerShell `@{...}` strings, Dataverse's
//! JSON-in-a-string `errormessage`, failing actions inside a run, connection statuses in
//! their three renderings, conditional access policies, token policy definitions.
//! Run records borrow from the reader's buffer wherever the text needs no unescaping.

use super::json::fast::{self, Field, FieldSpec, Fields, Kind};
use super::mapping::{ActF, ConnF, FlowF, MAX_FIELDS, PolF, RunF, SignF};
use super::powershell::{self, PsMap, PsValue};
use crate::model::{
    ActionRecord, AppliedPolicy, ConnectionRecord, ConnectionRef, ConnectionStatus, EvidenceSource,
    FlowRecord, InputKind, Item, Malformed, PolicyRecord, Position, RunRecord, RunStatus,
    SignInRecord, Text, trim,
};
use crate::time::{self, DateOrder};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// One mapped value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val<'a> {
    /// Text (JSON strings unescaped, numbers and booleans as written, CSV cells).
    Str(Cow<'a, str>),
    /// A JSON object or array, unparsed (the raw text, as written).
    Json(&'a str),
}

/// The values of one record, indexed by the kind's field enum.
pub(crate) struct Slots<'a> {
    v: [Option<Val<'a>>; MAX_FIELDS],
    /// A run's status, when the reader parsed it from the status field already (the CSV
    /// reader does, to choose the cells it reads); the builder then does not parse it again.
    pub(crate) status: Option<RunStatus>,
}

impl<'a> Slots<'a> {
    pub(crate) fn new() -> Self {
        Slots {
            v: [const { None }; MAX_FIELDS],
            status: None,
        }
    }

    /// Set a field unless an earlier name already gave it a non-empty value.
    #[inline]
    pub(crate) fn set(&mut self, i: usize, v: Val<'a>) {
        let slot = &mut self.v[i];
        match slot {
            Some(Val::Str(s)) if trim(s).is_empty() => *slot = Some(v),
            Some(_) => {}
            None => *slot = Some(v),
        }
    }

    /// Set from a raw JSON value: strings unescaped (borrowed when they hold no escape),
    /// `null` ignored, objects and arrays kept raw.
    #[inline]
    pub(crate) fn set_raw(&mut self, i: usize, raw: &'a str) {
        if let Some(v) = raw_val(raw) {
            self.set(i, v);
        }
    }

    /// Trimmed, non-empty text of a field.
    pub(crate) fn text(&self, i: usize) -> Option<&str> {
        match &self.v[i] {
            Some(Val::Str(s)) => Some(trim(s)).filter(|t| !t.is_empty()),
            _ => None,
        }
    }

    /// Move a field's trimmed, non-empty text out (no copy when borrowed).
    pub(crate) fn take(&mut self, i: usize) -> Option<Cow<'a, str>> {
        match self.v[i].take() {
            Some(Val::Str(s)) => trim_cow(s),
            other => {
                self.v[i] = other;
                None
            }
        }
    }

    /// A field holding JSON: raw, or text that looks like JSON (a CSV cell, a string).
    pub(crate) fn json(&self, i: usize) -> Option<&str> {
        match &self.v[i] {
            Some(Val::Json(r)) => Some(r),
            Some(Val::Str(s)) => {
                let t = s.trim();
                (t.starts_with('[') || t.starts_with('{')).then_some(t)
            }
            None => None,
        }
    }

    /// Every slot, for comparing two decodings in tests.
    #[cfg(test)]
    pub(crate) fn values(&self) -> &[Option<Val<'a>>] {
        &self.v
    }

    /// A field's raw JSON, when it was an object or array in a JSON input.
    pub(crate) fn raw(&self, i: usize) -> Option<&'a str> {
        match &self.v[i] {
            Some(Val::Json(r)) => Some(r),
            _ => None,
        }
    }
}

/// Convert a raw JSON value (valid JSON text, no surrounding whitespace) to a slot value.
pub(crate) fn raw_val(s: &str) -> Option<Val<'_>> {
    match s.as_bytes().first()? {
        b'"' => raw_string(s).map(Val::Str),
        b'n' => None,
        b'{' | b'[' => Some(Val::Json(s)),
        _ => Some(Val::Str(Cow::Borrowed(s))),
    }
}

/// A JSON string literal's content, borrowed when it holds no escape.
pub(crate) fn raw_string(s: &str) -> Option<Cow<'_, str>> {
    let inner = &s[1..s.len().saturating_sub(1).max(1)];
    if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
        Some(Cow::Borrowed(inner))
    } else {
        unescape(s).map(Cow::Owned)
    }
}

/// A JSON string literal known to hold escapes, decoded.
pub(crate) fn unescape(s: &str) -> Option<String> {
    serde_json::from_str::<String>(s).ok()
}

/// A raw value as text: strings unescaped, other scalars as written, `null` as `None`.
fn raw_text(raw: &str) -> Option<Cow<'_, str>> {
    match raw_val(raw)? {
        Val::Str(s) => trim_cow(s),
        Val::Json(r) => Some(Cow::Borrowed(r)),
    }
}

fn trim_cow(s: Cow<'_, str>) -> Option<Cow<'_, str>> {
    let t = trim(&s);
    if t.is_empty() {
        return None;
    }
    Some(match s {
        Cow::Borrowed(b) => Cow::Borrowed(trim(b)),
        Cow::Owned(o) if o.len() == trim(&o).len() => Cow::Owned(o),
        Cow::Owned(o) => Cow::Owned(trim(&o).to_string()),
    })
}

/// What a builder knows about the file.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    pub file: String,
    pub kind: InputKind,
    pub date_order: DateOrder,
    /// A portal CSV has no flow column: the flow's GUID from the file name.
    pub flow_id: Option<String>,
    /// ... or, without a GUID, the file's stem as the flow's name.
    pub flow_name: Option<String>,
    /// Records larger than this are malformed.
    pub max_record: usize,
}

impl Ctx {
    pub(crate) fn malformed<'a>(&self, position: Position, reason: impl Into<String>) -> Item<'a> {
        Item::Malformed(Malformed {
            file: self.file.clone(),
            position,
            reason: reason.into(),
        })
    }

    fn time(&self, t: Option<&str>) -> Option<i64> {
        t.and_then(|t| time::parse(t, self.date_order))
    }
}

/// Build the item of `ctx.kind` from a record's slots.
pub(crate) fn build<'a>(ctx: &Ctx, slots: &mut Slots<'a>, pos: Position) -> Item<'a> {
    match ctx.kind {
        InputKind::RunHistory => run(ctx, slots, pos),
        InputKind::RunActions => action(ctx, slots, pos),
        InputKind::FlowInventory => flow(ctx, slots, pos),
        InputKind::ConnectionInventory => connection(ctx, slots, pos),
        InputKind::SignInLog => sign_in(ctx, slots, pos),
        InputKind::TokenPolicy => policy(ctx, slots, pos),
    }
}

/// The segment after `/{name}/` in an ARM-style id (case-insensitive name).
pub(crate) fn arm_segment<'s>(id: &'s str, name: &str) -> Option<&'s str> {
    let bytes = id.as_bytes();
    let n = name.len();
    for i in memchr::memchr_iter(b'/', bytes) {
        if i + n + 2 > bytes.len() {
            break;
        }
        if bytes[i + 1 + n] == b'/' && bytes[i + 1..i + 1 + n].eq_ignore_ascii_case(name.as_bytes())
        {
            let rest = &id[i + n + 2..];
            let seg = memchr::memchr2(b'/', b'?', rest.as_bytes()).map_or(rest, |j| &rest[..j]);
            return (!seg.is_empty()).then_some(seg);
        }
    }
    None
}

/// [`arm_segment`] on a `Cow`, borrowing when the id is borrowed.
fn cow_segment<'a>(id: &Cow<'a, str>, name: &str) -> Option<Cow<'a, str>> {
    match id {
        Cow::Borrowed(b) => arm_segment(b, name).map(Cow::Borrowed),
        Cow::Owned(o) => arm_segment(o, name).map(|s| Cow::Owned(s.to_string())),
    }
}

/// The last path segment (`/providers/Microsoft.PowerApps/apis/shared_office365` ->
/// `shared_office365`).
fn last_segment(s: &str) -> &str {
    let t = s.trim_end_matches('/');
    memchr::memrchr(b'/', t.as_bytes()).map_or(t, |i| &t[i + 1..])
}

/// `shared-office365-<guid>` -> `shared_office365`.
fn connector_from_connection(conn: &str) -> Option<String> {
    let c = last_segment(conn);
    if !c.starts_with("shared-") || c.len() < 8 + 36 {
        return None;
    }
    // The name ends `-<guid>`; checked on bytes, so text that is not ASCII there is simply
    // no match (slicing the string could land inside a character). Once the `-` and the
    // GUID are known to be ASCII, the cut before the `-` is a character boundary.
    let cut = c.len() - 37;
    let tail = &c.as_bytes()[cut..];
    if tail[0] != b'-' || !crate::model::is_guid(&tail[1..]) {
        return None;
    }
    Some(c[..cut].replace('-', "_"))
}

pub(crate) fn looks_like_guid(s: &str) -> bool {
    crate::model::is_guid(s.as_bytes())
}

/// The first GUID in a text.
pub(crate) fn find_guid(s: &str) -> Option<&str> {
    (0..s.len().saturating_sub(35))
        .filter(|&i| s.is_char_boundary(i) && s.is_char_boundary(i + 36))
        .map(|i| &s[i..i + 36])
        .find(|c| looks_like_guid(c))
}

// ---------------------------------------------------------------------------------------
// Error texts.

/// An error object as APIs and connectors write it: its members as written.
#[derive(Debug, PartialEq)]
struct ErrObj<'a> {
    code: Option<&'a str>,
    message: Option<&'a str>,
    error: Option<&'a str>,
}

/// [`ErrObj`] as serde reads it: the fallback of [`ErrObj::parse`], which decides (and
/// rejects) what the fast reader declines.
#[derive(Deserialize)]
struct ErrObjJ<'a> {
    #[serde(borrow, default, alias = "Code")]
    code: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "Message")]
    message: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "Error")]
    error: Option<&'a RawValue>,
}

const ERR_FIELDS: [FieldSpec; 3] = [
    (&["code", "Code"], Kind::Raw),
    (&["message", "Message"], Kind::Raw),
    (&["error", "Error"], Kind::Raw),
];

impl<'a> ErrObj<'a> {
    fn of_fields([code, message, error]: Fields<'a, 3>) -> ErrObj<'a> {
        ErrObj {
            code: field_raw(code),
            message: field_raw(message),
            error: field_raw(error),
        }
    }

    fn of_serde(e: ErrObjJ<'a>) -> ErrObj<'a> {
        ErrObj {
            code: e.code.map(RawValue::get),
            message: e.message.map(RawValue::get),
            error: e.error.map(RawValue::get),
        }
    }

    /// An error object's members: read by [`fast::fields`], or by serde where it declines.
    fn parse(raw: &'a str) -> Option<ErrObj<'a>> {
        match fast::fields(raw, &ERR_FIELDS) {
            Some(f) => Some(ErrObj::of_fields(f)),
            None => serde_json::from_str::<ErrObjJ<'a>>(raw)
                .ok()
                .map(ErrObj::of_serde),
        }
    }
}

/// The JSON of a [`Kind::Raw`] field.
fn field_raw(f: Option<Field<'_>>) -> Option<&str> {
    match f? {
        Field::Raw(r) => Some(r),
        Field::Text(_) => None,
    }
}

/// The text of a [`Kind::Text`] field.
fn field_text(f: Option<Field<'_>>) -> Option<Cow<'_, str>> {
    match f? {
        Field::Text(t) => Some(t),
        Field::Raw(_) => None,
    }
}

/// Messages already decoded from a run's error values, by their raw JSON text, and whether
/// each held text. A failed action usually carries the same message in `error` and in
/// `outputs.body`; its second copy would only be a text the run already has.
type Seen<'a> = Vec<(&'a str, bool)>;

/// A message value: decoded, or already seen (and whether it held text then).
enum Message<'a> {
    New(Option<Cow<'a, str>>),
    Seen(bool),
}

/// Decode a message value unless `seen` has it (and note it there, when given).
fn message<'a>(raw: &'a str, seen: &mut Option<&mut Seen<'a>>) -> Message<'a> {
    let Some(seen) = seen else {
        return Message::New(raw_text(raw));
    };
    if let Some(&(_, text)) = seen.iter().find(|(r, _)| *r == raw) {
        return Message::Seen(text);
    }
    let t = raw_text(raw);
    seen.push((raw, t.is_some()));
    Message::New(t)
}

/// Every `(code, message)` an error value holds: a string, `{code, message}`, or an
/// envelope whose `error` holds the message (`body.error.message`). A message found in
/// `seen`, when given, is left out: callers keep only the first of equal texts anyway.
fn error_texts<'a>(
    raw: &'a str,
    depth: u32,
    seen: &mut Option<&mut Seen<'a>>,
    out: &mut Vec<(Option<Cow<'a, str>>, Cow<'a, str>)>,
) {
    match raw.as_bytes().first() {
        Some(b'"') => {
            if let Message::New(Some(t)) = message(raw, seen) {
                out.push((None, t));
            }
        }
        Some(b'{') if depth < 4 => {
            if let Some(e) = ErrObj::parse(raw) {
                let code = e.code.and_then(raw_text);
                let msg = match e.message {
                    Some(m) => message(m, seen),
                    None => Message::New(None),
                };
                match msg {
                    Message::New(Some(m)) => out.push((code.clone(), m)),
                    Message::New(None) | Message::Seen(false) if e.error.is_none() => {
                        if let Some(c) = &code {
                            out.push((None, c.clone()))
                        }
                    }
                    _ => {}
                }
                if let Some(inner) = e.error {
                    let before = out.len();
                    error_texts(inner, depth + 1, seen, out);
                    for t in &mut out[before..] {
                        if t.0.is_none() {
                            t.0 = code.clone();
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// Add a text unless it is empty or already there.
fn push_text<'a>(texts: &mut Vec<Text<'a>>, text: Text<'a>) {
    if text.text.trim().is_empty() || texts.iter().any(|t| t.text == text.text) {
        return;
    }
    texts.push(text);
}

/// A run-level code and message, unwrapping Dataverse's `{"code","message"}` string.
fn run_error<'a>(
    texts: &mut Vec<Text<'a>>,
    code: Option<Cow<'a, str>>,
    message: Option<Cow<'a, str>>,
) {
    if let Some(m) = &message {
        let t = m.trim();
        if t.starts_with('{')
            && let Some(e) = ErrObj::parse(t)
        {
            let inner_code = e
                .code
                .and_then(raw_text)
                .map(|c| Cow::Owned(c.into_owned()));
            let inner_msg = e.message.and_then(raw_text).map(|c| c.into_owned());
            if let Some(msg) = inner_msg {
                push_text(
                    texts,
                    Text {
                        source: EvidenceSource::RunError,
                        action: None,
                        code: code.or(inner_code),
                        text: Cow::Owned(msg),
                    },
                );
                return;
            }
        }
    }
    match (code, message) {
        (code, Some(text)) => push_text(
            texts,
            Text {
                source: EvidenceSource::RunError,
                action: None,
                code,
                text,
            },
        ),
        (Some(code), None) => push_text(
            texts,
            Text {
                source: EvidenceSource::RunError,
                action: None,
                code: Some(code.clone()),
                text: code,
            },
        ),
        (None, None) => {}
    }
}

/// One action of a run's `properties.actions`: its status and name, the rest as written.
#[derive(Default)]
struct Action<'a> {
    status: Option<Cow<'a, str>>,
    code: Option<&'a str>,
    error: Option<&'a str>,
    outputs: Option<&'a str>,
    name: Option<Cow<'a, str>>,
    properties: Option<&'a str>,
}

const ACTION_FIELDS: [FieldSpec; 6] = [
    (&["status", "Status"], Kind::Text),
    (&["code", "Code"], Kind::Raw),
    (&["error", "Error"], Kind::Raw),
    (&["outputs", "Outputs"], Kind::Raw),
    (&["name", "Name"], Kind::Text),
    (&["properties", "Properties"], Kind::Raw),
];

impl<'a> Action<'a> {
    fn of_fields(f: Fields<'a, 6>) -> Action<'a> {
        let [status, code, error, outputs, name, properties] = f;
        Action {
            status: field_text(status),
            code: field_raw(code),
            error: field_raw(error),
            outputs: field_raw(outputs),
            name: field_text(name),
            properties: field_raw(properties),
        }
    }

    fn of_serde(a: ActionJ<'a>) -> Action<'a> {
        Action {
            status: a.status,
            code: a.code.map(RawValue::get),
            error: a.error.map(RawValue::get),
            outputs: a.outputs.map(RawValue::get),
            name: a.name,
            properties: a.properties.map(RawValue::get),
        }
    }

    /// An action object (its `properties`): read by [`fast::fields`], or by serde where
    /// it declines.
    fn parse(raw: &'a str) -> Option<Action<'a>> {
        match fast::fields(raw, &ACTION_FIELDS) {
            Some(f) => Some(Action::of_fields(f)),
            None => serde_json::from_str::<ActionJ<'a>>(raw)
                .ok()
                .map(Action::of_serde),
        }
    }

    /// `properties.actions`, by name: read by [`fast::list`], or by serde where it
    /// declines.
    fn list(raw: &'a str) -> Option<Vec<(Cow<'a, str>, Action<'a>)>> {
        match fast::list(raw, &ACTION_FIELDS) {
            Some(l) => Some(
                l.into_iter()
                    .map(|(k, f)| Action::named(k, Action::of_fields(f)))
                    .collect(),
            ),
            None => Action::list_serde(raw),
        }
    }

    /// [`Action::list`] as serde reads it.
    fn list_serde(raw: &'a str) -> Option<Vec<(Cow<'a, str>, Action<'a>)>> {
        let l = serde_json::from_str::<ActionList<'a>>(raw).ok()?;
        Some(
            l.0.into_iter()
                .map(|(k, a)| Action::named(k, Action::of_serde(a)))
                .collect(),
        )
    }

    /// An action and its name: its key in an object of actions; in an array, its `name`
    /// (taken out of it), or `?` without one.
    fn named(key: Option<Cow<'a, str>>, mut a: Action<'a>) -> (Cow<'a, str>, Action<'a>) {
        let name = key.or_else(|| a.name.take()).unwrap_or(Cow::Borrowed("?"));
        (name, a)
    }
}

/// [`Action`] as serde reads it (the fallback of [`Action::parse`] and [`Action::list`]).
#[derive(Deserialize, Default)]
struct ActionJ<'a> {
    #[serde(borrow, default, alias = "Status")]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default, alias = "Code")]
    code: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "Error")]
    error: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "Outputs")]
    outputs: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "Name")]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default, alias = "Properties")]
    properties: Option<&'a RawValue>,
}

const OUTPUTS_FIELDS: [FieldSpec; 1] = [(&["body", "Body"], Kind::Raw)];

/// An action's `outputs` as serde reads it (the fallback of [`outputs_body`]).
#[derive(Deserialize)]
struct OutputsJ<'a> {
    #[serde(borrow, default, alias = "Body")]
    body: Option<&'a RawValue>,
}

/// The `body` of an action's `outputs`, as written: read by [`fast::fields`], or by serde
/// where it declines.
fn outputs_body(raw: &str) -> Option<&str> {
    match fast::fields(raw, &OUTPUTS_FIELDS) {
        Some([body]) => field_raw(body),
        None => serde_json::from_str::<OutputsJ<'_>>(raw)
            .ok()?
            .body
            .map(RawValue::get),
    }
}

/// `properties.actions` as serde reads it: an object keyed by action name, or an array
/// (no keys).
struct ActionList<'a>(Vec<(Option<Cow<'a, str>>, ActionJ<'a>)>);

impl<'de> Deserialize<'de> for ActionList<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ActionList<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of actions")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<Self::Value, M::Error> {
                let mut out = Vec::new();
                while let Some(k) = m.next_key::<super::json::Key<'de>>()? {
                    let a: ActionJ<'de> = m.next_value()?;
                    out.push((Some(k.0), a));
                }
                Ok(ActionList(out))
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                mut s: S,
            ) -> Result<Self::Value, S::Error> {
                let mut out = Vec::new();
                while let Some(a) = s.next_element::<ActionJ<'de>>()? {
                    out.push((None, a));
                }
                Ok(ActionList(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Texts of the failed actions of a run.
fn action_errors<'a>(texts: &mut Vec<Text<'a>>, raw: &'a str) {
    let Some(list) = Action::list(raw) else {
        return;
    };
    let mut seen = Seen::new();
    for (name, mut a) in list {
        if let Some(p) = a.properties.take()
            && let Some(inner) = Action::parse(p)
        {
            a = inner;
        }
        let failed = a
            .status
            .as_deref()
            .is_some_and(|s| RunStatus::parse(s).is_failed());
        if !failed {
            continue;
        }
        let code = a.code.and_then(raw_text);
        let mut found = Vec::new();
        if let Some(e) = a.error {
            error_texts(e, 0, &mut Some(&mut seen), &mut found);
        }
        if let Some(body) = a.outputs.and_then(outputs_body) {
            error_texts(body, 0, &mut Some(&mut seen), &mut found);
        }
        for (c, msg) in found {
            push_text(
                texts,
                Text {
                    source: EvidenceSource::ActionError,
                    action: Some(name.clone()),
                    code: c.or_else(|| code.clone()),
                    text: msg,
                },
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Runs.

fn run<'a>(ctx: &Ctx, s: &mut Slots<'a>, pos: Position) -> Item<'a> {
    let internal = s
        .text(RunF::Internal.i())
        .filter(|t| t.starts_with("@{"))
        .and_then(powershell::parse_object);
    let ps = |key: &str| -> Option<String> {
        let m = internal.as_ref()?;
        powershell::lookup(m, &format!("properties.{key}"))
            .or_else(|| powershell::lookup(m, key))
            .map(str::to_string)
    };
    let status = match s
        .status
        .or_else(|| s.text(RunF::Status.i()).map(RunStatus::parse))
    {
        Some(st) => st,
        None => match ps("status") {
            Some(t) => RunStatus::parse(&t),
            None => return ctx.malformed(pos, "no status field"),
        },
    };
    let mut r = RunRecord::new(status, pos);
    r.run_id = s.take(RunF::RunId.i());
    let arm = s.take(RunF::ResourceId.i()).or_else(|| {
        internal
            .as_ref()
            .and_then(|m| powershell::lookup(m, "id"))
            .map(|t| Cow::Owned(t.to_string()))
    });
    if let Some(id) = &arm {
        if id.contains('/') {
            if r.run_id.is_none() {
                r.run_id = cow_segment(id, "runs");
            }
            r.environment = cow_segment(id, "environments");
            r.flow_id = cow_segment(id, "flows");
            if r.flow_id.is_none()
                && let Some(wf) = cow_segment(id, "workflows")
            {
                r.flow_name = Some(wf.clone());
                r.flow_id = Some(wf);
            }
        } else if r.run_id.is_none() {
            r.run_id = Some(id.clone());
        }
    }
    if r.run_id.is_none() {
        r.run_id = internal
            .as_ref()
            .and_then(|m| powershell::lookup(m, "name"))
            .map(|t| Cow::Owned(t.to_string()));
    }
    if let Some(f) = s.take(RunF::FlowId.i()) {
        r.flow_id = Some(f);
    }
    if let Some(n) = s.take(RunF::FlowName.i()) {
        r.flow_name = Some(n);
    }
    if r.flow_id.is_none() {
        r.flow_id = ctx.flow_id.clone().map(Cow::Owned);
    }
    if r.flow_name.is_none() {
        r.flow_name = ctx.flow_name.clone().map(Cow::Owned);
    }
    if let Some(e) = s.take(RunF::Environment.i()) {
        r.environment = Some(e);
    }
    r.owner = s
        .take(RunF::Owner.i())
        .or_else(|| s.take(RunF::OwnerId.i()));
    r.connection = s.take(RunF::Connection.i());
    r.connector = s.take(RunF::Connector.i()).or_else(|| {
        r.connection
            .as_deref()
            .and_then(connector_from_connection)
            .map(Cow::Owned)
    });
    r.trigger = s
        .take(RunF::Trigger.i())
        .or_else(|| ps("trigger.name").map(Cow::Owned));
    r.time = ctx
        .time(s.text(RunF::Start.i()))
        .or_else(|| ctx.time(ps("startTime").as_deref()))
        .or_else(|| ctx.time(s.text(RunF::End.i())))
        .or_else(|| ctx.time(ps("endTime").as_deref()));
    let code = s
        .take(RunF::ErrorCode.i())
        .or_else(|| ps("error.code").map(Cow::Owned));
    let message = match s.raw(RunF::ErrorMessage.i()) {
        // `error` given as an object that the paths did not open (e.g. `Error` casing).
        Some(raw) => {
            let mut found = Vec::new();
            error_texts(raw, 0, &mut None, &mut found);
            found.into_iter().next().map(|(_, m)| m)
        }
        None => s.take(RunF::ErrorMessage.i()),
    }
    .or_else(|| ps("error.message").map(Cow::Owned));
    run_error(&mut r.texts, code, message);
    if let Some(action) = s.take(RunF::FailedAction.i()) {
        // Generic exports name the failing action next to the run's error: the text is
        // that action's error.
        for t in &mut r.texts {
            t.source = EvidenceSource::ActionError;
            t.action = Some(action.clone());
        }
    }
    if let Some(raw) = s.raw(RunF::Actions.i()) {
        action_errors(&mut r.texts, raw);
    }
    Item::Run(r)
}

fn action<'a>(ctx: &Ctx, s: &mut Slots<'a>, pos: Position) -> Item<'a> {
    let Some(status) = s.text(ActF::Status.i()).map(RunStatus::parse) else {
        return ctx.malformed(pos, "no status field");
    };
    let id = s.take(ActF::ResourceId.i());
    let run_id = s
        .take(ActF::RunId.i())
        .or_else(|| id.as_ref().and_then(|i| cow_segment(i, "runs")));
    let Some(run_id) = run_id else {
        return ctx.malformed(
            pos,
            "no run id (neither a run column nor an id with /runs/{run}/)",
        );
    };
    let action = s
        .take(ActF::Action.i())
        .or_else(|| s.take(ActF::Name.i()))
        .or_else(|| id.as_ref().and_then(|i| cow_segment(i, "actions")));
    let Some(action) = action else {
        return ctx.malformed(pos, "no action name");
    };
    let message = match s.raw(ActF::Message.i()) {
        Some(raw) => {
            let mut found = Vec::new();
            error_texts(raw, 0, &mut None, &mut found);
            found.into_iter().next().map(|(_, m)| m.into_owned())
        }
        None => s.text(ActF::Message.i()).map(str::to_string),
    };
    Item::Action(ActionRecord {
        run_id: run_id.into_owned(),
        action: action.into_owned(),
        status,
        code: s.text(ActF::Code.i()).map(str::to_string),
        message,
        start: ctx.time(s.text(ActF::Start.i())),
    })
}

// ---------------------------------------------------------------------------------------
// Inventories.

fn owned(s: &Slots<'_>, i: usize) -> Option<String> {
    s.text(i).map(str::to_string)
}

/// A `CreatedBy` given as `@{...}` text or JSON text: (id, name, upn).
fn person(text: Option<&str>) -> (Option<String>, Option<String>, Option<String>) {
    let Some(t) = text else {
        return (None, None, None);
    };
    let pick =
        |get: &dyn Fn(&str) -> Option<String>, keys: &[&str]| keys.iter().find_map(|k| get(k));
    if t.starts_with("@{") {
        if let Some(m) = powershell::parse_object(t) {
            let get = |k: &str| powershell::lookup(&m, k).map(str::to_string);
            return (
                pick(&get, &["objectId", "id", "userId"]),
                pick(&get, &["displayName", "name"]),
                pick(&get, &["userPrincipalName", "email", "upn"]),
            );
        }
    } else if t.starts_with('{')
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(t)
    {
        let get = |k: &str| {
            v.as_object()?
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_string)
        };
        return (
            pick(&get, &["objectId", "id", "userId"]),
            pick(&get, &["displayName", "name"]),
            pick(&get, &["userPrincipalName", "email", "upn"]),
        );
    } else if t.contains('@') {
        return (None, None, Some(t.to_string()));
    }
    (None, None, None)
}

/// Connection references: a JSON object keyed by reference name, a JSON array, or a
/// PowerShell `@{shared_office365=@{connectionName=...; id=...}}` string.
fn connection_refs(json: Option<&str>, text: Option<&str>) -> Vec<ConnectionRef> {
    let mut out = Vec::new();
    let mut add = |key: Option<&str>, name: Option<&str>, id: Option<&str>, api: Option<&str>| {
        let connector = id
            .map(last_segment)
            .or(api.map(last_segment))
            .or(key)
            .map(str::to_string);
        let connection = name.map(str::to_string);
        if connection.is_some() || connector.is_some() {
            out.push(ConnectionRef {
                connection,
                connector,
            });
        }
    };
    if let Some(j) = json
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(j)
    {
        let field = |o: &serde_json::Value, k: &str| -> Option<String> {
            o.as_object()?
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .and_then(|(_, v)| match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Object(_) => {
                        v.get("name").and_then(|n| n.as_str()).map(str::to_string)
                    }
                    _ => None,
                })
        };
        let entries: Vec<(Option<String>, &serde_json::Value)> = match &v {
            serde_json::Value::Object(m) => m.iter().map(|(k, v)| (Some(k.clone()), v)).collect(),
            serde_json::Value::Array(a) => a.iter().map(|v| (None, v)).collect(),
            _ => Vec::new(),
        };
        for (k, e) in entries {
            let name = field(e, "connectionName").or_else(|| field(e, "connection"));
            add(
                k.as_deref(),
                name.as_deref(),
                field(e, "id").as_deref(),
                field(e, "apiName").or_else(|| field(e, "api")).as_deref(),
            );
        }
        return out;
    }
    if let Some(t) = text
        && let Some(m) = powershell::parse_object(t)
    {
        for (k, v) in &m {
            if let PsValue::Map(e) = v {
                add(
                    Some(k),
                    powershell::lookup(e, "connectionName"),
                    powershell::lookup(e, "id"),
                    powershell::lookup(e, "apiName"),
                );
            }
        }
    }
    out
}

/// The first trigger of a flow's `definitionSummary.triggers`, described.
fn trigger_text(json: Option<&str>, text: Option<&str>) -> Option<String> {
    if let Some(j) = json {
        let v: serde_json::Value = serde_json::from_str(j).ok()?;
        let t = match &v {
            serde_json::Value::Array(a) => a.first()?,
            other => other,
        };
        let parts: Vec<&str> = ["type", "kind", "swaggerOperationId"]
            .iter()
            .filter_map(|k| t.get(*k).and_then(|x| x.as_str()))
            .chain(t.pointer("/api/name").and_then(|x| x.as_str()))
            .collect();
        return (!parts.is_empty()).then(|| parts.join(" "));
    }
    text.map(str::to_string)
}

fn flow<'a>(ctx: &Ctx, s: &Slots<'a>, pos: Position) -> Item<'a> {
    let internal = s
        .text(FlowF::Internal.i())
        .filter(|t| t.starts_with("@{"))
        .and_then(powershell::parse_object);
    let ps = |key: &str| -> Option<String> {
        let m = internal.as_ref()?;
        powershell::lookup(m, key).map(str::to_string)
    };
    let arm = owned(s, FlowF::ResourceId.i()).or_else(|| ps("id"));
    let from_arm = arm.as_deref().and_then(|id| {
        arm_segment(id, "flows")
            .or_else(|| arm_segment(id, "workflows"))
            .map(str::to_string)
    });
    let Some(flow_id) = owned(s, FlowF::FlowId.i())
        .or(from_arm)
        .or_else(|| ps("name"))
    else {
        return ctx.malformed(
            pos,
            "no flow id (FlowName, name, admin_flowidstring or an id with /flows/{id})",
        );
    };
    let (cid, cname, cupn) = person(
        s.json(FlowF::CreatedBy.i())
            .or(s.text(FlowF::CreatedBy.i())),
    );
    let state = owned(s, FlowF::State.i())
        .or_else(|| ps("properties.state"))
        .or_else(|| {
            s.text(FlowF::Enabled.i()).map(|e| {
                if e.eq_ignore_ascii_case("true") {
                    "Started".to_string()
                } else if e.eq_ignore_ascii_case("false") {
                    "Stopped".to_string()
                } else {
                    e.to_string()
                }
            })
        });
    let mut connections = connection_refs(s.json(FlowF::ConnRefs.i()), s.text(FlowF::ConnRefs.i()));
    if connections.is_empty()
        && let Some(m) = &internal
        && let Some(PsValue::Map(props)) = powershell::lookup_value(m, "properties")
        && let Some(PsValue::Map(refs)) = powershell::lookup_value(props, "connectionReferences")
    {
        connections = refs
            .iter()
            .filter_map(|(k, v)| match v {
                PsValue::Map(e) => Some(ConnectionRef {
                    connection: powershell::lookup(e, "connectionName").map(str::to_string),
                    connector: Some(
                        powershell::lookup(e, "id")
                            .map(last_segment)
                            .unwrap_or(k)
                            .to_string(),
                    ),
                }),
                PsValue::Text(_) => None,
            })
            .collect();
    }
    Item::Flow(FlowRecord {
        flow_id,
        name: owned(s, FlowF::Name.i()).or_else(|| ps("properties.displayName")),
        environment: owned(s, FlowF::Environment.i()).or_else(|| {
            arm.as_deref()
                .and_then(|id| arm_segment(id, "environments"))
                .map(str::to_string)
        }),
        owner_id: owned(s, FlowF::OwnerId.i()).or(cid),
        owner_name: owned(s, FlowF::OwnerName.i()).or(cname),
        owner_upn: owned(s, FlowF::OwnerUpn.i()).or(cupn),
        state,
        suspension_reason: owned(s, FlowF::Suspension.i()),
        trigger: trigger_text(s.json(FlowF::Trigger.i()), s.text(FlowF::Trigger.i())),
        created: ctx.time(s.text(FlowF::Created.i())),
        connections,
    })
}

/// What a connection's statuses say: (status, error code, error message).
fn statuses(
    json: Option<&str>,
    text: Option<&str>,
) -> (ConnectionStatus, Option<String>, Option<String>) {
    let mut entries: Vec<(Option<String>, Option<String>, Option<String>)> = Vec::new();
    let error_parts = |e: &PsValue| -> (Option<String>, Option<String>) {
        match e {
            PsValue::Map(m) => (
                powershell::lookup(m, "code").map(str::to_string),
                powershell::lookup(m, "message").map(str::to_string),
            ),
            PsValue::Text(t) if t.starts_with("@{") => match powershell::parse_object(t) {
                Some(m) => (
                    powershell::lookup(&m, "code").map(str::to_string),
                    powershell::lookup(&m, "message").map(str::to_string),
                ),
                None => (None, Some(t.clone())),
            },
            PsValue::Text(t) => (None, Some(t.clone()).filter(|t| !t.is_empty())),
        }
    };
    let from_ps = |m: &PsMap| {
        let (code, message) = powershell::lookup_value(m, "error")
            .map(error_parts)
            .unwrap_or((None, None));
        (
            powershell::lookup(m, "status").map(str::to_string),
            code,
            message,
        )
    };
    if let Some(j) = json
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(j)
    {
        let items: Vec<&serde_json::Value> = match &v {
            serde_json::Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for it in items {
            let get = |k: &str| {
                it.as_object()?
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v)
            };
            let status = get("status").and_then(|x| x.as_str()).map(str::to_string);
            let (code, message) = match get("error") {
                Some(serde_json::Value::String(t)) => error_parts(&PsValue::Text(t.clone())),
                Some(e @ serde_json::Value::Object(_)) => (
                    e.get("code").and_then(|x| x.as_str()).map(str::to_string),
                    e.get("message")
                        .and_then(|x| x.as_str())
                        .map(str::to_string),
                ),
                _ => (None, None),
            };
            entries.push((status, code, message));
        }
    } else if let Some(t) = text {
        let objs = powershell::parse_objects(t);
        if objs.is_empty() {
            // A bare status word; `System.Object[]` (Export-Csv of an array) says nothing.
            if t.eq_ignore_ascii_case("error") || t.eq_ignore_ascii_case("connected") {
                entries.push((Some(t.to_string()), None, None));
            }
        } else {
            entries.extend(objs.iter().map(from_ps));
        }
    }
    let is = |e: &(Option<String>, _, _), w: &str| {
        e.0.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(w))
    };
    if let Some(e) = entries.iter().find(|e| is(e, "error") || e.1.is_some()) {
        return (ConnectionStatus::Error, e.1.clone(), e.2.clone());
    }
    if entries.iter().any(|e| is(e, "connected")) {
        return (ConnectionStatus::Connected, None, None);
    }
    (ConnectionStatus::Unknown, None, None)
}

fn connection<'a>(ctx: &Ctx, s: &Slots<'a>, pos: Position) -> Item<'a> {
    let internal = s
        .text(ConnF::Internal.i())
        .filter(|t| t.starts_with("@{"))
        .and_then(powershell::parse_object);
    let ps = |key: &str| -> Option<String> {
        powershell::lookup(internal.as_ref()?, key).map(str::to_string)
    };
    let id = owned(s, ConnF::ConnectionId.i()).or_else(|| ps("id"));
    let Some(name) = owned(s, ConnF::Connection.i())
        .or_else(|| id.as_deref().map(|i| last_segment(i).to_string()))
        .or_else(|| ps("name"))
    else {
        return ctx.malformed(pos, "no connection name (ConnectionName, name or id)");
    };
    let (cid, cname, cupn) = person(
        s.json(ConnF::CreatedBy.i())
            .or(s.text(ConnF::CreatedBy.i())),
    );
    let (mut status, code, message) =
        statuses(s.json(ConnF::Statuses.i()), s.text(ConnF::Statuses.i()));
    match s.text(ConnF::Overall.i()) {
        Some(o) if o.eq_ignore_ascii_case("error") => status = ConnectionStatus::Error,
        Some(o) if o.eq_ignore_ascii_case("connected") && status == ConnectionStatus::Unknown => {
            status = ConnectionStatus::Connected
        }
        _ => {}
    }
    let connector = s
        .text(ConnF::Connector.i())
        .map(|c| last_segment(c).to_string())
        .or_else(|| ps("properties.apiId").map(|c| last_segment(&c).to_string()))
        .or_else(|| {
            id.as_deref()
                .and_then(|i| arm_segment(i, "apis"))
                .map(str::to_string)
        })
        .or_else(|| connector_from_connection(&name));
    Item::Connection(ConnectionRecord {
        connection: name,
        connector,
        display_name: owned(s, ConnF::DisplayName.i()),
        environment: owned(s, ConnF::Environment.i()).or_else(|| {
            id.as_deref()
                .and_then(|i| arm_segment(i, "environments"))
                .map(str::to_string)
        }),
        owner_id: owned(s, ConnF::OwnerId.i()).or(cid),
        owner_name: owned(s, ConnF::OwnerName.i()).or(cname),
        owner_upn: owned(s, ConnF::OwnerUpn.i()).or(cupn),
        status,
        error_code: code,
        error_message: message,
        created: ctx.time(s.text(ConnF::Created.i())),
        last_modified: ctx.time(s.text(ConnF::LastModified.i())),
    })
}

// ---------------------------------------------------------------------------------------
// Sign-ins and policies.

fn error_code(t: &str) -> Option<u32> {
    let t = t.trim();
    let t = t
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("aadsts"))
        .map_or(t, |_| &t[6..]);
    t.parse().ok()
}

/// Conditional access policies: a JSON array (raw or as text).
fn policies(json: Option<&str>) -> Vec<AppliedPolicy> {
    let Some(v) = json.and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok()) else {
        return Vec::new();
    };
    let items: Vec<&serde_json::Value> = match &v {
        serde_json::Value::Array(a) => a.iter().collect(),
        o @ serde_json::Value::Object(_) => vec![o],
        _ => Vec::new(),
    };
    let get = |o: &serde_json::Value, k: &str| -> Option<serde_json::Value> {
        o.as_object()?
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let strings = |v: Option<serde_json::Value>| -> Vec<String> {
        match v {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            Some(serde_json::Value::String(s)) if !s.is_empty() => vec![s],
            _ => Vec::new(),
        }
    };
    items
        .into_iter()
        .map(|p| AppliedPolicy {
            name: get(p, "displayName")
                .or_else(|| get(p, "id"))
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            result: get(p, "result")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            grant_controls: strings(get(p, "enforcedGrantControls")),
            session_controls: strings(get(p, "enforcedSessionControls")),
        })
        .collect()
}

fn sign_in<'a>(ctx: &Ctx, s: &Slots<'a>, pos: Position) -> Item<'a> {
    let time = ctx.time(s.text(SignF::Time.i()));
    let request_id = owned(s, SignF::RequestId.i());
    if time.is_none() && request_id.is_none() {
        return ctx.malformed(pos, "no sign-in date or request id");
    }
    // Log Analytics writes `Status` as JSON text.
    let status_json = s
        .json(SignF::StatusText.i())
        .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok());
    let from_status = |k: &str| {
        status_json
            .as_ref()
            .and_then(|v| v.get(k))
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    };
    let error_code = s
        .text(SignF::ErrorCode.i())
        .and_then(error_code)
        .or_else(|| from_status("errorCode").as_deref().and_then(error_code))
        .unwrap_or(0);
    let detail = s
        .json(SignF::DeviceDetail.i())
        .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok());
    let device = owned(s, SignF::DeviceName.i())
        .or_else(|| owned(s, SignF::DeviceId.i()))
        .or_else(|| {
            let d = detail.as_ref()?;
            ["displayName", "deviceId", "operatingSystem"]
                .iter()
                .find_map(|k| {
                    d.get(*k)?
                        .as_str()
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                })
        })
        .or_else(|| owned(s, SignF::DeviceOs.i()));
    let location = owned(s, SignF::Location.i()).or_else(|| {
        let parts: Vec<&str> = [SignF::LocCity, SignF::LocState, SignF::LocCountry]
            .iter()
            .filter_map(|f| s.text(f.i()))
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    });
    let resource_id = owned(s, SignF::ResourceId.i())
        .filter(|r| !r.starts_with('/'))
        .or_else(|| owned(s, SignF::ResourceIdentity.i()));
    let interactive =
        s.text(SignF::Interactive.i())
            .and_then(|t| match t.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Some(true),
                "false" | "no" | "0" => Some(false),
                _ => None,
            });
    Item::SignIn(SignInRecord {
        time,
        request_id,
        correlation_id: owned(s, SignF::CorrelationId.i()),
        user_id: owned(s, SignF::UserId.i()),
        user_upn: owned(s, SignF::UserUpn.i()),
        user_name: owned(s, SignF::UserName.i()),
        app: owned(s, SignF::App.i()),
        app_id: owned(s, SignF::AppId.i()),
        resource: owned(s, SignF::Resource.i()),
        resource_id,
        error_code,
        failure_reason: owned(s, SignF::Failure.i())
            .or_else(|| from_status("failureReason").filter(|t| !t.is_empty())),
        ca_status: s.text(SignF::CaStatus.i()).map(|c| {
            c.chars()
                .filter(|ch| ch.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase()
        }),
        policies: policies(s.json(SignF::Policies.i())),
        client_app: owned(s, SignF::ClientApp.i()),
        device,
        location,
        ip: owned(s, SignF::Ip.i()),
        interactive,
    })
}

/// A JSON value that keeps objects in written order (`serde_json::Map` sorts keys).
enum Ordered {
    Object(Vec<(String, Ordered)>),
    Text(String),
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<Ordered, M::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Ordered>()? {
                    out.push((k, v));
                }
                Ok(Ordered::Object(out))
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                mut s: S,
            ) -> Result<Ordered, S::Error> {
                let mut items = Vec::new();
                while let Some(v) = s.next_element::<serde_json::Value>()? {
                    items.push(v);
                }
                Ok(Ordered::Text(serde_json::Value::Array(items).to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
                Ok(Ordered::Text(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
                Ok(Ordered::Text(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
                Ok(Ordered::Text(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
                Ok(Ordered::Text(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Ordered, E> {
                Ok(Ordered::Text(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Text("null".to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parse a policy definition leniently: whitespace, line breaks, PowerShell's outer
/// `{...}` array display, one extra level of escaping. Settings keep their written order.
pub(crate) fn definition_settings(def: &str) -> Vec<(String, String)> {
    let mut t = def.trim().to_string();
    let mut value = None;
    for _ in 0..3 {
        match serde_json::from_str::<Ordered>(&t) {
            Ok(Ordered::Text(inner)) if inner.trim_start().starts_with('{') => {
                t = inner; // escaped once more
                continue;
            }
            Ok(v) => {
                value = Some(v);
                break;
            }
            Err(_) => {}
        }
        if t.starts_with("{{") && t.ends_with("}}") {
            t = t[1..t.len() - 1].trim().to_string();
        } else if t.contains("\\\"") {
            t = t.replace("\\\"", "\"");
        } else {
            break;
        }
    }
    let mut out = Vec::new();
    if let Some(Ordered::Object(top)) = value {
        for (k, v) in top {
            match v {
                Ordered::Object(inner) => out.extend(inner.into_iter().map(|(n, x)| {
                    let text = match x {
                        Ordered::Text(t) => t,
                        Ordered::Object(_) => String::new(),
                    };
                    (n, text)
                })),
                Ordered::Text(t) => out.push((k, t)),
            }
        }
    }
    out
}

fn policy<'a>(ctx: &Ctx, s: &Slots<'a>, pos: Position) -> Item<'a> {
    let defs: Vec<String> = match s.json(PolF::Definition.i()) {
        Some(j) if j.starts_with('[') => match serde_json::from_str::<Vec<String>>(j) {
            Ok(v) => v,
            Err(_) => vec![j.to_string()],
        },
        Some(j) => vec![j.to_string()],
        None => s
            .text(PolF::Definition.i())
            .map(|t| vec![t.to_string()])
            .unwrap_or_default(),
    };
    if defs.is_empty() {
        return ctx.malformed(pos, "no definition");
    }
    let settings = defs.iter().flat_map(|d| definition_settings(d)).collect();
    Item::Policy(PolicyRecord {
        id: owned(s, PolF::Id.i()),
        display_name: owned(s, PolF::DisplayName.i()),
        is_organization_default: s.text(PolF::IsDefault.i()).and_then(|t| {
            match t.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Some(true),
                "false" | "0" | "no" => Some(false),
                _ => None,
            }
        }),
        settings,
        definition: defs.join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (action, code, text) of each text `action_errors` keeps.
    fn action_texts(raw: &str) -> Vec<(String, Option<String>, String)> {
        let mut texts = Vec::new();
        action_errors(&mut texts, raw);
        texts
            .into_iter()
            .map(|t| {
                (
                    t.action.unwrap_or_default().into_owned(),
                    t.code.map(Cow::into_owned),
                    t.text.into_owned(),
                )
            })
            .collect()
    }

    /// A message decoded once stands for its later copies, which are not decoded again and
    /// would only repeat a text already kept; a blank message still lets its code stand in,
    /// every time. The texts kept are those of decoding every copy.
    #[test]
    fn repeated_action_messages_keep_the_first_copy() {
        let mut seen = Seen::new();
        let (text, blank) = (r#""AADSTS50076: \"MFA\"""#, r#"" ""#);
        let mut memo = Some(&mut seen);
        assert!(matches!(message(text, &mut memo), Message::New(Some(_))));
        assert!(matches!(message(text, &mut memo), Message::Seen(true)));
        assert!(matches!(message(blank, &mut memo), Message::New(None)));
        assert!(matches!(message(blank, &mut memo), Message::Seen(false)));
        assert!(matches!(message(text, &mut None), Message::New(Some(_))));

        let escaped =
            r#"Error: {\"error\":\"invalid_grant\",\"error_description\":\"AADSTS50076: MFA\"}"#;
        let raw = format!(
            r#"{{"A":{{"status":"Failed","code":"Unauthorized","error":{{"code":"E1","message":"{escaped}"}},
                "outputs":{{"body":{{"message":"{escaped}","error":{{"code":"E2","message":"{escaped}"}}}}}}}},
              "B":{{"status":"Failed","error":{{"code":"E3","message":"{escaped}"}}}},
              "C":{{"status":"Failed","error":{{"code":"Blank","message":" "}},
                "outputs":{{"body":{{"code":"AlsoBlank","message":" "}}}}}},
              "D":{{"status":"Failed","error":{{"code":"Other","message":"{escaped} (2)"}}}}}}"#
        );
        let want = r#"Error: {"error":"invalid_grant","error_description":"AADSTS50076: MFA"}"#;
        assert_eq!(
            action_texts(&raw),
            vec![
                ("A".into(), Some("E1".into()), want.to_string()),
                ("C".into(), None, "Blank".into()),
                ("C".into(), None, "AlsoBlank".into()),
                ("D".into(), Some("Other".into()), format!("{want} (2)")),
            ]
        );
    }

    #[test]
    fn arm_ids() {
        let id = "/providers/Microsoft.ProcessSimple/environments/Default-de34/flows/170fb67e-a514-4d84-8727-582022bd13a9/runs/0858CU17";
        assert_eq!(arm_segment(id, "environments"), Some("Default-de34"));
        assert_eq!(
            arm_segment(id, "flows"),
            Some("170fb67e-a514-4d84-8727-582022bd13a9")
        );
        assert_eq!(arm_segment(id, "runs"), Some("0858CU17"));
        assert_eq!(arm_segment(id, "actions"), None);
        assert_eq!(arm_segment("/Runs/r1?api-version=1", "runs"), Some("r1"));
        assert_eq!(arm_segment("/a/runs/", "runs"), None);
        assert_eq!(arm_segment("/a/runs", "runs"), None);
        assert_eq!(arm_segment("runs/x/runs/y", "runs"), Some("y"));
        assert_eq!(arm_segment("/flowsx/y/flows/z", "flows"), Some("z"));
        assert_eq!(arm_segment("/é/flows//flows/z", "flows"), None);
        assert_eq!(last_segment("/apis/shared_office365/"), "shared_office365");
        assert_eq!(last_segment("office365"), "office365");
    }

    #[test]
    fn guids_and_connectors() {
        assert_eq!(
            find_guid("runs_170fb67e-a514-4d84-8727-582022bd13a9.csv"),
            Some("170fb67e-a514-4d84-8727-582022bd13a9")
        );
        assert_eq!(
            connector_from_connection("shared-office365-19528cc4-23c1-4b39-abea-f010eb9fe3f9")
                .as_deref(),
            Some("shared_office365")
        );
        assert_eq!(connector_from_connection("office365"), None);
        // The guid's first byte would fall inside a multi-byte character (found by fuzzing).
        let name = format!("shared-x{}a", "é".repeat(18));
        assert_eq!(connector_from_connection(&name), None);
        let name = format!("shared-é-{}", "0".repeat(36));
        assert_eq!(connector_from_connection(&name), None);
    }

    #[test]
    fn definitions_parse_leniently() {
        let want = vec![
            ("Version".to_string(), "1".to_string()),
            ("AccessTokenLifetime".to_string(), "03:00:00".to_string()),
        ];
        assert_eq!(
            definition_settings(
                r#"{{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"03:00:00"}}}"#
            ),
            want
        );
        assert_eq!(
            definition_settings(
                "{\n  \"TokenLifetimePolicy\": {\n \"Version\": 1,\n \"AccessTokenLifetime\": \"03:00:00\" }\n}"
            ),
            want
        );
        assert_eq!(
            definition_settings(
                r#"{\"TokenLifetimePolicy\":{\"Version\":1,\"AccessTokenLifetime\":\"03:00:00\"}}"#
            ),
            want
        );
    }

    #[test]
    fn statuses_in_three_renderings() {
        let (s, c, m) = statuses(
            Some(
                r#"[{"status":"Error","target":"token","error":{"code":"Unauthenticated","message":"This connection is not authenticated."}}]"#,
            ),
            None,
        );
        assert_eq!(s, ConnectionStatus::Error);
        assert_eq!(c.as_deref(), Some("Unauthenticated"));
        assert_eq!(m.as_deref(), Some("This connection is not authenticated."));
        let (s, c, m) = statuses(
            None,
            Some(
                "@{status=Error; target=token; error=@{code=Unauthorized; message=Failed to refresh access token for service: office365.}}",
            ),
        );
        assert_eq!(
            (s, c.as_deref()),
            (ConnectionStatus::Error, Some("Unauthorized"))
        );
        assert!(m.unwrap().starts_with("Failed to refresh"));
        let (s, ..) = statuses(None, Some("System.Object[]"));
        assert_eq!(s, ConnectionStatus::Unknown);
        let (s, ..) = statuses(Some(r#"[{"status":"Connected"}]"#), None);
        assert_eq!(s, ConnectionStatus::Connected);
    }

    /// The action lists of the samples and of a generated tenant.
    fn sample_action_lists() -> Vec<serde_json::Value> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let api = std::fs::read_to_string(root.join("samples/runs/flow-api-runs.json")).unwrap();
        let api: serde_json::Value = serde_json::from_str(&api).unwrap();
        let mut values = vec![];
        for run in api["value"].as_array().unwrap() {
            if let Some(actions) = run["properties"].get("actions") {
                values.push(actions.clone());
            }
        }
        let g = crate::r#gen::Generator::new(
            crate::r#gen::Format::Jsonl,
            crate::r#gen::Target::Records(400),
            3,
        );
        let mut generated = Vec::new();
        g.write_runs(&mut generated).unwrap();
        for line in String::from_utf8(generated).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(actions) = v["properties"].get("actions") {
                values.push(actions.clone());
            }
        }
        assert!(values.len() > 20, "{}", values.len());
        values
    }

    /// `v` with the first letter of every object key capitalised, at every depth.
    fn capitalise(v: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match v {
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| {
                        let mut c = k.chars();
                        let k = c
                            .next()
                            .map(|f| f.to_uppercase().chain(c).collect())
                            .unwrap_or_default();
                        (k, capitalise(x))
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(capitalise).collect()),
            _ => v.clone(),
        }
    }

    /// Action lists, action objects, outputs and error objects of every shape the samples
    /// and the generator write, and edge cases of the struct reading serde's derive does.
    fn action_seeds() -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let add = |v: &serde_json::Value, out: &mut Vec<String>| {
            out.push(v.to_string());
            out.push(serde_json::to_string_pretty(v).unwrap());
        };
        // Every key also written with a capital, as the aliases let a writer do.
        let capitalised = sample_action_lists()
            .iter()
            .map(capitalise)
            .collect::<Vec<_>>();
        for v in sample_action_lists().iter().chain(&capitalised) {
            add(v, &mut out);
            for a in v.as_object().into_iter().flat_map(|o| o.values()) {
                add(a, &mut out);
                for part in ["error", "Error", "outputs", "Outputs"] {
                    if let Some(x) = a.get(part) {
                        add(x, &mut out);
                        if let Some(body) = x.get("body").or_else(|| x.get("Body")) {
                            add(body, &mut out);
                        }
                    }
                }
            }
        }
        let edge = [
            r#"{"A":{"status":"Failed","Status":"Failed"}}"#,
            r#"{"A":{"status":"Failed","status":"Failed"}}"#,
            r#"{"A":{"status":null,"status":"Failed"}}"#,
            r#"{"A":{"status":1}}"#,
            r#"{"A":{"status":"F\u0061iled","code":"C","error":null,"outputs":{"Body":{"Message":"m"}}}}"#,
            r#"{"A":{"st\u0061tus":"Failed"}}"#,
            r#"{"A\u00e9":{"status":"Failed"}}"#,
            r#"{"A":{"name":"\ud83d","status":"Failed"}}"#,
            r#"{"A":{"properties":{"status":"Failed","error":{"code":"X","message":"m","error":{"message":"n"}}}}}"#,
            r#"{"A":{"status":"Failed"},"A":{"status":"Succeeded"}}"#,
            r#"[{"name":"A","status":"Failed"},{"status":"Failed"}]"#,
            r#"[{"name":"A","status":"Failed"},["Failed"]]"#,
            r#"{"A":["Failed",null,{"code":"x"}]}"#,
            r#"{"A":null}"#,
            r#"{"A":"text"}"#,
            r#""text""#,
            r#"{"code":"c","message":"m","error":{"code":"d"},"other":[1,{"x":null}]}"#,
            r#"{"Code":400,"Message":"m","code":"again"}"#,
            r#"{"code":-0.5e3,"message":true,"error":"plain"}"#,
            r#"{"body":{"error":{"message":"m"}},"Body":null}"#,
            r#"{"body": {"message" : "m" } }  "#,
            r#"{"body":{"message":"m"}} x"#,
            r#"{"body":nul}"#,
            r#"{"body":null,}"#,
            "{}",
            "[]",
            "",
        ];
        out.extend(edge.iter().map(|s| s.to_string()));
        // The edge cases that are JSON, with capitalised keys: array actions' `Name`s,
        // nested `Properties`.
        for e in edge {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(e) {
                out.push(capitalise(&v).to_string());
            }
        }
        let deep = format!(
            "{{\"A\":{{\"error\":{}1{}}}}}",
            "[".repeat(126),
            "]".repeat(126)
        );
        out.push(deep);
        out
    }

    /// An action's fields as text, to compare the two readers.
    fn action_view(a: &Action<'_>) -> [Option<String>; 6] {
        let s = |x: &Option<Cow<'_, str>>| x.as_ref().map(|c| c.to_string());
        let r = |x: &Option<&str>| x.map(str::to_string);
        [
            s(&a.status),
            r(&a.code),
            r(&a.error),
            r(&a.outputs),
            s(&a.name),
            r(&a.properties),
        ]
    }

    /// Where the fast readers read a text, the functions the runs use (taking the fast
    /// way) give the values serde's derive reads from it, and serde accepts it; where they
    /// decline, serde decides. Returns which read it: as an action list, an action, an
    /// error object, an action's outputs.
    fn readers_agree(t: &str) -> [bool; 4] {
        let rejects = |e: serde_json::Error| -> ! {
            panic!("a fast reader read what serde rejects: {t:?}: {e}")
        };
        let list = fast::list(t, &ACTION_FIELDS).is_some();
        if list {
            serde_json::from_str::<ActionList<'_>>(t).unwrap_or_else(|e| rejects(e));
            let view = |l: Vec<(Cow<'_, str>, Action<'_>)>| {
                l.iter()
                    .map(|(k, a)| (k.to_string(), action_view(a)))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                Action::list(t).map(view),
                Action::list_serde(t).map(view),
                "{t:?}"
            );
        }
        let action = fast::fields(t, &ACTION_FIELDS).is_some();
        if action {
            let slow = serde_json::from_str::<ActionJ<'_>>(t).unwrap_or_else(|e| rejects(e));
            assert_eq!(
                Action::parse(t).as_ref().map(action_view),
                Some(action_view(&Action::of_serde(slow))),
                "{t:?}"
            );
        }
        let error = fast::fields(t, &ERR_FIELDS).is_some();
        if error {
            let slow = serde_json::from_str::<ErrObjJ<'_>>(t).unwrap_or_else(|e| rejects(e));
            assert_eq!(ErrObj::parse(t), Some(ErrObj::of_serde(slow)), "{t:?}");
        }
        let outputs = fast::fields(t, &OUTPUTS_FIELDS).is_some();
        if outputs {
            let slow = serde_json::from_str::<OutputsJ<'_>>(t).unwrap_or_else(|e| rejects(e));
            assert_eq!(outputs_body(t), slow.body.map(RawValue::get), "{t:?}");
        }
        [list, action, error, outputs]
    }

    /// How many of `texts` each reader read (see [`readers_agree`]).
    fn read_counts<'t>(texts: impl Iterator<Item = &'t String>) -> [usize; 4] {
        let mut n = [0; 4];
        for t in texts {
            for (n, read) in n.iter_mut().zip(readers_agree(t)) {
                *n += usize::from(read);
            }
        }
        n
    }

    #[test]
    fn fast_action_readers_agree_with_serde() {
        let seeds = action_seeds();
        let read = read_counts(seeds.iter());
        // Each reader reads a good part of the seeds: what the comparison covers.
        assert!(
            read.iter().all(|&n| n * 10 > seeds.len()),
            "{read:?} of {}",
            seeds.len()
        );
        // Every action list, action, outputs and error object of the samples and the
        // generator is read the fast way, by the reader the runs use for it.
        for list in sample_action_lists() {
            let text = list.to_string();
            assert!(fast::list(&text, &ACTION_FIELDS).is_some(), "{text}");
            for a in list.as_object().into_iter().flat_map(|o| o.values()) {
                let text = a.to_string();
                assert!(fast::fields(&text, &ACTION_FIELDS).is_some(), "{text}");
                if let Some(e) = a.get("error").filter(|e| e.is_object()) {
                    assert!(fast::fields(&e.to_string(), &ERR_FIELDS).is_some(), "{e}");
                }
                if let Some(o) = a.get("outputs") {
                    assert!(
                        fast::fields(&o.to_string(), &OUTPUTS_FIELDS).is_some(),
                        "{o}"
                    );
                }
            }
        }
    }

    #[test]
    fn fast_action_readers_agree_on_mutated_texts() {
        const BYTES: &[u8] = b"\"\\{}[],: \t\nu0-.eE+19afnt\x01/SsCcBbMm";
        let texts =
            super::super::json::mutations(&action_seeds(), 40, BYTES, 0x2545_F491_4F6C_DD1D);
        let tried = texts.len();
        let read = read_counts(texts.iter().map(|(_, t)| t));
        // Enough mutated texts are read the fast way, by each reader, for the comparison
        // to mean something.
        assert!(read.iter().all(|&n| n * 20 > tried), "{read:?} of {tried}");
    }
}

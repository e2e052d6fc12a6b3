//! The joins that turn a bare `ActionFailed` into a diagnosis.
//!
//! Run exports rarely carry the AADSTS text: it sits in the failing action's body, on the
//! connection's status, or in the sign-in log, and the owner sits in the flow inventory.
//! [`JoinIndex`] is built from the enrichment inputs (read first, they are small) and
//! [`JoinIndex::resolve`] walks run → flow (owner, connection references, trigger) →
//! connection (status, owner) → failing actions of the same run, saying which evidence it
//! used.

use crate::classify::{Classifier, Diagnosis, MsgContext};
use crate::model::{
    ActionRecord, ConnectionRecord, ConnectionStatus, Context, EvidenceSource, FlowRecord, Host,
    Item, PolicyRecord, RunRecord, SignInRecord,
};
use crate::vocab::{Category, Confidence};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;

/// One person, as the inputs name them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Person {
    pub id: Option<String>,
    pub name: Option<String>,
    pub upn: Option<String>,
}

impl Person {
    /// `Adele Vance <adele.vance@contoso.com>`, or whichever part is known.
    pub fn label(&self) -> String {
        match (&self.name, &self.upn, &self.id) {
            (Some(n), Some(u), _) if !n.eq_ignore_ascii_case(u) => format!("{n} <{u}>"),
            (Some(n), _, _) => n.clone(),
            (None, Some(u), _) => u.clone(),
            (None, None, Some(i)) => i.clone(),
            (None, None, None) => String::new(),
        }
    }
}

/// A connection with its status diagnosed once.
#[derive(Clone, Debug)]
pub struct KnownConnection {
    pub record: ConnectionRecord,
    /// Owner label, resolved through the people directory.
    pub owner: Option<String>,
    /// The diagnosis of the status message, when the connection is in error.
    pub diagnosis: Option<Diagnosis>,
    /// The status message the diagnosis came from.
    pub message: String,
}

/// The enrichment records a [`JoinIndex`] is built from, in one canonical order (sorted,
/// exact duplicates once), so the same records give the same index whatever file, worker or
/// shard they came from. Partial reports carry it, and `flowdx merge` rebuilds the index
/// the shards used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JoinData {
    #[serde(default)]
    pub flows: Vec<FlowRecord>,
    #[serde(default)]
    pub connections: Vec<ConnectionRecord>,
    #[serde(default)]
    pub actions: Vec<ActionRecord>,
    #[serde(default)]
    pub sign_ins: Vec<SignInRecord>,
    #[serde(default)]
    pub policies: Vec<PolicyRecord>,
}

impl JoinData {
    /// Keep an enrichment record (runs and malformed records are not join data).
    pub fn push(&mut self, item: &Item<'_>) {
        match item {
            Item::Flow(f) => self.flows.push(f.clone()),
            Item::Connection(c) => self.connections.push(c.clone()),
            // Only failed actions explain runs.
            Item::Action(a) if a.status.is_failed() => self.actions.push(a.clone()),
            // Successful sign-ins still name people.
            Item::SignIn(s) => self.sign_ins.push(s.clone()),
            Item::Policy(p) => self.policies.push(p.clone()),
            Item::Action(_) | Item::Run(_) | Item::Malformed(_) => {}
        }
    }

    /// Add another set's records; call [`JoinData::canonicalize`] after the last.
    pub fn merge(&mut self, other: JoinData) {
        self.flows.extend(other.flows);
        self.connections.extend(other.connections);
        self.actions.extend(other.actions);
        self.sign_ins.extend(other.sign_ins);
        self.policies.extend(other.policies);
    }

    /// Sort every list by its records' JSON and drop exact duplicates (the same inventory
    /// given to several shards, or exported twice).
    pub fn canonicalize(&mut self) {
        fn canon<T: Serialize>(v: &mut Vec<T>) {
            let mut keyed: Vec<(String, T)> = std::mem::take(v)
                .into_iter()
                .map(|x| (serde_json::to_string(&x).unwrap_or_default(), x))
                .collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            keyed.dedup_by(|a, b| a.0 == b.0);
            v.extend(keyed.into_iter().map(|(_, x)| x));
        }
        canon(&mut self.flows);
        canon(&mut self.connections);
        canon(&mut self.actions);
        canon(&mut self.sign_ins);
        canon(&mut self.policies);
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
            && self.connections.is_empty()
            && self.actions.is_empty()
            && self.sign_ins.is_empty()
            && self.policies.is_empty()
    }

    /// Build the finished index (canonicalize first for an order-independent index).
    pub fn index(&self, classifier: &Classifier) -> JoinIndex {
        let mut index = JoinIndex::new();
        for f in &self.flows {
            index.add_flow(f.clone());
        }
        for c in &self.connections {
            index.add_connection(c.clone());
        }
        for a in &self.actions {
            index.add_action(a.clone());
        }
        for s in &self.sign_ins {
            index.add_sign_in(s.clone());
        }
        for p in &self.policies {
            index.add_policy(p.clone());
        }
        index.finish(classifier);
        index
    }
}

/// Everything the enrichment inputs tell us, indexed for the joins.
#[derive(Debug, Default)]
pub struct JoinIndex {
    flows: HashMap<String, FlowRecord>,
    connections: HashMap<String, KnownConnection>,
    /// Any lower-cased id, UPN or display name → index into `people`.
    people_keys: HashMap<String, usize>,
    people: Vec<Person>,
    /// Failed actions by run id, from run-actions exports.
    actions: HashMap<String, Vec<ActionRecord>>,
    /// Failed sign-ins (kept for the timing and policy step).
    pub sign_ins: Vec<SignInRecord>,
    pub policies: Vec<PolicyRecord>,
    /// Failed sign-ins by lower-cased correlation id and request id.
    sign_in_ids: HashMap<String, usize>,
    labels: Vec<String>,
}

/// What the joins found for one run. The names borrow from the run record or the index,
/// so resolving a run that did not fail allocates only when a name must be derived
/// (a connector from a connection name, a key that needs lower-casing).
#[derive(Debug, Default)]
pub struct Resolved<'a> {
    /// The run's flow in the flow inventory.
    pub flow: Option<&'a FlowRecord>,
    pub owner: Option<Cow<'a, str>>,
    pub connection: Option<Cow<'a, str>>,
    pub connector: Option<Cow<'a, str>>,
    pub flow_name: Option<Cow<'a, str>>,
    pub environment: Option<Cow<'a, str>>,
    /// Where an instant trigger ran (Power Apps, Teams, ...); found for failed runs only.
    pub host: Option<Host>,
    /// The winning diagnosis, its source and the message it was made from.
    pub verdict: Option<(Diagnosis, EvidenceSource, String)>,
    /// The best message when nothing explains the failure.
    pub fallback_message: Option<String>,
}

impl JoinIndex {
    pub fn new() -> Self {
        JoinIndex::default()
    }

    /// Register a person under every key they can be found by.
    pub fn add_person(&mut self, id: Option<&str>, name: Option<&str>, upn: Option<&str>) {
        let keys: Vec<String> = [id, name, upn]
            .into_iter()
            .flatten()
            .map(|k| k.trim().to_ascii_lowercase())
            .filter(|k| !k.is_empty())
            .collect();
        if keys.is_empty() {
            return;
        }
        let found = keys.iter().find_map(|k| self.people_keys.get(k).copied());
        let idx = match found {
            Some(i) => i,
            None => {
                self.people.push(Person::default());
                self.people.len() - 1
            }
        };
        let p = &mut self.people[idx];
        let fill = |slot: &mut Option<String>, v: Option<&str>| {
            if slot.is_none()
                && let Some(v) = v.map(str::trim).filter(|v| !v.is_empty())
            {
                *slot = Some(v.to_string());
            }
        };
        fill(&mut p.id, id);
        fill(&mut p.name, name);
        fill(&mut p.upn, upn);
        for k in keys {
            self.people_keys.entry(k).or_insert(idx);
        }
    }

    /// [`JoinIndex::person_label`], borrowed from the index (or from `key` when nobody
    /// matches) once the index is finished.
    pub fn person_label_ref<'s>(&'s self, key: &'s str) -> Cow<'s, str> {
        if self.people_keys.is_empty() {
            return Cow::Borrowed(crate::model::trim(key));
        }
        match self.people_keys.get(lower_key(key).as_ref()) {
            Some(&i) => match self.labels.get(i) {
                Some(l) => Cow::Borrowed(l.as_str()),
                None => Cow::Owned(self.people[i].label()),
            },
            None => Cow::Borrowed(crate::model::trim(key)),
        }
    }

    /// The display label for any id, UPN or name; the text itself when nobody matches.
    pub fn person_label(&self, key: &str) -> String {
        self.person_label_ref(key).into_owned()
    }

    pub fn person(&self, key: &str) -> Option<&Person> {
        self.people_keys
            .get(&key.trim().to_ascii_lowercase())
            .map(|&i| &self.people[i])
    }

    pub fn add_flow(&mut self, flow: FlowRecord) {
        self.add_person(
            flow.owner_id.as_deref(),
            flow.owner_name.as_deref(),
            flow.owner_upn.as_deref(),
        );
        let key = flow.flow_id.to_ascii_lowercase();
        self.flows.insert(key, flow);
    }

    pub fn add_connection(&mut self, conn: ConnectionRecord) {
        self.add_person(
            conn.owner_id.as_deref(),
            conn.owner_name.as_deref(),
            conn.owner_upn.as_deref(),
        );
        let key = connection_key(&conn.connection);
        self.connections.insert(
            key,
            KnownConnection {
                record: conn,
                owner: None,
                diagnosis: None,
                message: String::new(),
            },
        );
    }

    pub fn add_action(&mut self, action: ActionRecord) {
        if action.status.is_failed() {
            self.actions
                .entry(action.run_id.to_ascii_lowercase())
                .or_default()
                .push(action);
        }
    }

    pub fn add_sign_in(&mut self, s: SignInRecord) {
        self.add_person(
            s.user_id.as_deref(),
            s.user_name.as_deref(),
            s.user_upn.as_deref(),
        );
        if s.error_code != 0 {
            self.sign_ins.push(s);
        }
    }

    /// Add a token policy. The same policy exported twice (PowerShell and Graph) is kept
    /// once: same settings and the same id or display name.
    pub fn add_policy(&mut self, p: PolicyRecord) {
        let same = |q: &PolicyRecord| {
            let mut a = q.settings.clone();
            let mut b = p.settings.clone();
            a.sort();
            b.sort();
            a == b
                && ((q.id.is_some() && q.id == p.id)
                    || (q.display_name.is_some() && q.display_name == p.display_name))
        };
        if !self.policies.iter().any(same) {
            self.policies.push(p);
        }
    }

    /// Freeze the index: resolve labels and diagnose every connection status once.
    pub fn finish(&mut self, classifier: &Classifier) {
        self.labels = self.people.iter().map(Person::label).collect();
        self.sign_ins.sort_by(|a, b| {
            (a.time, &a.request_id, &a.correlation_id).cmp(&(
                b.time,
                &b.request_id,
                &b.correlation_id,
            ))
        });
        for (i, s) in self.sign_ins.iter().enumerate() {
            for id in [&s.correlation_id, &s.request_id].into_iter().flatten() {
                self.sign_in_ids.entry(id.to_ascii_lowercase()).or_insert(i);
            }
        }
        let keys: Vec<String> = self.connections.keys().cloned().collect();
        for key in keys {
            let (owner, diag, message) = {
                let c = &self.connections[&key];
                let owner = [
                    c.record.owner_id.as_deref(),
                    c.record.owner_upn.as_deref(),
                    c.record.owner_name.as_deref(),
                ]
                .into_iter()
                .flatten()
                .next()
                .map(|k| self.person_label(k));
                let message = connection_message(&c.record);
                let diag = (c.record.status == ConnectionStatus::Error && !message.is_empty())
                    .then(|| {
                        classifier.classify(
                            &message,
                            MsgContext {
                                context: Context::ConnectionStatus,
                                host: None,
                            },
                        )
                    });
                (owner, diag, message)
            };
            if let Some(c) = self.connections.get_mut(&key) {
                c.owner = owner;
                c.diagnosis = diag;
                c.message = message;
            }
        }
        for list in self.actions.values_mut() {
            list.sort_by(|a, b| (a.start, &a.action).cmp(&(b.start, &b.action)));
        }
    }

    pub fn flow(&self, id: &str) -> Option<&FlowRecord> {
        if self.flows.is_empty() {
            return None;
        }
        self.flows.get(lower_key(id).as_ref())
    }

    pub fn connection(&self, name: &str) -> Option<&KnownConnection> {
        if self.connections.is_empty() {
            return None;
        }
        self.connections
            .get(lower(connection_segment(name)).as_ref())
    }

    pub fn connections(&self) -> impl Iterator<Item = &KnownConnection> {
        self.connections.values()
    }

    pub fn flows(&self) -> impl Iterator<Item = &FlowRecord> {
        self.flows.values()
    }

    pub fn has_flows(&self) -> bool {
        !self.flows.is_empty()
    }

    pub fn has_connections(&self) -> bool {
        !self.connections.is_empty()
    }

    /// Resolve a run: owner, connection and, for a failed run, the diagnosis with the
    /// strongest evidence. `classify` is the worker's classifier.
    pub fn resolve<'a>(&'a self, run: &'a RunRecord<'_>, classifier: &Classifier) -> Resolved<'a> {
        let flow = run.flow_id.as_deref().and_then(|id| self.flow(id));
        let mut out = Resolved {
            flow,
            flow_name: run
                .flow_name
                .as_deref()
                .or_else(|| flow.and_then(|f| f.name.as_deref()))
                .map(Cow::Borrowed),
            environment: run
                .environment
                .as_deref()
                .or_else(|| flow.and_then(|f| f.environment.as_deref()))
                .map(Cow::Borrowed),
            ..Resolved::default()
        };
        out.owner = run
            .owner
            .as_deref()
            .or_else(|| {
                flow.and_then(|f| {
                    f.owner_id
                        .as_deref()
                        .or(f.owner_upn.as_deref())
                        .or(f.owner_name.as_deref())
                })
            })
            .map(|k| self.person_label_ref(k))
            .filter(|s| !s.is_empty());

        if !run.status.is_failed() {
            let conn = run
                .connection
                .as_deref()
                .or_else(|| flow.and_then(only_connection));
            self.fill_connection(&mut out, conn, run.connector.as_deref());
            return out;
        }

        // The host matters only to classify a failure's messages.
        out.host = run
            .trigger
            .as_deref()
            .and_then(Host::from_trigger)
            .or_else(|| {
                flow.and_then(|f| f.trigger.as_deref())
                    .and_then(Host::from_trigger)
            });
        let ctx = MsgContext {
            context: Context::Run,
            host: out.host,
        };
        // Evidence in the record itself and in joined run actions.
        let mut best: Option<(Diagnosis, EvidenceSource, String)> = None;
        let mut consider = |d: Diagnosis, src: EvidenceSource, msg: &str| {
            if d.category == Category::Unknown {
                return;
            }
            let better = match &best {
                None => true,
                Some((b, bsrc, _)) => rank(&d, src) > rank(b, *bsrc),
            };
            if better {
                best = Some((d, src, msg.to_string()));
            }
        };
        for t in &run.texts {
            let d = classifier.classify(&t.text, ctx);
            consider(d, t.source, &t.text);
        }
        if let Some(actions) = run
            .run_id
            .as_deref()
            .and_then(|id| self.actions.get(&id.to_ascii_lowercase()))
        {
            for a in actions {
                if let Some(m) = a.message.as_deref().filter(|m| !m.is_empty()) {
                    let d = classifier.classify(m, ctx);
                    consider(d, EvidenceSource::RunActions, m);
                }
            }
        }

        // Which connection: the record's own, else the flow reference that the evidence
        // points at (service name), else the one reference in error, else the only one.
        let service = best
            .as_ref()
            .and_then(|(d, _, _)| d.token.as_ref())
            .and_then(|t| t.service.clone());
        let conn = run
            .connection
            .as_deref()
            .or_else(|| {
                best.as_ref()
                    .and_then(|(_, _, msg)| self.connection_named_in(msg))
            })
            .or_else(|| flow.and_then(|f| self.pick_connection(f, service.as_deref())));
        self.fill_connection(&mut out, conn, run.connector.as_deref());

        // Nothing in the run explains it: the connection's status may.
        if best.is_none()
            && let Some(kc) = conn.and_then(|c| self.connection(c))
            && let Some(d) = &kc.diagnosis
            && d.category != Category::Unknown
        {
            // The status is the connection's state at export time: it explains the run
            // from context, never with certainty.
            let mut d = d.clone();
            d.confidence = d.confidence.min(Confidence::Likely);
            best = Some((d, EvidenceSource::ConnectionStatus, kc.message.clone()));
        }
        if best.is_none() {
            out.fallback_message = run
                .texts
                .iter()
                .rev()
                .find(|t| !t.text.trim().is_empty())
                .map(|t| t.text.to_string());
        }
        // No inventory names the owner: the sign-in the failure caused does.
        if out.owner.is_none()
            && let Some(user) = best
                .as_ref()
                .and_then(|(d, _, _)| d.token.as_deref())
                .and_then(|t| self.sign_in_user(t))
        {
            out.owner = Some(user);
        }
        out.verdict = best;
        out
    }

    /// The user of the failed sign-in whose correlation or request id the token text
    /// carries.
    fn sign_in_user(&self, token: &crate::classify::TokenDetails) -> Option<Cow<'_, str>> {
        [&token.correlation_id, &token.trace_id]
            .into_iter()
            .flatten()
            .find_map(|id| self.sign_in_ids.get(&id.to_ascii_lowercase()))
            .and_then(|&i| {
                let s = &self.sign_ins[i];
                s.user_id
                    .as_deref()
                    .or(s.user_upn.as_deref())
                    .or(s.user_name.as_deref())
            })
            .map(|k| self.person_label_ref(k))
            .filter(|l| !l.is_empty())
    }

    /// A known connection named inside a message (`... permission for connection
    /// 'shared-office365-<guid>' ...`).
    fn connection_named_in(&self, text: &str) -> Option<&str> {
        let mut rest = text;
        while let Some(at) = rest.find("shared-") {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .unwrap_or(tail.len());
            if let Some(k) = self.connection(&tail[..end]) {
                return Some(k.record.connection.as_str());
            }
            rest = &tail["shared-".len()..];
        }
        None
    }

    fn fill_connection<'a>(
        &'a self,
        out: &mut Resolved<'a>,
        conn: Option<&'a str>,
        connector: Option<&'a str>,
    ) {
        let known = conn.and_then(|c| self.connection(c));
        out.connection = known
            .map(|k| k.record.connection.as_str())
            .or(conn)
            .map(Cow::Borrowed);
        out.connector = connector
            .or_else(|| known.and_then(|k| k.record.connector.as_deref()))
            .map(Cow::Borrowed)
            .or_else(|| conn.and_then(connector_from_name).map(Cow::Owned));
        if out.owner.is_none() {
            out.owner = known.and_then(|k| k.owner.as_deref()).map(Cow::Borrowed);
        }
    }

    /// Choose among a flow's connection references.
    fn pick_connection<'a>(&self, flow: &'a FlowRecord, service: Option<&str>) -> Option<&'a str> {
        let refs: Vec<&str> = flow
            .connections
            .iter()
            .filter_map(|r| r.connection.as_deref())
            .collect();
        if let Some(svc) = service {
            let svc = svc.to_ascii_lowercase();
            if let Some(r) = flow.connections.iter().find(|r| {
                r.connector
                    .as_deref()
                    .map(|c| c.to_ascii_lowercase().trim_start_matches("shared_") == svc)
                    .unwrap_or(false)
                    || r.connection
                        .as_deref()
                        .and_then(connector_from_name)
                        .map(|c| c.trim_start_matches("shared_") == svc)
                        .unwrap_or(false)
            }) && let Some(c) = &r.connection
            {
                return Some(c.as_str());
            }
        }
        let mut broken: Vec<&str> = refs
            .iter()
            .copied()
            .filter(|c| {
                self.connection(c)
                    .map(|k| k.record.status == ConnectionStatus::Error)
                    .unwrap_or(false)
            })
            .collect();
        broken.sort_unstable();
        if let Some(first) = broken.first() {
            return Some(first);
        }
        match refs.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

fn only_connection(f: &FlowRecord) -> Option<&str> {
    match f.connections.as_slice() {
        [one] => one.connection.as_deref(),
        _ => None,
    }
}

/// Lower-cased connection name: the last path segment of an id, or the name itself.
pub fn connection_key(name: &str) -> String {
    connection_segment(name).to_ascii_lowercase()
}

/// The last path segment of a connection id (or the name itself), trimmed.
fn connection_segment(name: &str) -> &str {
    let t = name.trim().trim_end_matches('/');
    t.rsplit('/').next().unwrap_or(t)
}

/// A lookup key: trimmed and lower-cased, copied only when it has upper-case letters.
fn lower_key(s: &str) -> Cow<'_, str> {
    lower(crate::model::trim(s))
}

/// ASCII lower case, copied only when there is an upper-case letter.
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// `shared-office365-<guid>` → `shared_office365`.
fn connector_from_name(name: &str) -> Option<String> {
    let n = connection_key(name);
    let rest = n.strip_prefix("shared-")?;
    let api = rest.split('-').next()?;
    (!api.is_empty()).then(|| format!("shared_{api}"))
}

/// The status message of a connection in error: code and message together.
fn connection_message(c: &ConnectionRecord) -> String {
    match (&c.error_code, &c.error_message) {
        (Some(code), Some(msg)) if !msg.contains(code.as_str()) => format!("{code}: {msg}"),
        (_, Some(msg)) => msg.clone(),
        (Some(code), None) => code.clone(),
        (None, None) => String::new(),
    }
}

/// Order of preference between two pieces of evidence: a surer diagnosis wins; at equal
/// confidence an action's own error beats the run wrapper.
fn rank(d: &Diagnosis, src: EvidenceSource) -> (Confidence, bool, u8) {
    let src_rank = match src {
        EvidenceSource::ActionError => 3,
        EvidenceSource::RunActions => 2,
        EvidenceSource::RunError => 1,
        EvidenceSource::ConnectionStatus | EvidenceSource::SignInLog => 0,
    };
    (d.confidence, d.category.is_auth(), src_rank)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_merge_across_keys() {
        let mut j = JoinIndex::new();
        j.add_person(Some("9723d9b0"), Some("Adele Vance"), None);
        j.add_person(None, Some("Adele Vance"), Some("adele.vance@contoso.com"));
        j.labels = j.people.iter().map(Person::label).collect();
        assert_eq!(
            j.person_label("9723D9B0"),
            "Adele Vance <adele.vance@contoso.com>"
        );
        assert_eq!(
            j.person_label("adele.vance@contoso.com"),
            "Adele Vance <adele.vance@contoso.com>"
        );
        assert_eq!(j.person_label("someone else"), "someone else");
    }

    #[test]
    fn connection_names() {
        assert_eq!(
            connection_key(
                "/providers/Microsoft.PowerApps/apis/shared_office365/connections/shared-office365-ABC"
            ),
            "shared-office365-abc"
        );
        assert_eq!(
            connector_from_name("shared-sharepointonline-19528cc4").as_deref(),
            Some("shared_sharepointonline")
        );
        assert_eq!(connector_from_name("office365"), None);
    }
}

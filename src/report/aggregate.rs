//! The mergeable aggregate: every worker folds its observations into its own [`Report`],
//! and reports merge into one.
//!
//! `merge` is associative and commutative: every count is a sum, every time span a
//! min/max, every set a union, and every "example" or "first N" is the smallest under a
//! total order (the earliest `(time, run id, message, ...)` failure, the smallest run ids,
//! the first malformed records by `(file, position)`). So the rendered output is the same
//! whatever the split of records across threads, files or machines.
//!
//! `observe` is the hot path. It looks groups up by borrowed keys (a `HashTable` of indices
//! into the group list, hashed from `(&str, &str, Fix)`) and copies strings only when it
//! creates something new: a group, a signature, a timeline, a kept example.
//!
//! A report serialises (serde) to a deterministic document: maps are `BTreeMap`s, the group
//! list is written sorted by key and the lookup index is rebuilt on load. `to_partial_json`
//! wraps it with a format name and version for `analyze --partial` and `flowdx merge`.

use super::bounded::BoundedSet;
use super::group::{FLOW_CAP, Group, UNKNOWN};
use super::observe::{Finding, FindingKind, InputInfo, Observation, Outcome};
use super::strmap::StrMap;
use super::timeline::Timelines;
use crate::ingest::Skipped;
use crate::model::{InputKind, Malformed, Ts};
use crate::time::day_of;
use crate::vocab::{Fix, RootCause};
use hashbrown::{DefaultHashBuilder, HashTable};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;

/// Malformed records kept as examples (the smallest by file and position).
pub const MALFORMED_EXAMPLES: usize = 20;
/// Files listed per unexplained signature.
pub const SIGNATURE_FILE_CAP: usize = 64;

/// The version of the partial-report format written by [`Report::to_partial_json`].
pub const PARTIAL_VERSION: u32 = 1;
const PARTIAL_FORMAT: &str = "flowdx-partial-report";

/// How the records of one input (or of all inputs) came out.
///
/// The accounting identity:
/// `records = not_failed + classified + unclassified + malformed + filtered`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub records: u64,
    pub not_failed: u64,
    pub classified: u64,
    pub unclassified: u64,
    pub malformed: u64,
    /// Failures the filters (`--since`, `--owner`, `--category`, ...) left out of the
    /// report. Absent in partial reports written before filters existed.
    #[serde(default)]
    pub filtered: u64,
}

impl Counts {
    pub fn failed(&self) -> u64 {
        self.classified + self.unclassified
    }

    fn add(&mut self, o: &Counts) {
        self.records += o.records;
        self.not_failed += o.not_failed;
        self.classified += o.classified;
        self.unclassified += o.unclassified;
        self.malformed += o.malformed;
        self.filtered += o.filtered;
    }

    fn balanced(&self) -> bool {
        self.records
            == self.not_failed
                + self.classified
                + self.unclassified
                + self.malformed
                + self.filtered
    }
}

/// One input: what sniffing said about it (absent when records arrived for a path that was
/// never registered with [`Report::add_input`], which `check_accounting` reports) and its
/// counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputStats {
    pub info: Option<InputInfo>,
    #[serde(flatten)]
    pub counts: Counts,
}

/// The earliest unexplained failure of a signature, by (time, run id, message); failures
/// without a time or run id sort after those with one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureExample {
    pub time: Option<Ts>,
    pub run_id: Option<String>,
    pub message: String,
}

type SignatureKey<'a> = (bool, Option<Ts>, bool, Option<&'a str>, &'a str);

fn signature_key<'a>(
    time: Option<Ts>,
    run_id: Option<&'a str>,
    message: &'a str,
) -> SignatureKey<'a> {
    (time.is_none(), time, run_id.is_none(), run_id, message)
}

impl SignatureExample {
    fn key(&self) -> SignatureKey<'_> {
        signature_key(self.time, self.run_id.as_deref(), &self.message)
    }
}

/// Failures no rule explains, sharing one message signature.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Unexplained {
    pub count: u64,
    /// Failures from run histories.
    pub failed_runs: u64,
    pub example: Option<SignatureExample>,
    pub files: BoundedSet<SIGNATURE_FILE_CAP>,
}

impl Unexplained {
    fn merge(&mut self, o: Unexplained) {
        self.count += o.count;
        self.failed_runs += o.failed_runs;
        self.example = match (self.example.take(), o.example) {
            (Some(a), Some(b)) => Some(if b.key() < a.key() { b } else { a }),
            (a, b) => a.or(b),
        };
        self.files.merge(o.files);
    }
}

/// The mergeable aggregate of a whole analysis. See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct Report {
    inputs: BTreeMap<String, InputStats>,
    /// Skipped files: path -> reason.
    skipped: BTreeMap<String, String>,
    groups: Vec<Group>,
    /// Indices into `groups`, hashed by (owner, connection, fix).
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// Distinct flows per root cause (for the root-cause view). Every flow a group holds
    /// was offered here under the root cause of the failure that brought it; so a group
    /// whose failures all share a root cause need not offer its flows again.
    root_flows: BTreeMap<RootCause, BoundedSet<FLOW_CAP>>,
    unexplained: StrMap<Unexplained>,
    malformed: BTreeSet<Malformed>,
    /// Tenant-wide daily counts (the JSON `daily` series).
    timelines: Timelines,
    /// What the timing analysis (`infer`) needs: per-connection and per-flow days. The one
    /// per-connection store: the report keeps no second copy.
    timing: crate::infer::Timelines,
    findings: Vec<Finding>,
    as_of: Option<Ts>,
}

impl Report {
    pub fn new() -> Report {
        Report::default()
    }

    /// Register an input, with zero counts. Registering the same path again (in another
    /// worker's report, say) is harmless: merging keeps one entry and sums the counts.
    pub fn add_input(&mut self, info: InputInfo) {
        let stats = self.inputs.entry(info.path.clone()).or_default();
        stats.info = pick_info(stats.info.take(), Some(info));
    }

    /// Record a file that was found but is not a recognised export.
    pub fn add_skipped(&mut self, skipped: Skipped) {
        match self.skipped.get_mut(&skipped.path) {
            Some(reason) if *reason <= skipped.reason => {}
            Some(reason) => *reason = skipped.reason,
            None => {
                self.skipped.insert(skipped.path, skipped.reason);
            }
        }
    }

    /// Send runs' flow and connection days to a store shared with other workers' reports
    /// (see [`crate::infer::SharedRuns`]) instead of this report's own.
    pub fn share_timing(&mut self, runs: std::sync::Arc<crate::infer::SharedRuns>) {
        self.timing.share(runs);
    }

    /// Stop sending runs to a shared store (before merging this report into another).
    pub fn unshare_timing(&mut self) {
        self.timing.unshare();
    }

    /// Take in what a shared store collected.
    pub fn absorb_timing(&mut self, t: crate::infer::Timelines) {
        self.timing.absorb(t);
    }

    /// Record that a run used a connection successfully, for the timing analysis only: a
    /// successful run of a flow with several connections used each of them, though the run
    /// record (counted once by [`Report::observe`]) names none.
    pub fn observe_usage(&mut self, obs: &Observation<'_>) {
        debug_assert!(matches!(obs.outcome, Outcome::NotFailed));
        self.timing.observe(obs);
    }

    /// Count a failure the filters left out: the timing analysis still sees it (a cadence
    /// or a wave is a fact about all failures), the groups, signatures and daily series
    /// do not.
    pub fn observe_filtered(&mut self, obs: &Observation<'_>) {
        self.timing.observe(obs);
        // As in `observe`: no owned key but for a file's first record.
        let counts = match self.inputs.get_mut(obs.file) {
            Some(stats) => &mut stats.counts,
            None => &mut self.inputs.entry(obs.file.to_owned()).or_default().counts,
        };
        counts.records += 1;
        counts.filtered += 1;
        if obs.time.is_some() {
            self.as_of = self.as_of.max(obs.time);
        }
    }

    /// Fold one record's outcome in. Does not allocate for an existing group.
    pub fn observe(&mut self, obs: &Observation<'_>) {
        self.timing.observe(obs);
        // One lookup for every record but a file's first (no `entry`: it wants an owned key).
        let counts = match self.inputs.get_mut(obs.file) {
            Some(stats) => &mut stats.counts,
            None => &mut self.inputs.entry(obs.file.to_owned()).or_default().counts,
        };
        counts.records += 1;
        if obs.time.is_some() {
            self.as_of = self.as_of.max(obs.time);
        }
        let is_run = obs.kind == InputKind::RunHistory;
        let owner = obs.owner.filter(|s| !s.is_empty()).unwrap_or(UNKNOWN);
        let day = obs.time.filter(|_| is_run).map(day_of);

        match obs.outcome {
            Outcome::NotFailed => {
                counts.not_failed += 1;
                if let Some(day) = day {
                    self.timelines.ok(day);
                }
            }
            Outcome::Classified(c) => {
                counts.classified += 1;
                // Failed sign-ins and failed actions from run-action exports are counted,
                // but they reach groups only through the runs they explain (the joins).
                if !matches!(
                    obs.kind,
                    InputKind::RunHistory | InputKind::ConnectionInventory
                ) {
                    return;
                }
                let d = c.diagnosis;
                let connection = obs.connection.filter(|s| !s.is_empty()).unwrap_or(UNKNOWN);
                let i = self.group_index(owner, connection, d.fix);
                let filed = self.groups[i].observe(obs, &c);
                if !filed
                    && let Some(flow) = obs.flow_id.or(obs.flow_name).filter(|s| !s.is_empty())
                {
                    self.root_flows
                        .entry(d.root_cause)
                        .or_default()
                        .insert(flow);
                }
                if let Some(day) = day {
                    self.timelines.failed(day, d.root_cause);
                }
            }
            Outcome::Unclassified { message, signature } => {
                counts.unclassified += 1;
                let u = self.unexplained.get_or_default(signature);
                u.count += 1;
                if is_run {
                    u.failed_runs += 1;
                }
                u.files.insert(obs.file);
                let better = match &u.example {
                    None => true,
                    Some(ex) => signature_key(obs.time, obs.run_id, message) < ex.key(),
                };
                if better {
                    u.example = Some(SignatureExample {
                        time: obs.time,
                        run_id: obs.run_id.map(str::to_owned),
                        message: message.to_owned(),
                    });
                }
                if let Some(day) = day {
                    self.timelines.failed(day, RootCause::Unknown);
                }
            }
            Outcome::Malformed(m) => {
                counts.malformed += 1;
                let keep = self.malformed.len() < MALFORMED_EXAMPLES
                    || self.malformed.last().is_some_and(|max| m < max);
                if keep && !self.malformed.contains(m) {
                    self.malformed.insert(m.clone());
                    while self.malformed.len() > MALFORMED_EXAMPLES {
                        self.malformed.pop_last();
                    }
                }
            }
        }
    }

    fn hash(&self, owner: &str, connection: &str, fix: Fix) -> u64 {
        self.hasher.hash_one((owner, connection, fix))
    }

    fn find_group(&self, owner: &str, connection: &str, fix: Fix) -> (u64, Option<usize>) {
        let hash = self.hash(owner, connection, fix);
        let groups = &self.groups;
        let found = self.index.find(hash, |&i| {
            let g = &groups[i as usize];
            g.fix == fix && g.owner == owner && g.connection == connection
        });
        (hash, found.map(|&i| i as usize))
    }

    fn push_group(&mut self, hash: u64, group: Group) -> usize {
        let i = self.groups.len();
        if i == self.groups.capacity() {
            // A group is large and a tenant has thousands per worker: grow by a quarter,
            // not by doubling, so the slack and the copy made while growing stay small.
            self.groups.reserve_exact(i / 4 + 16);
        }
        self.groups.push(group);
        let (groups, hasher) = (&self.groups, &self.hasher);
        self.index.insert_unique(hash, i as u32, |&j| {
            let g = &groups[j as usize];
            hasher.hash_one((g.owner.as_str(), g.connection.as_str(), g.fix))
        });
        i
    }

    fn group_index(&mut self, owner: &str, connection: &str, fix: Fix) -> usize {
        match self.find_group(owner, connection, fix) {
            (_, Some(i)) => i,
            (hash, None) => self.push_group(hash, Group::new(owner, connection, fix)),
        }
    }

    /// Fold another report in. Associative and commutative, so the smaller of the two is
    /// folded into the larger: per-worker reports of one large input differ a lot in size
    /// when one worker got the tail, and merging walks only the one folded in.
    pub fn merge(&mut self, mut other: Report) {
        if other.weight() > self.weight() {
            std::mem::swap(self, &mut other);
        }
        for (path, stats) in other.inputs {
            let mine = self.inputs.entry(path).or_default();
            mine.info = pick_info(mine.info.take(), stats.info);
            mine.counts.add(&stats.counts);
        }
        for (path, reason) in other.skipped {
            self.add_skipped(Skipped { path, reason });
        }
        for g in other.groups {
            match self.find_group(&g.owner, &g.connection, g.fix) {
                (_, Some(i)) => self.groups[i].merge(g),
                (hash, None) => {
                    self.push_group(hash, g);
                }
            }
        }
        for (root, flows) in other.root_flows {
            self.root_flows.entry(root).or_default().merge(flows);
        }
        for (sig, u) in other.unexplained.into_unordered() {
            self.unexplained.entry_owned(sig).merge(u);
        }
        self.malformed.extend(other.malformed);
        while self.malformed.len() > MALFORMED_EXAMPLES {
            self.malformed.pop_last();
        }
        self.timelines.merge(other.timelines);
        self.timing.absorb(other.timing);
        self.add_findings(other.findings);
        self.as_of = self.as_of.max(other.as_of);
    }

    /// How much there is to walk when this report is merged into another.
    fn weight(&self) -> usize {
        self.groups.len() + self.timing.connections.len() + self.timing.flows.len()
    }

    /// Let timing findings name the root cause of the failures they explain: the failures
    /// of a connection with a fixed re-failure cadence are the cadence's cause (remember
    /// MFA, a fixed max age, a sign-in frequency), not a policy newly applied. Call after
    /// the findings are added.
    pub fn attribute_findings(&mut self) {
        for f in &self.findings {
            let (FindingKind::Cadence, Some(root)) = (f.kind, f.root_cause) else {
                continue;
            };
            for g in self.groups.iter_mut() {
                if f.connections.contains(&g.connection) {
                    g.reattribute(
                        crate::infer::cadence::is_cadence_category,
                        root,
                        f.confidence,
                    );
                    let flows = self.root_flows.entry(root).or_default();
                    for flow in g.flows.iter() {
                        flows.insert(flow);
                    }
                }
            }
        }
    }

    /// Give groups without a known owner the owner that every other group of the same
    /// flows names (a flow whose owner one run's sign-in revealed, say). Deterministic:
    /// a group is moved only when exactly one known owner shares its flows.
    pub fn adopt_owners_by_flow(&mut self) {
        let mut owners_of_flow: std::collections::HashMap<&str, BTreeSet<&str>> =
            std::collections::HashMap::new();
        for g in self.groups.iter().filter(|g| g.owner != UNKNOWN) {
            for f in g.flows.iter() {
                owners_of_flow
                    .entry(f)
                    .or_default()
                    .insert(g.owner.as_str());
            }
        }
        let moves: Vec<(usize, String)> = self
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.owner == UNKNOWN && !g.flows.is_empty())
            .filter_map(|(i, g)| {
                let mut found: BTreeSet<&str> = BTreeSet::new();
                for f in g.flows.iter() {
                    found.extend(owners_of_flow.get(f)?.iter().copied());
                }
                let only = found.first().filter(|_| found.len() == 1)?;
                Some((i, only.to_string()))
            })
            .collect();
        if moves.is_empty() {
            return;
        }
        let mut groups = std::mem::take(&mut self.groups);
        self.index.clear();
        for (i, owner) in &moves {
            groups[*i].owner = owner.clone();
        }
        for g in groups {
            match self.find_group(&g.owner, &g.connection, g.fix) {
                (_, Some(i)) => self.groups[i].merge(g),
                (hash, None) => {
                    self.push_group(hash, g);
                }
            }
        }
    }

    /// Add findings (from the `infer` step). The list stays sorted and free of duplicates,
    /// so merging reports that carry findings is order-independent too.
    pub fn add_findings(&mut self, findings: impl IntoIterator<Item = Finding>) {
        self.findings.extend(findings);
        // Order by kind, title, then the whole finding as JSON, and drop repeats. Equal
        // JSON means equal kind and title, so only findings that share a kind and title are
        // written out to compare: a large tenant has thousands of findings, and holding
        // all of them as JSON at once was a peak of the run's memory.
        let mut all = std::mem::take(&mut self.findings);
        all.sort_by(|a, b| (a.kind, &a.title).cmp(&(b.kind, &b.title)));
        let mut out = Vec::with_capacity(all.len());
        let mut rest = all.into_iter().peekable();
        while let Some(first) = rest.next() {
            let mut same = vec![first];
            while let Some(next) =
                rest.next_if(|n| n.kind == same[0].kind && n.title == same[0].title)
            {
                same.push(next);
            }
            if same.len() == 1 {
                out.append(&mut same);
                continue;
            }
            let mut keyed: Vec<(String, Finding)> = same
                .into_iter()
                .map(|f| (serde_json::to_string(&f).unwrap_or_default(), f))
                .collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            keyed.dedup_by(|a, b| a.0 == b.0);
            out.extend(keyed.into_iter().map(|(_, f)| f));
        }
        self.findings = out;
    }

    /// Check the accounting: per input and in total, `records = not_failed + classified +
    /// unclassified + malformed`; every input with records was registered; the groups hold
    /// exactly the classified failures and the signatures exactly the unclassified ones;
    /// there are malformed examples exactly when there are malformed records, at most 20.
    pub fn check_accounting(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        for (path, s) in &self.inputs {
            let c = &s.counts;
            if !c.balanced() {
                problems.push(format!(
                    "{path}: records {} != not failed {} + classified {} + unclassified {} + malformed {} + filtered {}",
                    c.records, c.not_failed, c.classified, c.unclassified, c.malformed, c.filtered
                ));
            }
            if s.info.is_none() {
                problems.push(format!(
                    "{path}: {} record(s) observed but the input was never registered",
                    c.records
                ));
            }
        }
        let t = self.counts();
        let grouped: u64 = self.groups.iter().map(|g| g.failures).sum();
        let groupable: u64 = self
            .inputs
            .values()
            .filter(|s| {
                s.info.as_ref().is_some_and(|i| {
                    matches!(
                        i.kind,
                        InputKind::RunHistory | InputKind::ConnectionInventory
                    )
                })
            })
            .map(|s| s.counts.classified)
            .sum();
        if grouped != groupable {
            problems.push(format!(
                "groups hold {grouped} failure(s) but {groupable} run or connection failures were classified"
            ));
        }
        let unexplained: u64 = self.unexplained.values().map(|u| u.count).sum();
        if unexplained != t.unclassified {
            problems.push(format!(
                "signatures hold {unexplained} failure(s) but {} were unclassified",
                t.unclassified
            ));
        }
        // Identical malformed records (the same file read twice) keep one example.
        let kept = self.malformed.len() as u64;
        if kept > t.malformed.min(MALFORMED_EXAMPLES as u64) || (kept == 0) != (t.malformed == 0) {
            problems.push(format!(
                "{kept} malformed example(s) kept for {} malformed record(s)",
                t.malformed
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// The counts over all inputs.
    pub fn counts(&self) -> Counts {
        let mut t = Counts::default();
        for s in self.inputs.values() {
            t.add(&s.counts);
        }
        t
    }

    /// Failures from run-history inputs (classified or not).
    pub fn failed_runs(&self) -> u64 {
        self.groups.iter().map(|g| g.failed_runs).sum::<u64>()
            + self
                .unexplained
                .values()
                .map(|u| u.failed_runs)
                .sum::<u64>()
    }

    /// Inputs by path.
    pub fn inputs(&self) -> &BTreeMap<String, InputStats> {
        &self.inputs
    }

    /// Skipped files: path -> reason, sorted by path.
    pub fn skipped(&self) -> impl Iterator<Item = Skipped> + '_ {
        self.skipped.iter().map(|(p, r)| Skipped {
            path: p.clone(),
            reason: r.clone(),
        })
    }

    /// Groups in no particular order (see [`Report::sorted_groups`]).
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The group of (owner, connection, fix), `None` meaning "unknown" as in `observe`.
    pub fn group(&self, owner: Option<&str>, connection: Option<&str>, fix: Fix) -> Option<&Group> {
        let owner = owner.filter(|s| !s.is_empty()).unwrap_or(UNKNOWN);
        let connection = connection.filter(|s| !s.is_empty()).unwrap_or(UNKNOWN);
        self.find_group(owner, connection, fix)
            .1
            .map(|i| &self.groups[i])
    }

    /// Groups in report order: most failed runs first, then most failures, then by owner,
    /// connection and fix.
    pub fn sorted_groups(&self) -> Vec<&Group> {
        let mut v: Vec<&Group> = self.groups.iter().collect();
        v.sort_by(|a, b| {
            b.failed_runs
                .cmp(&a.failed_runs)
                .then(b.failures.cmp(&a.failures))
                .then_with(|| a.owner.cmp(&b.owner))
                .then_with(|| a.connection.cmp(&b.connection))
                .then(a.fix.cmp(&b.fix))
        });
        v
    }

    /// Distinct flows per root cause.
    pub fn root_flows(&self) -> &BTreeMap<RootCause, BoundedSet<FLOW_CAP>> {
        &self.root_flows
    }

    /// Unexplained failures by signature.
    pub fn unexplained(&self) -> &StrMap<Unexplained> {
        &self.unexplained
    }

    /// The first malformed records by (file, position, reason).
    pub fn malformed(&self) -> impl Iterator<Item = &Malformed> {
        self.malformed.iter()
    }

    /// The tenant-wide daily counts.
    pub fn timelines(&self) -> &Timelines {
        &self.timelines
    }

    /// The per-connection timelines the `infer` step reads.
    pub fn timing(&self) -> &crate::infer::Timelines {
        &self.timing
    }

    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The latest time seen in any observation.
    pub fn as_of(&self) -> Option<Ts> {
        self.as_of
    }

    /// The partial-report document without join data: deterministic JSON.
    pub fn to_partial_json(&self) -> String {
        self.partial_json(None)
    }

    /// The partial-report document (`analyze --partial`) with the join data the report
    /// was resolved against: deterministic JSON.
    pub fn to_partial_json_with(&self, joins: &crate::join::JoinData) -> String {
        self.partial_json(Some(joins))
    }

    fn partial_json(&self, joins: Option<&crate::join::JoinData>) -> String {
        serde_json::to_string(&PartialOut {
            format: PARTIAL_FORMAT,
            version: PARTIAL_VERSION,
            tool: concat!("flowdx ", env!("CARGO_PKG_VERSION")),
            report: self,
            joins,
        })
        .unwrap_or_default()
    }

    /// Read a partial report back. Refuses other documents and other versions.
    pub fn from_partial_json(text: &str) -> Result<Report, String> {
        Report::read_partial(text).map(|(r, _)| r)
    }

    /// Read a partial report and its join data back. Refuses other documents and other
    /// versions.
    pub fn read_partial(text: &str) -> Result<(Report, crate::join::JoinData), String> {
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
            version: Option<u32>,
        }
        let head: Head =
            serde_json::from_str(text).map_err(|e| format!("not a flowdx partial report: {e}"))?;
        if head.format.as_deref() != Some(PARTIAL_FORMAT) {
            return Err(
                "not a flowdx partial report (no \"format\": \"flowdx-partial-report\")".into(),
            );
        }
        match head.version {
            Some(PARTIAL_VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "partial report version {v} is not supported (this flowdx reads version {PARTIAL_VERSION})"
                ));
            }
            None => return Err("partial report without a version".into()),
        }
        #[derive(Deserialize)]
        struct PartialIn {
            report: Report,
            #[serde(default)]
            joins: crate::join::JoinData,
        }
        serde_json::from_str::<PartialIn>(text)
            .map(|p| (p.report, p.joins))
            .map_err(|e| format!("corrupt partial report: {e}"))
    }
}

/// Of two descriptions of one input, keep one deterministically.
fn pick_info(a: Option<InputInfo>, b: Option<InputInfo>) -> Option<InputInfo> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let key = |i: &InputInfo| (i.kind, i.format, i.gzip, i.bytes);
            Some(if key(&b) < key(&a) { b } else { a })
        }
        (a, b) => a.or(b),
    }
}

#[derive(Serialize)]
struct PartialOut<'a> {
    format: &'static str,
    version: u32,
    tool: &'static str,
    report: &'a Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    joins: Option<&'a crate::join::JoinData>,
}

/// The serialised shape of a report (groups sorted by key, no lookup index).
#[derive(Deserialize)]
struct ReportData {
    inputs: BTreeMap<String, InputStats>,
    skipped: BTreeMap<String, String>,
    groups: Vec<Group>,
    root_flows: BTreeMap<RootCause, BoundedSet<FLOW_CAP>>,
    unexplained: StrMap<Unexplained>,
    malformed: Vec<Malformed>,
    timelines: Timelines,
    timing: crate::infer::Timelines,
    findings: Vec<Finding>,
    as_of: Option<Ts>,
}

/// [`ReportData`], borrowed, for writing.
#[derive(Serialize)]
struct ReportRef<'a> {
    inputs: &'a BTreeMap<String, InputStats>,
    skipped: &'a BTreeMap<String, String>,
    groups: Vec<&'a Group>,
    root_flows: &'a BTreeMap<RootCause, BoundedSet<FLOW_CAP>>,
    unexplained: &'a StrMap<Unexplained>,
    malformed: &'a BTreeSet<Malformed>,
    timelines: &'a Timelines,
    timing: &'a crate::infer::Timelines,
    findings: &'a [Finding],
    as_of: Option<Ts>,
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut groups: Vec<&Group> = self.groups.iter().collect();
        groups.sort_by(|a, b| {
            (&a.owner, &a.connection, a.fix).cmp(&(&b.owner, &b.connection, b.fix))
        });
        ReportRef {
            inputs: &self.inputs,
            skipped: &self.skipped,
            groups,
            root_flows: &self.root_flows,
            unexplained: &self.unexplained,
            malformed: &self.malformed,
            timelines: &self.timelines,
            timing: &self.timing,
            findings: &self.findings,
            as_of: self.as_of,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Report {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let data = ReportData::deserialize(d)?;
        let mut r = Report {
            inputs: data.inputs,
            skipped: data.skipped,
            root_flows: data.root_flows,
            unexplained: data.unexplained,
            timelines: data.timelines,
            timing: data.timing,
            as_of: data.as_of,
            ..Report::default()
        };
        for g in data.groups {
            match r.find_group(&g.owner, &g.connection, g.fix) {
                (_, Some(i)) => r.groups[i].merge(g),
                (hash, None) => {
                    r.push_group(hash, g);
                }
            }
        }
        r.malformed.extend(data.malformed);
        while r.malformed.len() > MALFORMED_EXAMPLES {
            r.malformed.pop_last();
        }
        r.add_findings(data.findings);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::*;
    use crate::vocab::{Actor, Category, Confidence};

    /// Findings come out ordered by kind, title and then their JSON, each once, whatever
    /// order and repeats they arrive in.
    #[test]
    fn findings_are_ordered_and_deduplicated() {
        let f = |kind, title: &str, onset: i64| {
            let mut f = crate::infer::finding(
                kind,
                title.to_string(),
                Confidence::Likely,
                None,
                None,
                Actor::Owner,
            );
            f.onset = Some(onset);
            f
        };
        let items = vec![
            f(FindingKind::Inactivity, "b", 2),
            f(FindingKind::Cadence, "z", 1),
            f(FindingKind::Inactivity, "b", 1),
            f(FindingKind::Inactivity, "a", 9),
            f(FindingKind::Inactivity, "b", 2),
            f(FindingKind::Cadence, "z", 1),
        ];
        let mut r = Report::new();
        r.add_findings(items.clone());
        let got: Vec<(FindingKind, String, Option<i64>)> = r
            .findings
            .iter()
            .map(|f| (f.kind, f.title.clone(), f.onset))
            .collect();
        assert_eq!(
            got,
            [
                (FindingKind::Cadence, "z".to_string(), Some(1)),
                (FindingKind::Inactivity, "a".to_string(), Some(9)),
                (FindingKind::Inactivity, "b".to_string(), Some(1)),
                (FindingKind::Inactivity, "b".to_string(), Some(2)),
            ]
        );
        let mut again = Report::new();
        again.add_findings(items.into_iter().rev());
        assert_eq!(
            serde_json::to_string(&again.findings).unwrap(),
            serde_json::to_string(&r.findings).unwrap()
        );
    }

    fn json(r: &Report) -> String {
        r.to_partial_json()
    }

    #[test]
    fn accounting_identity_holds_per_input_and_in_total() {
        let obs = sample(3000, 7);
        let r = report_of(&obs);
        r.check_accounting().unwrap();
        let t = r.counts();
        assert_eq!(t.records, 3000);
        assert_eq!(
            t.records,
            t.not_failed + t.classified + t.unclassified + t.malformed
        );
        let want =
            |f: fn(&OwnedOutcome) -> bool| obs.iter().filter(|o| f(&o.outcome)).count() as u64;
        assert_eq!(t.not_failed, want(|o| matches!(o, OwnedOutcome::NotFailed)));
        assert_eq!(
            t.classified,
            want(|o| matches!(o, OwnedOutcome::Classified { .. }))
        );
        assert_eq!(
            t.unclassified,
            want(|o| matches!(o, OwnedOutcome::Unclassified { .. }))
        );
        assert_eq!(
            t.malformed,
            want(|o| matches!(o, OwnedOutcome::Malformed(_)))
        );
        for (path, s) in r.inputs() {
            let n = obs.iter().filter(|o| &o.file == path).count() as u64;
            assert_eq!(s.counts.records, n, "{path}");
        }
        assert_eq!(r.malformed().count(), MALFORMED_EXAMPLES);
    }

    /// A flow a group holds already is still filed under each root cause it fails with:
    /// the same owner, connection and fix, with a second root cause after the first.
    #[test]
    fn flows_are_filed_under_every_root_cause() {
        let fail = |flow: &str, root| {
            let d = diagnosis(
                Category::MfaRequired,
                root,
                crate::vocab::Fix::RepairConnection,
                Actor::Owner,
            );
            let mut o = OwnedObs::run(FILES[0], classified(d, "r", "AADSTS50076: MFA."));
            o.flow_id = Some(flow.into());
            o.owner = Some("ann@contoso.com".into());
            o.connection = Some("shared-office365-1".into());
            o
        };
        let obs = [
            fail("f1", RootCause::CaPolicyAfterConnection),
            fail("f1", RootCause::CaPolicyAfterConnection),
            fail("f1", RootCause::MfaMaxAge),
            fail("f2", RootCause::MfaMaxAge),
            fail("f2", RootCause::CaPolicyAfterConnection),
            fail("f1", RootCause::CaPolicyAfterConnection),
        ];
        let r = report_of(&obs);
        assert_eq!(r.groups.len(), 1);
        let flows = |root| {
            r.root_flows()
                .get(&root)
                .map(|s| s.iter().collect::<Vec<_>>())
        };
        assert_eq!(
            flows(RootCause::CaPolicyAfterConnection),
            Some(vec!["f1", "f2"])
        );
        assert_eq!(flows(RootCause::MfaMaxAge), Some(vec!["f1", "f2"]));
    }

    #[test]
    fn unregistered_input_fails_the_check() {
        let mut r = Report::new();
        let o = OwnedObs::run("stray.csv", OwnedOutcome::NotFailed);
        r.observe(&o.as_obs());
        let err = r.check_accounting().unwrap_err();
        assert!(
            err.contains("stray.csv") && err.contains("never registered"),
            "{err}"
        );
    }

    #[test]
    fn merge_is_commutative_and_associative() {
        let obs = sample(2500, 11);
        let whole = json(&report_of(&obs));
        for parts in [2usize, 3, 7, 16] {
            let size = obs.len().div_ceil(parts);
            let mut reports: Vec<Report> = obs.chunks(size).map(report_of).collect();

            // Left fold in order.
            let mut left = Report::new();
            for r in reports.iter().cloned() {
                left.merge(r);
            }
            assert_eq!(json(&left), whole, "left fold, {parts} parts");

            // Reverse order.
            let mut rev = Report::new();
            for r in reports.iter().rev().cloned() {
                rev.merge(r);
            }
            assert_eq!(json(&rev), whole, "reverse fold, {parts} parts");

            // Pairwise tree, merging right into left and left into right alternately.
            let mut flip = false;
            while reports.len() > 1 {
                let mut next = Vec::new();
                let mut it = reports.into_iter();
                while let Some(mut a) = it.next() {
                    if let Some(mut b) = it.next() {
                        flip = !flip;
                        if flip {
                            a.merge(b);
                            next.push(a);
                        } else {
                            b.merge(a);
                            next.push(b);
                        }
                    } else {
                        next.push(a);
                    }
                }
                reports = next;
            }
            assert_eq!(json(&reports.pop().unwrap()), whole, "tree, {parts} parts");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Any assignment of records to workers, merged in any order, equals one worker.
        #[test]
        fn merge_of_any_split_equals_the_whole(
            seed in 0u64..1000,
            assignment in proptest::collection::vec(0usize..4, 400),
            order in proptest::strategy::Strategy::prop_shuffle(proptest::strategy::Just(vec![0usize, 1, 2, 3])),
        ) {
            let obs = sample(assignment.len(), seed);
            let whole = json(&report_of(&obs));
            let mut parts: Vec<Report> = (0..4)
                .map(|w| report_of(obs.iter().zip(&assignment).filter(|(_, a)| **a == w).map(|(o, _)| o)))
                .collect();
            let mut merged = Report::new();
            for w in order {
                merged.merge(std::mem::take(&mut parts[w]));
            }
            proptest::prop_assert_eq!(json(&merged), whole);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// `merge` is commutative and associative on any three parts.
        #[test]
        fn merge_of_random_parts_is_commutative_and_associative(
            seed in 0u64..1000,
            assignment in proptest::collection::vec(0usize..3, 300),
        ) {
            let obs = sample(assignment.len(), seed);
            let part = |w: usize| {
                report_of(obs.iter().zip(&assignment).filter(|(_, a)| **a == w).map(|(o, _)| o))
            };
            let merged = |mut a: Report, b: Report| {
                a.merge(b);
                a
            };
            let ab = merged(part(0), part(1));
            let ba = merged(part(1), part(0));
            proptest::prop_assert_eq!(json(&ab), json(&ba));
            let left = merged(ab, part(2));
            let right = merged(part(0), merged(part(1), part(2)));
            proptest::prop_assert_eq!(json(&left), json(&right));
        }
    }

    #[test]
    fn interleaved_split_equals_whole() {
        // Records of one group spread over workers in a different order.
        let obs = sample(1500, 3);
        let whole = json(&report_of(&obs));
        let even = report_of(obs.iter().step_by(2));
        let odd = report_of(
            obs.iter()
                .skip(1)
                .step_by(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev(),
        );
        let mut m = odd.clone();
        m.merge(even);
        assert_eq!(json(&m), whole);
    }

    #[test]
    fn groups_are_keyed_by_owner_connection_and_fix() {
        let mk = |owner: Option<&str>, conn: Option<&str>, cat, fix| {
            let mut o = OwnedObs::run(
                FILES[0],
                classified(
                    diagnosis(cat, RootCause::CaPolicyAfterConnection, fix, Actor::Owner),
                    "r",
                    "m",
                ),
            );
            o.owner = owner.map(Into::into);
            o.connection = conn.map(Into::into);
            o
        };
        let obs = vec![
            mk(
                Some("alice"),
                Some("c1"),
                Category::MfaRequired,
                Fix::RepairConnection,
            ),
            mk(
                Some("alice"),
                Some("c1"),
                Category::CaBlocked,
                Fix::RepairConnection,
            ),
            mk(
                Some("alice"),
                Some("c1"),
                Category::CaBlocked,
                Fix::RepairConnection,
            ),
            mk(
                Some("alice"),
                Some("c1"),
                Category::MfaRequired,
                Fix::ReviewCaPolicy,
            ),
            mk(
                Some("alice"),
                Some("c2"),
                Category::MfaRequired,
                Fix::RepairConnection,
            ),
            mk(
                None,
                Some("c1"),
                Category::MfaRequired,
                Fix::RepairConnection,
            ),
            mk(Some(""), None, Category::MfaRequired, Fix::RepairConnection),
        ];
        let r = report_of(&obs);
        assert_eq!(r.groups().len(), 5);
        let g = r
            .group(Some("alice"), Some("c1"), Fix::RepairConnection)
            .unwrap();
        assert_eq!(g.failures, 3);
        assert_eq!(g.dominant().unwrap().category, Category::CaBlocked);
        assert_eq!(
            r.group(None, Some("c1"), Fix::RepairConnection)
                .unwrap()
                .owner,
            "unknown"
        );
        let u = r.group(None, None, Fix::RepairConnection).unwrap();
        assert_eq!(
            (u.owner.as_str(), u.connection.as_str()),
            ("unknown", "unknown")
        );
        assert_eq!(r.sorted_groups()[0].connection, "c1");
    }

    #[test]
    fn dominant_ties_go_to_enum_order() {
        let obs: Vec<_> = [Category::TokenInactive, Category::MfaRequired]
            .into_iter()
            .map(|c| {
                OwnedObs::run(
                    FILES[0],
                    classified(
                        diagnosis(c, RootCause::Unknown, Fix::Investigate, Actor::Admin),
                        "r",
                        "m",
                    ),
                )
            })
            .collect();
        let d = report_of(&obs).groups()[0].dominant().unwrap();
        assert_eq!(d.category, Category::MfaRequired);
        assert_eq!(d.confidence, Confidence::Certain);
    }

    #[test]
    fn example_is_the_earliest_failure_whatever_the_order() {
        let mk = |time: Option<Ts>, run: &str, msg: &str| {
            let mut o = OwnedObs::run(
                FILES[0],
                classified(
                    diagnosis(
                        Category::MfaRequired,
                        RootCause::CaPolicyAfterConnection,
                        Fix::RepairConnection,
                        Actor::Owner,
                    ),
                    "aadsts:50076",
                    msg,
                ),
            );
            o.time = time;
            o.run_id = Some(run.into());
            o
        };
        let obs = [
            mk(None, "a", "no time"),
            mk(Some(T0 + 50), "z", "later"),
            mk(Some(T0 + 10), "m", "earliest, bigger run id"),
            mk(Some(T0 + 10), "b", "earliest, smallest run id"),
            mk(Some(T0 + 99), "c", "latest"),
        ];
        for rot in 0..obs.len() {
            let order: Vec<_> = obs.iter().cycle().skip(rot).take(obs.len()).collect();
            let r = report_of(order);
            let g = &r.groups()[0];
            let ex = g.example.as_ref().unwrap();
            assert_eq!(ex.message, "earliest, smallest run id");
            assert_eq!(
                g.run_ids.iter().collect::<Vec<_>>(),
                ["a", "b", "c", "m", "z"]
            );
            assert_eq!((g.first_seen, g.last_seen), (Some(T0 + 10), Some(T0 + 99)));
        }
    }

    #[test]
    fn unexplained_keeps_the_earliest_example_and_files() {
        let mk = |file: &str, time: Option<Ts>, msg: &str| {
            let mut o = OwnedObs::run(
                file,
                OwnedOutcome::Unclassified {
                    message: msg.into(),
                    signature: "sig".into(),
                },
            );
            o.time = time;
            o
        };
        let obs = [
            mk(FILES[1], Some(T0 + 5), "second"),
            mk(FILES[0], None, "untimed"),
            mk(FILES[1], Some(T0), "first"),
        ];
        let r = report_of(obs.iter().rev());
        let u = r.unexplained().get("sig").unwrap();
        assert_eq!(u.count, 3);
        assert_eq!(u.example.as_ref().unwrap().message, "first");
        assert_eq!(u.files.iter().collect::<Vec<_>>(), [FILES[0], FILES[1]]);
    }

    #[test]
    fn malformed_examples_are_the_smallest_positions() {
        let obs: Vec<_> = (0..50u64)
            .rev()
            .map(|n| {
                OwnedObs::run(
                    FILES[0],
                    OwnedOutcome::Malformed(Malformed {
                        file: FILES[0].into(),
                        position: crate::model::Position::Line(n * 7 % 50 + 1),
                        reason: "bad".into(),
                    }),
                )
            })
            .collect();
        let r = report_of(&obs);
        let lines: Vec<_> = r
            .malformed()
            .map(|m| match m.position {
                crate::model::Position::Line(n) => n,
                _ => 0,
            })
            .collect();
        assert_eq!(lines, (1..=20).collect::<Vec<_>>());
        assert_eq!(r.counts().malformed, 50);
        r.check_accounting().unwrap();
    }

    #[test]
    fn timelines_count_days_per_connection_or_flow() {
        let mut ok = OwnedObs::run(FILES[0], OwnedOutcome::NotFailed);
        ok.connection = Some("c1".into());
        ok.time = Some(T0 + 3600);
        let mut fail = OwnedObs::run(
            FILES[0],
            classified(
                {
                    let mut d = diagnosis(
                        Category::MfaRequired,
                        RootCause::CaPolicyAfterConnection,
                        Fix::RepairConnection,
                        Actor::Owner,
                    );
                    d.aadsts = vec![50076];
                    d
                },
                "r",
                "m",
            ),
        );
        fail.connection = Some("c1".into());
        fail.owner = Some("alice".into());
        fail.time = Some(T0 + 7200);
        let mut flow_only = OwnedObs::run(FILES[0], OwnedOutcome::NotFailed);
        flow_only.flow_id = Some("f9".into());
        flow_only.time = Some(T0 + 86_400);
        let r = report_of([&ok, &fail, &flow_only]);
        // Per connection and per flow: the one store, the timing aggregate.
        let timing = r.timing();
        let day = &timing.connections["c1"].days.get(&day_of(T0)).unwrap();
        assert_eq!((day.ok, day.fail), (1, 1));
        assert_eq!(
            (day.ok_span.map(|s| s.min), day.fail_span.map(|s| s.max)),
            (Some(T0 + 3600), Some(T0 + 7200))
        );
        let mfa = day.cat(Category::MfaRequired).unwrap();
        assert_eq!(mfa.codes, [50076]);
        assert_eq!(timing.connections["c1"].owners, ["alice"]);
        assert!(timing.connections.contains_key("flow:f9"));
        // Tenant-wide: the daily counts of the JSON report.
        let tl = r.timelines();
        assert_eq!(
            tl.tenant[&day_of(T0)].failed[&RootCause::CaPolicyAfterConnection],
            1
        );
        assert_eq!(tl.tenant[&day_of(T0)].ok, 1);
        assert_eq!(tl.tenant[&day_of(T0 + 86_400)].ok, 1);
        assert_eq!(r.as_of(), Some(T0 + 86_400));
    }

    #[test]
    fn partial_round_trip_keeps_everything() {
        let r = report_of(&sample(800, 5));
        let text = r.to_partial_json();
        let back = Report::from_partial_json(&text).unwrap();
        assert_eq!(back.to_partial_json(), text);
        back.check_accounting().unwrap();
    }

    #[test]
    fn partial_refuses_other_versions_and_documents() {
        let text = Report::new().to_partial_json();
        let v2 = text.replace("\"version\":1", "\"version\":2");
        let err = Report::from_partial_json(&v2).unwrap_err();
        assert!(err.contains("version 2"), "{err}");
        assert!(Report::from_partial_json("{\"version\":1}").is_err());
        assert!(Report::from_partial_json("[1,2]").is_err());
    }
}

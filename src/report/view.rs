//! Derived views over a merged [`Report`] that every renderer shares: totals, the
//! root-cause table, who must act, the generated summary, the hints for unknown owners
//! and connections. Computed on demand from the aggregate (bounded by groups, not records).

use super::aggregate::{Report, Unexplained};
use super::group::{DiagKey, Group, UNKNOWN};
use super::observe::Finding;
use crate::classify::knowledge;
use crate::model::InputKind;
use crate::vocab::{Actor, Fix, RootCause};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Totals over all inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Totals {
    pub records: u64,
    pub not_failed: u64,
    /// classified + unclassified.
    pub failed: u64,
    /// Failures from run histories.
    pub failed_runs: u64,
    pub classified: u64,
    pub unclassified: u64,
    pub malformed: u64,
    /// Failures the filters left out.
    pub filtered: u64,
    pub skipped_files: u64,
    pub inputs: u64,
}

/// A group with what renderers show beside it.
#[derive(Clone, Debug)]
pub struct GroupView<'a> {
    pub group: &'a Group,
    /// The diagnosis with the most failures.
    pub dominant: DiagKey,
    pub fix_text: &'static str,
    /// Findings about this group's connection (or, for findings naming no connection, its
    /// owner).
    pub findings: Vec<&'a Finding>,
}

/// One line of the root-cause table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootCauseRow {
    pub root_cause: RootCause,
    pub failures: u64,
    /// Distinct named owners (unknown ones not counted).
    pub owners: u64,
    /// Distinct named connections.
    pub connections: u64,
    /// Distinct flows (exact unless `flows_capped`).
    pub flows: u64,
    pub flows_capped: bool,
    /// The fix with the most failures (ties: enum order).
    pub fix: Fix,
    /// The actor with the most failures (ties: enum order).
    pub actor: Actor,
}

/// One owner's share of the work.
#[derive(Clone, Debug)]
pub struct OwnerWork<'a> {
    pub owner: &'a str,
    pub groups: Vec<GroupView<'a>>,
    pub failed_runs: u64,
    pub failures: u64,
    pub connections: usize,
}

/// One fix the admin must apply.
#[derive(Clone, Debug)]
pub struct AdminWork<'a> {
    pub fix: Fix,
    pub groups: Vec<GroupView<'a>>,
    pub failed_runs: u64,
    pub failures: u64,
    pub owners: usize,
    pub connections: usize,
}

/// Who must do what.
#[derive(Clone, Debug)]
pub struct Work<'a> {
    /// Owners, most failed runs first.
    pub owners: Vec<OwnerWork<'a>>,
    /// Admin fixes, most failures first.
    pub admin: Vec<AdminWork<'a>>,
    /// Groups whose fix needs no sign-in action (flow logic, service side).
    pub none: Vec<GroupView<'a>>,
    /// Findings the admin must act on.
    pub admin_findings: Vec<&'a Finding>,
}

impl Report {
    pub fn totals(&self) -> Totals {
        let c = self.counts();
        Totals {
            records: c.records,
            not_failed: c.not_failed,
            failed: c.failed(),
            failed_runs: self.failed_runs(),
            classified: c.classified,
            unclassified: c.unclassified,
            malformed: c.malformed,
            filtered: c.filtered,
            skipped_files: self.skipped().count() as u64,
            inputs: self.inputs().len() as u64,
        }
    }

    /// Groups in report order ([`Report::sorted_groups`]) with their dominant diagnosis.
    pub fn group_views(&self) -> Vec<GroupView<'_>> {
        let about = FindingIndex::new(self.findings());
        self.sorted_groups()
            .into_iter()
            .filter_map(|g| {
                Some(GroupView {
                    group: g,
                    dominant: g.dominant()?,
                    fix_text: knowledge::fix_text(g.fix),
                    findings: about.of(g),
                })
            })
            .collect()
    }

    /// Per root cause, from every diagnosis of every group; most failures first.
    pub fn root_causes(&self) -> Vec<RootCauseRow> {
        #[derive(Default)]
        struct Acc<'a> {
            failures: u64,
            owners: BTreeSet<&'a str>,
            connections: BTreeSet<&'a str>,
            fixes: BTreeMap<Fix, u64>,
            actors: BTreeMap<Actor, u64>,
        }
        let mut acc: BTreeMap<RootCause, Acc> = BTreeMap::new();
        for g in self.groups() {
            for d in &g.diagnoses {
                let a = acc.entry(d.key.root_cause).or_default();
                a.failures += d.count;
                if g.owner != UNKNOWN {
                    a.owners.insert(&g.owner);
                }
                if g.connection != UNKNOWN {
                    a.connections.insert(&g.connection);
                }
                *a.fixes.entry(g.fix).or_insert(0) += d.count;
                *a.actors.entry(d.key.actor).or_insert(0) += d.count;
            }
        }
        let mut rows: Vec<RootCauseRow> = acc
            .into_iter()
            .map(|(root, a)| {
                let flows = self.root_flows().get(&root);
                RootCauseRow {
                    root_cause: root,
                    failures: a.failures,
                    owners: a.owners.len() as u64,
                    connections: a.connections.len() as u64,
                    flows: flows.map_or(0, |f| f.len() as u64),
                    flows_capped: flows.is_some_and(|f| f.overflow()),
                    fix: most(&a.fixes).unwrap_or(Fix::Investigate),
                    actor: most(&a.actors).unwrap_or(Actor::None),
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            b.failures
                .cmp(&a.failures)
                .then(a.root_cause.cmp(&b.root_cause))
        });
        rows
    }

    /// Unexplained signatures, most failures first (ties by signature).
    pub fn unexplained_sorted(&self) -> Vec<(&str, &Unexplained)> {
        let mut v = self.unexplained().sorted();
        v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        v
    }

    /// Who must act, from each group's dominant actor.
    pub fn work(&self) -> Work<'_> {
        let mut owners: BTreeMap<&str, Vec<GroupView>> = BTreeMap::new();
        let mut admin: BTreeMap<Fix, Vec<GroupView>> = BTreeMap::new();
        let mut none = Vec::new();
        for v in self.group_views() {
            match v.dominant.actor {
                Actor::Owner => owners.entry(v.group.owner.as_str()).or_default().push(v),
                Actor::Admin => admin.entry(v.group.fix).or_default().push(v),
                Actor::None => none.push(v),
            }
        }
        let mut owners: Vec<OwnerWork> = owners
            .into_iter()
            .map(|(owner, groups)| OwnerWork {
                owner,
                failed_runs: groups.iter().map(|v| v.group.failed_runs).sum(),
                failures: groups.iter().map(|v| v.group.failures).sum(),
                connections: distinct(groups.iter().map(|v| v.group.connection.as_str())),
                groups,
            })
            .collect();
        owners.sort_by(|a, b| {
            b.failed_runs
                .cmp(&a.failed_runs)
                .then(b.failures.cmp(&a.failures))
                .then_with(|| (a.owner == UNKNOWN).cmp(&(b.owner == UNKNOWN)))
                .then(a.owner.cmp(b.owner))
        });
        let mut admin: Vec<AdminWork> = admin
            .into_iter()
            .map(|(fix, groups)| AdminWork {
                fix,
                failed_runs: groups.iter().map(|v| v.group.failed_runs).sum(),
                failures: groups.iter().map(|v| v.group.failures).sum(),
                owners: distinct(groups.iter().map(|v| v.group.owner.as_str())),
                connections: distinct(groups.iter().map(|v| v.group.connection.as_str())),
                groups,
            })
            .collect();
        admin.sort_by(|a, b| b.failures.cmp(&a.failures).then(a.fix.cmp(&b.fix)));
        Work {
            owners,
            admin,
            none,
            admin_findings: self
                .findings()
                .iter()
                .filter(|f| f.actor == Actor::Admin)
                .collect(),
        }
    }

    /// Two to four sentences saying what happened and who must act, generated from the data.
    pub fn summary(&self) -> Vec<String> {
        let t = self.totals();
        let mut out = Vec::new();
        if t.records == 0 {
            out.push("No records were read.".to_string());
            return out;
        }
        out.push(format!(
            "{} of {} record{} are failures ({} failed run{}): {} explained by a rule, {} unexplained; {} did not fail{}.",
            t.failed,
            t.records,
            plural(t.records),
            t.failed_runs,
            plural(t.failed_runs),
            t.classified,
            t.unclassified,
            t.not_failed,
            if t.malformed > 0 {
                format!(" and {} could not be read", t.malformed)
            } else {
                String::new()
            }
        ));
        let roots = self.root_causes();
        if !roots.is_empty() {
            let top: Vec<String> = roots
                .iter()
                .take(3)
                .map(|r| format!("{} ({})", r.root_cause, r.failures))
                .collect();
            out.push(format!(
                "Top root cause{}: {}.",
                if top.len() > 1 { "s" } else { "" },
                top.join(", ")
            ));
        }
        let w = self.work();
        let mut act = Vec::new();
        if !w.owners.is_empty() {
            // Named owners and connections only; unknown ones are the subject of `hints`.
            let named = w.owners.iter().filter(|o| o.owner != UNKNOWN).count();
            let conns = distinct(w.owners.iter().flat_map(|o| {
                o.groups
                    .iter()
                    .map(|v| v.group.connection.as_str())
                    .filter(|c| *c != UNKNOWN)
            }));
            let runs: u64 = w.owners.iter().map(|o| o.failed_runs).sum();
            let fixes: BTreeSet<Fix> = w
                .owners
                .iter()
                .flat_map(|o| o.groups.iter().map(|v| v.group.fix))
                .collect();
            act.push(format!(
                "{} owner{} must {} {} connection{} ({} failed run{})",
                named,
                plural(named as u64),
                owner_verb(&fixes),
                conns,
                plural(conns as u64),
                runs,
                plural(runs)
            ));
        }
        let admin_fixes: BTreeSet<Fix> = w
            .admin
            .iter()
            .map(|a| a.fix)
            .chain(w.admin_findings.iter().filter_map(|f| f.fix))
            .collect();
        if !admin_fixes.is_empty() {
            let failures: u64 = w.admin.iter().map(|a| a.failures).sum();
            let list: Vec<&str> = admin_fixes.iter().map(|f| f.as_str()).collect();
            act.push(format!(
                "the admin must act: {}{}",
                list.join(", "),
                if failures > 0 {
                    format!(" ({failures} failure{})", plural(failures))
                } else {
                    String::new()
                }
            ));
        }
        if !act.is_empty() {
            let mut s = act.join("; ");
            if let Some(c) = s.get(..1) {
                s = c.to_uppercase() + &s[1..];
            }
            out.push(s + ".");
        }
        if t.unclassified > 0 {
            out.push(format!(
                "{} failure{} match{} no rule ({} signature{}).",
                t.unclassified,
                plural(t.unclassified),
                if t.unclassified == 1 { "es" } else { "" },
                self.unexplained().len(),
                plural(self.unexplained().len() as u64)
            ));
        } else if !self.findings().is_empty() {
            out.push(format!(
                "{} timing or policy finding{}: {}",
                self.findings().len(),
                plural(self.findings().len() as u64),
                self.findings()[0].title
            ));
        }
        out
    }

    /// Sentences saying which input would name unknown owners and connections.
    pub fn hints(&self) -> Vec<String> {
        let have = |k: InputKind| {
            self.inputs()
                .values()
                .any(|s| s.info.as_ref().is_some_and(|i| i.kind == k))
        };
        let unknown_owner: u64 = self
            .groups()
            .iter()
            .filter(|g| g.owner == UNKNOWN)
            .map(|g| g.failures)
            .sum();
        let unknown_conn: u64 = self
            .groups()
            .iter()
            .filter(|g| g.connection == UNKNOWN)
            .map(|g| g.failures)
            .sum();
        let mut out = Vec::new();
        let (flows, conns) = (
            have(InputKind::FlowInventory),
            have(InputKind::ConnectionInventory),
        );
        if unknown_owner > 0 {
            out.push(if flows || conns {
                format!(
                    "Owner unknown for {unknown_owner} failure{}: the flow and connection inventories given do not name it for those flows.",
                    plural(unknown_owner)
                )
            } else {
                format!(
                    "Owner unknown for {unknown_owner} failure{}: add a flow inventory (Get-AdminFlow, flows API) or a connection inventory (Get-AdminPowerAppConnection) to name owners.",
                    plural(unknown_owner)
                )
            });
        }
        if unknown_conn > 0 {
            out.push(if flows {
                format!(
                    "Connection unknown for {unknown_conn} failure{}: the flow inventory given lists no connection for those flows.",
                    plural(unknown_conn)
                )
            } else {
                format!(
                    "Connection unknown for {unknown_conn} failure{}: add a flow inventory (Get-AdminFlow with connection references) to name connections.",
                    plural(unknown_conn)
                )
            });
        }
        out
    }
}

fn owner_verb(fixes: &BTreeSet<Fix>) -> &'static str {
    let repair = [Fix::RepairConnection, Fix::ReauthenticateIdleConnection];
    if fixes.iter().all(|f| repair.contains(f)) {
        "repair"
    } else {
        "act on"
    }
}

fn most<K: Copy + Ord>(counts: &BTreeMap<K, u64>) -> Option<K> {
    // Iteration is in key order and max_by keeps the last maximum, so compare keys reversed.
    counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(k, _)| *k)
}

fn distinct<'a>(it: impl Iterator<Item = &'a str>) -> usize {
    it.collect::<BTreeSet<_>>().len()
}

pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Which findings are about a group, looked up by name rather than by scanning every
/// finding for every group (a tenant has thousands of each): findings that name
/// connections are about those connections' groups, the others about their owners' groups.
struct FindingIndex<'a> {
    findings: &'a [Finding],
    by_connection: HashMap<&'a str, Vec<usize>>,
    by_owner: HashMap<&'a str, Vec<usize>>,
}

impl<'a> FindingIndex<'a> {
    fn new(findings: &'a [Finding]) -> Self {
        let mut by_connection: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut by_owner: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, f) in findings.iter().enumerate() {
            let (names, map) = if f.connections.is_empty() {
                (&f.owners, &mut by_owner)
            } else {
                (&f.connections, &mut by_connection)
            };
            for n in names {
                let at = map.entry(n.as_str()).or_default();
                // A name listed twice in one finding still lists the finding once.
                if at.last() != Some(&i) {
                    at.push(i);
                }
            }
        }
        FindingIndex {
            findings,
            by_connection,
            by_owner,
        }
    }

    /// The findings about `g`, in report order.
    fn of(&self, g: &Group) -> Vec<&'a Finding> {
        let none = Vec::new();
        let a = self
            .by_connection
            .get(g.connection.as_str())
            .unwrap_or(&none);
        let b = self.by_owner.get(g.owner.as_str()).unwrap_or(&none);
        let mut at: Vec<usize> = a.iter().chain(b).copied().collect();
        at.sort_unstable();
        at.dedup();
        at.into_iter().map(|i| &self.findings[i]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::FindingKind;
    use crate::vocab::Confidence;

    fn about(connections: &[&str], owners: &[&str]) -> Finding {
        let mut f = crate::infer::finding(
            FindingKind::Inactivity,
            format!("{connections:?} {owners:?}"),
            Confidence::Likely,
            None,
            None,
            Actor::Owner,
        );
        f.connections = connections.iter().map(|s| s.to_string()).collect();
        f.owners = owners.iter().map(|s| s.to_string()).collect();
        f
    }

    /// The index gives each group what scanning every finding would, in the same order.
    #[test]
    fn findings_of_a_group_are_those_about_its_connection_or_owner() {
        let findings = vec![
            about(&["c1"], &["alice"]),
            about(&[], &["alice", "bob"]),
            about(&["c2", "c1", "c1"], &["bob"]),
            about(&[], &["carol"]),
            about(&["c3"], &["alice"]),
        ];
        let index = FindingIndex::new(&findings);
        for (owner, conn) in [
            ("alice", "c1"),
            ("alice", "c3"),
            ("bob", "c2"),
            ("carol", "c9"),
            ("dave", "c9"),
            ("bob", "c1"),
        ] {
            let g = Group::new(owner, conn, Fix::ReauthenticateIdleConnection);
            let scanned: Vec<&Finding> = findings
                .iter()
                .filter(|f| {
                    if f.connections.is_empty() {
                        f.owners.contains(&g.owner)
                    } else {
                        f.connections.contains(&g.connection)
                    }
                })
                .collect();
            assert_eq!(index.of(&g), scanned, "{owner} {conn}");
        }
        let g = Group::new("alice", "c1", Fix::ReauthenticateIdleConnection);
        let titles: Vec<&str> = index.of(&g).iter().map(|f| f.title.as_str()).collect();
        assert_eq!(titles.len(), 3, "{titles:?}");
    }
}

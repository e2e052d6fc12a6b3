//! Owner gone: the owner of flows and connections is disabled, deleted or not in the
//! directory (`account-state`: AADSTS50057 disabled, 50034 not found, "has been deleted"
//! texts). Their connections break for everyone who shares them; an admin must reassign the
//! flows (add a co-owner who re-creates the connections). Root cause
//! `owner-account-unavailable`, fix `reassign-owner`, actor admin.
//!
//! Fires for a person with account-state signals (runs, connection statuses or sign-ins) who
//! owns at least one flow or connection we know of (timelines or inventories), unless
//! - every signal is AADSTS50053 (locked: temporary, not gone), or
//! - one of their connections ran successfully after the last signal (account restored).
//!
//! `certain` when a code says disabled or not found, `likely` on texts alone.

use super::timeline::{ConnTimeline, FlowTimeline, Timelines};
use super::{finding, flow_id_of, plural, put, sorted, when};
use crate::join::{JoinIndex, KnownConnection};
use crate::model::FlowRecord;
use crate::report::{Finding, FindingKind};
use crate::vocab::{Actor, Confidence, Fix, RootCause};
use std::collections::HashMap;

/// AADSTS codes that say the account is gone or disabled.
pub const GONE_CODES: &[(u32, &str)] = &[
    (50057, "disabled"),
    (50034, "not found in the directory"),
    (50053, "locked"),
];

const LOCKED: u32 = 50053;

/// Something a person can own: a connection or flow of the timelines, or a flow or
/// connection of the inventories.
enum Held<'a> {
    Connection(&'a str, &'a ConnTimeline),
    Flow(&'a str, &'a FlowTimeline),
    InventoryFlow(&'a FlowRecord),
    InventoryConnection(&'a KnownConnection),
}

/// Everything owned, with who owns it: each owner label as written (trimmed, ASCII case
/// folded) and as the display label the people directory gives it (folded), each mapped
/// to the positions of what it owns. An owner's holdings are then two lookups instead of a
/// pass over every connection and flow per owner.
struct Holdings<'a> {
    held: Vec<Held<'a>>,
    by_text: HashMap<String, Vec<usize>>,
    by_label: HashMap<String, Vec<usize>>,
}

impl<'a> Holdings<'a> {
    /// In the order the owner's connections and flows are listed: timeline connections,
    /// timeline flows, inventory flows, inventory connections.
    fn new(t: &'a Timelines, index: &'a JoinIndex) -> Self {
        let mut h = Holdings {
            held: Vec::new(),
            by_text: HashMap::new(),
            by_label: HashMap::new(),
        };
        let mut folded: HashMap<&'a str, (String, String)> = HashMap::new();
        let mut add =
            |h: &mut Holdings<'a>, item: Held<'a>, owners: &mut dyn Iterator<Item = &'a str>| {
                let at = h.held.len();
                h.held.push(item);
                for o in owners {
                    let (text, label) = folded.entry(o).or_insert_with(|| identity(index, o));
                    h.by_text.entry(text.clone()).or_default().push(at);
                    h.by_label.entry(label.clone()).or_default().push(at);
                }
            };
        for (k, ct) in &t.connections {
            add(
                &mut h,
                Held::Connection(k, ct),
                &mut ct.owners.iter().map(String::as_str),
            );
        }
        for (k, ft) in &t.flows {
            add(
                &mut h,
                Held::Flow(k, ft),
                &mut ft.owners.iter().map(String::as_str),
            );
        }
        for fl in index.flows() {
            let mut owners = [
                fl.owner_id.as_deref(),
                fl.owner_upn.as_deref(),
                fl.owner_name.as_deref(),
            ]
            .into_iter()
            .flatten();
            add(&mut h, Held::InventoryFlow(fl), &mut owners);
        }
        for kc in index.connections() {
            add(
                &mut h,
                Held::InventoryConnection(kc),
                &mut kc.owner.as_deref().into_iter(),
            );
        }
        h
    }

    /// What the person with this folded text and folded display label owns, each item
    /// once, in [`Holdings::new`]'s order.
    fn of(&self, text: &str, label: &str) -> impl Iterator<Item = &Held<'a>> {
        let mut at: Vec<usize> = [self.by_text.get(text), self.by_label.get(label)]
            .into_iter()
            .flatten()
            .flatten()
            .copied()
            .collect();
        at.sort_unstable();
        at.dedup();
        at.into_iter().map(|i| &self.held[i])
    }
}

/// A label as written (trimmed, ASCII case folded) and the display label the people
/// directory gives that (folded): two labels name the same person when either agrees.
fn identity(index: &JoinIndex, label: &str) -> (String, String) {
    let text = label.trim().to_ascii_lowercase();
    let shown = index.person_label_ref(&text).to_ascii_lowercase();
    (text, shown)
}

/// Find the owners who are gone.
pub fn find(t: &Timelines, index: &JoinIndex) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut holdings = None;
    for (owner, stat) in &t.owners {
        let Some(acct) = &stat.account else { continue };
        if !acct.codes.is_empty() && acct.codes.iter().all(|c| *c == LOCKED) {
            continue;
        }
        let holdings = holdings.get_or_insert_with(|| Holdings::new(t, index));
        let me = index.person_label(owner).to_ascii_lowercase();

        // What they own: timelines first, then inventories.
        let mut connections: Vec<String> = Vec::new();
        let mut flows: Vec<String> = Vec::new();
        let mut restored = None;
        for held in holdings.of(&owner.to_ascii_lowercase(), &me) {
            match held {
                Held::Connection(k, ct) => {
                    if ct.name.is_some() {
                        connections.push(ct.name.clone().unwrap_or_else(|| k.to_string()));
                    }
                    flows.extend(ct.flow_names());
                    if let (Some(ok), Some(span)) = (ct.last_ok(), acct.span)
                        && ok > span.max
                    {
                        restored = Some(ok);
                    }
                }
                Held::Flow(k, ft) => flows.push(
                    ft.name
                        .clone()
                        .unwrap_or_else(|| flow_id_of(k).unwrap_or(k).to_string()),
                ),
                Held::InventoryFlow(fl) => {
                    flows.push(fl.name.clone().unwrap_or_else(|| fl.flow_id.clone()))
                }
                Held::InventoryConnection(kc) => connections.push(kc.record.connection.clone()),
            }
        }
        let connections = sorted(connections);
        let flows = sorted(flows);
        if connections.is_empty() && flows.is_empty() {
            continue; // A failed sign-in of someone who owns nothing we know of.
        }
        if restored.is_some() {
            continue;
        }

        let states: Vec<&str> = GONE_CODES
            .iter()
            .filter(|(c, _)| acct.codes.contains(c))
            .map(|(_, s)| *s)
            .collect();
        let state = if states.is_empty() {
            "disabled, deleted or not in the directory".to_string()
        } else {
            states.join(" / ")
        };
        let confidence = if acct.codes.iter().any(|c| *c != LOCKED) {
            Confidence::Certain
        } else {
            Confidence::Likely
        };
        let mut f = finding(
            FindingKind::OwnerGone,
            format!(
                "Owner {} is {state}: {} and {} stop working until an admin reassigns them",
                index.person_label(owner),
                plural(flows.len(), "flow", "flows"),
                plural(connections.len(), "connection", "connections")
            ),
            confidence,
            Some(RootCause::OwnerAccountUnavailable),
            Some(Fix::ReassignOwner),
            Actor::Admin,
        );
        f.onset = acct.span.map(|s| s.min);
        f.evidence.push(format!(
            "{} account-state failure(s){}{} from {}",
            acct.count,
            acct.span
                .map(|s| format!(" between {} and {}", when(s.min), when(s.max)))
                .unwrap_or_default(),
            if acct.codes.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    acct.codes
                        .iter()
                        .map(|c| format!("AADSTS{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            acct.kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        f.evidence.push(
            "no connection of theirs ran successfully after the last of these failures".into(),
        );
        f.evidence.push(
            "fix: the admin adds a co-owner to each flow (or reassigns it); the co-owner re-creates or re-authenticates the connections, which then belong to them"
                .into(),
        );
        put(&mut f.details, "state", state);
        put(&mut f.details, "codes", acct.codes.clone());
        put(&mut f.details, "flows_owned", flows.len());
        put(&mut f.details, "connections_owned", connections.len());
        f.owners = vec![index.person_label(owner)];
        f.connections = connections;
        f.flows = flows;
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::testutil::*;
    use crate::model::{FlowRecord, InputKind};
    use crate::vocab::Category;

    #[test]
    fn disabled_owner_with_flows_fires() {
        let mut b = Builder::new();
        b.ok("c1", "f1", "leaver@contoso.com", "2024-02-01T08:00:00Z");
        b.fail_cat(
            "c1",
            "f1",
            "leaver@contoso.com",
            "2024-02-10T08:00:00Z",
            Category::AccountState,
            &[50057],
        );
        let mut j = JoinIndex::new();
        j.add_flow(FlowRecord {
            flow_id: "f9".into(),
            name: Some("Monthly report".into()),
            owner_upn: Some("leaver@contoso.com".into()),
            ..FlowRecord::default()
        });
        let f = find(&b.t, &j);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].fix, Some(Fix::ReassignOwner));
        assert_eq!(f[0].actor, Actor::Admin);
        assert_eq!(f[0].confidence, Confidence::Certain);
        assert_eq!(f[0].flows, vec!["Monthly report", "f1"]);
        assert_eq!(f[0].connections, vec!["c1"]);
        assert!(f[0].title.contains("disabled"));
    }

    #[test]
    fn holdings_are_matched_by_any_name_of_the_person_and_nobody_else() {
        let mut b = Builder::new();
        // The failure names the owner by UPN in another case; c1's runs name them by display
        // name; c2 and the inventory's f8 belong to someone else.
        b.ok("c1", "f1", "Lee Leaver", "2024-02-01T08:00:00Z");
        b.ok("c2", "f2", "stays@contoso.com", "2024-02-01T08:00:00Z");
        b.fail_cat(
            "c3",
            "f3",
            "LEAVER@contoso.com",
            "2024-02-10T08:00:00Z",
            Category::AccountState,
            &[50057],
        );
        let mut j = JoinIndex::new();
        j.add_flow(FlowRecord {
            flow_id: "f9".into(),
            name: Some("Monthly report".into()),
            owner_id: Some("0a1b".into()),
            owner_upn: Some("leaver@contoso.com".into()),
            owner_name: Some("Lee Leaver".into()),
            ..FlowRecord::default()
        });
        j.add_flow(FlowRecord {
            flow_id: "f8".into(),
            name: Some("Not theirs".into()),
            owner_upn: Some("stays@contoso.com".into()),
            ..FlowRecord::default()
        });
        let f = find(&b.t, &j);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].flows, vec!["Monthly report", "f1", "f3"]);
        assert_eq!(f[0].connections, vec!["c1", "c3"]);
    }

    #[test]
    fn locked_or_restored_or_owning_nothing_does_not() {
        // Locked only.
        let mut b = Builder::new();
        b.ok("c1", "f1", "a", "2024-02-01T08:00:00Z");
        b.fail_cat(
            "c1",
            "f1",
            "a",
            "2024-02-10T08:00:00Z",
            Category::AccountState,
            &[50053],
        );
        assert!(find(&b.t, &JoinIndex::new()).is_empty());

        // Disabled, then working again.
        let mut b = Builder::new();
        b.fail_cat(
            "c1",
            "f1",
            "a",
            "2024-02-10T08:00:00Z",
            Category::AccountState,
            &[50057],
        );
        b.ok("c1", "f1", "a", "2024-02-12T08:00:00Z");
        assert!(find(&b.t, &JoinIndex::new()).is_empty());

        // A sign-in of someone who owns nothing we know of.
        let mut b = Builder::new();
        let d = diag(Category::AccountState, &[50034], None);
        b.observe_diag(
            InputKind::SignInLog,
            "",
            "",
            "typo@contoso.com",
            ts("2024-02-10T08:00:00Z"),
            &d,
        );
        assert!(find(&b.t, &JoinIndex::new()).is_empty());
    }
}

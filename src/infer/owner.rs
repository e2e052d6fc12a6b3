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

use super::timeline::Timelines;
use super::{finding, flow_id_of, plural, put, sorted, when};
use crate::join::JoinIndex;
use crate::report::{Finding, FindingKind};
use crate::vocab::{Actor, Confidence, Fix, RootCause};

/// AADSTS codes that say the account is gone or disabled.
pub const GONE_CODES: &[(u32, &str)] = &[
    (50057, "disabled"),
    (50034, "not found in the directory"),
    (50053, "locked"),
];

const LOCKED: u32 = 50053;

/// Find the owners who are gone.
pub fn find(t: &Timelines, index: &JoinIndex) -> Vec<Finding> {
    let mut out = Vec::new();
    for (owner, stat) in &t.owners {
        let Some(acct) = &stat.account else { continue };
        if !acct.codes.is_empty() && acct.codes.iter().all(|c| *c == LOCKED) {
            continue;
        }
        let me = index.person_label(owner).to_ascii_lowercase();
        let is_me = |label: &str| {
            let l = label.trim().to_ascii_lowercase();
            l == owner.to_ascii_lowercase() || index.person_label(&l).to_ascii_lowercase() == me
        };

        // What they own: timelines first, then inventories.
        let mut connections: Vec<String> = Vec::new();
        let mut flows: Vec<String> = Vec::new();
        let mut restored = None;
        for (k, ct) in &t.connections {
            if ct.owners.iter().any(|o| is_me(o)) {
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
        }
        for (k, ft) in &t.flows {
            if ft.owners.iter().any(|o| is_me(o)) {
                flows.push(
                    ft.name
                        .clone()
                        .unwrap_or_else(|| flow_id_of(k).unwrap_or(k).to_string()),
                );
            }
        }
        for fl in index.flows() {
            let owned = [
                fl.owner_id.as_deref(),
                fl.owner_upn.as_deref(),
                fl.owner_name.as_deref(),
            ]
            .into_iter()
            .flatten()
            .any(is_me);
            if owned {
                flows.push(fl.name.clone().unwrap_or_else(|| fl.flow_id.clone()));
            }
        }
        for kc in index.connections() {
            if kc.owner.as_deref().is_some_and(is_me) {
                connections.push(kc.record.connection.clone());
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

//! The tenant's inventories, so joins can be exercised at scale: `flows.json` in the shape of
//! `Get-AdminFlow | ConvertTo-Json -Depth 10` and `connections.json` in the shape of
//! `Get-AdminPowerAppConnection | ConvertTo-Json -Depth 10` (formats.md §2a and §4). Both
//! are JSON arrays with one element per line.

use super::rng::Rng;
use super::run::auth_message;
use super::tenant::{CONNECTORS, TRIGGERS, Tenant};
use super::text::{self, DAY, TICKS};
use std::io::{self, Write};

fn key(b: &mut Vec<u8>, k: &str) {
    b.push(b'"');
    b.extend_from_slice(k.as_bytes());
    b.extend_from_slice(b"\":");
}

fn str_field(b: &mut Vec<u8>, k: &str, v: &str) {
    key(b, k);
    text::push_json_str(b, v.as_bytes());
    b.push(b',');
}

fn time_field(b: &mut Vec<u8>, k: &str, secs: u64) {
    key(b, k);
    b.push(b'"');
    text::push_iso7(b, secs * TICKS);
    b.extend_from_slice(b"\",");
}

fn end_object(b: &mut Vec<u8>) {
    if b.last() == Some(&b',') {
        b.pop();
    }
    b.push(b'}');
}

/// Trigger type and swagger operation for `definitionSummary`.
fn trigger_kind(name: &str) -> (&'static str, Option<&'static str>) {
    match name {
        "Recurrence" => ("Recurrence", None),
        "manual" | "PowerApps" => ("Request", None),
        "When_a_new_email_arrives_(V3)" => ("OpenApiConnectionNotification", Some("OnNewEmailV3")),
        "When_an_item_is_created" => ("OpenApiConnectionNotification", Some("GetOnNewItems")),
        "When_a_file_is_created_(properties_only)" => {
            ("OpenApiConnectionNotification", Some("GetOnNewFileItems"))
        }
        "When_a_new_response_is_submitted" => {
            ("OpenApiConnectionWebhook", Some("CreateFormWebhook"))
        }
        "For_a_selected_item" => ("OpenApiConnectionWebhook", Some("ForASelectedItem")),
        "When_a_new_channel_message_is_added" => {
            ("OpenApiConnectionNotification", Some("OnNewChannelMessage"))
        }
        _ => ("OpenApiConnectionNotification", Some("GetOnUpdatedItems")),
    }
}

pub fn write_flows(t: &Tenant, out: &mut dyn Write) -> io::Result<u64> {
    let mut b = Vec::with_capacity(8 * 1024);
    let mut n = 0;
    out.write_all(b"[\n")?;
    for (i, f) in t.flows.iter().enumerate() {
        b.clear();
        if i > 0 {
            b.extend_from_slice(b",\n");
        }
        let env = t.env_of(f);
        let owner = &t.owners[f.owner as usize];
        // A few flows are turned off.
        let enabled = (i * 7919) % 100 >= 3;
        b.push(b'{');
        str_field(&mut b, "FlowName", &f.id);
        key(&mut b, "Enabled");
        b.extend_from_slice(if enabled { b"true," } else { b"false," });
        str_field(&mut b, "DisplayName", &f.name);
        str_field(&mut b, "UserType", "Owner");
        time_field(&mut b, "CreatedTime", f.created);
        let mut creator = Vec::with_capacity(200);
        creator.push(b'{');
        str_field(&mut creator, "tenantId", &t.tenant_id);
        str_field(&mut creator, "objectId", &owner.id);
        str_field(&mut creator, "userId", &owner.id);
        str_field(&mut creator, "userType", "ActiveDirectory");
        end_object(&mut creator);
        key(&mut b, "CreatedBy");
        b.extend_from_slice(&creator);
        b.push(b',');
        time_field(&mut b, "LastModifiedTime", f.modified);
        str_field(&mut b, "EnvironmentName", &env.name);
        key(&mut b, "Internal");
        b.push(b'{');
        str_field(&mut b, "name", &f.id);
        key(&mut b, "id");
        b.extend_from_slice(b"\"/providers/Microsoft.ProcessSimple/environments/");
        b.extend_from_slice(env.name.as_bytes());
        b.extend_from_slice(b"/flows/");
        b.extend_from_slice(f.id.as_bytes());
        b.extend_from_slice(b"\",");
        str_field(&mut b, "type", "Microsoft.ProcessSimple/environments/flows");
        key(&mut b, "properties");
        b.push(b'{');
        str_field(
            &mut b,
            "apiId",
            "/providers/Microsoft.PowerApps/apis/shared_logicflows",
        );
        str_field(&mut b, "displayName", &f.name);
        str_field(&mut b, "userType", "Owner");
        str_field(&mut b, "state", if enabled { "Started" } else { "Stopped" });
        time_field(&mut b, "createdTime", f.created);
        time_field(&mut b, "lastModifiedTime", f.modified);
        str_field(&mut b, "flowSuspensionReason", "None");
        key(&mut b, "environment");
        b.push(b'{');
        str_field(&mut b, "name", &env.name);
        str_field(&mut b, "type", "Microsoft.ProcessSimple/environments");
        key(&mut b, "id");
        b.extend_from_slice(b"\"/providers/Microsoft.ProcessSimple/environments/");
        b.extend_from_slice(env.name.as_bytes());
        b.extend_from_slice(b"\"},");
        key(&mut b, "definitionSummary");
        let (ttype, top) = trigger_kind(TRIGGERS[f.trigger as usize].0);
        b.extend_from_slice(b"{\"triggers\":[{");
        str_field(&mut b, "type", ttype);
        if let Some(op) = top {
            str_field(&mut b, "swaggerOperationId", op);
        }
        end_object(&mut b);
        b.extend_from_slice(b"],\"actions\":[");
        for (j, &c) in f.conns().iter().enumerate() {
            if j > 0 {
                b.push(b',');
            }
            let connector = &CONNECTORS[t.connections[c as usize].connector as usize];
            b.push(b'{');
            str_field(&mut b, "type", "OpenApiConnection");
            str_field(&mut b, "swaggerOperationId", connector.action);
            key(&mut b, "api");
            b.push(b'{');
            str_field(&mut b, "name", connector.api);
            end_object(&mut b);
            end_object(&mut b);
        }
        b.extend_from_slice(b"]},");
        key(&mut b, "creator");
        b.extend_from_slice(&creator);
        b.push(b',');
        key(&mut b, "connectionReferences");
        b.push(b'{');
        for &c in f.conns() {
            let conn = &t.connections[c as usize];
            let connector = &CONNECTORS[conn.connector as usize];
            key(&mut b, connector.api);
            b.push(b'{');
            str_field(&mut b, "connectionName", &conn.name);
            str_field(&mut b, "source", "Embedded");
            key(&mut b, "id");
            b.extend_from_slice(b"\"/providers/Microsoft.PowerApps/apis/");
            b.extend_from_slice(connector.api.as_bytes());
            b.extend_from_slice(b"\",");
            str_field(&mut b, "displayName", connector.display);
            str_field(&mut b, "tier", "Standard");
            end_object(&mut b);
            b.push(b',');
        }
        end_object(&mut b); // connectionReferences
        end_object(&mut b); // properties
        end_object(&mut b); // Internal
        end_object(&mut b); // element
        out.write_all(&b)?;
        n += 1;
    }
    out.write_all(b"\n]\n")?;
    Ok(n)
}

pub fn write_connections(t: &Tenant, seed: u64, out: &mut dyn Write) -> io::Result<u64> {
    let mut rng = Rng::new(seed, 3);
    let mut b = Vec::with_capacity(8 * 1024);
    let mut statuses = Vec::with_capacity(2 * 1024);
    let mut msg = Vec::with_capacity(2 * 1024);
    let mut scratch = Vec::with_capacity(1024);
    let mut n = 0;
    out.write_all(b"[\n")?;
    for (i, c) in t.connections.iter().enumerate() {
        b.clear();
        if i > 0 {
            b.extend_from_slice(b",\n");
        }
        let connector = &CONNECTORS[c.connector as usize];
        let owner = &t.owners[c.owner as usize];
        let env = &t.environments[c.env as usize];
        let mut conn_id = Vec::with_capacity(140);
        conn_id.extend_from_slice(b"/providers/Microsoft.PowerApps/apis/");
        conn_id.extend_from_slice(connector.api.as_bytes());
        conn_id.extend_from_slice(b"/connections/");
        conn_id.extend_from_slice(c.name.as_bytes());
        let conn_id = String::from_utf8(conn_id).expect("ASCII");
        let api_id = format!("/providers/Microsoft.PowerApps/apis/{}", connector.api);

        statuses.clear();
        let modified = match c.broken {
            Some((kind, at)) => {
                msg.clear();
                auth_message(
                    &mut msg,
                    &mut scratch,
                    (kind, at),
                    connector,
                    at,
                    true,
                    &mut rng,
                );
                statuses.extend_from_slice(
                    b"[{\"status\":\"Error\",\"target\":\"token\",\"error\":{\"code\":\"Unauthorized\",\"message\":",
                );
                text::push_json_str(&mut statuses, &msg);
                statuses.extend_from_slice(b"}}]");
                at / TICKS
            }
            None => {
                statuses.extend_from_slice(b"[{\"status\":\"Connected\"}]");
                c.created + rng.below(20 * DAY)
            }
        };
        let mut created_by = Vec::with_capacity(300);
        created_by.push(b'{');
        str_field(&mut created_by, "id", &owner.id);
        str_field(&mut created_by, "displayName", &owner.name);
        str_field(&mut created_by, "email", &owner.upn);
        str_field(&mut created_by, "type", "User");
        str_field(&mut created_by, "tenantId", &t.tenant_id);
        str_field(&mut created_by, "userPrincipalName", &owner.upn);
        end_object(&mut created_by);

        b.push(b'{');
        str_field(&mut b, "ConnectionName", &c.name);
        str_field(&mut b, "ConnectionId", &conn_id);
        str_field(&mut b, "FullConnectorName", &api_id);
        str_field(&mut b, "ConnectorName", connector.api);
        str_field(&mut b, "DisplayName", &owner.upn);
        time_field(&mut b, "CreatedTime", c.created);
        key(&mut b, "CreatedBy");
        b.extend_from_slice(&created_by);
        b.push(b',');
        time_field(&mut b, "LastModifiedTime", modified);
        str_field(&mut b, "EnvironmentName", &env.name);
        key(&mut b, "Statuses");
        b.extend_from_slice(&statuses);
        b.push(b',');
        key(&mut b, "Internal");
        b.push(b'{');
        str_field(&mut b, "name", &c.name);
        str_field(&mut b, "id", &conn_id);
        str_field(&mut b, "type", "Microsoft.PowerApps/apis/connections");
        key(&mut b, "properties");
        b.push(b'{');
        str_field(&mut b, "apiId", &api_id);
        str_field(&mut b, "displayName", &owner.upn);
        key(&mut b, "statuses");
        b.extend_from_slice(&statuses);
        b.push(b',');
        key(&mut b, "createdBy");
        b.extend_from_slice(&created_by);
        b.push(b',');
        time_field(&mut b, "createdTime", c.created);
        time_field(&mut b, "lastModifiedTime", modified);
        key(&mut b, "environment");
        b.push(b'{');
        key(&mut b, "id");
        b.extend_from_slice(b"\"/providers/Microsoft.PowerApps/environments/");
        b.extend_from_slice(env.name.as_bytes());
        b.extend_from_slice(b"\",");
        str_field(&mut b, "name", &env.name);
        end_object(&mut b); // environment
        end_object(&mut b); // properties
        end_object(&mut b); // Internal
        end_object(&mut b); // element
        out.write_all(&b)?;
        n += 1;
    }
    out.write_all(b"\n]\n")?;
    Ok(n)
}

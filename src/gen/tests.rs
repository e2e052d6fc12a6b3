//! The generator's contract: deterministic bytes, the documented proportions, output that
//! parses, inventories that join, and size targeting.

use super::*;
use std::collections::HashSet;

fn bytes(format: Format, target: Target, seed: u64) -> (Vec<u8>, Stats) {
    let g = Generator::new(format, target, seed);
    let mut out = Vec::new();
    let stats = g.write_runs(&mut out).unwrap();
    assert_eq!(stats.bytes, out.len() as u64, "byte count matches output");
    (out, stats)
}

#[test]
fn same_seed_same_bytes_other_seed_other_tenant() {
    for format in [
        Format::Csv,
        Format::Jsonl,
        Format::FlowApi,
        Format::Dataverse,
        Format::PortalCsv,
    ] {
        let (a, sa) = bytes(format, Target::Records(1000), 7);
        let (b, _) = bytes(format, Target::Records(1000), 7);
        let (c, _) = bytes(format, Target::Records(1000), 8);
        assert_eq!(sa.records, 1000);
        assert!(a == b, "{format:?}: same seed, same bytes");
        assert!(a != c, "{format:?}: different seed, different bytes");
    }
    let g7 = Generator::new(Format::Csv, Target::Records(1000), 7);
    let g8 = Generator::new(Format::Csv, Target::Records(1000), 8);
    assert_ne!(g7.tenant.tenant_id, g8.tenant.tenant_id);
    assert_ne!(g7.tenant.flows[0].id, g8.tenant.flows[0].id);
}

#[test]
fn proportions_on_100k_records() {
    let n = 100_000u64;
    let (out, stats) = bytes(Format::Csv, Target::Records(n), 11);
    let pct = |x: u64, of: u64| x as f64 * 100.0 / of as f64;
    let within = |got: f64, want: f64, tol: f64, what: &str| {
        assert!((got - want).abs() <= tol, "{what}: {got:.2}% vs {want}%");
    };
    within(pct(stats.statuses[0], n), 70.0, 1.0, "Succeeded");
    within(pct(stats.statuses[1], n), 22.0, 1.0, "Failed");
    within(pct(stats.statuses[2], n), 5.0, 0.5, "Cancelled");
    within(pct(stats.statuses[3], n), 3.0, 0.5, "TimedOut");
    let failed = stats.statuses[1];
    assert_eq!(stats.failures.iter().sum::<u64>(), failed);
    for (i, w) in run::FAILURE_WEIGHTS.iter().enumerate() {
        within(
            pct(stats.failures[i], failed),
            f64::from(*w) / 10.0,
            2.0,
            &format!("{:?}", Failure::ALL[i]),
        );
    }

    // The same, counted from the file itself.
    let mut rdr = csv::Reader::from_reader(&out[..]);
    let (mut failed_rows, mut mfa, mut wrapped, mut long, mut multiline) = (0u64, 0, 0, 0, 0);
    let mut owners = HashSet::new();
    let mut flows = HashSet::new();
    let mut days = HashSet::new();
    for r in rdr.records() {
        let r = r.unwrap();
        owners.insert(r[3].to_string());
        flows.insert(r[1].to_string());
        days.insert(r[9][..10].to_string());
        if &r[8] != "Failed" {
            continue;
        }
        failed_rows += 1;
        let msg = &r[13];
        mfa += u64::from(msg.contains("AADSTS50076"));
        wrapped += u64::from(msg.starts_with("Failed to refresh access token for service: "));
        long += u64::from(msg.len() > 1000);
        multiline += u64::from(msg.contains('\n'));
    }
    assert_eq!(failed_rows, failed);
    within(pct(mfa, failed), 33.0, 2.0, "AADSTS50076 in text");
    // Auth failures are 63% of failures, 55% of them wrapped.
    within(
        pct(wrapped, failed),
        63.0 * 0.55,
        3.0,
        "wrapped refresh text",
    );
    within(pct(long, failed), 3.0 * 0.9, 1.0, "long tails");
    within(
        pct(multiline, failed),
        0.5 * 0.9,
        0.4,
        "multi-line messages",
    );
    assert!(owners.len() >= 40, "{} owners", owners.len());
    assert!(flows.len() >= 300, "{} flows", flows.len());
    assert!((28..=91).contains(&days.len()), "{} days", days.len());
}

#[test]
fn csv_parses_with_constant_fields_and_quoted_newlines() {
    let (out, stats) = bytes(Format::Csv, Target::Records(20_000), 3);
    let mut rdr = csv::Reader::from_reader(&out[..]);
    assert_eq!(rdr.headers().unwrap().len(), 14);
    let mut rows = 0;
    let mut with_newline = 0;
    for r in rdr.records() {
        let r = r.unwrap();
        assert_eq!(r.len(), 14);
        rows += 1;
        let msg = &r[13];
        if msg.contains("\r\n") {
            with_newline += 1;
            assert!(msg.contains('"'), "multi-line message has quotes: {msg}");
        }
        // Status and duration are well-formed.
        assert!(["Succeeded", "Failed", "Cancelled", "TimedOut"].contains(&&r[8]));
        r[11].parse::<u64>().unwrap();
        assert!(crate::time::parse(&r[9], crate::time::DateOrder::default()).is_some());
    }
    assert_eq!(rows, stats.records);
    assert!(with_newline > 0, "some messages span lines");
    // The raw file has more lines than records, and doubled quotes.
    let text = String::from_utf8(out).unwrap();
    assert!(text.lines().count() as u64 > stats.records + 1);
    assert!(text.contains("\"\"error\"\": {"));

    let (portal, pstats) = bytes(Format::PortalCsv, Target::Records(500), 3);
    let mut rdr = csv::Reader::from_reader(&portal[..]);
    assert_eq!(
        rdr.headers().unwrap(),
        vec!["Start", "Duration", "Status", "Run ID"]
    );
    assert_eq!(
        rdr.records()
            .map(|r| r.unwrap().len())
            .filter(|&n| n == 4)
            .count() as u64,
        pstats.records
    );
}

#[test]
fn jsonl_lines_parse_and_look_like_runs() {
    let (out, stats) = bytes(Format::Jsonl, Target::Records(20_000), 5);
    let text = String::from_utf8(out).unwrap();
    let mut lines = 0;
    let (mut with_actions, mut aadsts_in_actions) = (0, 0);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        lines += 1;
        let name = v["name"].as_str().unwrap();
        assert_eq!(name.len(), 33, "{name}");
        assert!(
            v["id"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/runs/{name}"))
        );
        assert_eq!(v["type"], "Microsoft.ProcessSimple/environments/flows/runs");
        let p = &v["properties"];
        let status = p["status"].as_str().unwrap();
        assert!(p["startTime"].as_str().unwrap().ends_with('Z'));
        assert!(p["trigger"]["name"].is_string());
        assert!(v["owner"].as_str().unwrap().contains('@'));
        assert!(v["connection"].as_str().unwrap().starts_with("shared-"));
        match status {
            "Succeeded" | "Cancelled" => assert!(p["error"].is_null()),
            _ => assert!(p["error"]["message"].is_string()),
        }
        if let Some(actions) = p["actions"].as_object() {
            with_actions += 1;
            let (_, a) = actions.iter().next().unwrap();
            let body_msg = a["outputs"]["body"]["message"].as_str().unwrap();
            assert_eq!(a["error"]["message"].as_str().unwrap(), body_msg);
            aadsts_in_actions += u64::from(body_msg.contains("AADSTS"));
        }
    }
    assert_eq!(lines, stats.records);
    assert!(with_actions > 0 && aadsts_in_actions > 0);
    // The refresh text embeds the OAuth JSON with its own \r\n escapes.
    assert!(
        text.contains(
            "Error: Failed to acquire token from AAD: {\\\"error\\\":\\\"invalid_grant\\\""
        )
    );
    assert!(text.contains("\\\\r\\\\nTrace ID: "));
}

#[test]
fn pages_parse_as_one_document() {
    let (out, stats) = bytes(Format::FlowApi, Target::Records(3000), 9);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["value"].as_array().unwrap().len() as u64, stats.records);
    assert!(
        v["nextLink"]
            .as_str()
            .unwrap()
            .starts_with("https://api.flow.microsoft.com/")
    );
    assert!(
        v["value"][0].get("owner").is_none(),
        "the API has no owner field"
    );

    let (out, stats) = bytes(Format::Dataverse, Target::Records(3000), 9);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(
        v["@odata.context"]
            .as_str()
            .unwrap()
            .contains("$metadata#flowruns")
    );
    let rows = v["value"].as_array().unwrap();
    assert_eq!(rows.len() as u64, stats.records);
    let mut failed = 0;
    for r in rows {
        assert!(r["_ownerid_value@OData.Community.Display.V1.FormattedValue"].is_string());
        assert!(r["duration"].is_u64());
        if let Some(m) = r["errormessage"].as_str() {
            failed += 1;
            let inner: serde_json::Value = serde_json::from_str(m).unwrap();
            assert_eq!(inner["code"], r["errorcode"]);
        }
    }
    assert!(failed > 0);
    // Empty pages are still documents.
    let (out, _) = bytes(Format::FlowApi, Target::Records(0), 9);
    serde_json::from_slice::<serde_json::Value>(&out).unwrap();
}

#[test]
fn inventories_join_with_runs() {
    let g = Generator::new(Format::Jsonl, Target::Records(30_000), 21);
    let mut runs = Vec::new();
    g.write_runs(&mut runs).unwrap();
    let mut flows_json = Vec::new();
    let nf = g.write_flows(&mut flows_json).unwrap();
    let mut conns_json = Vec::new();
    let nc = g.write_connections(&mut conns_json).unwrap();

    let flows: Vec<serde_json::Value> = serde_json::from_slice(&flows_json).unwrap();
    let conns: Vec<serde_json::Value> = serde_json::from_slice(&conns_json).unwrap();
    assert_eq!(flows.len() as u64, nf);
    assert_eq!(conns.len() as u64, nc);

    let conn_by_name: std::collections::HashMap<&str, &serde_json::Value> = conns
        .iter()
        .map(|c| (c["ConnectionName"].as_str().unwrap(), c))
        .collect();
    let mut flow_ids = HashSet::new();
    for f in &flows {
        flow_ids.insert(f["FlowName"].as_str().unwrap());
        let refs = f["Internal"]["properties"]["connectionReferences"]
            .as_object()
            .unwrap();
        assert!(!refs.is_empty());
        for (api, r) in refs {
            let name = r["connectionName"].as_str().unwrap();
            let c = conn_by_name
                .get(name)
                .unwrap_or_else(|| panic!("{name} not in connections.json"));
            assert_eq!(c["ConnectorName"].as_str().unwrap(), api);
        }
        assert!(f["CreatedBy"]["objectId"].is_string());
    }

    let mut auth_failures = 0;
    for line in String::from_utf8(runs).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["id"].as_str().unwrap();
        let flow = id
            .split("/flows/")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        assert!(flow_ids.contains(flow), "flow {flow} not in flows.json");
        let conn = conn_by_name[v["connection"].as_str().unwrap()];
        // A run failing with an AADSTS code uses a connection in error with the same code.
        if let Some(actions) = v["properties"]["actions"].as_object() {
            let msg = actions.values().next().unwrap()["error"]["message"]
                .as_str()
                .unwrap();
            if let Some(i) = msg.find("AADSTS") {
                auth_failures += 1;
                let code: String = msg[i..].chars().take_while(|c| *c != ':').collect();
                let status = &conn["Statuses"][0];
                assert_eq!(status["status"], "Error");
                let smsg = status["error"]["message"].as_str().unwrap();
                assert!(smsg.contains(&code), "{code} vs {smsg}");
                assert!(smsg.starts_with("Failed to refresh access token for service: "));
            }
        }
    }
    assert!(auth_failures > 100);
    // Every kind shows up in the connection statuses.
    let all = String::from_utf8(conns_json).unwrap();
    for code in ["50076", "700082", "50173", "53003", "50057"] {
        assert!(all.contains(&format!("AADSTS{code}")), "{code}");
    }
}

#[test]
fn size_targeting_within_two_percent() {
    for (format, size) in [
        (Format::Csv, 2_000_000u64),
        (Format::Jsonl, 2_000_000),
        (Format::FlowApi, 1_000_000),
        (Format::Dataverse, 1_000_000),
        (Format::PortalCsv, 300_000),
    ] {
        let (out, stats) = bytes(format, Target::Bytes(size), 4);
        let got = out.len() as f64;
        assert!(
            (got - size as f64).abs() / size as f64 <= 0.02,
            "{format:?}: {got} vs {size}"
        );
        assert!(stats.records > 0);
    }
}

#[test]
fn typical_record_sizes_are_close() {
    // The tenant is sized from these; keep them honest (within 25%).
    for format in [
        Format::Csv,
        Format::Jsonl,
        Format::FlowApi,
        Format::Dataverse,
        Format::PortalCsv,
    ] {
        let (_, stats) = bytes(format, Target::Records(20_000), 2);
        let avg = stats.bytes as f64 / 20_000.0;
        let want = format.typical_record_bytes() as f64;
        assert!(
            (avg - want).abs() / want < 0.25,
            "{format:?}: {avg:.0} vs {want}"
        );
    }
}

#[test]
fn sizes_parse() {
    assert_eq!(parse_size("100MB"), Ok(100_000_000));
    assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
    assert_eq!(parse_size("500M"), Ok(500_000_000));
    assert_eq!(parse_size("2.5gb"), Ok(2_500_000_000));
    assert_eq!(parse_size("64KiB"), Ok(65_536));
    assert_eq!(parse_size(" 1234 "), Ok(1234));
    assert!(parse_size("1XB").is_err());
    assert!(parse_size("MB").is_err());
    assert!(parse_size("1.GB").is_err());
}

#[test]
fn tenant_scales_and_caps() {
    assert_eq!(
        Scale::for_records(1000),
        Scale {
            owners: 20,
            flows: 40,
            environments: 1
        }
    );
    let big = Scale::for_records(10_000_000);
    assert_eq!(big.owners, 5000);
    assert_eq!(big.flows, 40_000);
    let t = Tenant::build(1, Scale::for_records(2_000_000));
    assert_eq!(t.owners.len(), 1000);
    let upns: HashSet<_> = t.owners.iter().map(|o| o.upn.as_str()).collect();
    assert_eq!(upns.len(), t.owners.len(), "owner UPNs are unique");
    let days = (t.window_end - t.window_start) / (text::DAY * text::TICKS);
    assert!((28..=90).contains(&days));
    assert!(t.broken_flows.iter().all(|l| !l.is_empty()));
}

#[test]
fn fixed_tenant_does_not_grow_with_size() {
    let small = Generator::new(Format::Csv, Target::Records(1_000), 7);
    let big = Generator::with_tenant_of(
        Format::Csv,
        Target::Records(2_000_000),
        Target::Records(1_000),
        7,
    );
    assert_eq!(big.tenant.owners.len(), small.tenant.owners.len());
    assert_eq!(big.tenant.flows.len(), small.tenant.flows.len());
    assert_eq!(big.tenant.connections.len(), small.tenant.connections.len());
    let grown = Generator::new(Format::Csv, Target::Records(2_000_000), 7);
    assert!(grown.tenant.flows.len() > small.tenant.flows.len());
}

/// A broken connection fails every run that uses it: no run succeeds (or fails some other
/// way) on a connection at or after its break, or for an inactive token after the issue
/// date its message states; every sign-in failure is on its connection, after the break;
/// a generic failure is never on a connection that breaks. Without this, every generated
/// inactivity finding would be contradicted by the input.
#[test]
fn broken_connections_only_fail_after_they_break() {
    let n = 200_000u64;
    let tenant = Tenant::build(5, Scale::for_records(n));
    let mut runs = run::RunGen::new(&tenant, 5);
    let mut r = run::Run::default();
    let (mut auth, mut before_break) = (0u64, 0u64);
    for _ in 0..n {
        runs.next(&mut r);
        let conn = &tenant.connections[r.connection as usize];
        match r.failure {
            Some(Failure::Auth(kind)) => {
                auth += 1;
                let (broke_by, at) = conn
                    .broken
                    .expect("an auth failure is on a broken connection");
                assert_eq!(broke_by, kind);
                assert!(r.start >= at, "failed before its connection broke");
            }
            Some(Failure::Generic) => {
                assert!(
                    conn.broken.is_none(),
                    "a generic failure on a connection that breaks"
                );
            }
            _ => {
                assert!(
                    conn.works_at(r.start),
                    "{:?} on a connection already broken",
                    r.status
                );
                before_break += u64::from(conn.broken.is_some());
            }
        }
    }
    assert!(auth > n / 20, "{auth} sign-in failures");
    assert!(
        before_break > 0,
        "broken connections still ran before they broke"
    );
    // The stated issue date of an inactive token is at least 90 days before its break.
    for c in &tenant.connections {
        if let Some((kind, at)) = c.broken {
            let from = kind.unusable_from(at);
            assert!(from <= at);
            if kind == tenant::AuthKind::Inactive {
                assert!(at - from >= 90 * text::DAY * text::TICKS);
            }
        }
    }
}

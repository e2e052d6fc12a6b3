//! The run writers, one per [`Format`]: each record is built into one reused buffer (JSON)
//! or through one reused csv writer (CSV) and handed to the output in a single write, with
//! a byte count kept for `--size`.

use super::run::{GENERIC_MESSAGE, Run, RunGen, Status};
use super::tenant::{CONNECTORS, REGIONS, TRIGGERS, Tenant};
use super::text::{self, TICKS_MS};
use super::{Failure, Format, Generator, Stats, Target};
use std::io::{self, Write};

/// Counts what passes through to the caller's writer. `flush` is a no-op: the csv writer
/// flushes after every record to hand over its bytes, which must not flush the caller's
/// buffer (or the file) each time.
struct Counter<'a> {
    out: &'a mut dyn Write,
    bytes: u64,
}

impl Write for Counter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write_all(buf)?;
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.write_all(buf)?;
        self.bytes += buf.len() as u64;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn io_err(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

fn more(target: Target, records: u64, bytes: u64, footer: u64) -> bool {
    match target {
        Target::Records(n) => records < n,
        Target::Bytes(b) => bytes + footer < b,
    }
}

fn count(stats: &mut Stats, run: &Run) {
    stats.records += 1;
    stats.statuses[run.status as usize] += 1;
    if let Some(f) = run.failure {
        let i = Failure::ALL.iter().position(|x| *x == f).unwrap_or(0);
        stats.failures[i] += 1;
    }
}

pub fn write(g: &Generator, out: &mut dyn Write) -> io::Result<Stats> {
    match g.format {
        Format::Csv | Format::PortalCsv => write_csv(g, out),
        Format::Jsonl | Format::FlowApi | Format::Dataverse => write_json(g, out),
    }
}

const CSV_HEADER: &[&str] = &[
    "run_id",
    "flow_id",
    "flow_name",
    "owner",
    "environment",
    "connection",
    "connector",
    "trigger",
    "status",
    "start_time",
    "end_time",
    "duration_ms",
    "error_code",
    "error_message",
];
const PORTAL_HEADER: &[&str] = &["Start", "Duration", "Status", "Run ID"];

fn write_csv(g: &Generator, out: &mut dyn Write) -> io::Result<Stats> {
    let t = &g.tenant;
    let mut w = csv::WriterBuilder::new()
        .buffer_capacity(64 * 1024)
        .from_writer(Counter { out, bytes: 0 });
    let portal = g.format == Format::PortalCsv;
    w.write_record(if portal { PORTAL_HEADER } else { CSV_HEADER })
        .map_err(io_err)?;
    w.flush()?;
    let mut runs = RunGen::new(t, g.seed);
    if portal {
        runs = runs.without_texts();
    }
    let mut run = Run::default();
    let mut stats = Stats::default();
    let mut a = Vec::with_capacity(64);
    let mut b = Vec::with_capacity(64);
    let mut c = Vec::with_capacity(32);
    while more(g.target, stats.records, w.get_ref().bytes, 0) {
        runs.next(&mut run);
        count(&mut stats, &run);
        a.clear();
        b.clear();
        c.clear();
        if portal {
            text::push_us(&mut a, run.start);
            text::push_hms(&mut b, run.duration_ms);
            w.write_field(&a).map_err(io_err)?;
            w.write_field(&b).map_err(io_err)?;
            w.write_field(run.status.as_str()).map_err(io_err)?;
            w.write_field(&run.run_id).map_err(io_err)?;
        } else {
            let f = &t.flows[run.flow as usize];
            let conn = &t.connections[run.connection as usize];
            text::push_iso7(&mut a, run.start);
            text::push_iso7(&mut b, run.end);
            text::push_u64(&mut c, run.duration_ms);
            w.write_field(&run.run_id).map_err(io_err)?;
            w.write_field(&f.id).map_err(io_err)?;
            w.write_field(&f.name).map_err(io_err)?;
            w.write_field(&t.owners[f.owner as usize].upn)
                .map_err(io_err)?;
            w.write_field(&t.env_of(f).name).map_err(io_err)?;
            w.write_field(&conn.name).map_err(io_err)?;
            w.write_field(CONNECTORS[conn.connector as usize].api)
                .map_err(io_err)?;
            w.write_field(TRIGGERS[f.trigger as usize].0)
                .map_err(io_err)?;
            w.write_field(run.status.as_str()).map_err(io_err)?;
            w.write_field(&a).map_err(io_err)?;
            w.write_field(&b).map_err(io_err)?;
            w.write_field(&c).map_err(io_err)?;
            w.write_field(run.detail_code).map_err(io_err)?;
            w.write_field(&run.detail).map_err(io_err)?;
        }
        w.write_record(None::<&[u8]>).map_err(io_err)?;
        w.flush()?;
    }
    stats.bytes = w.get_ref().bytes;
    Ok(stats)
}

fn write_json(g: &Generator, out: &mut dyn Write) -> io::Result<Stats> {
    let t = &g.tenant;
    let mut out = Counter { out, bytes: 0 };
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut scratch = Vec::with_capacity(4 * 1024);
    // Header and footer of the page formats.
    let mut footer = Vec::new();
    let env0 = &t.environments[0];
    match g.format {
        Format::FlowApi => {
            buf.extend_from_slice(b"{\"value\":[\n");
            footer.extend_from_slice(b"\n],\"nextLink\":\"https://api.flow.microsoft.com/providers/Microsoft.ProcessSimple/scopes/admin/environments/");
            footer.extend_from_slice(env0.name.as_bytes());
            footer.extend_from_slice(b"/flows/runs?api-version=2016-11-01&$skiptoken=");
            footer.extend_from_slice(&t.tenant_id.as_bytes()[..8]);
            text::push_u64(&mut footer, g.seed);
            footer.extend_from_slice(b"\"}\n");
        }
        Format::Dataverse => {
            buf.extend_from_slice(b"{\"@odata.context\":\"https://");
            buf.extend_from_slice(env0.org.as_bytes());
            buf.extend_from_slice(
                b".crm.dynamics.com/api/data/v9.2/$metadata#flowruns\",\"value\":[\n",
            );
            footer.extend_from_slice(b"\n],\"@odata.nextLink\":\"https://");
            footer.extend_from_slice(env0.org.as_bytes());
            footer.extend_from_slice(b".crm.dynamics.com/api/data/v9.2/flowruns?$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E\"}\n");
        }
        _ => {}
    }
    out.write_all(&buf)?;
    let footer_len = footer.len() as u64;
    let mut runs = RunGen::new(t, g.seed);
    let mut run = Run::default();
    let mut stats = Stats::default();
    while more(g.target, stats.records, out.bytes, footer_len) {
        runs.next(&mut run);
        buf.clear();
        match g.format {
            Format::Jsonl => {
                push_run(&mut buf, t, &run, true);
                buf.push(b'\n');
            }
            Format::FlowApi => {
                if stats.records > 0 {
                    buf.extend_from_slice(b",\n");
                }
                push_run(&mut buf, t, &run, false);
            }
            _ => {
                if stats.records > 0 {
                    buf.extend_from_slice(b",\n");
                }
                push_flowrun(&mut buf, &mut scratch, t, &run, stats.records);
            }
        }
        count(&mut stats, &run);
        out.write_all(&buf)?;
    }
    out.write_all(&footer)?;
    stats.bytes = out.bytes;
    Ok(stats)
}

/// A Flow API run object (`Microsoft.ProcessSimple/environments/flows/runs`).
fn push_run(b: &mut Vec<u8>, t: &Tenant, run: &Run, enriched: bool) {
    let f = &t.flows[run.flow as usize];
    b.extend_from_slice(b"{\"name\":\"");
    b.extend_from_slice(&run.run_id);
    b.extend_from_slice(b"\",\"id\":\"/providers/Microsoft.ProcessSimple/environments/");
    b.extend_from_slice(t.env_of(f).name.as_bytes());
    b.extend_from_slice(b"/flows/");
    b.extend_from_slice(f.id.as_bytes());
    b.extend_from_slice(b"/runs/");
    b.extend_from_slice(&run.run_id);
    b.extend_from_slice(
        b"\",\"type\":\"Microsoft.ProcessSimple/environments/flows/runs\",\"properties\":{\"startTime\":\"",
    );
    text::push_iso7(b, run.start);
    b.extend_from_slice(b"\",\"endTime\":\"");
    text::push_iso7(b, run.end);
    b.extend_from_slice(b"\",\"status\":\"");
    b.extend_from_slice(run.status.as_str().as_bytes());
    b.push(b'"');
    match run.status {
        Status::Succeeded => b.extend_from_slice(b",\"error\":null"),
        Status::Cancelled => b.extend_from_slice(b",\"code\":\"Cancelled\",\"error\":null"),
        _ => {
            b.extend_from_slice(b",\"code\":\"");
            b.extend_from_slice(run.code.as_bytes());
            b.extend_from_slice(b"\",\"error\":{\"code\":\"");
            b.extend_from_slice(run.code.as_bytes());
            b.extend_from_slice(b"\",\"message\":");
            text::push_json_str(b, &run.message);
            b.push(b'}');
        }
    }
    b.extend_from_slice(b",\"correlation\":{\"clientTrackingId\":\"");
    b.extend_from_slice(&run.tracking_id);
    b.extend_from_slice(b"\"},\"trigger\":{\"name\":\"");
    b.extend_from_slice(TRIGGERS[f.trigger as usize].0.as_bytes());
    b.extend_from_slice(b"\",\"startTime\":\"");
    let trigger_at = run.start - run.start % TICKS_MS;
    text::push_iso7(b, trigger_at);
    b.extend_from_slice(b"\",\"endTime\":\"");
    text::push_iso7(b, trigger_at);
    b.extend_from_slice(b"\",\"status\":\"Succeeded\"}");
    if let (Some(a), true) = (run.action, run.expanded) {
        b.extend_from_slice(b",\"actions\":{\"");
        b.extend_from_slice(a.name.as_bytes());
        b.extend_from_slice(b"\":{\"startTime\":\"");
        text::push_iso7(b, run.start + 3 * TICKS_MS);
        b.extend_from_slice(b"\",\"endTime\":\"");
        text::push_iso7(b, run.end);
        b.extend_from_slice(b"\",\"status\":\"Failed\",\"code\":\"");
        b.extend_from_slice(a.code.as_bytes());
        b.extend_from_slice(b"\",\"error\":{\"code\":\"");
        b.extend_from_slice(a.code.as_bytes());
        b.extend_from_slice(b"\",\"message\":");
        text::push_json_str(b, &run.detail);
        b.extend_from_slice(b"},\"outputs\":{\"statusCode\":");
        text::push_u64(b, u64::from(a.status_code));
        b.extend_from_slice(b",\"body\":{\"status\":");
        text::push_u64(b, u64::from(a.status_code));
        b.extend_from_slice(b",\"message\":");
        text::push_json_str(b, &run.detail);
        b.extend_from_slice(b",\"source\":\"");
        push_source(b, t, run);
        b.extend_from_slice(b"\"}}}}");
    }
    b.push(b'}');
    if enriched {
        let conn = &t.connections[run.connection as usize];
        b.extend_from_slice(b",\"owner\":\"");
        b.extend_from_slice(t.owners[f.owner as usize].upn.as_bytes());
        b.extend_from_slice(b"\",\"connection\":\"");
        b.extend_from_slice(conn.name.as_bytes());
        b.push(b'"');
    }
    b.push(b'}');
}

/// A Dataverse `flowrun` row as the Web API returns it.
fn push_flowrun(b: &mut Vec<u8>, scratch: &mut Vec<u8>, t: &Tenant, run: &Run, n: u64) {
    let f = &t.flows[run.flow as usize];
    let owner = &t.owners[f.owner as usize];
    b.extend_from_slice(b"{\"@odata.etag\":\"W/\\\"");
    text::push_u64(b, 4_811_000 + n);
    b.extend_from_slice(b"\\\"\",\"flowrunid\":\"");
    text::push_guid_bits(b, run.row_id.0, run.row_id.1);
    b.extend_from_slice(b"\",\"name\":\"");
    b.extend_from_slice(&run.run_id);
    b.extend_from_slice(b"\",\"starttime\":\"");
    text::push_iso(b, run.start);
    b.extend_from_slice(b"\",\"endtime\":\"");
    text::push_iso(b, run.end);
    b.extend_from_slice(b"\",\"duration\":");
    text::push_u64(b, run.duration_ms);
    b.extend_from_slice(b",\"status\":\"");
    b.extend_from_slice(run.status.as_str().as_bytes());
    b.extend_from_slice(b"\",\"triggertype\":\"");
    b.extend_from_slice(TRIGGERS[f.trigger as usize].1.as_bytes());
    b.push(b'"');
    if run.code.is_empty() {
        b.extend_from_slice(b",\"errorcode\":null,\"errormessage\":null");
    } else {
        b.extend_from_slice(b",\"errorcode\":\"");
        b.extend_from_slice(run.code.as_bytes());
        b.extend_from_slice(b"\",\"errormessage\":");
        // The column holds JSON text: build it, then escape it as a string.
        scratch.clear();
        scratch.extend_from_slice(b"{\"code\":\"");
        scratch.extend_from_slice(run.code.as_bytes());
        scratch.extend_from_slice(b"\",\"message\":");
        if run.bubbled {
            text::push_json_str(scratch, &run.detail);
        } else {
            text::push_json_str(scratch, &run.message);
        }
        if run.message == GENERIC_MESSAGE.as_bytes() && !run.bubbled {
            scratch.extend_from_slice(b",\"messageTemplate\":\"");
            scratch.extend_from_slice(GENERIC_MESSAGE.as_bytes());
            scratch.push(b'"');
        }
        scratch.push(b'}');
        text::push_json_str(b, scratch);
    }
    b.extend_from_slice(b",\"workflowid\":\"");
    b.extend_from_slice(f.id.as_bytes());
    b.extend_from_slice(b"\",\"workflowname\":");
    text::push_json_str(b, f.name.as_bytes());
    b.extend_from_slice(b",\"_workflow_value\":\"");
    b.extend_from_slice(f.id.as_bytes());
    b.extend_from_slice(b"\",\"_ownerid_value\":\"");
    b.extend_from_slice(owner.id.as_bytes());
    b.extend_from_slice(b"\",\"_ownerid_value@OData.Community.Display.V1.FormattedValue\":");
    text::push_json_str(b, owner.name.as_bytes());
    b.extend_from_slice(b",\"isprimary\":1,\"parentrunid\":null,\"partitionid\":\"");
    b.extend_from_slice(owner.id.as_bytes());
    b.extend_from_slice(b"\",\"ttlinseconds\":2419200,\"clienttrackingid\":\"");
    b.extend_from_slice(&run.tracking_id);
    b.extend_from_slice(b"\"}");
}

/// The connector host that wrote an action's error body
/// (`office365-we.azconn-we-002.p.azurewebsites.net`).
fn push_source(b: &mut Vec<u8>, t: &Tenant, run: &Run) {
    let conn = &t.connections[run.connection as usize];
    let region = REGIONS[conn.region as usize].as_bytes();
    b.extend_from_slice(CONNECTORS[conn.connector as usize].service.as_bytes());
    b.push(b'-');
    b.extend_from_slice(region);
    b.extend_from_slice(b".azconn-");
    b.extend_from_slice(region);
    b.extend_from_slice(b"-00");
    text::push_u64(
        b,
        1 + (u64::from(conn.region) + u64::from(run.connection)) % 4,
    );
    b.extend_from_slice(b".p.azurewebsites.net");
}

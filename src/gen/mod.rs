//! A synthetic tenant export for tests and benchmarks: `flowdx generate` (hidden).
//!
//! Writes run histories in the shapes of `reference/formats.md`, of any size, streaming
//! (memory is constant: the tenant is capped and every record reuses the same buffers),
//! deterministically (the same seed gives the same bytes on every machine; see
//! [`rng`]), at several hundred MB/s.
//!
//! # Formats
//!
//! | [`Format`] | shape |
//! |---|---|
//! | `csv` | generic run columns `run_id, flow_id, flow_name, owner, environment, connection, connector, trigger, status, start_time, end_time, duration_ms, error_code, error_message`, RFC 4180 quoting by the csv crate. `error_code`/`error_message` hold the most specific error: the failing action's code and message where there is one. |
//! | `jsonl` | one Flow API run object per line (`name`, `id` = `/providers/Microsoft.ProcessSimple/environments/<env>/flows/<flow>/runs/<run>`, `type`, `properties{startTime, endTime, status, code, error{code,message} or null, correlation, trigger, actions?}`) plus top-level `owner` (UPN) and `connection` (connection name), as a support engineer's enriched export would have them. |
//! | `flow-api` | one runs API page `{"value":[...],"nextLink":"..."}` of the same run objects *without* `owner`/`connection` (the API does not return them), the array streamed. |
//! | `dataverse` | one Dataverse Web API page of `flowrun` rows (`@odata.context`, `@odata.etag`, `flowrunid`, `name`, `starttime`, `endtime`, `duration` (ms), `status`, `triggertype`, `errorcode`, `errormessage` (a JSON string), `workflowid`, `workflowname`, `_workflow_value`, `_ownerid_value` and its `@OData.Community.Display.V1.FormattedValue`, `isprimary`, `parentrunid`, `partitionid`, `ttlinseconds`, `clienttrackingid`), then `@odata.nextLink`. |
//! | `portal-csv` | the status-only portal download: `Start, Duration, Status, Run ID` with US-culture start times (`5/2/2024 6:01:13 AM`) and `HH:MM:SS` durations. The real header is unpublished (formats.md §1), so this is one plausible spelling; flow, owner and error are absent, as there. |
//!
//! With `--inventory DIR` the generator also writes `flows.json` (`Get-AdminFlow |
//! ConvertTo-Json -Depth 10`: `FlowName`, `DisplayName`, `CreatedBy{objectId,...}`,
//! `EnvironmentName`, `Internal.properties.connectionReferences`, ...) and
//! `connections.json` (`Get-AdminPowerAppConnection`: `ConnectionName`, `ConnectorName`,
//! `CreatedBy{id, displayName, email}`, `Statuses[{status, target, error{code, message}}]`)
//! for the same tenant: every flow id in the runs is in `flows.json`, every connection a flow
//! references is in `connections.json`, and a connection whose token broke shows
//! `status: Error` with the token-refresh text of the same AADSTS code its runs fail with.
//!
//! # Proportions
//!
//! - **Tenant** (see [`tenant::Scale`]): owners ~ records/2000 (20..=5,000), each with 1-4
//!   connections to distinct connectors (Outlook, SharePoint, Teams, Excel, OneDrive,
//!   Dataverse, Office 365 Users, Planner, weighted in that order); flows ~ records/250
//!   (40..=40,000), owners skewed (a few own many); 1-12 environments, 70% of owners in the
//!   default one. Runs are spread over a window of 28-90 days ending between 2024-01-01 and
//!   mid-2025, both chosen by the seed; flows are picked skewed (the busiest tenth gets
//!   about a third of the runs).
//! - **Status**: 70% Succeeded, 22% Failed, 5% Cancelled, 3% TimedOut.
//! - **Failures** (of Failed runs): 33% AADSTS50076 (MFA), 12% AADSTS700082 (inactive
//!   refresh token), 8% AADSTS50173 (revoked grant), 7% AADSTS53003 (CA block), 5%
//!   AADSTS50057 (disabled account), 8% HTTP 429, 6% HTTP 502, 7% `InvalidTemplate`, 4%
//!   `ConnectionAuthorizationFailed`, 10% the generic `ActionFailed` "An action failed. No
//!   dependent actions succeeded." with nothing behind it.
//! - **AADSTS texts**: 55% in the token service's shape ("Failed to refresh access token for
//!   service: office365. Correlation Id=g-`<guid>`, UTC TimeStamp=5/2/2024 6:01:13 AM, Error:
//!   Failed to acquire token from AAD: `{\"error\":\"invalid_grant\",\"error_description\":
//!   \"AADSTS50076: ...\\r\\nTrace ID: ...\",\"error_codes\":[50076],...}`"), 45% bare
//!   ("AADSTS50076: ... Trace ID: ... Correlation ID: ... Timestamp: ..."). They fail on
//!   flows whose first connection broke that way, after it broke: MFA and CA-block breaks
//!   come in a wave (75% within 36 hours of one day), the others are spread. A broken
//!   connection fails every run that uses it: no run succeeds, or fails another way, on a
//!   connection after its break (for an inactive token, after the issue date its message
//!   states, at least 90 days earlier), and a revoked grant's TokensValidFrom is the break.
//!   The generic `ActionFailed` failures are on connections that never break, so that no
//!   connection status lends them a cause.
//! - **Where the text is**: in JSON formats the run-level error of an action failure is the
//!   generic `ActionFailed`; 85% of those runs carry the failing action (`properties.actions`,
//!   with `error` and `outputs.body.message`), the rest must be explained through the
//!   connection inventory. In Dataverse `errormessage` is the generic JSON wrapper except for
//!   15% of action failures whose text bubbled up. `InvalidTemplate`,
//!   `ConnectionAuthorizationFailed` and timeouts are run-level errors everywhere.
//! - **Awkward text**: 3% of failure messages carry a 1-2 KB tail (a flattened .NET stack
//!   trace, or a gateway's HTML page for 502s); 0.5% are a pasted multi-line JSON body
//!   (CRLF newlines and `"` quotes, so CSV quotes the field and doubles the quotes).
//!
//! All texts were written for this generator in the shapes formats.md documents (the AADSTS
//! descriptions follow Entra's published texts; the timeout, 429, 502, InvalidTemplate and
//! ConnectionAuthorizationFailed texts are composed in the style of the service's
//! messages). Owner ids double as Dataverse owner ids, which a real tenant would not do.

mod format;
mod inventory;
pub mod rng;
pub mod run;
pub mod tenant;
pub mod text;

#[cfg(test)]
mod tests;

use std::io::{self, Write};

pub use run::{Failure, Status};
pub use tenant::{Scale, Tenant};

/// Output shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// Generic run CSV with the error text.
    Csv,
    /// One Flow API run object per line, with owner and connection.
    Jsonl,
    /// One Flow API runs page `{"value":[...],"nextLink":...}`.
    FlowApi,
    /// One Dataverse Web API page of flowrun rows.
    Dataverse,
    /// The status-only portal CSV download.
    PortalCsv,
}

impl Format {
    /// A typical record's size in bytes, used to size the tenant for a `--size` target.
    pub fn typical_record_bytes(self) -> u64 {
        match self {
            Format::Csv => 470,
            Format::Jsonl => 1000,
            Format::FlowApi => 890,
            Format::Dataverse => 810,
            Format::PortalCsv => 73,
        }
    }

    /// The name on the command line (`flow-api`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::FlowApi => "flow-api",
            Format::Dataverse => "dataverse",
            Format::PortalCsv => "portal-csv",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv | Format::PortalCsv => "csv",
            Format::Jsonl => "jsonl",
            Format::FlowApi | Format::Dataverse => "json",
        }
    }
}

/// How much to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Exactly this many run records.
    Records(u64),
    /// Stop at the first record that reaches this many (uncompressed) bytes, footer
    /// included; the file ends at most one record past it.
    Bytes(u64),
}

impl Target {
    /// Expected record count, which sizes the tenant.
    pub fn expected_records(self, format: Format) -> u64 {
        match self {
            Target::Records(n) => n,
            Target::Bytes(b) => b / format.typical_record_bytes(),
        }
    }
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub records: u64,
    /// Uncompressed bytes.
    pub bytes: u64,
    /// Runs by status, in the order of [`Status`]: Succeeded, Failed, Cancelled, TimedOut.
    pub statuses: [u64; 4],
    /// Failed runs by [`Failure::ALL`] order.
    pub failures: [u64; 10],
}

/// A generator for one tenant: build once, then write runs and inventories.
pub struct Generator {
    pub tenant: Tenant,
    seed: u64,
    format: Format,
    target: Target,
}

impl Generator {
    pub fn new(format: Format, target: Target, seed: u64) -> Generator {
        Generator::with_tenant_of(format, target, target, seed)
    }

    /// Write `target`'s worth of runs of the tenant sized for `tenant` (a fixed tenant
    /// whatever the output size; the same seed and `tenant` give the same tenant).
    pub fn with_tenant_of(format: Format, target: Target, tenant: Target, seed: u64) -> Generator {
        let scale = Scale::for_records(tenant.expected_records(format));
        Generator {
            tenant: Tenant::build(seed, scale),
            seed,
            format,
            target,
        }
    }

    /// Write the runs to `out` (through a buffer of the caller's; `out` is not flushed).
    pub fn write_runs(&self, out: &mut dyn Write) -> io::Result<Stats> {
        format::write(self, out)
    }

    /// Write `flows.json` (Get-AdminFlow shape).
    pub fn write_flows(&self, out: &mut dyn Write) -> io::Result<u64> {
        inventory::write_flows(&self.tenant, out)
    }

    /// Write `connections.json` (Get-AdminPowerAppConnection shape).
    pub fn write_connections(&self, out: &mut dyn Write) -> io::Result<u64> {
        inventory::write_connections(&self.tenant, self.seed, out)
    }
}

/// Parse a size: `1GB`, `500M`, `100MB`, `2.5GB`, `64KiB`, `1234` (bytes). K/M/G/T are
/// powers of 1000, KiB/MiB/GiB/TiB powers of 1024; case does not matter.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let mult: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown size unit in '{s}' (use B, KB, MB, GB, TB or KiB..TiB)"
            ));
        }
    };
    let bad = || format!("'{s}' is not a size (examples: 100MB, 1GB, 500M, 2.5GB)");
    let value = match num.split_once('.') {
        None => num.parse::<u64>().map_err(|_| bad())?.checked_mul(mult),
        Some((whole, frac)) => {
            if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let whole: u64 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| bad())?
            };
            let scale = 10u64.pow(frac.len() as u32);
            let frac: u64 = frac.parse().map_err(|_| bad())?;
            whole.checked_mul(mult).and_then(|w| {
                w.checked_add((u128::from(frac) * u128::from(mult) / u128::from(scale)) as u64)
            })
        }
    };
    value.ok_or_else(|| format!("size '{s}' is too large"))
}

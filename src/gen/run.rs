//! One synthetic run at a time: status, flow, times, ids and, for failures, the error texts
//! in the shapes the exports carry them. A [`Run`] is reused for every record, so the hot
//! loop allocates nothing once its buffers have grown.

use super::rng::Rng;
use super::tenant::{AuthKind, CONNECTORS, Tenant};
use super::text::{self, DAY, TICKS, TICKS_MS};

/// Run status, in the Flow API's spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "Succeeded",
            Status::Failed => "Failed",
            Status::Cancelled => "Cancelled",
            Status::TimedOut => "TimedOut",
        }
    }
}

/// Status mix, per 1,000 runs: 70% Succeeded, 22% Failed, 5% Cancelled, 3% TimedOut.
const STATUS_WEIGHTS: [u32; 4] = [700, 220, 50, 30];

/// Draws of another flow and time for a run that landed on a broken connection, before
/// it is kept anyway (only a tenant whose connections nearly all broke early needs more).
const MAX_REDRAWS: usize = 64;

/// Why a failed run failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Failure {
    /// A connection's token could not be refreshed (the five AADSTS kinds).
    Auth(AuthKind),
    /// HTTP 429 from the connector.
    Throttled,
    /// HTTP 502 from the gateway.
    BadGateway,
    /// A workflow expression failed to evaluate.
    InvalidTemplate,
    /// The caller may not use the flow's connection.
    ConnectionAuthorizationFailed,
    /// Only the generic wrapper, nothing behind it.
    Generic,
}

/// Failure mix per 1,000 failed runs, in this order: 50076, 700082, 50173, 53003, 50057,
/// 429, 502, InvalidTemplate, ConnectionAuthorizationFailed, generic ActionFailed.
pub const FAILURE_WEIGHTS: [u32; 10] = [330, 120, 80, 70, 50, 80, 60, 70, 40, 100];

impl Failure {
    pub const ALL: [Failure; 10] = [
        Failure::Auth(AuthKind::Mfa),
        Failure::Auth(AuthKind::Inactive),
        Failure::Auth(AuthKind::Revoked),
        Failure::Auth(AuthKind::CaBlocked),
        Failure::Auth(AuthKind::Disabled),
        Failure::Throttled,
        Failure::BadGateway,
        Failure::InvalidTemplate,
        Failure::ConnectionAuthorizationFailed,
        Failure::Generic,
    ];
}

/// Share of failed runs (per million) whose export includes the failing action
/// (`$expand=properties/actions`); the rest carry only the run-level error and need the
/// connection inventory to be explained.
const EXPANDED_PER_MILLION: u32 = 850_000;
/// Share of action failures whose text reached Dataverse `errormessage` (usually only the
/// generic wrapper does).
const BUBBLED_PER_MILLION: u32 = 150_000;
/// Share of failure messages with a long (1-2 KB) tail: a stack trace, an HTML page.
const LONG_TAIL_PER_MILLION: u32 = 30_000;
/// Share of failure messages pasted as a multi-line JSON body (newlines and quotes).
const MULTILINE_PER_MILLION: u32 = 5_000;
/// Share of AADSTS failures wrapped in the token service's refresh text (the rest bare).
const WRAPPED_PER_MILLION: u32 = 550_000;

pub const GENERIC_MESSAGE: &str = "An action failed. No dependent actions succeeded.";

/// The failing action of a run, where the export has one.
#[derive(Clone, Copy, Debug)]
pub struct Action {
    pub name: &'static str,
    pub code: &'static str,
    pub status_code: u16,
}

/// One run, with every field every format needs; reused across records.
#[derive(Debug)]
pub struct Run {
    pub flow: u32,
    /// Index into the tenant's connections: the connection the run used.
    pub connection: u32,
    pub status: Status,
    pub failure: Option<Failure>,
    pub start: u64,
    pub end: u64,
    pub duration_ms: u64,
    pub run_id: Vec<u8>,
    pub tracking_id: Vec<u8>,
    /// Dataverse `flowrunid`, as the bits of a GUID (formatted only where written).
    pub row_id: (u64, u64),
    /// Run-level error code and message (empty when the run has no error).
    pub code: &'static str,
    pub message: Vec<u8>,
    /// The most specific error text: the failing action's message, or the run message.
    pub detail: Vec<u8>,
    /// The most specific error code (the action's, else the run's).
    pub detail_code: &'static str,
    pub action: Option<Action>,
    /// Whether JSON exports show the action (`properties.actions`).
    pub expanded: bool,
    /// Whether Dataverse's `errormessage` carries `detail` rather than the generic text.
    pub bubbled: bool,
    scratch: Vec<u8>,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            flow: 0,
            connection: 0,
            status: Status::Succeeded,
            failure: None,
            start: 0,
            end: 0,
            duration_ms: 0,
            run_id: Vec::with_capacity(40),
            tracking_id: Vec::with_capacity(40),
            row_id: (0, 0),
            code: "",
            message: Vec::with_capacity(256),
            detail: Vec::with_capacity(1024),
            detail_code: "",
            action: None,
            expanded: false,
            bubbled: false,
            scratch: Vec::with_capacity(256),
        }
    }
}

/// Draws runs for a tenant.
pub struct RunGen<'t> {
    tenant: &'t Tenant,
    rng: Rng,
    texts: bool,
}

impl<'t> RunGen<'t> {
    pub fn new(tenant: &'t Tenant, seed: u64) -> Self {
        RunGen {
            tenant,
            rng: Rng::new(seed, 2),
            texts: true,
        }
    }

    /// Skip the error texts and secondary ids, for formats that show only status and times
    /// (the portal CSV). The runs drawn then differ from the full stream's.
    pub fn without_texts(mut self) -> Self {
        self.texts = false;
        self
    }

    /// Fill `run` with the next run.
    pub fn next(&mut self, run: &mut Run) {
        let t = self.tenant;
        let rng = &mut self.rng;
        let span = t.window_end - t.window_start;
        run.status = [
            Status::Succeeded,
            Status::Failed,
            Status::Cancelled,
            Status::TimedOut,
        ][rng.weighted(&STATUS_WEIGHTS)];
        run.failure =
            (run.status == Status::Failed).then(|| Failure::ALL[rng.weighted(&FAILURE_WEIGHTS)]);

        // Flow, connection and start time: a failing auth run is on a flow whose connection
        // broke that way, after it broke; any other run anywhere in the window on a
        // connection that still worked then (drawn again until it is, a bounded number of
        // times: a broken connection fails every run that uses it). A generic failure with
        // nothing behind it is on a connection that never breaks: on one that did, the
        // connection's exported status would lend it a cause it never had.
        let (flow, connection, start) = match run.failure {
            Some(Failure::Auth(kind)) => {
                let list = &t.broken_flows[kind.index()];
                let flow = list[rng.skewed(list.len() as u64) as usize];
                let conn = t.flows[flow as usize].conns()[0];
                let from = t.connections[conn as usize]
                    .broken
                    .map_or(t.window_start, |(_, at)| at)
                    .max(t.window_start);
                (flow, conn, from + rng.below(t.window_end - from))
            }
            _ => {
                let any_conn = run.failure.is_none();
                let mut draw = || {
                    let flow = rng.skewed(t.flows.len() as u64) as u32;
                    let conns = t.flows[flow as usize].conns();
                    let conn = if conns.len() > 1 && any_conn {
                        *rng.pick(conns)
                    } else {
                        conns[0]
                    };
                    (flow, conn, t.window_start + rng.below(span))
                };
                let generic = run.failure == Some(Failure::Generic);
                let fits = |(_, conn, start): (u32, u32, u64)| {
                    let c = &t.connections[conn as usize];
                    if generic {
                        c.broken.is_none()
                    } else {
                        c.works_at(start)
                    }
                };
                let mut pick = draw();
                for _ in 0..MAX_REDRAWS {
                    if fits(pick) {
                        break;
                    }
                    pick = draw();
                }
                pick
            }
        };
        run.flow = flow;
        run.connection = connection;
        run.start = start;
        run.duration_ms = match (run.status, run.failure) {
            (Status::Succeeded, _) => 300 + rng.skewed(120_000),
            (Status::Cancelled, _) => 1_000 + rng.below(3_600_000),
            (Status::TimedOut, _) => 120_000 + rng.below(3_480_000),
            (_, Some(Failure::Throttled)) => 20_000 + rng.below(280_000),
            (_, Some(Failure::InvalidTemplate | Failure::ConnectionAuthorizationFailed)) => {
                40 + rng.below(900)
            }
            _ => 400 + rng.below(4_000),
        };
        run.end = start + run.duration_ms * TICKS_MS + rng.below(TICKS_MS);

        run_name(&mut run.run_id, start, rng);
        if self.texts {
            run_name(&mut run.tracking_id, start - rng.below(TICKS), rng);
            run.row_id = (rng.next_u64(), rng.next_u64());
            self.fill_error(run);
        }
    }

    fn fill_error(&mut self, run: &mut Run) {
        let t = self.tenant;
        let rng = &mut self.rng;
        run.message.clear();
        run.detail.clear();
        run.action = None;
        run.expanded = false;
        run.bubbled = false;
        run.code = "";
        run.detail_code = "";
        let conn = &t.connections[run.connection as usize];
        let connector = &CONNECTORS[conn.connector as usize];

        let failure = match (run.status, run.failure) {
            (Status::Succeeded | Status::Cancelled, _) => return,
            (Status::TimedOut, _) => {
                run.code = "ActionTimedOut";
                run.message
                    .extend_from_slice(b"The execution of template action '");
                run.message.extend_from_slice(connector.action.as_bytes());
                run.message.extend_from_slice(
                    b"' is failed: the client application timed out waiting for a response \
from service. This means that workflow took longer to respond than the alloted timeout value. \
The connection maintained between the client application and service will be closed and client \
application will get an HTTP status code 504 Gateway Timeout.",
                );
                run.detail.extend_from_slice(&run.message);
                run.detail_code = run.code;
                return;
            }
            (_, Some(f)) => f,
            (_, None) => Failure::Generic,
        };
        let d = &mut run.detail;
        match failure {
            Failure::Auth(kind) => {
                let wrapped = rng.per_million(WRAPPED_PER_MILLION);
                // The run is on the connection that broke this way (see `next`).
                let broken = conn.broken.unwrap_or((kind, run.start));
                auth_message(
                    d,
                    &mut run.scratch,
                    broken,
                    connector,
                    run.start,
                    wrapped,
                    rng,
                );
                run.action = Some(Action {
                    name: connector.action,
                    code: "Unauthorized",
                    status_code: 401,
                });
            }
            Failure::Throttled => {
                d.extend_from_slice(b"Rate limit is exceeded. Try again in ");
                text::push_u64(d, 1 + rng.below(59));
                d.extend_from_slice(b" seconds.");
                run.action = Some(Action {
                    name: connector.action,
                    code: "TooManyRequests",
                    status_code: 429,
                });
            }
            Failure::BadGateway => {
                d.extend_from_slice(
                    b"BadGateway. The server did not receive a response from an upstream server. \
Request tracking id '",
                );
                d.extend_from_slice(&run.tracking_id);
                d.extend_from_slice(b"'.");
                run.action = Some(Action {
                    name: connector.action,
                    code: "BadGateway",
                    status_code: 502,
                });
            }
            Failure::InvalidTemplate => {
                let (func, ty, action) = *rng.pick(&[
                    ("split", "string", "Compose"),
                    ("formatDateTime", "string", "Compose_2"),
                    ("int", "string", "Set_variable"),
                    ("length", "array", "Condition"),
                    ("first", "array", "Apply_to_each"),
                ]);
                d.extend_from_slice(b"Unable to process template language expressions in action '");
                d.extend_from_slice(action.as_bytes());
                d.extend_from_slice(
                    b"' inputs at line '0' and column '0': 'The template language function '",
                );
                d.extend_from_slice(func.as_bytes());
                d.extend_from_slice(b"' expects its first parameter to be of type ");
                d.extend_from_slice(ty.as_bytes());
                d.extend_from_slice(b". The provided value is of type 'Null'. Please see https://aka.ms/logicexpressions#");
                d.extend_from_slice(func.as_bytes());
                d.extend_from_slice(b" for usage details.'.");
                run.code = "InvalidTemplate";
            }
            Failure::ConnectionAuthorizationFailed => {
                d.extend_from_slice(b"The caller with object id '");
                text::push_guid(d, rng);
                d.extend_from_slice(b"' does not have permission for connection '");
                d.extend_from_slice(conn.name.as_bytes());
                d.extend_from_slice(b"' under Api '");
                d.extend_from_slice(connector.api.as_bytes());
                d.extend_from_slice(b"'.");
                run.code = "ConnectionAuthorizationFailed";
            }
            Failure::Generic => {
                d.extend_from_slice(GENERIC_MESSAGE.as_bytes());
                run.code = "ActionFailed";
            }
        }
        if failure != Failure::Generic {
            if rng.per_million(LONG_TAIL_PER_MILLION) {
                long_tail(d, failure, rng);
            } else if rng.per_million(MULTILINE_PER_MILLION) {
                multiline(d, &mut run.scratch, run.action.map_or(run.code, |a| a.code));
            }
        }
        match run.action {
            Some(a) => {
                run.code = "ActionFailed";
                run.message.extend_from_slice(GENERIC_MESSAGE.as_bytes());
                run.detail_code = a.code;
                run.expanded = rng.per_million(EXPANDED_PER_MILLION);
                run.bubbled = rng.per_million(BUBBLED_PER_MILLION);
            }
            None => {
                run.message.extend_from_slice(&run.detail);
                run.detail_code = run.code;
            }
        }
    }
}

/// A run name: 20 digits counting down with time (`i64::MAX` minus .NET ticks, as real
/// names do), 9 more digits, `CU` and a 2-digit scale unit: `08585329114263413369372385226CU17`.
fn run_name(buf: &mut Vec<u8>, ticks: u64, rng: &mut Rng) {
    const EPOCH_TICKS: u64 = 621_355_968_000_000_000;
    buf.clear();
    text::push_padded(buf, i64::MAX as u64 - (EPOCH_TICKS + ticks), 20);
    text::push_padded(buf, rng.below(1_000_000_000), 9);
    buf.extend_from_slice(b"CU");
    text::push_padded(buf, rng.below(40), 2);
}

/// The Entra description for a kind, after `AADSTSnnnnn: `.
fn describe(
    d: &mut Vec<u8>,
    kind: AuthKind,
    resource: &str,
    broke: u64,
    wrapped: bool,
    rng: &mut Rng,
) {
    match kind {
        AuthKind::Mfa => {
            d.extend_from_slice(b"Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '");
            d.extend_from_slice(resource.as_bytes());
            d.extend_from_slice(b"'.");
        }
        AuthKind::Inactive => {
            // The token service's copy has no space after the first sentence.
            d.extend_from_slice(if wrapped {
                b"The refresh token has expired due to inactivity.The token was issued on "
            } else {
                b"The refresh token has expired due to inactivity. The token was issued on "
            });
            text::push_iso7(d, AuthKind::Inactive.unusable_from(broke));
            d.extend_from_slice(b" and was inactive for 90.00:00:00.");
        }
        AuthKind::Revoked => {
            d.extend_from_slice(b"The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '");
            // The password changed when the connection broke.
            let valid_from = broke;
            text::push_iso7(d, valid_from - rng.range(DAY, 200 * DAY) * TICKS);
            d.extend_from_slice(b"' and the TokensValidFrom date (before which tokens are not valid) for this user is '");
            text::push_iso7(d, valid_from);
            d.extend_from_slice(b"'.");
        }
        AuthKind::CaBlocked => d.extend_from_slice(
            b"Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        ),
        AuthKind::Disabled => d.extend_from_slice(b"The user account is disabled."),
    }
}

/// An AADSTS failure at `at` of a connection broken by `kind` at `broke`: wrapped in the
/// token service's refresh text (the OAuth error JSON embedded, its `\r\n` escaped once)
/// or bare (`AADSTSnnnnn: ...` on one line).
pub fn auth_message(
    d: &mut Vec<u8>,
    desc: &mut Vec<u8>,
    (kind, broke): (AuthKind, u64),
    connector: &super::tenant::Connector,
    at: u64,
    wrapped: bool,
    rng: &mut Rng,
) {
    let code = u64::from(kind.code());
    desc.clear();
    desc.extend_from_slice(b"AADSTS");
    text::push_u64(desc, code);
    desc.extend_from_slice(b": ");
    describe(desc, kind, connector.resource, broke, wrapped, rng);
    if !wrapped {
        d.extend_from_slice(desc);
        d.extend_from_slice(b" Trace ID: ");
        text::push_guid(d, rng);
        d.extend_from_slice(b" Correlation ID: ");
        text::push_guid(d, rng);
        d.extend_from_slice(b" Timestamp: ");
        text::push_entra(d, at);
        return;
    }
    let mut trace = [0u8; 36];
    let mut corr = [0u8; 36];
    let mut g = Vec::with_capacity(36);
    text::push_guid(&mut g, rng);
    trace.copy_from_slice(&g);
    g.clear();
    text::push_guid(&mut g, rng);
    corr.copy_from_slice(&g);
    d.extend_from_slice(b"Failed to refresh access token for service: ");
    d.extend_from_slice(connector.service.as_bytes());
    d.extend_from_slice(b". Correlation Id=g-");
    text::push_guid(d, rng);
    d.extend_from_slice(b", UTC TimeStamp=");
    text::push_us(d, at);
    d.extend_from_slice(
        b", Error: Failed to acquire token from AAD: {\"error\":\"invalid_grant\",\"error_description\":\"",
    );
    d.extend_from_slice(desc);
    d.extend_from_slice(b"\\r\\nTrace ID: ");
    d.extend_from_slice(&trace);
    d.extend_from_slice(b"\\r\\nCorrelation ID: ");
    d.extend_from_slice(&corr);
    d.extend_from_slice(b"\\r\\nTimestamp: ");
    text::push_entra(d, at);
    d.extend_from_slice(b"\",\"error_codes\":[");
    text::push_u64(d, code);
    d.extend_from_slice(b"],\"timestamp\":\"");
    text::push_entra(d, at);
    d.extend_from_slice(b"\",\"trace_id\":\"");
    d.extend_from_slice(&trace);
    d.extend_from_slice(b"\",\"correlation_id\":\"");
    d.extend_from_slice(&corr);
    d.extend_from_slice(b"\",\"error_uri\":\"https://login.microsoftonline.com/error?code=");
    text::push_u64(d, code);
    d.extend_from_slice(b"\"}");
}

/// Append a 1-2 KB tail: a flattened .NET stack trace, or the HTML page a gateway returned.
fn long_tail(d: &mut Vec<u8>, failure: Failure, rng: &mut Rng) {
    const FRAMES: &[&str] = &[
        "Microsoft.Azure.ApiHub.Runtime.TokenProvider.RefreshAccessTokenAsync(ConnectionKey key, CancellationToken ct)",
        "Microsoft.Azure.ApiHub.Runtime.Connections.ConnectionTokenCache.GetTokenAsync(String connectionId, Boolean forceRefresh)",
        "Microsoft.Azure.ApiHub.Runtime.Handlers.AuthenticationHandler.SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)",
        "System.Net.Http.DelegatingHandler.SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)",
        "Microsoft.WindowsAzure.ResourceStack.Common.Extensions.TaskExtensions.WithTimeout[T](Task`1 task, TimeSpan timeout)",
        "Microsoft.Azure.Workflows.Data.Engines.FlowJobsDispatcher.ExecuteActionAsync(FlowActionContext context)",
        "System.Runtime.CompilerServices.TaskAwaiter.ThrowForNonSuccess(Task task)",
        "System.Runtime.CompilerServices.TaskAwaiter.HandleNonSuccessAndDebuggerNotification(Task task)",
    ];
    let target = rng.range(1000, 2000) as usize;
    let end = d.len() + target;
    if failure == Failure::BadGateway {
        d.extend_from_slice(b" Response body: <!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>502 - Web server received an invalid response while acting as a gateway or proxy server.</title><style type=\"text/css\">body{margin:0;font-size:.7em;font-family:Verdana,Arial,Helvetica,sans-serif;background:#EEEEEE;}fieldset{padding:0 15px 10px 15px;}h1{font-size:2.4em;margin:0;color:#FFF;}h2{font-size:1.7em;margin:0;color:#CC0000;}h3{font-size:1.2em;margin:10px 0 0 0;color:#000000;}</style></head><body><div id=\"header\"><h1>Server Error</h1></div><div id=\"content\"><div class=\"content-container\"><fieldset>");
        while d.len() < end {
            d.extend_from_slice(b"<h2>502 - Web server received an invalid response while acting as a gateway or proxy server.</h2><h3>There is a problem with the page you are looking for, and it cannot be displayed. When the Web server (while acting as a gateway or proxy) contacted the upstream content server, it received an invalid response from the content server.</h3>");
        }
        d.extend_from_slice(b"</fieldset></div></div></body></html>");
    } else {
        d.extend_from_slice(b" ---> System.Net.Http.HttpRequestException: Response status code does not indicate success: 401 (Unauthorized).");
        while d.len() < end {
            d.extend_from_slice(b"    at ");
            d.extend_from_slice(rng.pick(FRAMES).as_bytes());
            d.extend_from_slice(b" in D:\\a\\_work\\1\\s\\src\\Runtime\\Handlers.cs:line ");
            text::push_u64(d, 40 + rng.below(900));
        }
        d.extend_from_slice(b" --- End of inner exception stack trace ---");
    }
}

/// Rewrite the message as the pretty-printed JSON error body a person pastes from the portal:
/// several lines, with quotes.
fn multiline(d: &mut Vec<u8>, scratch: &mut Vec<u8>, code: &str) {
    scratch.clear();
    scratch.extend_from_slice(d);
    d.clear();
    d.extend_from_slice(b"{\r\n  \"error\": {\r\n    \"code\": \"");
    d.extend_from_slice(code.as_bytes());
    d.extend_from_slice(b"\",\r\n    \"message\": \"");
    text::push_json_escaped(d, scratch);
    d.extend_from_slice(b"\"\r\n  }\r\n}");
}

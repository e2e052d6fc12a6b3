//! Mapping tables: for every export kind, which CSV columns, Format-List keys and JSON paths
//! feed which normalised field. The tables are data; decoders never look up names of their
//! own. Names are compared *normalised* (ASCII letters and digits only, lower-cased), so
//! `Start time`, `start_time`, `StartTime` and ` startTime ` are one name, and the Entra
//! CSV's `Application ID ` (trailing space) needs no special case.
//!
//! A JSON path is a `/`-separated list of keys (`properties/error/message`); keys are
//! compared normalised too, so PowerShell's PascalCase and the APIs' camelCase both match.
//! The same table decides an input's kind (see [`detect`]): a kind is eligible when each of
//! its `required` groups has a matching field, and the eligible kind with the most matching
//! fields wins.

use crate::model::InputKind;

/// One normalised field and every name it goes by.
#[derive(Debug)]
pub struct FieldSpec {
    /// The name used by `--map FIELD=COLUMN`.
    pub name: &'static str,
    /// CSV headers and Format-List keys, in order of preference.
    pub columns: &'static [&'static str],
    /// Fallback for CSV headers: a header whose normalised name contains one of these.
    pub keywords: &'static [&'static str],
    /// JSON paths, `/`-separated.
    pub paths: &'static [&'static str],
}

/// The table of one export kind.
#[derive(Debug)]
pub struct KindTable {
    pub kind: InputKind,
    /// How a person names this kind in a message.
    pub label: &'static str,
    pub fields: &'static [FieldSpec],
    /// Each group lists fields of which at least one must be present.
    pub required: &'static [&'static [usize]],
    /// JSON `type` / `@odata.type` values that settle the kind (case-insensitive).
    pub types: &'static [&'static str],
    /// Substrings of a page's `@odata.context` that settle the kind (case-insensitive).
    pub contexts: &'static [&'static str],
    /// What to tell a person the kind needs, when nothing matched.
    pub needs: &'static str,
    /// Fields holding dates, looked at to decide a file's day/month order.
    pub time_fields: &'static [usize],
    /// Fields whose JSON value is an object or array kept raw for the builder; other
    /// fields are read as text only (faster).
    pub structured: &'static [usize],
}

macro_rules! fields {
    ($(#[$m:meta])* $enum:ident, $table:ident;
     $($var:ident $name:literal { cols: [$($c:literal),* $(,)?], kw: [$($k:literal),* $(,)?], json: [$($p:literal),* $(,)?] $(,)? })*) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub enum $enum { $($var),* }
        impl $enum {
            /// The field's slot index.
            pub const fn i(self) -> usize { self as usize }
        }
        pub static $table: &[FieldSpec] = &[
            $(FieldSpec { name: $name, columns: &[$($c),*], keywords: &[$($k),*], paths: &[$($p),*] }),*
        ];
    };
}

fields! {
    /// Run history fields.
    RunF, RUN_FIELDS;
    RunId "run_id" {
        cols: ["Run ID", "run_id", "Run", "Run name", "FlowRunName", "Name", "runName"],
        kw: ["runid", "runname"],
        json: ["name", "FlowRunName", "run_id", "runName", "Internal/name"],
    }
    ResourceId "resource_id" { cols: ["Id", "Resource ID"], kw: [], json: ["id", "Internal/id"] }
    FlowId "flow_id" {
        cols: ["Flow ID", "flow_id", "Workflow ID", "workflowid", "_workflow_value"],
        kw: [],
        json: ["workflowid", "_workflow_value", "flow_id", "flowId"],
    }
    FlowName "flow_name" {
        cols: ["Flow name", "flow_name", "Flow", "Flow display name", "workflowname", "Workflow name", "Workflow"],
        kw: [],
        json: ["flow_name", "workflowname", "_workflow_value@OData.Community.Display.V1.FormattedValue", "flowDisplayName"],
    }
    Environment "environment" {
        cols: ["Environment", "Environment name", "EnvironmentName", "env"],
        kw: [],
        json: ["environment", "environmentName", "properties/environment/name"],
    }
    Owner "owner" {
        cols: ["Owner", "Owner name", "owneridname", "Created by", "Run by"],
        kw: [],
        json: ["_ownerid_value@OData.Community.Display.V1.FormattedValue", "owner", "owneridname"],
    }
    OwnerId "owner_id" { cols: ["Owner ID", "ownerid", "_ownerid_value"], kw: [], json: ["_ownerid_value", "ownerid", "owner_id"] }
    Connection "connection" {
        cols: ["Connection", "Connection name", "ConnectionName", "Connection ID", "Connection reference"],
        kw: [],
        json: ["connection", "connectionName", "connectionId"],
    }
    Connector "connector" { cols: ["Connector", "Connector name", "ConnectorName", "api"], kw: [], json: ["connector", "connectorName"] }
    Trigger "trigger" {
        cols: ["Trigger", "Trigger name", "TriggerType", "Trigger type"],
        kw: [],
        json: ["properties/trigger/name", "trigger/name", "trigger", "triggertype", "Internal/properties/trigger/name"],
    }
    Status "status" {
        cols: ["Status", "Run status", "State"],
        kw: ["status"],
        json: ["properties/status", "status", "Internal/properties/status"],
    }
    Start "start" {
        cols: ["Start time", "start_time", "Start", "Started", "Start date", "Run start time", "Start time (UTC)"],
        kw: ["start"],
        json: ["properties/startTime", "starttime", "start_time", "Internal/properties/startTime"],
    }
    End "end" {
        cols: ["End time", "end_time", "End", "Ended", "Finished", "End time (UTC)"],
        kw: [],
        json: ["properties/endTime", "endtime", "end_time", "Internal/properties/endTime"],
    }
    ErrorCode "error_code" {
        cols: ["Error code", "error_code", "errorcode", "Code"],
        kw: [],
        json: ["properties/error/code", "errorcode", "error/code", "properties/code", "code", "Internal/properties/error/code"],
    }
    ErrorMessage "error_message" {
        cols: ["Error message", "error_message", "Error", "Message", "Error details", "Failure reason"],
        kw: [],
        json: ["properties/error/message", "properties/error", "errormessage", "error/message", "error", "message",
               "Internal/properties/error/message", "Internal/properties/error"],
    }
    Actions "actions" { cols: [], kw: [], json: ["properties/actions", "Internal/properties/actions"] }
    FailedAction "failed_action" {
        cols: ["Failed action", "failed_action", "Failing action", "Action"],
        kw: [],
        json: ["failed_action", "failedAction", "failingAction"],
    }
    Internal "internal" { cols: ["Internal"], kw: [], json: ["Internal", "Internal/properties"] }
}

fields! {
    /// Run action fields (Logic Apps `.../runs/{run}/actions`).
    ActF, ACTION_FIELDS;
    Action "action" { cols: ["Action", "Action name"], kw: [], json: ["action", "actionName"] }
    Name "name" { cols: ["Name"], kw: [], json: ["name"] }
    RunId "run_id" { cols: ["Run ID", "run_id", "Run"], kw: [], json: ["run_id", "runName"] }
    ResourceId "resource_id" { cols: ["Id"], kw: [], json: ["id"] }
    Status "status" { cols: ["Status"], kw: [], json: ["properties/status", "status"] }
    Code "code" { cols: ["Code", "Error code"], kw: [], json: ["properties/error/code", "error/code", "properties/code", "code"] }
    Message "message" {
        cols: ["Error message", "Message", "Error"],
        kw: [],
        json: ["properties/error/message", "properties/error", "properties/outputs/body/error/message",
               "properties/outputs/body/message", "error/message", "error", "message"],
    }
    Start "start" { cols: ["Start time", "start_time"], kw: [], json: ["properties/startTime", "startTime", "start_time"] }
    Type "type" { cols: ["Type"], kw: [], json: ["type"] }
}

fields! {
    /// Flow inventory fields.
    FlowF, FLOW_FIELDS;
    FlowId "flow_id" {
        cols: ["FlowName", "Flow ID", "flow_id", "admin_flowidstring", "Flow ID string"],
        kw: [],
        json: ["FlowName", "name", "admin_flowidstring", "flowId", "flow_id", "Internal/name"],
    }
    ResourceId "resource_id" { cols: ["Id"], kw: [], json: ["id", "Internal/id"] }
    Name "name" {
        cols: ["DisplayName", "Display name", "admin_displayname", "Flow name", "flow_name"],
        kw: [],
        json: ["DisplayName", "properties/displayName", "admin_displayname", "Internal/properties/displayName"],
    }
    Environment "environment" {
        cols: ["EnvironmentName", "Environment", "Environment name", "admin_flowenvironmentdisplayname"],
        kw: [],
        json: ["EnvironmentName", "properties/environment/name", "Internal/properties/environment/name",
               "_admin_flowenvironment_value@OData.Community.Display.V1.FormattedValue", "admin_flowenvironmentdisplayname",
               "environment"],
    }
    OwnerId "owner_id" {
        cols: ["Owner ID", "CreatedBy objectId", "_admin_flowcreator_value", "ownerid"],
        kw: [],
        json: ["CreatedBy/objectId", "CreatedBy/id", "properties/creator/objectId", "Internal/properties/creator/objectId",
               "_admin_flowcreator_value", "_ownerid_value"],
    }
    OwnerName "owner_name" {
        cols: ["Owner", "Owner name", "Created by name", "Creator"],
        kw: [],
        json: ["CreatedBy/displayName", "_admin_flowcreator_value@OData.Community.Display.V1.FormattedValue",
               "_admin_derivedowner_value@OData.Community.Display.V1.FormattedValue",
               "_ownerid_value@OData.Community.Display.V1.FormattedValue", "owner"],
    }
    OwnerUpn "owner_upn" {
        cols: ["Owner UPN", "Owner email", "Creator email"],
        kw: [],
        json: ["CreatedBy/userPrincipalName", "CreatedBy/email", "properties/creator/userPrincipalName",
               "properties/creator/email"],
    }
    CreatedBy "created_by" { cols: ["CreatedBy", "Created by"], kw: [], json: ["CreatedBy", "properties/creator"] }
    State "state" {
        cols: ["State", "admin_flowstate", "Flow state"],
        kw: [],
        json: ["properties/state", "admin_flowstate", "state", "Internal/properties/state"],
    }
    Enabled "enabled" { cols: ["Enabled"], kw: [], json: ["Enabled"] }
    Suspension "suspension_reason" {
        cols: ["Suspension reason", "admin_flowsuspensionreason", "flowSuspensionReason"],
        kw: [],
        json: ["properties/flowSuspensionReason", "admin_flowsuspensionreason", "Internal/properties/flowSuspensionReason"],
    }
    Trigger "trigger" {
        cols: ["Trigger", "cr5d5_flowtrigger", "Flow trigger"],
        kw: [],
        json: ["cr5d5_flowtrigger", "properties/definitionSummary/triggers", "Internal/properties/definitionSummary/triggers",
               "trigger"],
    }
    Created "created" {
        cols: ["CreatedTime", "Created time", "admin_flowcreatedon", "Created on"],
        kw: [],
        json: ["CreatedTime", "properties/createdTime", "admin_flowcreatedon", "Internal/properties/createdTime"],
    }
    ConnRefs "connections" {
        cols: ["Connection references", "connectionReferences", "Connections"],
        kw: [],
        json: ["properties/connectionReferences", "Internal/properties/connectionReferences", "connectionReferences"],
    }
    Internal "internal" { cols: ["Internal"], kw: [], json: ["Internal"] }
}

fields! {
    /// Connection inventory fields.
    ConnF, CONNECTION_FIELDS;
    Connection "connection" {
        cols: ["ConnectionName", "Connection name", "Connection", "name"],
        kw: [],
        json: ["ConnectionName", "name", "Internal/name"],
    }
    ConnectionId "connection_id" { cols: ["ConnectionId", "Connection ID", "Id"], kw: [], json: ["ConnectionId", "id", "Internal/id"] }
    Connector "connector" {
        cols: ["ConnectorName", "Connector", "Connector name", "FullConnectorName", "apiId"],
        kw: [],
        json: ["ConnectorName", "properties/apiId", "FullConnectorName", "properties/api/name", "properties/api/id",
               "Internal/properties/apiId", "connector"],
    }
    DisplayName "display_name" {
        cols: ["DisplayName", "Display name"],
        kw: [],
        json: ["DisplayName", "properties/displayName", "Internal/properties/displayName"],
    }
    Environment "environment" {
        cols: ["EnvironmentName", "Environment", "Environment name"],
        kw: [],
        json: ["EnvironmentName", "properties/environment/name", "Internal/properties/environment/name"],
    }
    OwnerId "owner_id" {
        cols: ["Owner ID", "CreatedBy id"],
        kw: [],
        json: ["CreatedBy/id", "CreatedBy/objectId", "properties/createdBy/id", "Internal/properties/createdBy/id"],
    }
    OwnerName "owner_name" {
        cols: ["Owner", "Owner name", "Created by name"],
        kw: [],
        json: ["CreatedBy/displayName", "properties/createdBy/displayName", "Internal/properties/createdBy/displayName"],
    }
    OwnerUpn "owner_upn" {
        cols: ["AuthenticatedUser", "Authenticated user", "Owner UPN", "Owner email"],
        kw: [],
        json: ["CreatedBy/email", "CreatedBy/userPrincipalName", "properties/createdBy/email",
               "properties/createdBy/userPrincipalName", "properties/authenticatedUser/name", "AuthenticatedUser",
               "Internal/properties/createdBy/email"],
    }
    CreatedBy "created_by" { cols: ["CreatedBy", "Created by"], kw: [], json: ["CreatedBy", "properties/createdBy"] }
    Statuses "statuses" {
        cols: ["Statuses", "StatusDetails", "Status details"],
        kw: [],
        json: ["Statuses", "properties/statuses", "StatusDetails", "Internal/properties/statuses"],
    }
    Overall "overall_status" {
        cols: ["OverallStatus", "Overall status", "Status"],
        kw: [],
        json: ["properties/overallStatus", "OverallStatus", "Internal/properties/overallStatus"],
    }
    Created "created" {
        cols: ["CreatedTime", "Created time"],
        kw: [],
        json: ["CreatedTime", "properties/createdTime", "Internal/properties/createdTime"],
    }
    LastModified "last_modified" {
        cols: ["LastModifiedTime", "Last modified time"],
        kw: [],
        json: ["LastModifiedTime", "properties/lastModifiedTime", "Internal/properties/lastModifiedTime"],
    }
    Internal "internal" { cols: ["Internal"], kw: [], json: ["Internal"] }
}

fields! {
    /// Entra sign-in fields.
    SignF, SIGNIN_FIELDS;
    Time "time" {
        cols: ["Date (UTC)", "Date", "createdDateTime", "TimeGenerated", "Date/time"],
        kw: [],
        json: ["createdDateTime", "TimeGenerated"],
    }
    RequestId "request_id" { cols: ["Request ID", "Id", "OriginalRequestId"], kw: [], json: ["id", "OriginalRequestId"] }
    CorrelationId "correlation_id" { cols: ["Correlation ID"], kw: [], json: ["correlationId"] }
    UserId "user_id" { cols: ["User ID"], kw: [], json: ["userId"] }
    UserUpn "user_upn" { cols: ["Username", "User principal name", "UPN"], kw: [], json: ["userPrincipalName"] }
    UserName "user_name" { cols: ["User", "User display name", "userDisplayName"], kw: [], json: ["userDisplayName"] }
    App "app" { cols: ["Application", "appDisplayName", "Application name"], kw: [], json: ["appDisplayName"] }
    AppId "app_id" { cols: ["Application ID", "appId"], kw: [], json: ["appId"] }
    Resource "resource" { cols: ["Resource", "resourceDisplayName"], kw: [], json: ["resourceDisplayName"] }
    ResourceId "resource_id" { cols: ["Resource ID", "ResourceIdentity"], kw: [], json: ["resourceId"] }
    ResourceIdentity "resource_identity" { cols: [], kw: [], json: ["ResourceIdentity"] }
    ErrorCode "error_code" {
        cols: ["Sign-in error code", "Error code", "ResultType", "status.errorCode"],
        kw: [],
        json: ["status/errorCode", "ResultType", "errorCode"],
    }
    Failure "failure_reason" {
        cols: ["Failure reason", "ResultDescription", "status.failureReason"],
        kw: [],
        json: ["status/failureReason", "ResultDescription"],
    }
    StatusText "status" { cols: ["Status"], kw: [], json: ["status"] }
    CaStatus "ca_status" {
        cols: ["Conditional Access", "conditionalAccessStatus", "Conditional access status"],
        kw: [],
        json: ["conditionalAccessStatus"],
    }
    Policies "policies" {
        cols: ["ConditionalAccessPolicies", "appliedConditionalAccessPolicies", "Conditional access policies"],
        kw: [],
        json: ["appliedConditionalAccessPolicies", "appliedConditionalAccessPolicy", "ConditionalAccessPolicies"],
    }
    ClientApp "client_app" { cols: ["Client app", "clientAppUsed"], kw: [], json: ["clientAppUsed"] }
    DeviceName "device" { cols: ["Device name"], kw: [], json: ["deviceDetail/displayName"] }
    DeviceId "device_id" { cols: ["Device ID"], kw: [], json: ["deviceDetail/deviceId"] }
    DeviceOs "device_os" { cols: ["Operating System"], kw: [], json: ["deviceDetail/operatingSystem"] }
    DeviceDetail "device_detail" { cols: ["DeviceDetail"], kw: [], json: ["deviceDetail"] }
    Location "location" { cols: ["Location"], kw: [], json: ["location"] }
    LocCity "city" { cols: [], kw: [], json: ["location/city", "LocationDetails/city"] }
    LocState "state" { cols: [], kw: [], json: ["location/state", "LocationDetails/state"] }
    LocCountry "country" { cols: [], kw: [], json: ["location/countryOrRegion", "LocationDetails/countryOrRegion"] }
    Ip "ip" { cols: ["IP address", "ipAddress"], kw: [], json: ["ipAddress"] }
    Interactive "interactive" { cols: ["Is interactive", "isInteractive"], kw: [], json: ["isInteractive"] }
}

fields! {
    /// Token lifetime policy fields.
    PolF, POLICY_FIELDS;
    Id "id" { cols: ["Id"], kw: [], json: ["id"] }
    DisplayName "display_name" { cols: ["DisplayName", "Display name"], kw: [], json: ["displayName"] }
    IsDefault "is_organization_default" { cols: ["IsOrganizationDefault"], kw: [], json: ["isOrganizationDefault"] }
    Definition "definition" { cols: ["Definition"], kw: [], json: ["definition"] }
    Type "type" { cols: ["Type", "OdataType"], kw: [], json: ["type", "@odata.type"] }
}

/// Every table, in the order ties are broken.
pub static TABLES: &[KindTable] = &[
    KindTable {
        kind: InputKind::RunHistory,
        label: "run history",
        fields: RUN_FIELDS,
        required: &[&[RunF::Status.i()], &[RunF::Start.i(), RunF::RunId.i()]],
        types: &[
            "Microsoft.ProcessSimple/environments/flows/runs",
            "Microsoft.Logic/workflows/runs",
        ],
        contexts: &["flowruns", "/runs"],
        needs: "a status column or field with a start time or run id (Status, Start time, Run ID / name)",
        time_fields: &[RunF::Start.i(), RunF::End.i()],
        structured: &[RunF::Actions.i()],
    },
    KindTable {
        kind: InputKind::RunActions,
        label: "run actions",
        fields: ACTION_FIELDS,
        required: &[&[ActF::Action.i()], &[ActF::Status.i()]],
        types: &["Microsoft.Logic/workflows/runs/actions"],
        contexts: &["/actions"],
        needs: "type Microsoft.Logic/workflows/runs/actions or ids ending in /runs/{run}/actions/{name}",
        time_fields: &[ActF::Start.i()],
        structured: &[ActF::Message.i()],
    },
    KindTable {
        kind: InputKind::FlowInventory,
        label: "flow inventory",
        fields: FLOW_FIELDS,
        required: &[
            &[FlowF::FlowId.i(), FlowF::ResourceId.i()],
            &[
                FlowF::Name.i(),
                FlowF::ConnRefs.i(),
                FlowF::State.i(),
                FlowF::Enabled.i(),
                FlowF::Trigger.i(),
            ],
        ],
        types: &[
            "Microsoft.ProcessSimple/environments/flows",
            "Microsoft.Logic/workflows",
            "Microsoft.Flow/flows",
        ],
        contexts: &["admin_flows", "/flows"],
        needs: "a flow id with a display name, state or connection references (FlowName, DisplayName, admin_flowidstring)",
        time_fields: &[FlowF::Created.i()],
        structured: &[
            FlowF::Trigger.i(),
            FlowF::ConnRefs.i(),
            FlowF::CreatedBy.i(),
        ],
    },
    KindTable {
        kind: InputKind::ConnectionInventory,
        label: "connection inventory",
        fields: CONNECTION_FIELDS,
        required: &[
            &[ConnF::Connection.i(), ConnF::ConnectionId.i()],
            &[
                ConnF::Statuses.i(),
                ConnF::Overall.i(),
                ConnF::Connector.i(),
            ],
        ],
        types: &[
            "Microsoft.PowerApps/apis/connections",
            "Microsoft.Web/connections",
        ],
        contexts: &["/connections"],
        needs: "a connection name with statuses or a connector (ConnectionName, ConnectorName, Statuses)",
        time_fields: &[ConnF::Created.i(), ConnF::LastModified.i()],
        structured: &[ConnF::Statuses.i(), ConnF::CreatedBy.i()],
    },
    KindTable {
        kind: InputKind::SignInLog,
        label: "sign-in log",
        fields: SIGNIN_FIELDS,
        required: &[
            &[SignF::Time.i()],
            &[
                SignF::ErrorCode.i(),
                SignF::CaStatus.i(),
                SignF::Failure.i(),
                SignF::Policies.i(),
            ],
        ],
        types: &[
            "#microsoft.graph.signIn",
            "SigninLogs",
            "AADNonInteractiveUserSignInLogs",
        ],
        contexts: &["signins"],
        needs: "a sign-in date with an error code or conditional access status (Date (UTC), Sign-in error code, ResultType)",
        time_fields: &[SignF::Time.i()],
        structured: &[
            SignF::Policies.i(),
            SignF::DeviceDetail.i(),
            SignF::StatusText.i(),
        ],
    },
    KindTable {
        kind: InputKind::TokenPolicy,
        label: "token policy",
        fields: POLICY_FIELDS,
        required: &[&[PolF::Definition.i()]],
        types: &[
            "#microsoft.graph.tokenLifetimePolicy",
            "TokenLifetimePolicy",
        ],
        contexts: &["tokenlifetimepolicies"],
        needs: "a Definition holding TokenLifetimePolicy JSON",
        time_fields: &[],
        structured: &[PolF::Definition.i()],
    },
];

/// The table of a kind.
pub fn table(kind: InputKind) -> &'static KindTable {
    TABLES
        .iter()
        .find(|t| t.kind == kind)
        .expect("every kind has a table")
}

/// The `--map` field names of a kind, for help and error messages.
pub fn field_names(kind: InputKind) -> Vec<&'static str> {
    table(kind).fields.iter().map(|f| f.name).collect()
}

/// The largest number of fields of any table: the size of a record's slot array.
pub const MAX_FIELDS: usize = 32;

/// Normalise a name: ASCII letters and digits only, lower-cased.
pub fn norm(name: &str) -> String {
    name.bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_lowercase() as char)
        .collect()
}

/// Compare a raw name with an already normalised one without allocating.
#[inline]
pub fn norm_eq(raw: &[u8], normed: &[u8]) -> bool {
    let mut j = 0;
    for &b in raw {
        if b.is_ascii_alphanumeric() {
            if j >= normed.len() || b.to_ascii_lowercase() != normed[j] {
                return false;
            }
            j += 1;
        }
    }
    j == normed.len()
}

/// Normalise a `/`-separated path.
pub fn norm_path(path: &str) -> Vec<String> {
    path.split('/')
        .map(norm)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Normalise a path given on `--map`: `/`-separated, or `.`-separated when it has no `/`.
pub fn norm_user_path(path: &str) -> Vec<String> {
    if path.contains('/') {
        norm_path(path)
    } else {
        path.split('.')
            .map(norm)
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// What a detector sees of an input: names (CSV headers, Format-List keys, JSON paths,
/// normalised and `/`-joined) and, for JSON, a few settling values.
#[derive(Debug, Default)]
pub struct Evidence {
    pub names: Vec<String>,
    /// Whether `names` are JSON paths (else column names).
    pub json: bool,
    /// `type` / `@odata.type` values.
    pub types: Vec<String>,
    /// `@odata.context` of the page.
    pub context: Option<String>,
    /// ARM-style `id` of the first record.
    pub id: Option<String>,
}

/// Which fields of `table` the evidence has.
pub fn matched_fields(table: &KindTable, ev: &Evidence) -> Vec<bool> {
    table
        .fields
        .iter()
        .map(|f| {
            if ev.json {
                f.paths
                    .iter()
                    .any(|p| ev.names.contains(&norm_path(p).join("/")))
            } else {
                f.columns.iter().any(|c| ev.names.contains(&norm(c)))
                    || f.keywords
                        .iter()
                        .any(|k| ev.names.iter().any(|n| n.contains(k)))
            }
        })
        .collect()
}

/// Decide the kind from the evidence, or `None`.
pub fn detect(ev: &Evidence) -> Option<InputKind> {
    // Settling values first: an ARM id or type, then the page's context.
    if let Some(id) = &ev.id {
        let l = id.to_ascii_lowercase();
        if l.contains("/runs/") && l.contains("/actions/") {
            return Some(InputKind::RunActions);
        }
    }
    for t in &ev.types {
        if let Some(table) = TABLES
            .iter()
            .find(|k| k.types.iter().any(|x| x.eq_ignore_ascii_case(t)))
        {
            return Some(table.kind);
        }
    }
    if let Some(ctx) = &ev.context {
        let l = ctx.to_ascii_lowercase();
        // Most specific first: `.../runs/{run}/actions` before `/runs`.
        for kind in [
            InputKind::RunActions,
            InputKind::TokenPolicy,
            InputKind::SignInLog,
            InputKind::ConnectionInventory,
            InputKind::RunHistory,
            InputKind::FlowInventory,
        ] {
            if table(kind).contexts.iter().any(|c| l.contains(c)) {
                return Some(kind);
            }
        }
    }
    let mut best: Option<(usize, InputKind)> = None;
    for table in TABLES {
        let m = matched_fields(table, ev);
        let eligible = table.required.iter().all(|g| g.iter().any(|&i| m[i]));
        if !eligible {
            continue;
        }
        let score = m.iter().filter(|&&b| b).count();
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, table.kind));
        }
    }
    best.map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_fit_the_slot_array() {
        for t in TABLES {
            assert!(t.fields.len() <= MAX_FIELDS, "{}", t.label);
            for g in t.required {
                for &i in *g {
                    assert!(i < t.fields.len());
                }
            }
        }
    }

    #[test]
    fn normalisation() {
        assert_eq!(norm("Application ID "), "applicationid");
        assert_eq!(norm("Sign-in error code"), "signinerrorcode");
        assert!(norm_eq(b"start_time", b"starttime"));
        assert!(norm_eq(b"StartTime", b"starttime"));
        assert!(!norm_eq(b"StartTimes", b"starttime"));
        assert_eq!(
            norm_user_path("properties.status"),
            vec!["properties", "status"]
        );
        assert_eq!(norm_path("properties/status"), vec!["properties", "status"]);
        assert_eq!(
            norm_path("_ownerid_value@OData.Community.Display.V1.FormattedValue").len(),
            1
        );
    }

    fn cols(names: &[&str]) -> Evidence {
        Evidence {
            names: names.iter().map(|n| norm(n)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn detects_csv_kinds() {
        let runs = cols(&["Run ID", "Start time", "Duration", "Status"]);
        assert_eq!(detect(&runs), Some(InputKind::RunHistory));
        let dv = cols(&["Name", "Start time", "Status", "Error code", "Workflow ID"]);
        assert_eq!(detect(&dv), Some(InputKind::RunHistory));
        let sign = cols(&[
            "Date (UTC)",
            "Request ID",
            "User",
            "Username",
            "Application ID ",
            "Status",
            "Sign-in error code",
            "Conditional Access",
        ]);
        assert_eq!(detect(&sign), Some(InputKind::SignInLog));
        let conns = cols(&["ConnectionName", "ConnectorName", "DisplayName", "Statuses"]);
        assert_eq!(detect(&conns), Some(InputKind::ConnectionInventory));
        let flows = cols(&[
            "FlowName",
            "Enabled",
            "DisplayName",
            "CreatedBy",
            "Internal",
        ]);
        assert_eq!(detect(&flows), Some(InputKind::FlowInventory));
        assert_eq!(detect(&cols(&["a", "b"])), None);
    }
}

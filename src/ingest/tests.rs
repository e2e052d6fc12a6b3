//! Tests of the whole ingest path: sniff then fold, on the examples of
//! `reference/formats.md`, the sample exports, encodings, chunk boundaries and bad data.

use super::*;
use crate::model::{
    ConnectionStatus, EvidenceSource, Malformed, Position, RunRecord, RunStatus, Text,
};
use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

/// An item with nothing borrowed, so tests can keep it.
#[derive(Clone, Debug, PartialEq)]
enum Owned {
    Run(RunRecord<'static>),
    Other(Item<'static>),
}

fn own_cow(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    c.map(|c| Cow::Owned(c.into_owned()))
}

fn own(item: Item<'_>) -> Owned {
    match item {
        Item::Run(r) => Owned::Run(RunRecord {
            run_id: own_cow(r.run_id),
            flow_id: own_cow(r.flow_id),
            flow_name: own_cow(r.flow_name),
            environment: own_cow(r.environment),
            owner: own_cow(r.owner),
            connection: own_cow(r.connection),
            connector: own_cow(r.connector),
            trigger: own_cow(r.trigger),
            status: r.status,
            time: r.time,
            texts: r
                .texts
                .into_iter()
                .map(|t| Text {
                    source: t.source,
                    action: own_cow(t.action),
                    code: own_cow(t.code),
                    text: Cow::Owned(t.text.into_owned()),
                })
                .collect(),
            position: r.position,
        }),
        Item::Action(a) => Owned::Other(Item::Action(a)),
        Item::Flow(f) => Owned::Other(Item::Flow(f)),
        Item::Connection(c) => Owned::Other(Item::Connection(c)),
        Item::SignIn(s) => Owned::Other(Item::SignIn(s)),
        Item::Policy(p) => Owned::Other(Item::Policy(p)),
        Item::Malformed(m) => Owned::Other(Item::Malformed(m)),
    }
}

fn position(o: &Owned) -> Position {
    match o {
        Owned::Run(r) => r.position.clone(),
        Owned::Other(Item::Malformed(m)) => m.position.clone(),
        Owned::Other(_) => Position::File,
    }
}

/// Everything decoded from an input, runs in file order.
#[derive(Debug, Default)]
struct Decoded {
    runs: Vec<RunRecord<'static>>,
    others: Vec<Item<'static>>,
    malformed: Vec<Malformed>,
}

fn decode_input(input: &Input, opts: &IngestOptions) -> Decoded {
    let accs = fold(input, opts, Vec::new, |acc: &mut Vec<Owned>, item| {
        acc.push(own(item))
    })
    .unwrap();
    let mut all: Vec<Owned> = accs.into_iter().flatten().collect();
    all.sort_by_key(position);
    let mut d = Decoded::default();
    for o in all {
        match o {
            Owned::Run(r) => d.runs.push(r),
            Owned::Other(Item::Malformed(m)) => d.malformed.push(m),
            Owned::Other(i) => d.others.push(i),
        }
    }
    d
}

fn source(path: &Path) -> Source {
    let (mut s, _) = discover(&[path.to_path_buf()]).unwrap();
    s.remove(0)
}

fn decode_path(path: &Path) -> (Input, Decoded) {
    let input = sniff(source(path), &Overrides::default()).unwrap();
    let d = decode_input(&input, &IngestOptions::default());
    (input, d)
}

fn write(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

fn decode_bytes(name: &str, data: &[u8]) -> (Input, Decoded) {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), name, data);
    decode_path(&p)
}

fn ts(s: &str) -> Option<i64> {
    crate::time::parse(s, DateOrder::Auto)
}

fn texts(r: &RunRecord<'_>) -> Vec<(EvidenceSource, Option<String>, Option<String>, String)> {
    r.texts
        .iter()
        .map(|t| {
            (
                t.source,
                t.action.as_deref().map(str::to_string),
                t.code.as_deref().map(str::to_string),
                t.text.to_string(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// formats.md examples.

const FLOW_RUN_2A: &str = r#"{"name": "08585329114263413369372385226CU17",
 "id": "/providers/Microsoft.ProcessSimple/environments/Default-de348bc7-1aeb-4406-8cb3-97db021cadb4/flows/170fb67e-a514-4d84-8727-582022bd13a9/runs/08585329114263413369372385226CU17",
 "type": "Microsoft.ProcessSimple/environments/flows/runs",
 "properties": {
   "startTime": "2022-11-17T14:30:59.2453442Z", "endTime": "2022-11-17T14:30:59.9036291Z",
   "status": "Failed", "code": "ActionFailed",
   "error": {"code": "ActionFailed", "message": "An action failed. No dependent actions succeeded."},
   "correlation": {"clientTrackingId": "08585329114263413370372385226CU09"},
   "trigger": {"name": "When_a_new_response_is_submitted",
     "inputsLink": {"uri": "https://prod-08.centralindia.logic.azure.com:443/workflows/f7bf/runs/0858/contents/TriggerInputs?api-version=2016-06-01&se=x&sig=y",
                    "contentVersion": "6ZrBBE+MJg7IvhMgyJLMmA==", "contentSize": 349, "contentHash": {"algorithm": "md5", "value": "6ZrBBE+MJg7IvhMgyJLMmA=="}},
     "startTime": "2022-11-17T14:30:59.1292588Z", "endTime": "2022-11-17T14:30:59.1292588Z",
     "originHistoryName": "08585329114263413370372385226CU09",
     "correlation": {"clientTrackingId": "08585329114263413370372385226CU09"}, "status": "Succeeded"}}}"#;

#[test]
fn flow_api_run_2a_in_a_page() {
    let page = format!(
        "{{\"value\": [{FLOW_RUN_2A}], \"nextLink\": \"https://api.flow.microsoft.com/x?$skiptoken=1\"}}"
    );
    let (input, d) = decode_bytes("runs.json", page.as_bytes());
    assert_eq!(
        (input.kind, input.format),
        (InputKind::RunHistory, InputFormat::Json)
    );
    assert!(d.malformed.is_empty(), "{:?}", d.malformed);
    let r = &d.runs[0];
    assert_eq!(
        r.run_id.as_deref(),
        Some("08585329114263413369372385226CU17")
    );
    assert_eq!(
        r.flow_id.as_deref(),
        Some("170fb67e-a514-4d84-8727-582022bd13a9")
    );
    assert_eq!(
        r.environment.as_deref(),
        Some("Default-de348bc7-1aeb-4406-8cb3-97db021cadb4")
    );
    assert_eq!(
        r.trigger.as_deref(),
        Some("When_a_new_response_is_submitted")
    );
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(r.time, ts("2022-11-17T14:30:59Z"));
    assert_eq!(
        texts(r),
        [(
            EvidenceSource::RunError,
            None,
            Some("ActionFailed".into()),
            "An action failed. No dependent actions succeeded.".into()
        )]
    );
    assert_eq!(r.position, Position::Record(1));
}

#[test]
fn flow_run_with_expanded_actions_keeps_failed_action_texts() {
    let run = r#"[{"name":"0858CU01","id":"/providers/Microsoft.ProcessSimple/environments/Default-1/flows/92816e4a-79b1-47c8-87fc-3e9df47f7494/runs/0858CU01",
      "properties":{"status":"Failed","startTime":"2024-05-02T06:15:00Z",
       "error":{"code":"ActionFailed","message":"An action failed. No dependent actions succeeded."},
       "actions":{
         "Get_items":{"status":"Succeeded","code":"OK"},
         "Send_an_email_(V2)":{"status":"Failed","code":"Unauthorized",
            "error":{"code":"Unauthorized","message":"Failed to refresh access token for service: office365. Error: AADSTS50076: Due to a configuration change"},
            "outputs":{"statusCode":401,"body":{"status":401,"message":"Failed to refresh access token for service: office365. Error: AADSTS50076: Due to a configuration change",
                       "error":{"message":"Failed to refresh access token for service: office365. Error: AADSTS50076: Due to a configuration change"}}}},
         "Post_message":{"status":"Failed","code":"BadRequest","outputs":{"body":{"error":{"code":400,"message":"The response is not in a JSON format."}}}}
       }}}]"#;
    let (_, d) = decode_bytes("run.json", run.as_bytes());
    let t = texts(&d.runs[0]);
    assert_eq!(t.len(), 3, "{t:#?}");
    assert_eq!(t[0].0, EvidenceSource::RunError);
    assert_eq!(
        (t[1].0, t[1].1.as_deref(), t[1].2.as_deref()),
        (
            EvidenceSource::ActionError,
            Some("Send_an_email_(V2)"),
            Some("Unauthorized")
        )
    );
    assert!(t[1].3.contains("AADSTS50076"));
    assert_eq!(t[2].1.as_deref(), Some("Post_message"));
    assert_eq!(t[2].2.as_deref(), Some("400"));
    assert_eq!(t[2].3, "The response is not in a JSON format.");
}

#[test]
fn logic_apps_runs_and_actions_2b() {
    let page = r#"{"value": [{
  "properties": {
    "waitEndTime": "2018-08-10T20:16:32.044238Z", "startTime": "2018-08-10T20:16:32.044238Z",
    "endTime": "2018-08-10T20:16:32.5779999Z", "status": "Succeeded",
    "correlation": {"clientTrackingId": "08586676746934337772206998657CU22"},
    "workflow": {"id": "/subscriptions/34adfa4f/providers/Microsoft.Logic/workflows/test-workflow/versions/08586676754160363885",
                 "name": "08586676754160363885", "type": "Microsoft.Logic/workflows/versions"},
    "trigger": {"name": "Recurrence", "startTime": "2018-08-10T20:16:32.0387927Z", "endTime": "2018-08-10T20:16:32.0387927Z",
                "scheduledTime": "2018-08-10T20:16:31.6344174Z",
                "correlation": {"clientTrackingId": "08586676746934337772206998657CU22"}, "code": "OK", "status": "Succeeded"},
    "outputs": {}},
  "id": "/subscriptions/34adfa4f/resourceGroups/rg/providers/Microsoft.Logic/workflows/test-workflow/runs/08586676746934337772206998657CU22",
  "name": "08586676746934337772206998657CU22",
  "type": "Microsoft.Logic/workflows/runs"}]}"#;
    let (input, d) = decode_bytes("la.json", page.as_bytes());
    assert_eq!(input.kind, InputKind::RunHistory);
    let r = &d.runs[0];
    assert_eq!(
        r.run_id.as_deref(),
        Some("08586676746934337772206998657CU22")
    );
    assert_eq!(r.flow_id.as_deref(), Some("test-workflow"));
    assert_eq!(r.flow_name.as_deref(), Some("test-workflow"));
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(r.trigger.as_deref(), Some("Recurrence"));
    assert!(r.texts.is_empty());

    let actions = r#"{"value":[{"properties": {
   "inputsLink":  {"uri": "https://tempuri.org", "contentVersion": "5XUACojv0aBfuP56os3CWw==", "contentSize": 46, "contentHash": {"algorithm": "md5", "value": "XXUACojv0aBfuP56os3CWw=="}},
   "startTime": "2018-08-10T20:16:32.305236Z", "endTime": "2018-08-10T20:16:32.5450625Z",
   "correlation": {"actionTrackingId": "56063357-45dd-4278-9be5-8220ce0cc9ca", "clientTrackingId": "08586676746934337772206998657CU22"},
   "status": "Succeeded", "code": "OK"},
 "id": "/subscriptions/x/workflows/test-workflow/runs/08586676746934337772206998657CU22/actions/HTTP",
 "name": "HTTP", "type": "Microsoft.Logic/workflows/runs/actions"},
 {"name": "Send_an_email_(V2)", "type": "Microsoft.Logic/workflows/runs/actions", "id": "/subscriptions/x/workflows/w/runs/08584CU12/actions/Send_an_email_(V2)", "properties": {"status": "Failed",
"code": "Unauthorized", "startTime": "2024-05-02T06:01:12.1234567Z", "endTime": "2024-05-02T06:01:12.9876543Z",
"error": {"code": "Unauthorized", "message": "Failed to refresh access token for service: office365."}}}]}"#;
    let (input, d) = decode_bytes("actions.json", actions.as_bytes());
    assert_eq!(input.kind, InputKind::RunActions);
    let acts: Vec<_> = d
        .others
        .iter()
        .map(|i| match i {
            Item::Action(a) => a.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(acts.len(), 2);
    assert_eq!(acts[0].run_id, "08586676746934337772206998657CU22");
    assert_eq!(acts[0].action, "HTTP");
    assert_eq!(acts[0].status, RunStatus::Succeeded);
    assert_eq!(acts[1].run_id, "08584CU12");
    assert_eq!(acts[1].status, RunStatus::Failed);
    assert_eq!(acts[1].code.as_deref(), Some("Unauthorized"));
    assert_eq!(
        acts[1].message.as_deref(),
        Some("Failed to refresh access token for service: office365.")
    );
    assert_eq!(acts[1].start, ts("2024-05-02T06:01:12Z"));
}

#[test]
fn dataverse_flowrun_web_api_3() {
    let page = r#"{"@odata.context": "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#flowruns(name,starttime)",
 "value": [{
   "flowrunid": "5b0e6c57-3a1f-4b8e-9e52-0f2f2a7f9a11", "name": "08584917134229837167098637545CU67",
   "starttime": "2024-03-08T10:24:22Z", "endtime": "2024-03-08T10:24:25Z", "duration": 3120,
   "status": "Failed", "triggertype": "Scheduled", "errorcode": "ActionFailed",
   "errormessage": "{\"code\":\"ActionFailed\",\"message\":\"An action failed. No dependent actions succeeded.\",\"messageTemplate\":\"An action failed. No dependent actions succeeded.\"}",
   "workflowid": "a18e89d1-4c75-41e4-9517-e90aedc079be", "workflowname": "Invoicing flow",
   "_ownerid_value": "9723d9b0-b8d6-48af-b381-fb4a9f0403e4",
   "_ownerid_value@OData.Community.Display.V1.FormattedValue": "Adele Vance",
   "isprimary": 1, "parentrunid": null,
   "partitionid": "9723d9b0-b8d6-48af-b381-fb4a9f0403e4", "ttlinseconds": 2419200}],
 "@odata.nextLink": "https://contoso.crm.dynamics.com/api/data/v9.2/flowruns?$skiptoken=x"}"#;
    let (input, d) = decode_bytes("flowruns.json", page.as_bytes());
    assert_eq!(input.kind, InputKind::RunHistory);
    let r = &d.runs[0];
    assert_eq!(
        r.run_id.as_deref(),
        Some("08584917134229837167098637545CU67")
    );
    assert_eq!(
        r.flow_id.as_deref(),
        Some("a18e89d1-4c75-41e4-9517-e90aedc079be")
    );
    assert_eq!(r.flow_name.as_deref(), Some("Invoicing flow"));
    assert_eq!(r.owner.as_deref(), Some("Adele Vance"));
    assert_eq!(r.trigger.as_deref(), Some("Scheduled"));
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(r.time, ts("2024-03-08T10:24:22Z"));
    assert_eq!(
        texts(r),
        [(
            EvidenceSource::RunError,
            None,
            Some("ActionFailed".into()),
            "An action failed. No dependent actions succeeded.".into()
        )]
    );
}

#[test]
fn get_flowrun_export_csv_4() {
    let csv = "\"FlowRunName\",\"Status\",\"StartTime\",\"Internal\"\n\"08585329114263413369372385226CU17\",\"Failed\",\"2022-11-17T14:30:59.2453442Z\",\"@{name=08585329114263413369372385226CU17; id=/providers/Microsoft.ProcessSimple/environments/Default-de34/flows/170fb67e-a514-4d84-8727-582022bd13a9/runs/08585329114263413369372385226CU17; type=Microsoft.ProcessSimple/environments/flows/runs; properties=}\"\n";
    let (input, d) = decode_bytes("flowruns.csv", csv.as_bytes());
    assert_eq!(
        (input.kind, input.format),
        (InputKind::RunHistory, InputFormat::Csv)
    );
    let r = &d.runs[0];
    assert_eq!(
        r.run_id.as_deref(),
        Some("08585329114263413369372385226CU17")
    );
    assert_eq!(
        r.flow_id.as_deref(),
        Some("170fb67e-a514-4d84-8727-582022bd13a9")
    );
    assert_eq!(r.environment.as_deref(), Some("Default-de34"));
    assert_eq!(r.flow_name, None);
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(r.position, Position::Line(2));
}

#[test]
fn connection_inventory_4() {
    let json = r#"[{"ConnectionName": "shared-office365-19528cc4-23c1-4b39-abea-f010eb9fe3f9",
 "ConnectionId": "/providers/Microsoft.PowerApps/apis/shared_office365/connections/shared-office365-19528cc4-23c1-4b39-abea-f010eb9fe3f9",
 "FullConnectorName": "/providers/Microsoft.PowerApps/apis/shared_office365",
 "ConnectorName": "shared_office365", "DisplayName": "adele.vance@contoso.com",
 "CreatedTime": "2024-01-09T08:12:44.1234567Z",
 "CreatedBy": {"id": "9723d9b0-b8d6-48af-b381-fb4a9f0403e4", "displayName": "Adele Vance", "email": "adele.vance@contoso.com", "type": "User", "tenantId": "1e852b49"},
 "LastModifiedTime": "2024-05-02T06:01:13.0000000Z",
 "EnvironmentName": "Default-1e852b49-bf4b-4ba5-bcd4-a8c4706c8ed4",
 "Statuses": [{"status": "Error", "target": "token",
               "error": "@{code=Unauthorized; message=Failed to refresh access token for service: office365. Correlation Id=g-1, UTC TimeStamp=5/2/2024 6:01:13 AM, Error: AADSTS50076: ...}"}],
 "Internal": {"name": "shared-office365-19528cc4", "id": "/providers/x", "type": "Microsoft.PowerApps/apis/connections",
              "properties": {"apiId": "/providers/Microsoft.PowerApps/apis/shared_office365", "statuses": "System.Object[]"}}}]"#;
    let (input, d) = decode_bytes("connections.json", json.as_bytes());
    assert_eq!(input.kind, InputKind::ConnectionInventory);
    let Item::Connection(c) = &d.others[0] else {
        panic!()
    };
    assert_eq!(
        c.connection,
        "shared-office365-19528cc4-23c1-4b39-abea-f010eb9fe3f9"
    );
    assert_eq!(c.connector.as_deref(), Some("shared_office365"));
    assert_eq!(c.display_name.as_deref(), Some("adele.vance@contoso.com"));
    assert_eq!(
        c.environment.as_deref(),
        Some("Default-1e852b49-bf4b-4ba5-bcd4-a8c4706c8ed4")
    );
    assert_eq!(
        c.owner_id.as_deref(),
        Some("9723d9b0-b8d6-48af-b381-fb4a9f0403e4")
    );
    assert_eq!(c.owner_name.as_deref(), Some("Adele Vance"));
    assert_eq!(c.owner_upn.as_deref(), Some("adele.vance@contoso.com"));
    assert_eq!(c.status, ConnectionStatus::Error);
    assert_eq!(c.error_code.as_deref(), Some("Unauthorized"));
    assert!(
        c.error_message
            .as_deref()
            .unwrap()
            .ends_with("AADSTS50076: ...")
    );
    assert_eq!(c.created, ts("2024-01-09T08:12:44Z"));

    // Export-Csv of the same cmdlet: arrays become `System.Object[]`.
    let csv = "\"ConnectionName\",\"ConnectorName\",\"DisplayName\",\"Statuses\"\n\"shared-office365-1\",\"shared_office365\",\"a@b\",\"System.Object[]\"\n";
    let (input, d) = decode_bytes("conns.csv", csv.as_bytes());
    assert_eq!(input.kind, InputKind::ConnectionInventory);
    let Item::Connection(c) = &d.others[0] else {
        panic!()
    };
    assert_eq!(c.status, ConnectionStatus::Unknown);
}

#[test]
fn logic_apps_api_connection_format_list() {
    let text = "name              : office365\nDisplayName       : MyPersonalConnection\nAuthenticatedUser :\nOverallStatus     : Error\nStatusDetails     : { \"status\": \"Error\", \"target\": \"token\",\n                      \"error\": { \"code\": \"Unauthenticated\", \"message\": \"This connection is not authenticated.\" } }\n";
    let (input, d) = decode_bytes("conn.txt", text.as_bytes());
    assert_eq!(
        (input.kind, input.format),
        (InputKind::ConnectionInventory, InputFormat::Text)
    );
    let Item::Connection(c) = &d.others[0] else {
        panic!("{d:?}")
    };
    assert_eq!(c.connection, "office365");
    assert_eq!(c.status, ConnectionStatus::Error);
    assert_eq!(c.error_code.as_deref(), Some("Unauthenticated"));
    assert_eq!(
        c.error_message.as_deref(),
        Some("This connection is not authenticated.")
    );
}

const SIGNIN_HEADER: &str = "Date (UTC),Request ID,User agent,Correlation ID,User ID,User,Username,User type,Cross tenant access type,Incoming token type,Authentication Protocol,Unique token identifier,Original transfer method,Client credential type,Token Protection - Sign In Session,Token Protection - Sign In Session StatusCode,Application,Application ID ,App owner tenant ID,Resource,Resource ID ,Resource tenant ID,Resource owner tenant ID,Home tenant ID,Home tenant name,IP address,Location,Status,Sign-in error code,Failure reason,Client app,Device ID,Browser,Operating System,Compliant,Managed,Join Type,Multifactor authentication result,Multifactor authentication auth method,Multifactor authentication auth detail,Authentication requirement,Sign-in identifier,Session ID,IP address (seen by resource),Through Global Secure Access,Global Secure Access IP address,Autonomous system  number,Flagged for review,Token issuer type,Incoming token type,Token issuer name,Latency,Conditional Access,Managed Identity type,Associated Resource Id,Federated Token Id,Federated Token Issuer";

#[test]
fn entra_sign_in_csv_6a() {
    let n = SIGNIN_HEADER.split(',').count();
    let mut cells = vec![String::new(); n];
    let names: Vec<&str> = SIGNIN_HEADER.split(',').collect();
    let mut put = |name: &str, v: &str| {
        let i = names.iter().position(|h| h.trim() == name).unwrap();
        cells[i] = v.to_string();
    };
    put("Date (UTC)", "2024-05-02T06:01:12Z");
    put("Request ID", "6f2a9d1e-1c11-4a7e-9a61-2b5f3c4d1200");
    put("Correlation ID", "52b391c3-9c1d-42c7-99f3-a219b7675aee");
    put("User ID", "9723d9b0-b8d6-48af-b381-fb4a9f0403e4");
    put("User", "Adele Vance");
    put("Username", "adele.vance@contoso.com");
    put("Application", "Microsoft Flow Service");
    put("Application ID", "7df0a125-d3be-4c96-aa54-591f83ff541c");
    put("Resource", "Office 365 Exchange Online");
    put("Resource ID", "00000002-0000-0ff1-ce00-000000000000");
    put("IP address", "20.50.1.10");
    put("Location", "\"Dublin, Dublin, IE\"");
    put("Status", "Failure");
    put("Sign-in error code", "50076");
    put(
        "Failure reason",
        "\"Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000002-0000-0ff1-ce00-000000000000'.\"",
    );
    put("Client app", "Mobile Apps and Desktop clients");
    put("Conditional Access", "Not Applied");
    let data = format!("{SIGNIN_HEADER}\r\n{}\r\n", cells.join(","));
    let (input, d) = decode_bytes(
        "InteractiveSignIns_2024-05-01_2024-05-02.csv",
        data.as_bytes(),
    );
    assert_eq!(input.kind, InputKind::SignInLog);
    assert!(d.malformed.is_empty(), "{:?}", d.malformed);
    let Item::SignIn(s) = &d.others[0] else {
        panic!()
    };
    assert_eq!(s.time, ts("2024-05-02T06:01:12Z"));
    assert_eq!(
        s.request_id.as_deref(),
        Some("6f2a9d1e-1c11-4a7e-9a61-2b5f3c4d1200")
    );
    assert_eq!(
        s.correlation_id.as_deref(),
        Some("52b391c3-9c1d-42c7-99f3-a219b7675aee")
    );
    assert_eq!(s.user_upn.as_deref(), Some("adele.vance@contoso.com"));
    assert_eq!(s.user_name.as_deref(), Some("Adele Vance"));
    assert_eq!(
        s.app_id.as_deref(),
        Some("7df0a125-d3be-4c96-aa54-591f83ff541c")
    );
    assert_eq!(
        s.resource_id.as_deref(),
        Some("00000002-0000-0ff1-ce00-000000000000")
    );
    assert_eq!(s.error_code, 50076);
    assert!(
        s.failure_reason
            .as_deref()
            .unwrap()
            .starts_with("Due to a configuration change")
    );
    assert_eq!(s.ca_status.as_deref(), Some("notapplied"));
    assert_eq!(s.location.as_deref(), Some("Dublin, Dublin, IE"));
    assert_eq!(s.ip.as_deref(), Some("20.50.1.10"));
}

#[test]
fn graph_sign_in_6b() {
    let json = r#"{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns", "value": [
{"id": "111111-aaaaa-2222222-bbbb-000000000", "createdDateTime": "2024-07-23T15:19:52Z",
 "userDisplayName": "Bala Sandhu", "userPrincipalName": "BalaS@microsoft.com", "appDisplayName": "Azure Portal",
 "clientAppUsed": "Browser", "correlationId": "aaaa0000-bb11-2222-33cc-444444dddddd",
 "conditionalAccessStatus": "success", "authenticationRequirement": "multiFactorAuthentication",
 "status": {"errorCode": 0, "failureReason": "Other.", "additionalDetails": null},
 "appliedConditionalAccessPolicies": [
   {"id": "bbbbbbbb-1111-aaaaa-0000-aaaaaaaa", "displayName": "CA004: Require multi-factor authentication for all users",
    "enforcedGrantControls": ["Mfa"], "enforcedSessionControls": [], "result": "success",
    "conditionsSatisfied": "application,users", "conditionsNotSatisfied": "none"}]},
{"id": "2", "createdDateTime": "2024-05-02T06:15:00Z", "appId": "7df0a125-d3be-4c96-aa54-591f83ff541c",
 "status": {"errorCode": 53003, "failureReason": "Access has been blocked by Conditional Access policies."},
 "conditionalAccessStatus": "failure", "isInteractive": false,
 "appliedConditionalAccessPolicy": [{"displayName": "CA012", "result": "failure", "enforcedGrantControls": ["Block"]}]}]}"#;
    let (input, d) = decode_bytes("signins.json", json.as_bytes());
    assert_eq!(input.kind, InputKind::SignInLog);
    let Item::SignIn(s) = &d.others[0] else {
        panic!()
    };
    assert_eq!(
        s.request_id.as_deref(),
        Some("111111-aaaaa-2222222-bbbb-000000000")
    );
    assert_eq!(s.time, ts("2024-07-23T15:19:52Z"));
    assert_eq!(s.error_code, 0);
    assert_eq!(s.failure_reason.as_deref(), Some("Other."));
    assert_eq!(s.ca_status.as_deref(), Some("success"));
    assert_eq!(s.client_app.as_deref(), Some("Browser"));
    assert_eq!(s.policies.len(), 1);
    assert_eq!(
        s.policies[0].name,
        "CA004: Require multi-factor authentication for all users"
    );
    assert_eq!(s.policies[0].result, "success");
    assert_eq!(s.policies[0].grant_controls, ["Mfa"]);
    let Item::SignIn(s) = &d.others[1] else {
        panic!()
    };
    assert_eq!(s.error_code, 53003);
    assert_eq!(s.ca_status.as_deref(), Some("failure"));
    assert_eq!(s.interactive, Some(false));
    assert_eq!(s.policies[0].grant_controls, ["Block"]);
}

#[test]
fn log_analytics_signin_logs_6c() {
    let csv = "TimeGenerated,CreatedDateTime,Id,CorrelationId,UserPrincipalName,AppId,ResultType,ResultDescription,ConditionalAccessStatus,ConditionalAccessPolicies,Status\n\
2024-05-02T06:15:01Z,2024-05-02T06:15:00Z,abc,def,a@b.com,7df0a125-d3be-4c96-aa54-591f83ff541c,50076,\"Due to a configuration change\",failure,\"[{\"\"displayName\"\":\"\"CA012\"\",\"\"result\"\":\"\"failure\"\",\"\"enforcedGrantControls\"\":[\"\"Mfa\"\"]}]\",\"{\"\"errorCode\"\":50076}\"\n";
    let (input, d) = decode_bytes("SigninLogs.csv", csv.as_bytes());
    assert_eq!(input.kind, InputKind::SignInLog);
    let Item::SignIn(s) = &d.others[0] else {
        panic!("{d:?}")
    };
    assert_eq!(s.error_code, 50076);
    assert_eq!(s.request_id.as_deref(), Some("abc"));
    assert_eq!(s.time, ts("2024-05-02T06:15:00Z"));
    assert_eq!(s.policies[0].name, "CA012");
    assert_eq!(s.policies[0].grant_controls, ["Mfa"]);
    assert_eq!(s.ca_status.as_deref(), Some("failure"));

    let json = r#"[{"TimeGenerated":"2024-05-02T06:15:01Z","Id":"x","ResultType":"53003","UserPrincipalName":"a@b.com",
      "ConditionalAccessPolicies":"[{\"displayName\":\"CA1\",\"result\":\"failure\"}]","Status":"{\"errorCode\":53003,\"failureReason\":\"Blocked\"}"}]"#;
    let (input, d) = decode_bytes("la.json", json.as_bytes());
    assert_eq!(input.kind, InputKind::SignInLog);
    let Item::SignIn(s) = &d.others[0] else {
        panic!()
    };
    assert_eq!(s.error_code, 53003);
    assert_eq!(s.failure_reason.as_deref(), Some("Blocked"));
    assert_eq!(s.policies[0].name, "CA1");
}

#[test]
fn token_policies_7a_and_7b() {
    let text = "\r\nId                    : b5bf1c7c-7fde-474d-839f-11018dd07fbe\r\nOdataType             :\r\nAlternativeIdentifier :\r\nDefinition            : {{\"TokenLifetimePolicy\":{\"Version\":1,\"AccessTokenLifetime\":\"03:00:00\"}}}\r\nDisplayName           : WebPolicyScenario\r\nIsOrganizationDefault : False\r\nKeyCredentials        : {}\r\nType                  : TokenLifetimePolicy\r\n";
    let (input, d) = decode_bytes("policy.txt", text.as_bytes());
    assert_eq!(
        (input.kind, input.format),
        (InputKind::TokenPolicy, InputFormat::Text)
    );
    let Item::Policy(p) = &d.others[0] else {
        panic!()
    };
    assert_eq!(
        p.id.as_deref(),
        Some("b5bf1c7c-7fde-474d-839f-11018dd07fbe")
    );
    assert_eq!(p.display_name.as_deref(), Some("WebPolicyScenario"));
    assert_eq!(p.is_organization_default, Some(false));
    assert_eq!(
        p.settings,
        [
            ("Version".into(), "1".into()),
            ("AccessTokenLifetime".into(), "03:00:00".into())
        ]
    );

    let json = r#"{"value":[{"id": "2b85ad39-0bb9-4a51-8c8f-2654caac6b92", "displayName": "OrganizationDefaultPolicyScenario", "isOrganizationDefault": true,
 "definition": ["{\"TokenLifetimePolicy\":{\"Version\":1,\"MaxInactiveTime\":\"90.00:00:00\",\"MaxAgeSingleFactor\":\"until-revoked\",\"MaxAgeMultiFactor\":\"until-revoked\",\"AccessTokenLifetime\":\"08:00:00\"}}"]}]}"#;
    let (input, d) = decode_bytes("tlp.json", json.as_bytes());
    assert_eq!(input.kind, InputKind::TokenPolicy);
    let Item::Policy(p) = &d.others[0] else {
        panic!()
    };
    assert_eq!(p.is_organization_default, Some(true));
    let names: Vec<&str> = p.settings.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Version",
            "MaxInactiveTime",
            "MaxAgeSingleFactor",
            "MaxAgeMultiFactor",
            "AccessTokenLifetime"
        ]
    );
    assert_eq!(p.settings[1].1, "90.00:00:00");
}

#[test]
fn flow_inventory_get_admin_flow_and_coe() {
    let json = r#"[{"FlowName":"92816e4a-79b1-47c8-87fc-3e9df47f7494","Enabled":true,"DisplayName":"Daily sales digest",
 "CreatedTime":"2023-11-06T09:20:11.3926900Z","CreatedBy":{"objectId":"f1b141e3-a07e-48dd-8f91-d8a7445ece31","userType":"ActiveDirectory"},
 "EnvironmentName":"Default-1",
 "Internal":{"properties":{"state":"Started","flowSuspensionReason":"None",
   "connectionReferences":{"shared_office365":{"connectionName":"shared-office365-7bd9","id":"/providers/Microsoft.PowerApps/apis/shared_office365"}},
   "definitionSummary":{"triggers":[{"type":"OpenApiConnectionWebhook","swaggerOperationId":"GetOnNewItems","api":{"name":"shared_sharepointonline"}}]}}}}]"#;
    let (input, d) = decode_bytes("flows.json", json.as_bytes());
    assert_eq!(input.kind, InputKind::FlowInventory);
    let Item::Flow(f) = &d.others[0] else {
        panic!()
    };
    assert_eq!(f.flow_id, "92816e4a-79b1-47c8-87fc-3e9df47f7494");
    assert_eq!(f.name.as_deref(), Some("Daily sales digest"));
    assert_eq!(f.environment.as_deref(), Some("Default-1"));
    assert_eq!(
        f.owner_id.as_deref(),
        Some("f1b141e3-a07e-48dd-8f91-d8a7445ece31")
    );
    assert_eq!(f.state.as_deref(), Some("Started"));
    assert_eq!(f.suspension_reason.as_deref(), Some("None"));
    assert_eq!(
        f.trigger.as_deref(),
        Some("OpenApiConnectionWebhook GetOnNewItems shared_sharepointonline")
    );
    assert_eq!(f.created, ts("2023-11-06T09:20:11Z"));
    assert_eq!(
        f.connections,
        [crate::model::ConnectionRef {
            connection: Some("shared-office365-7bd9".into()),
            connector: Some("shared_office365".into())
        }]
    );

    let coe = "admin_flowidstring,admin_displayname,admin_flowstate,admin_flowcreatedon\na18e89d1-4c75-41e4-9517-e90aedc079be,Invoicing flow,Started,2024-01-02T03:04:05Z\n";
    let (input, d) = decode_bytes("admin_flows.csv", coe.as_bytes());
    assert_eq!(input.kind, InputKind::FlowInventory);
    let Item::Flow(f) = &d.others[0] else {
        panic!()
    };
    assert_eq!(f.flow_id, "a18e89d1-4c75-41e4-9517-e90aedc079be");
    assert_eq!(f.name.as_deref(), Some("Invoicing flow"));

    // Export-Csv of Get-AdminFlow: nested objects are `@{...}` text.
    let csv = "\"FlowName\",\"Enabled\",\"DisplayName\",\"CreatedBy\",\"EnvironmentName\",\"Internal\"\n\"f1\",\"False\",\"Flow one\",\"@{tenantId=t; objectId=o1; userId=o1; userType=ActiveDirectory}\",\"Default-1\",\"@{name=f1; properties=@{connectionReferences=@{shared_teams=@{connectionName=shared-teams-1; id=/providers/Microsoft.PowerApps/apis/shared_teams}}}}\"\n";
    let (_, d) = decode_bytes("flows.csv", csv.as_bytes());
    let Item::Flow(f) = &d.others[0] else {
        panic!()
    };
    assert_eq!(f.owner_id.as_deref(), Some("o1"));
    assert_eq!(f.state.as_deref(), Some("Stopped"));
    assert_eq!(
        f.connections[0].connection.as_deref(),
        Some("shared-teams-1")
    );
    assert_eq!(f.connections[0].connector.as_deref(), Some("shared_teams"));
}

#[test]
fn one_json_line_without_a_newline() {
    let (input, d) = decode_bytes("one.jsonl", b"{\"run_id\":\"a\",\"status\":\"Failed\"}");
    assert_eq!(
        (input.kind, input.format),
        (InputKind::RunHistory, InputFormat::JsonLines)
    );
    assert_eq!(d.runs.len(), 1);
}

#[test]
fn logic_apps_web_connections_and_get_flowrun_json() {
    let json = r#"{"value":[{"id":"/subscriptions/s/resourceGroups/rg-integration/providers/Microsoft.Web/connections/office365",
      "name":"office365","type":"Microsoft.Web/connections","location":"westeurope",
      "properties":{"displayName":"MyPersonalConnection","overallStatus":"Error","authenticatedUser":{"name":"pradeep.gupta@contoso.com"},
        "api":{"name":"office365","id":"/subscriptions/s/providers/Microsoft.Web/locations/westeurope/managedApis/office365"},
        "statuses":[{"status":"Error","target":"token","error":{"code":"Unauthenticated","message":"This connection is not authenticated."}}],
        "createdTime":"2023-01-02T03:04:05Z"}}]}"#;
    let (input, d) = decode_bytes("connections.json", json.as_bytes());
    assert_eq!(input.kind, InputKind::ConnectionInventory);
    let Item::Connection(c) = &d.others[0] else {
        panic!()
    };
    assert_eq!(c.connection, "office365");
    assert_eq!(c.connector.as_deref(), Some("office365"));
    assert_eq!(c.owner_upn.as_deref(), Some("pradeep.gupta@contoso.com"));
    assert_eq!(c.status, ConnectionStatus::Error);
    assert_eq!(c.error_code.as_deref(), Some("Unauthenticated"));

    // `Get-FlowRun | ConvertTo-Json` (default depth): `Internal.properties` is `@{...}`.
    let json = r#"{"FlowRunName":"0858CU17","Status":"Failed","StartTime":"2022-11-17T14:30:59.2453442Z",
      "Internal":{"name":"0858CU17","id":"/providers/Microsoft.ProcessSimple/environments/Default-1/flows/170fb67e-a514-4d84-8727-582022bd13a9/runs/0858CU17",
        "properties":"@{startTime=2022-11-17T14:30:59.2453442Z; status=Failed; code=ActionFailed; error=@{code=ActionFailed; message=An action failed. No dependent actions succeeded.}; trigger=@{name=manual}}"}}"#;
    let (input, d) = decode_bytes("flowrun.json", json.as_bytes());
    assert_eq!(
        (input.kind, input.format),
        (InputKind::RunHistory, InputFormat::Json)
    );
    let r = &d.runs[0];
    assert_eq!(r.run_id.as_deref(), Some("0858CU17"));
    assert_eq!(
        r.flow_id.as_deref(),
        Some("170fb67e-a514-4d84-8727-582022bd13a9")
    );
    assert_eq!(r.environment.as_deref(), Some("Default-1"));
    assert_eq!(r.trigger.as_deref(), Some("manual"));
    assert_eq!(
        texts(r),
        [(
            EvidenceSource::RunError,
            None,
            Some("ActionFailed".into()),
            "An action failed. No dependent actions succeeded.".into()
        )]
    );
}

// ---------------------------------------------------------------------------------------
// Portal and generic CSV, encodings.

#[test]
fn portal_csv_takes_the_flow_from_the_file_name() {
    let csv = "Run ID,Start time,Duration,Status,SiteCode\n0858CU52,\"5/15/2024, 3:06:07 PM\",00:00:02,Failed,TRN-003\n0858CU53,\"5/14/2024, 10:45:49 AM\",00:00:02,Succeeded,X\n";
    let (input, d) = decode_bytes(
        "portal-run-history_a4587ac0-6ac6-480f-9ac6-3d4273a211df.csv",
        csv.as_bytes(),
    );
    assert_eq!(input.kind, InputKind::RunHistory);
    assert_eq!(input.date_order, DateOrder::MonthFirst);
    assert_eq!(d.runs.len(), 2);
    assert_eq!(
        d.runs[0].flow_id.as_deref(),
        Some("a4587ac0-6ac6-480f-9ac6-3d4273a211df")
    );
    assert_eq!(d.runs[0].time, ts("2024-05-15T15:06:07Z"));
    let (_, d) = decode_bytes("Invoice approvals.csv", csv.as_bytes());
    assert_eq!(d.runs[0].flow_id, None);
    assert_eq!(d.runs[0].flow_name.as_deref(), Some("Invoice approvals"));
}

#[test]
fn a_run_is_counted_at_its_start_else_at_its_end() {
    let csv = "Run ID,Start time,End time,Status\nA,2024-05-02T06:00:00Z,2024-05-02T07:00:00Z,Succeeded\nB,,2024-05-03T07:00:00Z,Succeeded\nC,not a time,2024-05-04T07:00:00Z,Failed\nD,,,Failed\n";
    let (_, d) = decode_bytes("export.csv", csv.as_bytes());
    let times: Vec<_> = d.runs.iter().map(|r| r.time).collect();
    assert_eq!(
        times,
        [
            ts("2024-05-02T06:00:00Z"),
            ts("2024-05-03T07:00:00Z"),
            ts("2024-05-04T07:00:00Z"),
            None
        ]
    );
}

#[test]
fn semicolon_crlf_bom_day_first() {
    let csv = "\u{feff}Name;Start time;End time;Status;Error code;Error message;Workflow ID;Owner\r\n0858CU34;02/05/2024 12:00;02/05/2024 12:01;Failed;ActionFailed;\"{\"\"code\"\":\"\"ActionFailed\"\",\"\"message\"\":\"\"An action failed.\"\"}\";9aa0c85d-c6ce-40d0-836b-c28175b49e31;Megan Bowen\r\n0858CU35;13/05/2024 12:00;;Succeeded;;;9aa0c85d-c6ce-40d0-836b-c28175b49e31;Megan Bowen\r\n";
    let (input, d) = decode_bytes("export.csv", csv.as_bytes());
    assert_eq!(input.date_order, DateOrder::DayFirst);
    assert!(d.malformed.is_empty(), "{:?}", d.malformed);
    let r = &d.runs[0];
    assert_eq!(r.run_id.as_deref(), Some("0858CU34"));
    assert_eq!(r.time, ts("2024-05-02T12:00:00Z"));
    assert_eq!(r.owner.as_deref(), Some("Megan Bowen"));
    assert_eq!(texts(r)[0].3, "An action failed.");
    assert_eq!(texts(r)[0].2.as_deref(), Some("ActionFailed"));
    assert_eq!(d.runs[1].time, ts("2024-05-13T12:00:00Z"));
    assert_eq!(d.runs[1].position, Position::Line(3));
}

#[test]
fn tab_separated_and_overrides() {
    let tsv = "id\twhen\toutcome\tmsg\nr1\t2024-05-02T06:00:00Z\tFailed\tAADSTS50076: MFA\n";
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "odd.tsv", tsv.as_bytes());
    let err = sniff(source(&p), &Overrides::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("not a recognised export") && msg.contains("--kind"),
        "{msg}"
    );
    let ov = Overrides {
        kind: Some(InputKind::RunHistory),
        map: vec![
            ("status".into(), "outcome".into()),
            ("start".into(), "when".into()),
            ("error_message".into(), "msg".into()),
            ("run_id".into(), "id".into()),
        ],
        ..Default::default()
    };
    let input = sniff(source(&p), &ov).unwrap();
    let d = decode_input(&input, &IngestOptions::default());
    assert_eq!(d.runs[0].run_id.as_deref(), Some("r1"));
    assert_eq!(d.runs[0].status, RunStatus::Failed);
    assert_eq!(texts(&d.runs[0])[0].3, "AADSTS50076: MFA");
    let bad = Overrides {
        map: vec![("statuz".into(), "outcome".into())],
        ..ov.clone()
    };
    assert!(matches!(sniff(source(&p), &bad), Err(Error::Usage(_))));
    let bad = Overrides {
        map: vec![("status".into(), "nope".into())],
        ..ov
    };
    assert!(matches!(sniff(source(&p), &bad), Err(Error::Usage(_))));
}

#[test]
fn utf16le_and_gzip_inputs() {
    let csv = "run_id,status,start_time,error_message\nr1,Failed,2024-05-02T06:00:00Z,\"AADSTS50076: Due to a configuration change\"\nr2,Succeeded,2024-05-02T07:00:00Z,\n";
    let mut utf16 = vec![0xff, 0xfe];
    for u in csv.encode_utf16() {
        utf16.extend(u.to_le_bytes());
    }
    let (input, d) = decode_bytes("ps5.csv", &utf16);
    assert_eq!(input.kind, InputKind::RunHistory);
    assert_eq!(d.runs.len(), 2);
    assert_eq!(
        texts(&d.runs[0])[0].3,
        "AADSTS50076: Due to a configuration change"
    );

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(csv.as_bytes()).unwrap();
    let packed = gz.finish().unwrap();
    let (input, d) = decode_bytes("runs.csv.gz", &packed);
    assert!(input.source.gzip);
    assert_eq!(d.runs.len(), 2);
    assert_eq!(d.runs[1].position, Position::Line(3));
}

#[test]
fn truncated_gzip_keeps_records_and_reports_the_tail() {
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!(
            "{{\"run_id\":\"r{i}\",\"status\":\"Failed\",\"start_time\":\"2024-05-02T06:00:00Z\",\"error_message\":\"msg {i} {}\"}}\n",
            i * 7919 % 104_729
        ));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let packed = gz.finish().unwrap();
    let cut = &packed[..packed.len() * 2 / 3];
    let (_, d) = decode_bytes("runs.jsonl.gz", cut);
    assert!(
        d.runs.len() > 1000 && d.runs.len() < 20_000,
        "{}",
        d.runs.len()
    );
    assert_eq!(d.malformed.len(), 1, "{:?}", d.malformed);
    assert!(
        d.malformed[0].reason.contains("truncated"),
        "{}",
        d.malformed[0]
    );
    // Lines are consecutive from 1.
    for (i, r) in d.runs.iter().enumerate() {
        assert_eq!(r.position, Position::Line(i as u64 + 1));
    }
}

// ---------------------------------------------------------------------------------------
// Chunking: the parallel readers equal the sequential ones.

/// CSV with quoted CRLF and LF inside fields, doubled quotes, empty fields and CRLF rows,
/// with the line, run id and message of each row and whether it failed (a run that did not
/// fail is read without its id and error cells), and `flow {i % 7}` as the flow of row `i`.
fn nasty_csv() -> (String, Vec<(u64, String, String, bool)>) {
    let mut s = String::from("run_id,flow_name,status,start_time,error_message\r\n");
    let mut want = Vec::new();
    let mut line = 2;
    for i in 0..500 {
        let (cell, msg) = match i % 5 {
            0 => (
                format!("\"line one\r\nline \"\"two\"\" {i}\""),
                format!("line one\r\nline \"two\" {i}"),
            ),
            1 => (format!("plain {i}"), format!("plain {i}")),
            2 => (String::new(), String::new()),
            3 => (
                format!("\"comma, {i}\nand newline\""),
                format!("comma, {i}\nand newline"),
            ),
            _ => (format!("\"{}\"", "x".repeat(i % 37)), "x".repeat(i % 37)),
        };
        let status = ["Failed", "Succeeded", "Cancelled"][i % 3];
        let row = format!(
            "r{i},flow {},{status},2024-05-02T06:{:02}:00Z,{cell}\r\n",
            i % 7,
            i % 60
        );
        want.push((line, format!("r{i}"), msg, status == "Failed"));
        line += row.matches('\n').count() as u64;
        s.push_str(&row);
    }
    (s, want)
}

#[test]
fn chunked_csv_equals_sequential_csv_reader() {
    let (data, want) = nasty_csv();
    // The fields agree with the csv crate reading the whole file at once.
    let mut rdr = ::csv::ReaderBuilder::new().from_reader(data.as_bytes());
    let fields: Vec<(String, String)> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[4].to_string())
        })
        .collect();
    let expected: Vec<(String, String)> = want
        .iter()
        .map(|(_, id, m, _)| (id.clone(), m.clone()))
        .collect();
    assert_eq!(fields, expected);
    let want: Vec<(u64, String, String)> = want
        .into_iter()
        .map(|(line, id, m, failed)| match failed {
            true => (line, id, m),
            false => (line, String::new(), String::new()),
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "runs.csv", data.as_bytes());
    let input = sniff(source(&p), &Overrides::default()).unwrap();
    for chunk_size in [1, 7, 64, 1000, 1 << 20] {
        for workers in [1, 3] {
            let opts = IngestOptions {
                chunk_size,
                workers,
                ..Default::default()
            };
            let d = decode_input(&input, &opts);
            assert!(d.malformed.is_empty());
            let got: Vec<_> = d
                .runs
                .iter()
                .map(|r| {
                    let Position::Line(l) = r.position else {
                        panic!()
                    };
                    (
                        l,
                        r.run_id.as_deref().unwrap_or_default().to_string(),
                        r.texts
                            .first()
                            .map(|t| t.text.to_string())
                            .unwrap_or_default(),
                    )
                })
                .collect();
            assert_eq!(
                got.len(),
                want.len(),
                "chunk {chunk_size}, workers {workers}"
            );
            for (i, r) in d.runs.iter().enumerate() {
                let flow = format!("flow {}", i % 7);
                assert_eq!(r.flow_name.as_deref(), Some(flow.as_str()), "row {i}");
            }
            let first_diff = got.iter().zip(&want).position(|(a, b)| a != b);
            assert_eq!(
                first_diff,
                None,
                "chunk {chunk_size}, workers {workers}: {:?}",
                first_diff.map(|i| (&got[i], &want[i]))
            );
        }
    }
}

#[test]
fn chunked_jsonl_and_json_keep_every_record_and_position() {
    let mut jsonl = String::new();
    let mut json = String::from("{\"@odata.context\":\"x\",\"value\":[\n");
    for i in 0..300 {
        let rec = format!(
            "{{\"name\":\"r{i}\",\"properties\":{{\"status\":\"Failed\",\"startTime\":\"2024-05-02T06:00:00Z\",\"error\":{{\"code\":\"C{i}\",\"message\":\"m \\\"{i}\\\" ]}}[\"}}}}}}"
        );
        jsonl.push_str(&rec);
        jsonl.push_str(if i % 10 == 0 { "\r\n\n" } else { "\n" });
        if i > 0 {
            json.push(',');
        }
        json.push_str(&rec);
    }
    json.push_str("],\"nextLink\":\"https://x\"}");
    let dir = tempfile::tempdir().unwrap();
    let pl = write(dir.path(), "runs.jsonl", jsonl.as_bytes());
    let pj = write(dir.path(), "runs.json", json.as_bytes());
    let il = sniff(source(&pl), &Overrides::default()).unwrap();
    let ij = sniff(source(&pj), &Overrides::default()).unwrap();
    assert_eq!(il.format, InputFormat::JsonLines);
    assert_eq!(ij.format, InputFormat::Json);
    for chunk_size in [1, 50, 4096, 1 << 20] {
        let opts = IngestOptions {
            chunk_size,
            workers: 2,
            ..Default::default()
        };
        let dl = decode_input(&il, &opts);
        let dj = decode_input(&ij, &opts);
        assert_eq!(dl.runs.len(), 300);
        assert_eq!(dj.runs.len(), 300);
        assert!(dl.malformed.is_empty() && dj.malformed.is_empty());
        for (i, (a, b)) in dl.runs.iter().zip(&dj.runs).enumerate() {
            assert_eq!(a.run_id, b.run_id);
            assert_eq!(a.texts, b.texts);
            assert_eq!(b.position, Position::Record(i as u64 + 1));
            assert_eq!(texts(a)[0].3, format!("m \"{i}\" ]}}["));
        }
        // Lines: 1, then every tenth record is followed by a blank line.
        assert_eq!(dl.runs[0].position, Position::Line(1));
        assert_eq!(dl.runs[1].position, Position::Line(3));
        assert_eq!(dl.runs[11].position, Position::Line(14));
    }
}

// ---------------------------------------------------------------------------------------
// Malformed data is counted with positions.

#[test]
fn malformed_records_are_counted_with_positions() {
    let jsonl = b"{\"run_id\":\"a\",\"status\":\"Failed\"}\nnot json\n[1,2]\n{\"run_id\":\"b\"}\n{\"run_id\":\"c\",\"status\":\"Succeeded\",\"error_message\":\"bad \xff byte\"}\n";
    let (_, d) = decode_bytes("runs.jsonl", jsonl);
    assert_eq!(d.runs.len(), 2);
    let got: Vec<(Position, &str)> = d
        .malformed
        .iter()
        .map(|m| (m.position.clone(), m.reason.as_str()))
        .collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0].0, Position::Line(2));
    assert!(got[0].1.starts_with("invalid JSON"), "{}", got[0].1);
    assert_eq!(got[1].0, Position::Line(3));
    assert!(got[1].1.starts_with("not a JSON object"), "{}", got[1].1);
    assert_eq!(got[2], (Position::Line(4), "no status field"));
    assert!(d.malformed.iter().all(|m| m.file.ends_with("runs.jsonl")));
    // Invalid UTF-8 is decoded lossily and the record kept.
    assert_eq!(texts(&d.runs[1])[0].3, "bad \u{fffd} byte");

    let csv = "run_id,status,start_time\nr1,Failed,2024-05-02T06:00:00Z\nr2,Failed\nr3,Failed,2024-05-02T06:00:00Z,extra\nr4,,2024-05-02T06:00:00Z\n";
    let (_, d) = decode_bytes("runs.csv", csv.as_bytes());
    assert_eq!(d.runs.len(), 1);
    let got: Vec<String> = d.malformed.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        got,
        [
            format!(
                "{}: line 3: expected 3 fields, found 2",
                d.malformed[0].file
            ),
            format!(
                "{}: line 4: expected 3 fields, found 4",
                d.malformed[0].file
            ),
            format!("{}: line 5: no status field", d.malformed[0].file),
        ]
    );

    let json = "[{\"name\":\"a\",\"properties\":{\"status\":\"Failed\"}}, \"text\", {\"name\":\"b\",\"properties\":{\"status\":\"Fai";
    let (_, d) = decode_bytes("runs.json", json.as_bytes());
    assert_eq!(d.runs.len(), 1);
    let got: Vec<String> = d
        .malformed
        .iter()
        .map(|m| format!("{}: {}", m.position, m.reason))
        .collect();
    assert_eq!(
        got,
        [
            "record 2: record is a string, not a JSON object",
            "byte 56: file ends inside a record (truncated download?)"
        ]
    );
}

#[test]
fn limits_on_record_size_and_nesting() {
    let big = format!(
        "{{\"run_id\":\"big\",\"status\":\"Failed\",\"error_message\":\"{}\"}}\n{{\"run_id\":\"ok\",\"status\":\"Failed\"}}\n{{\"run_id\":\"deep\",\"status\":\"Failed\",\"x\":{}{}}}\n",
        "x".repeat(10_000),
        "[".repeat(200),
        "]".repeat(200)
    );
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "runs.jsonl", big.as_bytes());
    let input = sniff(source(&p), &Overrides::default()).unwrap();
    let opts = IngestOptions {
        max_record: 4096,
        chunk_size: 1024,
        ..Default::default()
    };
    let d = decode_input(&input, &opts);
    assert_eq!(d.runs.len(), 1);
    assert_eq!(d.runs[0].run_id.as_deref(), Some("ok"));
    let got: Vec<String> = d
        .malformed
        .iter()
        .map(|m| format!("{}: {}", m.position, m.reason))
        .collect();
    assert_eq!(
        got,
        [
            "line 1: record is larger than the 4096 bytes limit; skipped",
            "line 3: nesting deeper than 128 levels"
        ]
    );
}

#[test]
fn not_an_export_names_what_was_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "notes.txt", b"just some notes\nabout nothing\n");
    let err = sniff(source(&p), &Overrides::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("notes.txt") && msg.contains("run history") && msg.contains("sign-in log"),
        "{msg}"
    );
    let p = write(dir.path(), "empty.json", b"  \n");
    assert!(
        sniff(source(&p), &Overrides::default())
            .unwrap_err()
            .to_string()
            .contains("empty")
    );
    let p = write(dir.path(), "pic.png", b"\x89PNG\r\n\x1a\n\0\0\0");
    assert!(
        sniff(source(&p), &Overrides::default())
            .unwrap_err()
            .to_string()
            .contains("PNG")
    );
    // In a folder the same files are skipped, not errors.
    let (sources, skipped) = discover(&[dir.path().to_path_buf()]).unwrap();
    let (inputs, more) = sniff_all(sources, &Overrides::default()).unwrap();
    assert!(inputs.is_empty());
    assert_eq!(skipped.len() + more.len(), 3, "{skipped:?} {more:?}");
}

// ---------------------------------------------------------------------------------------
// The sample exports.

fn samples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

#[test]
fn every_sample_decodes_without_malformed_records() {
    let (sources, skipped) = discover(&[samples()]).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    let (inputs, skipped) = sniff_all(sources, &Overrides::default()).unwrap();
    // The folder's README describes the samples; it is the one file that is not an export.
    let names: Vec<&str> = skipped.iter().map(|s| s.path.as_str()).collect();
    assert!(
        names.len() == 1 && names[0].ends_with("README.md"),
        "{skipped:?}"
    );
    let mut runs = 0;
    let mut failed = 0;
    let mut summary = Vec::new();
    for input in &inputs {
        let d = decode_input(input, &IngestOptions::default());
        assert!(
            d.malformed.is_empty(),
            "{}: {:?}",
            input.source.display,
            &d.malformed[..d.malformed.len().min(3)]
        );
        let name = input
            .source
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        runs += d.runs.len();
        failed += d.runs.iter().filter(|r| r.status.is_failed()).count();
        summary.push((
            name,
            input.kind,
            input.format,
            d.runs.len() + d.others.len(),
        ));
    }
    let want = [
        (
            "connections.json",
            InputKind::ConnectionInventory,
            InputFormat::Json,
            18,
        ),
        (
            "flows.json",
            InputKind::FlowInventory,
            InputFormat::Json,
            16,
        ),
        (
            "Get-AzureADPolicy.txt",
            InputKind::TokenPolicy,
            InputFormat::Text,
            2,
        ),
        (
            "tokenLifetimePolicies.json",
            InputKind::TokenPolicy,
            InputFormat::Json,
            2,
        ),
        (
            "dataverse-flowrun-export.csv",
            InputKind::RunHistory,
            InputFormat::Csv,
            97,
        ),
        (
            "dataverse-flowruns.json",
            InputKind::RunHistory,
            InputFormat::Json,
            110,
        ),
        (
            "flow-api-runs.json",
            InputKind::RunHistory,
            InputFormat::Json,
            165,
        ),
        (
            "get-flowrun-export.csv",
            InputKind::RunHistory,
            InputFormat::Csv,
            45,
        ),
        (
            "logicapps-run-actions.json",
            InputKind::RunActions,
            InputFormat::Json,
            30,
        ),
        (
            "logicapps-runs.json",
            InputKind::RunHistory,
            InputFormat::Json,
            64,
        ),
        (
            "portal-run-history_a4587ac0-6ac6-480f-9ac6-3d4273a211df.csv",
            InputKind::RunHistory,
            InputFormat::Csv,
            62,
        ),
        (
            "runs.jsonl.gz",
            InputKind::RunHistory,
            InputFormat::JsonLines,
            299,
        ),
        (
            "InteractiveSignIns_2024-04-01_2024-05-31.csv",
            InputKind::SignInLog,
            InputFormat::Csv,
            51,
        ),
        (
            "signins-graph.json",
            InputKind::SignInLog,
            InputFormat::Json,
            20,
        ),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(n, k, f, c)| (n.to_string(), *k, *f, *c))
        .collect();
    assert_eq!(summary, want);
    assert_eq!((runs, failed), (842, 192));

    // The connections in Error at export (README: C05-C10, C12, C13) carry their text.
    let conns = inputs
        .iter()
        .find(|i| i.kind == InputKind::ConnectionInventory)
        .unwrap();
    let d = decode_input(conns, &IngestOptions::default());
    let errors: Vec<_> = d
        .others
        .iter()
        .filter_map(|i| match i {
            Item::Connection(c) if c.status == ConnectionStatus::Error => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 8);
    for c in errors {
        assert!(c.error_code.is_some(), "{c:?}");
        let m = c.error_message.as_deref().unwrap_or("");
        assert!(m.contains("AADSTS") && m.ends_with("\"}"), "{c:?}");
        assert_eq!(
            c.owner_upn.as_deref().map(|u| u.ends_with("@contoso.com")),
            Some(true)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Property: on random CSV (quotes, embedded CR/LF, CRLF or LF rows, BOM, blank cells), the
// chunked parallel reader yields the csv crate's own records, at any chunk size.

pub(super) mod prop {
    use super::*;
    use proptest::prelude::*;

    /// CSV cell text with quotes, separators and line ends (shared with `csv`'s tests).
    pub(in crate::ingest) fn cell() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("a".to_string()),
                Just("é".to_string()),
                Just(" ".to_string()),
                Just(",".to_string()),
                Just("\"".to_string()),
                Just("\n".to_string()),
                Just("\r\n".to_string()),
                Just("x1".to_string()),
            ],
            0..6,
        )
        .prop_map(|parts| parts.concat())
    }

    fn quote(c: &str) -> String {
        if c.contains([',', '"', '\n', '\r']) || c.starts_with(' ') || c.ends_with(' ') {
            format!("\"{}\"", c.replace('"', "\"\""))
        } else {
            c.to_string()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn chunked_csv_matches_the_csv_crate(
            rows in proptest::collection::vec(cell(), 1..40),
            crlf in any::<bool>(),
            bom in any::<bool>(),
            chunk_size in 1usize..200,
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut data = String::new();
            if bom {
                data.push('\u{feff}');
            }
            data.push_str(&format!("run_id,status,error_message{eol}"));
            for (i, c) in rows.iter().enumerate() {
                data.push_str(&format!("r{i},Failed,{}{eol}", quote(c)));
            }
            let body = data.trim_start_matches('\u{feff}');
            let mut rdr = ::csv::ReaderBuilder::new().from_reader(body.as_bytes());
            let want: Vec<(String, String)> = rdr
                .records()
                .map(|r| {
                    let r = r.unwrap();
                    (r[0].to_string(), r[2].trim().to_string())
                })
                .collect();
            let dir = tempfile::tempdir().unwrap();
            let p = write(dir.path(), "runs.csv", data.as_bytes());
            let input = sniff(source(&p), &Overrides::default()).unwrap();
            let opts = IngestOptions { chunk_size, workers: 2, ..Default::default() };
            let d = decode_input(&input, &opts);
            prop_assert!(d.malformed.is_empty(), "{:?}", d.malformed);
            let got: Vec<(String, String)> = d
                .runs
                .iter()
                .map(|r| {
                    (
                        r.run_id.as_deref().unwrap_or("").to_string(),
                        r.texts.first().map(|t| t.text.to_string()).unwrap_or_default(),
                    )
                })
                .collect();
            prop_assert_eq!(got, want);
        }
    }
}

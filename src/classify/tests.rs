//! Classifier tests: one per rule family with real-shaped messages, code extraction, context
//! effects, user rules and the explain listing.

use super::*;
use crate::vocab::Effect;

fn run() -> MsgContext {
    MsgContext::default()
}

fn ctx(context: Context, host: Option<Host>) -> MsgContext {
    MsgContext { context, host }
}

/// The built-in rules classifying messages as written, not by their templates.
fn as_written() -> Classifier {
    Classifier {
        templates: false,
        ..Classifier::builtin()
    }
}

/// Classify with the built-in rules, checking that the template gives the diagnosis the
/// message as written gives, kept or not.
fn cls(text: &str) -> (Diagnosis, String) {
    let c = Classifier::builtin();
    let d = c.classify(text, run());
    assert_eq!(d, as_written().classify(text, run()), "{text}");
    assert_eq!(d, c.classify_uncached(text, run()), "{text}");
    let id = c.rule_id(d.rule).to_string();
    (d, id)
}

fn assert_cat(text: &str, cat: Category, rule: &str) -> Diagnosis {
    let (d, id) = cls(text);
    assert_eq!(d.category, cat, "category for {text:?} (rule {id})");
    assert_eq!(id, rule, "rule for {text:?}");
    d
}

const TOKEN_SAMPLE: &str = r#"Failed to refresh access token for service: aadcertificate. Correlation Id=g-3bdeeea8-ae1f-4ac3-82dc-7fee7f16a1e2, UTC TimeStamp=4/8/2021 11:40:36 PM, Error: Failed to acquire token from AAD: {"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity.The token was issued on 2020-09-01T12:13:41.5336734Z and was inactive for 90.00:00:00.\r\nTrace ID: b6f03183-79e9-4f81-a640-efcf65c30400\r\nCorrelation ID: 52b391c3-9c1d-42c7-99f3-a219b7675aee\r\nTimestamp: 2021-04-08 23:40:36Z","error_codes":[700082],"timestamp":"2021-04-08 23:40:36Z","trace_id":"b6f03183-79e9-4f81-a640-efcf65c30400","correlation_id":"52b391c3-9c1d-42c7-99f3-a219b7675aee","error_uri":"https://login.windows.net/error?code=700082"}"#;

const MFA_50076: &str = "Failed to refresh access token for service: office365. Correlation Id=g-6c1d2e3f-0000-4000-8000-000000000001, UTC TimeStamp=5/2/2024 6:01:13 AM, Error: AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000002-0000-0ff1-ce00-000000000000'.\r\nclientRequestId: 0b7c1c7e-4a5e-4b1a-9c3e-2f1e0d9c8b7a";

#[test]
fn family_aadsts_codes() {
    let d = assert_cat(MFA_50076, Category::MfaRequired, "aadsts:50076");
    assert_eq!(d.aadsts, vec![50076]);
    assert_eq!(d.root_cause, RootCause::CaPolicyAfterConnection);
    assert_eq!(d.fix, Fix::RepairConnection);
    assert_eq!(d.actor, Actor::Owner);
    assert_eq!(d.confidence, Confidence::Certain);
    assert_eq!(d.effects, Effects::of(&[Effect::E1]));
    let ev = d.evidence(MFA_50076);
    assert!(
        ev.starts_with("AADSTS50076: Due to a configuration change"),
        "{ev}"
    );
    assert!(
        ev.ends_with("'00000002-0000-0ff1-ce00-000000000000'."),
        "{ev}"
    );
    let t = d.token.as_ref().expect("token details");
    assert_eq!(t.service.as_deref(), Some("office365"));

    let d = assert_cat(TOKEN_SAMPLE, Category::TokenInactive, "aadsts:700082");
    assert_eq!(d.aadsts, vec![700082]);
    assert_eq!(d.fix, Fix::ReauthenticateIdleConnection);
    let t = d.token.unwrap();
    assert_eq!(t.inactive_for, Some(90 * 86_400));
    assert_eq!(
        t.trace_id.as_deref(),
        Some("b6f03183-79e9-4f81-a640-efcf65c30400")
    );

    assert_cat(
        "AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        Category::CaBlocked,
        "aadsts:53003",
    );
    assert_cat(
        "AADSTS7000222: The provided client secret keys for app 'a1b2' are expired.",
        Category::CredentialsInvalid,
        "aadsts:7000222",
    );
    let d = cls("AADSTS50078: Presented multi-factor authentication has expired due to policies configured by your administrator, you must refresh your multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.").0;
    assert_eq!(d.root_cause, RootCause::MfaMaxAge);
    assert_eq!(d.confidence, Confidence::Hypothesis);
    assert_eq!(d.fix, Fix::SetTokenLifetimePolicy);
}

#[test]
fn odd_casing_and_code_lists() {
    let (d, id) = cls(
        "error: aadsts50079: due to a configuration change ... you must enroll in multi-factor authentication",
    );
    assert_eq!(
        (d.category, id.as_str()),
        (Category::MfaRequired, "aadsts:50079")
    );
    assert_eq!(d.aadsts, vec![50079]);
    // Only the list carries the code (escaped once).
    let (d, id) = cls(
        r#"{\"error\":\"interaction_required\",\"error_codes\":[53000, 50097],\"trace_id\":\"x\"}"#,
    );
    assert_eq!(d.aadsts, vec![53000, 50097]);
    assert_eq!(id, "aadsts:53000");
    assert_eq!(d.category, Category::CaDevice);
    // Duplicates are reported once, in order of appearance.
    let (d, _) = cls(
        r#"AADSTS70043: The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. {"error_codes":[70043]}"#,
    );
    assert_eq!(d.aadsts, vec![70043]);
    assert_eq!(d.category, Category::SessionPolicy);
}

#[test]
fn unknown_code_falls_back_to_text_and_is_reported() {
    let (d, id) = cls("AADSTS9999999: The refresh token has expired due to inactivity.");
    assert_eq!(d.aadsts, vec![9999999]);
    assert_eq!(id, "text:refresh-token-inactive");
    assert_eq!(d.category, Category::TokenInactive);
    let (d, id) = cls("AADSTS1234567: something new");
    assert_eq!((d.category, id.as_str()), (Category::Unknown, "none"));
    assert_eq!(d.aadsts, vec![1234567]);
}

#[test]
fn generic_code_loses_to_specific_text() {
    let t = "AADSTS70000: The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '2023-02-01T08:00:00.0000000Z' and the TokensValidFrom date (before which tokens are not valid) for this user is '2023-03-15T09:30:00.0000000Z'.";
    let (d, id) = cls(t);
    assert_eq!(id, "text:grant-revoked");
    assert_eq!(d.category, Category::TokenRevoked);
    assert_eq!(d.aadsts, vec![70000]);
    let tok = d.token.unwrap();
    assert!(tok.issued_on.is_some() && tok.tokens_valid_from.is_some());
}

#[test]
fn family_mfa() {
    let d = assert_cat(
        "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access 'https://graph.microsoft.com'.",
        Category::MfaRequired,
        "text:mfa-must-use",
    );
    assert_eq!(d.confidence, Confidence::Certain);
    assert!(d.aadsts.is_empty());
    assert_cat(
        "User did not pass the MFA challenge (non interactive).",
        Category::MfaRequired,
        "text:mfa-strong-auth",
    );
    let d = assert_cat(
        "Presented multi-factor authentication has expired due to policies configured by your administrator.",
        Category::MfaRequired,
        "text:mfa-expired",
    );
    assert_eq!(d.confidence, Confidence::Hypothesis);
}

#[test]
fn family_conditional_access_device_location() {
    assert_cat(
        "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        Category::CaBlocked,
        "text:ca-blocked",
    );
    let t = "Device is not in required device state: compliant. Conditional Access policy requires a compliant device, and the device is not compliant.";
    let d = assert_cat(t, Category::CaDevice, "text:device-state");
    assert_eq!(
        d.evidence(t),
        "Device is not in required device state: compliant"
    );
    assert_eq!(d.root_cause, RootCause::DeviceOrLocationPolicy);
    assert_cat(
        "Your device is required to be managed to access this resource.",
        Category::CaDevice,
        "text:device-managed",
    );
    assert_cat(
        "Access to 'contoso.com' is blocked by tenant restrictions.",
        Category::CaLocation,
        "text:tenant-restrictions",
    );
}

#[test]
fn family_inactivity_and_lifetime() {
    let t = "The refresh token has expired due to inactivity. The token was issued on 2024-01-05T10:00:00Z and was inactive for 90.00:00:00.";
    let d = assert_cat(t, Category::TokenInactive, "text:refresh-token-inactive");
    assert_eq!(d.actor, Actor::Owner);
    assert_eq!(d.token.unwrap().inactive_for, Some(90 * 86_400));
    let d = assert_cat(
        "IDX10223: Lifetime validation failed, the token is expired. ValidTo: '05/02/2024 06:00:00', Current time: '05/02/2024 06:01:13'.",
        Category::TokenMaxAge,
        "text:token-lifetime-validation",
    );
    assert_eq!(d.confidence, Confidence::Hypothesis);
    assert_eq!(d.root_cause, RootCause::MfaMaxAge);
    assert_cat(
        "Access token has expired or is not yet valid.",
        Category::TokenMaxAge,
        "text:access-token-expired",
    );
    assert_cat(
        "The access token expiry UTC time '5/2/2024 6:00:00 AM' is earlier than current UTC time '5/2/2024 6:01:13 AM'.",
        Category::TokenMaxAge,
        "text:access-token-expired",
    );
}

#[test]
fn family_session_revocation_credentials() {
    assert_cat(
        "The session has expired or is invalid due to sign-in frequency checks by conditional access.",
        Category::SessionPolicy,
        "text:sign-in-frequency",
    );
    let d = assert_cat(
        "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
        Category::TokenRevoked,
        "text:grant-revoked",
    );
    assert_eq!(d.root_cause, RootCause::CredentialsChanged);
    assert_eq!(d.fix, Fix::RepairConnection);
    let d = assert_cat(
        "Error validating credentials. Invalid username or password.",
        Category::CredentialsInvalid,
        "text:invalid-password",
    );
    assert_eq!(d.fix, Fix::FixCredentials);
    let d = assert_cat(
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        Category::CredentialsInvalid,
        "text:client-secret",
    );
    assert_eq!(
        (d.root_cause, d.actor),
        (RootCause::AppMisconfigured, Actor::Admin)
    );
}

#[test]
fn family_account_and_consent() {
    let d = assert_cat(
        "The user account is disabled.",
        Category::AccountState,
        "text:account-disabled",
    );
    assert_eq!((d.fix, d.actor), (Fix::ReassignOwner, Actor::Admin));
    assert_cat(
        "User account 'jane@contoso.com' from identity provider 'live.com' does not exist in tenant 'Contoso' and cannot access the application.",
        Category::AccountState,
        "text:account-not-in-directory",
    );
    assert_cat(
        "The user account {EUII Hidden} does not exist in the contoso.onmicrosoft.com directory. To sign into this application, the account must be added to the directory.",
        Category::AccountState,
        "text:account-not-in-directory",
    );
    assert_cat(
        "The user account jane@contoso.com has been deleted from the contoso.com directory.",
        Category::AccountState,
        "text:account-deleted",
    );
    // A deleted file is not a deleted account.
    assert_ne!(
        cls("The item has been deleted.").0.category,
        Category::AccountState
    );
    let d = assert_cat(
        "The user or administrator has not consented to use the application with ID 'a1b2c3' named 'Contoso API'.",
        Category::ConsentRequired,
        "text:consent-missing",
    );
    assert_eq!((d.fix, d.actor), (Fix::GrantConsent, Actor::Admin));
    assert_cat(
        "Need admin approval. Contoso Connector needs permission to access resources in your organization that only an admin can grant.",
        Category::ConsentRequired,
        "text:admin-approval",
    );
}

#[test]
fn family_connection_and_token_refresh() {
    let t = r#"{"status":401,"message":"The connection does not contain an access token. Please edit the connection and login.","source":"keyvault-eus.azconn-eus-003.p.azurewebsites.net"}"#;
    let d = assert_cat(t, Category::OtherAuth, "text:no-access-token");
    assert_eq!(d.fix, Fix::RepairConnection);
    assert_cat(
        "Unauthenticated: This connection is not authenticated.",
        Category::OtherAuth,
        "text:connection-not-authenticated",
    );
    let t = "ConnectionAuthorizationFailed: The caller object id is '1f0e0c1a-0000-4000-8000-000000000000'. Connection 'shared-office365-abc' to 'shared_office365' cannot be used to authorize the request because the caller does not have permission for connection";
    let d = assert_cat(t, Category::OtherAuth, "text:connection-permission");
    assert_eq!(d.fix, Fix::Investigate);
    assert_cat(
        "InvalidAuthenticationToken: Access token is empty.",
        Category::OtherAuth,
        "text:invalid-authentication-token",
    );
    // Nothing decisive behind the token-refresh prefix: a hypothesis with a note.
    let t = "Failed to refresh access token for service: office365. Correlation Id=g-11111111-2222-3333-4444-555555555555, UTC TimeStamp=5/2/2024 6:01:13 AM, Error: Something went wrong.";
    let c = Classifier::builtin();
    let d = c.classify(t, run());
    assert_eq!(c.rule_id(d.rule), "text:token-refresh-failed");
    assert_eq!(
        (d.category, d.confidence),
        (Category::OtherAuth, Confidence::Hypothesis)
    );
    assert!(c.note(&d).unwrap().contains("sign-in log"));
    assert_eq!(d.token.unwrap().service.as_deref(), Some("office365"));
    let t = "Failed to refresh access token for service: oauth2. Correlation Id=g-1, UTC TimeStamp=5/2/2024 6:01:13 AM, Error: Missing refresh token.";
    // No refresh token from a generic OAuth 2 connector: the identity provider never issued
    // one, a setup problem of the connector's app (corpus c017).
    let d = assert_cat(t, Category::AppConfig, "text:missing-refresh-token");
    assert_eq!(d.confidence, Confidence::Hypothesis);
}

#[test]
fn family_http_auth() {
    let c = Classifier::builtin();
    for t in [
        r#"{"statusCode": 401, "body": {"message": "Request failed"}}"#,
        "The remote server returned an error: (403) Forbidden.",
        "Unauthorized",
    ] {
        let d = c.classify(t, run());
        assert_eq!(c.rule_id(d.rule), "text:http-401-403", "{t}");
        assert_eq!(d.confidence, Confidence::Hypothesis);
        assert!(c.note(&d).is_some());
    }
    // 401 inside an id is not a status.
    assert_eq!(
        cls("Run 08584401000000000000000000000CU01 failed")
            .0
            .category,
        Category::Unknown
    );
}

#[test]
fn family_throttling_service_flow_logic_dlp_suspension() {
    let d = assert_cat(
        r#"{"statusCode":429,"message":"Rate limit is exceeded. Try again in 12 seconds."}"#,
        Category::NotAuth,
        "text:throttled",
    );
    assert_eq!(
        (d.root_cause, d.fix, d.actor),
        (RootCause::ServiceSide, Fix::RetryLater, Actor::None)
    );
    assert_cat("TooManyRequests", Category::NotAuth, "text:throttled");
    assert_cat(
        "BadGateway: The server returned an invalid response.",
        Category::NotAuth,
        "text:server-error",
    );
    assert_cat(
        "The request failed with status code 503 ServiceUnavailable",
        Category::NotAuth,
        "text:server-error",
    );
    assert_cat(
        "The operation timed out.",
        Category::NotAuth,
        "text:timed-out",
    );
    let d = assert_cat(
        "InvalidTemplate. Unable to process template language expressions in action 'Compose' inputs at line '0' and column '0': 'The template language function 'split' expects its first parameter to be of type string.'",
        Category::NotAuth,
        "text:invalid-template",
    );
    assert_eq!(
        (d.root_cause, d.fix, d.actor),
        (RootCause::FlowLogic, Fix::FixFlow, Actor::Owner)
    );
    let d = assert_cat(
        "The flow has been suspended because it uses connectors that violate the environment's data loss prevention policy.",
        Category::NotAuth,
        "text:dlp",
    );
    assert_eq!(d.actor, Actor::Admin);
    assert_cat(
        "Your flow was suspended: FlowSuspensionReason AlwaysFailingDetected",
        Category::NotAuth,
        "text:flow-suspended",
    );
}

#[test]
fn family_wrapper_yields_unknown() {
    let c = Classifier::builtin();
    for t in [
        "ActionFailed",
        "An action failed. No dependent actions succeeded.",
    ] {
        let d = c.classify(t, run());
        assert_eq!(d.category, Category::Unknown, "{t}");
        assert_eq!(c.rule_id(d.rule), "text:action-failed-wrapper");
        assert_eq!(d.fix, Fix::Investigate);
    }
    let d = c.classify("Something entirely different happened", run());
    assert_eq!((d.category, c.rule_id(d.rule)), (Category::Unknown, "none"));
    assert_eq!(d.span, (0, 0));
    // The wrapper with a real cause behind it takes the cause.
    let d = c.classify(&format!("ActionFailed. {MFA_50076}"), run());
    assert_eq!(d.category, Category::MfaRequired);
}

#[test]
fn context_effects() {
    let c = Classifier::builtin();
    let d = c.classify(MFA_50076, run());
    assert_eq!(d.effects, Effects::of(&[Effect::E1]));
    let d = c.classify(MFA_50076, ctx(Context::ConnectionCreation, None));
    assert_eq!(d.effects, Effects::of(&[Effect::E2, Effect::E3]));
    assert_eq!(d.root_cause, RootCause::SigninNotMatchingPolicy);
    let d = c.classify(MFA_50076, ctx(Context::Run, Some(Host::Teams)));
    assert_eq!(d.effects, Effects::of(&[Effect::E1, Effect::E5]));
    assert_eq!(d.root_cause, RootCause::EmbeddedHostSession);
    assert_eq!(d.confidence, Confidence::Likely);
    let dev = "AADSTS53000: Device is not in required device state: compliant.";
    let d = c.classify(dev, ctx(Context::Run, Some(Host::SharePoint)));
    assert_eq!(d.root_cause, RootCause::SharepointCaBoundary);
    assert!(d.effects.contains(Effect::E6) && d.effects.contains(Effect::E7));
    // Context does not touch categories that are not about policy.
    let d = c.classify(
        TOKEN_SAMPLE,
        ctx(Context::ConnectionCreation, Some(Host::SharePoint)),
    );
    assert_eq!(d.root_cause, RootCause::TokenInactivity);
    assert_eq!(d.effects, Effects::of(&[Effect::E1]));
}

#[test]
fn bare_signin_codes() {
    let c = Classifier::builtin();
    let si = ctx(Context::SignIn, None);
    for t in [
        "50076",
        " 50076 ",
        "Sign-in error code: 50076",
        "sign-in error code 50076",
        "50076: Strong Authentication is required.",
    ] {
        let d = c.classify(t, si);
        assert_eq!(d.aadsts, vec![50076], "{t:?}");
        assert_eq!(c.rule_id(d.rule), "aadsts:50076", "{t:?}");
    }
    // Outside a sign-in log a bare number is just a number.
    assert!(c.classify("50076", run()).aadsts.is_empty());
    assert!(c.classify("500761234", si).aadsts.is_empty());
}

#[test]
fn explain_lists_every_match_winner_first() {
    let c = Classifier::builtin();
    let t = format!("ActionFailed. {MFA_50076} 401 Unauthorized");
    let m = c.explain(&t, run());
    let ids: Vec<&str> = m.iter().map(|m| m.id).collect();
    assert_eq!(ids[0], "aadsts:50076");
    assert!(m[0].winner && m.iter().skip(1).all(|m| !m.winner));
    for want in [
        "text:mfa-must-use",
        "text:token-refresh-failed",
        "text:http-401-403",
        "text:action-failed-wrapper",
    ] {
        assert!(ids.contains(&want), "{want} missing from {ids:?}");
    }
    assert!(m.windows(2).skip(1).all(|w| w[0].priority >= w[1].priority));
    for x in &m {
        assert!(x.span.1 > x.span.0 && t.get(x.span.0..x.span.1).is_some());
    }
    assert!(c.explain("nothing here", run()).is_empty());
}

#[test]
fn signatures_group_runs() {
    let a = "The API 'office365' returned 500 for run 08585263462847305235127631245CU17 at 2024-05-02T06:01:13.1234567Z (clientRequestId 0b7c1c7e-4a5e-4b1a-9c3e-2f1e0d9c8b7a)";
    let b = "The API 'office365' returned 500 for run 08584999999999999999999999999CU02 at 2023-12-19T23:59:59Z (clientRequestId aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee)";
    assert_eq!(signature(a), signature(b));
}

fn write(dir: &tempfile::TempDir, name: &str, body: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, body).unwrap();
    p
}

/// The built-in rules with a user rules file holding `toml`.
fn with_user_toml(toml: &str) -> Classifier {
    let dir = tempfile::tempdir().unwrap();
    Classifier::with_user_rules(&write(&dir, "rules.toml", toml)).unwrap()
}

#[test]
fn user_rules_add_and_override() {
    let dir = tempfile::tempdir().unwrap();
    let c = with_user_toml(
        r#"
[[rule]]
id = "text:action-failed-wrapper"
family = "wrapper"
any = ["actionfailed"]
category = "not-auth"
fix = "fix-flow"
priority = 1

[[rule]]
id = "site:sql-login"
family = "sql"
any = ["login failed for user"]
regex = 'login failed for user \S+'
category = "credentials-invalid"
confidence = "certain"
priority = 95

[[rule]]
id = "aadsts:50076"
codes = [50076]
category = "mfa-required"
fix = "review-ca-policy"
"#,
    );
    let d = c.classify("ActionFailed", run());
    assert_eq!(
        (d.category, c.rule_id(d.rule)),
        (Category::NotAuth, "text:action-failed-wrapper")
    );
    let t = "Login failed for user 'svc_flow'.";
    let d = c.classify(t, run());
    assert_eq!(c.rule_id(d.rule), "site:sql-login");
    assert_eq!(d.evidence(t), "Login failed for user 'svc_flow'.");
    assert_eq!(c.rule(d.rule).family, "sql");
    let d = c.classify(MFA_50076, run());
    assert_eq!(
        (c.rule_id(d.rule), d.fix, d.actor),
        ("aadsts:50076", Fix::ReviewCaPolicy, Actor::Admin)
    );
    // The built-in set is untouched.
    let b = Classifier::builtin();
    assert_eq!(
        b.classify("ActionFailed", run()).category,
        Category::Unknown
    );
    assert_eq!(c.rules().len(), b.rules().len() + 1);

    let j = write(
        &dir,
        "rules.json",
        r#"{"rule": [{"id": "x:json", "family": "j", "any": ["frobnicated"], "category": "transient"}]}"#,
    );
    let c = Classifier::with_user_rules(&j).unwrap();
    assert_eq!(
        c.classify("it frobnicated", run()).category,
        Category::Transient
    );
    let j2 = write(
        &dir,
        "rules.any",
        r#"[{"id": "x:bare", "any": ["zzz"], "category": "transient"}]"#,
    );
    assert_eq!(
        Classifier::with_user_rules(&j2)
            .unwrap()
            .classify("zzz", run())
            .fix,
        Fix::RetryLater
    );
}

/// A user rule may name an id or a date, which a template would zero: with user rules,
/// messages are classified as written, every time.
#[test]
fn user_rules_see_ids_and_dates_as_written() {
    let c = with_user_toml(
        r#"
[[rule]]
id = "site:sharepoint-app"
family = "site"
any = ["00000003-0000-0ff1-ce00-000000000000"]
category = "not-auth"
priority = 99

[[rule]]
id = "site:freeze-day"
family = "site"
regex = '2024-12-24'
category = "transient"
priority = 98
"#,
    );
    let app = "Access to '00000003-0000-0ff1-ce00-000000000000' was denied.";
    let other = "Access to '11111111-0000-0ff1-ce00-000000000000' was denied.";
    let day = "Run skipped on 2024-12-24 by the freeze.";
    for _ in 0..2 {
        assert_eq!(
            c.rule_id(c.classify(app, run()).rule),
            "site:sharepoint-app"
        );
        assert_ne!(
            c.rule_id(c.classify(other, run()).rule),
            "site:sharepoint-app"
        );
        assert_eq!(c.rule_id(c.classify(day, run()).rule), "site:freeze-day");
    }
    // The built-in rules, by template, know neither.
    let b = Classifier::builtin();
    assert_ne!(
        b.rule_id(b.classify(app, run()).rule),
        "site:sharepoint-app"
    );
}

#[test]
fn user_rule_errors_name_file_line_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "bad-cat.toml",
            "[[rule]]\nid = \"a\"\nany = [\"x\"]\ncategory = \"mfa\"\n",
            4,
            "unknown Category",
        ),
        (
            "bad-regex.toml",
            "[[rule]]\nid = \"a\"\nany = [\"x\"]\ncategory = \"mfa-required\"\n\n[[rule]]\nid = \"b\"\nregex = \"(\"\ncategory = \"unknown\"\n",
            7,
            "rule 'b': invalid regex",
        ),
        (
            "no-trigger.toml",
            "[[rule]]\nid = \"lonely\"\ncategory = \"unknown\"\n",
            2,
            "at least one",
        ),
        (
            "typo.toml",
            "[[rule]]\nid = \"a\"\nany = [\"x\"]\ncategry = \"unknown\"\n",
            0,
            "categ",
        ),
        (
            "dup.json",
            "{\"rule\": [\n{\"id\": \"d\", \"any\": [\"x\"], \"category\": \"unknown\"},\n{\"id\": \"d\", \"any\": [\"y\"], \"category\": \"unknown\"}]}",
            2,
            "defined twice",
        ),
        (
            "bad.json",
            "{\"rule\": [\n{\"id\": \"j\",\n \"any\": [\"x\"], \"category\": \"nope\"}]}",
            2,
            "rule 'j'",
        ),
        ("broken.json", "{\"rule\": [", 1, "not valid JSON"),
    ];
    for (name, body, line, what) in cases {
        let p = write(&dir, name, body);
        let e = Classifier::with_user_rules(&p).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(name), "{msg}");
        assert!(msg.contains(what), "{name}: {msg}");
        if line > 0 {
            match e {
                crate::Error::Rules { line: l, .. } => assert_eq!(l, line, "{name}: {msg}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
    let missing = dir.path().join("nope.toml");
    assert!(matches!(
        Classifier::with_user_rules(&missing),
        Err(crate::Error::Io { .. })
    ));
}

/// On-CPU time of this thread in nanoseconds (Linux), so that a busy machine does not
/// understate throughput; wall time elsewhere.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// `cargo test --release --lib throughput -- --ignored --nocapture` prints messages per
/// second for the bench mix (on-CPU and wall clock) and the cost of each message.
#[test]
#[ignore]
fn throughput() {
    let c = Classifier::builtin();
    let msgs = bench_messages();
    let n = 1_000_000usize;
    let mut acc = 0usize;
    let mut best = (0.0f64, 0.0f64);
    for _round in 0..5 {
        let (wall, cpu) = (std::time::Instant::now(), cpu_ns());
        for i in 0..n {
            acc += c.classify_uncached(msgs[i % msgs.len()], run()).rule as usize;
        }
        let wall = wall.elapsed().as_secs_f64();
        let cpu = cpu
            .zip(cpu_ns())
            .map(|(a, b)| (b - a) as f64 / 1e9)
            .unwrap_or(wall);
        best.0 = best.0.max(n as f64 / cpu);
        best.1 = best.1.max(n as f64 / wall);
    }
    std::hint::black_box(acc);
    println!(
        "best of 5 x {n} messages: {:.0} messages/s on-CPU, {:.0} messages/s wall",
        best.0, best.1
    );
    if std::env::var_os("FLOWDX_BREAKDOWN").is_some() {
        for m in &msgs {
            let k = 400_000;
            let t = std::time::Instant::now();
            for _ in 0..k {
                acc += c.classify_uncached(m, run()).rule as usize;
            }
            std::hint::black_box(acc);
            let ns = t.elapsed().as_nanos() as f64 / k as f64;
            println!("{ns:>8.0} ns  {m:.70}");
        }
    }
}

/// Instructions per message, for callgrind, which counts instructions whatever the load:
/// `valgrind --tool=callgrind --toggle-collect='*classify_rounds*' <the lib test binary>
/// classify::tests::instructions --ignored --exact` counts `FLOWDX_ROUNDS` (default 500)
/// passes over the bench mix (each message classified as never seen), after 200 passes that
/// fill the regexes' lazy caches.
#[test]
#[ignore]
fn instructions() {
    // `FLOWDX_AS_WRITTEN=1`: the built-in rules on messages as written, for the cost of
    // templates.
    let c = if std::env::var_os("FLOWDX_AS_WRITTEN").is_some() {
        as_written()
    } else {
        Classifier::builtin()
    };
    let msgs = bench_messages();
    let rounds = std::env::var("FLOWDX_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(500);
    for _ in 0..200 {
        for m in &msgs {
            std::hint::black_box(c.classify_uncached(m, run()));
        }
    }
    std::hint::black_box(classify_rounds(&c, &msgs, rounds));
    println!("{} messages measured", rounds * msgs.len());
}

#[inline(never)]
fn classify_rounds(c: &Classifier, msgs: &[&str], rounds: usize) -> usize {
    let mut acc = 0usize;
    for _ in 0..rounds {
        for m in msgs {
            acc += c.classify_uncached(std::hint::black_box(m), run()).rule as usize;
        }
    }
    acc
}

/// A realistic mix of failure messages, one per line (shared with `benches/classify.rs`).
pub fn bench_messages() -> Vec<&'static str> {
    include_str!("../../benches/messages.txt").lines().collect()
}

#[test]
fn bench_mix_is_classified_as_expected() {
    let c = Classifier::builtin();
    let msgs = bench_messages();
    assert_eq!(msgs.len(), 20);
    assert!(msgs.contains(&TOKEN_SAMPLE));
    let unknown = msgs
        .iter()
        .filter(|m| c.classify(m, run()).category == Category::Unknown)
        .count();
    // Only the two ActionFailed wrappers say nothing.
    assert_eq!(unknown, 2);
}

#[test]
fn candidate_bits_and_first_hits() {
    let mut b = Bits::new(130);
    assert!(b.set(129) && b.set(3) && !b.set(3));
    assert_eq!(b.ones().collect::<Vec<_>>(), vec![3, 129]);
    let mut big = Bits::new(64 * 40);
    assert!(big.set(64 * 39 + 1));
    assert_eq!(big.ones().collect::<Vec<_>>(), vec![64 * 39 + 1]);
    let mut h = Hits::new();
    h.push(7, 10, 20);
    h.earlier(7, 5, 9);
    h.earlier(7, 6, 8);
    assert_eq!(h.get(7), Some((5, 9)));
    assert_eq!(h.get(8), None);
    for r in 0..40 {
        h.push(100 + r, 0, 1);
    }
    assert_eq!(h.get(100 + 30), Some((0, 1)));
    assert_eq!(
        h.get(100 + 31),
        None,
        "the list holds 32 rules; the rest are re-scanned"
    );
}

/// Messages that differ only in ids and times share a template, and the template gives
/// each message the diagnosis the message itself gives: the rules never look inside the
/// values a template zeroes. Checked on every failure text of a generated tenant (every
/// failure kind, its wrappers, escapings, dates and ids), in every context, and on the
/// bench mix.
#[test]
fn templates_give_the_diagnoses_of_the_messages() {
    use crate::r#gen::{run as genrun, tenant};
    let n = 25_000u64;
    let t = tenant::Tenant::build(11, tenant::Scale::for_records(n));
    let mut runs = genrun::RunGen::new(&t, 11);
    let mut r = genrun::Run::default();
    let mut texts: Vec<String> = bench_messages().iter().map(|m| m.to_string()).collect();
    // Sign-in rows whose bare codes count only in the sign-in context.
    texts.extend(
        [
            "Sign-in error code: 50076",
            "50053: Account is locked. Correlation ID: 52b391c3-9c1d-42c7-99f3-a219b7675aee",
            "Status  Failure\nSign-in error code  500121\nDate 2024-05-02 06:01:13Z",
        ]
        .map(String::from),
    );
    for _ in 0..n {
        runs.next(&mut r);
        for b in [&r.message, &r.detail] {
            if !b.is_empty() {
                texts.push(String::from_utf8_lossy(b).into_owned());
            }
        }
    }
    let (c, w) = (Classifier::builtin(), as_written());
    let mut templates = std::collections::HashSet::new();
    let mut by_code = 0;
    for text in &texts {
        templates.insert(template_of(text));
        for context in [
            Context::Run,
            Context::ConnectionCreation,
            Context::ConnectionStatus,
            Context::SignIn,
        ] {
            let x = ctx(context, None);
            let d = c.classify(text, x);
            assert_eq!(d, w.classify(text, x), "{context:?}: {text}");
            assert_eq!(d, c.classify_uncached(text, x), "{context:?}: {text}");
            by_code += usize::from(!d.aadsts.is_empty());
        }
    }
    assert!(texts.len() > 5_000, "{} texts", texts.len());
    assert!(by_code > 1_000, "{by_code} diagnoses with codes");
    // Ids and times are what make messages differ.
    assert!(
        templates.len() * 10 < texts.len(),
        "{} templates for {} texts",
        templates.len(),
        texts.len()
    );
}

/// No literal of the built-in rules (nor a token key) could match bytes a template zeroes,
/// except literals that only make a rule with a regex a candidate: there the regex decides
/// and gives the evidence, and the differential test above checks the regexes.
#[test]
fn built_in_literals_never_see_templated_values() {
    let c = Classifier::builtin();
    let gated = |p: usize| {
        c.inner.pat_flags[p] == 0
            && c.inner.pat_rules[p]
                .iter()
                .all(|&r| c.inner.rules[r as usize].regex.is_some())
    };
    let seen: Vec<&String> = (0..c.inner.patterns.len())
        .filter(|&p| !gated(p) && template::overlaps_masked_value(&c.inner.patterns[p]))
        .map(|p| &c.inner.patterns[p])
        .collect();
    assert!(seen.is_empty(), "{seen:?}");
    assert!(c.inner.patterns.len() > 100);
    for k in token::KEYS {
        assert!(!template::overlaps_masked_value(k), "{k}");
    }
}

/// A kept verdict serves a message with other ids and times: its own token fields and
/// evidence are read from it, not from the message first classified.
#[test]
fn kept_verdicts_read_each_messages_own_values() {
    let c = Classifier::builtin();
    let other = TOKEN_SAMPLE
        .replace(
            "b6f03183-79e9-4f81-a640-efcf65c30400",
            "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        )
        .replace("2021-04-08 23:40:36Z", "2022-11-30 01:02:03Z")
        .replace("2020-09-01T12:13:41", "2019-12-31T23:59:59")
        .replace("4/8/2021 11:40:36 PM", "5/9/2022 10:41:37 PM");
    assert_eq!(template_of(&other), template_of(TOKEN_SAMPLE));
    let first = c.classify(TOKEN_SAMPLE, run());
    let second = c.classify(&other, run());
    assert_eq!(second, as_written().classify(&other, run()));
    assert_eq!(first.rule, second.rule);
    let (t1, t2) = (first.token.unwrap(), second.token.unwrap());
    assert_eq!(
        t1.trace_id.as_deref(),
        Some("b6f03183-79e9-4f81-a640-efcf65c30400")
    );
    assert_eq!(
        t2.trace_id.as_deref(),
        Some("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
    );
    assert_ne!(t1.timestamp, t2.timestamp);
    assert_ne!(t1.issued_on, t2.issued_on);
}

/// A thread that has kept as many verdicts as it may starts afresh, and goes on giving the
/// same diagnoses.
#[test]
fn kept_verdicts_start_afresh_when_full() {
    let c = Classifier::builtin();
    for i in 0..MEMO_ENTRIES + 10 {
        let text =
            format!("Flow step {i} failed: AADSTS50076 you must use multi-factor authentication");
        let d = c.classify(&text, run());
        assert_eq!(d.aadsts, vec![50076]);
        assert_eq!(d, as_written().classify(&text, run()));
    }
    MEMO.with_borrow(|m| {
        assert!(m.verdicts.len() <= MEMO_ENTRIES);
        assert!(m.bytes <= MEMO_BYTES);
        assert_eq!(m.bytes, m.verdicts.keys().map(|k| k.len()).sum::<usize>());
    });
}

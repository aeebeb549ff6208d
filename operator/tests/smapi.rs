//! The SMAPI step against the in-repo SMAPI + LWA stand-in (which follows
//! the documented contract): what is sent, when, and how each answer shows.
//! The same flows on a real control plane: tests/operator/smapi.sh.

use std::collections::BTreeMap;
use std::time::Duration;

use alexa_link_operator::crd::AlexaSkillLinkSpec;
use alexa_link_operator::resolve::Resolved;
use alexa_link_operator::smapi::client::{Endpoints, SmapiClient};
use alexa_link_operator::smapi::reasons;
use alexa_link_operator::smapi::skill::{Skill, validate};
use alexa_link_operator::smapi::spec::AlexaSkillStatus;
use alexa_link_operator::smapi::sync::{Outcome, Smapi, sync};
use alexa_link_server::testing::smapi::{
    READ_ONLY_REFRESH_TOKEN, SKILL_ID, SMAPI_CLIENT_ID, SMAPI_CLIENT_SECRET, SMAPI_REFRESH_TOKEN,
    SmapiStandIn, VENDOR_ID,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;

fn skill(extra: &str) -> Skill {
    let spec: AlexaSkillLinkSpec = serde_yaml::from_str(&format!(
        r#"
host: link.example.com
clients:
  - clientId: alexa-skill
    clientSecretRef: {{name: client, key: secret}}
    alexaVendorId: M2OLD
    scopes: [profile]
identity: {{static: {{usersSecretRef: {{name: u, key: users.yaml}}}}}}
tls: {{ingress: {{}}}}
storage: {{embedded: {{}}}}
alexaSkill:
  skillId: {SKILL_ID}
  credentialsSecretName: smapi
{extra}
"#
    ))
    .expect("spec");
    validate(&spec).expect("valid").expect("set")
}

fn resolved(client_secret: &str, refresh_token: &str) -> Resolved {
    let mut r = Resolved::default();
    r.secrets.insert(
        "client".into(),
        Some(BTreeMap::from([(
            "secret".into(),
            format!("{client_secret}\n").into_bytes(),
        )])),
    );
    r.smapi_credentials = Some(BTreeMap::from([
        ("client-id".into(), SMAPI_CLIENT_ID.as_bytes().to_vec()),
        (
            "client-secret".into(),
            SMAPI_CLIENT_SECRET.as_bytes().to_vec(),
        ),
        ("refresh-token".into(), refresh_token.as_bytes().to_vec()),
    ]));
    r
}

fn smapi(standin: &SmapiStandIn, drift_interval: Duration) -> Smapi {
    let client = SmapiClient::new(
        Endpoints {
            smapi: standin.base_url.clone(),
            lwa_token: standin.token_url.clone(),
        },
        None,
    )
    .expect("client");
    Smapi::new(client, drift_interval)
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

async fn run(s: &Smapi, skill: &Skill, r: &Resolved, prev: Option<&AlexaSkillStatus>) -> Outcome {
    sync(s, "ns/link", skill, r, prev, now()).await
}

fn reason(o: &Outcome) -> Option<(&str, &str)> {
    o.verdict.as_ref().map(|v| (v.status, v.reason.as_str()))
}

fn puts(standin: &SmapiStandIn) -> Vec<serde_json::Value> {
    standin
        .received()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.body)
        .collect()
}

#[tokio::test]
async fn configures_once_then_sends_again_only_on_change() {
    let standin = SmapiStandIn::start().await;
    let s = smapi(&standin, Duration::from_secs(3600));
    let sk = skill("");
    let first = run(&s, &sk, &resolved("secret-1", SMAPI_REFRESH_TOKEN), None).await;
    assert_eq!(reason(&first), Some(("True", reasons::CONFIGURED)));
    assert_eq!(first.status.redirect_urls.len(), 3);
    assert_eq!(first.status.vendor_id.as_deref(), Some(VENDOR_ID));
    assert!(first.status.last_synced_hash.is_some());
    let sent = puts(&standin);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["accountLinkingRequest"]["clientSecret"], "secret-1",
        "the secret as the server reads it (no trailing newline)"
    );

    // Unchanged, read-back not due: nothing at all is called.
    let calls = standin.received().len();
    let again = run(
        &s,
        &sk,
        &resolved("secret-1", SMAPI_REFRESH_TOKEN),
        Some(&first.status),
    )
    .await;
    assert_eq!(reason(&again), None, "nothing learned: the condition stays");
    assert_eq!(again.status, first.status);
    assert_eq!(standin.received().len(), calls);

    // A rotated secret is a new revision.
    let rotated = run(
        &s,
        &sk,
        &resolved("secret-2", SMAPI_REFRESH_TOKEN),
        Some(&first.status),
    )
    .await;
    assert_eq!(reason(&rotated), Some(("True", reasons::CONFIGURED)));
    assert_ne!(
        rotated.status.last_synced_hash,
        first.status.last_synced_hash
    );
    assert_eq!(
        puts(&standin)[1]["accountLinkingRequest"]["clientSecret"],
        "secret-2"
    );
    assert_eq!(standin.token_calls(), 1, "the LWA token is cached");
}

#[tokio::test]
async fn a_rejected_request_is_a_reason_and_is_not_sent_again() {
    let standin = SmapiStandIn::start().await;
    let s = smapi(&standin, Duration::from_secs(3600));
    let sk = skill("  domains: [intranet]\n");
    let r = resolved("secret", SMAPI_REFRESH_TOKEN);
    let o = run(&s, &sk, &r, None).await;
    assert_eq!(reason(&o), Some(("False", "InvalidDomain")));
    assert!(o.status.rejected_hash.is_some());
    assert_eq!(o.retry_in, None);
    let again = run(&s, &sk, &r, Some(&o.status)).await;
    assert_eq!(reason(&again), None);
    assert_eq!(puts(&standin).len(), 1, "not re-sent");
}

#[tokio::test]
async fn console_edits_are_corrected_or_reported() {
    let standin = SmapiStandIn::start().await;
    let s = smapi(&standin, Duration::ZERO);
    let sk = skill("");
    let r = resolved("secret", SMAPI_REFRESH_TOKEN);
    let first = run(&s, &sk, &r, None).await;
    let edit = |fields: serde_json::Value| {
        standin.console_edit("development", fields.as_object().cloned().expect("object"))
    };
    edit(json!({"accessTokenScheme": "REQUEST_BODY_CREDENTIALS"}));
    let fixed = run(&s, &sk, &r, Some(&first.status)).await;
    assert_eq!(reason(&fixed), Some(("True", reasons::CONFIGURED)));
    let notice = fixed.notice.expect("a DriftCorrected notice");
    assert!(notice.note.contains("accessTokenScheme"), "{}", notice.note);
    assert_eq!(puts(&standin).len(), 2, "corrected");

    let observe = skill("  mode: Observe\n");
    edit(json!({"scopes": ["profile", "email"]}));
    let seen = run(&s, &observe, &r, Some(&fixed.status)).await;
    assert_eq!(reason(&seen), Some(("False", reasons::DRIFTED)));
    assert_eq!(seen.status.drifted_fields, ["scopes"]);
    assert_eq!(puts(&standin).len(), 2, "Observe never writes");
}

#[tokio::test]
async fn throttling_and_refusals_show_as_conditions() {
    let standin = SmapiStandIn::start().await;
    let s = smapi(&standin, Duration::from_secs(3600));
    let sk = skill("");
    standin.throttle(1, Duration::from_secs(4));
    let o = run(&s, &sk, &resolved("secret", SMAPI_REFRESH_TOKEN), None).await;
    assert_eq!(reason(&o), Some(("Unknown", reasons::THROTTLED)));
    assert_eq!(o.retry_in, Some(Duration::from_secs(4)), "Retry-After");
    let o = run(
        &s,
        &sk,
        &resolved("secret", SMAPI_REFRESH_TOKEN),
        Some(&o.status),
    )
    .await;
    assert_eq!(reason(&o), Some(("True", reasons::CONFIGURED)));

    let o = run(&s, &sk, &resolved("secret", READ_ONLY_REFRESH_TOKEN), None).await;
    assert_eq!(reason(&o), Some(("False", reasons::UNAUTHORIZED)));
    let o = run(&s, &sk, &resolved("secret", "Atzr|revoked"), None).await;
    assert_eq!(reason(&o), Some(("False", reasons::CREDENTIALS_REJECTED)));
    assert!(!o.verdict.expect("verdict").message.contains("Atzr|revoked"));
    let mut missing = resolved("secret", SMAPI_REFRESH_TOKEN);
    missing.smapi_credentials = None;
    let o = run(&s, &sk, &missing, None).await;
    assert_eq!(reason(&o), Some(("False", reasons::CREDENTIALS_MISSING)));

    let mut unknown = skill("");
    unknown.skill_id = "amzn1.ask.skill.unknown".into();
    let o = run(&s, &unknown, &resolved("secret", SMAPI_REFRESH_TOKEN), None).await;
    assert_eq!(reason(&o), Some(("False", reasons::SKILL_NOT_FOUND)));
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once_and_the_call_repeated() {
    let standin = SmapiStandIn::start().await;
    let s = smapi(&standin, Duration::ZERO);
    let sk = skill("");
    let r = resolved("secret", SMAPI_REFRESH_TOKEN);
    let first = run(&s, &sk, &r, None).await;
    assert_eq!(standin.token_calls(), 1);
    standin.revoke_access_tokens();
    let again = run(&s, &sk, &r, Some(&first.status)).await;
    assert_eq!(reason(&again), Some(("True", reasons::CONFIGURED)));
    assert_eq!(standin.token_calls(), 2, "one refresh after the 401");
    let statuses: Vec<u16> = standin.received().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [204, 200, 401, 200]);
}

//! App-to-App account linking end to end, against the LWA and Alexa
//! stand-ins (`testing::lwa`, `testing::alexa`); the Alexa stand-in redeems
//! our codes at our real token endpoint, as Alexa does.

use std::time::{Duration, Instant};

use alexa_link_server::app::AppState;
use alexa_link_server::clock::Clock;
use alexa_link_server::routes;
use alexa_link_server::server::{self, Listeners, Running};
use alexa_link_server::testing::alexa::{self, AlexaStandIn};
use alexa_link_server::testing::lwa::LwaStandIn;
use alexa_link_server::testing::{
    self, APP_ALEXA_REDIRECT, APP_CLIENT_ID, APP_OAUTH_REDIRECT, Browser, CLIENT_ID, ClientAuth,
    Pkce, TestServer, USERS, app_user_code, app_user_code_at, app_user_token, app_user_tokens,
    hidden_field, location_params, param, redirect_uri, token_request,
};
use serde_json::Value;
use url::Url;

const ANN: (&str, &str) = USERS[0];
const BOB: (&str, &str) = USERS[1];

/// The stand-ins and a server configured against them.
struct World {
    lwa: LwaStandIn,
    alexa: AlexaStandIn,
    server: TestServer,
}

async fn world() -> World {
    let lwa = LwaStandIn::start().await;
    let alexa = AlexaStandIn::start(lwa.handle()).await;
    let server = alexa::start_server(&lwa, &alexa, |_| {}).await;
    World { lwa, alexa, server }
}

/// The developer's app: its user's bearer token and our server.
struct App {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl App {
    async fn signed_in(server: &TestServer, user: (&str, &str)) -> App {
        App {
            base: server.base_url.clone(),
            token: app_user_token(server, user).await,
            http: reqwest::Client::new(),
        }
    }

    fn on(&self, base: &str) -> App {
        App {
            base: base.to_owned(),
            token: self.token.clone(),
            http: self.http.clone(),
        }
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .form(form)
            .send()
            .await
            .expect("request");
        (r.status().as_u16(), r.json().await.expect("JSON answer"))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request");
        (r.status().as_u16(), r.json().await.expect("JSON answer"))
    }

    /// `start` for the app's universal link; returns the Alexa app URL.
    async fn start(&self) -> Value {
        let (status, body) = self
            .post(
                routes::APP_TO_APP_START,
                &[("redirect_uri", APP_ALEXA_REDIRECT)],
            )
            .await;
        assert_eq!(status, 200, "start: {body}");
        body
    }

    async fn complete(&self, code: &str, state: &str) -> (u16, Value) {
        self.post(
            routes::APP_TO_APP_COMPLETE,
            &[("code", code), ("state", state)],
        )
        .await
    }
}

/// The user approves in the Alexa app: opening the URL yields the redirect
/// to the app with Amazon's code and the state.
async fn approve_in_alexa_app(url: &str) -> (String, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http");
    let r = http.get(url).send().await.expect("Alexa app");
    assert_eq!(r.status(), 302, "the Alexa app consents and redirects");
    let location = r.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        location.starts_with(APP_ALEXA_REDIRECT),
        "back to the app: {location}"
    );
    let params = location_params(&r);
    (
        param(&params, "code").expect("code").to_owned(),
        param(&params, "state").expect("state").to_owned(),
    )
}

/// The app's whole linking: start, approve, complete.
async fn link(app: &App) -> (u16, Value) {
    let started = app.start().await;
    let (code, state) = approve_in_alexa_app(started["alexa_app_url"].as_str().expect("url")).await;
    app.complete(&code, &state).await
}

fn assert_linked(status: u16, body: &Value) {
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ENABLED", "{body}");
    assert_eq!(body["account_link"], "LINKED", "{body}");
}

const AMAZON_ANN: &str = "amzn1.account.ANN";

/// Alexa refreshes the tokens it got for the skill at our token endpoint.
async fn alexa_refreshes(w: &World, alexa_tokens: &Value) -> (u16, Value) {
    let refresh = alexa_tokens["refresh_token"].as_str().expect("refresh");
    token_request(
        &w.server,
        ClientAuth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await
}

#[tokio::test]
async fn linking_from_the_app_enables_the_skill_and_keeps_the_amazon_tokens() {
    let w = world().await;
    let app = App::signed_in(&w.server, ANN).await;

    let started = app.start().await;
    let alexa_url = Url::parse(started["alexa_app_url"].as_str().expect("url")).expect("url");
    let q: Vec<(String, String)> = alexa_url.query_pairs().into_owned().collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("client_id"), Some(testing::lwa::LWA_CLIENT_ID));
    assert_eq!(get("scope"), Some("alexa::skills:account_linking"));
    assert_eq!(get("skill_stage"), Some("development"));
    assert_eq!(get("redirect_uri"), Some(APP_ALEXA_REDIRECT));
    assert_eq!(get("state"), started["state"].as_str());
    assert!(
        started["lwa_fallback_url"]
            .as_str()
            .is_some_and(|u| u.contains("/ap/oa?")),
        "{started}"
    );

    let (code, state) = approve_in_alexa_app(alexa_url.as_str()).await;
    let (status, body) = app.complete(&code, &state).await;
    assert_linked(status, &body);

    // Alexa holds working tokens of ours for Ann: its refresh works.
    let enabled = w.alexa.enabled_for(AMAZON_ANN).expect("enabled at Alexa");
    let alexa_tokens = enabled.tokens.expect("Alexa redeemed our code");
    let (status, refreshed) = alexa_refreshes(&w, &alexa_tokens).await;
    assert_eq!(status, 200, "{refreshed}");
    // The user's region was the second endpoint Alexa named: both tried.
    assert!(w.alexa.enablement_calls() >= 2);
    // The Amazon tokens are in custody: /api/partner/token serves them.
    let (status, partner) = testing::partner_token(&w.server, "user-ann").await;
    assert_eq!(status, 200, "{partner}");
    assert!(
        partner["access_token"]
            .as_str()
            .expect("token")
            .starts_with("Atza|")
    );

    let (status, body) = app.get(routes::APP_TO_APP_STATUS).await;
    assert_linked(status, &body);
}

#[tokio::test]
async fn linking_from_the_alexa_app_mints_a_code_alexa_redeems() {
    let w = world().await;
    let app = App::signed_in(&w.server, ANN).await;
    let pkce = Pkce::new();
    let alexa_request = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", &redirect_uri()),
        ("state", "alexa-state"),
        ("scope", "profile"),
        ("code_challenge", &pkce.challenge),
        ("code_challenge_method", "S256"),
    ];
    let (status, body) = app.post(routes::APP_TO_APP_AUTHORIZE, &alexa_request).await;
    assert_eq!(status, 200, "{body}");
    let to = Url::parse(body["redirect_to"].as_str().expect("redirect")).expect("url");
    assert!(to.as_str().starts_with(&redirect_uri()), "{to}");
    let q: Vec<(String, String)> = to.query_pairs().into_owned().collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("state").as_deref(), Some("alexa-state"));
    assert_eq!(get("source").as_deref(), Some("app"));
    let code = get("code").expect("code");
    let (status, tokens) = token_request(
        &w.server,
        ClientAuth::Body,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri()),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "Alexa redeems the code: {tokens}");

    // Validated exactly as /oauth/authorize: PKCE is required, and the
    // error goes back to Alexa with its state.
    let without_pkce = &alexa_request[..5];
    let (status, body) = app.post(routes::APP_TO_APP_AUTHORIZE, without_pkce).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    let back = body["redirect_to"].as_str().expect("error redirect");
    assert!(back.contains("error=invalid_request") && back.contains("state=alexa-state"));
    // An unregistered redirect URI is never redirected to.
    let mut evil = alexa_request.to_vec();
    evil[2] = ("redirect_uri", "https://evil.example/cb");
    let (status, body) = app.post(routes::APP_TO_APP_AUTHORIZE, &evil).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.get("redirect_to").is_none(), "{body}");
    // Only for the skill's Alexa client.
    let mut other = alexa_request.to_vec();
    other[1] = ("client_id", testing::OTHER_CLIENT_ID);
    other[2] = ("redirect_uri", "https://app.example.com/callback");
    let (status, _) = app.post(routes::APP_TO_APP_AUTHORIZE, &other).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_endpoints_need_the_apps_user_token_with_its_scope() {
    let w = world().await;
    let anonymous = reqwest::Client::new()
        .post(w.server.url(routes::APP_TO_APP_START))
        .form(&[("redirect_uri", APP_ALEXA_REDIRECT)])
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), 401);
    // Alexa's own token for Ann lacks the alexa_app_link scope.
    let alexa = testing::link(&w.server, ANN, ClientAuth::Basic).await;
    let wrong = App {
        base: w.server.base_url.clone(),
        token: alexa["access_token"].as_str().expect("token").to_owned(),
        http: reqwest::Client::new(),
    };
    let (status, body) = wrong
        .post(
            routes::APP_TO_APP_START,
            &[("redirect_uri", APP_ALEXA_REDIRECT)],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    // The redirect URI must be one of the app's, exactly.
    let app = App::signed_in(&w.server, ANN).await;
    let (status, body) = app
        .post(
            routes::APP_TO_APP_START,
            &[("redirect_uri", "https://app.example.com/alexa-linked/x")],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn a_state_is_single_use_short_lived_and_its_users_alone() {
    let w = world().await;
    let ann = App::signed_in(&w.server, ANN).await;
    let bob = App::signed_in(&w.server, BOB).await;

    let started = ann.start().await;
    let (code, state) = approve_in_alexa_app(started["alexa_app_url"].as_str().expect("url")).await;
    // Bob cannot complete Ann's linking (and uses the state up trying).
    let (status, body) = bob.complete(&code, &state).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_state"))
    );
    let (status, body) = ann.complete(&code, &state).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_state")),
        "replayed"
    );

    let started = ann.start().await;
    let (code, state) = approve_in_alexa_app(started["alexa_app_url"].as_str().expect("url")).await;
    w.server.clock().advance(601);
    let (status, body) = ann.complete(&code, &state).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_state")),
        "expired"
    );
    assert!(w.alexa.enabled_for(AMAZON_ANN).is_none(), "nothing linked");
}

#[tokio::test]
async fn an_expired_amazon_code_is_named_and_links_nothing() {
    let w = world().await;
    let app = App::signed_in(&w.server, ANN).await;
    let started = app.start().await;
    let (_, state) = approve_in_alexa_app(started["alexa_app_url"].as_str().expect("url")).await;
    let (status, body) = app.complete("ANcode-expired", &state).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("amazon_code_invalid")),
        "{body}"
    );
    assert_eq!(w.alexa.enablement_calls(), 0);
    let (status, _) = testing::partner_token(&w.server, "user-ann").await;
    assert_eq!(status, 404, "no Amazon tokens kept");
}

#[tokio::test]
async fn an_amazon_error_redirect_uses_the_state_up() {
    let w = world().await;
    let app = App::signed_in(&w.server, ANN).await;
    let started = app.start().await;
    let state = started["state"].as_str().expect("state");
    let (status, body) = app
        .post(
            routes::APP_TO_APP_COMPLETE,
            &[("error", "access_denied"), ("state", state)],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("access_denied"))
    );
    let (status, body) = app.complete("ANcode-any", state).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_state"))
    );
}

/// Ann has no active grant of the Alexa client and no Amazon tokens.
async fn assert_nothing_half_linked(w: &World) {
    let grants = w
        .server
        .app
        .store
        .list_user_grants("user-ann", w.server.clock().now())
        .await
        .expect("grants");
    assert!(
        grants.iter().all(|(_, g)| g.client_id != CLIENT_ID),
        "a grant of the Alexa client was left: {grants:?}"
    );
    let (status, _) = testing::partner_token(&w.server, "user-ann").await;
    assert_eq!(status, 404, "no Amazon tokens kept");
}

#[tokio::test]
async fn alexas_refusal_is_passed_through_and_nothing_is_left_half_linked() {
    let w = world().await;
    let app = App::signed_in(&w.server, ANN).await;
    w.alexa
        .switches
        .refuse_enable
        .store(400, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = link(&app).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("alexa_rejected")),
        "{body}"
    );
    assert_eq!(body["upstream_status"], 400);
    assert_nothing_half_linked(&w).await;
    let metrics = w.server.app.metrics.encode();
    assert!(
        metrics.contains(r#"alexa_link_app_to_app_completions_total{outcome="alexa_rejected"} 1"#),
        "the failure is counted: {metrics}"
    );
}

#[tokio::test]
async fn transient_failures_are_retried_within_a_bound_then_answer_503() {
    let w = world().await;
    let app = App::signed_in(&w.server, ANN).await;
    // Two 503s: the third attempt at the first endpoint gets through.
    w.alexa
        .switches
        .fail_next
        .store(2, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = link(&app).await;
    assert_linked(status, &body);

    let w = world().await;
    let app = App::signed_in(&w.server, ANN).await;
    w.alexa
        .switches
        .fail_next
        .store(1000, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = link(&app).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{body}"
    );
    // 3 attempts at each of the 2 endpoints, no more.
    assert_eq!(w.alexa.enablement_calls(), 6);
    assert_nothing_half_linked(&w).await;
    // LWA down: also retried, then 503.
    w.lwa
        .switches
        .fail_5xx
        .store(true, std::sync::atomic::Ordering::SeqCst);
    w.alexa
        .switches
        .fail_next
        .store(0, std::sync::atomic::Ordering::SeqCst);
    let started = app.start().await;
    let (code, state) = approve_in_alexa_app(started["alexa_app_url"].as_str().expect("url")).await;
    let (status, body) = app.complete(&code, &state).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{body}"
    );
    assert_nothing_half_linked(&w).await;
    // LWA never answered: the same code and state work once it is back.
    w.lwa
        .switches
        .fail_5xx
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = app.complete(&code, &state).await;
    assert_linked(status, &body);
}

#[tokio::test]
async fn an_already_enabled_skill_counts_as_linked_after_a_status_check() {
    let w = world().await;
    let app = App::signed_in(&w.server, ANN).await;
    let (status, body) = link(&app).await;
    assert_linked(status, &body);
    // Linking again: Alexa answers 409; its status says linked, and Ann
    // holds the grant it stands on.
    let (status, body) = link(&app).await;
    assert_linked(status, &body);
    let (status, partner) = testing::partner_token(&w.server, "user-ann").await;
    assert_eq!(status, 200, "the new Amazon tokens are kept: {partner}");

    // Bob links the same Amazon account: linked, but not to Bob.
    let bob = App::signed_in(&w.server, BOB).await;
    let (status, body) = link(&bob).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("already_linked")),
        "{body}"
    );
}

#[tokio::test]
async fn an_enablement_that_never_redeemed_our_code_is_undone() {
    let w = world().await;
    let app = App::signed_in(&w.server, ANN).await;
    w.alexa
        .switches
        .skip_redeem
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = link(&app).await;
    assert_eq!(status, 502, "{body}");
    assert!(
        w.alexa.enabled_for(AMAZON_ANN).is_none(),
        "disabled again at Alexa"
    );
    assert_nothing_half_linked(&w).await;
}

#[tokio::test]
async fn unlink_disables_the_skill_revokes_the_grant_and_forgets_the_tokens() {
    let w = world().await;
    let app = App::signed_in(&w.server, ANN).await;
    let (status, body) = link(&app).await;
    assert_linked(status, &body);
    let alexa_tokens = w
        .alexa
        .enabled_for(AMAZON_ANN)
        .and_then(|e| e.tokens)
        .expect("tokens");

    let (status, body) = app.post(routes::APP_TO_APP_UNLINK, &[]).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("NOT_ENABLED")),
        "{body}"
    );
    assert!(
        w.alexa.enabled_for(AMAZON_ANN).is_none(),
        "disabled at Alexa"
    );
    let (status, _) = alexa_refreshes(&w, &alexa_tokens).await;
    assert_eq!(status, 400, "Alexa's grant is revoked");
    assert_nothing_half_linked(&w).await;
    let (status, body) = app.get(routes::APP_TO_APP_STATUS).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_linked")));
}

#[tokio::test]
async fn status_after_the_amazon_token_expired_refreshes_it_first() {
    let w = world().await;
    let app = App::signed_in(&w.server, ANN).await;
    let (status, body) = link(&app).await;
    assert_linked(status, &body);
    // Within a minute of the Amazon token's hour (the app's own token still valid).
    w.server.clock().advance(3560);
    let refreshes = w.lwa.refresh_calls();
    let (status, body) = app.get(routes::APP_TO_APP_STATUS).await;
    assert_linked(status, &body);
    assert_eq!(w.lwa.refresh_calls() - refreshes, 1, "one LWA refresh");
}

#[tokio::test]
async fn unlinking_on_our_links_page_disables_the_skill_at_alexa() {
    let w = world().await;
    let app = App::signed_in(&w.server, ANN).await;
    let (status, body) = link(&app).await;
    assert_linked(status, &body);
    assert!(w.alexa.enabled_for(AMAZON_ANN).is_some());

    let browser = Browser::new();
    let page = browser
        .http
        .get(w.server.url(routes::LINKS))
        .send()
        .await
        .expect("links");
    let html = page.text().await.expect("login page");
    let login = testing::submit_login(&w.server, &browser, &html, ANN).await;
    assert_eq!(login.status(), 303);
    let page = browser
        .http
        .get(w.server.url(routes::LINKS))
        .send()
        .await
        .expect("links")
        .text()
        .await
        .expect("html");
    let grants = w
        .server
        .app
        .store
        .list_user_grants("user-ann", w.server.clock().now())
        .await
        .expect("grants");
    let (alexa_grant, _) = grants
        .iter()
        .find(|(_, g)| g.client_id == CLIENT_ID)
        .expect("Alexa's grant");
    let unlink = browser
        .post_form(
            &w.server.url(routes::LINKS),
            &[
                ("csrf", &hidden_field(&page, "csrf").expect("csrf")),
                ("grant", &alexa_grant.to_hex()),
            ],
        )
        .await;
    assert_eq!(unlink.status(), 303);
    assert!(
        w.alexa.enabled_for(AMAZON_ANN).is_none(),
        "both sides agree"
    );
    assert_nothing_half_linked(&w).await;
}

/// A second replica of `server`: the same config and the same store handle.
async fn replica(server: &TestServer) -> (AppState, Running, String) {
    let mut config = server.app.config.clone();
    let listeners = Listeners::bind(&config.server).expect("bind");
    config.server.public_url =
        Url::parse(&format!("http://{}", listeners.public_addr())).expect("url");
    let app = AppState::new(config, server.app.store.clone(), Clock::default()).expect("app");
    let running = server::serve(app.clone(), listeners).await.expect("serve");
    let base = format!("http://{}", running.public_addr);
    (app, running, base)
}

#[tokio::test]
async fn a_linking_started_on_one_replica_completes_on_another() {
    let w = world().await;
    let (_app, running, other) = replica(&w.server).await;
    let app = App::signed_in(&w.server, ANN).await;
    let started = app.start().await;
    let (code, state) = approve_in_alexa_app(started["alexa_app_url"].as_str().expect("url")).await;
    let (status, body) = app.on(&other).complete(&code, &state).await;
    assert_linked(status, &body);
    // ... and the state is gone for both.
    let (status, _) = app.complete(&code, &state).await;
    assert_eq!(status, 400);
    running.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn two_replicas_on_dynamodb_local_share_the_state() {
    let endpoint = match std::env::var("DYNAMODB_ENDPOINT") {
        Ok(e) if !e.is_empty() => e,
        _ => {
            eprintln!("skipped: DYNAMODB_ENDPOINT is not set (scripts/test sets it)");
            return;
        }
    };
    let lwa = LwaStandIn::start().await;
    let alexa = AlexaStandIn::start(lwa.handle()).await;
    let table = testing::unique_table();
    let credentials = tempfile::tempdir().expect("dir");
    let first = alexa::start_server(&lwa, &alexa, |c| {
        c.store = testing::dynamodb_store(credentials.path(), &endpoint, &table);
    })
    .await;
    // The second replica reads the first's files (keys, secrets) as a pod
    // of the same Deployment reads the same Secrets.
    let config = first.app.config.clone();
    let second = TestServer::start_config(config, tempfile::tempdir().expect("dir")).await;
    let app = App::signed_in(&first, ANN).await;
    let started = app.start().await;
    let (code, state) = approve_in_alexa_app(started["alexa_app_url"].as_str().expect("url")).await;
    let (status, body) = app.on(&second.base_url).complete(&code, &state).await;
    assert_linked(status, &body);
    let (status, body) = app.complete(&code, &state).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_state"))
    );
    let (status, body) = app
        .on(&second.base_url)
        .get(routes::APP_TO_APP_STATUS)
        .await;
    assert_linked(status, &body);
}

/// p50/p99 of `complete` against the stand-ins, over `A2A_LATENCY_RUNS`
/// sequential linkings (default 20; the report used 200). Run with
/// `--no-capture` to see the figures.
#[tokio::test]
async fn complete_latency_against_the_stand_ins() {
    let runs: usize = std::env::var("A2A_LATENCY_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let w = world().await;
    let app = App::signed_in(&w.server, ANN).await;
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs {
        // A new Amazon account each time, so every run enables the skill.
        w.alexa
            .sign_in_amazon_user(&format!("amzn1.account.RUN{i}"));
        let started = app.start().await;
        let (code, state) =
            approve_in_alexa_app(started["alexa_app_url"].as_str().expect("url")).await;
        let t = Instant::now();
        let (status, body) = app.complete(&code, &state).await;
        samples.push(t.elapsed());
        assert_linked(status, &body);
    }
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    println!(
        "app-to-app complete over {runs} runs: p50 {:?}, p99 {:?}, max {:?}",
        at(0.50),
        at(0.99),
        samples[samples.len() - 1]
    );
    assert!(
        at(0.50) < Duration::from_secs(2),
        "complete is slow: {:?}",
        at(0.50)
    );
}

/// A browser signed in to our server as `user` (through the links page).
async fn signed_in_browser(server: &TestServer, user: (&str, &str)) -> Browser {
    let browser = Browser::new();
    let html = browser
        .http
        .get(server.url(routes::LINKS))
        .send()
        .await
        .expect("links")
        .text()
        .await
        .expect("login page");
    let login = testing::submit_login(server, &browser, &html, user).await;
    assert_eq!(login.status(), 303, "signed in");
    browser
}

#[tokio::test]
async fn the_web_variant_links_a_signed_in_browser_through_the_same_core() {
    let w = world().await;
    let browser = signed_in_browser(&w.server, ANN).await;
    let page = browser
        .http
        .get(w.server.url(routes::APP_TO_APP_LINK_PAGE))
        .send()
        .await
        .expect("link page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("Link with Alexa"), "{html}");
    let start = browser
        .post_form(
            &w.server.url(routes::APP_TO_APP_LINK_PAGE),
            &[
                ("csrf", &hidden_field(&html, "csrf").expect("csrf")),
                ("skill", &hidden_field(&html, "skill").expect("skill")),
            ],
        )
        .await;
    assert_eq!(start.status(), 303);
    let lwa = start.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        lwa.starts_with(w.alexa.lwa_authorize_url().as_str()),
        "{lwa}"
    );
    // Amazon consents and sends the browser back to our callback.
    let back = browser.http.get(&lwa).send().await.expect("LWA");
    assert_eq!(back.status(), 302);
    let callback = back.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        callback.starts_with(&w.server.url(routes::APP_TO_APP_CALLBACK)),
        "{callback}"
    );
    let done = browser.http.get(&callback).send().await.expect("callback");
    assert_eq!(done.status(), 200);
    assert!(
        done.text()
            .await
            .expect("html")
            .contains("Linked with Alexa")
    );
    assert!(
        w.alexa.enabled_for(AMAZON_ANN).is_some(),
        "enabled at Alexa"
    );
    // Reloading the callback is a replay: refused, nothing changes.
    let again = browser.http.get(&callback).send().await.expect("callback");
    assert_eq!(again.status(), 400);
    // Another user's browser cannot use a state it did not start.
    let bob = signed_in_browser(&w.server, BOB).await;
    let stolen = bob.http.get(&callback).send().await.expect("callback");
    assert_eq!(stolen.status(), 400);
}

// The app is a public OAuth client: no secret, PKCE on every code.

/// A token-endpoint request from the app, as a public client sends it
/// (`client_id` in the body), plus `extra` fields and an optional Basic
/// header.
async fn app_token_request(
    w: &World,
    basic: Option<&str>,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![("client_id", APP_CLIENT_ID)];
    form.extend_from_slice(fields);
    let mut request = reqwest::Client::new().post(w.server.url(routes::TOKEN));
    if let Some(secret) = basic {
        request = request.basic_auth(APP_CLIENT_ID, Some(secret));
    }
    let r = request.form(&form).send().await.expect("token request");
    (r.status().as_u16(), r.json().await.expect("JSON answer"))
}

#[tokio::test]
async fn the_app_links_with_pkce_and_refreshes_without_a_secret() {
    let w = world().await;
    let tokens = app_user_tokens(&w.server, ANN).await;
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    let (status, body) = app_token_request(
        &w,
        None,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let fresh = body["access_token"].as_str().expect("access token");
    // The refreshed token is the app's user token: App-to-App accepts it.
    let app = App {
        base: w.server.base_url.clone(),
        token: fresh.to_owned(),
        http: reqwest::Client::new(),
    };
    let (status, body) = link(&app).await;
    assert_linked(status, &body);

    // The app's refresh token stays the app's: another client cannot use it.
    let successor = app_refresh_token(&w, ANN).await;
    let (status, body) = token_request(
        &w.server,
        ClientAuth::Body,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &successor),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

/// A fresh refresh token of the app for `user`.
async fn app_refresh_token(w: &World, user: (&str, &str)) -> String {
    app_user_tokens(&w.server, user).await["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned()
}

#[tokio::test]
async fn the_apps_code_is_refused_without_its_verifier() {
    let w = world().await;
    let (code, verifier) = app_user_code(&w.server, ANN).await;
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", APP_OAUTH_REDIRECT),
    ];
    let (status, body) = app_token_request(&w, None, &redeem).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("code_verifier")),
        "{body}"
    );
    let wrong = Pkce::new().verifier;
    let mut with_wrong = redeem.to_vec();
    with_wrong.push(("code_verifier", &wrong));
    let (status, body) = app_token_request(&w, None, &with_wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The refusals did not burn the code for its rightful holder.
    let mut right = redeem.to_vec();
    right.push(("code_verifier", &verifier));
    let (status, body) = app_token_request(&w, None, &right).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_app_sending_a_secret_or_basic_is_refused_and_not_throttled() {
    let w = world().await;
    let (code, verifier) = app_user_code(&w.server, ANN).await;
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", APP_OAUTH_REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let mut with_secret = redeem.to_vec();
    with_secret.push(("client_secret", "a-secret-the-app-does-not-have"));
    // More attempts than the throttle lets through for free: a public
    // client has no secret to guess, so none of them is counted.
    for _ in 0..5 {
        let (status, body) = app_token_request(&w, None, &with_secret).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client");
        let (status, body) = app_token_request(&w, Some("basic-secret"), &redeem).await;
        assert_eq!(status, 401, "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("public client")),
            "{body}"
        );
    }
    let (status, body) = app_token_request(&w, None, &redeem).await;
    assert_eq!(status, 200, "the app still redeems its code: {body}");
}

#[tokio::test]
async fn a_confidential_client_without_its_secret_is_still_invalid_client() {
    let w = world().await;
    let r = reqwest::Client::new()
        .post(w.server.url(routes::TOKEN))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", "anything"),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn the_app_revokes_its_own_tokens_but_may_not_introspect() {
    let w = world().await;
    let tokens = app_user_tokens(&w.server, ANN).await;
    let access = tokens["access_token"].as_str().expect("access");
    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    let http = reqwest::Client::new();
    let introspect = http
        .post(w.server.url(routes::INTROSPECT))
        .form(&[("client_id", APP_CLIENT_ID), ("token", access)])
        .send()
        .await
        .expect("introspect");
    assert_eq!(introspect.status(), 403);
    let body: Value = introspect.json().await.expect("JSON");
    assert_eq!(body["error"], "unauthorized_client");

    let revoke = http
        .post(w.server.url(routes::REVOKE))
        .form(&[("client_id", APP_CLIENT_ID), ("token", refresh)])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoke.status(), 200);
    let (status, body) = app_token_request(
        &w,
        None,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Revoking the refresh token ended the grant: its access token too.
    let app = App {
        base: w.server.base_url.clone(),
        token: access.to_owned(),
        http,
    };
    let (status, _) = app.get(routes::APP_TO_APP_STATUS).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_metadata_offers_auth_method_none_for_the_token_endpoint_only_with_a_public_client() {
    let w = world().await;
    let doc: Value = reqwest::get(w.server.url(routes::METADATA))
        .await
        .expect("metadata")
        .json()
        .await
        .expect("JSON");
    let methods = |field: &str| doc[field].as_array().expect(field).clone();
    assert!(methods("token_endpoint_auth_methods_supported").contains(&"none".into()));
    assert!(methods("revocation_endpoint_auth_methods_supported").contains(&"none".into()));
    assert!(!methods("introspection_endpoint_auth_methods_supported").contains(&"none".into()));

    let plain = TestServer::start().await;
    let doc: Value = reqwest::get(plain.url(routes::METADATA))
        .await
        .expect("metadata")
        .json()
        .await
        .expect("JSON");
    assert!(
        !doc["token_endpoint_auth_methods_supported"]
            .as_array()
            .expect("methods")
            .contains(&"none".into()),
        "no public client, no `none`"
    );
}

#[tokio::test]
async fn the_app_may_receive_its_code_at_its_own_reverse_domain_scheme() {
    const NATIVE: &str = "com.example.skillapp:/oauth";
    let lwa = LwaStandIn::start().await;
    let alexa = AlexaStandIn::start(lwa.handle()).await;
    let server = alexa::start_server(&lwa, &alexa, |c| {
        let app = c
            .clients
            .iter_mut()
            .find(|c| c.client_id == APP_CLIENT_ID)
            .expect("the app client");
        app.redirect_uris.push(NATIVE.into());
    })
    .await;
    let (code, verifier) = app_user_code_at(&server, ANN, NATIVE).await;
    let r = reqwest::Client::new()
        .post(server.url(routes::TOKEN))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", APP_CLIENT_ID),
            ("code", &code),
            ("redirect_uri", NATIVE),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(r.status(), 200, "the code was issued for the app's scheme");
}

#[tokio::test]
async fn anyone_claiming_the_apps_id_cannot_use_alexas_refresh_token() {
    let w = world().await;
    let alexa_tokens = testing::link(&w.server, ANN, ClientAuth::Basic).await;
    let refresh = alexa_tokens["refresh_token"]
        .as_str()
        .expect("Alexa's refresh token");
    // The app's id is no secret: whoever sends it must not get Alexa's tokens.
    let (status, body) = app_token_request(
        &w,
        None,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // ... nor end Alexa's link by trying.
    let (status, body) = alexa_refreshes(&w, &alexa_tokens).await;
    assert_eq!(status, 200, "Alexa still refreshes: {body}");
}

#[tokio::test]
async fn the_app_may_not_read_partner_tokens_by_its_id() {
    let w = world().await;
    let app = App::signed_in(&w.server, ANN).await;
    let (status, body) = link(&app).await;
    assert_linked(status, &body);
    let r = reqwest::Client::new()
        .get(w.server.url(routes::PARTNER_TOKEN))
        .query(&[("client_id", APP_CLIENT_ID), ("user_id", "user-ann")])
        .send()
        .await
        .expect("partner token request");
    assert_eq!(
        r.status(),
        403,
        "Amazon tokens are never served to a public client"
    );
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["error"], "unauthorized_client");
    assert!(body.get("access_token").is_none());
}

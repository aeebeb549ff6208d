//! A stand-in for Amazon's Skill Management API (SMAPI) account-linking
//! calls and the Login with Amazon token endpoint that issues SMAPI tokens,
//! for tests only (the operator's `spec.alexaSkill`).
//!
//! Following Amazon's documented contracts:
//! - `POST /auth/o2/token` with `grant_type=refresh_token`, `refresh_token`,
//!   `client_id`, `client_secret` (what `ask util generate-lwa-tokens`
//!   credentials are used with) answers `{"access_token": "Atza|...",
//!   "refresh_token", "token_type": "bearer", "expires_in": 3600}`;
//!   `401 invalid_client`, `400 invalid_grant`, `400 unsupported_grant_type`.
//!   The token carries the scopes its refresh token was granted.
//! - `PUT /v1/skills/{skillId}/stages/{stage}/accountLinkingClient` with
//!   `{"accountLinkingRequest": {...}}` answers 204; `GET` of the same path
//!   answers `{"accountLinkingResponse": {...}}`, without the client secret
//!   and with Alexa's `redirectUrls` for the skill's vendor.
//! - Errors: `{"message": ..., "violations": [{"code", "message"}]}` with
//!   400 (validation), 401 (no or unknown bearer), 403 (a token without
//!   `alexa::ask:skills:readwrite`), 404 (unknown skill or nothing set yet),
//!   429 with `Retry-After`.
//!
//! Validation follows the documented request schema (type, https URLs,
//! required fields, the token scheme's two values, at most 15 scopes and
//! 15 domains, platform URLs). Amazon publishes no list of violation codes,
//! so the codes are this stand-in's choice; so is one rule the operator
//! cannot check for SMAPI: a domain must be a fully qualified name.
//!
//! For tests, under `/_standin/`: `GET received` (every account-linking
//! call, with its status and body), `POST console-edit` (merge fields into
//! the stored account linking, as an edit in the developer console would),
//! `POST throttle {"count", "retryAfter"}` (answer the next calls 429).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use url::Url;

use crate::tokens;

/// The LWA security profile's client id the stand-in accepts.
pub const SMAPI_CLIENT_ID: &str = "amzn1.application-oa2-client.smapi0123456789";
/// Its secret.
pub const SMAPI_CLIENT_SECRET: &str = "smapi-test-client-secret-0123456789";
/// A refresh token with the skill-management scopes.
pub const SMAPI_REFRESH_TOKEN: &str = "Atzr|smapi-test-refresh-token-readwrite";
/// A refresh token without them (its access tokens get 403).
pub const READ_ONLY_REFRESH_TOKEN: &str = "Atzr|smapi-test-refresh-token-profile-only";
/// The scope SMAPI's skill calls need.
pub const SKILLS_READWRITE: &str = "alexa::ask:skills:readwrite";
/// The skill the stand-in knows.
pub const SKILL_ID: &str = "amzn1.ask.skill.00000000-0000-4000-8000-000000000042";
/// The vendor id in its redirect URLs.
pub const VENDOR_ID: &str = "M2SMAPITESTVENDOR";

/// One account-linking call as received.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Received {
    /// `GET` or `PUT`.
    pub method: String,
    /// The request path.
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// The PUT body (with the client secret, for tests to check).
    pub body: Value,
}

#[derive(Default)]
struct Ledger {
    /// access token -> (scopes, expiry)
    tokens: HashMap<String, (Vec<String>, Instant)>,
    /// (skill, stage) -> stored accountLinkingRequest
    skills: HashMap<(String, String), Map<String, Value>>,
    received: Vec<Received>,
    throttle: u32,
    retry_after: u64,
    token_calls: u64,
}

type Shared = Arc<Mutex<Ledger>>;

/// A running stand-in.
pub struct SmapiStandIn {
    /// `http://<addr>`: the SMAPI base URL.
    pub base_url: Url,
    /// `http://<addr>/auth/o2/token`.
    pub token_url: Url,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmapiStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmapiStandIn {
    /// Starts it on 127.0.0.1 and an ephemeral port.
    pub async fn start() -> SmapiStandIn {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind stand-in")
    }

    /// Starts it on `addr`.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<SmapiStandIn> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared: Shared = Arc::default();
        let app = Router::new()
            .route("/auth/o2/token", post(token))
            .route(
                "/v1/skills/{skill}/stages/{stage}/accountLinkingClient",
                get(account_linking).put(account_linking),
            )
            .route("/_standin/received", get(received))
            .route("/_standin/console-edit", post(console_edit))
            .route("/_standin/throttle", post(throttle))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let base_url = Url::parse(&format!("http://{addr}")).map_err(std::io::Error::other)?;
        Ok(SmapiStandIn {
            token_url: base_url
                .join("/auth/o2/token")
                .map_err(std::io::Error::other)?,
            base_url,
            shared,
            task,
        })
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every account-linking call so far.
    pub fn received(&self) -> Vec<Received> {
        self.ledger().received.clone()
    }

    /// How many token requests arrived.
    pub fn token_calls(&self) -> u64 {
        self.ledger().token_calls
    }

    /// Changes stored fields behind the operator's back (a console edit).
    pub fn console_edit(&self, stage: &str, fields: Map<String, Value>) {
        edit(&self.shared, SKILL_ID, stage, fields);
    }

    /// Every access token issued so far stops working (LWA revoked them
    /// before they expired): the next call with one gets 401.
    pub fn revoke_access_tokens(&self) {
        self.ledger().tokens.clear();
    }

    /// Answers the next `count` account-linking calls 429 with `Retry-After`.
    pub fn throttle(&self, count: u32, retry_after: Duration) {
        let mut l = self.ledger();
        l.throttle = count;
        l.retry_after = retry_after.as_secs();
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Ledger> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

fn edit(shared: &Shared, skill: &str, stage: &str, fields: Map<String, Value>) -> bool {
    let mut l = lock(shared);
    match l.skills.get_mut(&(skill.to_owned(), stage.to_owned())) {
        Some(stored) => {
            stored.extend(fields);
            true
        }
        None => false,
    }
}

fn lwa_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn token(State(shared): State<Shared>, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str);
    let mut l = lock(&shared);
    l.token_calls += 1;
    if get("client_id") != Some(SMAPI_CLIENT_ID)
        || get("client_secret") != Some(SMAPI_CLIENT_SECRET)
    {
        return lwa_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    if get("grant_type") != Some("refresh_token") {
        return lwa_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type",
        );
    }
    let scopes = match get("refresh_token") {
        Some(SMAPI_REFRESH_TOKEN) => vec![
            SKILLS_READWRITE.to_owned(),
            "alexa::ask:models:readwrite".to_owned(),
        ],
        Some(READ_ONLY_REFRESH_TOKEN) => vec!["profile".to_owned()],
        _ => {
            return lwa_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "The request has an invalid grant parameter : refresh_token",
            );
        }
    };
    let access = format!("Atza|{}", tokens::random_nonce());
    l.tokens.insert(
        access.clone(),
        (scopes, Instant::now() + Duration::from_secs(3600)),
    );
    axum::Json(json!({
        "access_token": access,
        "refresh_token": get("refresh_token"),
        "token_type": "bearer",
        "expires_in": 3600,
    }))
    .into_response()
}

fn smapi_error(status: StatusCode, message: &str, violations: Vec<(&str, String)>) -> Response {
    let mut body = json!({ "message": message });
    if !violations.is_empty() {
        body["violations"] = violations
            .into_iter()
            .map(|(code, message)| json!({"code": code, "message": message}))
            .collect();
    }
    (status, axum::Json(body)).into_response()
}

async fn account_linking(
    State(shared): State<Shared>,
    Path((skill, stage)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/skills/{skill}/stages/{stage}/accountLinkingClient");
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let response = answer(&shared, &skill, &stage, &method, &headers, &parsed);
    lock(&shared).received.push(Received {
        method: method.to_string(),
        path,
        status: response.status().as_u16(),
        body: parsed,
    });
    response
}

fn answer(
    shared: &Shared,
    skill: &str,
    stage: &str,
    method: &Method,
    headers: &HeaderMap,
    body: &Value,
) -> Response {
    let mut l = lock(shared);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let scopes = match bearer.and_then(|t| l.tokens.get(t)) {
        Some((scopes, expiry)) if *expiry > Instant::now() => scopes.clone(),
        _ => {
            return smapi_error(
                StatusCode::UNAUTHORIZED,
                "Token is invalid/expired.",
                Vec::new(),
            );
        }
    };
    if !scopes.iter().any(|s| s == SKILLS_READWRITE) {
        return smapi_error(
            StatusCode::FORBIDDEN,
            "The access token does not have the required scope.",
            Vec::new(),
        );
    }
    if l.throttle > 0 {
        l.throttle -= 1;
        let mut r = smapi_error(StatusCode::TOO_MANY_REQUESTS, "Rate exceeded.", Vec::new());
        r.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(l.retry_after),
        );
        return r;
    }
    if skill != SKILL_ID {
        return smapi_error(
            StatusCode::NOT_FOUND,
            "The resource being requested is not found.",
            Vec::new(),
        );
    }
    if stage != "development" && stage != "live" {
        return smapi_error(
            StatusCode::BAD_REQUEST,
            "Request is not valid.",
            vec![(
                "INVALID_ENUM_VALUE",
                format!("Stage '{stage}' is not one of development, live."),
            )],
        );
    }
    let key = (skill.to_owned(), stage.to_owned());
    if method == Method::GET {
        let Some(stored) = l.skills.get(&key) else {
            return smapi_error(
                StatusCode::NOT_FOUND,
                "The resource being requested is not found.",
                Vec::new(),
            );
        };
        let mut response = stored.clone();
        response.remove("clientSecret");
        response.insert(
            "redirectUrls".into(),
            json!(crate::config::alexa_redirect_uris(VENDOR_ID)),
        );
        return axum::Json(json!({ "accountLinkingResponse": response })).into_response();
    }
    let Some(request) = body.get("accountLinkingRequest").and_then(Value::as_object) else {
        return smapi_error(
            StatusCode::BAD_REQUEST,
            "Request is not valid.",
            vec![(
                "MISSING_REQUIRED_PROPERTY",
                "Object 'accountLinkingRequest' is missing.".into(),
            )],
        );
    };
    let violations = validate(request);
    if !violations.is_empty() {
        return smapi_error(StatusCode::BAD_REQUEST, "Request is not valid.", violations);
    }
    l.skills.insert(key, request.clone());
    StatusCode::NO_CONTENT.into_response()
}

fn https(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str)
        .and_then(|s| Url::parse(s).ok())
        .is_some_and(|u| u.scheme() == "https" && u.host_str().is_some())
}

/// The documented request schema's rules, as violations.
fn validate(r: &Map<String, Value>) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    let ty = r.get("type").and_then(Value::as_str);
    match ty {
        Some("AUTH_CODE" | "IMPLICIT") => {}
        None => v.push((
            "MISSING_REQUIRED_PROPERTY",
            "Property 'type' is missing.".into(),
        )),
        Some(other) => v.push((
            "INVALID_ENUM_VALUE",
            format!("Type '{other}' is not one of AUTH_CODE, IMPLICIT."),
        )),
    }
    if !https(r.get("authorizationUrl")) {
        v.push((
            "INVALID_URL",
            "Property 'authorizationUrl' must be an https URL.".into(),
        ));
    }
    if r.get("clientId")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        v.push((
            "MISSING_REQUIRED_PROPERTY",
            "Property 'clientId' is missing.".into(),
        ));
    }
    if ty == Some("AUTH_CODE") {
        if !https(r.get("accessTokenUrl")) {
            v.push((
                "INVALID_URL",
                "Property 'accessTokenUrl' must be an https URL.".into(),
            ));
        }
        if r.get("clientSecret")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            v.push((
                "MISSING_REQUIRED_PROPERTY",
                "Property 'clientSecret' is missing.".into(),
            ));
        }
        match r.get("accessTokenScheme").and_then(Value::as_str) {
            Some("HTTP_BASIC" | "REQUEST_BODY_CREDENTIALS") | None => {}
            Some(other) => v.push(("INVALID_ENUM_VALUE", format!("Access token scheme '{other}' is not one of HTTP_BASIC, REQUEST_BODY_CREDENTIALS."))),
        }
    }
    if r.contains_key("reciprocalAccessTokenUrl") && !https(r.get("reciprocalAccessTokenUrl")) {
        v.push((
            "INVALID_URL",
            "Property 'reciprocalAccessTokenUrl' must be an https URL.".into(),
        ));
    }
    for (field, max) in [("scopes", 15), ("domains", 15)] {
        let items = r
            .get(field)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if items.len() > max {
            v.push((
                "MAX_ITEMS_EXCEEDED",
                format!("Property '{field}' has more than {max} items."),
            ));
        }
    }
    for d in r
        .get("domains")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = d.as_str().unwrap_or_default();
        if !name.contains('.') || name.parse::<std::net::IpAddr>().is_ok() {
            v.push((
                "INVALID_DOMAIN",
                format!("Domain '{name}' is not a fully qualified domain name."),
            ));
        }
    }
    if let Some(n) = r.get("defaultTokenExpirationInSeconds")
        && n.as_u64().is_none_or(|n| n == 0)
    {
        v.push((
            "INVALID_DATA_TYPE",
            "Property 'defaultTokenExpirationInSeconds' must be a positive integer.".into(),
        ));
    }
    for p in r
        .get("authorizationUrlsByPlatform")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !matches!(
            p.get("platformType").and_then(Value::as_str),
            Some("iOS" | "Android")
        ) {
            v.push((
                "INVALID_ENUM_VALUE",
                "Property 'platformType' is not one of iOS, Android.".into(),
            ));
        }
        if !https(p.get("platformAuthorizationUrl")) {
            v.push((
                "INVALID_URL",
                "Property 'platformAuthorizationUrl' must be an https URL.".into(),
            ));
        }
    }
    v
}

async fn received(State(shared): State<Shared>) -> Response {
    axum::Json(json!(lock(&shared).received)).into_response()
}

async fn console_edit(State(shared): State<Shared>, body: Bytes) -> Response {
    let edit_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let stage = edit_body
        .get("stage")
        .and_then(Value::as_str)
        .unwrap_or("development");
    let fields = edit_body
        .get("fields")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if edit(&shared, SKILL_ID, stage, fields) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (StatusCode::NOT_FOUND, "nothing stored for that stage").into_response()
    }
}

async fn throttle(State(shared): State<Shared>, body: Bytes) -> Response {
    let b: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut l = lock(&shared);
    l.throttle = b.get("count").and_then(Value::as_u64).unwrap_or(1) as u32;
    l.retry_after = b.get("retryAfter").and_then(Value::as_u64).unwrap_or(1);
    StatusCode::NO_CONTENT.into_response()
}

//! Stand-ins for the Amazon side of App-to-App linking, for tests only.
//!
//! Following Amazon's documented contracts:
//! - `GET /v1/alexaApiEndpoint` (bearer: an LWA access token) answers
//!   `{"endpoints": [...]}`; here two regional endpoints on this stand-in,
//!   `<base>/na` and `<base>/eu`, the user's account living in one of them.
//! - `POST|GET|DELETE <endpoint>/v1/users/~current/skills/{skillId}/enablement`:
//!   `POST` with `{"stage", "accountLinkRequest": {"redirectUri",
//!   "authCode", "type": "AUTH_CODE"}}` redeems the code at the skill's
//!   token endpoint (ours, for real) with the Alexa client's credentials,
//!   keeps the tokens and answers 201; 409 when the skill is already
//!   enabled; `GET` answers `{"status": "ENABLED", "accountLink": {"status":
//!   "LINKED"}, ...}` or 404; `DELETE` answers 204 or 404. Errors carry
//!   `{"message": ...}`.
//! - The Alexa app's consent page and Login with Amazon's `/ap/oa`: the
//!   signed-in Amazon user consents at once and the browser is sent to the
//!   redirect URI with a code from the LWA stand-in and the state.
//!
//! Not documented by Amazon, and so a choice of this stand-in: at an
//! endpoint of another region than the user's, the enablement API answers
//! 403. Switches inject 503s, refusals, and an enablement that never
//! redeems the code.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use url::Url;

use super::lwa::{LWA_CLIENT_ID, LwaHandle};

/// The skill id the stand-in serves.
pub const SKILL_ID: &str = "amzn1.ask.skill.0123-test";
/// The regions (endpoint path prefixes) it serves, in the order it names them.
pub const REGIONS: [&str; 2] = ["na", "eu"];

/// Fault switches, flipped by tests at any time.
#[derive(Debug)]
pub struct Switches {
    /// Answer the next this-many enablement calls (any method) with 503.
    pub fail_next: AtomicU32,
    /// When non-zero, answer every enablement `POST` with this status.
    pub refuse_enable: AtomicU16,
    /// Enable the skill (201) without redeeming the code.
    pub skip_redeem: AtomicBool,
    /// The region (of [`REGIONS`]) where users' accounts live.
    pub home_region: Mutex<String>,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            fail_next: AtomicU32::new(0),
            refuse_enable: AtomicU16::new(0),
            skip_redeem: AtomicBool::new(false),
            // The second named endpoint, so that callers must try each.
            home_region: Mutex::new(REGIONS[1].to_owned()),
        }
    }
}

/// A skill enabled for one Amazon user, with what Alexa got for it.
#[derive(Debug, Clone)]
pub struct Enabled {
    /// The stage enabled.
    pub stage: String,
    /// The token response of the skill's token endpoint (ours), or `None`
    /// when the stand-in was told not to redeem.
    pub tokens: Option<Value>,
}

struct Shared {
    lwa: LwaHandle,
    switches: Arc<Switches>,
    base: Url,
    /// Our token endpoint and the Alexa client's credentials there.
    skill_token_endpoint: Mutex<Option<(Url, String, String)>>,
    /// The Amazon user signed in on the consent pages.
    amazon_user: Mutex<String>,
    enabled: Mutex<HashMap<String, Enabled>>,
    enablement_calls: AtomicU64,
    http: reqwest::Client,
}

/// The running stand-in on a loopback port.
pub struct AlexaStandIn {
    /// `http://127.0.0.1:<port>`: the Alexa API base (`alexaApiUrl`).
    pub base_url: Url,
    /// Its fault switches.
    pub switches: Arc<Switches>,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AlexaStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AlexaStandIn {
    /// Starts it on 127.0.0.1 and an ephemeral port, with codes from `lwa`.
    pub async fn start(lwa: LwaHandle) -> AlexaStandIn {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stand-in");
        let addr = listener.local_addr().expect("addr");
        let base_url = Url::parse(&format!("http://{addr}")).expect("url");
        let switches = Arc::new(Switches::default());
        let shared = Arc::new(Shared {
            lwa,
            switches: switches.clone(),
            base: base_url.clone(),
            skill_token_endpoint: Mutex::new(None),
            amazon_user: Mutex::new("amzn1.account.ANN".into()),
            enabled: Mutex::default(),
            enablement_calls: AtomicU64::new(0),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
        });
        let app = Router::new()
            .route("/v1/alexaApiEndpoint", get(endpoints))
            .route(
                "/{region}/v1/users/~current/skills/{skill}/enablement",
                get(enablement).post(enablement).delete(enablement),
            )
            .route("/spa/skill-account-linking-consent", get(consent))
            .route("/ap/oa", get(consent))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        AlexaStandIn {
            base_url,
            switches,
            shared,
            task,
        }
    }

    /// Where Alexa redeems codes: our token endpoint, as the Alexa client.
    pub fn set_skill_token_endpoint(&self, url: &str, client_id: &str, client_secret: &str) {
        *lock(&self.shared.skill_token_endpoint) = Some((
            Url::parse(url).expect("token url"),
            client_id.to_owned(),
            client_secret.to_owned(),
        ));
    }

    /// The Amazon user who consents on the consent pages from now on.
    pub fn sign_in_amazon_user(&self, amazon_user: &str) {
        *lock(&self.shared.amazon_user) = amazon_user.to_owned();
    }

    /// The Alexa app URL (`alexaAppUrl`).
    pub fn alexa_app_url(&self) -> Url {
        self.base_url
            .join("/spa/skill-account-linking-consent")
            .expect("url")
    }

    /// The LWA authorization URL (`lwaAuthorizeUrl`).
    pub fn lwa_authorize_url(&self) -> Url {
        self.base_url.join("/ap/oa").expect("url")
    }

    /// The skill's enablement for an Amazon user, if any.
    pub fn enabled_for(&self, amazon_user: &str) -> Option<Enabled> {
        lock(&self.shared.enabled).get(amazon_user).cloned()
    }

    /// How many enablement calls (any method, any region) arrived.
    pub fn enablement_calls(&self) -> u64 {
        self.shared.enablement_calls.load(Ordering::SeqCst)
    }

    /// Consent as the Amazon user would in the Alexa app: the code the
    /// browser would bring back to `redirect_uri`.
    pub fn consent_code(&self, redirect_uri: &str) -> String {
        let user = lock(&self.shared.amazon_user).clone();
        self.shared.lwa.issue_code_for(redirect_uri, &user)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({ "message": text }))).into_response()
}

fn amazon_user(shared: &Shared, headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?;
    shared.lwa.user_of(token)
}

async fn endpoints(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if amazon_user(&shared, &headers).is_none() {
        return message(StatusCode::UNAUTHORIZED, "Invalid access token");
    }
    let named: Vec<String> = REGIONS
        .iter()
        .map(|r| format!("{}{r}", shared.base))
        .collect();
    axum::Json(json!({ "endpoints": named })).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnableBody {
    stage: String,
    account_link_request: LinkRequest,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LinkRequest {
    redirect_uri: String,
    auth_code: String,
    #[serde(rename = "type")]
    kind: String,
}

async fn enablement(
    State(shared): State<Arc<Shared>>,
    Path((region, skill)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.enablement_calls.fetch_add(1, Ordering::SeqCst);
    let failing = shared
        .switches
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    if failing.is_ok() {
        return message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    }
    let Some(user) = amazon_user(&shared, &headers) else {
        return message(StatusCode::UNAUTHORIZED, "Invalid access token");
    };
    if region != *lock(&shared.switches.home_region) {
        return message(
            StatusCode::FORBIDDEN,
            "The user's account is not registered in this region",
        );
    }
    if skill != SKILL_ID {
        return message(StatusCode::NOT_FOUND, "Skill not found");
    }
    match method {
        Method::GET => match lock(&shared.enabled).get(&user) {
            Some(e) => axum::Json(json!({
                "skill": {"id": SKILL_ID, "stage": e.stage},
                "user": {"id": user},
                "accountLink": {"status": "LINKED"},
                "status": "ENABLED",
            }))
            .into_response(),
            None => message(StatusCode::NOT_FOUND, "The skill is not enabled"),
        },
        Method::DELETE => match lock(&shared.enabled).remove(&user) {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => message(StatusCode::NOT_FOUND, "The skill is not enabled"),
        },
        _ => enable(&shared, user, &body).await,
    }
}

async fn enable(shared: &Shared, user: String, body: &[u8]) -> Response {
    let refuse = shared.switches.refuse_enable.load(Ordering::SeqCst);
    if refuse != 0 {
        let status = StatusCode::from_u16(refuse).unwrap_or(StatusCode::BAD_REQUEST);
        return message(status, "Refused by the test");
    }
    let Ok(request) = serde_json::from_slice::<EnableBody>(body) else {
        return message(StatusCode::BAD_REQUEST, "Invalid request body");
    };
    if !["development", "live"].contains(&request.stage.as_str())
        || request.account_link_request.kind != "AUTH_CODE"
    {
        return message(StatusCode::BAD_REQUEST, "Invalid stage or type");
    }
    if lock(&shared.enabled).contains_key(&user) {
        return message(StatusCode::CONFLICT, "The skill is already enabled");
    }
    let tokens = if shared.switches.skip_redeem.load(Ordering::SeqCst) {
        None
    } else {
        match redeem(shared, &request.account_link_request).await {
            Ok(tokens) => Some(tokens),
            Err(reason) => {
                return message(
                    StatusCode::BAD_REQUEST,
                    &format!("Account linking failed: {reason}"),
                );
            }
        }
    };
    lock(&shared.enabled).insert(
        user.clone(),
        Enabled {
            stage: request.stage.clone(),
            tokens,
        },
    );
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "skill": {"id": SKILL_ID, "stage": request.stage},
            "user": {"id": user},
            "accountLink": {"status": "LINKED"},
            "status": "ENABLED",
        })),
    )
        .into_response()
}

/// Redeems the code at the skill's token endpoint, as Alexa does.
async fn redeem(shared: &Shared, request: &LinkRequest) -> Result<Value, String> {
    let Some((url, id, secret)) = lock(&shared.skill_token_endpoint).clone() else {
        return Err("no token endpoint configured in the stand-in".into());
    };
    let response = shared
        .http
        .post(url)
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &request.auth_code),
            ("redirect_uri", &request.redirect_uri),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("token endpoint answered {status}: {body}"))
    }
}

/// The Alexa app's consent page and LWA's `/ap/oa`: the signed-in Amazon
/// user consents at once.
async fn consent(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let params: HashMap<String, String> =
        form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| params.get(k).map(String::as_str);
    if get("client_id") != Some(LWA_CLIENT_ID)
        || get("response_type") != Some("code")
        || get("scope") != Some("alexa::skills:account_linking")
    {
        return message(StatusCode::BAD_REQUEST, "invalid authorization request");
    }
    let (Some(redirect_uri), Some(state)) = (get("redirect_uri"), get("state")) else {
        return message(
            StatusCode::BAD_REQUEST,
            "redirect_uri and state are required",
        );
    };
    let Ok(mut target) = Url::parse(redirect_uri) else {
        return message(StatusCode::BAD_REQUEST, "invalid redirect_uri");
    };
    let user = lock(&shared.amazon_user).clone();
    let code = shared.lwa.issue_code_for(redirect_uri, &user);
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("scope", "alexa::skills:account_linking")
        .append_pair("state", state);
    (
        StatusCode::FOUND,
        [(header::LOCATION, String::from(target))],
    )
        .into_response()
}

/// Starts a test server with App-to-App configured against `lwa` and
/// `alexa` (then `adjust`), and points the Alexa stand-in at its token
/// endpoint with the Alexa client's credentials.
pub async fn start_server(
    lwa: &super::lwa::LwaStandIn,
    alexa: &AlexaStandIn,
    adjust: impl FnOnce(&mut crate::config::Config),
) -> super::TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = super::test_config(dir.path());
    super::add_app_to_app(&mut config, dir.path(), lwa, alexa);
    adjust(&mut config);
    let server = super::TestServer::start_config(config, dir).await;
    alexa.set_skill_token_endpoint(
        &server.url(crate::routes::TOKEN),
        super::CLIENT_ID,
        super::CLIENT_SECRET,
    );
    server
}

//! `GET /oauth/authorize`, `POST /oauth/login`, `POST /oauth/consent`.
//!
//! The flow: validate the request; if nobody is logged in, show the login
//! page; once logged in, show the consent page unless the client skips it or
//! the user already agreed to these scopes; then redirect to the client with
//! a code. Every form carries the original request, which is validated again
//! when it comes back, and a CSRF nonce bound to an encrypted cookie.

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::extract::{RawQuery, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum_extra::extract::cookie::PrivateCookieJar;

use std::net::{IpAddr, SocketAddr};

use super::pages::{self, ConsentPage, LoginPage};
use super::session::LoginSession;
use crate::app::{AppState, Login};
use crate::identity::AuthError;
use crate::oauth::authorize::{AuthorizationRequest, AuthorizeError, redirect_with};
use crate::oauth::error::ErrorCode;
use crate::oauth::form::Params;
use crate::oauth::scope;
use crate::routes;
use crate::store::{AuthCodeRecord, StoreError};
use crate::tokens::{self, TokenKind};

/// `GET /oauth/authorize`.
pub async fn authorize(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let request = match parse_request(&app, query.as_deref().unwrap_or("").as_bytes()) {
        Ok(r) => r,
        Err(response) => return response,
    };
    let jar = app.cookies.jar(&headers);
    match app.cookies.session(&jar, app.clock.now()) {
        Some(session) => proceed(&app, &request, &session, jar, StatusCode::FOUND).await,
        None => sign_in(&app, Some(&request), jar).await,
    }
}

/// `POST /oauth/login`. The form carries the authorization request it
/// interrupted; without one (the linked-apps page) it returns there.
pub async fn login(
    State(app): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match Params::from_form(&headers, &body) {
        Ok(f) => f,
        Err(e) => return pages::error(StatusCode::BAD_REQUEST, "Invalid request", &e.description),
    };
    let request = match form.get("request") {
        Some(raw) => match parse_request(&app, raw.as_bytes()) {
            Ok(r) => Some(r),
            Err(response) => return response,
        },
        None => None,
    };
    let request = request.as_ref();
    let client_id = request.map_or("-", |r| r.client.id());
    let Login::Password(identity) = &app.login else {
        return pages::error(
            StatusCode::NOT_FOUND,
            "Not found",
            "Sign-in happens at the identity provider, not on this page.",
        );
    };
    let jar = app.cookies.jar(&headers);
    let now = app.clock.now();
    let username = form.get("username").unwrap_or("");
    if !app.cookies.check_csrf(&jar, form.get("csrf"), now) {
        tracing::info!(client_id, "login form refused: missing or stale CSRF nonce");
        app.metrics.login("csrf");
        return login_page(
            &app,
            request,
            jar,
            username,
            Some(EXPIRED),
            StatusCode::FORBIDDEN,
        );
    }
    let Some(password) = form.get("password").filter(|_| !username.is_empty()) else {
        let message = Some("Enter your username and password.");
        return login_page(
            &app,
            request,
            jar,
            username,
            message,
            StatusCode::BAD_REQUEST,
        );
    };
    let ip = client_ip(&app, &extensions, &headers);
    if let Err(early) = app.throttle.check(username, ip, app.clock.now_millis()) {
        // Same words whether or not the user exists: usernames that do not
        // exist are counted too.
        tracing::info!(client_id, ip = ?ip, retry_after = early.retry_after, "login refused: too many failed attempts");
        app.metrics.login("throttled");
        let message = format!(
            "Too many failed sign-in attempts. Try again in {}.",
            wait_text(early.retry_after)
        );
        let mut response = login_page(
            &app,
            request,
            jar,
            username,
            Some(&message),
            StatusCode::TOO_MANY_REQUESTS,
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(early.retry_after));
        return response;
    }
    match identity.authenticate(username, password).await {
        Ok(user) => {
            app.throttle.succeeded(username);
            tracing::info!(user_id = %user.id, client_id, groups = ?user.groups, "user logged in");
            let jar = app.cookies.start_session(jar, &user, now);
            let location = match request {
                Some(r) => format!("{}?{}", routes::AUTHORIZE, r.to_query()),
                None => routes::LINKS.to_owned(),
            };
            pages::redirect(StatusCode::SEE_OTHER, &location, Some(jar))
        }
        Err(AuthError::InvalidCredentials) => {
            // No username: it may be an email address, and a typo'd password
            // pasted into the username field must not reach the logs.
            app.throttle.failed(username, ip, app.clock.now_millis());
            tracing::info!(client_id, ip = ?ip, "login failed: invalid credentials");
            app.metrics.login("invalid_credentials");
            let message = Some("Incorrect username or password.");
            login_page(
                &app,
                request,
                jar,
                username,
                message,
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(AuthError::Unavailable(e)) => {
            tracing::error!(error = %e, "identity backend unavailable");
            app.metrics.login("unavailable");
            let message = Some("Sign-in is temporarily unavailable. Please try again in a moment.");
            login_page(
                &app,
                request,
                jar,
                username,
                message,
                StatusCode::SERVICE_UNAVAILABLE,
            )
        }
    }
}

/// `POST /oauth/consent`.
pub async fn consent(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (form, request) = match parse_form(&app, &headers, &body) {
        Ok(v) => v,
        Err(response) => return response,
    };
    let jar = app.cookies.jar(&headers);
    let now = app.clock.now();
    let Some(session) = app.cookies.session(&jar, now) else {
        if matches!(app.login, Login::Upstream(_)) {
            return sign_in(&app, Some(&request), jar).await;
        }
        return login_page(
            &app,
            Some(&request),
            jar,
            "",
            Some("Your sign-in expired. Please sign in again."),
            StatusCode::FORBIDDEN,
        );
    };
    if !app.cookies.check_csrf(&jar, form.get("csrf"), now) {
        return consent_page(
            &app,
            &request,
            &session,
            jar,
            Some(EXPIRED),
            StatusCode::FORBIDDEN,
        );
    }
    match form.get("decision") {
        Some("allow") => {
            if let Err(e) = remember_consent(&app, &request, &session).await {
                return unavailable(e);
            }
            match issue_code(&app, &request, &session).await {
                Ok(location) => pages::redirect(StatusCode::SEE_OTHER, &location, Some(jar)),
                Err(e) => unavailable(e),
            }
        }
        Some("deny") => {
            tracing::info!(user_id = %session.user_id, client_id = %request.client.id(), "user denied consent");
            let location = redirect_with(
                &request.redirect_uri,
                &[
                    ("error", ErrorCode::AccessDenied.as_str()),
                    ("error_description", "the user denied the request"),
                ],
                request.state.as_deref(),
            );
            pages::redirect(StatusCode::SEE_OTHER, &location, Some(jar))
        }
        _ => consent_page(
            &app,
            &request,
            &session,
            jar,
            Some("Choose Allow or Deny."),
            StatusCode::BAD_REQUEST,
        ),
    }
}

const EXPIRED: &str = "This page expired. Please try again.";

/// The address failed logins are counted against: the peer, or with
/// `loginProtection.trustForwardedFor` the last `X-Forwarded-For` entry
/// (the one our own proxy appended; earlier ones are client-supplied).
fn client_ip(app: &AppState, extensions: &Extensions, headers: &HeaderMap) -> Option<IpAddr> {
    if app.config.login_protection.trust_forwarded_for
        && let Some(ip) = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

fn wait_text(seconds: u64) -> String {
    match seconds {
        0..=1 => "a second".to_owned(),
        2..=90 => format!("{seconds} seconds"),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

// The error is the finished page to send; it is built once, off the hot path.
#[allow(clippy::result_large_err)]
fn parse_request(app: &AppState, raw: &[u8]) -> Result<AuthorizationRequest, Response> {
    let params = Params::parse(raw)
        .map_err(|e| pages::error(StatusCode::BAD_REQUEST, "Invalid request", &e.description))?;
    AuthorizationRequest::validate(&params, &app.clients).map_err(|e| refuse(app, e))
}

#[allow(clippy::result_large_err)]
fn parse_form(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Params, AuthorizationRequest), Response> {
    let form = Params::from_form(headers, body)
        .map_err(|e| pages::error(StatusCode::BAD_REQUEST, "Invalid request", &e.description))?;
    let Some(raw) = form.get("request") else {
        return Err(pages::error(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The form is missing the authorization request.",
        ));
    };
    let request = parse_request(app, raw.as_bytes())?;
    Ok((form, request))
}

/// RFC 6749 4.1.2.1: redirect the error only to a trusted redirect URI.
fn refuse(app: &AppState, error: AuthorizeError) -> Response {
    match error {
        AuthorizeError::Untrusted(message) => {
            app.metrics.authorize_error("untrusted_request");
            pages::error(
                StatusCode::BAD_REQUEST,
                "This link request is not valid",
                &message,
            )
        }
        AuthorizeError::Redirect {
            redirect_uri,
            state,
            error,
        } => {
            app.metrics.authorize_error(error.code.as_str());
            let location = redirect_with(
                &redirect_uri,
                &[
                    ("error", error.code.as_str()),
                    ("error_description", &error.description),
                ],
                state.as_deref(),
            );
            pages::redirect(StatusCode::FOUND, &location, None)
        }
    }
}

async fn proceed(
    app: &AppState,
    request: &AuthorizationRequest,
    session: &LoginSession,
    jar: PrivateCookieJar,
    status: StatusCode,
) -> Response {
    let consented = if request.client.config.skip_consent {
        true
    } else {
        match app
            .store
            .get_consent(&session.user_id, request.client.id())
            .await
        {
            Ok(Some(given)) => request.scopes.iter().all(|s| given.contains(s)),
            Ok(None) => false,
            Err(e) => return unavailable(e),
        }
    };
    if !consented {
        return consent_page(app, request, session, jar, None, StatusCode::OK);
    }
    match issue_code(app, request, session).await {
        Ok(location) => pages::redirect(status, &location, Some(jar)),
        Err(e) => unavailable(e),
    }
}

async fn remember_consent(
    app: &AppState,
    request: &AuthorizationRequest,
    session: &LoginSession,
) -> Result<(), StoreError> {
    let mut scopes = app
        .store
        .get_consent(&session.user_id, request.client.id())
        .await?
        .unwrap_or_default();
    for s in &request.scopes {
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    app.store
        .put_consent(&session.user_id, request.client.id(), &scopes)
        .await
}

/// Stores a new code and returns the redirect that delivers it.
async fn issue_code(
    app: &AppState,
    request: &AuthorizationRequest,
    session: &LoginSession,
) -> Result<String, StoreError> {
    let now = app.clock.now();
    let code = tokens::generate(TokenKind::AuthorizationCode);
    let record = AuthCodeRecord {
        client_id: request.client.id().to_owned(),
        user_id: session.user_id.clone(),
        redirect_uri: request
            .redirect_uri_given
            .then(|| request.redirect_uri.clone()),
        scope: scope::join(&request.scopes),
        code_challenge: request.code_challenge.clone(),
        auth_time: session.auth_time,
        expires_at: now + app.config.authorization.code_lifetime_seconds as i64,
        redeemed_for: None,
    };
    app.store.put_code(&code.hash, &record).await?;
    tracing::info!(user_id = %session.user_id, client_id = %request.client.id(), "authorization code issued");
    Ok(redirect_with(
        &request.redirect_uri,
        &[("code", &code.value)],
        request.state.as_deref(),
    ))
}

/// Asks the user to sign in: the login page, or with the `oidc` backend a
/// redirect to the upstream provider.
pub(crate) async fn sign_in(
    app: &AppState,
    request: Option<&AuthorizationRequest>,
    jar: PrivateCookieJar,
) -> Response {
    match &app.login {
        Login::Upstream(oidc) => super::upstream::redirect(app, oidc, request, jar).await,
        Login::Password(_) => login_page(app, request, jar, "", None, StatusCode::OK),
    }
}

/// The login page, for an authorization request or (without one) for the
/// linked-apps page.
pub(crate) fn login_page(
    app: &AppState,
    request: Option<&AuthorizationRequest>,
    jar: PrivateCookieJar,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (jar, csrf) = app.cookies.csrf(jar, app.clock.now());
    let query = request
        .map(AuthorizationRequest::to_query)
        .unwrap_or_default();
    let page = LoginPage {
        action: routes::LOGIN,
        client_name: request.map(|r| r.client.display_name()),
        request: &query,
        csrf: &csrf,
        username,
        error,
    };
    pages::render(status, &page, Some(jar))
}

fn consent_page(
    app: &AppState,
    request: &AuthorizationRequest,
    session: &LoginSession,
    jar: PrivateCookieJar,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (jar, csrf) = app.cookies.csrf(jar, app.clock.now());
    let query = request.to_query();
    let page = ConsentPage {
        action: routes::CONSENT,
        client_name: request.client.display_name(),
        user_name: &session.display_name,
        scopes: &request.scopes,
        request: &query,
        csrf: &csrf,
        error,
    };
    pages::render(status, &page, Some(jar))
}

fn unavailable(e: StoreError) -> Response {
    tracing::error!(error = %e, "store operation failed during authorization");
    pages::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "Account linking is temporarily unavailable. Please try again in a moment.",
    )
}

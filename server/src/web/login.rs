//! `POST /oauth/login`: the password login form, and the login page.
//!
//! The decision (throttle, verify, record) is [`crate::identity::login`];
//! this file turns its outcome into a page.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum_extra::extract::cookie::PrivateCookieJar;

use super::authorize::{EXPIRED, parse_request, unavailable};
use super::pages::{self, LoginPage, Ui};
use super::signed_in;
use crate::app::{AppState, Login};
use crate::identity::login::{self, LoginOutcome};
use crate::oauth::authorize::AuthorizationRequest;
use crate::oauth::form::Params;
use crate::peer::client_ip;
use crate::routes;

/// `POST /oauth/login`. The form carries the authorization request it
/// interrupted; without one (the linked-apps page) it returns there.
pub async fn login(
    State(app): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ui = app.pages.ui(&headers);
    let form = match Params::from_form(&headers, &body) {
        Ok(f) => f,
        Err(e) => return pages::invalid_request(&ui, &e.description),
    };
    let request = match form.get("request") {
        Some(raw) => match parse_request(&app, &ui, raw.as_bytes()) {
            Ok(r) => Some(r),
            Err(response) => return response,
        },
        None => None,
    };
    let request = request.as_ref();
    let ui = match request {
        Some(r) => ui.for_client(r.client.id()),
        None => ui,
    };
    let client_id = request.map_or("-", |r| r.client.id());
    let Login::Password(identity) = &app.login else {
        return pages::error(
            &ui,
            StatusCode::NOT_FOUND,
            "not-found-title",
            "no-password-text",
        );
    };
    // The CSRF nonce is bound to the session: an ended one counts as none.
    let (jar, _) = match signed_in::current(&app, app.cookies.jar(&headers)).await {
        Ok(v) => v,
        Err(e) => return unavailable(&ui, e),
    };
    let now = app.clock.now();
    let username = form.get("username").unwrap_or("");
    if !app.cookies.check_csrf(&jar, form.get("csrf"), now) {
        tracing::info!(client_id, "login form refused: missing or stale CSRF nonce");
        app.metrics.login("csrf");
        return login_page(
            &app,
            &ui,
            request,
            jar,
            username,
            Some(&ui.t(EXPIRED)),
            StatusCode::FORBIDDEN,
        );
    }
    let Some(password) = form.get("password").filter(|_| !username.is_empty()) else {
        let message = ui.t("login-missing");
        return login_page(
            &app,
            &ui,
            request,
            jar,
            username,
            Some(&message),
            StatusCode::BAD_REQUEST,
        );
    };
    let ip = client_ip(&app, &extensions, &headers);
    let (message, status) = match login::attempt(
        &app.throttle,
        identity.as_ref(),
        &app.clock,
        username,
        password,
        ip,
    )
    .await
    {
        LoginOutcome::Throttled { retry_after } => {
            // Same words whether or not the user exists: usernames that do
            // not exist are counted too.
            tracing::info!(client_id, ip = ?ip, retry_after, "login refused: too many failed attempts");
            app.metrics.login("throttled");
            let message = wait_text(&ui, retry_after);
            let mut response = login_page(
                &app,
                &ui,
                request,
                jar,
                username,
                Some(&message),
                StatusCode::TOO_MANY_REQUESTS,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            return response;
        }
        LoginOutcome::LoggedIn(user) => {
            tracing::info!(user_id = %user.id, client_id, groups = ?user.groups, "user logged in");
            let jar = app.cookies.start_session(jar, &user, now);
            let location = match request {
                Some(r) => format!("{}?{}", routes::AUTHORIZE, r.to_query()),
                None => routes::LINKS.to_owned(),
            };
            return pages::redirect(&ui, StatusCode::SEE_OTHER, &location, Some(jar));
        }
        LoginOutcome::InvalidCredentials => {
            // No username: it may be an email address, and a typo'd password
            // pasted into the username field must not reach the logs.
            tracing::info!(client_id, ip = ?ip, "login failed: invalid credentials");
            app.metrics.login("invalid_credentials");
            ("login-invalid", StatusCode::UNAUTHORIZED)
        }
        LoginOutcome::Unavailable(e) => {
            tracing::error!(error = %e, "identity backend unavailable");
            app.metrics.login("unavailable");
            ("login-unavailable", StatusCode::SERVICE_UNAVAILABLE)
        }
    };
    let message = ui.t(message);
    login_page(&app, &ui, request, jar, username, Some(&message), status)
}

/// "Too many failed sign-in attempts", with the wait in seconds (up to 90)
/// or minutes, in the page's language and its plural rules.
fn wait_text(ui: &Ui<'_>, seconds: u64) -> String {
    match seconds {
        0..=90 => ui.t_with(
            "login-throttled-seconds",
            [("seconds", seconds.max(1).into())],
        ),
        _ => ui.t_with(
            "login-throttled-minutes",
            [("minutes", seconds.div_ceil(60).into())],
        ),
    }
}

/// Asks the user to sign in: the login page, or with the `oidc` backend a
/// redirect to the upstream provider.
pub(crate) async fn sign_in(
    app: &AppState,
    ui: &Ui<'_>,
    request: Option<&AuthorizationRequest>,
    jar: PrivateCookieJar,
) -> Response {
    match &app.login {
        Login::Upstream(oidc) => super::upstream::redirect(app, ui, oidc, request, jar).await,
        Login::Password(_) => login_page(app, ui, request, jar, "", None, StatusCode::OK),
    }
}

/// The login page, for an authorization request or (without one) for the
/// linked-apps page.
pub(crate) fn login_page(
    app: &AppState,
    ui: &Ui<'_>,
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
    pages::render(ui, status, &page, Some(jar))
}

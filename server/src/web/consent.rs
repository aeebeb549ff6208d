//! `POST /oauth/consent`: the consent form; and what follows a login,
//! asking for consent or issuing the code.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::cookie::PrivateCookieJar;

use super::authorize::{EXPIRED, parse_form, unavailable};
use super::login::{login_page, sign_in};
use super::pages::{self, ConsentPage, Ui};
use super::session::LoginSession;
use super::signed_in;
use crate::app::{AppState, Login};
use crate::audit::{Audit, AuditEvent};
use crate::flight_recorder::{Entry, Step};
use crate::oauth::authorize::{AuthorizationRequest, redirect_with};
use crate::oauth::error::ErrorCode;
use crate::oauth::scope;
use crate::routes;
use crate::store::{AuthCodeRecord, StoreError};
use crate::tokens::{self, NewToken, TokenKind};

/// `POST /oauth/consent`.
pub async fn consent(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let ui = app.pages.ui(&headers);
    let (form, request) = match parse_form(&app, &ui, &headers, &body) {
        Ok(v) => v,
        Err(response) => return response,
    };
    let ui = ui.for_client(request.client.id());
    let now = app.clock.now();
    let (jar, session) = match signed_in::current(&app, app.cookies.jar(&headers)).await {
        Ok(v) => v,
        Err(e) => return unavailable(&ui, e),
    };
    let Some(session) = session else {
        if matches!(app.login, Login::Upstream(_)) {
            return sign_in(&app, &ui, Some(&request), jar).await;
        }
        return login_page(
            &app,
            &ui,
            Some(&request),
            jar,
            "",
            Some(&ui.t("sign-in-expired")),
            StatusCode::FORBIDDEN,
        );
    };
    if !app.cookies.check_csrf(&jar, form.get("csrf"), now) {
        return consent_page(
            &app,
            &ui,
            &request,
            &session,
            jar,
            Some(&ui.t(EXPIRED)),
            StatusCode::FORBIDDEN,
        );
    }
    match form.get("decision") {
        Some("allow") => {
            if let Err(e) = remember_consent(&app, &request, &session).await {
                return unavailable(&ui, e);
            }
            match issue_code(&app, &request, &session).await {
                Ok(location) => pages::redirect(&ui, StatusCode::SEE_OTHER, &location, Some(jar)),
                Err(e) => unavailable(&ui, e),
            }
        }
        Some("deny") => {
            tracing::info!(user_id = %session.user_id, client_id = %request.client.id(), "user denied consent");
            let location = redirect_with(
                &request.redirect_uri,
                app.issuer(),
                &[
                    ("error", ErrorCode::AccessDenied.as_str()),
                    ("error_description", "the user denied the request"),
                ],
                request.state.as_deref(),
            );
            pages::redirect(&ui, StatusCode::SEE_OTHER, &location, Some(jar))
        }
        _ => consent_page(
            &app,
            &ui,
            &request,
            &session,
            jar,
            Some(&ui.t("consent-choose")),
            StatusCode::BAD_REQUEST,
        ),
    }
}

/// Logged in: ask for consent unless it is given, then issue the code.
pub(super) async fn proceed(
    app: &AppState,
    ui: &Ui<'_>,
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
            Err(e) => return unavailable(ui, e),
        }
    };
    if !consented {
        return consent_page(app, ui, request, session, jar, None, StatusCode::OK);
    }
    match issue_code(app, request, session).await {
        Ok(location) => pages::redirect(ui, status, &location, Some(jar)),
        Err(e) => unavailable(ui, e),
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
    let code = store_code(app, request, &session.user_id, session.auth_time).await?;
    Ok(redirect_with(
        &request.redirect_uri,
        app.issuer(),
        &[("code", &code.value)],
        request.state.as_deref(),
    ))
}

/// Stores a new authorization code of `user_id` for a validated request
/// (the consent page, and App-to-App's codes for Alexa).
pub(crate) async fn store_code(
    app: &AppState,
    request: &AuthorizationRequest,
    user_id: &str,
    auth_time: i64,
) -> Result<NewToken, StoreError> {
    let now = app.clock.now();
    let code = tokens::generate(TokenKind::AuthorizationCode);
    let record = AuthCodeRecord {
        client_id: request.client.id().to_owned(),
        user_id: user_id.to_owned(),
        redirect_uri: request
            .redirect_uri_given
            .then(|| request.redirect_uri.clone()),
        scope: scope::join(&request.scopes),
        code_challenge: request.code_challenge.clone(),
        auth_time,
        expires_at: now.saturating_add(app.config.authorization.code_lifetime_seconds as i64),
        redeemed_for: None,
    };
    app.store.put_code(&code.hash, &record).await?;
    Audit::new(AuditEvent::LinkCreated)
        .client(request.client.id())
        .user(user_id)
        .emit(&app.metrics);
    let mut entry = Entry::new(now, Step::CodeIssued, "ok");
    entry.redirect_uri = Some(Entry::clip(&request.redirect_uri));
    entry.pkce = Some(request.code_challenge.is_some());
    app.flight_recorder
        .record(&app.metrics, request.client.id(), entry);
    Ok(code)
}

fn consent_page(
    app: &AppState,
    ui: &Ui<'_>,
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
    pages::render(ui, status, &page, Some(jar))
}

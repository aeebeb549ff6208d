//! `GET|POST /oauth/links`: the signed-in user's linked clients, each with an
//! Unlink button. Unlinking revokes that grant, which ends every token of it
//! and deletes the Amazon tokens kept through it. A user sees and unlinks
//! only their own grants; the form is CSRF-protected like the others.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::cookie::PrivateCookieJar;

use super::login::{login_page, sign_in};
use super::pages::{self, LinkedApp, LinksPage, Ui};
use super::session::LoginSession;
use super::signed_in;
use crate::app::{AppState, Login};
use crate::audit::{Audit, AuditEvent, RevokeReason};
use crate::oauth::form::Params;
use crate::partner::custody;
use crate::peer::client_ip;
use crate::routes;
use crate::store::GrantId;

/// `GET /oauth/links`.
pub async fn page(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let ui = app.pages.ui(&headers);
    let (jar, session) = match signed_in::current(&app, app.cookies.jar(&headers)).await {
        Ok(v) => v,
        Err(e) => return unavailable(&ui, e),
    };
    let Some(session) = session else {
        return sign_in(&app, &ui, None, jar).await;
    };
    let notice = (query.as_deref() == Some("unlinked=1")).then(|| ui.t("links-unlinked"));
    render(&app, &ui, &session, jar, notice.as_deref(), StatusCode::OK).await
}

/// `POST /oauth/links`: unlink one grant.
pub async fn unlink(
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
    let now = app.clock.now();
    let (jar, session) = match signed_in::current(&app, app.cookies.jar(&headers)).await {
        Ok(v) => v,
        Err(e) => return unavailable(&ui, e),
    };
    let Some(session) = session else {
        if matches!(app.login, Login::Upstream(_)) {
            return sign_in(&app, &ui, None, jar).await;
        }
        return login_page(
            &app,
            &ui,
            None,
            jar,
            "",
            Some(&ui.t("sign-in-expired")),
            StatusCode::FORBIDDEN,
        );
    };
    if !app.cookies.check_csrf(&jar, form.get("csrf"), now) {
        return render(
            &app,
            &ui,
            &session,
            jar,
            Some(&ui.t("page-expired")),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let Some(grant) = form.get("grant").and_then(GrantId::from_hex) else {
        return pages::error(
            &ui,
            StatusCode::BAD_REQUEST,
            "invalid-request-title",
            "no-linked-app-text",
        );
    };
    // Only the user's own, active grants; anything else looks the same as
    // an unknown one.
    let owned = match app.store.get_grant(&grant).await {
        Ok(Some(g))
            if g.user_id.as_deref() == Some(session.user_id.as_str()) && g.is_active(now) =>
        {
            Some(g)
        }
        Ok(_) => None,
        Err(e) => return unavailable(&ui, e),
    };
    let Some(owned) = owned else {
        return render(
            &app,
            &ui,
            &session,
            jar,
            Some(&ui.t("links-not-linked")),
            StatusCode::NOT_FOUND,
        )
        .await;
    };
    crate::app_to_app::flow::before_grant_revoked(&app, grant, &session.user_id).await;
    let remote_addr = client_ip(&app, &extensions, &headers);
    let user_id = session.user_id.as_str();
    let reason = RevokeReason::UserUnlink;
    if let Err(e) =
        custody::end_grant(&app, user_id, &owned.client_id, grant, reason, remote_addr).await
    {
        return unavailable(&ui, e);
    }
    // Unlinking takes the consent back too: linking again asks again. After
    // the grant, so a failure here leaves the app unlinked.
    if let Err(e) = app.store.delete_consent(user_id, &owned.client_id).await {
        return unavailable(&ui, e);
    }
    Audit::new(AuditEvent::UserUnlinked)
        .client(&owned.client_id)
        .user(user_id)
        .grant(grant)
        .remote(remote_addr)
        .emit(&app.metrics);
    pages::redirect(
        &ui,
        StatusCode::SEE_OTHER,
        &format!("{}?unlinked=1", routes::LINKS),
        Some(jar),
    )
}

async fn render(
    app: &AppState,
    ui: &Ui<'_>,
    session: &LoginSession,
    jar: PrivateCookieJar,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let now = app.clock.now();
    let grants = match app.store.list_user_grants(&session.user_id, now).await {
        Ok(g) => g,
        Err(e) => return unavailable(ui, e),
    };
    let apps: Vec<LinkedApp> = grants
        .into_iter()
        .map(|(id, g)| LinkedApp {
            name: app
                .clients
                .get(&g.client_id)
                .map_or_else(|| g.client_id.clone(), |c| c.display_name().to_owned()),
            since: time::OffsetDateTime::from_unix_timestamp(g.created_at)
                .map(|t| t.date().to_string())
                .unwrap_or_default(),
            scope: g.scope,
            grant: id.to_hex(),
        })
        .collect();
    let (jar, csrf) = app.cookies.csrf(jar, now);
    let page = LinksPage {
        action: routes::LINKS,
        user_name: &session.display_name,
        apps: &apps,
        csrf: &csrf,
        notice,
        logout: routes::LOGOUT,
    };
    pages::render(ui, status, &page, Some(jar))
}

fn unavailable(ui: &Ui<'_>, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "store operation failed on the linked-apps page");
    pages::error(
        ui,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable-title",
        "try-again-text",
    )
}

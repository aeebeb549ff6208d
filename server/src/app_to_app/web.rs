//! The web variant of App-to-App linking, for a website instead of an
//! app: a "Link with Alexa" page for the signed-in browser session, which
//! sends the browser to Login with Amazon with a state bound to the user,
//! and the callback on this server that completes the linking through the
//! same [`super::flow`] as the app's endpoints.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::cookie::PrivateCookieJar;
use serde::Serialize;

use super::error::AppToAppError;
use super::flow;
use crate::app::AppState;
use crate::oauth::form::Params;
use crate::routes;
use crate::web::login::sign_in;
use crate::web::pages::{self, Page, Ui};
use crate::web::session::LoginSession;
use crate::web::signed_in;

/// The "Link with Alexa" button.
#[derive(Serialize)]
pub struct LinkForm<'a> {
    /// Form target.
    pub action: &'a str,
    /// CSRF nonce.
    pub csrf: &'a str,
    /// The skill to link.
    pub skill: &'a str,
}

/// The page: the button, or how the linking ended.
#[derive(Serialize)]
pub struct LinkPage<'a> {
    /// Heading (in the page's language).
    pub title: &'a str,
    /// Who is signed in.
    pub user_name: Option<&'a str>,
    /// What to tell the user (in the page's language).
    pub message: &'a str,
    /// Whether the message reports success.
    pub linked: bool,
    /// The button, when the user can (still) link.
    pub form: Option<LinkForm<'a>>,
}

impl Page for LinkPage<'_> {
    const TEMPLATE: &'static str = "app_to_app.html";
}

impl LinkPage<'static> {
    /// Every field set, for checking a template override at start.
    pub(crate) fn sample() -> LinkPage<'static> {
        LinkPage {
            title: "t",
            user_name: Some("u"),
            message: "m",
            linked: true,
            form: Some(LinkForm {
                action: "/",
                csrf: "c",
                skill: "s",
            }),
        }
    }
}

/// The page without the button: how the linking ended, as message ids.
fn outcome(
    ui: &Ui<'_>,
    status: StatusCode,
    session: &LoginSession,
    title: &str,
    message: &str,
    linked: bool,
) -> Response {
    let (title, message) = (ui.t(title), ui.t(message));
    let page = LinkPage {
        title: &title,
        user_name: Some(&session.display_name),
        message: &message,
        linked,
        form: None,
    };
    pages::render(ui, status, &page, None)
}

/// A signed-in session, or the response that signs the user in.
async fn session(
    app: &AppState,
    ui: &Ui<'_>,
    headers: &HeaderMap,
) -> Result<(LoginSession, PrivateCookieJar), Response> {
    match signed_in::current(app, app.cookies.jar(headers)).await {
        Ok((jar, Some(s))) => Ok((s, jar)),
        Ok((jar, None)) => Err(sign_in(app, ui, None, jar).await),
        Err(e) => {
            tracing::error!(error = %e, "store unavailable while checking the sign-in");
            Err(pages::error(
                ui,
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable-title",
                "try-again-text",
            ))
        }
    }
}

fn not_configured(ui: &Ui<'_>) -> Response {
    pages::error(
        ui,
        StatusCode::NOT_FOUND,
        "not-available-title",
        "a2a-not-configured-text",
    )
}

/// `GET /app-to-app/link?skill=…`: the button.
pub async fn link_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let ui = app.pages.ui(&headers);
    let Some(a2a) = &app.app_to_app else {
        return not_configured(&ui);
    };
    let (session, jar) = match session(&app, &ui, &headers).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let params = Params::parse(query.as_deref().unwrap_or("").as_bytes()).ok();
    let skill = match a2a.skill(params.as_ref().and_then(|p| p.get("skill"))) {
        Ok(s) => s,
        Err(e) => return failed(&ui, &session, e),
    };
    let (jar, csrf) = app.cookies.csrf(jar, app.clock.now());
    let ui = ui.for_client(skill.alexa_client.id());
    let title = ui.t_with(
        "a2a-heading",
        [("skill", skill.alexa_client.display_name().into())],
    );
    let message = ui.t("a2a-intro");
    pages::render(
        &ui,
        StatusCode::OK,
        &LinkPage {
            title: &title,
            user_name: Some(&session.display_name),
            message: &message,
            linked: false,
            form: Some(LinkForm {
                action: routes::APP_TO_APP_LINK_PAGE,
                csrf: &csrf,
                skill: &skill.config.id,
            }),
        },
        Some(jar),
    )
}

/// `POST /app-to-app/link`: starts the linking and sends the browser to
/// Login with Amazon.
pub async fn start(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let ui = app.pages.ui(&headers);
    let Some(a2a) = &app.app_to_app else {
        return not_configured(&ui);
    };
    let (session, jar) = match session(&app, &ui, &headers).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let form = match Params::from_form(&headers, &body) {
        Ok(f) => f,
        Err(e) => return pages::invalid_request(&ui, &e.description),
    };
    if !app
        .cookies
        .check_csrf(&jar, form.get("csrf"), app.clock.now())
    {
        return pages::error(
            &ui,
            StatusCode::FORBIDDEN,
            "a2a-page-expired-title",
            "a2a-page-expired-text",
        );
    }
    let started = match a2a.skill(form.get("skill")) {
        Ok(skill) => flow::start(&app, a2a, skill, &session.user_id, &a2a.web_redirect_uri).await,
        Err(e) => Err(e),
    };
    match started {
        Ok(s) => pages::redirect(&ui, StatusCode::SEE_OTHER, &s.lwa_fallback_url, Some(jar)),
        Err(e) => failed(&ui, &session, e),
    }
}

/// `GET /app-to-app/callback?code=…&state=…`: Amazon sends the browser back.
pub async fn callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let ui = app.pages.ui(&headers);
    let Some(a2a) = &app.app_to_app else {
        return not_configured(&ui);
    };
    let (session, _jar) = match session(&app, &ui, &headers).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let params = match Params::parse(query.as_deref().unwrap_or("").as_bytes()) {
        Ok(p) => p,
        Err(e) => return pages::invalid_request(&ui, &e.description),
    };
    let (Some(state), code, error) = (params.get("state"), params.get("code"), params.get("error"))
    else {
        return failed(&ui, &session, AppToAppError::InvalidState);
    };
    let result = match (code, error) {
        (_, Some(error)) => {
            // Declined at Amazon: the state is used up; nothing to undo.
            let taken = flow::take_state(&app, state, &session.user_id).await;
            tracing::info!(user_id = %session.user_id, error, "App-to-App linking declined at Amazon");
            return match taken {
                Ok(_) => outcome(
                    &ui,
                    StatusCode::OK,
                    &session,
                    "a2a-not-linked",
                    "a2a-declined",
                    false,
                ),
                Err(e) => failed(&ui, &session, e),
            };
        }
        (Some(code), None) => flow::complete(&app, a2a, &session.user_id, code, state).await,
        (None, None) => Err(AppToAppError::InvalidState),
    };
    match result {
        Ok(_) => outcome(
            &ui,
            StatusCode::OK,
            &session,
            "a2a-linked",
            "a2a-linked-text",
            true,
        ),
        Err(e) => failed(&ui, &session, e),
    }
}

/// The error page for a failed linking: what the user can do about it.
fn failed(ui: &Ui<'_>, session: &LoginSession, e: AppToAppError) -> Response {
    tracing::info!(user_id = %session.user_id, error = %e, "App-to-App web linking failed");
    let (status, message) = match &e {
        AppToAppError::InvalidState | AppToAppError::AmazonCodeInvalid => {
            (StatusCode::BAD_REQUEST, "a2a-expired")
        }
        AppToAppError::AlreadyLinked => (StatusCode::CONFLICT, "a2a-already-linked"),
        AppToAppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "a2a-unavailable"),
        AppToAppError::OAuth(_) | AppToAppError::NotConfigured | AppToAppError::NotLinked => {
            (StatusCode::BAD_REQUEST, "a2a-invalid")
        }
        _ => (StatusCode::BAD_GATEWAY, "a2a-refused"),
    };
    outcome(ui, status, session, "a2a-not-linked", message, false)
}

//! The web variant of App-to-App linking, for a website instead of an
//! app: a "Link with Alexa" page for the signed-in browser session, which
//! sends the browser to Login with Amazon with a state bound to the user,
//! and the callback on this server that completes the linking through the
//! same [`super::flow`] as the app's endpoints.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::cookie::PrivateCookieJar;

use super::error::AppToAppError;
use super::flow;
use crate::app::AppState;
use crate::oauth::form::Params;
use crate::routes;
use crate::web::login::sign_in;
use crate::web::pages;
use crate::web::session::LoginSession;
use crate::web::signed_in;

/// The "Link with Alexa" button.
pub struct LinkForm<'a> {
    /// Form target.
    pub action: &'a str,
    /// CSRF nonce.
    pub csrf: &'a str,
    /// The skill to link.
    pub skill: &'a str,
}

/// The page: the button, or how the linking ended.
#[derive(Template)]
#[template(path = "app_to_app.html")]
pub struct LinkPage<'a> {
    /// Heading.
    pub title: &'a str,
    /// Who is signed in.
    pub user_name: Option<&'a str>,
    /// What to tell the user.
    pub message: &'a str,
    /// Whether the message reports success.
    pub linked: bool,
    /// The button, when the user can (still) link.
    pub form: Option<LinkForm<'a>>,
}

fn page(status: StatusCode, page: &LinkPage<'_>, jar: Option<PrivateCookieJar>) -> Response {
    pages::render(status, page, jar)
}

/// A signed-in session, or the response that signs the user in.
async fn session(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<(LoginSession, PrivateCookieJar), Response> {
    match signed_in::current(app, app.cookies.jar(headers)).await {
        Ok((jar, Some(s))) => Ok((s, jar)),
        Ok((jar, None)) => Err(sign_in(app, None, jar).await),
        Err(e) => {
            tracing::error!(error = %e, "store unavailable while checking the sign-in");
            Err(pages::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "Please try again in a moment.",
            ))
        }
    }
}

fn not_configured() -> Response {
    pages::error(
        StatusCode::NOT_FOUND,
        "Not available",
        "Linking with Alexa is not set up on this server.",
    )
}

/// `GET /app-to-app/link?skill=…`: the button.
pub async fn link_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(a2a) = &app.app_to_app else {
        return not_configured();
    };
    let (session, jar) = match session(&app, &headers).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let params = Params::parse(query.as_deref().unwrap_or("").as_bytes()).ok();
    let skill = match a2a.skill(params.as_ref().and_then(|p| p.get("skill"))) {
        Ok(s) => s,
        Err(e) => return failed(&session, e),
    };
    let (jar, csrf) = app.cookies.csrf(jar, app.clock.now());
    let title = format!("Link {} with Alexa", skill.alexa_client.display_name());
    page(
        StatusCode::OK,
        &LinkPage {
            title: &title,
            user_name: Some(&session.display_name),
            message: "Enable the Alexa skill and link it to your account in one step.",
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
    let Some(a2a) = &app.app_to_app else {
        return not_configured();
    };
    let (session, jar) = match session(&app, &headers).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let form = match Params::from_form(&headers, &body) {
        Ok(f) => f,
        Err(e) => return pages::error(StatusCode::BAD_REQUEST, "Invalid request", &e.description),
    };
    if !app
        .cookies
        .check_csrf(&jar, form.get("csrf"), app.clock.now())
    {
        return pages::error(
            StatusCode::FORBIDDEN,
            "This page expired",
            "Please open the link page again.",
        );
    }
    let started = match a2a.skill(form.get("skill")) {
        Ok(skill) => flow::start(&app, a2a, skill, &session.user_id, &a2a.web_redirect_uri).await,
        Err(e) => Err(e),
    };
    match started {
        Ok(s) => pages::redirect(StatusCode::SEE_OTHER, &s.lwa_fallback_url, Some(jar)),
        Err(e) => failed(&session, e),
    }
}

/// `GET /app-to-app/callback?code=…&state=…`: Amazon sends the browser back.
pub async fn callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(a2a) = &app.app_to_app else {
        return not_configured();
    };
    let (session, _jar) = match session(&app, &headers).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let params = match Params::parse(query.as_deref().unwrap_or("").as_bytes()) {
        Ok(p) => p,
        Err(e) => return pages::error(StatusCode::BAD_REQUEST, "Invalid request", &e.description),
    };
    let (Some(state), code, error) = (params.get("state"), params.get("code"), params.get("error"))
    else {
        return failed(&session, AppToAppError::InvalidState);
    };
    let result = match (code, error) {
        (_, Some(error)) => {
            // Declined at Amazon: the state is used up; nothing to undo.
            let taken = flow::take_state(&app, state, &session.user_id).await;
            tracing::info!(user_id = %session.user_id, error, "App-to-App linking declined at Amazon");
            return match taken {
                Ok(_) => page(
                    StatusCode::OK,
                    &LinkPage {
                        title: "Not linked",
                        user_name: Some(&session.display_name),
                        message: "You did not allow the link at Amazon. Nothing was changed.",
                        linked: false,
                        form: None,
                    },
                    None,
                ),
                Err(e) => failed(&session, e),
            };
        }
        (Some(code), None) => flow::complete(&app, a2a, &session.user_id, code, state).await,
        (None, None) => Err(AppToAppError::InvalidState),
    };
    match result {
        Ok(_) => page(
            StatusCode::OK,
            &LinkPage {
                title: "Linked with Alexa",
                user_name: Some(&session.display_name),
                message: "The Alexa skill is enabled and linked to your account.",
                linked: true,
                form: None,
            },
            None,
        ),
        Err(e) => failed(&session, e),
    }
}

/// The error page for a failed linking: what the user can do about it.
fn failed(session: &LoginSession, e: AppToAppError) -> Response {
    tracing::info!(user_id = %session.user_id, error = %e, "App-to-App web linking failed");
    let (status, message) = match &e {
        AppToAppError::InvalidState | AppToAppError::AmazonCodeInvalid => (
            StatusCode::BAD_REQUEST,
            "This linking attempt expired or was already used. Please start again.",
        ),
        AppToAppError::AlreadyLinked => (
            StatusCode::CONFLICT,
            "The skill is already linked to another account for this Amazon account. Unlink it in the Alexa app first.",
        ),
        AppToAppError::Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Amazon or this service is temporarily unavailable. Please try again in a moment.",
        ),
        AppToAppError::OAuth(_) | AppToAppError::NotConfigured | AppToAppError::NotLinked => {
            (StatusCode::BAD_REQUEST, "This link is not valid.")
        }
        _ => (
            StatusCode::BAD_GATEWAY,
            "Amazon refused the link. Please try again later.",
        ),
    };
    page(
        status,
        &LinkPage {
            title: "Not linked",
            user_name: Some(&session.display_name),
            message,
            linked: false,
            form: None,
        },
        None,
    )
}

//! The endpoints the developer's app calls, each authenticated by the
//! access token our server issued to the app for its signed-in user (with
//! the `alexa_app_link` scope): start, complete, status, unlink, and
//! authorize (the Alexa-app-first direction). Thin: authenticate, read the
//! form, call [`super::flow`], answer JSON.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::AppToAppError;
use super::flow::{self, MintError};
use super::setup::{AppToApp, Skill};
use crate::app::AppState;
use crate::config::APP_TO_APP_SCOPE;
use crate::oauth::bearer;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::form::Params;
use crate::oauth::scope;

/// The app's signed-in user, from its bearer token.
struct AppUser {
    user_id: String,
    client_id: String,
}

impl AppUser {
    /// Refuses a skill this app may not link.
    fn may_link(&self, skill: &Skill) -> Result<(), AppToAppError> {
        if skill.config.app_clients.contains(&self.client_id) {
            Ok(())
        } else {
            Err(forbidden("this app may not link that skill (appClients)").into())
        }
    }
}

fn forbidden(message: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InsufficientScope, message).with_status(StatusCode::FORBIDDEN)
}

fn configured(app: &AppState) -> Result<&AppToApp, AppToAppError> {
    app.app_to_app.as_ref().ok_or(AppToAppError::NotConfigured)
}

async fn authenticate(app: &AppState, headers: &HeaderMap) -> Result<AppUser, AppToAppError> {
    let token = bearer::authenticate(app, headers).await?;
    let Some(user_id) = token.user_id else {
        return Err(forbidden("a user's access token is required").into());
    };
    if !scope::split(&token.scope)
        .iter()
        .any(|s| s == APP_TO_APP_SCOPE)
    {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the access token lacks the alexa_app_link scope",
        )
        .with_challenge(
            "Bearer realm=\"alexa-link\", error=\"insufficient_scope\", scope=\"alexa_app_link\"",
        )
        .with_status(StatusCode::FORBIDDEN)
        .into());
    }
    Ok(AppUser {
        user_id,
        client_id: token.client_id,
    })
}

fn answer<T: serde::Serialize>(result: Result<T, AppToAppError>) -> Response {
    match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /api/app-to-app/start` (`skill`, `redirect_uri`).
pub async fn start(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    answer(
        async {
            let a2a = configured(&app)?;
            let user = authenticate(&app, &headers).await?;
            let form = Params::from_form(&headers, &body)?;
            let skill = a2a.skill(form.get("skill"))?;
            user.may_link(skill)?;
            let redirect_uri = form.require("redirect_uri")?;
            flow::start(&app, a2a, skill, &user.user_id, redirect_uri).await
        }
        .await,
    )
}

/// `POST /api/app-to-app/complete` (`code`, `state`).
pub async fn complete(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    answer(
        async {
            let a2a = configured(&app)?;
            let user = authenticate(&app, &headers).await?;
            let form = Params::from_form(&headers, &body)?;
            if let Some(error) = form.get("error") {
                // Amazon sent the user back with an error (e.g. they
                // declined): the state is used up either way.
                let state = form.require("state")?;
                flow::take_state(&app, state, &user.user_id).await?;
                return Err(flow::amazon_redirect_error(error));
            }
            let code = form.require("code")?;
            let state = form.require("state")?;
            flow::complete(&app, a2a, &user.user_id, code, state).await
        }
        .await,
    )
}

/// `GET /api/app-to-app/status?skill=…`.
pub async fn status(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    answer(
        async {
            let a2a = configured(&app)?;
            let user = authenticate(&app, &headers).await?;
            let params = Params::parse(query.as_deref().unwrap_or("").as_bytes())?;
            let skill = a2a.skill(params.get("skill"))?;
            user.may_link(skill)?;
            flow::status(&app, a2a, skill, &user.user_id).await
        }
        .await,
    )
}

/// `POST /api/app-to-app/unlink` (`skill`).
pub async fn unlink(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    answer(
        async {
            let a2a = configured(&app)?;
            let user = authenticate(&app, &headers).await?;
            let form = Params::from_form(&headers, &body)?;
            let skill = a2a.skill(form.get("skill"))?;
            user.may_link(skill)?;
            flow::unlink(&app, a2a, skill, &user.user_id).await
        }
        .await,
    )
}

/// `POST /api/app-to-app/authorize`: the authorization request Alexa
/// opened the app with, forwarded as a form.
pub async fn authorize(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let a2a = configured(&app)?;
        let user = authenticate(&app, &headers).await?;
        let form = Params::from_form(&headers, &body)?;
        Ok::<_, AppToAppError>(
            flow::mint_for_alexa(&app, a2a, &user.user_id, &user.client_id, &form).await,
        )
    }
    .await;
    match result {
        Err(e) => e.into_response(),
        Ok(Ok(minted)) => axum::Json(minted).into_response(),
        Ok(Err(MintError::Untrusted(e))) => e.into_response(),
        Ok(Err(MintError::Redirect { error, redirect_to })) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "error": error.code.as_str(),
                "error_description": error.description,
                "redirect_to": redirect_to,
            })),
        )
            .into_response(),
        Ok(Err(MintError::Failed(e))) => e.into_response(),
    }
}

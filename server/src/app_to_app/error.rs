//! Why an App-to-App request failed, mapped to the wire once, here.
//!
//! The body has the OAuth shape (`error`, `error_description`); the codes
//! beyond RFC 6749's name what the developer's app must do next: start
//! again (`invalid_state`, `amazon_code_invalid`), show Amazon's refusal
//! (`amazon_rejected`, `alexa_rejected`, with Amazon's status and message),
//! ask the user to unlink elsewhere (`already_linked`), or retry later
//! (`temporarily_unavailable`, 503).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::alexa_api::AlexaApiError;
use crate::oauth::error::OAuthError;
use crate::partner::lwa::LwaError;
use crate::store::StoreError;

/// An App-to-App failure.
#[derive(Debug, thiserror::Error)]
pub enum AppToAppError {
    /// The section is absent from the config.
    #[error("App-to-App account linking is not configured on this server")]
    NotConfigured,
    /// A request error of our own (bad parameter, bearer token, …).
    #[error("{}", .0.description)]
    OAuth(OAuthError),
    /// The `state` is unknown, expired, already used, or another user's.
    #[error("the state is unknown, expired or already used; start the linking again")]
    InvalidState,
    /// LWA refused the Amazon authorization code (`invalid_grant`: it
    /// lives five minutes and is single-use).
    #[error("Amazon's authorization code is expired or was already used; start the linking again")]
    AmazonCodeInvalid,
    /// LWA refused the request for another reason (a 4xx): usually the
    /// skill's LWA credentials or the redirect URI.
    #[error("Login with Amazon refused the request ({status}): {detail}")]
    AmazonRejected {
        /// LWA's HTTP status.
        status: u16,
        /// LWA's error code and description.
        detail: String,
    },
    /// The Alexa API refused the request with a 4xx.
    #[error("Alexa refused the request ({status}): {message}")]
    AlexaRejected {
        /// Alexa's HTTP status.
        status: u16,
        /// Alexa's message.
        message: String,
    },
    /// The skill is enabled and linked for this Amazon account, but not to
    /// this user here.
    #[error(
        "the skill is already enabled and linked for this Amazon account to another account; unlink it in the Alexa app first"
    )]
    AlreadyLinked,
    /// The user has no App-to-App link to this skill.
    #[error("this user has not linked the skill through App-to-App")]
    NotLinked,
    /// Amazon answered something unusable (a 5xx after every attempt is
    /// `Unavailable`).
    #[error("Amazon answered unexpectedly: {0}")]
    BadGateway(String),
    /// Amazon or our store failed transiently, after the bounded retries.
    #[error("{0}; retry later")]
    Unavailable(String),
}

#[derive(Serialize)]
struct ErrorBody {
    error: &'static str,
    error_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_status: Option<u16>,
}

impl AppToAppError {
    /// The `error` code on the wire.
    pub fn code(&self) -> &'static str {
        match self {
            AppToAppError::NotConfigured => "invalid_request",
            AppToAppError::OAuth(e) => e.code.as_str(),
            AppToAppError::InvalidState => "invalid_state",
            AppToAppError::AmazonCodeInvalid => "amazon_code_invalid",
            AppToAppError::AmazonRejected { .. } => "amazon_rejected",
            AppToAppError::AlexaRejected { .. } => "alexa_rejected",
            AppToAppError::AlreadyLinked => "already_linked",
            AppToAppError::NotLinked => "not_linked",
            AppToAppError::BadGateway(_) => "server_error",
            AppToAppError::Unavailable(_) => "temporarily_unavailable",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            AppToAppError::NotConfigured | AppToAppError::NotLinked => StatusCode::NOT_FOUND,
            AppToAppError::OAuth(_) => StatusCode::BAD_REQUEST,
            AppToAppError::InvalidState | AppToAppError::AmazonCodeInvalid => {
                StatusCode::BAD_REQUEST
            }
            AppToAppError::AmazonRejected { .. }
            | AppToAppError::AlexaRejected { .. }
            | AppToAppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppToAppError::AlreadyLinked => StatusCode::CONFLICT,
            AppToAppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Maps an LWA failure (after the bounded retries).
    pub fn from_lwa(e: LwaError) -> AppToAppError {
        match e {
            LwaError::InvalidGrant(_) => AppToAppError::AmazonCodeInvalid,
            LwaError::InvalidClient(detail) => {
                tracing::error!(%detail, "Login with Amazon refused the skill's credentials: check the partner's clientIdFile and clientSecretFile");
                AppToAppError::AmazonRejected {
                    status: 401,
                    detail,
                }
            }
            LwaError::Rejected { status, error } => AppToAppError::AmazonRejected {
                status,
                detail: error,
            },
            LwaError::BadGateway(detail) | LwaError::Unreachable(detail) => {
                tracing::warn!(%detail, "Login with Amazon failed");
                AppToAppError::Unavailable("Login with Amazon failed".into())
            }
        }
    }

    /// Maps an Alexa API failure.
    pub fn from_alexa(e: AlexaApiError) -> AppToAppError {
        match e {
            AlexaApiError::Rejected { status, message } => {
                AppToAppError::AlexaRejected { status, message }
            }
            AlexaApiError::Unavailable(detail) => {
                tracing::warn!(%detail, "the Alexa API failed");
                AppToAppError::Unavailable("the Alexa API failed".into())
            }
            AlexaApiError::BadGateway(detail) => AppToAppError::BadGateway(detail),
        }
    }
}

impl From<OAuthError> for AppToAppError {
    fn from(e: OAuthError) -> AppToAppError {
        AppToAppError::OAuth(e)
    }
}

impl From<StoreError> for AppToAppError {
    fn from(e: StoreError) -> AppToAppError {
        tracing::error!(error = %e, "store operation failed during App-to-App linking");
        AppToAppError::Unavailable("the authorization server's storage is unavailable".into())
    }
}

impl IntoResponse for AppToAppError {
    fn into_response(self) -> Response {
        if let AppToAppError::OAuth(e) = self {
            // Our own OAuth errors keep their status and challenges.
            return e.into_response();
        }
        let upstream_status = match &self {
            AppToAppError::AmazonRejected { status, .. }
            | AppToAppError::AlexaRejected { status, .. } => Some(*status),
            _ => None,
        };
        let body = ErrorBody {
            error: self.code(),
            error_description: self.to_string(),
            upstream_status,
        };
        (self.status(), axum::Json(body)).into_response()
    }
}

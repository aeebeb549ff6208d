//! OAuth error responses (RFC 6749 5.2, RFC 6750 3.1, RFC 7009 2.2.1),
//! mapped to HTTP once, here.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// The registered OAuth error codes this server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Malformed request.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// Code, refresh token or credentials invalid, expired or revoked.
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    /// Unknown grant type.
    UnsupportedGrantType,
    /// Scope unknown or wider than allowed.
    InvalidScope,
    /// The user refused.
    AccessDenied,
    /// Only `response_type=code` is supported.
    UnsupportedResponseType,
    /// A bearer token is missing, expired or revoked (RFC 6750).
    InvalidToken,
    /// RFC 7009 2.2.1: this token cannot be revoked (a self-contained
    /// `client_credentials` access token, which only expires).
    UnsupportedTokenType,
    /// The token's client may not do this (RFC 6750 `insufficient_scope` is
    /// for scopes; this is used for a token of another client).
    InsufficientScope,
    /// Mutual linking: the user has no stored Amazon tokens for the partner.
    NotLinked,
    /// A bug; never for bad input.
    ServerError,
    /// The store or an upstream is unavailable; retry later.
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::NotLinked => "not_linked",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// An OAuth error, ready to be sent.
#[derive(Debug, Clone)]
pub struct OAuthError {
    /// The error code.
    pub code: ErrorCode,
    /// A sentence for the developer reading the response.
    pub description: Cow<'static, str>,
    /// Overrides the code's usual status (e.g. 502 for an upstream failure).
    pub status: Option<StatusCode>,
    /// The `WWW-Authenticate` challenge to send, if any.
    pub challenge: Option<&'static str>,
    /// Seconds to send in `Retry-After` (a throttled client), if any.
    pub retry_after: Option<u64>,
}

impl OAuthError {
    /// An error with a description.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError {
            code,
            description: description.into(),
            status: None,
            challenge: None,
            retry_after: None,
        }
    }

    /// `invalid_request` with a description.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_grant` with a description.
    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidGrant, description)
    }

    /// `invalid_client`, with the Basic challenge RFC 6749 5.2 asks for.
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidClient, description)
            .with_challenge("Basic realm=\"alexa-link\"")
    }

    /// Adds a `WWW-Authenticate` challenge.
    pub fn with_challenge(mut self, challenge: &'static str) -> OAuthError {
        self.challenge = Some(challenge);
        self
    }

    /// Adds a `Retry-After` header.
    pub fn with_retry_after(mut self, seconds: u64) -> OAuthError {
        self.retry_after = Some(seconds);
        self
    }

    /// Sends a different HTTP status than the code's default.
    pub fn with_status(mut self, status: StatusCode) -> OAuthError {
        self.status = Some(status);
        self
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> OAuthError {
        tracing::error!(error = %e, "store operation failed");
        OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "the authorization server's storage is unavailable; retry later",
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    error_description: &'a str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or_else(|| self.code.status());
        let body = ErrorBody {
            error: self.code.as_str(),
            error_description: &self.description,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        // Lets the metrics layer count outcomes by OAuth error code.
        response.extensions_mut().insert(self.code);
        response
    }
}

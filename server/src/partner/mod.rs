//! Mutual account linking with Login with Amazon.
//!
//! Alexa calls the reciprocal endpoint with an LWA authorization code after
//! a user links; we exchange it and keep the user's Amazon tokens,
//! encrypted. The skill developer's app later asks the partner-token
//! endpoint for a valid Amazon access token of a user, to call Alexa APIs
//! on the user's behalf; we refresh it at LWA when needed, once at a time.
//! Both are thin entry points over [`custody`], which keeps the tokens.

pub mod caller;
pub mod custody;
pub mod lwa;
pub mod reciprocal;
pub mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::app::AppState;
use crate::config::{Config, PartnerConfig};
use crate::keyring::KeyRing;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::routes;
use lwa::{LwaClient, LwaError};

/// The mutual-linking endpoints.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::RECIPROCAL_AUTHORIZE, post(reciprocal::reciprocal))
        .route(
            routes::PARTNER_TOKEN,
            get(token::partner_token).post(token::partner_token),
        )
}

/// One configured partner.
#[derive(Debug)]
pub struct Partner {
    /// Its configuration.
    pub config: PartnerConfig,
    /// Its LWA client.
    pub lwa: LwaClient,
}

type FlightKey = (String, String);

/// Every partner, the key ring that protects their tokens, and the
/// in-process single-flight locks of refreshes.
#[derive(Debug)]
pub struct Partners {
    list: Vec<Arc<Partner>>,
    by_client: HashMap<String, Arc<Partner>>,
    /// Encrypts and decrypts stored Amazon tokens.
    pub keyring: KeyRing,
    flights: Mutex<HashMap<FlightKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl Partners {
    /// Reads credentials and keys, builds one LWA client per partner.
    pub fn new(
        config: &Config,
        read_secret: impl Fn(&std::path::Path) -> Result<String, String>,
    ) -> Result<Partners, String> {
        let keyring = KeyRing::load(&config.encryption_key_files).map_err(|e| e.to_string())?;
        let mut list = Vec::new();
        let mut by_client = HashMap::new();
        for p in &config.partners {
            let secret = |path: &std::path::Path, what: &str| {
                read_secret(path).map_err(|e| {
                    format!(
                        "partner {}: failed to read {what} {}: {e}",
                        p.id,
                        path.display()
                    )
                })
            };
            let lwa = LwaClient::new(
                p.effective_token_url(),
                secret(&p.client_id_file, "clientIdFile")?,
                secret(&p.client_secret_file, "clientSecretFile")?,
                Duration::from_secs(p.request_timeout_seconds),
                p.ca_file.as_deref(),
            )?;
            let partner = Arc::new(Partner {
                config: p.clone(),
                lwa,
            });
            for client in &p.linked_clients {
                by_client.insert(client.clone(), partner.clone());
            }
            list.push(partner);
        }
        Ok(Partners {
            list,
            by_client,
            keyring,
            flights: Mutex::default(),
        })
    }

    /// Whether mutual linking is configured at all.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The partner users link to through `client_id`.
    pub fn for_client(&self, client_id: &str) -> Option<&Arc<Partner>> {
        self.by_client.get(client_id)
    }

    /// The partner named `partner_id`, or the only one when none is named.
    pub fn resolve(&self, partner_id: Option<&str>) -> Result<&Arc<Partner>, OAuthError> {
        match partner_id {
            Some(id) => {
                self.list.iter().find(|p| p.config.id == id).ok_or_else(|| {
                    OAuthError::invalid_request(format!("unknown partner_id {id:?}"))
                })
            }
            None if self.list.len() == 1 => Ok(&self.list[0]),
            None if self.list.is_empty() => Err(not_configured()),
            None => Err(OAuthError::invalid_request(
                "partner_id is required: several partners are configured",
            )),
        }
    }
}

/// Mutual linking is not set up on this server.
pub fn not_configured() -> OAuthError {
    OAuthError::invalid_request("mutual account linking is not configured on this server")
        .with_status(StatusCode::NOT_FOUND)
}

/// Maps an LWA failure to what our caller sees. LWA faults are gateway
/// errors (502/503), never 500; a refused code is the caller's `invalid_grant`.
pub fn lwa_error(e: LwaError) -> OAuthError {
    match e {
        LwaError::InvalidGrant(_) => {
            OAuthError::invalid_grant("Login with Amazon rejected the grant")
        }
        LwaError::InvalidClient(detail) => {
            tracing::error!(%detail, "Login with Amazon refused the partner credentials: check partners[].clientIdFile and clientSecretFile");
            OAuthError::new(
                ErrorCode::ServerError,
                "Login with Amazon refused this server's partner credentials",
            )
            .with_status(StatusCode::BAD_GATEWAY)
        }
        LwaError::Rejected { status, error } => {
            tracing::warn!(status, %error, "Login with Amazon refused the request");
            OAuthError::new(
                ErrorCode::ServerError,
                "Login with Amazon refused the request",
            )
            .with_status(StatusCode::BAD_GATEWAY)
        }
        LwaError::BadGateway(detail) => {
            tracing::warn!(%detail, "Login with Amazon failed");
            OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "Login with Amazon failed; retry later",
            )
            .with_status(StatusCode::BAD_GATEWAY)
        }
        LwaError::Unreachable(detail) => {
            tracing::warn!(%detail, "Login with Amazon unreachable");
            OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "Login with Amazon is unreachable; retry later",
            )
        }
    }
}

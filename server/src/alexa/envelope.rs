//! The part of Alexa's request envelope that both forwarded messages
//! share: `context.System.user`, with Alexa's user id and, once the user
//! linked, our access token.

use serde::Deserialize;

/// `context`.
#[derive(Deserialize)]
pub(super) struct Context {
    /// `context.System`.
    #[serde(rename = "System")]
    pub system: System,
}

/// `context.System`.
#[derive(Deserialize)]
pub(super) struct System {
    /// `context.System.user`.
    pub user: User,
}

/// `context.System.user`.
#[derive(Deserialize)]
pub(super) struct User {
    /// Alexa's id of the user (`amzn1.ask.account...`).
    #[serde(rename = "userId", default)]
    pub user_id: Option<String>,
    /// The access token we issued to Alexa for the user, once linked.
    #[serde(rename = "accessToken", default)]
    pub access_token: Option<String>,
}

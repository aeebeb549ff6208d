//! `grant_type=client_credentials` (RFC 6749 4.4): a client acting for itself.

use super::{TokenResponse, mint_access};
use crate::app::Shared;
use crate::oauth::clients::Client;
use crate::oauth::error::OAuthError;
use crate::oauth::form::Params;
use crate::oauth::scope;

/// Issues an access token to the authenticated client. No refresh token
/// (RFC 6749 4.4.3): the client can always authenticate again.
pub async fn exchange(
    app: &Shared,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let scopes = scope::resolve(params.get("scope"), &client.config.scopes)?;
    let scope = scope::join(&scopes);
    let now = app.clock.now();
    let (access, record) = mint_access(client, None, &scope, None, now);
    app.store.put_access_token(&access.hash, &record).await?;
    Ok(TokenResponse {
        access_token: access.value,
        token_type: "Bearer",
        expires_in: record.expires_at - now,
        refresh_token: None,
        scope,
    })
}

//! `grant_type=client_credentials` (RFC 6749 4.4): a client acting for itself.

use super::{GrantContext, TokenResponse, mint_access};
use crate::oauth::clients::Client;
use crate::oauth::error::OAuthError;
use crate::oauth::form::Params;
use crate::oauth::scope;

/// Issues an access token to the authenticated client. No refresh token
/// (RFC 6749 4.4.3): the client can always authenticate again.
pub async fn exchange(
    ctx: &GrantContext<'_>,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let scope = scope::resolve_joined(params.get("scope"), &client.config.scopes)?;
    let now = ctx.clock.now();
    let access = mint_access(ctx, client, None, &scope, None, now)?;
    // A sealed or JWT token is the whole grant: nothing to write.
    if let Some(hash) = &access.stored {
        ctx.store.put_access_token(hash, &access.record).await?;
    }
    Ok(TokenResponse {
        expires_in: access.record.expires_at - now,
        access_token: access.value,
        token_type: "Bearer",
        refresh_token: None,
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::config::ClientConfig;
    use crate::oauth::clients::ClientRegistry;
    use crate::store::Store;
    use crate::store::embedded::EmbeddedStore;
    use crate::tokens::TokenHash;

    /// A grant needs a store and a clock, not a running server.
    #[tokio::test]
    async fn issues_a_stored_scoped_access_token_without_http() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(&dir.path().join("store.redb")).expect("open");
        let clock = Clock::default();
        let config: ClientConfig = serde_yaml::from_str(
            "clientId: backend\nclientSecretFile: /unused\ngrantTypes: [client_credentials]\nscopes: [partner_token, other]\n",
        )
        .expect("client config");
        let clients = ClientRegistry::new(&[config], |_, _| Ok("backend-secret-0123456789".into()))
            .expect("registry");
        let client = clients.get("backend").expect("client");
        let params =
            Params::parse(b"grant_type=client_credentials&scope=partner_token").expect("form");
        let access_tokens = crate::tokens::access::AccessTokens::opaque_only("iss");
        let ctx = GrantContext {
            store: &store,
            access_tokens: &access_tokens,
            refresh_tokens: &crate::tokens::refresh::RefreshTokens::plain(),
            clock: &clock,
            metrics: &crate::metrics::Metrics::new(),
            remote_addr: None,
        };

        let response = exchange(&ctx, client, &params).await.expect("issued");
        assert_eq!(
            (response.scope.as_str(), response.expires_in),
            ("partner_token", 3600)
        );
        assert!(response.refresh_token.is_none(), "RFC 6749 4.4.3");
        let stored = store
            .get_access_token(&TokenHash::of(&response.access_token), clock.now())
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(
            (stored.client_id.as_str(), stored.user_id, stored.grant_id),
            ("backend", None, None)
        );

        let wider = Params::parse(b"grant_type=client_credentials&scope=admin").expect("form");
        assert!(
            exchange(&ctx, client, &wider).await.is_err(),
            "scope beyond the client's"
        );
    }
}

//! The authorization request's query string (`oauth/authorize.rs`), which a
//! browser brings from anywhere.
//!
//! Checked: never a panic; an accepted request names a registered redirect
//! URI; it survives the trip through the login and consent forms
//! (`to_query`, then validated again) unchanged; and its response redirect
//! is a URL that carries the state and the issuer once each.
#![no_main]

use std::sync::OnceLock;

use alexa_link_config::ClientConfig;
use alexa_link_server::oauth::authorize::{AuthorizationRequest, AuthorizeError, redirect_with};
use alexa_link_server::oauth::clients::ClientRegistry;
use alexa_link_server::oauth::form::Params;
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://link.example.com";

fn registry() -> &'static ClientRegistry {
    static REGISTRY: OnceLock<ClientRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let alexa: ClientConfig = serde_yaml::from_str(
            "clientId: alexa\nclientSecretFile: /unused\nalexaVendorId: M1\nscopes: [profile, email]\n",
        )
        .expect("client");
        let app: ClientConfig = serde_yaml::from_str(
            "clientId: app\nclientSecretFile: /unused\nredirectUris: [\"https://app.example/cb?x=1\"]\npkce: OptionalInsecure\nscopes: [profile]\n",
        )
        .expect("client");
        ClientRegistry::new(&[alexa, app], |_, _| Ok("0123456789abcdef".into())).expect("registry")
    })
}

fn count(url: &url::Url, name: &str) -> usize {
    url.query_pairs().filter(|(k, _)| k == name).count()
}

fuzz_target!(|data: &[u8]| {
    let Ok(params) = Params::parse(data) else {
        return;
    };
    let clients = registry();
    match AuthorizationRequest::validate(&params, clients) {
        Ok(request) => {
            assert!(request.client.redirect_uris.contains(&request.redirect_uri));
            let carried = request.to_query();
            let again = AuthorizationRequest::validate(
                &Params::parse(carried.as_bytes()).expect("to_query parses"),
                clients,
            )
            .expect("a carried request validates again");
            assert_eq!(again.to_query(), carried);
            let location = redirect_with(
                &request.redirect_uri,
                ISSUER,
                &[("code", "alc_x")],
                request.state.as_deref(),
            );
            let url = url::Url::parse(&location).expect("the redirect is a URL");
            assert_eq!(count(&url, "iss"), 1);
            assert_eq!(count(&url, "state"), usize::from(request.state.is_some()));
            let state = url.query_pairs().find(|(k, _)| k == "state");
            assert_eq!(state.map(|(_, v)| v.into_owned()), request.state);
        }
        Err(AuthorizeError::Redirect { redirect_uri, .. }) => {
            // Errors go only to a registered redirect URI.
            assert!(
                clients
                    .iter()
                    .any(|c| c.redirect_uris.contains(&redirect_uri))
            );
        }
        Err(AuthorizeError::Untrusted(_)) => {}
    }
});

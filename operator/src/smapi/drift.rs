//! What a read-back says: SMAPI's `accountLinkingResponse` (no client
//! secret in it), the fields in which it differs from what the operator
//! sends (an edit in the developer console), and the vendor id in Alexa's
//! redirect URLs.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::request::{AccountLinkingRequest, PlatformUrl};
use super::spec::AccessTokenScheme;

/// The body of `GET .../accountLinkingClient`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetBody {
    /// The account linking as Alexa has it.
    pub account_linking_response: AccountLinkingResponse,
}

/// SMAPI's `accountLinkingResponse`. Fields SMAPI leaves out are `None`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountLinkingResponse {
    /// `AUTH_CODE` or `IMPLICIT`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// Authorization URL.
    pub authorization_url: Option<String>,
    /// Domains.
    pub domains: Option<Vec<String>>,
    /// Client id.
    pub client_id: Option<String>,
    /// Scopes.
    pub scopes: Option<Vec<String>>,
    /// Token URL.
    pub access_token_url: Option<String>,
    /// Token endpoint client authentication.
    pub access_token_scheme: Option<AccessTokenScheme>,
    /// Assumed token lifetime.
    pub default_token_expiration_in_seconds: Option<u32>,
    /// Reciprocal endpoint.
    pub reciprocal_access_token_url: Option<String>,
    /// Alexa's redirect URLs for this skill.
    #[serde(default)]
    pub redirect_urls: Vec<String>,
    /// Enable without linking.
    pub skip_on_enablement: Option<bool>,
    /// App-to-App URLs.
    pub authorization_urls_by_platform: Option<Vec<PlatformUrl>>,
}

/// The fields (SMAPI's names) in which `got` differs from `sent`. The
/// client secret is never read back, so an edit of it cannot be seen; a
/// field SMAPI leaves out of its answer counts as differing only when the
/// request sets it to something other than its empty value.
pub fn drifted_fields(sent: &AccountLinkingRequest, got: &AccountLinkingResponse) -> Vec<String> {
    fn set(v: &[String]) -> BTreeSet<&str> {
        v.iter().map(String::as_str).collect()
    }
    let mut out = Vec::new();
    let mut check = |name: &str, same: bool| {
        if !same {
            out.push(name.to_owned());
        }
    };
    check("type", got.type_.as_deref() == Some(sent.type_));
    check(
        "authorizationUrl",
        got.authorization_url.as_deref() == Some(sent.authorization_url.as_str()),
    );
    check(
        "accessTokenUrl",
        got.access_token_url.as_deref() == Some(sent.access_token_url.as_str()),
    );
    check(
        "clientId",
        got.client_id.as_deref() == Some(sent.client_id.as_str()),
    );
    check(
        "accessTokenScheme",
        got.access_token_scheme.unwrap_or_default() == sent.access_token_scheme,
    );
    check(
        "scopes",
        set(got.scopes.as_deref().unwrap_or_default()) == set(&sent.scopes),
    );
    check(
        "domains",
        set(got.domains.as_deref().unwrap_or_default()) == set(&sent.domains),
    );
    check(
        "defaultTokenExpirationInSeconds",
        got.default_token_expiration_in_seconds
            .is_none_or(|v| v == sent.default_token_expiration_in_seconds),
    );
    check(
        "reciprocalAccessTokenUrl",
        got.reciprocal_access_token_url
            .as_deref()
            .filter(|u| !u.is_empty())
            == sent.reciprocal_access_token_url.as_deref(),
    );
    check(
        "skipOnEnablement",
        got.skip_on_enablement.unwrap_or(false) == sent.skip_on_enablement,
    );
    let mut platforms = got
        .authorization_urls_by_platform
        .clone()
        .unwrap_or_default();
    platforms.sort_by_key(|p| p.platform_type);
    check(
        "authorizationUrlsByPlatform",
        platforms == sent.authorization_urls_by_platform,
    );
    out
}

/// Alexa's redirect URLs that are https URLs (anything else in an answer
/// is ignored: they become allowed redirect URIs of our server).
pub fn redirect_urls(got: &AccountLinkingResponse) -> Vec<String> {
    let mut urls: Vec<String> = got
        .redirect_urls
        .iter()
        .filter(|u| {
            url::Url::parse(u).is_ok_and(|p| p.scheme() == "https" && p.host_str().is_some())
        })
        .cloned()
        .collect();
    urls.sort();
    urls.dedup();
    urls
}

/// The vendor id: the last path segment of `.../api/skill/link/<vendorId>`,
/// when every redirect URL names the same one.
pub fn vendor_id(redirect_urls: &[String]) -> Option<String> {
    let ids: BTreeSet<&str> = redirect_urls
        .iter()
        .filter_map(|u| {
            u.split_once("/api/skill/link/")
                .map(|(_, id)| id.trim_end_matches('/'))
        })
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
        .collect();
    match (ids.len(), ids.first()) {
        (1, Some(id)) => Some((*id).to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smapi::spec::PlatformType;

    fn sent() -> AccountLinkingRequest {
        AccountLinkingRequest {
            type_: "AUTH_CODE",
            authorization_url: "https://l.example.com/oauth/authorize".into(),
            domains: vec!["a.example.com".into(), "b.example.com".into()],
            client_id: "alexa-skill".into(),
            scopes: vec!["profile".into(), "email".into()],
            access_token_url: "https://l.example.com/oauth/token".into(),
            client_secret: "s".into(),
            access_token_scheme: AccessTokenScheme::HttpBasic,
            default_token_expiration_in_seconds: 3600,
            reciprocal_access_token_url: None,
            skip_on_enablement: false,
            authorization_urls_by_platform: vec![PlatformUrl {
                platform_type: PlatformType::Ios,
                platform_authorization_url: "https://app.example.com/l".into(),
            }],
        }
    }

    fn read_back() -> AccountLinkingResponse {
        serde_json::from_value(serde_json::json!({
            "type": "AUTH_CODE",
            "authorizationUrl": "https://l.example.com/oauth/authorize",
            "domains": ["b.example.com", "a.example.com"],
            "clientId": "alexa-skill",
            "scopes": ["email", "profile"],
            "accessTokenUrl": "https://l.example.com/oauth/token",
            "accessTokenScheme": "HTTP_BASIC",
            "defaultTokenExpirationInSeconds": 3600,
            "redirectUrls": [
                "https://pitangui.amazon.com/api/skill/link/M2VENDOR",
                "https://layla.amazon.com/api/skill/link/M2VENDOR",
                "javascript:alert(1)"
            ],
            "authorizationUrlsByPlatform": [{"platformType": "iOS", "platformAuthorizationUrl": "https://app.example.com/l"}]
        }))
        .expect("response")
    }

    #[test]
    fn an_equal_read_back_is_no_drift_whatever_the_order() {
        assert_eq!(drifted_fields(&sent(), &read_back()), Vec::<String>::new());
    }

    #[test]
    fn console_edits_are_named_by_field() {
        let mut got = read_back();
        got.access_token_scheme = Some(AccessTokenScheme::RequestBodyCredentials);
        got.scopes = Some(vec!["profile".into()]);
        got.authorization_url = Some("https://old.example.com/".into());
        got.authorization_urls_by_platform = Some(Vec::new());
        assert_eq!(
            drifted_fields(&sent(), &got),
            [
                "authorizationUrl",
                "accessTokenScheme",
                "scopes",
                "authorizationUrlsByPlatform"
            ]
        );
        let mut cleared = read_back();
        cleared.client_id = None;
        assert_eq!(drifted_fields(&sent(), &cleared), ["clientId"]);
    }

    #[test]
    fn only_https_redirect_urls_are_taken_and_they_name_the_vendor() {
        let urls = redirect_urls(&read_back());
        assert_eq!(urls.len(), 2, "{urls:?}");
        assert_eq!(vendor_id(&urls).as_deref(), Some("M2VENDOR"));
        let mixed = vec![
            "https://pitangui.amazon.com/api/skill/link/M2A".to_owned(),
            "https://layla.amazon.com/api/skill/link/M2B".to_owned(),
        ];
        assert_eq!(vendor_id(&mixed), None, "two vendors: none");
    }
}

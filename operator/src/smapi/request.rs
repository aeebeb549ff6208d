//! The account-linking request SMAPI takes, built from a [`Skill`] and the
//! client secret, and its revision: a hash of everything sent.
//!
//! The revision is what makes "only on change" work: the operator sends
//! when the revision differs from the one SMAPI last accepted, and the
//! client secret's value is part of it, so a rotated secret is re-sent.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::skill::Skill;
use super::spec::{AccessTokenScheme, PlatformType};

/// The body of `PUT .../accountLinkingClient`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutBody<'a> {
    /// The request.
    pub account_linking_request: &'a AccountLinkingRequest,
}

/// SMAPI's `accountLinkingRequest`. `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountLinkingRequest {
    /// Always `AUTH_CODE`: the grant Alexa account linking uses.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// Our authorization endpoint.
    pub authorization_url: String,
    /// Extra domains of the login page.
    pub domains: Vec<String>,
    /// The published client id.
    pub client_id: String,
    /// Scopes Alexa asks for.
    pub scopes: Vec<String>,
    /// Our token endpoint.
    pub access_token_url: String,
    /// The published client's secret.
    pub client_secret: String,
    /// Token endpoint client authentication.
    pub access_token_scheme: AccessTokenScheme,
    /// Assumed access-token lifetime.
    pub default_token_expiration_in_seconds: u32,
    /// Our reciprocal endpoint (mutual account linking).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reciprocal_access_token_url: Option<String>,
    /// Enable without linking.
    pub skip_on_enablement: bool,
    /// App-to-App URLs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization_urls_by_platform: Vec<PlatformUrl>,
}

impl std::fmt::Debug for AccountLinkingRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountLinkingRequest")
            .field("authorization_url", &self.authorization_url)
            .field("access_token_url", &self.access_token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// One App-to-App URL, as SMAPI spells it (request and response).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformUrl {
    /// `iOS` or `Android`.
    pub platform_type: PlatformType,
    /// The app's URL.
    pub platform_authorization_url: String,
}

/// The request for `skill` with the client secret's value.
pub fn build(skill: &Skill, client_secret: &str) -> AccountLinkingRequest {
    AccountLinkingRequest {
        type_: "AUTH_CODE",
        authorization_url: skill.authorization_url.clone(),
        domains: skill.domains.clone(),
        client_id: skill.client_id.clone(),
        scopes: skill.scopes.clone(),
        access_token_url: skill.access_token_url.clone(),
        client_secret: client_secret.to_owned(),
        access_token_scheme: skill.access_token_scheme,
        default_token_expiration_in_seconds: skill.default_token_expiration_in_seconds,
        reciprocal_access_token_url: skill.reciprocal_access_token_url.clone(),
        skip_on_enablement: skill.skip_on_enablement,
        authorization_urls_by_platform: skill
            .authorization_urls_by_platform
            .iter()
            .map(|(t, u)| PlatformUrl {
                platform_type: *t,
                platform_authorization_url: u.to_string(),
            })
            .collect(),
    }
}

/// The revision of sending `request` to `skill`'s skill and stage: 16 hex
/// digits of SHA-256 over them. Any field, the secret included, changes it.
pub fn revision(skill: &Skill, request: &AccountLinkingRequest) -> String {
    let mut h = Sha256::new();
    h.update(skill.skill_id.as_bytes());
    h.update([0]);
    h.update(skill.stage.as_str().as_bytes());
    h.update([0]);
    // Serialising our own struct cannot fail; an empty body would still
    // hash the skill and stage.
    h.update(serde_json::to_vec(request).unwrap_or_default());
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smapi::skill::validate;

    fn skill(extra: &str) -> Skill {
        let mut spec: crate::crd::AlexaSkillLinkSpec = serde_yaml::from_str(&format!(
            r#"
host: link.example.com
clients:
  - clientId: alexa-skill
    clientSecretRef: {{name: c, key: secret}}
    alexaVendorId: M2ABC
    scopes: [profile]
identity: {{static: {{usersSecretRef: {{name: u, key: users.yaml}}}}}}
partner: {{clientIdRef: {{name: p, key: id}}, clientSecretRef: {{name: p, key: secret}}}}
tls: {{ingress: {{}}}}
storage: {{embedded: {{}}}}
alexaSkill:
  skillId: amzn1.ask.skill.1234
  credentialsSecretName: smapi
{extra}
"#
        ))
        .expect("spec");
        spec.clients[0].access_token_lifetime_seconds = Some(7200);
        validate(&spec).expect("valid").expect("set")
    }

    #[test]
    fn every_field_is_in_the_request_as_smapi_spells_it() {
        let s = skill(
            "  domains: [cdn.example.com]\n  accessTokenScheme: REQUEST_BODY_CREDENTIALS\n  skipOnEnablement: true\n  authorizationUrlsByPlatform: [{platformType: iOS, platformAuthorizationUrl: 'https://app.example.com/link'}]\n",
        );
        let body = serde_json::to_value(PutBody {
            account_linking_request: &build(&s, "the-secret"),
        })
        .expect("json");
        assert_eq!(
            body,
            serde_json::json!({"accountLinkingRequest": {
                "type": "AUTH_CODE",
                "authorizationUrl": "https://link.example.com/oauth/authorize",
                "domains": ["cdn.example.com"],
                "clientId": "alexa-skill",
                "scopes": ["profile"],
                "accessTokenUrl": "https://link.example.com/oauth/token",
                "clientSecret": "the-secret",
                "accessTokenScheme": "REQUEST_BODY_CREDENTIALS",
                "defaultTokenExpirationInSeconds": 7200,
                "reciprocalAccessTokenUrl": "https://link.example.com/api/reciprocal/authorize",
                "skipOnEnablement": true,
                "authorizationUrlsByPlatform": [
                    {"platformType": "iOS", "platformAuthorizationUrl": "https://app.example.com/link"}
                ],
            }})
        );
    }

    #[test]
    fn without_app_to_app_the_field_is_left_out() {
        let body = serde_json::to_value(build(&skill(""), "s")).expect("json");
        assert!(body.get("authorizationUrlsByPlatform").is_none(), "{body}");
        assert_eq!(body["accessTokenScheme"], "HTTP_BASIC");
    }

    #[test]
    fn the_revision_moves_with_the_secret_and_the_stage_only_when_they_change() {
        let s = skill("");
        let r1 = revision(&s, &build(&s, "secret-1"));
        assert_eq!(r1, revision(&s, &build(&s, "secret-1")), "stable");
        assert_eq!(r1.len(), 16);
        assert_ne!(
            r1,
            revision(&s, &build(&s, "secret-2")),
            "rotation is a change"
        );
        let live = skill("  stage: live\n");
        assert_ne!(
            r1,
            revision(&live, &build(&live, "secret-1")),
            "another stage"
        );
        let observe = skill("  mode: Observe\n");
        assert_eq!(
            r1,
            revision(&observe, &build(&observe, "secret-1")),
            "mode is not sent"
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let shown = format!("{:?}", build(&skill(""), "do-not-print-me"));
        assert!(!shown.contains("do-not-print-me"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}

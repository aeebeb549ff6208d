//! `spec.alexaSkill` decided into a [`Skill`]: which client is published,
//! with which URLs, scopes and options, every SMAPI limit checked before
//! anything is sent. Pure; run by [`crate::validate`], so a link with a
//! bad `alexaSkill` is `Ready=False InvalidSpec` like any other spec error.

use alexa_link_config::clients as client_defaults;
use url::Url;

use super::spec::{AccessTokenScheme, PlatformType, SkillMode, SkillStage};
use crate::conditions::Invalid;
use crate::crd::{AlexaSkillLinkSpec, ClientSpec, GrantTypeSpec, SecretKeyRef};
use crate::status::endpoints;

/// SMAPI's limit on scopes and on domains.
pub const MAX_SCOPES: usize = 15;
/// SMAPI's limit on domains.
pub const MAX_DOMAINS: usize = 15;

/// A validated `spec.alexaSkill`.
#[derive(Debug, Clone, PartialEq)]
pub struct Skill {
    /// The skill id.
    pub skill_id: String,
    /// The stage written.
    pub stage: SkillStage,
    /// Secret with `client-id`, `client-secret`, `refresh-token`.
    pub credentials_secret: String,
    /// The published client's id.
    pub client_id: String,
    /// Its secret.
    pub client_secret: SecretKeyRef,
    /// Scopes Alexa asks for.
    pub scopes: Vec<String>,
    /// Extra domains of the login page.
    pub domains: Vec<String>,
    /// Token endpoint client authentication.
    pub access_token_scheme: AccessTokenScheme,
    /// Assumed access-token lifetime.
    pub default_token_expiration_in_seconds: u32,
    /// Enable without linking.
    pub skip_on_enablement: bool,
    /// App-to-App URLs, sorted by platform.
    pub authorization_urls_by_platform: Vec<(PlatformType, Url)>,
    /// Enforce or Observe.
    pub mode: SkillMode,
    /// Our authorization endpoint.
    pub authorization_url: String,
    /// Our token endpoint.
    pub access_token_url: String,
    /// Our reciprocal endpoint (with `spec.partner`).
    pub reciprocal_access_token_url: Option<String>,
}

fn uses_code(c: &ClientSpec) -> bool {
    c.grant_types.is_empty() || c.grant_types.contains(&GrantTypeSpec::AuthorizationCode)
}

/// Decides `spec.alexaSkill`; `None` when it is absent.
pub fn validate(spec: &AlexaSkillLinkSpec) -> Result<Option<Skill>, Invalid> {
    let Some(s) = &spec.alexa_skill else {
        return Ok(None);
    };
    let field = |f: &str| format!("alexaSkill.{f}");
    if !s.skill_id.starts_with("amzn1.ask.skill.") || s.skill_id.len() > 255 {
        return Err(Invalid::spec(
            &field("skillId"),
            format!(
                "must be a skill id amzn1.ask.skill.<id>, got {:?}",
                s.skill_id
            ),
        ));
    }
    let client = match &s.client_id {
        Some(id) => spec
            .clients
            .iter()
            .find(|c| &c.client_id == id)
            .ok_or_else(|| {
                Invalid::spec(
                    &field("clientId"),
                    format!("names no client of spec.clients: {id:?}"),
                )
            })?,
        None => {
            let candidates: Vec<_> = spec
                .clients
                .iter()
                .filter(|c| !c.public && uses_code(c))
                .collect();
            match candidates.as_slice() {
                [one] => *one,
                _ => {
                    return Err(Invalid::spec(
                        &field("clientId"),
                        format!(
                            "must name the client Alexa uses: {} confidential clients use authorization_code",
                            candidates.len()
                        ),
                    ));
                }
            }
        }
    };
    let client_secret = match (&client.client_secret_ref, uses_code(client)) {
        (Some(r), true) => r.clone(),
        _ => {
            return Err(Invalid::spec(
                &field("clientId"),
                format!(
                    "must name a confidential client that uses authorization_code; {:?} is not one",
                    client.client_id
                ),
            ));
        }
    };
    let scopes = if s.scopes.is_empty() {
        client.scopes.clone()
    } else {
        s.scopes.clone()
    };
    if scopes.len() > MAX_SCOPES {
        return Err(Invalid::spec(
            &field("scopes"),
            format!(
                "has {} scopes; SMAPI takes at most {MAX_SCOPES}",
                scopes.len()
            ),
        ));
    }
    if let Some(bad) = scopes.iter().find(|sc| {
        sc.is_empty()
            || sc
                .chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '\\')
    }) {
        return Err(Invalid::spec(
            &field("scopes"),
            format!("holds {bad:?}, which is not an OAuth scope token"),
        ));
    }
    if s.domains.len() > MAX_DOMAINS {
        return Err(Invalid::spec(
            &field("domains"),
            format!(
                "has {} domains; SMAPI takes at most {MAX_DOMAINS}",
                s.domains.len()
            ),
        ));
    }
    for d in &s.domains {
        let host = url::Host::parse(d).ok();
        if !matches!(host, Some(url::Host::Domain(_))) || d.contains(['/', ':', '*']) {
            return Err(Invalid::spec(
                &field("domains"),
                format!("holds {d:?}, which is not a DNS name"),
            ));
        }
    }
    let mut platforms = Vec::new();
    for p in &s.authorization_urls_by_platform {
        let url = Url::parse(&p.platform_authorization_url)
            .ok()
            .filter(|u| u.scheme() == "https" && u.host_str().is_some())
            .ok_or_else(|| {
                Invalid::spec(
                    &field("authorizationUrlsByPlatform"),
                    format!(
                        "holds {:?}, which is not an https URL",
                        p.platform_authorization_url
                    ),
                )
            })?;
        if platforms.iter().any(|(t, _)| *t == p.platform_type) {
            return Err(Invalid::spec(
                &field("authorizationUrlsByPlatform"),
                "names a platform twice",
            ));
        }
        platforms.push((p.platform_type, url));
    }
    platforms.sort_by_key(|(t, _)| *t);
    let urls = endpoints(&spec.host);
    Ok(Some(Skill {
        skill_id: s.skill_id.clone(),
        stage: s.stage,
        credentials_secret: s.credentials_secret_name.clone(),
        client_id: client.client_id.clone(),
        client_secret,
        scopes,
        domains: s.domains.clone(),
        access_token_scheme: s.access_token_scheme.unwrap_or_default(),
        default_token_expiration_in_seconds: s.default_token_expiration_in_seconds.unwrap_or(
            u32::try_from(
                client
                    .access_token_lifetime_seconds
                    .unwrap_or(client_defaults::DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS),
            )
            .unwrap_or(u32::MAX),
        ),
        skip_on_enablement: s.skip_on_enablement,
        authorization_urls_by_platform: platforms,
        mode: s.mode,
        authorization_url: urls.authorization,
        access_token_url: urls.token,
        reciprocal_access_token_url: spec.partner.as_ref().map(|_| urls.reciprocal),
    }))
}

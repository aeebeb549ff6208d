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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::AlexaSkillLinkSpec;

    /// A spec with two clients (Alexa's and a backend) and `alexa_skill`.
    fn spec(alexa_skill: &str) -> AlexaSkillLinkSpec {
        serde_yaml::from_str(&format!(
            r#"
host: link.example.com
clients:
  - clientId: alexa-skill
    clientSecretRef: {{name: c, key: secret}}
    alexaVendorId: M2ABC
    scopes: [profile, email]
    accessTokenLifetimeSeconds: 1800
  - clientId: backend
    clientSecretRef: {{name: b, key: secret}}
    grantTypes: [client_credentials]
identity: {{static: {{usersSecretRef: {{name: u, key: users.yaml}}}}}}
tls: {{ingress: {{}}}}
storage: {{embedded: {{}}}}
alexaSkill:
{alexa_skill}
"#
        ))
        .expect("spec")
    }

    fn skill(alexa_skill: &str) -> Result<Skill, Invalid> {
        validate(&spec(alexa_skill)).map(|s| s.expect("alexaSkill set"))
    }

    const BASE: &str = "  skillId: amzn1.ask.skill.1234\n  credentialsSecretName: smapi\n";

    #[test]
    fn defaults_come_from_the_only_alexa_client_and_the_host() {
        let s = skill(BASE).expect("valid");
        assert_eq!(s.client_id, "alexa-skill");
        assert_eq!(s.client_secret.name, "c");
        assert_eq!(s.scopes, ["profile", "email"]);
        assert_eq!(s.default_token_expiration_in_seconds, 1800);
        assert_eq!(s.access_token_scheme, AccessTokenScheme::HttpBasic);
        assert_eq!(s.stage, SkillStage::Development, "live only when asked");
        assert_eq!(s.mode, SkillMode::Enforce);
        assert_eq!(
            s.authorization_url,
            "https://link.example.com/oauth/authorize"
        );
        assert_eq!(s.access_token_url, "https://link.example.com/oauth/token");
        assert_eq!(
            s.reciprocal_access_token_url, None,
            "no partner, no reciprocal URL"
        );
    }

    #[test]
    fn a_partner_adds_the_reciprocal_url() {
        let mut spec = spec(BASE);
        spec.partner = Some(
            serde_yaml::from_str(
                "{clientIdRef: {name: p, key: id}, clientSecretRef: {name: p, key: secret}}",
            )
            .expect("partner"),
        );
        let s = validate(&spec).expect("valid").expect("set");
        assert_eq!(
            s.reciprocal_access_token_url.as_deref(),
            Some("https://link.example.com/api/reciprocal/authorize")
        );
    }

    #[test]
    fn limits_are_checked_before_anything_is_sent() {
        let scopes: Vec<String> = (0..16).map(|i| format!("s{i}")).collect();
        let e =
            skill(&format!("{BASE}  scopes: [{}]\n", scopes.join(", "))).expect_err("16 scopes");
        assert_eq!(e.reason, "InvalidSpec");
        assert!(
            e.message
                .contains("spec.alexaSkill.scopes has 16 scopes; SMAPI takes at most 15"),
            "{}",
            e.message
        );
        let domains: Vec<String> = (0..16).map(|i| format!("d{i}.example.com")).collect();
        let e =
            skill(&format!("{BASE}  domains: [{}]\n", domains.join(", "))).expect_err("16 domains");
        assert!(
            e.message.contains("spec.alexaSkill.domains"),
            "{}",
            e.message
        );
        let e = skill(&format!(
            "{BASE}  domains: [\"https://cdn.example.com/\"]\n"
        ))
        .expect_err("a URL");
        assert!(e.message.contains("not a DNS name"), "{}", e.message);
        let e = skill(&format!(
            "{BASE}  authorizationUrlsByPlatform: [{{platformType: iOS, platformAuthorizationUrl: 'http://app.example.com/x'}}]\n"
        ))
        .expect_err("http");
        assert!(e.message.contains("not an https URL"), "{}", e.message);
        let e = skill(&format!("{BASE}  scopes: [\"two words\"]\n")).expect_err("space");
        assert!(
            e.message.contains("not an OAuth scope token"),
            "{}",
            e.message
        );
    }

    #[test]
    fn the_published_client_must_be_a_confidential_code_client() {
        let e = skill(&format!("{BASE}  clientId: nobody\n")).expect_err("unknown");
        assert!(e.message.contains("names no client"), "{}", e.message);
        let e =
            skill(&format!("{BASE}  clientId: backend\n")).expect_err("client_credentials only");
        assert!(
            e.message
                .contains("confidential client that uses authorization_code"),
            "{}",
            e.message
        );
        let mut two = spec(BASE);
        let mut second = two.clients[0].clone();
        second.client_id = "alexa-skill-2".into();
        two.clients.push(second);
        let e = validate(&two).expect_err("ambiguous");
        assert!(
            e.message.contains("2 confidential clients"),
            "{}",
            e.message
        );
    }

    #[test]
    fn platforms_are_sorted_and_unique() {
        let s = skill(&format!(
            "{BASE}  authorizationUrlsByPlatform:\n    - {{platformType: Android, platformAuthorizationUrl: 'https://a.example.com/l'}}\n    - {{platformType: iOS, platformAuthorizationUrl: 'https://i.example.com/l'}}\n"
        ))
        .expect("valid");
        let types: Vec<_> = s
            .authorization_urls_by_platform
            .iter()
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(types, [PlatformType::Ios, PlatformType::Android]);
        let e = skill(&format!(
            "{BASE}  authorizationUrlsByPlatform:\n    - {{platformType: iOS, platformAuthorizationUrl: 'https://a.example.com/l'}}\n    - {{platformType: iOS, platformAuthorizationUrl: 'https://i.example.com/l'}}\n"
        ))
        .expect_err("twice");
        assert!(
            e.message.contains("names a platform twice"),
            "{}",
            e.message
        );
    }
}

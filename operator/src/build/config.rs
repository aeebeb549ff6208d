//! Renders the server's own config type from a [`ValidatedLink`]. Using
//! `alexa_link_config::Config` (not a copy of its format) means the
//! operator cannot write a document the server would not parse; every
//! default the spec leaves open is the config crate's public constant,
//! never a number re-typed here.

use std::net::SocketAddr;

use alexa_link_config::identity::{ldap, oidc};
use alexa_link_config::{
    AccessTokenFormat, AuthorizationConfig, AwsCredentialFiles, ClientConfig, Config,
    DynamoDbStoreConfig, EmbeddedStoreConfig, GrantType, IdentityConfig, LdapIdentityConfig,
    LogFormat, LoggingConfig, LwaRegion, OidcIdentityConfig, PartnerConfig, PkcePolicy,
    RefreshTokenPolicy, ServerConfig, StaticIdentityConfig, StoreConfig, TlsConfig,
};
use alexa_link_config::{
    BrandingConfig, clients as client_defaults, partners, store as store_defaults,
};

use super::mounts::{DATA_DIR, Mounts};
use super::{ADMIN_PORT, PUBLIC_PORT};
use crate::crd::{
    AccessTokenFormatSpec, BrandingSpec, ClientSpec, ConfigMapKeyRef, GrantTypeSpec, LwaRegionSpec,
    PkceSpec, SecretKeyRef,
};
use crate::secret_refs::{AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY};
pub use crate::secret_refs::{ENCRYPTION_KEY, SESSION_KEY};
use crate::validate::{Identity, LdapTransport, Storage, ValidatedLink};

/// The embedded store's file.
pub const STORE_FILE: &str = "store.redb";

/// `spec.branding` or `clients[].branding`: the logo, style sheet and
/// templates are their mounted Secret key, ConfigMap key or ConfigMap; the
/// URLs were parsed by the validation.
fn branding(b: &BrandingSpec) -> BrandingConfig {
    let url = |u: &Option<String>| u.as_deref().and_then(|u| url::Url::parse(u).ok());
    let config_map_file = |r: &ConfigMapKeyRef| Mounts::config_map_file(&r.name, &r.key);
    BrandingConfig {
        product_name: b.product_name.clone(),
        logo: b
            .logo_secret_ref
            .as_ref()
            .map(file)
            .or_else(|| b.logo_config_map_ref.as_ref().map(config_map_file))
            .map(|f| f.display().to_string()),
        primary_color: b.primary_color.clone(),
        support_url: url(&b.support_url),
        privacy_url: url(&b.privacy_url),
        extra_css_file: b.extra_css_config_map_ref.as_ref().map(config_map_file),
        templates_dir: b
            .templates_config_map_name
            .as_deref()
            .map(Mounts::config_map_dir),
    }
}

fn file(r: &SecretKeyRef) -> std::path::PathBuf {
    Mounts::file(&r.name, &r.key)
}

/// The server config for `link`. Infallible: [`crate::validate::validate`]
/// already rendered it and ran the server's validation on the result.
pub fn render(link: &ValidatedLink) -> Config {
    let spec = &link.resource.spec;
    let tls = link.tls.server_secret(&link.names).map(|s| TlsConfig {
        cert_file: Mounts::file(&s, "tls.crt"),
        key_file: Mounts::file(&s, "tls.key"),
    });
    let identity = match &link.identity {
        Identity::Static { users } => IdentityConfig::Static(StaticIdentityConfig {
            users_file: Some(file(users)),
            users: Vec::new(),
        }),
        Identity::Ldap(l) => IdentityConfig::Ldap(LdapIdentityConfig {
            url: l.url.clone(),
            start_tls: l.transport == LdapTransport::StartTls,
            ca_file: l.ca_bundle.as_ref().map(file),
            bind_dn: l.bind_dn.clone(),
            bind_password_file: file(&l.bind_password),
            base_dn: l.base_dn.clone(),
            user_filter: l
                .user_filter
                .clone()
                .unwrap_or_else(|| ldap::DEFAULT_USER_FILTER.to_owned()),
            id_attribute: l
                .id_attribute
                .clone()
                .unwrap_or_else(|| ldap::DEFAULT_ID_ATTRIBUTE.to_owned()),
            display_name_attribute: l
                .display_name_attribute
                .clone()
                .unwrap_or_else(|| ldap::DEFAULT_DISPLAY_NAME_ATTRIBUTE.to_owned()),
            pool_size: l.pool_size.map_or(ldap::DEFAULT_POOL_SIZE, |p| p as usize),
            timeout_seconds: l.timeout_seconds.unwrap_or(ldap::DEFAULT_TIMEOUT_SECONDS),
            // Not in the CRD yet: the server's default.
            user_check_seconds: ldap::DEFAULT_USER_CHECK_SECONDS,
        }),
        Identity::Oidc(o) => IdentityConfig::Oidc(OidcIdentityConfig {
            issuer_url: o.issuer_url.clone(),
            client_id: o.client_id.clone(),
            client_secret_file: file(&o.client_secret),
            scopes: if o.scopes.is_empty() {
                oidc::DEFAULT_SCOPES
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect()
            } else {
                o.scopes.clone()
            },
            user_id_claim: o
                .user_id_claim
                .clone()
                .unwrap_or_else(|| oidc::DEFAULT_USER_ID_CLAIM.to_owned()),
            display_name_claim: o
                .display_name_claim
                .clone()
                .unwrap_or_else(|| oidc::DEFAULT_DISPLAY_NAME_CLAIM.to_owned()),
            issuer_id: o.issuer_id.clone(),
            request_timeout_seconds: o
                .request_timeout_seconds
                .unwrap_or(oidc::DEFAULT_REQUEST_TIMEOUT_SECONDS),
            ca_file: o.ca_bundle.as_ref().map(file),
            // Not in the CRD yet: links never age out.
            max_grant_age_seconds: None,
        }),
    };
    let store = match &link.storage {
        Storage::Embedded(_) => {
            StoreConfig::Embedded(EmbeddedStoreConfig::at(format!("{DATA_DIR}/{STORE_FILE}")))
        }
        Storage::Dynamodb(d) => StoreConfig::Dynamodb(DynamoDbStoreConfig {
            table_name: d.table_name.clone(),
            region: d.region.clone(),
            endpoint: d.endpoint.clone(),
            create_table: d.create_table,
            // Absent: the default AWS chain, i.e. the pod's service account
            // (IRSA annotations in spec.serviceAccount).
            credentials: d
                .credentials_secret
                .as_ref()
                .map(|name| AwsCredentialFiles {
                    access_key_id_file: Mounts::file(name, AWS_ACCESS_KEY_ID),
                    secret_access_key_file: Mounts::file(name, AWS_SECRET_ACCESS_KEY),
                }),
            max_attempts: store_defaults::DEFAULT_DYNAMODB_MAX_ATTEMPTS,
            attempt_timeout_millis: store_defaults::DEFAULT_DYNAMODB_ATTEMPT_TIMEOUT_MILLIS,
            // Every item the link's servers write names the link, so that
            // deletionPolicy Delete can find exactly its items in a shared
            // table; a re-created link of the same name owns them again.
            owner: Some(link_owner(&link.resource)),
        }),
    };
    let clients = spec
        .clients
        .iter()
        .map(|c| {
            let mut rendered = client(c);
            if link
                .alexa_skill
                .as_ref()
                .is_some_and(|s| s.client_id == c.client_id)
            {
                add_alexa_redirect_urls(&mut rendered, &link.alexa_redirect_urls);
            }
            rendered
        })
        .collect::<Vec<_>>();
    let (partners, encryption_key_files) = match &link.partner {
        Some(p) => (
            vec![PartnerConfig {
                id: partners::DEFAULT_PARTNER_ID.to_owned(),
                linked_clients: p.linked_clients.clone(),
                client_id_file: file(&p.client_id),
                client_secret_file: file(&p.client_secret),
                region: match p.region {
                    LwaRegionSpec::NA => LwaRegion::Na,
                    LwaRegionSpec::EU => LwaRegion::Eu,
                    LwaRegionSpec::FE => LwaRegion::Fe,
                },
                token_url: p.token_url.clone(),
                scopes: p.scopes.clone(),
                refresh_margin_seconds: partners::DEFAULT_REFRESH_MARGIN_SECONDS,
                request_timeout_seconds: partners::DEFAULT_REQUEST_TIMEOUT_SECONDS,
                ca_file: p.ca_bundle.as_ref().map(file),
            }],
            p.encryption_keys.iter().map(file).collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let logging = LoggingConfig::default();
    Config {
        server: ServerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], PUBLIC_PORT as u16)),
            admin_listen: SocketAddr::from(([0, 0, 0, 0], ADMIN_PORT as u16)),
            public_url: link.public_url.clone(),
            allow_insecure_http: tls.is_none(),
            tls,
            session_key_file: file(&link.session_key),
            connections: Default::default(),
        },
        logging: LoggingConfig {
            // Pods log JSON for the cluster's log pipeline.
            format: LogFormat::Json,
            level: spec.log_level.clone().unwrap_or(logging.level),
        },
        branding: spec.branding.as_ref().map(branding),
        authorization: AuthorizationConfig::default(),
        login_protection: Default::default(),
        clients,
        identity,
        store,
        partners,
        encryption_key_files,
        access_token_signing_key_files: spec
            .access_token_signing_key_ref
            .iter()
            .map(file)
            .collect(),
        app_to_app: None,
    }
}

/// The owner the link's servers write on their DynamoDB items (the
/// server's `store.dynamodb.owner`): `<namespace>/<name>`, stable across a
/// re-creation of the link, unlike its uid.
pub fn link_owner(asl: &crate::crd::AlexaSkillLink) -> String {
    use kube::ResourceExt;
    format!("{}/{}", asl.namespace().unwrap_or_default(), asl.name_any())
}

/// Alexa's redirect URLs for the skill (read back through SMAPI) become
/// allowed redirect URIs of the client Alexa uses, unless already allowed
/// (listed, or derived from `alexaVendorId`).
fn add_alexa_redirect_urls(client: &mut ClientConfig, urls: &[String]) {
    let derived = client
        .alexa_vendor_id
        .as_deref()
        .map(client_defaults::alexa_redirect_uris)
        .unwrap_or_default();
    for url in urls {
        if !client.redirect_uris.contains(url) && !derived.contains(url) {
            client.redirect_uris.push(url.clone());
        }
    }
}

fn client(c: &ClientSpec) -> ClientConfig {
    let policy = RefreshTokenPolicy::default();
    let refresh_token = match &c.refresh_token {
        Some(r) => RefreshTokenPolicy {
            rotation: r.rotation.unwrap_or(policy.rotation),
            grace_period_seconds: r
                .grace_period_seconds
                .unwrap_or(policy.grace_period_seconds),
            idle_lifetime_seconds: r.idle_lifetime_seconds,
            absolute_lifetime_seconds: r.absolute_lifetime_seconds,
        },
        None => policy,
    };
    ClientConfig {
        client_id: c.client_id.clone(),
        client_secret_file: c.client_secret_ref.as_ref().map(file),
        public: c.public,
        display_name: c.display_name.clone(),
        redirect_uris: c.redirect_uris.clone(),
        alexa_vendor_id: c.alexa_vendor_id.clone(),
        scopes: c.scopes.clone(),
        grant_types: if c.grant_types.is_empty() {
            client_defaults::DEFAULT_GRANT_TYPES.to_vec()
        } else {
            c.grant_types
                .iter()
                .map(|g| match g {
                    GrantTypeSpec::AuthorizationCode => GrantType::AuthorizationCode,
                    GrantTypeSpec::RefreshToken => GrantType::RefreshToken,
                    GrantTypeSpec::ClientCredentials => GrantType::ClientCredentials,
                })
                .collect()
        },
        access_token_lifetime_seconds: c
            .access_token_lifetime_seconds
            .unwrap_or(client_defaults::DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS),
        refresh_token,
        pkce: match c.pkce {
            Some(PkceSpec::OptionalInsecure) => PkcePolicy::OptionalInsecure,
            Some(PkceSpec::Required) => PkcePolicy::Required,
            None => PkcePolicy::default(),
        },
        skip_consent: c.skip_consent,
        partner_token_access: c.partner_token_access,
        // An AlexaSkillLink has one partner: partnerTokenAccess names it.
        partner_token_partners: Vec::new(),
        access_token_format: match c.access_token_format {
            None | Some(AccessTokenFormatSpec::Opaque) => AccessTokenFormat::Opaque,
            Some(AccessTokenFormatSpec::Sealed) => AccessTokenFormat::Sealed,
            Some(AccessTokenFormatSpec::Jwt) => AccessTokenFormat::Jwt,
        },
        access_token_audience: c.access_token_audience.clone(),
        branding: c.branding.as_ref().map(branding),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clients_access_token_format_and_audience_reach_the_server_config() {
        let spec: ClientSpec = serde_yaml::from_str(
            "clientId: alexa\nclientSecretRef: {name: s, key: k}\nalexaVendorId: M1\naccessTokenFormat: jwt\naccessTokenAudience: https://skill.example.com\n",
        )
        .expect("spec");
        let rendered = client(&spec);
        assert_eq!(rendered.access_token_format, AccessTokenFormat::Jwt);
        assert_eq!(
            rendered.access_token_audience.as_deref(),
            Some("https://skill.example.com")
        );
        let plain: ClientSpec =
            serde_yaml::from_str("clientId: alexa\nclientSecretRef: {name: s, key: k}\n")
                .expect("spec");
        assert_eq!(
            client(&plain).access_token_format,
            AccessTokenFormat::Opaque
        );
        assert!(
            serde_yaml::from_str::<ClientSpec>("clientId: a\naccessTokenFormat: Jwt\n").is_err(),
            "the CRD's values are lower case, as in the server config"
        );
    }

    #[test]
    fn a_public_client_renders_as_a_public_server_client_without_a_secret_file() {
        let spec: ClientSpec = serde_yaml::from_str(
            "clientId: app\npublic: true\nredirectUris: [\"https://app.example.com/oauth\"]\n",
        )
        .expect("spec");
        let rendered = client(&spec);
        assert_eq!(rendered.kind(), Some(alexa_link_config::ClientKind::Public));
        let yaml = serde_yaml::to_string(&rendered).expect("yaml");
        assert!(yaml.contains("public: true"), "{yaml}");
        assert!(!yaml.contains("clientSecretFile"), "{yaml}");
    }

    #[test]
    fn alexas_redirect_urls_are_added_once() {
        let spec: ClientSpec = serde_yaml::from_str(
            "{clientId: alexa-skill, clientSecretRef: {name: c, key: s}, alexaVendorId: M2OLD}",
        )
        .expect("spec");
        let mut rendered = client(&spec);
        let mut urls = client_defaults::alexa_redirect_uris("M2NEW").to_vec();
        urls.push(client_defaults::alexa_redirect_uris("M2OLD")[0].clone());
        add_alexa_redirect_urls(&mut rendered, &urls);
        add_alexa_redirect_urls(&mut rendered, &urls);
        assert_eq!(
            rendered.redirect_uris,
            client_defaults::alexa_redirect_uris("M2NEW"),
            "the new vendor's three, once; the derived ones not repeated"
        );
    }

    /// The constants the operator imports are the ones the server applies
    /// when a field is absent: parse sections with only required fields.
    #[test]
    fn imported_defaults_are_what_the_server_applies() {
        let l: LdapIdentityConfig =
            serde_yaml::from_str("{url: 'ldap://x', bindDn: x, bindPasswordFile: /x, baseDn: x}")
                .expect("ldap");
        assert_eq!(l.user_filter, ldap::DEFAULT_USER_FILTER);
        assert_eq!(l.id_attribute, ldap::DEFAULT_ID_ATTRIBUTE);
        assert_eq!(
            l.display_name_attribute,
            ldap::DEFAULT_DISPLAY_NAME_ATTRIBUTE
        );
        assert_eq!(
            (l.pool_size, l.timeout_seconds),
            (ldap::DEFAULT_POOL_SIZE, ldap::DEFAULT_TIMEOUT_SECONDS)
        );
        let o: OidcIdentityConfig =
            serde_yaml::from_str("{issuerUrl: 'https://x', clientId: x, clientSecretFile: /x}")
                .expect("oidc");
        assert_eq!(o.scopes, oidc::DEFAULT_SCOPES);
        assert_eq!(o.user_id_claim, oidc::DEFAULT_USER_ID_CLAIM);
        assert_eq!(o.display_name_claim, oidc::DEFAULT_DISPLAY_NAME_CLAIM);
        assert_eq!(
            o.request_timeout_seconds,
            oidc::DEFAULT_REQUEST_TIMEOUT_SECONDS
        );
    }
}

//! Renders the server's own config type from the spec. Using
//! `alexa_link_config::Config` (not a copy of its format) means the
//! operator cannot write a document the server would not parse.

use std::net::SocketAddr;

use alexa_link_config::{
    AuthorizationConfig, AwsCredentialFiles, ClientConfig, Config, DynamoDbStoreConfig,
    EmbeddedStoreConfig, GrantType, IdentityConfig, LogFormat, LoggingConfig, LwaRegion,
    PartnerConfig, PkcePolicy, RefreshTokenPolicy, ServerConfig, StaticIdentityConfig, StoreConfig,
    TlsConfig,
};
use url::Url;

use super::mounts::{DATA_DIR, Mounts};
use super::{ADMIN_PORT, PUBLIC_PORT};
use crate::conditions::reasons;
use crate::crd::{AlexaSkillLinkSpec, ClientSpec, GrantTypeSpec, LwaRegionSpec, PkceSpec};
use crate::labels::Names;
use crate::validate::{AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, Invalid};

/// Key of the generated session key in the `<name>-keys` Secret.
pub const SESSION_KEY: &str = "session-key";
/// Key of the generated encryption key in the `<name>-keys` Secret.
pub const ENCRYPTION_KEY: &str = "encryption-key";
/// The embedded store's file.
pub const STORE_FILE: &str = "store.redb";

/// The server config for `spec`, checked by the server's own validation.
pub fn render(
    spec: &AlexaSkillLinkSpec,
    _mounts: &Mounts,
    names: &Names,
) -> Result<Config, Invalid> {
    let public_url = Url::parse(&format!("https://{}", spec.host))
        .map_err(|e| Invalid::spec("host", format!("is not a valid DNS name: {e}")))?;
    let tls = if let Some(secret) = &spec.tls.secret_name {
        Some(tls_files(secret))
    } else if spec.tls.cert_manager.is_some() {
        Some(tls_files(&names.tls))
    } else {
        None
    };
    let session_key_file = match &spec.session_key_ref {
        Some(r) => Mounts::file(&r.name, &r.key),
        None => Mounts::file(&names.keys, SESSION_KEY),
    };
    let identity = match &spec.identity.static_ {
        Some(s) => IdentityConfig::Static(StaticIdentityConfig {
            users_file: Some(Mounts::file(
                &s.users_secret_ref.name,
                &s.users_secret_ref.key,
            )),
            users: Vec::new(),
        }),
        // validate() turned ldap and oidc away before build runs.
        None => {
            return Err(Invalid::new(
                reasons::IDENTITY_BACKEND_UNSUPPORTED,
                "identity: this server version supports only the static backend.",
            ));
        }
    };
    let store = match (&spec.storage.embedded, &spec.storage.dynamodb) {
        (Some(_), _) => StoreConfig::Embedded(EmbeddedStoreConfig {
            path: format!("{DATA_DIR}/{STORE_FILE}").into(),
        }),
        (None, Some(d)) => StoreConfig::Dynamodb(DynamoDbStoreConfig {
            table_name: d.table_name.clone(),
            region: d.region.clone(),
            endpoint: match &d.endpoint {
                Some(e) => Some(Url::parse(e).map_err(|err| {
                    Invalid::spec(
                        "storage.dynamodb.endpoint",
                        format!("is not an absolute URL: {err}"),
                    )
                })?),
                None => None,
            },
            create_table: d.create_table,
            // Absent: the default AWS chain, i.e. the pod's service account
            // (IRSA annotations in spec.serviceAccount).
            credentials: d
                .credentials_secret_name
                .as_ref()
                .map(|name| AwsCredentialFiles {
                    access_key_id_file: Mounts::file(name, AWS_ACCESS_KEY_ID),
                    secret_access_key_file: Mounts::file(name, AWS_SECRET_ACCESS_KEY),
                }),
            max_attempts: 3,
            attempt_timeout_millis: 1000,
        }),
        // validate() requires exactly one backend before build runs.
        (None, None) => return Err(Invalid::spec("storage", "must set embedded or dynamodb")),
    };
    let clients = spec.clients.iter().map(client).collect::<Vec<_>>();
    let mut partners = Vec::new();
    let mut encryption_key_files = Vec::new();
    if let Some(p) = &spec.partner {
        let token_url = match &p.token_url {
            Some(u) => Some(Url::parse(u).map_err(|e| {
                Invalid::spec("partner.tokenUrl", format!("is not an absolute URL: {e}"))
            })?),
            None => None,
        };
        let linked_clients = if p.linked_clients.is_empty() {
            clients
                .iter()
                .filter(|c| c.grant_types.contains(&GrantType::AuthorizationCode))
                .map(|c| c.client_id.clone())
                .collect()
        } else {
            p.linked_clients.clone()
        };
        partners.push(PartnerConfig {
            id: "amazon".to_owned(),
            linked_clients,
            client_id_file: Mounts::file(&p.client_id_ref.name, &p.client_id_ref.key),
            client_secret_file: Mounts::file(&p.client_secret_ref.name, &p.client_secret_ref.key),
            region: match p.region {
                LwaRegionSpec::NA => LwaRegion::Na,
                LwaRegionSpec::EU => LwaRegion::Eu,
                LwaRegionSpec::FE => LwaRegion::Fe,
            },
            token_url,
            scopes: p.scopes.clone(),
            refresh_margin_seconds: 300,
            request_timeout_seconds: 5,
        });
        encryption_key_files = match &spec.encryption_key_ref {
            Some(r) => r.keys.iter().map(|k| Mounts::file(&r.name, k)).collect(),
            None => vec![Mounts::file(&names.keys, ENCRYPTION_KEY)],
        };
    }
    let config = Config {
        server: ServerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], PUBLIC_PORT as u16)),
            admin_listen: SocketAddr::from(([0, 0, 0, 0], ADMIN_PORT as u16)),
            public_url,
            allow_insecure_http: tls.is_none(),
            tls,
            session_key_file,
        },
        logging: LoggingConfig {
            format: LogFormat::Json,
            level: spec.log_level.clone().unwrap_or_else(|| "info".to_owned()),
        },
        authorization: AuthorizationConfig::default(),
        login_protection: Default::default(),
        clients,
        identity,
        store,
        partners,
        encryption_key_files,
    };
    config.validate().map_err(|errors| {
        let list = errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        Invalid::new(
            reasons::INVALID_CONFIG,
            format!("The server rejects the rendered config: {list}."),
        )
    })?;
    Ok(config)
}

fn tls_files(secret: &str) -> TlsConfig {
    TlsConfig {
        cert_file: Mounts::file(secret, "tls.crt"),
        key_file: Mounts::file(secret, "tls.key"),
    }
}

fn client(c: &ClientSpec) -> ClientConfig {
    let defaults = RefreshTokenPolicy::default();
    let refresh_token = match &c.refresh_token {
        Some(r) => RefreshTokenPolicy {
            rotation: r.rotation.unwrap_or(defaults.rotation),
            grace_period_seconds: r
                .grace_period_seconds
                .unwrap_or(defaults.grace_period_seconds),
            idle_lifetime_seconds: r.idle_lifetime_seconds,
            absolute_lifetime_seconds: r.absolute_lifetime_seconds,
        },
        None => defaults,
    };
    ClientConfig {
        client_id: c.client_id.clone(),
        client_secret_file: Mounts::file(&c.client_secret_ref.name, &c.client_secret_ref.key),
        display_name: c.display_name.clone(),
        redirect_uris: c.redirect_uris.clone(),
        alexa_vendor_id: c.alexa_vendor_id.clone(),
        scopes: c.scopes.clone(),
        grant_types: if c.grant_types.is_empty() {
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
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
        access_token_lifetime_seconds: c.access_token_lifetime_seconds.unwrap_or(3600),
        refresh_token,
        pkce: match c.pkce {
            Some(PkceSpec::OptionalInsecure) => PkcePolicy::OptionalInsecure,
            Some(PkceSpec::Required) | None => PkcePolicy::Required,
        },
        skip_consent: c.skip_consent,
        partner_token_access: c.partner_token_access,
    }
}

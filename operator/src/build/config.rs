//! Renders the server's own config type from a [`ValidatedLink`]. Using
//! `alexa_link_server::config::Config` (not a copy of its format) means the
//! operator cannot write a document the server would not parse; every
//! default the spec leaves open is the server's own (see [`ServerDefaults`]),
//! never a number re-typed here.

use std::net::SocketAddr;
use std::sync::LazyLock;

use alexa_link_server::config::{
    AuthorizationConfig, AwsCredentialFiles, ClientConfig, Config, DynamoDbStoreConfig,
    EmbeddedStoreConfig, GrantType, IdentityConfig, LdapIdentityConfig, LogFormat, LoggingConfig,
    LwaRegion, OidcIdentityConfig, PartnerConfig, PkcePolicy, RefreshTokenPolicy, ServerConfig,
    StaticIdentityConfig, StoreConfig, TlsConfig,
};
use serde_json::json;

use super::mounts::{DATA_DIR, Mounts};
use super::{ADMIN_PORT, PUBLIC_PORT};
use crate::crd::{ClientSpec, GrantTypeSpec, LwaRegionSpec, PkceSpec, SecretKeyRef};
use crate::secret_refs::{AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY};
pub use crate::secret_refs::{ENCRYPTION_KEY, SESSION_KEY};
use crate::validate::{Identity, LdapTransport, Storage, ValidatedLink};

/// The embedded store's file.
pub const STORE_FILE: &str = "store.redb";

/// The server's defaults for every section the operator renders, obtained
/// the way the server gets them: by deserializing a section that sets only
/// its required fields. A new or changed default in the server is picked
/// up without touching the operator.
pub struct ServerDefaults {
    /// Defaults of a client.
    pub client: ClientConfig,
    /// Defaults of a partner (id, refresh margin, LWA timeout).
    pub partner: PartnerConfig,
    /// Defaults of the DynamoDB store (attempts, attempt timeout).
    pub dynamodb: DynamoDbStoreConfig,
    /// Defaults of the LDAP backend (filter, attributes, pool, timeout).
    pub ldap: LdapIdentityConfig,
    /// Defaults of the OIDC backend (scopes, claims, timeout).
    pub oidc: OidcIdentityConfig,
}

/// Read once; the unit test `server_defaults_are_the_servers` proves the
/// sections deserialize, so this cannot fail in a build that passed tests.
pub static SERVER_DEFAULTS: LazyLock<ServerDefaults> = LazyLock::new(|| {
    fn section<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        #[allow(clippy::expect_used)]
        serde_json::from_value(v).expect("a section with its required fields deserializes")
    }
    ServerDefaults {
        client: section(json!({"clientId": "x", "clientSecretFile": "/x"})),
        partner: section(json!({
            "linkedClients": [], "clientIdFile": "/x", "clientSecretFile": "/x"
        })),
        dynamodb: section(json!({"tableName": "x", "region": "x"})),
        ldap: section(json!({
            "url": "ldap://x", "bindDn": "x", "bindPasswordFile": "/x", "baseDn": "x"
        })),
        oidc: section(json!({
            "issuerUrl": "https://x", "clientId": "x", "clientSecretFile": "/x"
        })),
    }
});

fn file(r: &SecretKeyRef) -> std::path::PathBuf {
    Mounts::file(&r.name, &r.key)
}

/// The server config for `link`. Infallible: [`crate::validate::validate`]
/// already rendered it and ran the server's validation on the result.
pub fn render(link: &ValidatedLink) -> Config {
    let spec = &link.resource.spec;
    let defaults = &*SERVER_DEFAULTS;
    let tls = link.tls.server_secret(&link.names).map(|s| TlsConfig {
        cert_file: Mounts::file(&s, "tls.crt"),
        key_file: Mounts::file(&s, "tls.key"),
    });
    let identity = match &link.identity {
        Identity::Static { users } => IdentityConfig::Static(StaticIdentityConfig {
            users_file: Some(file(users)),
            users: Vec::new(),
        }),
        Identity::Ldap(l) => {
            let d = &defaults.ldap;
            IdentityConfig::Ldap(LdapIdentityConfig {
                url: l.url.clone(),
                start_tls: l.transport == LdapTransport::StartTls,
                ca_file: l.ca_bundle.as_ref().map(file),
                bind_dn: l.bind_dn.clone(),
                bind_password_file: file(&l.bind_password),
                base_dn: l.base_dn.clone(),
                user_filter: l
                    .user_filter
                    .clone()
                    .unwrap_or_else(|| d.user_filter.clone()),
                id_attribute: l
                    .id_attribute
                    .clone()
                    .unwrap_or_else(|| d.id_attribute.clone()),
                display_name_attribute: l
                    .display_name_attribute
                    .clone()
                    .unwrap_or_else(|| d.display_name_attribute.clone()),
                pool_size: l.pool_size.map_or(d.pool_size, |p| p as usize),
                timeout_seconds: l.timeout_seconds.unwrap_or(d.timeout_seconds),
            })
        }
        Identity::Oidc(o) => {
            let d = &defaults.oidc;
            IdentityConfig::Oidc(OidcIdentityConfig {
                issuer_url: o.issuer_url.clone(),
                client_id: o.client_id.clone(),
                client_secret_file: file(&o.client_secret),
                scopes: if o.scopes.is_empty() {
                    d.scopes.clone()
                } else {
                    o.scopes.clone()
                },
                user_id_claim: o
                    .user_id_claim
                    .clone()
                    .unwrap_or_else(|| d.user_id_claim.clone()),
                display_name_claim: o
                    .display_name_claim
                    .clone()
                    .unwrap_or_else(|| d.display_name_claim.clone()),
                issuer_id: o.issuer_id.clone(),
                request_timeout_seconds: o
                    .request_timeout_seconds
                    .unwrap_or(d.request_timeout_seconds),
            })
        }
    };
    let store = match &link.storage {
        Storage::Embedded(_) => StoreConfig::Embedded(EmbeddedStoreConfig {
            path: format!("{DATA_DIR}/{STORE_FILE}").into(),
        }),
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
            max_attempts: defaults.dynamodb.max_attempts,
            attempt_timeout_millis: defaults.dynamodb.attempt_timeout_millis,
        }),
    };
    let clients = spec.clients.iter().map(client).collect::<Vec<_>>();
    let (partners, encryption_key_files) = match &link.partner {
        Some(p) => (
            vec![PartnerConfig {
                id: defaults.partner.id.clone(),
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
                refresh_margin_seconds: defaults.partner.refresh_margin_seconds,
                request_timeout_seconds: defaults.partner.request_timeout_seconds,
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
        },
        logging: LoggingConfig {
            // Pods log JSON for the cluster's log pipeline.
            format: LogFormat::Json,
            level: spec.log_level.clone().unwrap_or(logging.level),
        },
        authorization: AuthorizationConfig::default(),
        login_protection: Default::default(),
        clients,
        identity,
        store,
        partners,
        encryption_key_files,
    }
}

fn client(c: &ClientSpec) -> ClientConfig {
    let defaults = &SERVER_DEFAULTS.client;
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
        client_secret_file: file(&c.client_secret_ref),
        display_name: c.display_name.clone(),
        redirect_uris: c.redirect_uris.clone(),
        alexa_vendor_id: c.alexa_vendor_id.clone(),
        scopes: c.scopes.clone(),
        grant_types: if c.grant_types.is_empty() {
            defaults.grant_types.clone()
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
            .unwrap_or(defaults.access_token_lifetime_seconds),
        refresh_token,
        pkce: match c.pkce {
            Some(PkceSpec::OptionalInsecure) => PkcePolicy::OptionalInsecure,
            Some(PkceSpec::Required) => PkcePolicy::Required,
            None => defaults.pkce,
        },
        skip_consent: c.skip_consent,
        partner_token_access: c.partner_token_access,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_defaults_are_the_servers() {
        let d = &*SERVER_DEFAULTS;
        // Spot checks that the values are the server's documented defaults
        // (README), read through its own serde defaults.
        assert_eq!(d.dynamodb.max_attempts, 3);
        assert_eq!(d.dynamodb.attempt_timeout_millis, 1000);
        assert_eq!(d.partner.id, "amazon");
        assert_eq!(d.partner.refresh_margin_seconds, 300);
        assert_eq!(d.partner.request_timeout_seconds, 5);
        assert_eq!(d.client.access_token_lifetime_seconds, 3600);
        assert_eq!(
            d.client.grant_types,
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(d.ldap.user_filter, "(uid={username})");
        assert_eq!(d.ldap.id_attribute, "entryUUID");
        assert_eq!(d.oidc.user_id_claim, "sub");
    }
}

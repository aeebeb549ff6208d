//! The Secret and ConfigMap references of a spec: every key of a
//! user-provided Secret or ConfigMap the server reads, with the field that
//! names it.
//!
//! Its own module because three steps need the same list: resolve reads
//! these Secrets and ConfigMaps, validate checks they hold the keys, and
//! build mounts them and hashes their values into the pod template. None
//! of them owns it.

use std::collections::{BTreeMap, BTreeSet};

use crate::crd::{AlexaSkillLinkSpec, BrandingSpec};

/// One reference to a key of a user-provided Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// The referencing field, e.g. `clients[0].clientSecretRef`.
    pub field: String,
    /// Secret name.
    pub name: String,
    /// Key in the Secret.
    pub key: String,
}

/// Key of the access key id in `storage.dynamodb.credentialsSecretName`.
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// Key of the secret access key in `storage.dynamodb.credentialsSecretName`.
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";

/// Every user-provided Secret key the server reads, with the field naming it.
pub fn secret_refs(spec: &AlexaSkillLinkSpec) -> Vec<SecretRef> {
    let mut refs = Vec::new();
    let mut push = |field: String, name: &str, key: &str| {
        refs.push(SecretRef {
            field,
            name: name.to_owned(),
            key: key.to_owned(),
        })
    };
    for (i, c) in spec.clients.iter().enumerate() {
        // A public client has no secret to read.
        if let Some(r) = &c.client_secret_ref {
            push(format!("clients[{i}].clientSecretRef"), &r.name, &r.key);
        }
        if let Some(logo) = c.branding.as_ref().and_then(|b| b.logo_secret_ref.as_ref()) {
            push(
                format!("clients[{i}].branding.logoSecretRef"),
                &logo.name,
                &logo.key,
            );
        }
    }
    if let Some(s) = &spec.identity.static_ {
        push(
            "identity.static.usersSecretRef".into(),
            &s.users_secret_ref.name,
            &s.users_secret_ref.key,
        );
    }
    if let Some(l) = &spec.identity.ldap {
        push(
            "identity.ldap.bindPasswordRef".into(),
            &l.bind_password_ref.name,
            &l.bind_password_ref.key,
        );
        if let Some(ca) = &l.ca_bundle_ref {
            push("identity.ldap.caBundleRef".into(), &ca.name, &ca.key);
        }
    }
    if let Some(o) = &spec.identity.oidc {
        push(
            "identity.oidc.clientIdRef".into(),
            &o.client_id_ref.name,
            &o.client_id_ref.key,
        );
        push(
            "identity.oidc.clientSecretRef".into(),
            &o.client_secret_ref.name,
            &o.client_secret_ref.key,
        );
        if let Some(ca) = &o.ca_bundle_ref {
            push("identity.oidc.caBundleRef".into(), &ca.name, &ca.key);
        }
    }
    if let Some(p) = &spec.partner {
        push(
            "partner.clientIdRef".into(),
            &p.client_id_ref.name,
            &p.client_id_ref.key,
        );
        push(
            "partner.clientSecretRef".into(),
            &p.client_secret_ref.name,
            &p.client_secret_ref.key,
        );
        if let Some(ca) = &p.ca_bundle_ref {
            push("partner.caBundleRef".into(), &ca.name, &ca.key);
        }
        // Without partners the server does not read encryption keys.
        if let Some(e) = &spec.encryption_key_ref {
            for (i, key) in e.keys.iter().enumerate() {
                push(format!("encryptionKeyRef.keys[{i}]"), &e.name, key);
            }
        }
    }
    if let Some(s) = &spec.session_key_ref {
        push("sessionKeyRef".into(), &s.name, &s.key);
    }
    if let Some(s) = &spec.access_token_signing_key_ref {
        push("accessTokenSigningKeyRef".into(), &s.name, &s.key);
    }
    if let Some(logo) = spec
        .branding
        .as_ref()
        .and_then(|b| b.logo_secret_ref.as_ref())
    {
        push("branding.logoSecretRef".into(), &logo.name, &logo.key);
    }
    if let Some(name) = spec
        .storage
        .dynamodb
        .as_ref()
        .and_then(|d| d.credentials_secret_name.as_ref())
    {
        push(
            "storage.dynamodb.credentialsSecretName".into(),
            name,
            AWS_ACCESS_KEY_ID,
        );
        push(
            "storage.dynamodb.credentialsSecretName".into(),
            name,
            AWS_SECRET_ACCESS_KEY,
        );
    }
    if let Some(name) = &spec.tls.secret_name {
        push("tls.secretName".into(), name, "tls.crt");
        push("tls.secretName".into(), name, "tls.key");
    }
    refs
}

/// One reference to a user-provided ConfigMap (the pages' branding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigMapRef {
    /// The referencing field, e.g. `branding.logoConfigMapRef`.
    pub field: String,
    /// ConfigMap name.
    pub name: String,
    /// The key read; `None` when every key is (a templates directory).
    pub key: Option<String>,
}

/// The brandings of a spec with their fields: `branding` (server-wide)
/// then each `clients[i].branding`.
pub fn brandings(spec: &AlexaSkillLinkSpec) -> impl Iterator<Item = (String, &BrandingSpec)> {
    spec.branding
        .iter()
        .map(|b| ("branding".to_owned(), b))
        .chain(
            spec.clients.iter().enumerate().filter_map(|(i, c)| {
                Some((format!("clients[{i}].branding"), c.branding.as_ref()?))
            }),
        )
}

/// Every user-provided ConfigMap the server reads, with the field naming it.
pub fn config_map_refs(spec: &AlexaSkillLinkSpec) -> Vec<ConfigMapRef> {
    let mut refs = Vec::new();
    for (at, b) in brandings(spec) {
        for (field, r) in [
            ("logoConfigMapRef", &b.logo_config_map_ref),
            ("extraCssConfigMapRef", &b.extra_css_config_map_ref),
        ] {
            if let Some(r) = r {
                refs.push(ConfigMapRef {
                    field: format!("{at}.{field}"),
                    name: r.name.clone(),
                    key: Some(r.key.clone()),
                });
            }
        }
        if let Some(name) = &b.templates_config_map_name {
            refs.push(ConfigMapRef {
                field: format!("{at}.templatesConfigMapName"),
                name: name.clone(),
                key: None,
            });
        }
    }
    refs
}

/// The names of the user-provided ConfigMaps the server reads.
pub fn referenced_config_maps(spec: &AlexaSkillLinkSpec) -> BTreeSet<String> {
    config_map_refs(spec).into_iter().map(|r| r.name).collect()
}

/// The references that hold PEM CA bundles (a subset of [`secret_refs`]).
pub fn ca_bundle_refs(spec: &AlexaSkillLinkSpec) -> Vec<SecretRef> {
    secret_refs(spec)
        .into_iter()
        .filter(|r| r.field.ends_with(".caBundleRef"))
        .collect()
}

/// The user-provided Secrets the server reads: name -> keys.
pub fn referenced_secrets(spec: &AlexaSkillLinkSpec) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in secret_refs(spec) {
        out.entry(r.name).or_default().insert(r.key);
    }
    out
}

/// Whether the operator generates the `<name>-keys` Secret.
pub fn needs_generated_keys(spec: &AlexaSkillLinkSpec) -> bool {
    spec.session_key_ref.is_none() || (spec.partner.is_some() && spec.encryption_key_ref.is_none())
}

/// Key of the generated session key in the `<name>-keys` Secret.
pub const SESSION_KEY: &str = "session-key";
/// Key of the generated encryption key in the `<name>-keys` Secret.
pub const ENCRYPTION_KEY: &str = "encryption-key";

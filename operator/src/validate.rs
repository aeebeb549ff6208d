//! Validate: pure checks of a spec and of what resolve read, as a chain in
//! which the first failing check names the reason (cert-manager's Ready
//! chain). The spec checks repeat the CRD's CEL rules, because API servers
//! older than 1.25 store resources without running them.

use std::collections::{BTreeMap, BTreeSet};

use crate::conditions::reasons;
use crate::crd::{AlexaSkillLinkSpec, GrantTypeSpec};
use crate::resolve::Resolved;

/// Why a resource cannot be realised: a condition reason and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// One CamelCase word from [`crate::conditions::reasons`].
    pub reason: &'static str,
    /// A sentence naming the field or the Secret.
    pub message: String,
}

impl Invalid {
    /// An invalid resource with `reason`.
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }

    /// A bad spec field: "spec.<field> <problem>."
    pub fn spec(field: &str, problem: impl Into<String>) -> Self {
        let problem = problem.into();
        Self::new(
            reasons::INVALID_SPEC,
            format!("spec.{field} {}.", problem.trim_end_matches('.')),
        )
    }
}

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
        push(
            format!("clients[{i}].clientSecretRef"),
            &c.client_secret_ref.name,
            &c.client_secret_ref.key,
        );
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

/// The whole chain: spec rules, supported backends, referenced Secrets,
/// cert-manager.
pub fn validate(spec: &AlexaSkillLinkSpec, resolved: &Resolved) -> Result<(), Invalid> {
    validate_spec(spec)?;
    supported(spec)?;
    secrets_present(spec, resolved)?;
    if spec.tls.cert_manager.is_some() && !resolved.cert_manager_installed {
        return Err(Invalid::new(
            reasons::CERT_MANAGER_MISSING,
            "spec.tls.certManager is set but cert-manager's Certificate CRD (certificates.cert-manager.io) is not installed.",
        ));
    }
    Ok(())
}

/// The resource's name becomes a Service name and a label value: a
/// DNS-1035 label of at most 63 characters.
pub fn validate_name(name: &str) -> Result<(), Invalid> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            reasons::INVALID_SPEC,
            format!(
                "metadata.name {name:?} must be a DNS-1035 label (lower-case letters, digits and '-', starting with a letter, at most 63 characters): it names the Service."
            ),
        ))
    }
}

/// The rules the CRD states in CEL, plus the schema's bounds.
pub fn validate_spec(spec: &AlexaSkillLinkSpec) -> Result<(), Invalid> {
    if spec.host.is_empty() {
        return Err(Invalid::spec("host", "must not be empty"));
    }
    let identities = [
        spec.identity.static_.is_some(),
        spec.identity.ldap.is_some(),
        spec.identity.oidc.is_some(),
    ];
    if identities.iter().filter(|b| **b).count() != 1 {
        return Err(Invalid::spec(
            "identity",
            "must set exactly one identity backend: static, ldap or oidc",
        ));
    }
    let tls_modes = [
        spec.tls.secret_name.is_some(),
        spec.tls.cert_manager.is_some(),
        spec.tls.ingress.is_some(),
    ];
    if tls_modes.iter().filter(|b| **b).count() != 1 {
        return Err(Invalid::spec(
            "tls",
            "must set exactly one TLS mode: secretName, certManager or ingress",
        ));
    }
    if spec.storage.embedded.is_some() == spec.storage.dynamodb.is_some() {
        return Err(Invalid::spec(
            "storage",
            "must set exactly one storage backend: embedded or dynamodb",
        ));
    }
    if spec.storage.embedded.is_some() && spec.replicas.is_some_and(|r| r != 1) {
        return Err(Invalid::spec(
            "replicas",
            "must be 1 with storage.embedded (the embedded store supports one replica)",
        ));
    }
    if let Some(r) = spec.replicas
        && !(0..=100).contains(&r)
    {
        return Err(Invalid::spec("replicas", "must be between 0 and 100"));
    }
    if spec.clients.is_empty() {
        return Err(Invalid::spec("clients", "must list at least one client"));
    }
    let mut ids = BTreeSet::new();
    for (i, c) in spec.clients.iter().enumerate() {
        if !ids.insert(c.client_id.as_str()) {
            return Err(Invalid::spec(
                &format!("clients[{i}].clientId"),
                format!("duplicates client id {:?}", c.client_id),
            ));
        }
        if let Some(t) = c.access_token_lifetime_seconds
            && !(360..=86_400).contains(&t)
        {
            return Err(Invalid::spec(
                &format!("clients[{i}].accessTokenLifetimeSeconds"),
                format!("must be between 360 (Alexa's minimum) and 86400, got {t}"),
            ));
        }
        let uses_code =
            c.grant_types.is_empty() || c.grant_types.contains(&GrantTypeSpec::AuthorizationCode);
        if uses_code && c.alexa_vendor_id.is_none() && c.redirect_uris.is_empty() {
            return Err(Invalid::spec(
                &format!("clients[{i}]"),
                "uses authorization_code and needs redirectUris or alexaVendorId",
            ));
        }
        if let Some(r) = &c.refresh_token
            && r.idle_lifetime_seconds.is_some()
            && r.rotation == Some(false)
        {
            return Err(Invalid::spec(
                &format!("clients[{i}].refreshToken.idleLifetimeSeconds"),
                "needs rotation",
            ));
        }
    }
    if let Some(p) = &spec.partner {
        for (j, linked) in p.linked_clients.iter().enumerate() {
            if !ids.contains(linked.as_str()) {
                return Err(Invalid::spec(
                    &format!("partner.linkedClients[{j}]"),
                    format!("names {linked:?}, which is not a client of this resource"),
                ));
            }
        }
    }
    if let Some(e) = &spec.encryption_key_ref
        && e.keys.is_empty()
    {
        return Err(Invalid::spec(
            "encryptionKeyRef.keys",
            "must name at least one key",
        ));
    }
    Ok(())
}

/// Backends the server of this release cannot run yet.
fn supported(spec: &AlexaSkillLinkSpec) -> Result<(), Invalid> {
    if spec.identity.ldap.is_some() || spec.identity.oidc.is_some() {
        let which = if spec.identity.ldap.is_some() {
            "ldap"
        } else {
            "oidc"
        };
        return Err(Invalid::new(
            reasons::IDENTITY_BACKEND_UNSUPPORTED,
            format!(
                "spec.identity.{which} is not supported by this server version; use identity.static."
            ),
        ));
    }
    Ok(())
}

fn secrets_present(spec: &AlexaSkillLinkSpec, resolved: &Resolved) -> Result<(), Invalid> {
    for r in secret_refs(spec) {
        match resolved.secrets.get(&r.name) {
            Some(Some(data)) => {
                if !data.contains_key(&r.key) {
                    return Err(Invalid::new(
                        reasons::SECRET_KEY_MISSING,
                        format!(
                            "Secret {:?} has no key {:?} (referenced by spec.{}).",
                            r.name, r.key, r.field
                        ),
                    ));
                }
            }
            _ => {
                return Err(Invalid::new(
                    reasons::SECRET_MISSING,
                    format!(
                        "Secret {:?} does not exist (referenced by spec.{}).",
                        r.name, r.field
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::{fixture, resolved_for};
    use crate::crd::{DynamoDbStorageSpec, LdapIdentitySpec, RefreshTokenSpec, SecretKeyRef};

    fn minimal() -> AlexaSkillLinkSpec {
        fixture("minimal.yaml").spec
    }

    fn spec_error(spec: &AlexaSkillLinkSpec) -> Invalid {
        validate_spec(spec).expect_err("invalid")
    }

    #[test]
    fn fixtures_are_valid() {
        for name in ["minimal.yaml", "full.yaml"] {
            let asl = fixture(name);
            let mut resolved = resolved_for(&asl);
            resolved.cert_manager_installed = true;
            assert_eq!(validate(&asl.spec, &resolved), Ok(()), "{name}");
        }
    }

    #[test]
    fn exactly_one_identity_backend() {
        let mut s = minimal();
        s.identity.ldap = Some(LdapIdentitySpec {
            url: "ldaps://ldap:636".into(),
            bind_dn: "cn=svc".into(),
            bind_password_ref: SecretKeyRef {
                name: "l".into(),
                key: "p".into(),
            },
            user_base_dn: "ou=people".into(),
            user_filter: None,
        });
        let e = spec_error(&s);
        assert_eq!(e.reason, reasons::INVALID_SPEC);
        assert!(e.message.starts_with("spec.identity "), "{}", e.message);
        s.identity.static_ = None;
        assert_eq!(validate_spec(&s), Ok(()));
        s.identity.ldap = None;
        assert!(
            spec_error(&s)
                .message
                .contains("exactly one identity backend")
        );
    }

    #[test]
    fn names_must_fit_a_service_name() {
        assert_eq!(validate_name("minimal"), Ok(()));
        assert_eq!(validate_name(&"a".repeat(63)), Ok(()));
        for bad in [
            "",
            "9lives",
            "Upper",
            "trailing-",
            "dot.ted",
            &"a".repeat(64),
        ] {
            let e = validate_name(bad).expect_err(bad);
            assert_eq!(e.reason, reasons::INVALID_SPEC);
            assert!(e.message.starts_with("metadata.name"), "{}", e.message);
        }
    }

    #[test]
    fn exactly_one_tls_mode() {
        let mut s = minimal();
        s.tls.secret_name = Some("tls".into());
        assert!(spec_error(&s).message.starts_with("spec.tls "));
        s.tls.secret_name = None;
        s.tls.ingress = None;
        assert!(spec_error(&s).message.starts_with("spec.tls "));
    }

    #[test]
    fn access_token_lifetime_has_alexas_minimum() {
        let mut s = minimal();
        s.clients[0].access_token_lifetime_seconds = Some(300);
        let e = spec_error(&s);
        assert_eq!(
            e.message,
            "spec.clients[0].accessTokenLifetimeSeconds must be between 360 (Alexa's minimum) and 86400, got 300."
        );
        s.clients[0].access_token_lifetime_seconds = Some(360);
        assert_eq!(validate_spec(&s), Ok(()));
    }

    #[test]
    fn embedded_store_means_one_replica() {
        let mut s = minimal();
        s.replicas = Some(2);
        assert!(spec_error(&s).message.starts_with("spec.replicas "));
        s.replicas = Some(1);
        assert_eq!(validate_spec(&s), Ok(()));
    }

    #[test]
    fn client_rules() {
        let mut s = minimal();
        s.clients.push(s.clients[0].clone());
        assert!(
            spec_error(&s)
                .message
                .starts_with("spec.clients[1].clientId duplicates")
        );
        let mut s = minimal();
        s.clients[0].alexa_vendor_id = None;
        assert!(
            spec_error(&s)
                .message
                .contains("needs redirectUris or alexaVendorId")
        );
        let mut s = minimal();
        s.clients[0].refresh_token = Some(RefreshTokenSpec {
            rotation: Some(false),
            grace_period_seconds: None,
            idle_lifetime_seconds: Some(3600),
            absolute_lifetime_seconds: None,
        });
        assert!(
            spec_error(&s)
                .message
                .contains("idleLifetimeSeconds needs rotation")
        );
    }

    #[test]
    fn linked_clients_must_exist() {
        let mut s = fixture("full.yaml").spec;
        s.partner.as_mut().expect("partner").linked_clients = vec!["nobody".into()];
        assert!(
            spec_error(&s)
                .message
                .starts_with("spec.partner.linkedClients[0] names \"nobody\"")
        );
    }

    #[test]
    fn dynamodb_with_several_replicas_is_valid_and_its_credentials_are_required() {
        let asl = fixture("minimal.yaml");
        let mut s = asl.spec.clone();
        s.storage.embedded = None;
        s.replicas = Some(3);
        s.storage.dynamodb = Some(DynamoDbStorageSpec {
            table_name: "alexa-link".into(),
            region: "eu-west-1".into(),
            endpoint: None,
            create_table: false,
            credentials_secret_name: Some("aws-keys".into()),
        });
        let mut resolved = resolved_for(&asl);
        let e = validate(&s, &resolved).expect_err("the credentials Secret is missing");
        assert_eq!(e.reason, reasons::SECRET_MISSING);
        assert!(e.message.contains("aws-keys"), "{}", e.message);
        resolved.secrets.insert(
            "aws-keys".into(),
            Some(
                [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]
                    .into_iter()
                    .map(|k| (k.to_owned(), Default::default()))
                    .collect(),
            ),
        );
        validate(&s, &resolved).expect("valid with DynamoDB and 3 replicas");
    }

    #[test]
    fn missing_secrets_and_keys_are_named() {
        let asl = fixture("minimal.yaml");
        let mut resolved = resolved_for(&asl);
        resolved.secrets.insert("minimal-users".into(), None);
        let e = validate(&asl.spec, &resolved).expect_err("missing");
        assert_eq!(e.reason, reasons::SECRET_MISSING);
        assert_eq!(
            e.message,
            "Secret \"minimal-users\" does not exist (referenced by spec.identity.static.usersSecretRef)."
        );
        let mut resolved = resolved_for(&asl);
        resolved
            .secrets
            .insert("minimal-users".into(), Some(Default::default()));
        let e = validate(&asl.spec, &resolved).expect_err("missing key");
        assert_eq!(e.reason, reasons::SECRET_KEY_MISSING);
        assert!(
            e.message.contains("has no key \"users.yaml\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn cert_manager_must_be_installed() {
        let asl = fixture("full.yaml");
        let resolved = resolved_for(&asl);
        let e = validate(&asl.spec, &resolved).expect_err("no cert-manager");
        assert_eq!(e.reason, reasons::CERT_MANAGER_MISSING);
    }

    #[test]
    fn referenced_secrets_cover_every_ref_and_tls() {
        let refs = referenced_secrets(&fixture("full.yaml").spec);
        let names: Vec<&str> = refs.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["full-clients", "full-enc", "full-lwa", "full-users"]
        );
        assert_eq!(
            refs["full-enc"]
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["k1", "k2", "session"]
        );
    }

    /// The CRD's CEL rules (evaluated client-side by kube's CEL engine, as
    /// an API server >= 1.25 would) and [`validate_spec`] agree: each
    /// mutation is refused by both or accepted by both.
    #[test]
    fn cel_rules_and_validate_spec_agree() {
        use crate::crd::{AlexaSkillLink, IngressTlsSpec};
        type Mutation = (&'static str, fn(&mut AlexaSkillLinkSpec));
        let mutations: &[Mutation] = &[
            ("unchanged", |_| {}),
            ("two identity backends", |s| {
                s.identity.ldap = Some(LdapIdentitySpec {
                    url: "ldaps://ldap:636".into(),
                    bind_dn: "cn=svc".into(),
                    bind_password_ref: SecretKeyRef {
                        name: "l".into(),
                        key: "p".into(),
                    },
                    user_base_dn: "ou=people".into(),
                    user_filter: None,
                })
            }),
            ("no identity backend", |s| s.identity.static_ = None),
            ("two tls modes", |s| s.tls.secret_name = Some("tls".into())),
            ("no tls mode", |s| s.tls.ingress = None),
            ("secretName tls", |s| {
                s.tls.ingress = None;
                s.tls.secret_name = Some("tls".into())
            }),
            ("ingress tls with a secret", |s| {
                s.tls.ingress = Some(IngressTlsSpec {
                    secret_name: Some("t".into()),
                })
            }),
            ("no storage", |s| s.storage.embedded = None),
            ("embedded with two replicas", |s| s.replicas = Some(2)),
            ("embedded with one replica", |s| s.replicas = Some(1)),
            ("duplicate client id", |s| {
                s.clients.push(s.clients[0].clone())
            }),
            ("second client", |s| {
                let mut c = s.clients[0].clone();
                c.client_id = "other".into();
                s.clients.push(c)
            }),
            ("code grant without redirect", |s| {
                s.clients[0].alexa_vendor_id = None
            }),
            ("client credentials without redirect", |s| {
                s.clients[0].alexa_vendor_id = None;
                s.clients[0].grant_types = vec![GrantTypeSpec::ClientCredentials];
            }),
            ("redirect uris instead of vendor", |s| {
                s.clients[0].alexa_vendor_id = None;
                s.clients[0].redirect_uris = vec!["https://app.example.com/cb".into()];
            }),
            ("idle lifetime without rotation", |s| {
                s.clients[0].refresh_token = Some(RefreshTokenSpec {
                    rotation: Some(false),
                    grace_period_seconds: None,
                    idle_lifetime_seconds: Some(3600),
                    absolute_lifetime_seconds: None,
                })
            }),
            ("idle lifetime with rotation", |s| {
                s.clients[0].refresh_token = Some(RefreshTokenSpec {
                    rotation: Some(true),
                    grace_period_seconds: None,
                    idle_lifetime_seconds: Some(3600),
                    absolute_lifetime_seconds: None,
                })
            }),
        ];
        for (what, mutate) in mutations {
            let mut asl: AlexaSkillLink = fixture("minimal.yaml");
            mutate(&mut asl.spec);
            let cel = kube::core::cel::validate_cel(&asl);
            let ours = validate_spec(&asl.spec);
            assert_eq!(
                cel.is_ok(),
                ours.is_ok(),
                "{what}: CEL says {cel:?}, validate_spec says {ours:?}"
            );
        }

        // The partner rule lives on the full fixture.
        let mut asl: AlexaSkillLink = fixture("full.yaml");
        assert!(kube::core::cel::validate_cel(&asl).is_ok());
        asl.spec.partner.as_mut().expect("partner").linked_clients = vec!["nobody".into()];
        assert!(kube::core::cel::validate_cel(&asl).is_err());
        assert!(validate_spec(&asl.spec).is_err());
    }
}

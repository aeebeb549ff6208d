//! Build: pure functions from a [`ValidatedLink`] (the resource, decided,
//! with what resolve read) to the children the operator applies. One module
//! per child kind; none of them can see an invalid spec.
//!
//! Nothing here talks to the API server, so every builder is unit-tested
//! against YAML fixtures (`operator/tests/fixtures/`).

pub mod certificate;
pub mod config;
pub mod config_map;
pub mod deployment;
pub mod ingress;
pub mod keys_secret;
pub mod mounts;
pub mod network_policy;
pub mod pdb;
pub mod purge_job;
pub mod pvc;
pub mod service;
pub mod service_account;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::DynamicObject;
use kube::{Resource, ResourceExt};

use crate::crd::{AlexaSkillLink, DeletionPolicy};
use crate::labels::labels;
use crate::validate::ValidatedLink;

/// Public port of the server container.
pub const PUBLIC_PORT: i32 = 8443;
/// Admin port of the server container (`/healthz`, `/readyz`, `/metrics`).
pub const ADMIN_PORT: i32 = 9090;

/// What the cluster can serve, found out once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// `policy/v1` PodDisruptionBudget (Kubernetes 1.21+).
    pub pdb_v1: bool,
}

/// Every child of one resource. `None`: that child is not wanted and is
/// deleted if it exists.
#[derive(Debug, Clone)]
pub struct Children {
    /// The pods' ServiceAccount.
    pub service_account: ServiceAccount,
    /// The rendered server config.
    pub config_map: ConfigMap,
    /// Generated session and encryption keys.
    pub keys_secret: Option<Secret>,
    /// Volume of the embedded store.
    pub pvc: Option<PersistentVolumeClaim>,
    /// The server pods.
    pub deployment: Deployment,
    /// The Service in front of them.
    pub service: Service,
    /// When replicas > 1 and the cluster serves policy/v1.
    pub pdb: Option<PodDisruptionBudget>,
    /// When `ingress` or `tls.ingress` is set.
    pub ingress: Option<Ingress>,
    /// When `networkPolicy.enabled`.
    pub network_policy: Option<NetworkPolicy>,
    /// When `tls.certManager` is set.
    pub certificate: Option<DynamicObject>,
    /// Sentences for the status about what was skipped and why.
    pub notes: Vec<String>,
}

/// Builds every child of a validated link. Infallible: every decision that
/// could fail was made by [`crate::validate::validate`].
pub fn children(
    link: &ValidatedLink,
    caps: Capabilities,
    image: &deployment::ServerImage,
    fresh_key: &mut dyn FnMut() -> String,
) -> Children {
    // Exhaustive on purpose: a new spec field does not compile until it is
    // listed here with the builder that consumes it (decided fields arrive
    // through the ValidatedLink, pass-through ones through the spec).
    let crate::crd::AlexaSkillLinkSpec {
        host: _,                         // validate (publicUrl), ingress, certificate
        clients: _,                      // config
        identity: _,                     // validate -> Identity -> config, mounts, hash
        partner: _,                      // validate -> Partner -> config
        tls: _,     // validate -> Tls -> config, mounts, service, ingress, certificate
        storage: _, // validate -> Storage -> config, pvc, deployment
        encryption_key_ref: _, // validate -> Partner.encryption_keys, keys_secret, mounts
        session_key_ref: _, // validate -> session_key, keys_secret, mounts
        access_token_signing_key_ref: _, // secret_refs -> mounts; config
        replicas: _, // validate -> replicas -> deployment, pdb
        image: _,   // deployment (over --server-image)
        image_pull_policy: _, // deployment (over --server-image-pull-policy)
        resources: _, // deployment
        service: _, // service
        ingress: _, // ingress
        network_policy: _, // network_policy
        service_account: _, // service_account
        node_selector: _, // deployment
        tolerations: _, // deployment
        affinity: _, // deployment
        log_level: _, // config
        deletion_policy: _, // state_meta (pvc, keys_secret); deletion.rs (finalizer)
        alexa_skill: _, // validate -> Skill -> smapi; its redirect URLs -> config
        branding: _, // config (logo, css, templates: secret_refs -> mounts, hash)
    } = &link.resource.spec;
    let mounts = mounts::Mounts::for_link(link);
    let keys_secret = keys_secret::build(link, fresh_key);
    let server_config = config::render(link);
    let config_map = config_map::build(link, &server_config);
    let hash = deployment::config_hash(&config_map, link, keys_secret.as_ref());
    let (pdb, note) = pdb::wanted(link, caps);
    let notes = note.into_iter().collect();
    Children {
        service_account: service_account::build(link),
        deployment: deployment::build(link, &mounts, &hash, image),
        service: service::build(link),
        pvc: pvc::build(link),
        ingress: ingress::build(link),
        network_policy: network_policy::build(link),
        certificate: certificate::build(link),
        config_map,
        keys_secret,
        pdb,
        notes,
    }
}

/// Metadata of a child: name, namespace, labels, and the controller owner
/// reference (so garbage collection removes it with the resource).
pub fn meta(asl: &AlexaSkillLink, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: asl.namespace(),
        labels: Some(labels(&asl.name_any())),
        owner_references: owner_ref(asl).map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}

/// Metadata of a child that holds stored state (the store's volume, the
/// generated keys): owned only with `deletionPolicy: Delete`, so that
/// `Retain` keeps them after the resource is deleted.
pub fn state_meta(asl: &AlexaSkillLink, name: &str) -> ObjectMeta {
    let mut m = meta(asl, name);
    if asl.spec.deletion_policy == DeletionPolicy::Retain {
        m.owner_references = None;
    }
    m
}

fn owner_ref(asl: &AlexaSkillLink) -> Option<OwnerReference> {
    asl.controller_owner_ref(&())
}

#[cfg(test)]
pub(crate) mod testing {
    //! Fixtures shared by the builder tests.
    use std::collections::BTreeMap;

    use super::*;
    use crate::resolve::Resolved;

    /// Reads a fixture resource and gives it a uid (as the API server would).
    pub fn fixture(name: &str) -> AlexaSkillLink {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut asl: AlexaSkillLink = serde_yaml::from_str(&text).expect("fixture parses");
        asl.metadata.uid = Some("00000000-0000-0000-0000-000000000001".into());
        asl
    }

    /// Every Secret the fixture references, filled with placeholder data.
    pub fn resolved_for(asl: &AlexaSkillLink) -> Resolved {
        let mut r = Resolved::default();
        let ca_bundles: Vec<(String, String)> = crate::secret_refs::ca_bundle_refs(&asl.spec)
            .into_iter()
            .map(|c| (c.name, c.key))
            .collect();
        for (name, keys) in crate::secret_refs::referenced_secrets(&asl.spec) {
            let data: BTreeMap<String, Vec<u8>> = keys
                .into_iter()
                .map(|k| {
                    let value = if ca_bundles.contains(&(name.clone(), k.clone())) {
                        format!(
                            "-----BEGIN CERTIFICATE-----\n{name}/{k}\n-----END CERTIFICATE-----\n"
                        )
                    } else {
                        format!("{name}/{k} value")
                    };
                    (k.clone(), value.into_bytes())
                })
                .collect();
            r.secrets.insert(name, Some(data));
        }
        // A logo Secret key holds an image.
        for (_, b) in crate::secret_refs::brandings(&asl.spec) {
            if let Some(logo) = &b.logo_secret_ref
                && let Some(Some(data)) = r.secrets.get_mut(&logo.name)
            {
                data.insert(logo.key.clone(), TEST_PNG.to_vec());
            }
        }
        // Referenced ConfigMaps hold what their field reads: an image, a
        // style sheet, a template.
        for c in crate::secret_refs::config_map_refs(&asl.spec) {
            let data = r
                .config_maps
                .entry(c.name)
                .or_insert_with(|| Some(BTreeMap::new()));
            let data = data.as_mut().expect("inserted");
            match c.key {
                Some(key) if c.field.ends_with("logoConfigMapRef") => {
                    data.insert(key, TEST_PNG.to_vec());
                }
                Some(key) => {
                    data.insert(key, b"button { border-radius: 0 }".to_vec());
                }
                None => {
                    data.insert(
                        "layout.html".into(),
                        b"<html>{% block body %}{% endblock %}</html>".to_vec(),
                    );
                }
            }
        }
        r
    }

    /// The first bytes of a PNG file: what the server sniffs a logo by.
    pub const TEST_PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    /// The fixture validated (cert-manager counted as installed): builders
    /// are only ever given a ValidatedLink.
    pub fn link(asl: &AlexaSkillLink, resolved: &Resolved) -> crate::validate::ValidatedLink {
        let mut resolved = resolved.clone();
        resolved.cert_manager_installed = true;
        crate::validate::validate(asl, &resolved).unwrap_or_else(|e| panic!("valid: {e}"))
    }

    /// A deterministic key generator.
    pub fn counter_keys() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("generated-key-{n:02}-0123456789abcdef0123456789abcdef")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::testing::{counter_keys, fixture, link, resolved_for};
    use super::*;
    use crate::labels::CONFIG_HASH_ANNOTATION;

    const CAPS: Capabilities = Capabilities { pdb_v1: true };
    static IMAGE: std::sync::LazyLock<deployment::ServerImage> =
        std::sync::LazyLock::new(deployment::ServerImage::default);

    fn build(name: &str) -> Children {
        build_asl(&fixture(name))
    }

    fn build_asl(asl: &AlexaSkillLink) -> Children {
        children(
            &link(asl, &resolved_for(asl)),
            CAPS,
            &IMAGE,
            &mut counter_keys(),
        )
    }

    /// All children as one multi-document YAML, in apply order.
    fn render(c: &Children) -> String {
        fn doc<T: serde::Serialize>(out: &mut String, obj: &T) {
            out.push_str("---\n");
            out.push_str(&serde_yaml::to_string(obj).expect("serializes"));
        }
        let mut out = String::new();
        doc(&mut out, &c.service_account);
        if let Some(s) = &c.keys_secret {
            doc(&mut out, s);
        }
        doc(&mut out, &c.config_map);
        if let Some(p) = &c.pvc {
            doc(&mut out, p);
        }
        if let Some(x) = &c.certificate {
            doc(&mut out, x);
        }
        doc(&mut out, &c.deployment);
        doc(&mut out, &c.service);
        if let Some(p) = &c.pdb {
            doc(&mut out, p);
        }
        if let Some(i) = &c.ingress {
            doc(&mut out, i);
        }
        if let Some(n) = &c.network_policy {
            doc(&mut out, n);
        }
        out
    }

    /// Compares with `tests/fixtures/<name>.children.yaml`; with
    /// `UPDATE_FIXTURES=1` rewrites it instead (review the diff!).
    fn assert_matches_fixture(name: &str) {
        let got = render(&build(&format!("{name}.yaml")));
        let path = format!(
            "{}/tests/fixtures/{name}.children.yaml",
            env!("CARGO_MANIFEST_DIR")
        );
        if std::env::var_os("UPDATE_FIXTURES").is_some() {
            std::fs::write(&path, &got).expect("writes fixture");
            return;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            got == want,
            "children of {name} differ from {path}; run with UPDATE_FIXTURES=1 and review the diff.\n{got}"
        );
    }

    #[test]
    fn minimal_resource_builds_the_expected_children() {
        assert_matches_fixture("minimal");
    }

    #[test]
    fn full_resource_builds_the_expected_children() {
        assert_matches_fixture("full");
    }

    #[test]
    fn dynamodb_resource_builds_the_expected_children() {
        assert_matches_fixture("dynamodb");
    }

    #[test]
    fn dynamodb_runs_several_replicas_without_a_volume() {
        let c = build("dynamodb.yaml");
        assert!(c.pvc.is_none(), "DynamoDB needs no volume");
        assert!(c.pdb.is_some(), "three replicas get a PodDisruptionBudget");
        let replicas = c.deployment.spec.as_ref().and_then(|s| s.replicas);
        assert_eq!(replicas, Some(3));
        let data = c.config_map.data.as_ref().expect("data");
        let config = alexa_link_config::Config::from_yaml(data.values().next().expect("config"))
            .expect("parses");
        match &config.store {
            alexa_link_config::StoreConfig::Dynamodb(d) => {
                assert_eq!(
                    (d.table_name.as_str(), d.region.as_str(), d.create_table),
                    ("alexa-link", "eu-west-1", false)
                );
                assert!(d.credentials.is_none(), "IRSA: the default AWS chain");
            }
            other => panic!("expected the DynamoDB store, got {other:?}"),
        }
        assert_eq!(
            c.service_account
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("eks.amazonaws.com/role-arn"))
                .map(String::as_str),
            Some("arn:aws:iam::123456789012:role/alexa-link")
        );
    }

    #[test]
    fn delete_with_dynamodb_names_the_link_on_every_item() {
        let asl = fixture("dynamodb.yaml");
        assert!(build_asl(&asl).notes.is_empty(), "nothing to say");
        let config = build_asl(&asl).config_map.data.expect("data")["config.yaml"].clone();
        let owner = format!(
            "owner: {}/{}",
            asl.namespace().expect("namespace"),
            asl.name_any()
        );
        assert!(config.contains(&owner), "{config}");
    }

    #[test]
    fn minimal_has_exactly_the_children_it_needs() {
        let c = build("minimal.yaml");
        assert!(c.keys_secret.is_some(), "no key refs: keys are generated");
        assert!(c.pvc.is_some(), "embedded store needs a volume");
        assert!(c.ingress.is_some(), "tls.ingress needs an Ingress");
        assert!(c.certificate.is_none());
        assert!(c.network_policy.is_none());
        assert!(c.pdb.is_none(), "one replica needs no PDB");
        assert!(c.notes.is_empty());
    }

    #[test]
    fn every_child_is_labelled_and_owned_by_the_resource() {
        let c = build("full.yaml");
        let metas = [
            &c.service_account.metadata,
            &c.config_map.metadata,
            &c.deployment.metadata,
            &c.service.metadata,
            &c.ingress.as_ref().expect("ingress").metadata,
            &c.network_policy.as_ref().expect("netpol").metadata,
            &c.certificate.as_ref().expect("certificate").metadata,
            // deletionPolicy: Delete: state is owned too.
            &c.pvc.as_ref().expect("pvc").metadata,
        ];
        for m in metas {
            let labels = m.labels.as_ref().expect("labels");
            assert_eq!(labels["app.kubernetes.io/instance"], "full");
            assert_eq!(
                labels["app.kubernetes.io/managed-by"],
                "alexa-link-operator"
            );
            let owners = m.owner_references.as_ref().expect("owner");
            assert_eq!(owners.len(), 1);
            assert_eq!(owners[0].kind, "AlexaSkillLink");
            assert_eq!(owners[0].controller, Some(true));
            assert_eq!(m.namespace.as_deref(), Some("skills"));
        }
    }

    #[test]
    fn retain_policy_leaves_stored_state_unowned() {
        let c = build("minimal.yaml");
        let pvc = c.pvc.expect("pvc");
        let keys = c.keys_secret.expect("keys");
        assert_eq!(pvc.metadata.owner_references, None);
        assert_eq!(keys.metadata.owner_references, None);
        assert!(c.deployment.metadata.owner_references.is_some());
    }

    fn pod_hash(c: &Children) -> String {
        c.deployment
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .map(|a| a[CONFIG_HASH_ANNOTATION].clone())
            .expect("hash annotation")
    }

    #[test]
    fn branding_config_maps_are_mounted_and_a_change_rolls_the_pods() {
        let mut asl = fixture("minimal.yaml");
        asl.spec.branding = Some(crate::crd::BrandingSpec {
            logo_config_map_ref: Some(crate::crd::ConfigMapKeyRef {
                name: "brand".into(),
                key: "logo.png".into(),
            }),
            templates_config_map_name: Some("brand-templates".into()),
            ..Default::default()
        });
        let resolved = resolved_for(&asl);
        let before = children(&link(&asl, &resolved), CAPS, &IMAGE, &mut counter_keys());
        let pod = before
            .deployment
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("pod spec");
        let volumes: Vec<(String, String)> = pod
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| Some((v.name.clone(), v.config_map.as_ref()?.name.clone())))
            .collect();
        assert!(
            volumes.contains(&("config-map-0".into(), "brand".into())),
            "{volumes:?}"
        );
        assert!(
            volumes.contains(&("config-map-1".into(), "brand-templates".into())),
            "{volumes:?}"
        );
        let mounts: Vec<(String, String)> = pod.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| (m.name.clone(), m.mount_path.clone()))
            .collect();
        assert!(mounts.contains(&(
            "config-map-1".into(),
            "/var/run/configmaps/alexa-link/brand-templates".into()
        )));

        for (config_map, key, value) in [
            (
                "brand-templates",
                "login.html",
                &b"{% extends \"layout.html\" %}"[..],
            ),
            ("brand", "logo.png", b"\x89PNG\r\n\x1a\n another"),
        ] {
            let mut changed = resolved.clone();
            changed
                .config_maps
                .get_mut(config_map)
                .and_then(Option::as_mut)
                .expect("config map")
                .insert(key.into(), value.to_vec());
            let after = children(&link(&asl, &changed), CAPS, &IMAGE, &mut counter_keys());
            assert_ne!(pod_hash(&before), pod_hash(&after), "{config_map}/{key}");
        }
    }

    #[test]
    fn rotating_a_referenced_secret_changes_the_pod_template_hash() {
        let asl = fixture("minimal.yaml");
        let resolved = resolved_for(&asl);
        let before = children(&link(&asl, &resolved), CAPS, &IMAGE, &mut counter_keys());
        let again = children(&link(&asl, &resolved), CAPS, &IMAGE, &mut counter_keys());
        assert_eq!(pod_hash(&before), pod_hash(&again), "hash is deterministic");

        let mut rotated = resolved.clone();
        rotated
            .secrets
            .get_mut("minimal-alexa-client")
            .and_then(Option::as_mut)
            .expect("secret")
            .insert("secret".into(), b"a new client secret".to_vec());
        let after = children(&link(&asl, &rotated), CAPS, &IMAGE, &mut counter_keys());
        assert_ne!(pod_hash(&before), pod_hash(&after));

        // A key the server does not read changes nothing.
        let mut unrelated = resolved.clone();
        unrelated
            .secrets
            .get_mut("minimal-alexa-client")
            .and_then(Option::as_mut)
            .expect("secret")
            .insert("unused".into(), b"x".to_vec());
        let same = children(&link(&asl, &unrelated), CAPS, &IMAGE, &mut counter_keys());
        assert_eq!(pod_hash(&before), pod_hash(&same));
    }

    #[test]
    fn existing_generated_keys_are_kept() {
        let asl = fixture("minimal.yaml");
        let mut resolved = resolved_for(&asl);
        let existing: BTreeMap<String, Vec<u8>> = BTreeMap::from([
            ("session-key".into(), vec![b's'; 64]),
            ("encryption-key".into(), vec![b'e'; 64]),
        ]);
        resolved.generated_keys = Some(existing);
        let mut never = || -> String { panic!("no new key may be generated") };
        let c = children(&link(&asl, &resolved), CAPS, &IMAGE, &mut never);
        let data = c.keys_secret.expect("keys").data.expect("data");
        assert_eq!(data["session-key"], ByteString(vec![b's'; 64]));
        assert_eq!(data["encryption-key"], ByteString(vec![b'e'; 64]));
    }

    #[test]
    fn pods_are_hardened() {
        let c = build("minimal.yaml");
        let pod = c.deployment.spec.expect("spec").template.spec.expect("pod");
        let psc = pod.security_context.expect("pod security context");
        assert_eq!(psc.run_as_non_root, Some(true));
        assert_eq!(
            psc.seccomp_profile.expect("seccomp").type_,
            "RuntimeDefault"
        );
        let container = &pod.containers[0];
        let sc = container
            .security_context
            .as_ref()
            .expect("security context");
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.run_as_non_root, Some(true));
        assert_eq!(
            sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
            Some(vec!["ALL".to_owned()])
        );
        for probe in [
            &container.readiness_probe,
            &container.liveness_probe,
            &container.startup_probe,
        ] {
            let get = probe
                .as_ref()
                .and_then(|p| p.http_get.as_ref())
                .expect("http probe");
            assert_eq!(
                get.port,
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("admin".into())
            );
        }
        assert_eq!(pod.automount_service_account_token, Some(false));
    }

    #[test]
    fn service_ports_are_tcp() {
        for name in ["minimal.yaml", "full.yaml"] {
            let c = build(name);
            for p in c.service.spec.expect("spec").ports.expect("ports") {
                assert_eq!(p.protocol.as_deref(), Some("TCP"), "{name} {:?}", p.name);
            }
        }
    }

    #[test]
    fn rendered_config_is_what_the_server_parses() {
        for name in ["minimal.yaml", "full.yaml"] {
            let c = build(name);
            let text = &c.config_map.data.expect("data")["config.yaml"];
            let parsed = alexa_link_config::Config::from_yaml(text).expect("server parses");
            assert_eq!(parsed.validate(), Ok(()), "{name}");
        }
    }

    /// Every absolute path in a YAML document.
    fn paths(v: &serde_yaml::Value, out: &mut Vec<String>) {
        match v {
            serde_yaml::Value::String(s) if s.starts_with('/') => out.push(s.clone()),
            serde_yaml::Value::Sequence(items) => items.iter().for_each(|i| paths(i, out)),
            serde_yaml::Value::Mapping(m) => m.values().for_each(|i| paths(i, out)),
            _ => {}
        }
    }

    #[test]
    fn every_file_the_config_names_is_mounted() {
        for name in ["minimal.yaml", "full.yaml"] {
            let c = build(name);
            let text = c.config_map.data.expect("data")["config.yaml"].clone();
            let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
            let mut files = Vec::new();
            paths(&doc, &mut files);
            assert!(files.len() >= 4, "{name}: {files:?}");
            let pod = c.deployment.spec.expect("spec").template.spec.expect("pod");
            let mounts: Vec<String> = pod.containers[0]
                .volume_mounts
                .clone()
                .expect("mounts")
                .into_iter()
                .map(|m| m.mount_path)
                .collect();
            for file in files {
                let dir = file.rsplit_once('/').expect("path").0;
                // A file in a mounted directory, or the directory itself
                // (`branding.templatesDir`).
                assert!(
                    mounts.iter().any(|m| m == dir || *m == file),
                    "{name}: {file} is not under a mount ({mounts:?})"
                );
            }
        }
    }

    #[test]
    fn pdb_only_with_several_replicas_and_skipped_with_a_note_without_policy_v1() {
        let asl = fixture("full.yaml");
        let mut link = link(&asl, &resolved_for(&asl));
        assert_eq!(link.replicas, 1, "the embedded store runs one replica");
        let (pdb, note) = pdb::wanted(&link, CAPS);
        assert!(pdb.is_none() && note.is_none());
        link.replicas = 3;
        let (pdb, note) = pdb::wanted(&link, CAPS);
        assert_eq!(
            pdb.and_then(|p| p.spec).and_then(|s| s.max_unavailable),
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1))
        );
        assert!(note.is_none());
        let (pdb, note) = pdb::wanted(&link, Capabilities { pdb_v1: false });
        assert!(pdb.is_none());
        assert!(note.expect("note").contains("policy/v1"));
    }

    fn image_of(c: &Children) -> (Option<String>, Option<String>) {
        let pod = c
            .deployment
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("pod");
        (
            pod.containers[0].image.clone(),
            pod.containers[0].image_pull_policy.clone(),
        )
    }

    #[test]
    fn operator_server_image_applies_unless_the_spec_names_its_own() {
        let mirrored = deployment::ServerImage {
            image: "registry.internal/alexa-link:dev".into(),
            pull_policy: Some(crate::crd::PullPolicy::Never),
        };
        let asl = fixture("minimal.yaml");
        assert_eq!(asl.spec.image, None, "the fixture names no image");
        let c = children(
            &link(&asl, &resolved_for(&asl)),
            CAPS,
            &mirrored,
            &mut counter_keys(),
        );
        assert_eq!(
            image_of(&c),
            (
                Some("registry.internal/alexa-link:dev".into()),
                Some("Never".into())
            )
        );

        // Without the flags: the built-in image and Kubernetes' default policy.
        let c = children(
            &link(&asl, &resolved_for(&asl)),
            CAPS,
            &IMAGE,
            &mut counter_keys(),
        );
        assert_eq!(image_of(&c), (Some(deployment::default_image()), None));

        // spec.image and spec.imagePullPolicy each override on their own.
        let mut own = asl.clone();
        own.spec.image = Some("example.org/own:1".into());
        let c = children(
            &link(&own, &resolved_for(&own)),
            CAPS,
            &mirrored,
            &mut counter_keys(),
        );
        assert_eq!(
            image_of(&c),
            (Some("example.org/own:1".into()), Some("Never".into()))
        );
        own.spec.image_pull_policy = Some(crate::crd::PullPolicy::Always);
        let c = children(
            &link(&own, &resolved_for(&own)),
            CAPS,
            &mirrored,
            &mut counter_keys(),
        );
        assert_eq!(
            image_of(&c),
            (Some("example.org/own:1".into()), Some("Always".into()))
        );
    }

    #[test]
    fn ldap_resource_builds_the_expected_children() {
        assert_matches_fixture("ldap");
    }

    #[test]
    fn oidc_resource_builds_the_expected_children() {
        assert_matches_fixture("oidc");
    }

    fn server_config(c: &Children) -> alexa_link_config::Config {
        let data = c.config_map.data.as_ref().expect("data");
        let config =
            alexa_link_config::Config::from_yaml(&data["config.yaml"]).expect("server parses");
        assert_eq!(config.validate(), Ok(()), "server accepts");
        config
    }

    fn mount_paths(c: &Children) -> Vec<String> {
        let pod = c
            .deployment
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("pod");
        pod.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| m.mount_path.clone())
            .collect()
    }

    #[test]
    fn ldap_renders_every_field_with_its_secrets_as_files() {
        use alexa_link_config::IdentityConfig;
        let c = build("ldap.yaml");
        let IdentityConfig::Ldap(l) = server_config(&c).identity else {
            panic!("expected the LDAP backend");
        };
        assert_eq!(l.url.as_str(), "ldap://directory.corp.svc:389");
        assert!(l.start_tls);
        assert_eq!(
            l.ca_file.as_deref(),
            Some(std::path::Path::new(
                "/var/run/secrets/alexa-link/ldap-directory-ca/ca.crt"
            ))
        );
        assert_eq!(l.bind_dn, "cn=alexa-link,ou=services,dc=example,dc=com");
        assert_eq!(
            l.bind_password_file,
            std::path::Path::new("/var/run/secrets/alexa-link/ldap-bind/password")
        );
        assert_eq!(l.base_dn, "ou=people,dc=example,dc=com");
        assert_eq!(
            l.user_filter,
            "(&(objectClass=inetOrgPerson)(uid={username}))"
        );
        assert_eq!(l.id_attribute, "entryUUID");
        assert_eq!(l.display_name_attribute, "displayName");
        assert_eq!((l.pool_size, l.timeout_seconds), (8, 10));
        let mounts = mount_paths(&c);
        for dir in ["ldap-bind", "ldap-directory-ca"] {
            assert!(
                mounts.contains(&format!("/var/run/secrets/alexa-link/{dir}")),
                "{dir} is mounted: {mounts:?}"
            );
        }
    }

    #[test]
    fn ldap_fields_left_out_take_the_servers_defaults() {
        use alexa_link_config::IdentityConfig;
        let mut asl = fixture("ldap.yaml");
        let l = asl.spec.identity.ldap.as_mut().expect("ldap");
        l.url = "ldaps://directory.corp.svc:636".into();
        l.start_tls = None;
        l.user_filter = None;
        l.id_attribute = None;
        l.display_name_attribute = None;
        l.pool_size = None;
        l.timeout_seconds = None;
        let c = children(
            &link(&asl, &resolved_for(&asl)),
            CAPS,
            &IMAGE,
            &mut counter_keys(),
        );
        let IdentityConfig::Ldap(l) = server_config(&c).identity else {
            panic!("expected the LDAP backend");
        };
        use alexa_link_config::identity::ldap as d;
        assert!(!l.start_tls, "ldaps:// is TLS from the start");
        assert_eq!(l.user_filter, d::DEFAULT_USER_FILTER);
        assert_eq!(l.id_attribute, d::DEFAULT_ID_ATTRIBUTE);
        assert_eq!(l.display_name_attribute, d::DEFAULT_DISPLAY_NAME_ATTRIBUTE);
        assert_eq!(
            (l.pool_size, l.timeout_seconds),
            (d::DEFAULT_POOL_SIZE, d::DEFAULT_TIMEOUT_SECONDS)
        );
    }

    #[test]
    fn oidc_renders_issuer_scopes_and_claims_with_the_client_id_from_its_secret() {
        use alexa_link_config::IdentityConfig;
        let asl = fixture("oidc.yaml");
        let mut resolved = resolved_for(&asl);
        // As `kubectl create secret --from-file` leaves it: a trailing newline.
        resolved
            .secrets
            .get_mut("oidc-upstream")
            .and_then(Option::as_mut)
            .expect("secret")
            .insert("client-id".into(), b"alexa-link-prod\n".to_vec());
        let c = children(&link(&asl, &resolved), CAPS, &IMAGE, &mut counter_keys());
        let IdentityConfig::Oidc(o) = server_config(&c).identity else {
            panic!("expected the OIDC backend");
        };
        assert_eq!(
            o.issuer_url.as_str(),
            "https://login.example.com/realms/example"
        );
        assert_eq!(o.client_id, "alexa-link-prod");
        assert_eq!(
            o.client_secret_file,
            std::path::Path::new("/var/run/secrets/alexa-link/oidc-upstream/client-secret")
        );
        assert_eq!(o.scopes, ["openid", "profile", "email"]);
        assert_eq!(o.user_id_claim, "sub");
        assert_eq!(o.display_name_claim, "preferred_username");
        assert_eq!(o.issuer_id.as_deref(), Some("example-realm"));
        assert_eq!(o.request_timeout_seconds, 8);
        assert!(mount_paths(&c).contains(&"/var/run/secrets/alexa-link/oidc-upstream".to_owned()));

        // Left out: the server's defaults.
        let mut bare = asl.clone();
        let spec = bare.spec.identity.oidc.as_mut().expect("oidc");
        spec.scopes.clear();
        spec.user_id_claim = None;
        spec.display_name_claim = None;
        spec.request_timeout_seconds = None;
        let c = children(&link(&bare, &resolved), CAPS, &IMAGE, &mut counter_keys());
        let IdentityConfig::Oidc(o) = server_config(&c).identity else {
            panic!("expected the OIDC backend");
        };
        use alexa_link_config::identity::oidc as d;
        assert_eq!(o.scopes, d::DEFAULT_SCOPES);
        assert_eq!(o.user_id_claim, d::DEFAULT_USER_ID_CLAIM);
        assert_eq!(o.display_name_claim, d::DEFAULT_DISPLAY_NAME_CLAIM);
        assert_eq!(
            o.request_timeout_seconds,
            d::DEFAULT_REQUEST_TIMEOUT_SECONDS
        );
    }

    /// The pod-template hash of `fixture` after `key` of `secret` is set to
    /// `value`.
    fn hash_with(fixture_name: &str, secret: &str, key: &str, value: &[u8]) -> String {
        let asl = fixture(fixture_name);
        let mut resolved = resolved_for(&asl);
        resolved
            .secrets
            .get_mut(secret)
            .and_then(Option::as_mut)
            .unwrap_or_else(|| panic!("{secret} is referenced"))
            .insert(key.into(), value.to_vec());
        pod_hash(&children(
            &link(&asl, &resolved),
            CAPS,
            &IMAGE,
            &mut counter_keys(),
        ))
    }

    #[test]
    fn rotating_identity_secrets_rolls_the_pods() {
        let base = |f: &str| {
            let asl = fixture(f);
            pod_hash(&children(
                &link(&asl, &resolved_for(&asl)),
                CAPS,
                &IMAGE,
                &mut counter_keys(),
            ))
        };
        let ldap = base("ldap.yaml");
        assert_ne!(
            ldap,
            hash_with("ldap.yaml", "ldap-bind", "password", b"rotated")
        );
        let new_ca = b"-----BEGIN CERTIFICATE-----\nnew CA\n-----END CERTIFICATE-----\n";
        assert_ne!(
            ldap,
            hash_with("ldap.yaml", "ldap-directory-ca", "ca.crt", new_ca)
        );
        // The server's own TLS certificate is reloaded from disk: no roll.
        assert_eq!(
            ldap,
            hash_with("ldap.yaml", "ldap-tls", "tls.crt", b"renewed")
        );
        let oidc = base("oidc.yaml");
        assert_ne!(
            oidc,
            hash_with("oidc.yaml", "oidc-upstream", "client-secret", b"rotated")
        );
        assert_ne!(
            oidc,
            hash_with("oidc.yaml", "oidc-upstream", "client-id", b"another-client")
        );
        assert_ne!(
            oidc,
            hash_with("oidc.yaml", "oidc-upstream", "ca.crt", new_ca)
        );
        let full = base("full.yaml");
        assert_ne!(
            full,
            hash_with("full.yaml", "egress-proxy-ca", "ca.crt", new_ca)
        );
    }
}

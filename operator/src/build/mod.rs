//! Build: pure functions from a validated resource (plus what resolve read)
//! to the children the operator applies. One module per child kind.
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
use crate::labels::{Names, labels};
use crate::resolve::Resolved;
use crate::validate::Invalid;

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

/// Builds every child. Fails only when the rendered server config is
/// rejected by the server's own validation.
pub fn children(
    asl: &AlexaSkillLink,
    resolved: &Resolved,
    caps: Capabilities,
    fresh_key: &mut dyn FnMut() -> String,
) -> Result<Children, Invalid> {
    // Exhaustive on purpose: a new spec field does not compile until it is
    // listed here with the builder that consumes it.
    let crate::crd::AlexaSkillLinkSpec {
        host: _,               // config (publicUrl), ingress, certificate
        clients: _,            // config
        identity: _,           // config; validate (unsupported backends)
        partner: _,            // config
        tls: _,                // config, mounts, service, ingress, certificate
        storage: _,            // config, pvc, deployment (replicas, strategy)
        encryption_key_ref: _, // config, keys_secret, mounts
        session_key_ref: _,    // config, keys_secret, mounts
        replicas: _,           // deployment, pdb
        image: _,              // deployment
        image_pull_policy: _,  // deployment
        resources: _,          // deployment
        service: _,            // service
        ingress: _,            // ingress
        network_policy: _,     // network_policy
        service_account: _,    // service_account
        node_selector: _,      // deployment
        tolerations: _,        // deployment
        affinity: _,           // deployment
        log_level: _,          // config
        deletion_policy: _,    // state_meta (pvc, keys_secret)
    } = &asl.spec;
    let name = asl.name_any();
    let names = Names::new(&name);
    let mounts = mounts::Mounts::for_spec(&asl.spec, &names);
    let keys_secret = keys_secret::build(asl, &names, resolved, fresh_key);
    let server_config = config::render(&asl.spec, &mounts, &names)?;
    let config_map = config_map::build(asl, &names, &server_config);
    let hash = deployment::config_hash(
        &config_map,
        &asl.spec,
        &names,
        resolved,
        keys_secret.as_ref(),
    );
    let replicas = deployment::replicas(&asl.spec);
    let (pdb, note) = pdb::wanted(asl, &names, replicas, caps);
    let notes = note.into_iter().collect();
    Ok(Children {
        service_account: service_account::build(asl, &names),
        deployment: deployment::build(asl, &names, &mounts, &hash),
        service: service::build(asl, &names),
        pvc: pvc::build(asl, &names),
        ingress: ingress::build(asl, &names),
        network_policy: network_policy::build(asl, &names),
        certificate: certificate::build(asl, &names),
        config_map,
        keys_secret,
        pdb,
        notes,
    })
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
        for (name, keys) in crate::validate::referenced_secrets(&asl.spec) {
            let data: BTreeMap<String, Vec<u8>> = keys
                .into_iter()
                .map(|k| (k.clone(), format!("{name}/{k} value").into_bytes()))
                .collect();
            r.secrets.insert(name, Some(data));
        }
        r
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

    use super::testing::{counter_keys, fixture, resolved_for};
    use super::*;
    use crate::labels::CONFIG_HASH_ANNOTATION;

    const CAPS: Capabilities = Capabilities { pdb_v1: true };

    fn build(name: &str) -> Children {
        let asl = fixture(name);
        children(&asl, &resolved_for(&asl), CAPS, &mut counter_keys()).expect("builds")
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
    fn rotating_a_referenced_secret_changes_the_pod_template_hash() {
        let asl = fixture("minimal.yaml");
        let resolved = resolved_for(&asl);
        let before = children(&asl, &resolved, CAPS, &mut counter_keys()).expect("builds");
        let again = children(&asl, &resolved, CAPS, &mut counter_keys()).expect("builds");
        assert_eq!(pod_hash(&before), pod_hash(&again), "hash is deterministic");

        let mut rotated = resolved.clone();
        rotated
            .secrets
            .get_mut("minimal-alexa-client")
            .and_then(Option::as_mut)
            .expect("secret")
            .insert("secret".into(), b"a new client secret".to_vec());
        let after = children(&asl, &rotated, CAPS, &mut counter_keys()).expect("builds");
        assert_ne!(pod_hash(&before), pod_hash(&after));

        // A key the server does not read changes nothing.
        let mut unrelated = resolved.clone();
        unrelated
            .secrets
            .get_mut("minimal-alexa-client")
            .and_then(Option::as_mut)
            .expect("secret")
            .insert("unused".into(), b"x".to_vec());
        let same = children(&asl, &unrelated, CAPS, &mut counter_keys()).expect("builds");
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
        let c = children(&asl, &resolved, CAPS, &mut never).expect("builds");
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
                assert!(
                    mounts.iter().any(|m| m == dir),
                    "{name}: {file} is not under a mount ({mounts:?})"
                );
            }
        }
    }

    #[test]
    fn pdb_only_with_several_replicas_and_skipped_with_a_note_without_policy_v1() {
        let asl = fixture("full.yaml");
        let names = Names::new("full");
        let (pdb, note) = pdb::wanted(&asl, &names, 1, CAPS);
        assert!(pdb.is_none() && note.is_none());
        let (pdb, note) = pdb::wanted(&asl, &names, 3, CAPS);
        assert_eq!(
            pdb.and_then(|p| p.spec).and_then(|s| s.max_unavailable),
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1))
        );
        assert!(note.is_none());
        let (pdb, note) = pdb::wanted(&asl, &names, 3, Capabilities { pdb_v1: false });
        assert!(pdb.is_none());
        assert!(note.expect("note").contains("policy/v1"));
    }
}

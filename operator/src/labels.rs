//! Names and labels of the children of an `AlexaSkillLink`.

use std::collections::BTreeMap;

/// The field manager of every server-side apply, and the
/// `app.kubernetes.io/managed-by` label value.
pub const MANAGER: &str = "alexa-link-operator";
/// `app.kubernetes.io/name` of every child.
pub const APP_NAME: &str = "alexa-link";
/// Pod-template annotation: hash of the config and the Secrets pods read.
pub const CONFIG_HASH_ANNOTATION: &str = "skilllink.dev/config-hash";
/// Annotation on every child: hash of what the operator applied, so an
/// unchanged child is not applied again.
pub const APPLIED_HASH_ANNOTATION: &str = "skilllink.dev/applied-hash";

/// Labels on every child; the selector labels are a subset.
pub fn labels(instance: &str) -> BTreeMap<String, String> {
    let mut l = selector_labels(instance);
    l.insert("app.kubernetes.io/component".into(), "oauth-server".into());
    l.insert("app.kubernetes.io/managed-by".into(), MANAGER.into());
    l.insert("app.kubernetes.io/part-of".into(), "alexa-link".into());
    l.insert(
        "app.kubernetes.io/version".into(),
        env!("CARGO_PKG_VERSION").into(),
    );
    l
}

/// Labels that select the pods of one instance.
pub fn selector_labels(instance: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), APP_NAME.into()),
        ("app.kubernetes.io/instance".into(), instance.into()),
    ])
}

/// Names of the children of the resource called `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// Deployment, Service, ServiceAccount, PDB, Ingress, NetworkPolicy.
    pub main: String,
    /// ConfigMap with the server config.
    pub config: String,
    /// Owned Secret with generated keys.
    pub keys: String,
    /// PVC of the embedded store.
    pub data: String,
    /// cert-manager Certificate and the Secret it fills.
    pub tls: String,
}

impl Names {
    /// The children's names for resource `name`.
    pub fn new(name: &str) -> Self {
        Self {
            main: name.to_owned(),
            config: format!("{name}-config"),
            keys: format!("{name}-keys"),
            data: format!("{name}-data"),
            tls: format!("{name}-tls"),
        }
    }
}

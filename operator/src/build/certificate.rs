//! The cert-manager Certificate for `host`, when `tls.certManager` is set.
//! cert-manager's types are not in k8s-openapi, so it is a DynamicObject.

use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

use crate::crd::AlexaSkillLink;
use crate::labels::Names;

/// cert-manager's Certificate, `cert-manager.io/v1`.
pub fn api_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cert-manager.io", "v1", "Certificate"),
        "certificates",
    )
}

/// The Certificate `<name>-tls`, filling the Secret `<name>-tls`.
pub fn build(asl: &AlexaSkillLink, names: &Names) -> Option<DynamicObject> {
    let cm = asl.spec.tls.cert_manager.as_ref()?;
    let mut obj = DynamicObject::new(&names.tls, &api_resource());
    obj.metadata = super::meta(asl, &names.tls);
    obj.data = json!({
        "spec": {
            "secretName": names.tls,
            "dnsNames": [asl.spec.host],
            "issuerRef": {
                "name": cm.issuer_ref.name,
                "kind": cm.issuer_ref.kind.clone().unwrap_or_else(|| "Issuer".into()),
                "group": cm.issuer_ref.group.clone().unwrap_or_else(|| "cert-manager.io".into()),
            },
        }
    });
    Some(obj)
}

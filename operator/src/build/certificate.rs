//! The cert-manager Certificate for `host`, when `tls.certManager` is set.
//! cert-manager's types are not in k8s-openapi, so it is a DynamicObject.

use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

use crate::validate::{Tls, ValidatedLink};

/// cert-manager's Certificate, `cert-manager.io/v1`.
pub fn api_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cert-manager.io", "v1", "Certificate"),
        "certificates",
    )
}

/// The Certificate `<name>-tls`, filling the Secret `<name>-tls`.
pub fn build(link: &ValidatedLink) -> Option<DynamicObject> {
    let Tls::CertManager { issuer } = &link.tls else {
        return None;
    };
    let names = &link.names;
    let mut obj = DynamicObject::new(&names.tls, &api_resource());
    obj.metadata = super::meta(&link.resource, &names.tls);
    obj.data = json!({
        "spec": {
            "secretName": names.tls,
            "dnsNames": [link.resource.spec.host],
            "issuerRef": {
                "name": issuer.name,
                "kind": issuer.kind.clone().unwrap_or_else(|| "Issuer".into()),
                "group": issuer.group.clone().unwrap_or_else(|| "cert-manager.io".into()),
            },
        }
    });
    Some(obj)
}

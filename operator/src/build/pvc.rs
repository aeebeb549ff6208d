//! The PersistentVolumeClaim of the embedded store.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::validate::{Storage, ValidatedLink};

/// Default size of the store's volume.
pub const DEFAULT_SIZE: &str = "1Gi";

/// The PVC `<name>-data`, when the embedded store is used.
pub fn build(link: &ValidatedLink) -> Option<PersistentVolumeClaim> {
    let Storage::Embedded(embedded) = &link.storage else {
        return None;
    };
    Some(PersistentVolumeClaim {
        metadata: super::state_meta(&link.resource, &link.names.data),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: embedded.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(
                        embedded
                            .size
                            .clone()
                            .unwrap_or_else(|| DEFAULT_SIZE.to_owned()),
                    ),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    })
}

//! The owned Secret `<name>-keys` with generated session and encryption
//! keys, for when the spec references none.
//!
//! Keys are generated once: when the Secret already exists its values are
//! kept, because a new encryption key would make stored Amazon tokens
//! unreadable and a new session key would log every user out.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

use crate::secret_refs::{ENCRYPTION_KEY, SESSION_KEY};
use crate::validate::ValidatedLink;

/// The Secret, or `None` when the spec references both keys.
pub fn build(link: &ValidatedLink, fresh_key: &mut dyn FnMut() -> String) -> Option<Secret> {
    if !link.generates_keys {
        return None;
    }
    let existing = link.secrets.generated_keys.clone().unwrap_or_default();
    let mut data = BTreeMap::new();
    for key in [ENCRYPTION_KEY, SESSION_KEY] {
        let value = match existing.get(key) {
            Some(v) if v.len() >= 32 => v.clone(),
            _ => fresh_key().into_bytes(),
        };
        data.insert(key.to_owned(), ByteString(value));
    }
    Some(Secret {
        metadata: super::state_meta(&link.resource, &link.names.keys),
        data: Some(data),
        type_: Some("Opaque".to_owned()),
        ..Secret::default()
    })
}

/// 32 random bytes, hex encoded (64 bytes of key material in the file).
pub fn random_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

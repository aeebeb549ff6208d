//! Sealed access tokens: the token's record itself, encrypted and
//! authenticated with the server's key ring, so that verifying one needs no
//! store read and issuing one no store write.
//!
//! Format: `als_` + base64url(key ring ciphertext of the postcard-encoded
//! [`AccessTokenRecord`]). The ciphertext names its key (rotation as for the
//! other secrets: the first key seals, every key opens) and is bound by its
//! associated data to this use, so no other ciphertext of the ring passes
//! for a token. Clients see an opaque string, as with stored tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::keyring::KeyRing;
use crate::store::AccessTokenRecord;

/// What every sealed access token starts with.
pub const PREFIX: &str = "als_";

/// The key ring purpose (HKDF `info`) of sealed access tokens.
pub const PURPOSE: &[u8] = b"xchacha20poly1305 access token v1";

const AAD: &[u8] = b"alexa-link sealed access token v1";

/// Seals `record` into a token; `None` only when the ring has no key.
pub fn seal(ring: &KeyRing, record: &AccessTokenRecord) -> Option<String> {
    // The strings, their length prefixes, the grant id and two varint
    // times: encoded into the ciphertext's buffer, sized for them.
    let size = 64
        + record.client_id.len()
        + record.user_id.as_ref().map_or(0, String::len)
        + record.scope.len();
    let sealed = ring.seal_encoded(record, AAD, size)?;
    let mut token = String::with_capacity(PREFIX.len() + sealed.len().div_ceil(3) * 4);
    token.push_str(PREFIX);
    URL_SAFE_NO_PAD.encode_string(&sealed, &mut token);
    Some(token)
}

/// Opens a token [`seal`] made with a key of `ring`. `None` for anything
/// else: another prefix, bad encoding, an unknown key, tampering. Expiry and
/// the grant's state are the caller's to check.
pub fn open(ring: &KeyRing, token: &str) -> Option<AccessTokenRecord> {
    let encoded = token.strip_prefix(PREFIX)?;
    // A record is well under 1 KiB; refuse to decode megabytes of input.
    if encoded.len() > 4096 {
        return None;
    }
    let sealed = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    let plaintext = ring.open_owned(sealed, AAD).ok()?;
    postcard::from_bytes(&plaintext).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::GrantId;

    fn record() -> AccessTokenRecord {
        AccessTokenRecord {
            client_id: "alexa".into(),
            user_id: Some("user-ann".into()),
            scope: "profile".into(),
            grant_id: Some(GrantId([7; 16])),
            issued_at: 1_700_000_000,
            expires_at: 1_700_003_600,
        }
    }

    #[test]
    fn a_sealed_token_opens_to_its_record_and_hides_it() {
        let ring = KeyRing::from_material_for(&[vec![1; 32]], PURPOSE);
        let token = seal(&ring, &record()).expect("sealed");
        assert!(token.starts_with(PREFIX));
        assert!(!token.contains("alexa") && !token.contains("user-ann"));
        assert_eq!(open(&ring, &token), Some(record()));
    }

    #[test]
    fn rotation_keeps_old_tokens_and_anything_forged_fails() {
        let old = KeyRing::from_material_for(&[vec![1; 32]], PURPOSE);
        let token = seal(&old, &record()).expect("sealed");
        let rotated = KeyRing::from_material_for(&[vec![2; 32], vec![1; 32]], PURPOSE);
        assert_eq!(
            open(&rotated, &token),
            Some(record()),
            "old key still opens"
        );
        let dropped = KeyRing::from_material_for(&[vec![2; 32]], PURPOSE);
        assert_eq!(open(&dropped, &token), None, "a removed key's tokens end");

        let mut tampered = token.clone().into_bytes();
        let i = tampered.len() - 3;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert_eq!(open(&old, &tampered), None);
        assert_eq!(open(&old, "als_!!"), None);
        assert_eq!(open(&old, &token.replacen(PREFIX, "ala_", 1)), None);
        // Another purpose's ciphertext of the same ring does not pass.
        let storage = KeyRing::from_material(&[vec![1; 32]]);
        let other = storage
            .seal(&postcard::to_stdvec(&record()).expect("encode"), AAD)
            .expect("seal");
        assert_eq!(
            open(&old, &format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(other))),
            None
        );
    }
}

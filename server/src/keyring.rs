//! Encryption of stored secrets (the Amazon tokens of mutual linking) with an
//! ordered key ring: the first key encrypts, every key decrypts, and each
//! ciphertext names its key, so keys can be rotated without re-encrypting.
//!
//! XChaCha20-Poly1305 with random 192-bit nonces (no nonce bookkeeping across
//! replicas); associated data binds a ciphertext to the record it belongs to,
//! so one user's tokens cannot be copied into another's record.
//!
//! Format: `0x01 | key id (8) | nonce (24) | ciphertext+tag`.

use std::path::PathBuf;

use crate::aead::{TAG_LEN, XChaCha20Poly1305};
use rand::RngCore;
use sha2::{Digest, Sha256};

const VERSION: u8 = 1;
const HEADER: usize = 1 + 8 + 24;
/// The purpose of the stored-secret ring (the HKDF `info` it always had).
const STORED_SECRETS: &[u8] = b"xchacha20poly1305";

/// Why a ciphertext could not be opened, or keys not loaded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyRingError {
    /// A key file is unusable.
    #[error("failed to load encryption key {path}: {message}")]
    Load {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// No key in the ring has this ciphertext's key id (a key was removed
    /// too early).
    #[error("no encryption key with id {0} is configured")]
    UnknownKey(String),
    /// Tampered, truncated, or bound to another record.
    #[error("ciphertext does not authenticate")]
    Corrupt,
}

/// The ordered key ring.
pub struct KeyRing {
    keys: Vec<([u8; 8], XChaCha20Poly1305)>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = self.keys.iter().map(|(id, _)| hex(id)).collect();
        f.debug_struct("KeyRing").field("key_ids", &ids).finish()
    }
}

impl KeyRing {
    /// Loads keys from files (each at least 32 bytes of key material).
    pub fn load(files: &[PathBuf]) -> Result<KeyRing, KeyRingError> {
        KeyRing::load_for(files, STORED_SECRETS)
    }

    /// Loads keys from files for `purpose` (see [`KeyRing::from_material_for`]).
    pub fn load_for(files: &[PathBuf], purpose: &[u8]) -> Result<KeyRing, KeyRingError> {
        let mut materials = Vec::new();
        for path in files {
            let bytes = std::fs::read(path).map_err(|e| KeyRingError::Load {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            if bytes.len() < 32 {
                return Err(KeyRingError::Load {
                    path: path.display().to_string(),
                    message: format!(
                        "it holds {} bytes; at least 32 random bytes are needed",
                        bytes.len()
                    ),
                });
            }
            materials.push(bytes);
        }
        Ok(KeyRing::from_material_for(&materials, purpose))
    }

    /// A ring from key material, first key first.
    pub fn from_material(materials: &[Vec<u8>]) -> KeyRing {
        KeyRing::from_material_for(materials, STORED_SECRETS)
    }

    /// A ring for another purpose from the same key material: each purpose
    /// derives its own keys (HKDF `info`), so a ciphertext made for one is
    /// never accepted as another's. Key ids stay those of the material, so
    /// one rotation of the files rotates every purpose.
    pub fn from_material_for(materials: &[Vec<u8>], purpose: &[u8]) -> KeyRing {
        let keys = materials
            .iter()
            .map(|m| {
                let id: [u8; 32] = Sha256::new_with_prefix(b"alexa-link key id v1")
                    .chain_update(m)
                    .finalize()
                    .into();
                let mut key = [0u8; 32];
                let _ = hkdf::Hkdf::<Sha256>::new(Some(b"alexa-link keyring v1"), m)
                    .expand(purpose, &mut key);
                let mut short = [0u8; 8];
                short.copy_from_slice(&id[..8]);
                (short, XChaCha20Poly1305::new(&key))
            })
            .collect();
        KeyRing { keys }
    }

    /// Whether the ring has a key to encrypt with.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Encrypts with the first key. `aad` is authenticated, not stored.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        let (mut out, nonce, cipher) = self.start(plaintext.len())?;
        out.extend_from_slice(plaintext);
        cipher.seal_from(&nonce, aad, &mut out, HEADER);
        Some(out)
    }

    /// [`KeyRing::seal`] of `value`'s postcard encoding, encoded straight
    /// into the ciphertext's buffer (tokens that carry their claims: no
    /// plaintext buffer to fill and copy). `size_hint` is about the
    /// encoding's length; `None` when the ring has no key or `value` does
    /// not encode.
    pub fn seal_encoded<T: serde::Serialize>(
        &self,
        value: &T,
        aad: &[u8],
        size_hint: usize,
    ) -> Option<Vec<u8>> {
        let (out, nonce, cipher) = self.start(size_hint)?;
        let mut out = postcard::to_extend(value, out).ok()?;
        cipher.seal_from(&nonce, aad, &mut out, HEADER);
        Some(out)
    }

    /// What [`KeyRing::seal`] makes of `plaintext_len` bytes.
    pub const fn sealed_len(plaintext_len: usize) -> usize {
        HEADER + plaintext_len + TAG_LEN
    }

    /// A ciphertext's buffer with its header (the first key's id, a random
    /// nonce) written, room for `plaintext_len` bytes and the tag; the nonce
    /// and the first key's cipher.
    fn start(&self, plaintext_len: usize) -> Option<(Vec<u8>, [u8; 24], &XChaCha20Poly1305)> {
        let (id, cipher) = self.keys.first()?;
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(Self::sealed_len(plaintext_len));
        out.push(VERSION);
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce);
        Some((out, nonce, cipher))
    }

    /// Decrypts with whichever key the ciphertext names.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyRingError> {
        self.open_owned(sealed.to_vec(), aad)
    }

    /// [`KeyRing::open`] in the ciphertext's own buffer (one just decoded
    /// from a token): no copy.
    pub fn open_owned(&self, mut sealed: Vec<u8>, aad: &[u8]) -> Result<Vec<u8>, KeyRingError> {
        if sealed.len() < HEADER + TAG_LEN || sealed[0] != VERSION {
            return Err(KeyRingError::Corrupt);
        }
        let id = &sealed[1..9];
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(k, _)| k == id)
            .ok_or_else(|| KeyRingError::UnknownKey(hex(id)))?;
        let nonce: [u8; 24] = sealed[9..HEADER]
            .try_into()
            .map_err(|_| KeyRingError::Corrupt)?;
        cipher
            .open_from(&nonce, aad, &mut sealed, HEADER)
            .ok_or(KeyRingError::Corrupt)?;
        sealed.drain(..HEADER);
        Ok(sealed)
    }

    /// Whether a ciphertext was made with the current first key (else it
    /// should be re-encrypted when next written).
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        sealed.len() > 9 && self.keys.first().is_some_and(|(id, _)| &sealed[1..9] == id)
    }
}

/// Lower-case hex of `bytes`, in one allocation (key ids, store keys,
/// content-named files).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Vec<u8> {
        vec![n; 32]
    }

    #[test]
    fn first_key_encrypts_and_all_keys_decrypt() {
        let old = KeyRing::from_material(&[key(1)]);
        let sealed_old = old.seal(b"Atzr|secret", b"user\0amazon").expect("seal");
        let rotated = KeyRing::from_material(&[key(2), key(1)]);
        assert_eq!(
            rotated
                .open(&sealed_old, b"user\0amazon")
                .expect("old key still opens"),
            b"Atzr|secret"
        );
        assert!(!rotated.is_current(&sealed_old));
        let sealed_new = rotated.seal(b"Atzr|secret", b"user\0amazon").expect("seal");
        assert!(rotated.is_current(&sealed_new));
        assert_eq!(
            old.open(&sealed_new, b"user\0amazon"),
            Err(KeyRingError::UnknownKey(hex(&sealed_new[1..9])))
        );
    }

    #[test]
    fn each_purpose_has_its_own_keys() {
        let secrets = KeyRing::from_material(&[key(1)]);
        let tokens = KeyRing::from_material_for(&[key(1)], b"access tokens");
        let sealed = secrets.seal(b"x", b"").expect("seal");
        assert_eq!(tokens.open(&sealed, b""), Err(KeyRingError::Corrupt));
        assert!(
            tokens.is_current(&sealed),
            "the same key id names the material"
        );
    }

    #[test]
    fn ciphertexts_are_bound_to_their_record_and_tamper_evident() {
        let ring = KeyRing::from_material(&[key(1)]);
        let mut sealed = ring.seal(b"Atza|token", b"ann\0amazon").expect("seal");
        assert!(
            !sealed.windows(4).any(|w| w == b"Atza"),
            "plaintext visible"
        );
        assert_eq!(
            ring.open(&sealed, b"bob\0amazon"),
            Err(KeyRingError::Corrupt)
        );
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(
            ring.open(&sealed, b"ann\0amazon"),
            Err(KeyRingError::Corrupt)
        );
        assert_eq!(
            ring.open(&sealed[..10], b"ann\0amazon"),
            Err(KeyRingError::Corrupt)
        );
    }
}

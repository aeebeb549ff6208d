//! Refresh tokens that say what they are: the stored token's record, sealed
//! with the key ring and carried after the token's random part, so that an
//! exchange can mint the successor and go straight to the store's
//! conditional rotation, one store operation instead of a read and then the
//! rotation.
//!
//! Format: `alr_<random part>.<base64url(key ring ciphertext)>`. The random
//! part is an ordinary token ([`super::generate`]); the ciphertext holds
//! [`RefreshClaims`] and is bound by its associated data to that random
//! part, so claims cannot be moved from one token to another. The store's
//! key is the hash of the whole value as presented, like any token's.
//!
//! The claims are a hint, never the authority: the rotation itself checks
//! that the stored token is still active and its grant too. Whatever the
//! claims cannot settle (a token rotated before, a grant revoked, an
//! expired token, a retired key, a token minted without claims) takes the
//! read the exchange always did. The claims are fixed when the token is
//! minted and so is the stored record: nothing rewrites a refresh token's
//! client, user, scope or expiry.
//!
//! Claims are added only when the server has encryption keys
//! (`encryptionKeyFiles`); a server without them mints plain tokens.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::{NewToken, TokenHash, TokenKind};
use crate::keyring::{KeyRing, KeyRingError};
use crate::store::{RefreshTokenRecord, UnixTime};

/// The key ring purpose (HKDF `info`) of refresh-token claims.
pub const PURPOSE: &[u8] = b"xchacha20poly1305 refresh token claims v1";

/// Associated data before the token's random part.
const AAD: &[u8] = b"alexa-link refresh token claims v1\0";

/// Between the random part and the claims (not in base64url's alphabet).
const SEPARATOR: char = '.';

/// The longest encoded claims sealed into a token. Longer ones (a very long
/// user id or scope) make a plain token: a refresh token stays well under
/// the 2048 bytes clients are known to keep.
const MAX_CLAIMS: usize = 768;

/// What a refresh token carries about itself: its stored record as minted
/// (active) and when its grant was created (the link time the identity
/// backend's checks need). The refresh grant holds the same for a token it
/// read instead. Sealed from a borrowed record, opened into an owned one;
/// both encode the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshClaims<R = RefreshTokenRecord> {
    /// The token's record.
    pub record: R,
    /// When its grant was created.
    pub grant_created_at: UnixTime,
}

/// Mints refresh tokens, with claims when there are keys, and opens the
/// claims of presented ones.
#[derive(Debug, Default)]
pub struct RefreshTokens {
    ring: Option<KeyRing>,
}

impl RefreshTokens {
    /// Claims sealed with keys from `files` (the server's encryption keys);
    /// no files: plain tokens.
    pub fn load(files: &[PathBuf]) -> Result<RefreshTokens, KeyRingError> {
        if files.is_empty() {
            return Ok(RefreshTokens::plain());
        }
        Ok(RefreshTokens::with_ring(KeyRing::load_for(files, PURPOSE)?))
    }

    /// Plain tokens only: every exchange reads the store first.
    pub fn plain() -> RefreshTokens {
        RefreshTokens { ring: None }
    }

    /// Claims sealed with `ring` (made for [`PURPOSE`]).
    pub fn with_ring(ring: KeyRing) -> RefreshTokens {
        RefreshTokens {
            ring: Some(ring).filter(|r| !r.is_empty()),
        }
    }

    /// A new refresh token described by `record` (whose grant was created at
    /// `grant_created_at`): with claims when this server has keys and the
    /// claims are not too long, plain otherwise.
    pub fn mint(&self, record: &RefreshTokenRecord, grant_created_at: UnixTime) -> NewToken {
        let size = claims_size(record);
        // Room for `.` and the sealed claims, so that appending them does
        // not move the value.
        let room = self.ring.as_ref().map_or(0, |_| {
            1 + KeyRing::sealed_len(size.min(MAX_CLAIMS)).div_ceil(3) * 4
        });
        let (mut value, issued) = super::random_value(TokenKind::RefreshToken, room);
        if let Some(sealed) = self.ring.as_ref().and_then(|ring| {
            let claims = RefreshClaims {
                record,
                grant_created_at,
            };
            let sealed = ring.seal_encoded(&claims, &aad(&value)?, size)?;
            // Longer claims make a plain token.
            (sealed.len() <= KeyRing::sealed_len(MAX_CLAIMS)).then_some(sealed)
        }) {
            value.push(SEPARATOR);
            URL_SAFE_NO_PAD.encode_string(&sealed, &mut value);
        }
        // The key is the whole value's, as it will be presented.
        let hash = TokenHash::keyed(&value, Some(issued));
        NewToken { value, hash }
    }

    /// The claims of a presented refresh token, when it carries claims this
    /// server sealed for exactly this random part; `None` for anything else
    /// (a plain token, another prefix, tampering, a key no longer in the
    /// ring), which the exchange then reads from the store.
    pub fn claims(&self, presented: &str) -> Option<RefreshClaims> {
        let ring = self.ring.as_ref()?;
        let (random, encoded) = presented.split_once(SEPARATOR)?;
        if !random.starts_with(TokenKind::RefreshToken.prefix())
            || encoded.len() > (MAX_CLAIMS + 64) / 3 * 4 + 4
        {
            return None;
        }
        let sealed = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        let plaintext = ring.open_owned(sealed, &aad(random)?).ok()?;
        postcard::from_bytes(&plaintext).ok()
    }
}

/// About the length of a token's claims encoded, a little more: the
/// strings, their length prefixes, the grant id, the times and the state.
fn claims_size(record: &RefreshTokenRecord) -> usize {
    64 + record.client_id.len() + record.user_id.len() + record.scope.len()
}

/// The length of a refresh token's random part: `alr_` and the body.
const RANDOM_CHARS: usize = 4 + super::TIMED_CHARS;

/// The associated data binding claims to a token's random part: [`AAD`],
/// then the part. `None` for a part no token of ours has.
fn aad(random: &str) -> Option<[u8; AAD.len() + RANDOM_CHARS]> {
    if random.len() != RANDOM_CHARS {
        return None;
    }
    let mut aad = [0u8; AAD.len() + RANDOM_CHARS];
    aad[..AAD.len()].copy_from_slice(AAD);
    aad[AAD.len()..].copy_from_slice(random.as_bytes());
    Some(aad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{GrantId, RefreshState};

    fn record() -> RefreshTokenRecord {
        RefreshTokenRecord {
            grant_id: GrantId([7; 16]),
            client_id: "alexa".into(),
            user_id: "user-ann".into(),
            scope: "profile devices".into(),
            issued_at: 1_700_000_000,
            expires_at: Some(1_702_592_000),
            state: RefreshState::Active,
        }
    }

    fn tokens(keys: &[u8]) -> RefreshTokens {
        let materials: Vec<Vec<u8>> = keys.iter().map(|k| vec![*k; 32]).collect();
        RefreshTokens::with_ring(KeyRing::from_material_for(&materials, PURPOSE))
    }

    #[test]
    fn a_token_carries_its_record_sealed_and_its_key_covers_all_of_it() {
        let tokens = tokens(&[1]);
        let token = tokens.mint(&record(), 1_699_000_000);
        let (random, sealed) = token.value.split_once('.').expect("claims");
        assert!(random.starts_with("alr_") && random.len() == 4 + 52);
        assert!(!sealed.contains("alexa") && !sealed.contains("user-ann"));
        assert_eq!(token.hash, TokenHash::of(&token.value));
        assert_ne!(token.hash, TokenHash::of(random));
        assert_eq!(
            token.hash.0[..6],
            TokenHash::of(random).0[..6],
            "the key starts with the issue time, as a plain token's"
        );
        let claims = tokens.claims(&token.value).expect("opens");
        assert_eq!(claims.grant_created_at, 1_699_000_000);
        assert_eq!(claims.record, record());
        assert!(token.value.len() < 400, "{}", token.value.len());
    }

    #[test]
    fn claims_open_only_on_their_own_random_part_and_untouched() {
        let tokens = tokens(&[1]);
        let a = tokens.mint(&record(), 0).value;
        let b = tokens.mint(&record(), 0).value;
        let (a_random, a_claims) = a.split_once('.').expect("claims");
        let (b_random, _) = b.split_once('.').expect("claims");
        assert_eq!(
            tokens.claims(&format!("{b_random}.{a_claims}")),
            None,
            "moved claims"
        );
        assert_eq!(tokens.claims(a_random), None, "no claims");
        let mut tampered = a.clone().into_bytes();
        let i = tampered.len() - 3;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            tokens.claims(&String::from_utf8(tampered).expect("ascii")),
            None
        );
        assert_eq!(tokens.claims(&a.replacen("alr_", "ala_", 1)), None);
        assert_eq!(tokens.claims("alr_x.!!"), None);
        assert_eq!(
            tokens.claims(&format!("{a_random}.{}", "A".repeat(5000))),
            None
        );
    }

    #[test]
    fn key_rotation_keeps_claims_and_a_removed_key_only_loses_the_shortcut() {
        let token = tokens(&[1]).mint(&record(), 0).value;
        assert!(tokens(&[2, 1]).claims(&token).is_some(), "old key opens");
        assert_eq!(tokens(&[2]).claims(&token), None);
        assert_eq!(RefreshTokens::plain().claims(&token), None);
        // Another purpose of the same material does not open them.
        let other = RefreshTokens::with_ring(KeyRing::from_material(&[vec![1; 32]]));
        assert_eq!(other.claims(&token), None);
    }

    #[test]
    fn without_keys_or_with_long_claims_a_token_is_plain() {
        let plain = RefreshTokens::plain().mint(&record(), 0);
        assert!(!plain.value.contains('.'));
        assert_eq!(plain.hash, TokenHash::of(&plain.value));
        let long = RefreshTokenRecord {
            user_id: "u".repeat(MAX_CLAIMS),
            ..record()
        };
        let token = tokens(&[1]).mint(&long, 0);
        assert!(!token.value.contains('.'));
    }
}

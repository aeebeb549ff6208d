//! Tokens: generation and hashing of the opaque ones, sealing a rotation's
//! successor, and (in [`access`]) the three formats of access tokens.
//!
//! Every code and token is 256 random bits and its issue time, base64url
//! encoded behind a short prefix that says what it is (so secret scanners
//! and people can tell them apart). The store only ever sees
//! [`TokenHash`]es: SHA-256 is enough because the input has 256 bits of
//! entropy, and it keeps lookups to one fast hash; the issue time orders the
//! keys.

pub mod access;
pub mod jwt;
pub mod refresh;
pub mod sealed;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::LazyLock;

use crate::aead::{self, ChaCha20Poly1305};
use hkdf::HkdfExtract;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token is; decides its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An authorization code.
    AuthorizationCode,
    /// An access token.
    AccessToken,
    /// A refresh token.
    RefreshToken,
}

impl TokenKind {
    /// Every kind.
    pub const ALL: [TokenKind; 3] = [
        TokenKind::AuthorizationCode,
        TokenKind::AccessToken,
        TokenKind::RefreshToken,
    ];

    /// The prefix every token of this kind starts with.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::AuthorizationCode => "alc_",
            TokenKind::AccessToken => "ala_",
            TokenKind::RefreshToken => "alr_",
        }
    }
}

/// What the store keeps of a token as presented: the only form in which
/// tokens are stored, and their key.
///
/// For a token of ours that carries its issue time (see [`generate`]): the
/// issue time in milliseconds, 6 bytes big-endian, then the first 26 bytes
/// of the token's SHA-256. Keys of tokens minted together then lie together
/// in the store's key order, so writing them touches few pages of a B-tree
/// (the embedded store's checkpoints write every page a write touched);
/// 208 bits of SHA-256 keep the key as unguessable and collision-free as
/// the token. For any other string (tokens minted before, session ids,
/// codes of others): its SHA-256.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Hashes a presented token (or code).
    pub fn of(token: &str) -> TokenHash {
        TokenHash::keyed(token, timed_issue(token))
    }

    /// The key of `token`, whose issue time (if it carries one) is
    /// `issued`.
    fn keyed(token: &str, issued: Option<[u8; 6]>) -> TokenHash {
        let mut hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(issued) = issued {
            hash.copy_within(0..26, 6);
            hash[..6].copy_from_slice(&issued);
        }
        TokenHash(hash)
    }
}

/// The version byte of a token body that carries its issue time.
const TIMED: u8 = 1;
/// Version, issue time (ms, 6 bytes), 256 random bits.
const TIMED_BODY: usize = 1 + 6 + 32;
/// Its base64url length (39 bytes: no padding).
const TIMED_CHARS: usize = TIMED_BODY / 3 * 4;

/// The issue time a token of ours carries: one of our prefixes (`alc_`,
/// `ala_`, `alr_`), then base64url of [`TIMED_BODY`] bytes whose first is
/// [`TIMED`].
/// A refresh token may carry sealed claims after a `.` ([`refresh`]); its
/// issue time is in the part before.
fn timed_issue(token: &str) -> Option<[u8; 6]> {
    let token = token.split_once('.').map_or(token, |(random, _)| random);
    let (prefix, body) = token.split_at_checked(token.len().checked_sub(TIMED_CHARS)?)?;
    if !TokenKind::ALL.iter().any(|kind| kind.prefix() == prefix) {
        return None;
    }
    // The first 12 characters are the first 9 bytes: version and time.
    let mut head = [0u8; 9];
    URL_SAFE_NO_PAD
        .decode_slice(&body.as_bytes()[..12], &mut head)
        .ok()?;
    (head[0] == TIMED).then(|| head[1..7].try_into().expect("6 bytes"))
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Enough to correlate in a debugger; a hash reveals nothing anyway.
        write!(
            f,
            "TokenHash({:02x}{:02x}{:02x}{:02x}..)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// A freshly minted token and its hash.
pub struct NewToken {
    /// The value handed to the client, once.
    pub value: String,
    /// What the store keeps.
    pub hash: TokenHash,
}

/// Mints a new token of `kind`: its prefix, then base64url of a version
/// byte, the issue time in milliseconds (6 bytes, big-endian) and 256
/// random bits. The time orders the token's key in the store
/// ([`TokenHash`]); it tells the holder nothing it did not know.
pub fn generate(kind: TokenKind) -> NewToken {
    let (value, issued) = random_value(kind, 0);
    // The issue time is known here: no need to read it back from the value.
    let hash = TokenHash::keyed(&value, Some(issued));
    NewToken { value, hash }
}

/// The value [`generate`] hands out, and its issue time (6 bytes of
/// milliseconds), before it is hashed: a refresh token appends its claims
/// first ([`refresh`]), into the `room` left for them.
fn random_value(kind: TokenKind, room: usize) -> (String, [u8; 6]) {
    let mut body = [0u8; TIMED_BODY];
    body[0] = TIMED;
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut issued = [0u8; 6];
    issued.copy_from_slice(&millis.to_be_bytes()[2..]);
    body[1..7].copy_from_slice(&issued);
    rand::rng().fill_bytes(&mut body[7..]);
    let prefix = kind.prefix();
    let mut value = String::with_capacity(prefix.len() + TIMED_CHARS + room);
    value.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(body, &mut value);
    (value, issued)
}

/// A random 128-bit identifier (grant families, CSRF nonces).
pub fn random_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    rand::rng().fill_bytes(&mut id);
    id
}

/// Base64url of random bytes, for nonces that travel in forms and cookies.
pub fn random_nonce() -> String {
    URL_SAFE_NO_PAD.encode(random_id())
}

/// What a rotated refresh token keeps so that a retry within the grace
/// window gets the very same response. Sealed from borrowed strings
/// (`Successor<&str>`, nothing copied), opened into owned ones: both
/// encode the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Successor<S = String> {
    /// The access token issued by the rotation.
    pub access_token: S,
    /// When it expires (unix seconds).
    pub access_expires_at: i64,
    /// The refresh token issued by the rotation.
    pub refresh_token: S,
    /// The scope granted.
    pub scope: S,
}

/// The nonce before a sealed successor's ciphertext.
const SUCCESSOR_NONCE_LEN: usize = 12;

/// Encrypts `successor` under a key derived from the *old* refresh token.
///
/// Only someone who presents the old token can open it, so the successor's
/// plaintext never needs to be stored readable and no server-wide key is
/// involved: any replica that sees the retry can answer it.
///
/// The result is `nonce || ciphertext || tag`, built in one buffer: the
/// plaintext is encoded after the nonce and encrypted where it lies.
pub fn seal_successor(old_refresh_token: &str, successor: &Successor<&str>) -> Vec<u8> {
    let cipher = successor_cipher(old_refresh_token);
    let mut nonce = [0u8; SUCCESSOR_NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    // Three length prefixes and a varint i64 (at most 16 bytes), the tag.
    let capacity = SUCCESSOR_NONCE_LEN
        + successor.access_token.len()
        + successor.refresh_token.len()
        + successor.scope.len()
        + 16
        + aead::TAG_LEN;
    let mut sealed = Vec::with_capacity(capacity);
    sealed.extend_from_slice(&nonce);
    // Encoding strings and an integer into a Vec cannot fail; if it did,
    // the empty plaintext sealed here would open to nothing usable.
    let mut sealed = postcard::to_extend(successor, sealed).unwrap_or_else(|_| nonce.to_vec());
    // The key is this token's alone, the nonce random: it never repeats.
    cipher.seal_from(nonce, b"", &mut sealed, SUCCESSOR_NONCE_LEN);
    sealed
}

/// Opens what [`seal_successor`] sealed; `None` when the token does not match.
pub fn open_successor(old_refresh_token: &str, sealed: &[u8]) -> Option<Successor> {
    if sealed.len() < SUCCESSOR_NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(SUCCESSOR_NONCE_LEN);
    let nonce: [u8; SUCCESSOR_NONCE_LEN] = nonce.try_into().ok()?;
    let plaintext = successor_cipher(old_refresh_token).open(nonce, b"", ciphertext)?;
    postcard::from_bytes(&plaintext).ok()
}

/// HKDF-Extract (RFC 5869) keyed with the successor salt: HMAC's key
/// schedule for the fixed salt is done once, each token only feeds itself.
static SUCCESSOR_EXTRACT: LazyLock<HkdfExtract<Sha256>> =
    LazyLock::new(|| HkdfExtract::new(Some(b"alexa-link refresh successor v1")));

fn successor_cipher(old_refresh_token: &str) -> ChaCha20Poly1305 {
    let mut extract = SUCCESSOR_EXTRACT.clone();
    extract.input_ikm(old_refresh_token.as_bytes());
    let (_, hk) = extract.finalize();
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's output limit.
    let _ = hk.expand(b"chacha20poly1305 key", &mut key);
    ChaCha20Poly1305::new(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now_millis() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as u64
    }

    #[test]
    fn a_token_key_starts_with_its_issue_time_then_its_sha256() {
        let before = now_millis();
        let a = generate(TokenKind::RefreshToken);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = generate(TokenKind::RefreshToken);
        let after = now_millis();

        let mut issued = [0u8; 8];
        issued[2..].copy_from_slice(&a.hash.0[..6]);
        let issued = u64::from_be_bytes(issued);
        assert!(
            (before..=after).contains(&issued),
            "{before} <= {issued} <= {after}"
        );
        let sha: [u8; 32] = Sha256::digest(a.value.as_bytes()).into();
        assert_eq!(a.hash.0[6..], sha[..26], "the rest is the token's SHA-256");
        assert_eq!(
            TokenHash::of(&a.value),
            a.hash,
            "a presented token finds its key"
        );
        assert!(a.hash < b.hash, "tokens minted later sort later");
    }

    #[test]
    fn other_strings_and_tokens_minted_before_keep_their_sha256() {
        let sha = |s: &str| TokenHash(Sha256::digest(s.as_bytes()).into());
        // Before issue times: the prefix and 43 characters of 256 bits.
        let legacy = format!("alr_{}", URL_SAFE_NO_PAD.encode([7u8; 32]));
        assert_eq!(TokenHash::of(&legacy), sha(&legacy));
        // A body of the timed length with another version byte, or behind
        // a prefix of somebody else.
        let mut body = [9u8; TIMED_BODY];
        body[0] = 2;
        let other_version = format!("alr_{}", URL_SAFE_NO_PAD.encode(body));
        assert_eq!(TokenHash::of(&other_version), sha(&other_version));
        let timed = generate(TokenKind::AccessToken).value;
        let foreign = format!("xyz_{}", &timed[4..]);
        assert_eq!(TokenHash::of(&foreign), sha(&foreign));
        for s in ["", "alr_", "a session id", &"_".repeat(60)] {
            assert_eq!(TokenHash::of(s), sha(s));
        }
    }

    #[test]
    fn tokens_are_prefixed_256_bit_and_unique() {
        let a = generate(TokenKind::AccessToken);
        let b = generate(TokenKind::AccessToken);
        assert!(a.value.starts_with("ala_"));
        assert_eq!(a.value.len(), 4 + 52);
        assert_ne!(a.value, b.value);
        assert_eq!(TokenHash::of(&a.value), a.hash);
        assert!(generate(TokenKind::RefreshToken).value.starts_with("alr_"));
        assert!(
            generate(TokenKind::AuthorizationCode)
                .value
                .starts_with("alc_")
        );
    }

    #[test]
    fn successor_opens_only_with_the_old_token() {
        let s = Successor {
            access_token: "ala_x".to_owned(),
            access_expires_at: 42,
            refresh_token: "alr_y".to_owned(),
            scope: "profile".to_owned(),
        };
        let sealed = seal_successor(
            "alr_old",
            &Successor {
                access_token: "ala_x",
                access_expires_at: 42,
                refresh_token: "alr_y",
                scope: "profile",
            },
        );
        assert!(
            !sealed.windows(5).any(|w| w == b"alr_y"),
            "sealed bytes leak the token"
        );
        assert_eq!(open_successor("alr_old", &sealed), Some(s));
        assert_eq!(open_successor("alr_other", &sealed), None);
        assert_eq!(open_successor("alr_old", &sealed[..5]), None);
    }

    /// Successors sealed before the salt's HMAC state was kept (stored in
    /// refresh records) still open: the key is the same HKDF, and the
    /// layout the same `nonce || ciphertext || tag`.
    #[test]
    fn the_successor_key_and_layout_are_unchanged() {
        for token in ["alr_old", "", &"x".repeat(200)] {
            let mut expected = [0u8; 32];
            hkdf::Hkdf::<Sha256>::new(Some(b"alexa-link refresh successor v1"), token.as_bytes())
                .expand(b"chacha20poly1305 key", &mut expected)
                .expect("32 bytes");
            use chacha20poly1305::aead::{Aead, KeyInit};
            // The RustCrypto implementation that sealed successors before.
            let old = chacha20poly1305::ChaCha20Poly1305::new(&expected.into());
            let successor = Successor {
                access_token: "als_abc".to_owned(),
                access_expires_at: 1_700_000_000,
                refresh_token: "alr_def".to_owned(),
                scope: "profile devices".to_owned(),
            };
            let nonce = [9u8; SUCCESSOR_NONCE_LEN];
            let mut sealed = nonce.to_vec();
            sealed.extend(
                old.encrypt(
                    (&nonce).into(),
                    postcard::to_stdvec(&successor).expect("encode").as_slice(),
                )
                .expect("encrypt"),
            );
            assert_eq!(open_successor(token, &sealed), Some(successor.clone()));

            let borrowed = Successor {
                access_token: successor.access_token.as_str(),
                access_expires_at: successor.access_expires_at,
                refresh_token: successor.refresh_token.as_str(),
                scope: successor.scope.as_str(),
            };
            let new = seal_successor(token, &borrowed);
            assert_eq!(new.len(), sealed.len(), "same layout and size");
            let (nonce, body) = new.split_at(SUCCESSOR_NONCE_LEN);
            let plaintext = old
                .decrypt(nonce.into(), body)
                .expect("the old key opens it");
            assert_eq!(
                plaintext,
                postcard::to_stdvec(&successor).expect("encode"),
                "the same encoding"
            );
        }
    }
}

//! Proof Key for Code Exchange (RFC 7636), S256 only.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A code challenge or verifier: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn well_formed(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `challenge` can be an S256 challenge (43 base64url characters).
pub fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && well_formed(challenge)
}

/// Whether `verifier` is well formed and hashes to `challenge`.
pub fn verify(verifier: &str, challenge: &str) -> bool {
    if !well_formed(verifier) {
        return false;
    }
    let mut computed = [0u8; 43];
    let digest = Sha256::digest(verifier.as_bytes());
    if URL_SAFE_NO_PAD.encode_slice(digest, &mut computed).is_err() {
        return false;
    }
    computed.ct_eq(challenge.as_bytes()).into()
}

/// The S256 challenge of a verifier (for clients and tests).
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(challenge_of(verifier), challenge);
        assert!(valid_challenge(challenge));
        assert!(verify(verifier, challenge));
        assert!(!verify(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            challenge
        ));
        assert!(!verify("short", challenge));
    }
}

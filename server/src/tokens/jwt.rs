//! JWT access tokens (RFC 9068): signed with keys from files, verified by
//! anyone holding the published JWKS.
//!
//! Keys are PKCS#8 PEM files, Ed25519 (`EdDSA`) or P-256 (`ES256`). The
//! first key signs; every key is published (RFC 7517), each under its RFC
//! 7638 thumbprint as `kid`, so rotation is: add the new key second, wait
//! for resource servers to refresh their JWKS, move it first, and remove
//! the old one after the last token it signed expired.
//!
//! ring does the cryptography (the workspace is ring-only); this module only
//! frames it: a fixed header per key, claims as JSON, and on verification a
//! strict check of `typ`, `alg` against the key's own algorithm (no `none`,
//! no algorithm chosen by the token), signature, issuer and expiry.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::store::{AccessTokenRecord, GrantId, UnixTime};

/// The media type of RFC 9068 access tokens, as the `typ` header says it.
pub const TYP: &str = "at+jwt";

/// Why signing keys could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("failed to load access-token signing key {path}: {message}")]
pub struct SigningKeyError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub message: String,
}

enum Pair {
    /// ed25519-dalek parses the key (refusing one whose public half does
    /// not match), signs and verifies: its precomputed base-point tables
    /// sign in about three quarters of ring's time on the bench machine
    /// (signing is most of a JWT access token's cost), and it verifies
    /// faster too.
    Ed25519(ed25519_dalek::SigningKey),
    Es256(EcdsaKeyPair),
}

impl Pair {
    /// The JWS `alg` of this key's signatures.
    fn alg(&self) -> &'static str {
        match self {
            Pair::Ed25519(_) => "EdDSA",
            Pair::Es256(_) => "ES256",
        }
    }
}

struct SigningKey {
    pair: Pair,
    kid: String,
    /// `base64url(header JSON) + "."`, computed once.
    header: String,
    jwk: Value,
}

/// The signing keys, first one signing.
pub struct SigningKeys {
    keys: Vec<SigningKey>,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("SigningKeys").field("kids", &kids).finish()
    }
}

/// RFC 9068 2.2 claims, plus `gid`: the grant the token descends from, so
/// this server can refuse a token of a revoked grant.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: UnixTime,
    iat: UnixTime,
    jti: &'a str,
    client_id: &'a str,
    #[serde(default, skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gid: Option<&'a str>,
}

#[derive(Deserialize)]
struct Header<'a> {
    alg: &'a str,
    #[serde(default)]
    typ: Option<&'a str>,
    #[serde(default)]
    kid: Option<&'a str>,
}

impl SigningKeys {
    /// Loads PEM files, first one signing.
    pub fn load(files: &[PathBuf]) -> Result<SigningKeys, SigningKeyError> {
        let keys = files
            .iter()
            .map(|path| {
                let pem = std::fs::read(path).map_err(|e| SigningKeyError {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                SigningKey::from_pem(&pem).map_err(|message| SigningKeyError {
                    path: path.clone(),
                    message,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SigningKeys {
            keys,
            rng: SystemRandom::new(),
        })
    }

    /// The JWK Set document (RFC 7517 5) of every key's public half.
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    /// A signed token for `record`. `audience`: the resource server;
    /// `sub` is the user, or the client itself for `client_credentials`
    /// (RFC 9068 2.2). `None` when there is no key or signing failed.
    pub fn sign(&self, issuer: &str, audience: &str, record: &AccessTokenRecord) -> Option<String> {
        let key = self.keys.first()?;
        let jti = URL_SAFE_NO_PAD.encode(crate::tokens::random_id());
        let gid = record.grant_id.map(|g| g.to_hex());
        let claims = Claims {
            iss: issuer,
            sub: record.user_id.as_deref().unwrap_or(&record.client_id),
            aud: audience,
            exp: record.expires_at,
            iat: record.issued_at,
            jti: &jti,
            client_id: &record.client_id,
            scope: &record.scope,
            gid: gid.as_deref(),
        };
        let payload = serde_json::to_vec(&claims).ok()?;
        let mut token = String::with_capacity(key.header.len() + payload.len() * 4 / 3 + 96);
        token.push_str(&key.header);
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let es256;
        let ed25519;
        let signature: &[u8] = match &key.pair {
            Pair::Ed25519(signer) => {
                ed25519 = ed25519_dalek::Signer::sign(signer, token.as_bytes()).to_bytes();
                &ed25519
            }
            Pair::Es256(pair) => {
                es256 = pair.sign(&self.rng, token.as_bytes()).ok()?;
                es256.as_ref()
            }
        };
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Some(token)
    }

    /// The record of a token one of these keys signed for `issuer`, if its
    /// signature holds. Expiry and the grant are the caller's to check.
    pub fn verify(&self, issuer: &str, token: &str) -> Option<AccessTokenRecord> {
        if token.len() > 8192 {
            return None;
        }
        let (signed, signature) = token.rsplit_once('.')?;
        let (header, payload) = signed.split_once('.')?;
        let header_json = URL_SAFE_NO_PAD.decode(header).ok()?;
        let header: Header = serde_json::from_slice(&header_json).ok()?;
        if !header.typ.is_some_and(|t| {
            t.eq_ignore_ascii_case(TYP) || t.eq_ignore_ascii_case("application/at+jwt")
        }) {
            return None;
        }
        let key = self
            .keys
            .iter()
            .find(|k| Some(k.kid.as_str()) == header.kid)?;
        if header.alg != key.pair.alg() {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        match &key.pair {
            // Strict: no malleable signature, no weak key.
            Pair::Ed25519(signer) => signer
                .verifying_key()
                .verify_strict(
                    signed.as_bytes(),
                    &ed25519_dalek::Signature::from_slice(&signature).ok()?,
                )
                .ok()?,
            Pair::Es256(pair) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, pair.public_key())
                    .verify(signed.as_bytes(), &signature)
                    .ok()?
            }
        }
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let claims: Claims = serde_json::from_slice(&payload).ok()?;
        if claims.iss != issuer {
            return None;
        }
        let grant_id = match claims.gid {
            Some(hex) => Some(GrantId::from_hex(hex)?),
            None => None,
        };
        Some(AccessTokenRecord {
            client_id: claims.client_id.to_owned(),
            user_id: grant_id.map(|_| claims.sub.to_owned()),
            scope: claims.scope.to_owned(),
            grant_id,
            issued_at: claims.iat,
            expires_at: claims.exp,
        })
    }
}

impl SigningKey {
    fn from_pem(pem: &[u8]) -> Result<SigningKey, String> {
        let der = match rustls_pemfile::private_key(&mut &pem[..]) {
            Ok(Some(rustls::pki_types::PrivateKeyDer::Pkcs8(der))) => der,
            Ok(Some(_)) => {
                return Err(
                    "not a PKCS#8 key (convert with `openssl pkcs8 -topk8 -nocrypt`)".into(),
                );
            }
            Ok(None) => return Err("no PEM private key found".into()),
            Err(e) => return Err(format!("unreadable PEM: {e}")),
        };
        let der = der.secret_pkcs8_der();
        let ed25519 =
            <ed25519_dalek::SigningKey as ed25519_dalek::pkcs8::DecodePrivateKey>::from_pkcs8_der(
                der,
            );
        let (pair, jwk) = if let Ok(signer) = ed25519 {
            let x = URL_SAFE_NO_PAD.encode(signer.verifying_key().as_bytes());
            let jwk = json!({"crv": "Ed25519", "kty": "OKP", "x": x});
            (Pair::Ed25519(signer), jwk)
        } else if let Ok(pair) =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
        {
            // An uncompressed point: 0x04 | x (32) | y (32).
            let point = pair.public_key().as_ref();
            let x = point.get(1..33).unwrap_or_default();
            let y = point.get(33..65).unwrap_or_default();
            let jwk = json!({
                "crv": "P-256",
                "kty": "EC",
                "x": URL_SAFE_NO_PAD.encode(x),
                "y": URL_SAFE_NO_PAD.encode(y),
            });
            (Pair::Es256(pair), jwk)
        } else {
            return Err(format!(
                "only Ed25519 and P-256 (ECDSA) keys can sign access tokens (as Ed25519: {})",
                ed25519.err().map_or_else(String::new, |e| e.to_string())
            ));
        };
        let alg = pair.alg();
        // RFC 7638: the thumbprint of the required members in lexicographic
        // order, which is how `json!` (a BTreeMap) serializes them.
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.to_string().as_bytes()));
        let mut jwk = jwk;
        if let Some(map) = jwk.as_object_mut() {
            map.insert("kid".into(), kid.clone().into());
            map.insert("alg".into(), alg.into());
            map.insert("use".into(), "sig".into());
        }
        let header_json = json!({"alg": alg, "kid": kid, "typ": TYP}).to_string();
        let mut header = URL_SAFE_NO_PAD.encode(header_json);
        header.push('.');
        Ok(SigningKey {
            pair,
            kid,
            header,
            jwk,
        })
    }
}

/// Writes a new Ed25519 signing key as PKCS#8 PEM (for tests; operators
/// use `openssl genpkey -algorithm ed25519`).
#[cfg(any(test, feature = "test-support"))]
pub fn generate_ed25519_pem(path: &std::path::Path) -> std::io::Result<()> {
    let der = ring::signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| std::io::Error::other("key generation failed"))?;
    let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut text = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).unwrap_or_default());
        text.push('\n');
    }
    text.push_str("-----END PRIVATE KEY-----\n");
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(grant: Option<GrantId>) -> AccessTokenRecord {
        AccessTokenRecord {
            client_id: "alexa".into(),
            user_id: grant.map(|_| "user-ann".into()),
            scope: "profile".into(),
            grant_id: grant,
            issued_at: 1_700_000_000,
            expires_at: 1_700_003_600,
        }
    }

    fn ed25519(dir: &std::path::Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        generate_ed25519_pem(&path).expect("key");
        path
    }

    fn p256(dir: &std::path::Path) -> PathBuf {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("p256");
        let path = dir.join("p256.pem");
        std::fs::write(&path, key.serialize_pem()).expect("write");
        path
    }

    fn part(token: &str, i: usize) -> Value {
        let bytes = URL_SAFE_NO_PAD
            .decode(token.split('.').nth(i).expect("part"))
            .expect("b64");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[test]
    fn an_rfc_9068_token_carries_the_required_claims_and_round_trips() {
        let dir = tempfile::tempdir().expect("dir");
        for file in [ed25519(dir.path(), "ed.pem"), p256(dir.path())] {
            let keys = SigningKeys::load(std::slice::from_ref(&file)).expect("load");
            let grant = GrantId([3; 16]);
            let token = keys
                .sign(
                    "https://link.example.com",
                    "https://skill.example.com",
                    &record(Some(grant)),
                )
                .expect("signed");
            let header = part(&token, 0);
            assert_eq!(header["typ"], "at+jwt");
            assert_eq!(header["kid"], keys.jwks()["keys"][0]["kid"]);
            let claims = part(&token, 1);
            for claim in [
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "jti",
                "client_id",
                "scope",
            ] {
                assert!(!claims[claim].is_null(), "{claim} missing");
            }
            assert_eq!(claims["sub"], "user-ann");
            assert_eq!(claims["aud"], "https://skill.example.com");
            assert_eq!(
                keys.verify("https://link.example.com", &token),
                Some(record(Some(grant)))
            );
            assert_eq!(
                keys.verify("https://evil.example.com", &token),
                None,
                "issuer"
            );
        }
    }

    #[test]
    fn a_client_credentials_token_names_the_client_as_subject() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = SigningKeys::load(&[ed25519(dir.path(), "a.pem")]).expect("load");
        let token = keys.sign("iss", "iss", &record(None)).expect("signed");
        assert_eq!(part(&token, 1)["sub"], "alexa");
        assert_eq!(keys.verify("iss", &token), Some(record(None)));
    }

    #[test]
    fn forged_unsigned_and_foreign_tokens_fail() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = SigningKeys::load(&[ed25519(dir.path(), "a.pem")]).expect("load");
        let token = keys.sign("iss", "iss", &record(None)).expect("signed");
        let (signed, _) = token.rsplit_once('.').expect("three parts");
        // alg none, and a payload swapped under the old signature.
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
        let payload = signed.split('.').nth(1).expect("payload");
        assert_eq!(keys.verify("iss", &format!("{none}.{payload}.")), None);
        let mut other = record(None);
        other.scope = "admin".into();
        let forged_payload = keys.sign("iss", "iss", &other).expect("signed");
        let forged = format!(
            "{}.{}.{}",
            token.split('.').next().expect("h"),
            forged_payload.split('.').nth(1).expect("p"),
            token.split('.').nth(2).expect("s")
        );
        assert_eq!(keys.verify("iss", &forged), None);
        let stranger = SigningKeys::load(&[ed25519(dir.path(), "b.pem")]).expect("load");
        assert_eq!(stranger.verify("iss", &token), None, "unknown kid");
        assert_eq!(keys.verify("iss", "not.a.jwt"), None);

        // Rotation: the new key second still verifies; first, it signs.
        let both =
            SigningKeys::load(&[dir.path().join("b.pem"), dir.path().join("a.pem")]).expect("load");
        assert_eq!(both.verify("iss", &token), Some(record(None)));
        assert_eq!(both.jwks()["keys"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn a_key_that_cannot_sign_is_refused_with_its_path() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("rsa.pem");
        std::fs::write(&path, "not a key").expect("write");
        let e = SigningKeys::load(&[path]).expect_err("refused");
        assert!(e.to_string().contains("rsa.pem"), "{e}");
    }
}

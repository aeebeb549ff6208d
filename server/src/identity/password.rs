//! Password hashes: argon2 (PHC strings) and bcrypt, verified on a bounded
//! pool of blocking threads so that a burst of logins cannot take every
//! runtime thread away from the token endpoint.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Which algorithm a stored hash uses; defined with the config's checks,
/// which refuse a malformed hash at start.
pub use crate::config::PasswordHashKind;

/// Verified against for unknown users: an argon2id hash with the default
/// parameters, so it costs what a real user's verification costs. Its
/// password does not matter (a decoy check never lets anyone in), so it is
/// a constant rather than a hash computed at every start.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZPX90FawuIIuZMfvVLRe4A$HeuC1WkPCVNft0CKeQBM05vUtjAR0u9KPxHz3RBQ4VQ";

/// Verifies passwords with at most `permits` hashes computed at once.
#[derive(Clone)]
pub struct PasswordVerifier {
    permits: Arc<Semaphore>,
    /// Verified against for unknown users, so they cost the same time.
    decoy: Arc<str>,
}

impl PasswordVerifier {
    /// A verifier allowing `concurrency` simultaneous hash computations.
    pub fn new(concurrency: usize) -> PasswordVerifier {
        PasswordVerifier {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            decoy: DECOY_HASH.into(),
        }
    }

    /// Whether `password` matches `hash`. Malformed hashes never match.
    pub async fn verify(&self, hash: Arc<str>, password: &str) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || verify_blocking(&hash, &password))
            .await
            .unwrap_or(false)
    }

    /// Spends the time of one verification, for an unknown user.
    pub async fn verify_decoy(&self, password: &str) {
        let _ = self.verify(self.decoy.clone(), password).await;
    }
}

fn verify_blocking(hash: &str, password: &str) -> bool {
    match PasswordHashKind::detect(hash) {
        Ok(PasswordHashKind::Argon2) => PasswordHash::new(hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false),
        Ok(PasswordHashKind::Bcrypt) => bcrypt::verify(password, hash).unwrap_or(false),
        Err(_) => false,
    }
}

/// Hashes a password with argon2id and OWASP's recommended parameters
/// (19 MiB, 2 iterations, 1 lane).
pub fn hash_argon2(password: &str) -> String {
    hash_argon2_with(password, Params::default())
}

/// Hashes with explicit argon2id parameters (tests use cheap ones).
pub fn hash_argon2_with(password: &str, params: Params) -> String {
    let salt = SaltString::encode_b64(&crate::tokens::random_id()).unwrap_or_else(|_| {
        // 16 bytes always encode; keep a fixed fallback rather than panic.
        SaltString::from_b64("c2FsdHNhbHRzYWx0c2FsdA").expect("static salt is valid")
    });
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Params {
        Params::new(64, 1, 1, None).expect("params")
    }

    #[tokio::test]
    async fn argon2_and_bcrypt_hashes_verify() {
        let v = PasswordVerifier::new(2);
        let argon = hash_argon2_with("s3cret", cheap());
        assert_eq!(
            PasswordHashKind::detect(&argon),
            Ok(PasswordHashKind::Argon2)
        );
        assert!(v.verify(argon.clone().into(), "s3cret").await);
        assert!(!v.verify(argon.into(), "wrong").await);

        let bc = bcrypt::hash("s3cret", 4).expect("bcrypt");
        assert_eq!(PasswordHashKind::detect(&bc), Ok(PasswordHashKind::Bcrypt));
        assert!(v.verify(bc.clone().into(), "s3cret").await);
        assert!(!v.verify(bc.into(), "wrong").await);
    }

    #[test]
    fn the_decoy_costs_what_a_default_argon2id_hash_costs() {
        let decoy = PasswordHash::new(DECOY_HASH).expect("parses");
        assert_eq!(decoy.algorithm.as_str(), "argon2id");
        let params = Params::try_from(&decoy).expect("params");
        assert_eq!((params.m_cost(), params.t_cost(), params.p_cost()), {
            let d = Params::default();
            (d.m_cost(), d.t_cost(), d.p_cost())
        });
    }

    #[test]
    fn plain_passwords_are_not_hashes() {
        assert!(PasswordHashKind::detect("password").is_err());
        assert!(PasswordHashKind::detect("$2b$short").is_err());
        assert!(PasswordHashKind::detect("$argon2id$garbage").is_err());
    }
}

//! Scope strings: parsing, checking against a client's allowed set.

use super::error::{ErrorCode, OAuthError};
use crate::config::is_valid_scope_token;

/// Parses a space-delimited scope parameter (RFC 6749 3.3) and checks that
/// every token is one of `allowed`. Absent, or only spaces: all of
/// `allowed`. The result is deduplicated and in `allowed`'s order, so equal
/// grants compare equal.
pub fn resolve(requested: Option<&str>, allowed: &[String]) -> Result<Vec<String>, OAuthError> {
    // Spaces alone name no scope: the same as a parameter sent empty, which
    // counts as omitted (RFC 6749 3.1). Otherwise such a request would ask
    // for nothing here and for everything once carried through the login
    // form, where an empty scope is dropped.
    let Some(requested) = requested.filter(|r| r.split(' ').any(|t| !t.is_empty())) else {
        return Ok(allowed.to_vec());
    };
    let mut wanted = Vec::new();
    for token in requested.split(' ').filter(|t| !t.is_empty()) {
        if !is_valid_scope_token(token) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "the scope parameter is malformed",
            ));
        }
        if !allowed.iter().any(|a| a == token) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("scope {token} is not allowed for this client"),
            ));
        }
        wanted.push(token);
    }
    Ok(allowed
        .iter()
        .filter(|a| wanted.contains(&a.as_str()))
        .cloned()
        .collect())
}

/// Joins scopes for storage and responses.
pub fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}

/// Splits a stored scope string.
pub fn split(scope: &str) -> Vec<String> {
    scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["profile".into(), "email".into(), "devices".into()]
    }

    #[test]
    fn absent_scope_means_everything_allowed() {
        assert_eq!(resolve(None, &allowed()).expect("ok"), allowed());
    }

    #[test]
    fn subset_is_normalised_to_allowed_order() {
        assert_eq!(
            resolve(Some("devices  profile devices"), &allowed()).expect("ok"),
            vec!["profile".to_owned(), "devices".to_owned()]
        );
    }

    #[test]
    fn only_spaces_means_absent() {
        for spaces in [" ", "   "] {
            assert_eq!(resolve(Some(spaces), &allowed()).expect("ok"), allowed());
        }
    }

    #[test]
    fn unknown_scope_is_invalid_scope() {
        let e = resolve(Some("profile admin"), &allowed()).expect_err("admin not allowed");
        assert_eq!(e.code, ErrorCode::InvalidScope);
        assert!(e.description.contains("admin"));
    }
}

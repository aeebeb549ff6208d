//! Scope strings: parsing, checking against a client's allowed set.

use super::error::{ErrorCode, OAuthError};
use crate::config::is_valid_scope_token;

/// Parses a space-delimited scope parameter (RFC 6749 3.3) and checks that
/// every token is one of `allowed`. Absent, or only spaces: all of
/// `allowed`. The result is deduplicated and in `allowed`'s order, so equal
/// grants compare equal.
pub fn resolve(requested: Option<&str>, allowed: &[String]) -> Result<Vec<String>, OAuthError> {
    Ok(chosen(requested, allowed)?.map(str::to_owned).collect())
}

/// [`resolve`], joined as [`join`] would: one string for the record and
/// the response, without a copy of each scope on the way.
pub fn resolve_joined<S: AsRef<str>>(
    requested: Option<&str>,
    allowed: &[S],
) -> Result<String, OAuthError> {
    let mut joined = String::new();
    for scope in chosen(requested, allowed)? {
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(scope);
    }
    Ok(joined)
}

/// The scopes of `allowed` that `requested` names (all of them when it
/// names none), in `allowed`'s order; `invalid_scope` for anything else.
fn chosen<'a, S: AsRef<str>>(
    requested: Option<&str>,
    allowed: &'a [S],
) -> Result<impl Iterator<Item = &'a str>, OAuthError> {
    // Spaces alone name no scope: the same as a parameter sent empty, which
    // counts as omitted (RFC 6749 3.1). Otherwise such a request would ask
    // for nothing here and for everything once carried through the login
    // form, where an empty scope is dropped.
    let requested = requested.filter(|r| r.split(' ').any(|t| !t.is_empty()));
    let mut wanted = Vec::new();
    for token in requested.into_iter().flat_map(|r| r.split(' ')) {
        if token.is_empty() {
            continue;
        }
        if !is_valid_scope_token(token) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "the scope parameter is malformed",
            ));
        }
        if !allowed.iter().any(|a| a.as_ref() == token) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("scope {token} is not allowed for this client"),
            ));
        }
        wanted.push(token);
    }
    let everything = requested.is_none();
    Ok(allowed
        .iter()
        .map(AsRef::as_ref)
        .filter(move |a| everything || wanted.contains(a)))
}

/// Joins scopes for storage and responses.
pub fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}

/// Splits a stored scope string.
pub fn split(scope: &str) -> Vec<String> {
    split_borrowed(scope).map(str::to_owned).collect()
}

/// The scopes of a stored scope string, borrowed from it.
pub fn split_borrowed(scope: &str) -> impl Iterator<Item = &str> {
    scope.split(' ').filter(|s| !s.is_empty())
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
    fn joined_is_the_join_of_resolved() {
        let granted = "profile email devices";
        let borrowed: Vec<&str> = split_borrowed(granted).collect();
        for requested in [
            None,
            Some(" "),
            Some("devices  profile devices"),
            Some("email"),
            Some("admin"),
            Some("pro\u{1}file"),
        ] {
            let owned = resolve(requested, &allowed()).map(|s| join(&s));
            let joined = resolve_joined(requested, &borrowed);
            match (owned, joined) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{requested:?}"),
                (Err(a), Err(b)) => assert_eq!(
                    (a.code, a.description),
                    (b.code, b.description),
                    "{requested:?}"
                ),
                (a, b) => panic!("{requested:?}: {a:?} vs {b:?}"),
            }
        }
        assert_eq!(
            resolve_joined(None, &allowed()).expect("ok"),
            "profile email devices"
        );
        assert_eq!(resolve_joined::<&str>(None, &[]).expect("ok"), "");
    }

    #[test]
    fn unknown_scope_is_invalid_scope() {
        let e = resolve(Some("profile admin"), &allowed()).expect_err("admin not allowed");
        assert_eq!(e.code, ErrorCode::InvalidScope);
        assert!(e.description.contains("admin"));
    }
}

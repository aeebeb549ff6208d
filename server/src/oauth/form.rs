//! Strict parsing of `application/x-www-form-urlencoded` parameters.
//!
//! RFC 6749 3.1 and 3.2: parameters must not repeat, and a parameter sent
//! without a value is treated as omitted. A generic form extractor would
//! silently take the first or last of repeated values; this does not.

use std::borrow::Cow;

use axum::http::{HeaderMap, header};

use super::error::OAuthError;

/// Request parameters, each name at most once.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

/// Parameters are small; this bounds memory and work per request.
const MAX_PARAMS: usize = 32;

impl Params {
    /// Parses a query string or form body.
    pub fn parse(input: &[u8]) -> Result<Params, OAuthError> {
        // A token request has two to five parameters.
        let mut params: Vec<(String, String)> = Vec::with_capacity(4);
        for (name, value) in pairs(input) {
            if value.is_empty() {
                continue;
            }
            if params.iter().any(|(n, _)| *n == name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {name} is repeated; each parameter may appear once"
                )));
            }
            if params.len() == MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            params.push((name.into_owned(), value.into_owned()));
        }
        Ok(Params(params))
    }

    /// Parses a form body after checking its content type.
    pub fn from_form(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !form {
            return Err(OAuthError::invalid_request(
                "the request body must be application/x-www-form-urlencoded",
            ));
        }
        Params::parse(body)
    }

    /// The value of `name`, if present and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or `invalid_request` naming it.
    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name}")))
    }

    /// Body parameters, with the query filling what the body lacks (the
    /// partner-token endpoint accepts GET).
    pub fn from_body_and_query(
        headers: &HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Params, OAuthError> {
        let mut params = if body.is_empty() {
            Params::default()
        } else {
            Params::from_form(headers, body)?
        };
        for (name, value) in pairs(query.unwrap_or("").as_bytes()) {
            if !value.is_empty() {
                params.set_default(&name, &value);
            }
        }
        Ok(params)
    }

    /// Adds or replaces a parameter (used to merge query and body).
    pub fn set_default(&mut self, name: &str, value: &str) {
        if self.get(name).is_none() {
            self.0.push((name.to_owned(), value.to_owned()));
        }
    }
}

/// The `name=value` pairs of a form body or query string, decoded exactly
/// as `form_urlencoded::parse` decodes them.
fn pairs(input: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    input
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(decode_pair)
}

/// One non-empty `name=value` pair of a form, decoded exactly as
/// `form_urlencoded::parse` decodes it. Most pairs of a token request
/// (grant types, tokens, codes, client ids) hold nothing to decode: those
/// are borrowed as they are after one UTF-8 check, instead of three passes
/// (`+`, `%`, lossy UTF-8) over a refresh token of 200 characters.
fn decode_pair(pair: &[u8]) -> (Cow<'_, str>, Cow<'_, str>) {
    if !pair.iter().any(|&b| b == b'%' || b == b'+')
        && let Ok(text) = std::str::from_utf8(pair)
    {
        let (name, value) = text.split_once('=').unwrap_or((text, ""));
        return (Cow::Borrowed(name), Cow::Borrowed(value));
    }
    // One pair, no `&`: exactly one item.
    form_urlencoded::parse(pair).next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_rejected() {
        let err = Params::parse(b"a=1&b=2&a=3").expect_err("repeated");
        assert!(err.description.contains("parameter a is repeated"));
    }

    #[test]
    fn empty_values_count_as_absent() {
        let p = Params::parse(b"scope=&state=xyz&scope=profile").expect("parses");
        assert_eq!(p.get("scope"), Some("profile"));
        assert_eq!(p.get("state"), Some("xyz"));
        assert!(p.require("code").is_err());
    }

    #[test]
    fn values_are_percent_decoded() {
        let p = Params::parse(b"redirect_uri=https%3A%2F%2Fx.example%2Fcb%3Fa%3Db&s=a+b")
            .expect("parses");
        assert_eq!(p.get("redirect_uri"), Some("https://x.example/cb?a=b"));
        assert_eq!(p.get("s"), Some("a b"));
    }

    /// The borrowing shortcut decodes every input as `form_urlencoded`
    /// does: plain pairs, encoded ones, `=` in values, names without a
    /// value, empty pairs, invalid UTF-8 (plain and percent-encoded).
    #[test]
    fn pairs_decode_as_form_urlencoded_does() {
        use rand::{Rng as _, SeedableRng as _};
        let alphabet: &[u8] = b"ab=&%+2F.-_~0\xc3\xa9\xff ";
        let mut rng = rand::rngs::StdRng::seed_from_u64(19);
        let mut inputs: Vec<Vec<u8>> = [
            &b"grant_type=refresh_token&refresh_token=alr_x.AbC-_9"[..],
            b"a==b&&=c&d&e=&%41=%4",
            b"s=a+b&t=%C3%A9&u=%FF&v=\xff",
            b"",
            b"&&&",
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect();
        for _ in 0..5000 {
            let len = rng.random_range(0..24);
            inputs.push(
                (0..len)
                    .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                    .collect(),
            );
        }
        for input in inputs {
            let ours: Vec<_> = pairs(&input).collect();
            let theirs: Vec<_> = form_urlencoded::parse(&input).collect();
            assert_eq!(ours, theirs, "input {:?}", String::from_utf8_lossy(&input));
        }
    }

    #[test]
    fn content_type_must_be_a_form() {
        let mut h = HeaderMap::new();
        assert!(Params::from_form(&h, b"a=1").is_err());
        h.insert(
            header::CONTENT_TYPE,
            "application/json".parse().expect("hv"),
        );
        assert!(Params::from_form(&h, b"a=1").is_err());
        h.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=UTF-8"
                .parse()
                .expect("hv"),
        );
        assert_eq!(
            Params::from_form(&h, b"a=1").expect("form").get("a"),
            Some("1")
        );
    }
}

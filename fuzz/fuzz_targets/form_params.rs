//! Form bodies and query strings (`oauth/form.rs`): every endpoint's
//! parameters go through this parser first.
//!
//! Checked: it never panics, and what it accepts agrees with a plain
//! form-urlencoded reading: each named value is the one sent, exactly once.
#![no_main]

use alexa_link_server::oauth::form::Params;
use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = Params::parse(data) {
        for (name, value) in form_urlencoded::parse(data) {
            if !value.is_empty() {
                assert_eq!(params.get(&name), Some(&*value), "{name}");
            }
        }
    }
    // A body and a query, split at the first NUL.
    let (body, query) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let query = query.and_then(|q| std::str::from_utf8(q).ok());
    if let (Ok(merged), Ok(body_only)) = (
        Params::from_body_and_query(&headers, query, body),
        Params::parse(body),
    ) {
        // The body wins over the query.
        for (name, value) in form_urlencoded::parse(body) {
            if !value.is_empty() {
                assert_eq!(merged.get(&name), body_only.get(&name));
            }
        }
    }
});

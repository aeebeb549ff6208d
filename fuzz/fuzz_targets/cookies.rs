//! The `Cookie` header (`web/session.rs`): a browser, or anyone, sends any
//! bytes there on every page.
//!
//! Checked: never a panic, whatever the cookies; and the CSRF nonce a page
//! hands out is accepted with the cookies that page sets, in https
//! (`__Host-`) and plain-http modes.
#![no_main]

use alexa_link_server::web::session::CookieSettings;
use axum::http::{HeaderMap, HeaderValue, header};
use axum_extra::extract::cookie::Key;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_750_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let settings = CookieSettings {
        key: Key::from(&[7u8; 64]),
        secure: mode % 2 == 0,
        session_seconds: 3600,
        form_seconds: 600,
    };
    let mut headers = HeaderMap::new();
    for line in rest.split(|b| *b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(header::COOKIE, value);
        }
    }
    let jar = settings.jar(&headers);
    let _ = settings.session_cookie(&jar, NOW);
    let presented = std::str::from_utf8(rest).ok();
    let _ = settings.check_csrf(&jar, presented, NOW);
    let (jar, nonce) = settings.csrf(jar, NOW);
    assert!(settings.check_csrf(&jar, Some(&nonce), NOW));
    let (jar, _) = settings.take_upstream(jar, NOW);
    let _ = settings.end_session(jar);
});

//! The `Authorization: Basic` header (`oauth/clients.rs`): decoded before
//! anything else is known about the caller.
//!
//! Two ways in, picked by the first byte: raw header bytes (never a panic,
//! never a client unless its secret was sent), or an id and a secret of
//! any characters encoded as RFC 6749 2.3.1 says (form-urlencoded, then
//! base64), which must authenticate exactly when they are the right ones.
#![no_main]

use std::sync::OnceLock;

use alexa_link_config::ClientConfig;
use alexa_link_server::oauth::clients::ClientRegistry;
use alexa_link_server::oauth::form::Params;
use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "s3cret +/=:%&~ünïcode";

fn registry() -> &'static ClientRegistry {
    static REGISTRY: OnceLock<ClientRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let config: ClientConfig = serde_yaml::from_str(
            "clientId: alexa\nclientSecretFile: /unused\nredirectUris: [\"https://a.example/cb\"]\n",
        )
        .expect("client config");
        ClientRegistry::new(&[config], |_, _| Ok(SECRET.to_owned())).expect("registry")
    })
}

fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let mut headers = HeaderMap::new();
    if mode % 2 == 0 {
        let Ok(value) = HeaderValue::from_bytes(rest) else {
            return;
        };
        headers.insert(header::AUTHORIZATION, value);
        if let Ok(client) = registry().authenticate(&headers, &Params::default()) {
            assert_eq!(client.id(), "alexa");
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (id, secret) = text.split_once('\n').unwrap_or((text, SECRET));
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", enc(id), enc(secret));
    let value = format!("Basic {}", base64(credentials.as_bytes()));
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&value).expect("base64 is a valid header value"),
    );
    let result = registry().authenticate(&headers, &Params::default());
    assert_eq!(
        result.is_ok(),
        id == "alexa" && secret == SECRET,
        "{id:?} {secret:?}"
    );
});

//! The browser-facing authorization flow: login and consent pages.
//!
//! No server-side session: who is logged in, and the CSRF nonce, live in
//! short-lived cookies encrypted and authenticated with the session key
//! (AES-256-GCM), so any replica can serve any step without sticky sessions.

pub mod authorize;
pub mod links;
pub mod pages;
pub mod session;
pub mod upstream;

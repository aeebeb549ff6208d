//! alexa-link-server: an OAuth 2.0 authorization server for Alexa skill
//! account linking, including mutual account linking.
//!
//! The binary (`main.rs`) is a thin shell over this library: [`config`]
//! (the `alexa-link-config` crate) defines the file it reads and the
//! operator renders, [`app`] turns it into running parts, [`server`] serves
//! them.

pub mod admission;
pub mod aead;
pub mod alexa;
pub mod app;
pub mod app_to_app;
pub mod audit;
pub mod ca_bundle;
pub mod clock;
pub mod deprovision;
pub mod dev;
pub mod doctor;
pub mod flight_recorder;
pub mod identity;
pub mod keyring;
pub mod metrics;
pub mod oauth;
pub mod outbound;
pub mod partner;
pub mod peer;
pub mod routes;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod tokens;
pub mod web;

/// The config file's types, defaults and checks: the `alexa-link-config`
/// crate (shared with the operator), under the name the server always used.
pub use alexa_link_config as config;

#[cfg(feature = "test-support")]
pub mod testing;

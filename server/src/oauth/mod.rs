//! OAuth 2.0 protocol logic: request validation, grants, client
//! authentication and the wire format of errors. Handlers here are thin:
//! parse, call the decision functions, map the outcome.

pub mod authorize;
pub mod clients;
pub mod error;
pub mod form;
pub mod grants;
pub mod introspect;
pub mod metadata;
pub mod pkce;
pub mod refresh_policy;
pub mod revoke;
pub mod scope;
pub mod token;

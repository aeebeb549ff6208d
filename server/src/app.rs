//! The application: its state (what a config resolves into at start), the
//! public router assembled from each area's routes, and the admin endpoints.

mod admin;
mod router;
mod state;

pub use state::{AppState, Login, Shared, StartupError, open_store};

//! What every handler can reach ([`AppState`]): the use cases and the body limit. Its own file
//! so the handlers and the body reader depend on it without depending on the router.

use crate::service::Service;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub max_body_bytes: usize,
}

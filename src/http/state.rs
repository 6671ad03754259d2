//! What every handler can reach ([`AppState`]): the use cases, the body limit and the poll
//! endpoint's state. Its own file
//! so the handlers and the body reader depend on it without depending on the router.

use std::sync::Arc;

use crate::delivery::Poller;
use crate::service::Service;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub max_body_bytes: usize,
    /// The change-event poll endpoint's state; `None` when the server signs no events.
    pub poller: Option<Arc<Poller>>,
}

//! The request deadline (`[limits] request_timeout_secs`) and its promise: a request answered
//! "timed out" made no change, and a change that was made is reported, never timed out.
//!
//! `http` runs each request inside [`within`]. A write queued by the request registers its
//! [`Claim`] here (through `audit::wait`); when the deadline passes, the claim is withdrawn if
//! the writer has not taken the change yet (it is then never made: [`TimedOut`]), and otherwise
//! the request goes on to its committed result, which the limits on one request keep short.
//! It knows nothing of HTTP.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::store::Claim;

tokio::task_local! {
    /// The writes the current request has queued, in order.
    static QUEUED: Arc<Mutex<Vec<Arc<Claim>>>>;
}

/// The deadline passed before the request's change (if any) was taken by the writer: nothing
/// was changed, and the client may retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

/// Runs `request` with a deadline of `limit`.
pub async fn within<F: Future>(limit: Duration, request: F) -> Result<F::Output, TimedOut> {
    let slot: Arc<Mutex<Vec<Arc<Claim>>>> = Arc::default();
    let request = QUEUED.scope(Arc::clone(&slot), request);
    tokio::pin!(request);
    tokio::select! {
        out = &mut request => return Ok(out),
        () = tokio::time::sleep(limit) => {}
    }
    // The request is not being polled now, so it cannot queue anything while this decides.
    let claims = std::mem::take(&mut *slot.lock().unwrap_or_else(PoisonError::into_inner));
    match claims.as_slice() {
        [] => Err(TimedOut),
        [only] if only.withdraw() => Err(TimedOut),
        // Taken by the writer, or an earlier write of the request was (a request waits for
        // each write before the next): its result is the answer.
        _ => Ok(request.await),
    }
}

/// A claim for the next write of the current request, registered so that [`within`] can
/// withdraw it (a write outside any request, such as the log pruning, is not tracked).
pub(super) fn claim() -> Arc<Claim> {
    let claim = Arc::new(Claim::default());
    let _ = QUEUED.try_with(|slot| {
        slot.lock().unwrap_or_else(PoisonError::into_inner).push(Arc::clone(&claim));
    });
    claim
}

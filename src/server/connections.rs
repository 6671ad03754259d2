//! The registry of live connections: who is connected, from which address, and whether each
//! connection has a request in progress, so that the accept loop can make room for a new
//! client by shedding connections that hold a place without using it.
//!
//! An attacker's cheapest way to deny service is to open connections and send nothing (or one
//! header byte now and then): each one holds a place under `[limits] max_connections`. When
//! the cap is reached, [`Registry::shed_one`] closes the connection least likely to be a
//! working client: first the oldest that has never completed a request, then the one idle
//! longest since its last response. A connection with a request in progress is never shed.
//! With `[limits] max_connections_per_address` set, [`Registry::register`] does the same
//! within one client address, and refuses the new connection when nothing can be shed.
//!
//! This file owns no socket: shedding is a signal the connection's handler obeys by dropping
//! its connection (which closes the socket and frees its permit).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// What one connection is doing, updated by its own requests without taking the registry lock.
#[derive(Debug)]
pub struct ConnState {
    epoch: Instant,
    /// Requests whose response has not been fully sent yet.
    in_flight: AtomicU32,
    /// Requests whose response was fully sent (or abandoned).
    completed: AtomicU64,
    /// When `in_flight` last fell to 0, in milliseconds since `epoch`.
    idle_since_ms: AtomicU64,
}

impl ConnState {
    fn new(epoch: Instant) -> ConnState {
        ConnState {
            epoch,
            in_flight: AtomicU32::new(0),
            completed: AtomicU64::new(0),
            idle_since_ms: AtomicU64::new(millis(epoch, Instant::now())),
        }
    }

    /// Marks a request as started; the returned guard marks it done when dropped (when its
    /// response body has been sent or dropped).
    pub fn start_request(self: &Arc<ConnState>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestGuard { conn: Arc::clone(self) }
    }

    /// Whether any request has been received on this connection.
    pub fn has_had_a_request(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0 || self.completed.load(Ordering::Acquire) > 0
    }

    /// When the connection last became idle, or `None` while a request is in progress.
    pub fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let ms = self.idle_since_ms.load(Ordering::Acquire);
        Some(self.epoch + Duration::from_millis(ms))
    }
}

fn millis(epoch: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX)
}

/// Held while a request is in progress on its connection.
#[derive(Debug)]
pub struct RequestGuard {
    conn: Arc<ConnState>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let c = &self.conn;
        c.idle_since_ms.store(millis(c.epoch, Instant::now()), Ordering::Release);
        c.completed.fetch_add(1, Ordering::AcqRel);
        c.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why [`Registry::register`] refused a connection.
#[derive(Debug, PartialEq, Eq)]
pub struct AddressFull;

/// Every live connection, in accept order.
#[derive(Debug)]
pub struct Registry {
    epoch: Instant,
    /// 0: no per-address limit.
    per_address: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    /// By id, which grows with accept order, so iteration visits the oldest first.
    conns: BTreeMap<u64, Entry>,
    by_address: HashMap<IpAddr, usize>,
}

#[derive(Debug)]
struct Entry {
    address: IpAddr,
    state: Arc<ConnState>,
    /// Sending (or dropping) tells the connection's handler to close it.
    shed: oneshot::Sender<()>,
}

/// A connection's place in the registry; dropping it (when the connection ends) removes it.
#[derive(Debug)]
pub struct Registration {
    id: u64,
    registry: Arc<Registry>,
    pub state: Arc<ConnState>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut inner = self.registry.lock();
        // Absent when it was shed: shedding already removed it and its address count.
        if let Some(entry) = inner.conns.remove(&self.id) {
            inner.release_address(entry.address);
        }
    }
}

impl Registry {
    pub fn new(per_address: usize) -> Arc<Registry> {
        Arc::new(Registry { epoch: Instant::now(), per_address, inner: Mutex::default() })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The lock guards plain bookkeeping that every path leaves consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a connection from `address`, with the receiver that completes when the registry
    /// sheds it. At the per-address limit, sheds that address's sheddable connection first,
    /// and refuses when it has none.
    pub fn register(
        self: &Arc<Registry>,
        address: IpAddr,
    ) -> Result<(Registration, oneshot::Receiver<()>), AddressFull> {
        let mut inner = self.lock();
        if self.per_address > 0
            && inner.by_address.get(&address).copied().unwrap_or(0) >= self.per_address
            && !inner.shed(Some(address))
        {
            return Err(AddressFull);
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let state = Arc::new(ConnState::new(self.epoch));
        let (tx, rx) = oneshot::channel();
        inner.conns.insert(id, Entry { address, state: Arc::clone(&state), shed: tx });
        *inner.by_address.entry(address).or_insert(0) += 1;
        Ok((Registration { id, registry: Arc::clone(self), state }, rx))
    }

    /// Closes one connection that holds a place without using it; false when every
    /// connection has a request in progress.
    pub fn shed_one(&self) -> bool {
        self.lock().shed(None)
    }

    /// Live connections.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().conns.len()
    }
}

impl Inner {
    fn release_address(&mut self, address: IpAddr) {
        if let Some(n) = self.by_address.get_mut(&address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.by_address.remove(&address);
            }
        }
    }

    /// Sheds the best candidate (among `only`'s connections when given).
    fn shed(&mut self, only: Option<IpAddr>) -> bool {
        let candidates = self.conns.iter().filter(|(_, e)| only.is_none_or(|a| a == e.address));
        let mut longest_idle: Option<(Instant, u64)> = None;
        let mut victim = None;
        for (&id, entry) in candidates {
            let Some(idle_since) = entry.state.idle_since() else { continue };
            if !entry.state.has_had_a_request() {
                // The oldest connection that never completed a request: the first found.
                victim = Some(id);
                break;
            }
            if longest_idle.is_none_or(|(since, _)| idle_since < since) {
                longest_idle = Some((idle_since, id));
            }
        }
        let Some(id) = victim.or(longest_idle.map(|(_, id)| id)) else {
            return false;
        };
        if let Some(entry) = self.conns.remove(&id) {
            self.release_address(entry.address);
            let _ = entry.shed.send(());
        }
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn sheds_the_oldest_silent_connection_then_the_longest_idle_never_a_busy_one() {
        let registry = Registry::new(0);
        let (busy, mut busy_shed) = registry.register(A).unwrap();
        let _guard = busy.state.start_request();
        let (idle, mut idle_shed) = registry.register(A).unwrap();
        drop(idle.state.start_request());
        let (_old, mut old_shed) = registry.register(B).unwrap();
        let (_new, mut new_shed) = registry.register(B).unwrap();

        assert!(registry.shed_one());
        assert!(old_shed.try_recv().is_ok());
        assert!(registry.shed_one());
        assert!(new_shed.try_recv().is_ok());
        assert!(registry.shed_one());
        assert!(idle_shed.try_recv().is_ok());
        assert!(!registry.shed_one(), "a connection with a request in progress stays");
        assert!(busy_shed.try_recv().is_err());
        assert_eq!(registry.len(), 1);
    }

    #[test]
    fn the_per_address_limit_sheds_within_the_address_or_refuses() {
        let registry = Registry::new(2);
        let (_first, mut first_shed) = registry.register(A).unwrap();
        let (second, _) = registry.register(A).unwrap();
        let _other = registry.register(B).unwrap();
        let (third, _) = registry.register(A).unwrap();
        assert!(first_shed.try_recv().is_ok(), "the oldest of A's silent connections goes");
        let _busy = (second.state.start_request(), third.state.start_request());
        assert_eq!(registry.register(A).unwrap_err(), AddressFull);
        drop(second);
        assert!(registry.register(A).is_ok(), "a closed connection frees its place");
    }
}

//! Serving the inter-bank API on a listener of its own, which nobody outside the consortium can
//! stop: connections are bounded per source address and in all, and a connection that does not
//! send its request headers within a short deadline is closed. (The signature is checked from the
//! headers before any body is read, `interbank::verify_peer`; so an outsider's connection costs
//! this bank one small task for at most the deadline.)

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The bounds of a guarded listener.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Open connections from one address, at most (the consortium's banks keep a few each).
    pub per_address: usize,
    /// Open connections in all, at most.
    pub total: usize,
    /// A connection must send each request's headers within this long, or it is closed.
    pub header_timeout: Duration,
}

/// The inter-bank listener's bounds: generous for members (a bank keeps a pool of a few dozen
/// connections to each peer), tight for anyone else.
pub const INTERBANK: Limits = Limits {
    per_address: 128,
    total: 1_024,
    header_timeout: Duration::from_secs(2),
};

/// Counts open connections per address; a slot is given back when its guard drops.
#[derive(Clone, Default)]
struct PerAddress(Arc<Mutex<HashMap<IpAddr, usize>>>);

struct Slot {
    table: PerAddress,
    ip: IpAddr,
}

impl PerAddress {
    fn take(&self, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut table = self.0.lock().expect("connection table lock");
        let open = table.entry(ip).or_default();
        if *open >= max {
            return None;
        }
        *open += 1;
        Some(Slot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut table = self.table.0.lock().expect("connection table lock");
        if let Some(open) = table.get_mut(&self.ip) {
            *open -= 1;
            if *open == 0 {
                table.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves. A connection beyond
/// a bound is closed at once, before anything is read from it.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let total = Arc::new(Semaphore::new(limits.total));
    let per_address = PerAddress::default();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accepting an inter-bank connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => return,
        };
        let Ok(permit) = total.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "too many inter-bank connections; closed");
            continue;
        };
        let Some(slot) = per_address.take(peer.ip(), limits.per_address) else {
            tracing::warn!(%peer, "too many inter-bank connections from one address; closed");
            continue;
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "setting TCP_NODELAY on a connection");
        }
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let _held = (permit, slot);
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_per_connection_up_to_the_bound_and_given_back() {
        let table = PerAddress::default();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let held: Vec<Slot> = (0..3).map(|_| table.take(ip, 3).unwrap()).collect();
        assert!(table.take(ip, 3).is_none(), "the fourth from that address");
        assert!(
            table.take("10.0.0.8".parse().unwrap(), 3).is_some(),
            "another address is not held up"
        );
        drop(held);
        assert!(table.take(ip, 3).is_some(), "given back as they close");
    }
}

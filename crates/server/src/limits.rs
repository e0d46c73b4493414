//! Isolation of registry work: per-registry-host fair queues under a global limit, and a
//! bounded pool of blocking threads for registry I/O with an overall deadline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::check_error::{CheckError, CheckErrorKind};

/// A limit of `total` holders at once, of which at most `per_host` for one registry host.
/// Waiters queue first in their host's own first-come queue, then in the global one, so a
/// registry that never answers can hold at most `per_host` places and never the rest.
///
/// Bound: one semaphore per registry host with a holder or waiter; idle hosts are dropped.
#[derive(Debug)]
pub struct HostLimit {
    total: Arc<Semaphore>,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A place held under a [`HostLimit`]; dropping it frees the place.
#[derive(Debug)]
pub struct Place {
    _host: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

impl HostLimit {
    /// At most `total` at once (at least 1), at most `per_host` (at least 1, at most
    /// `total`) for one host.
    pub fn new(total: usize, per_host: usize) -> Self {
        let total = total.max(1);
        Self {
            total: Arc::new(Semaphore::new(total)),
            per_host: per_host.clamp(1, total),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    fn host(&self, host: &str) -> Arc<Semaphore> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        // Forget hosts nobody holds or waits for (only the map refers to them).
        hosts.retain(|_, s| Arc::strong_count(s) > 1);
        Arc::clone(
            hosts
                .entry(host.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
        )
    }

    /// Wait for a place for `host` until `deadline`; `None` if the deadline came first.
    pub async fn acquire(&self, host: &str, deadline: Instant) -> Option<Place> {
        let host = self.host(host);
        let host = tokio::time::timeout_at(deadline, host.acquire_owned())
            .await
            .ok()?
            .ok()?;
        let total = tokio::time::timeout_at(deadline, Arc::clone(&self.total).acquire_owned())
            .await
            .ok()?
            .ok()?;
        Some(Place {
            _host: host,
            _total: total,
        })
    }

    /// Places free right now (for metrics and tests).
    pub fn available(&self) -> usize {
        self.total.available_permits()
    }
}

/// Blocking registry I/O on a bounded set of threads (see [`HostLimit`]), separate from
/// the database's threads, each call with an overall deadline.
#[derive(Debug)]
pub struct RegistryThreads {
    limit: HostLimit,
}

impl RegistryThreads {
    /// At most `total` threads, `per_host` for one registry host.
    pub fn new(total: usize, per_host: usize) -> Self {
        Self {
            limit: HostLimit::new(total, per_host),
        }
    }

    /// Run `work` on a blocking thread for registry `host`, waiting for a thread and
    /// running at most until `deadline`. The registry client gets the deadline too (see
    /// `portcullis_oci::registry::with_deadline`), so the thread itself ends right after it;
    /// the thread's place is freed when it does.
    pub async fn run<T, F>(
        &self,
        host: &str,
        deadline: Instant,
        what: &str,
        work: F,
    ) -> Result<T, CheckError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, CheckError> + Send + 'static,
    {
        let place = self.limit.acquire(host, deadline).await.ok_or_else(|| {
            CheckError::new(
                CheckErrorKind::Timeout,
                format!("{what}: no registry thread for {host} became free before the deadline"),
            )
        })?;
        let until = deadline.into_std();
        let handle = tokio::task::spawn_blocking(move || {
            let _place = place;
            portcullis_oci::registry::with_deadline(Some(until), work)
        });
        match tokio::time::timeout_at(deadline, handle).await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => Err(CheckError::new(
                CheckErrorKind::Scan,
                format!("{what}: {e}"),
            )),
            Err(_) => Err(CheckError::new(
                CheckErrorKind::Timeout,
                format!("{what}: registry {host} did not finish before the deadline"),
            )),
        }
    }

    /// Threads free right now.
    pub fn available(&self) -> usize {
        self.limit.available()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_host_cannot_take_every_place() {
        let limit = HostLimit::new(3, 2);
        let far = Instant::now() + Duration::from_secs(60);
        let a1 = limit.acquire("a", far).await.unwrap();
        let _a2 = limit.acquire("a", far).await.unwrap();
        let soon = Instant::now() + Duration::from_millis(20);
        assert!(limit.acquire("a", soon).await.is_none());
        let b = limit.acquire("b", far).await.unwrap();
        assert_eq!(limit.available(), 0);
        drop(a1);
        drop(b);
        assert_eq!(limit.available(), 2);
        let _a3 = limit.acquire("a", far).await.unwrap();
    }

    #[tokio::test]
    async fn a_stuck_call_is_abandoned_at_its_deadline() {
        let threads = RegistryThreads::new(1, 1);
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let soon = Instant::now() + Duration::from_millis(50);
        let stuck = threads
            .run("h", soon, "test", move || {
                let _ = gate.recv();
                Ok(1)
            })
            .await;
        let stuck = stuck.unwrap_err();
        assert_eq!(stuck.kind(), CheckErrorKind::Timeout);
        assert!(stuck.message().contains("before the deadline"), "{stuck}");
        release.send(()).unwrap();
        let far = Instant::now() + Duration::from_secs(60);
        assert_eq!(threads.run("h", far, "test", || Ok(2)).await, Ok(2));
    }
}

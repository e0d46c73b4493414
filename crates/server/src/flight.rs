//! Single flight: concurrent callers asking for the same key share one piece of work, which
//! runs to its end in the background even if every caller stops waiting.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::time::Instant;

/// What a finished flight hands to everyone waiting: a value or why there is none.
pub type Landing<T> = Result<T, crate::check_error::CheckError>;

/// Work in flight, by key.
#[derive(Debug)]
pub struct Flights<T> {
    map: Mutex<HashMap<String, watch::Receiver<Option<Landing<T>>>>>,
}

impl<T> Default for Flights<T> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }
}

/// A ticket to wait for one flight.
#[derive(Debug)]
pub struct Ticket<T> {
    receiver: watch::Receiver<Option<Landing<T>>>,
}

impl<T: Clone + Send + Sync + 'static> Flights<T> {
    /// Join the flight for `key`, or start `work` as a new background task if none is in
    /// the air.
    pub fn join<F>(self: &Arc<Self>, key: &str, work: F) -> Ticket<T>
    where
        F: Future<Output = Landing<T>> + Send + 'static,
    {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(receiver) = map.get(key) {
            return Ticket {
                receiver: receiver.clone(),
            };
        }
        let (sender, receiver) = watch::channel(None);
        map.insert(key.to_string(), receiver.clone());
        drop(map);
        let this = Arc::clone(self);
        let key = key.to_string();
        tokio::spawn(async move {
            let landing = work.await;
            this.map
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            let _ = sender.send(Some(landing));
        });
        Ticket { receiver }
    }

    /// How many flights are in the air.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl<T: Clone> Ticket<T> {
    /// Wait for the landing until `deadline` (`None`: as long as it takes). `None` when
    /// the deadline passed first.
    pub async fn wait(mut self, deadline: Option<Instant>) -> Option<Landing<T>> {
        let waiting = self.receiver.wait_for(Option::is_some);
        let landed = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, waiting).await.ok()?,
            None => waiting.await,
        };
        match landed {
            Ok(value) => value.clone(),
            Err(_) => Some(Err(crate::check_error::CheckError::new(
                crate::check_error::CheckErrorKind::Scan,
                "the work was abandoned",
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_one_run() {
        let flights: Arc<Flights<u32>> = Arc::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let (release, gate) = watch::channel(false);
        let mut tickets = Vec::new();
        for _ in 0..50 {
            let runs = Arc::clone(&runs);
            let mut gate = gate.clone();
            tickets.push(flights.join("k", async move {
                runs.fetch_add(1, Ordering::SeqCst);
                let _ = gate.wait_for(|open| *open).await;
                Ok(7)
            }));
        }
        release.send(true).unwrap();
        for ticket in tickets {
            assert_eq!(ticket.wait(None).await, Some(Ok(7)));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(flights.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_caller_past_its_deadline_leaves_the_work_running() {
        let flights: Arc<Flights<u32>> = Arc::default();
        let (release, gate) = watch::channel(false);
        let mut g = gate.clone();
        let ticket = flights.join("k", async move {
            let _ = g.wait_for(|open| *open).await;
            Ok(1)
        });
        let past = Instant::now() + Duration::from_millis(1);
        assert_eq!(ticket.wait(Some(past)).await, None);
        assert_eq!(flights.in_flight(), 1);
        let again = flights.join("k", async { Ok(2) });
        release.send(true).unwrap();
        assert_eq!(again.wait(None).await, Some(Ok(1)));
    }
}

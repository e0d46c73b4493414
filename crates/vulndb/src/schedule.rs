//! The periodic updater: run a job every interval plus jitter, on a plain thread.
//!
//! [`Scheduler::start`] spawns one thread that runs the job (typically
//! [`Updater::update`](crate::fetch::Updater::update)), then sleeps for
//! [`next_delay`] (the interval plus a random jitter, or the retry delay after a failure)
//! on a channel, so [`Scheduler::trigger`] runs it at once and [`Scheduler::stop`] ends it
//! promptly (a run in progress finishes first). No async runtime is needed; a tokio server
//! can own a `Scheduler` as is (it never blocks the runtime), or drive the job itself with
//! `spawn_blocking` and [`next_delay`].

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

/// When the job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Time between the end of one run and the start of the next (default 1 hour).
    pub interval: Duration,
    /// Up to this much random time is added to each interval (default 5 minutes), so that
    /// replicas do not all hit the mirrors at once.
    pub jitter: Duration,
    /// Delay before retrying after a failed run (default 5 minutes, never above the
    /// interval).
    pub retry_after_failure: Duration,
    /// Run once immediately when started (default true).
    pub run_at_start: bool,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(3600),
            jitter: Duration::from_secs(300),
            retry_after_failure: Duration::from_secs(300),
            run_at_start: true,
        }
    }
}

/// The delay before the next run, given whether the last one succeeded and a random number.
pub fn next_delay(config: &ScheduleConfig, last_succeeded: bool, random: u64) -> Duration {
    if !last_succeeded {
        return config.retry_after_failure.min(config.interval);
    }
    let jitter_ms = config.jitter.as_millis().min(u128::from(u64::MAX)) as u64;
    let extra = random.checked_rem(jitter_ms.saturating_add(1)).unwrap_or(0);
    config.interval.saturating_add(Duration::from_millis(extra))
}

fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

enum Command {
    Trigger,
    Stop,
}

/// A running schedule. Dropping it stops it (and waits for a run in progress).
#[derive(Debug)]
pub struct Scheduler {
    commands: mpsc::Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Trigger => "Trigger",
            Command::Stop => "Stop",
        })
    }
}

impl Scheduler {
    /// Start running `job` on its own thread according to `config`. Each run's error is
    /// logged and passed to no one else; wrap the job to observe results.
    pub fn start<F>(config: ScheduleConfig, mut job: F) -> Result<Self>
    where
        F: FnMut() -> Result<()> + Send + 'static,
    {
        if config.interval.is_zero() {
            return Err(Error::new(
                ErrorKind::InvalidOptions,
                "update schedule: the interval must be positive",
            ));
        }
        let (commands, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("vulndb-updater".to_owned())
            .spawn(move || {
                let mut run_now = config.run_at_start;
                loop {
                    let mut ok = true;
                    if run_now && let Err(err) = job() {
                        tracing::warn!(error = %err, "scheduled database update failed");
                        ok = false;
                    }
                    let delay = next_delay(&config, ok, random_u64());
                    match receiver.recv_timeout(delay) {
                        Ok(Command::Trigger) | Err(RecvTimeoutError::Timeout) => run_now = true,
                        Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .map_err(|e| Error::io("update schedule: starting its thread", e))?;
        Ok(Self {
            commands,
            thread: Some(thread),
        })
    }

    /// Run the job now (after a run in progress, if any), then resume the schedule.
    pub fn trigger(&self) {
        let _ = self.commands.send(Command::Trigger);
    }

    /// Stop the schedule and wait for its thread (a run in progress finishes first).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays() {
        let config = ScheduleConfig::default();
        assert_eq!(next_delay(&config, true, 0), Duration::from_secs(3600));
        assert_eq!(
            next_delay(&config, true, 300_000),
            Duration::from_secs(3900)
        );
        assert_eq!(
            next_delay(&config, true, 300_001),
            Duration::from_secs(3600)
        );
        assert_eq!(next_delay(&config, false, 7), Duration::from_secs(300));
        let no_jitter = ScheduleConfig {
            jitter: Duration::ZERO,
            ..config
        };
        assert_eq!(
            next_delay(&no_jitter, true, u64::MAX),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn trigger_runs_and_stop_ends() {
        let (tx, rx) = mpsc::channel();
        let config = ScheduleConfig {
            run_at_start: false,
            ..ScheduleConfig::default()
        };
        let scheduler = Scheduler::start(config, move || {
            let _ = tx.send(());
            Ok(())
        })
        .unwrap();
        assert!(rx.try_recv().is_err());
        scheduler.trigger();
        rx.recv_timeout(Duration::from_secs(60)).unwrap();
        scheduler.trigger();
        rx.recv_timeout(Duration::from_secs(60)).unwrap();
        scheduler.stop();
        assert!(rx.recv().is_err(), "the job is dropped once stopped");
    }

    #[test]
    fn failures_are_retried_and_run_at_start() {
        let (tx, rx) = mpsc::channel();
        let config = ScheduleConfig {
            retry_after_failure: Duration::from_millis(1),
            ..ScheduleConfig::default()
        };
        let mut runs = 0;
        let scheduler = Scheduler::start(config, move || {
            runs += 1;
            let _ = tx.send(runs);
            if runs < 3 {
                Err(Error::new(ErrorKind::Network, "mirror down"))
            } else {
                Ok(())
            }
        })
        .unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(60)).unwrap(), 1);
        assert_eq!(rx.recv_timeout(Duration::from_secs(60)).unwrap(), 2);
        assert_eq!(rx.recv_timeout(Duration::from_secs(60)).unwrap(), 3);
        drop(scheduler);
    }
}

//! A stand-in for sleeping, to inject where code waits out retry delays: the delays are
//! recorded per thread instead of slept.

use std::cell::RefCell;
use std::time::Duration;

thread_local! {
    /// The delays recorded on this thread.
    static SLEPT: RefCell<Vec<Duration>> = const { RefCell::new(Vec::new()) };
}

/// Record `delay` (on this thread) instead of sleeping.
pub fn record_sleep(delay: Duration) {
    SLEPT.with(|slept| slept.borrow_mut().push(delay));
}

/// The delays recorded on this thread since the last call.
pub fn slept() -> Vec<Duration> {
    SLEPT.with(|slept| std::mem::take(&mut *slept.borrow_mut()))
}

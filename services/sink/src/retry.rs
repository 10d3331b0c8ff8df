//! Exponential backoff for output retries.

use std::time::Duration;

use tokio::time::Instant;

/// When to try writing again after a failure.
pub struct Retry {
    initial: Duration,
    max: Duration,
    wait: Option<Duration>,
    next: Instant,
}

impl Retry {
    /// Backoff from `initial_ms`, doubling up to `max_ms`.
    pub fn new(initial_ms: u64, max_ms: u64) -> Self {
        Retry {
            initial: Duration::from_millis(initial_ms),
            max: Duration::from_millis(max_ms),
            wait: None,
            next: Instant::now(),
        }
    }

    /// Whether a write may be tried now.
    pub fn due(&self) -> bool {
        Instant::now() >= self.next
    }

    /// Whether the last write failed.
    pub fn failing(&self) -> bool {
        self.wait.is_some()
    }

    /// Records a failure; returns the wait before the next try.
    pub fn failed(&mut self) -> Duration {
        let wait = self.wait.map_or(self.initial, |w| (w * 2).min(self.max));
        self.wait = Some(wait);
        self.next = Instant::now() + wait;
        wait
    }

    /// Records a success; true if it ends a run of failures.
    pub fn succeeded(&mut self) -> bool {
        self.wait.take().is_some()
    }
}

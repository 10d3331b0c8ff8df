//! Waiting between tries, the one way every service does it: exponential
//! backoff with jitter after transient errors ([`Backoff`]; [`RetryGate`]
//! for a loop that must keep running while it waits), a jittered pace for
//! polling within a rate-limit budget ([`Pacer`]), and sleeps that end
//! early on shutdown.

use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longest wait a server's rate-limit reset time may impose.
const MAX_SERVER_HINT: Duration = Duration::from_secs(3600);

/// Exponential backoff: `initial`, doubling up to `max`, each wait drawn
/// uniformly from its upper half so many clients do not retry in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `initial` and capped at `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// Failures since the last success.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Forgets past failures after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The wait before the next retry. A server's hint (a rate-limit reset
    /// time) is honoured when longer, up to an hour.
    pub fn next_delay(&mut self, server_hint: Option<Duration>) -> Duration {
        let factor = 1u32 << self.attempt.min(20);
        self.attempt = self.attempt.saturating_add(1);
        let base = self.initial.saturating_mul(factor).min(self.max);
        let jittered = base / 2 + jitter(base / 2);
        match server_hint {
            Some(hint) => jittered.max(hint.min(MAX_SERVER_HINT) + jitter(self.initial)),
            None => jittered,
        }
    }
}

/// A [`Backoff`] for a loop that keeps running while it waits (the sink
/// keeps consuming while an output is down): it says when the next try is
/// due instead of sleeping.
#[derive(Debug, Clone)]
pub struct RetryGate {
    backoff: Backoff,
    next: Option<Instant>,
}

impl RetryGate {
    /// A gate whose waits start at `initial` and are capped at `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        RetryGate {
            backoff: Backoff::new(initial, max),
            next: None,
        }
    }

    /// Whether a try may be made now.
    pub fn due(&self) -> bool {
        self.next.is_none_or(|next| Instant::now() >= next)
    }

    /// Whether the last try failed.
    pub fn failing(&self) -> bool {
        self.backoff.attempt() > 0
    }

    /// Records a failure; returns the wait before the next try.
    pub fn failed(&mut self) -> Duration {
        let wait = self.backoff.next_delay(None);
        self.next = Some(Instant::now() + wait);
        wait
    }

    /// Records a success; `true` if it ends a run of failures.
    pub fn succeeded(&mut self) -> bool {
        let was_failing = self.failing();
        self.backoff.reset();
        self.next = None;
        was_failing
    }
}

/// A uniformly random duration in `0..=max`.
fn jitter(max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

/// Spaces requests `interval` apart, give or take `jitter_percent`.
#[derive(Debug, Clone)]
pub struct Pacer {
    min: Duration,
    spread: Duration,
    next: Option<Instant>,
}

impl Pacer {
    /// A pacer whose first request goes out at once.
    pub fn new(interval: Duration, jitter_percent: u32) -> Self {
        let spread = interval * jitter_percent.min(100) / 100;
        Pacer {
            min: interval - spread,
            spread: spread * 2,
            next: None,
        }
    }

    /// A pacer whose gaps are at least `min`, plus a random extra of up to
    /// `extra_percent` of it.
    pub fn at_least(min: Duration, extra_percent: u32) -> Self {
        Pacer {
            min,
            spread: min * extra_percent / 100,
            next: None,
        }
    }

    /// The interval for a budget of `calls_per_hour` requests.
    pub fn interval_for_budget(calls_per_hour: u32) -> Duration {
        Duration::from_secs(3600) / calls_per_hour.max(1)
    }

    /// Waits for the next request's turn; `false` if `shutdown` came first.
    pub async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        if let Some(next) = self.next
            && !sleep_until(next, shutdown).await
        {
            return false;
        }
        self.next = Some(Instant::now() + self.min + jitter(self.spread));
        true
    }
}

/// Sleeps for `duration`; `false` if `shutdown` came first.
pub async fn sleep(duration: Duration, shutdown: &CancellationToken) -> bool {
    sleep_until(Instant::now() + duration, shutdown).await
}

/// Sleeps until `deadline`; `false` if `shutdown` came first.
pub async fn sleep_until(deadline: Instant, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep_until(deadline) => true,
        () = shutdown.cancelled() => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        for expected_base in [100u64, 200, 400, 800, 1000, 1000] {
            let delay = backoff.next_delay(None).as_millis() as u64;
            assert!(
                (expected_base / 2..=expected_base).contains(&delay),
                "{delay} for base {expected_base}"
            );
        }
        backoff.reset();
        assert!(backoff.next_delay(None) <= Duration::from_millis(100));
        let hinted = backoff.next_delay(Some(Duration::from_secs(30)));
        assert!(hinted >= Duration::from_secs(30) && hinted <= Duration::from_millis(30_100));
    }

    #[test]
    fn the_gate_holds_tries_back_until_due() {
        let mut gate = RetryGate::new(Duration::from_secs(60), Duration::from_secs(120));
        assert!(gate.due() && !gate.failing());
        let wait = gate.failed();
        assert!(wait >= Duration::from_secs(30) && wait <= Duration::from_secs(60));
        assert!(!gate.due() && gate.failing());
        assert!(gate.succeeded());
        assert!(gate.due() && !gate.succeeded());
        let mut quick = RetryGate::new(Duration::ZERO, Duration::ZERO);
        quick.failed();
        assert!(quick.due() && quick.failing());
    }

    #[test]
    fn budget_gives_the_interval() {
        assert_eq!(Pacer::interval_for_budget(150), Duration::from_secs(24));
        assert_eq!(Pacer::interval_for_budget(0), Duration::from_secs(3600));
    }

    // Real time, not tokio's paused clock: its `test-util` feature would
    // give the test build a different tokio than the release binaries, and
    // `tests/run.sh` would compile the whole workspace twice.
    #[tokio::test]
    async fn pacer_spaces_requests_within_the_jitter() {
        let shutdown = CancellationToken::new();
        let mut pacer = Pacer::new(Duration::from_millis(200), 10);
        let start = Instant::now();
        assert!(pacer.wait(&shutdown).await);
        assert!(start.elapsed() < Duration::from_millis(50), "first wait");
        assert!(pacer.wait(&shutdown).await);
        let gap = start.elapsed();
        // The timer never fires early; a loaded machine may fire it late.
        assert!(
            gap >= Duration::from_millis(180) && gap <= Duration::from_secs(2),
            "{gap:?}"
        );
        shutdown.cancel();
        let cancelled = Instant::now();
        assert!(!pacer.wait(&shutdown).await);
        assert!(
            cancelled.elapsed() < Duration::from_millis(150),
            "a cancelled wait returns at once"
        );
    }
}

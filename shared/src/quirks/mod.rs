//! Workarounds for the local test broker's faults, all here, behind one
//! switch: `kafka.local_broker_quirks` (env
//! `<SERVICE>__KAFKA__LOCAL_BROKER_QUIRKS`, or `KAFKA_LOCAL_BROKER_QUIRKS=true`
//! for every service at once). It is off by default, and the product's
//! defaults fit the brokers users run (Redpanda, Kafka). `deploy/local`, the
//! tests and the benchmark turn it on: they run Tansu (0.6.0, or the build of
//! its main branch at 510f3e2) with its memory engine.
//!
//! The faults, and what the switch turns on for each:
//!
//! 1. **A fetch inside a batch skips the rest of it** (0.6.0; fixed upstream
//!    by 87db6ea): a consumer resuming from an offset committed mid-batch
//!    gets the next batch. The gap guard ([`continuity`], applied per record
//!    by [`resume::Resumer`]) seeks back for the skipped records.
//! 2. **A produce advances a partition's end before it stores the batch**
//!    (not fixed upstream as of 510f3e2): a fetch may return a later batch
//!    before an earlier one. The same guard seeks back to the missing offset.
//! 3. **A partition left silent** by fault 1 (resumed inside its last
//!    batch): a stall check every [`STALL_CHECK`] compares what came with
//!    the partition's end and seeks back.
//! 4. **A join that is never answered**: in CI runs one filter replica
//!    sometimes got every partition while the others never heard back from
//!    their join. A replica that has not joined [`JOIN_RETRY_AFTER`] after
//!    subscribing subscribes again ([`JoinWatch`]).
//! 5. **Slow joins and held fetches**: every group join waits half of
//!    `session.timeout.ms`, and a fetch is held about `fetch.wait.max.ms`
//!    even when records are waiting. [`LOCAL_BROKER_TUNING`] sets the
//!    defaults of those keys for it (a value set in a file or the
//!    environment still wins).
//! 6. **A leader that leaves while the group re-forms stays its leader**
//!    (not fixed upstream as of 510f3e2): the coordinator's LeaveGroup for a
//!    forming group removes the member but keeps it as the leader, so no
//!    SyncGroup completes again and the remaining replicas keep their old
//!    shares for good (after `--scale filter=3` then `=1`, the last replica
//!    read 2 of 6 partitions). Eviction after the session timeout does hand
//!    the leadership on, so a replica *process* that stops leaves the group
//!    that way ([`stop_without_leave_group`]): the rebalance after a stop
//!    waits `session.timeout.ms` (6 s) instead of starting at once.
//!
//! With the switch off none of this runs: no guard on the per-record path,
//! no stall-check timer, no re-subscribe, no committed-offset look-up in
//! rebalance callbacks, and librdkafka's own defaults for the keys above.
//! With it on, a legitimate offset gap (a transaction marker, aborted or
//! compacted records) is told from a skip and never reported as lost (see
//! [`continuity`]).

pub mod continuity;
pub mod resume;

use std::time::{Duration, Instant};

/// Stops a group consumer without a LeaveGroup (fault 6): the consumer is
/// neither unsubscribed nor closed, only forgotten, so its background
/// threads go with the process. Only for a process about to exit: in a
/// process that goes on, the forgotten client would keep heartbeating. Call
/// it after the last offsets were committed.
pub fn stop_without_leave_group<C>(consumer: C, group: &str) {
    tracing::info!(
        group,
        "leaving the consumer group by session timeout, not LeaveGroup (kafka.local_broker_quirks)"
    );
    std::mem::forget(consumer);
}

/// How often the stall check (fault 3) runs: long enough for a fetch to
/// arrive after a seek.
pub const STALL_CHECK: Duration = Duration::from_secs(1);

/// How long a group consumer waits for its first assignment before it
/// subscribes again (fault 4; a join on the local broker takes about 3 s).
pub const JOIN_RETRY_AFTER: Duration = Duration::from_secs(15);

/// Consumer settings for the local broker (fault 5), the defaults of the
/// `kafka.*` keys of the same names when the switch is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// `kafka.session_timeout_ms`: a join waits half of it, so 6 s makes a
    /// join take about 3 s instead of librdkafka's 23 s.
    pub session_timeout_ms: u32,
    /// `kafka.heartbeat_interval_ms`: at most a third of the session timeout.
    pub heartbeat_interval_ms: u32,
    /// `kafka.fetch_wait_max_ms`: the broker holds every fetch about this
    /// long even when records are waiting; 20 ms read 3.6 times as fast as
    /// 500 ms (see `docs/local-broker.md`).
    pub fetch_wait_max_ms: u32,
}

/// The local broker's tuning.
pub const LOCAL_BROKER_TUNING: Tuning = Tuning {
    session_timeout_ms: 6_000,
    heartbeat_interval_ms: 1_000,
    fetch_wait_max_ms: 20,
};

impl Tuning {
    /// The settings as `(key under [kafka], value)`, for the config loader.
    pub fn keys(&self) -> [(&'static str, u32); 3] {
        [
            ("session_timeout_ms", self.session_timeout_ms),
            ("heartbeat_interval_ms", self.heartbeat_interval_ms),
            ("fetch_wait_max_ms", self.fetch_wait_max_ms),
        ]
    }
}

/// Fault 4: whether a group consumer that has not joined its group should
/// subscribe again.
#[derive(Debug)]
pub struct JoinWatch {
    subscribed: Instant,
}

impl JoinWatch {
    /// Starts the wait: the consumer just subscribed.
    pub fn new() -> JoinWatch {
        JoinWatch {
            subscribed: Instant::now(),
        }
    }

    /// How long the consumer has waited, when it should subscribe again:
    /// it has not `joined` (been given a share, even an empty one)
    /// [`JOIN_RETRY_AFTER`] after it subscribed. The wait then starts over.
    pub fn resubscribe_due(&mut self, joined: bool) -> Option<Duration> {
        let waited = self.subscribed.elapsed();
        if joined || waited < JOIN_RETRY_AFTER {
            return None;
        }
        self.subscribed = Instant::now();
        Some(waited)
    }
}

impl Default for JoinWatch {
    fn default() -> Self {
        JoinWatch::new()
    }
}

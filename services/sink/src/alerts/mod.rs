//! Alerts: a rule's `[rule.alert]` conditions checked on its matches per
//! window after every stored block, and sent to chat and webhook channels.
//!
//! Where the state lives: in the store, beside the counts. The counts a
//! condition is checked on are the store's `rule_counts` (so every sink
//! sharing a database sees the same windows, and a restarted sink sees what
//! came before), and an alert is sent only by the sink whose insert into
//! `alerts` (keyed by rule and window, checked against the cool-down in the
//! same transaction) succeeded. A sink that restarts, or a second sink
//! replaying the same posts, finds the row and stays silent; replayed posts
//! are not inserted again, so they add nothing to the counts either. Memory
//! alone would fire again after every restart; a file beside each sink
//! would not be shared.

pub mod deliver;
pub mod detect;
mod fired;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use weibostream_shared::MatchedPost;
use weibostream_shared::config::InvalidKey;
use weibostream_shared::rules_file::{self, AlertSpec};

pub use deliver::Dispatcher;
pub use detect::{AlertKind, Trigger, detect, window_counts, window_start};
pub use fired::{Example, Fired};

use crate::metrics::SinkMetrics;
use crate::store::{Store, Written};

/// Example posts an alert carries.
const EXAMPLES: usize = 3;
/// Reads the `[rule.alert]` sections of a rules file: rule id to alert.
pub fn load_specs(path: &Path) -> Result<BTreeMap<String, AlertSpec>, InvalidKey> {
    let key = "alerts.rules_path";
    let text = std::fs::read_to_string(path).map_err(|error| {
        InvalidKey::new(key, format!("cannot read {}: {error}", path.display()))
    })?;
    let file = rules_file::parse(&text).map_err(|error| {
        InvalidKey::new(
            key,
            format!("{}: {}", path.display(), error.to_string().trim_end()),
        )
    })?;
    Ok(file
        .rule
        .into_iter()
        .filter_map(|rule| rule.alert.map(|alert| (rule.id, alert)))
        .collect())
}

/// The sink's alerting: the rules' conditions and the channels' queues.
pub struct Alerts {
    specs: BTreeMap<String, AlertSpec>,
    dispatcher: Dispatcher,
    metrics: SinkMetrics,
}

impl Alerts {
    /// Alerting for these rules, sending through `dispatcher`.
    pub fn new(
        specs: BTreeMap<String, AlertSpec>,
        dispatcher: Dispatcher,
        metrics: SinkMetrics,
    ) -> Alerts {
        Alerts {
            specs,
            dispatcher,
            metrics,
        }
    }

    /// Checks the conditions of every rule the write added matches to, in
    /// the window of its latest batch; claims and queues what fired. Never
    /// fails the block: a store error is logged and the window is checked
    /// again with the rule's next matches.
    pub async fn check(&self, store: &mut Store, written: &Written, posts: &[MatchedPost]) {
        let mut latest: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
        for (rule, batch_time) in written.counts.keys() {
            if self.specs.contains_key(rule.as_str()) {
                let entry = latest.entry(rule.as_str()).or_insert(*batch_time);
                *entry = (*entry).max(*batch_time);
            }
        }
        for (rule, batch_time) in latest {
            let Some(spec) = self.specs.get(rule) else {
                continue;
            };
            if let Err(error) = self.check_rule(store, rule, spec, batch_time, posts).await {
                tracing::warn!(
                    rule,
                    error = format!("{error:#}"),
                    "cannot check the rule's alert"
                );
            }
        }
    }

    async fn check_rule(
        &self,
        store: &mut Store,
        rule: &str,
        spec: &AlertSpec,
        batch_time: DateTime<Utc>,
        posts: &[MatchedPost],
    ) -> anyhow::Result<()> {
        let window = window_start(batch_time, spec.window_s);
        let window_len = chrono::Duration::seconds(spec.window_s as i64);
        let since = window - window_len * spec.baseline_windows as i32;
        let series = store.rule_series(rule, since).await?;
        let windows = window_counts(&series, window, spec.window_s, spec.baseline_windows);
        let Some(trigger) = detect(spec, &windows) else {
            return Ok(());
        };
        let fired = Fired {
            rule: rule.to_string(),
            kind: trigger.kind,
            window_start: window,
            window_end: window + window_len,
            window_s: spec.window_s,
            matches: trigger.matches,
            baseline: trigger.baseline,
            min_matches: spec.min_matches,
            spike_factor: spec.spike_factor,
            fired_at: Utc::now(),
            examples: posts
                .iter()
                .filter(|p| p.rules.iter().any(|r| r == rule))
                .filter(|p| window_start(p.batch_time, spec.window_s) == window)
                .take(EXAMPLES)
                .map(Example::of)
                .collect(),
        };
        if store.claim_alert(&fired, spec.cooldown()).await? {
            tracing::info!(rule, kind = fired.kind.as_str(), matches = fired.matches,
                baseline = fired.baseline, window_start = %fired.window_start, "alert fired");
            self.metrics.alerts_fired.inc();
            self.dispatcher
                .send(Arc::new(fired), spec.channels.as_deref());
        }
        Ok(())
    }

    /// Lets queued deliveries finish, for at most `deadline`.
    pub async fn finish(self, deadline: std::time::Duration) {
        self.dispatcher.finish(deadline).await;
    }
}

//! Running the services in-process, each with its own shutdown token, the
//! way `main` runs them — so tests can stop one replica and watch the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use weibostream_collector::config::SourceKind;
use weibostream_collector::{Collector, CollectorConfig, RunSummary};
use weibostream_filter::{Filter, FilterConfig};
use weibostream_shared::http::HttpSettings;
use weibostream_shared::kafka::KafkaSettings;
use weibostream_shared::{BatchReport, MatchedPost, Topics};
use weibostream_sink::{Sink, SinkConfig};

use weibostream_shared::Post;

use crate::{counts, read_records, read_topic_for};

/// A service task and the token that stops it.
pub struct Running<T> {
    /// Cancels the service.
    pub token: CancellationToken,
    /// The service's task.
    pub handle: JoinHandle<anyhow::Result<T>>,
}

impl<T> Running<T> {
    /// Cancels the service and waits for it to return (bounded).
    pub async fn stop(self) -> T {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .expect("service did not stop within 30 s")
            .expect("service task panicked")
            .expect("service returned an error")
    }
}

/// Writes a rules file with one rule per `(id, query)`.
pub fn write_rules(dir: &Path, rules: &[(&str, &str)]) -> PathBuf {
    let mut text = String::new();
    for (id, query) in rules {
        text.push_str(&format!("[[rule]]\nid = {id:?}\nquery = {query:?}\n\n"));
    }
    let path = dir.join("rules.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts one filter replica.
pub fn start_filter(
    kafka: &KafkaSettings,
    topics: &Topics,
    group: &str,
    rules: &Path,
    replica: &str,
) -> Running<()> {
    start_filter_with(kafka, topics, group, rules, replica, |_| {})
}

/// [`start_filter`] with more settings.
pub fn start_filter_with(
    kafka: &KafkaSettings,
    topics: &Topics,
    group: &str,
    rules: &Path,
    replica: &str,
    customize: impl FnOnce(&mut FilterConfig),
) -> Running<()> {
    let mut config = FilterConfig {
        kafka: kafka.clone(),
        topics: topics.clone(),
        group: group.into(),
        replica_id: replica.into(),
        rules_path: rules.to_path_buf(),
        batch_interval_ms: 1000,
        // Tests run many services at once: no fixed metrics port.
        http: HttpSettings::on("off"),
        ..FilterConfig::default()
    };
    customize(&mut config);
    let filter = Filter::build(config).expect("filter config");
    let token = CancellationToken::new();
    let handle = tokio::spawn(filter.run(token.clone()));
    Running { token, handle }
}

/// Starts a sink writing JSON lines to `jsonl` (no stdout output).
pub fn start_sink(kafka: &KafkaSettings, topics: &Topics, jsonl: &Path) -> Running<()> {
    start_sink_with(kafka, topics, jsonl, |_| {})
}

/// [`start_sink`] with more settings (a store, another group...); its HTTP
/// endpoint is off unless `customize` sets `http`.
pub fn start_sink_with(
    kafka: &KafkaSettings,
    topics: &Topics,
    jsonl: &Path,
    customize: impl FnOnce(&mut SinkConfig),
) -> Running<()> {
    let mut config = test_sink_config(kafka, topics, jsonl, "off");
    customize(&mut config);
    let sink = Sink::build(config).expect("sink config");
    let token = CancellationToken::new();
    let handle = tokio::spawn(sink.run(token.clone()));
    Running { token, handle }
}

/// The sink settings every test starts from: its own group, 3 s grace, no
/// printing, matches to `jsonl`, the HTTP endpoint on `http_bind`.
fn test_sink_config(
    kafka: &KafkaSettings,
    topics: &Topics,
    jsonl: &Path,
    http_bind: &str,
) -> SinkConfig {
    SinkConfig {
        kafka: kafka.clone(),
        topics: topics.clone(),
        group: crate::unique("sink"),
        grace_ms: 3000,
        print: false,
        jsonl_path: Some(jsonl.to_path_buf()),
        http: HttpSettings::on(http_bind),
        ..SinkConfig::default()
    }
}

/// [`start_sink_with`] serving its dashboard and metrics on a free loopback
/// port; returns the running sink and the server's address.
pub async fn start_sink_serving(
    kafka: &KafkaSettings,
    topics: &Topics,
    jsonl: &Path,
    customize: impl FnOnce(&mut SinkConfig),
) -> (Running<()>, std::net::SocketAddr) {
    let mut config = test_sink_config(kafka, topics, jsonl, "127.0.0.1:0");
    customize(&mut config);
    let mut sink = Sink::build(config).expect("sink config");
    let address = sink
        .serve_http()
        .await
        .expect("sink http server")
        .expect("http is on");
    let token = CancellationToken::new();
    let handle = tokio::spawn(sink.run(token.clone()));
    (Running { token, handle }, address)
}

/// Starts a collector publishing `count` synthetic posts at `rate` per second (0 = unpaced).
pub fn start_synthetic(
    kafka: &KafkaSettings,
    topics: &Topics,
    count: u64,
    rate: u64,
    seed: u64,
) -> Running<RunSummary> {
    let mut config = CollectorConfig {
        kafka: kafka.clone(),
        topics: topics.clone(),
        http: HttpSettings::on("off"),
        ..CollectorConfig::default()
    };
    config.sources = vec![SourceKind::Synthetic];
    config.synthetic.count = count;
    config.synthetic.rate_per_s = rate;
    config.synthetic.seed = seed;
    let collector = Collector::build(config).expect("collector config");
    let token = CancellationToken::new();
    let handle = tokio::spawn(collector.run(token.clone()));
    Running { token, handle }
}

/// Every batch report in the reports topic (read for `duration`).
pub async fn reports(kafka: &KafkaSettings, topic: &str, duration: Duration) -> Vec<BatchReport> {
    let (kafka, topic) = (kafka.clone(), topic.to_string());
    let values = tokio::task::spawn_blocking(move || read_topic_for(&kafka, &topic, duration))
        .await
        .unwrap();
    values
        .iter()
        .map(|v| serde_json::from_slice(v).unwrap())
        .collect()
}

/// Partitions each replica reported, over the given reports.
pub fn partitions_by_replica<'a>(
    reports: impl IntoIterator<Item = &'a BatchReport>,
) -> BTreeMap<String, BTreeSet<i32>> {
    let mut map: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for report in reports {
        map.entry(report.replica.clone())
            .or_default()
            .extend(report.covered_partitions());
    }
    map
}

/// Waits until each of `replicas` has reported at least one partition.
pub async fn wait_for_assignments(
    kafka: &KafkaSettings,
    topic: &str,
    replicas: &[&str],
    limit: Duration,
) {
    let start = std::time::Instant::now();
    loop {
        let seen = partitions_by_replica(&reports(kafka, topic, Duration::from_millis(1500)).await);
        if replicas
            .iter()
            .all(|r| seen.get(*r).is_some_and(|p| !p.is_empty()))
        {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "not every replica got partitions within {limit:?}: {seen:?}"
        );
    }
}

/// The matched posts written to a JSON-lines file so far: its complete
/// lines. The sink writes a block in several writes, so a read while it
/// writes can end inside a line (a CI run failed on such a half line);
/// every complete line must parse.
pub fn jsonl_posts(path: &Path) -> Vec<MatchedPost> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

impl Running<RunSummary> {
    /// Waits (bounded) for a finite collector run to end by itself.
    pub async fn stop_when_done(self) -> RunSummary {
        tokio::time::timeout(Duration::from_secs(120), self.handle)
            .await
            .expect("collector did not finish within 120 s")
            .expect("collector task panicked")
            .expect("collector returned an error")
    }
}

/// A sink and filter replicas on a fresh broker with topics and a group of
/// their own, the rule `ccb-rise` = `建设银行 AND 涨`, output to JSON lines.
pub struct Pipeline {
    /// The broker (killed on drop).
    pub broker: crate::Broker,
    /// Its Kafka settings.
    pub kafka: KafkaSettings,
    /// This pipeline's topics.
    pub topics: Topics,
    /// The sink's JSON-lines output.
    pub jsonl: PathBuf,
    /// Running replicas, by name.
    pub replicas: Vec<(String, Running<()>)>,
    /// The running sink.
    pub sink: Running<()>,
    _dir: tempfile::TempDir,
}

impl Pipeline {
    /// Starts the broker, the sink and one replica per name, and waits until
    /// every replica reported partitions.
    pub async fn start(names: &[&str]) -> Pipeline {
        let broker = crate::Broker::start();
        let kafka = broker.kafka();
        let topics = crate::unique_topics();
        let group = crate::unique("filter");
        let dir = tempfile::tempdir().unwrap();
        let rules = write_rules(dir.path(), &[("ccb-rise", "建设银行 AND 涨")]);
        let jsonl = dir.path().join("matched.jsonl");
        let sink = start_sink(&kafka, &topics, &jsonl);
        let replicas = names
            .iter()
            .map(|name| {
                (
                    name.to_string(),
                    start_filter(&kafka, &topics, &group, &rules, name),
                )
            })
            .collect();
        wait_for_assignments(&kafka, &topics.reports, names, Duration::from_secs(60)).await;
        Pipeline {
            broker,
            kafka,
            topics,
            jsonl,
            replicas,
            sink,
            _dir: dir,
        }
    }

    /// Stops one replica (gracefully) and returns when it has left.
    pub async fn stop_replica(&mut self, name: &str) {
        let index = self
            .replicas
            .iter()
            .position(|(n, _)| n == name)
            .expect("no such replica");
        self.replicas.remove(index).1.stop().await;
    }

    /// Stops every service.
    pub async fn stop(self) {
        for (_, replica) in self.replicas {
            replica.stop().await;
        }
        self.sink.stop().await;
    }
}

/// The posts the output must hold, and where each is in the input topic
/// (a failure names the partition and offset of every missing post).
pub struct Oracle {
    ids: BTreeSet<String>,
    locations: BTreeMap<String, (i32, i64)>,
}

impl std::ops::Deref for Oracle {
    type Target = BTreeSet<String>;

    fn deref(&self) -> &BTreeSet<String> {
        &self.ids
    }
}

impl Oracle {
    /// `partition/offset` of `id` in the input topic.
    fn location(&self, id: &str) -> String {
        match self.locations.get(id) {
            Some((partition, offset)) => format!("{id} at {partition}/{offset}"),
            None => id.to_string(),
        }
    }
}

/// The oracle for `建设银行 AND 涨`: the posts in `topic` (which holds
/// `records` records, undecodable ones skipped) whose raw text contains both
/// substrings — computed from what is in the topic, not from the filter's code.
pub async fn oracle(kafka: &KafkaSettings, topic: &str, records: u64) -> Oracle {
    let (kafka, topic) = (kafka.clone(), topic.to_string());
    let read = tokio::task::spawn_blocking(move || {
        read_records(&kafka, &topic, records as usize, Duration::from_secs(60))
    })
    .await
    .unwrap();
    assert_eq!(read.len() as u64, records, "reading the input back");
    let locations: BTreeMap<String, (i32, i64)> = read
        .iter()
        .filter_map(|r| Some((serde_json::from_slice::<Post>(&r.value).ok()?, r)))
        .filter(|(p, _)| p.validate().is_ok())
        .filter(|(p, _)| p.text.contains("建设银行") && p.text.contains("涨"))
        .map(|(p, r)| (p.id, (r.partition, r.offset)))
        .collect();
    Oracle {
        ids: locations.keys().cloned().collect(),
        locations,
    }
}

/// Waits (up to 120 s) for the sink to have written `expected.len()` posts
/// to `jsonl`, lets two more batches pass so late duplicates would show,
/// and checks the output exactly: the same ids, each once.
pub async fn assert_output_equals(jsonl: &std::path::Path, expected: &Oracle) {
    let start = std::time::Instant::now();
    while jsonl_posts(jsonl).len() < expected.len() && start.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let written: Vec<String> = jsonl_posts(jsonl).into_iter().map(|m| m.post.id).collect();
    let duplicates: Vec<_> = counts(&written)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(
        duplicates.is_empty(),
        "duplicates in the output: {duplicates:?}"
    );
    let written: BTreeSet<String> = written.into_iter().collect();
    let missing: Vec<_> = expected
        .difference(&written)
        .map(|id| expected.location(id))
        .collect();
    let extra: Vec<_> = written.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, unexpected {extra:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_posts_reads_complete_lines_only() {
        let line = r#"{"batch_time":"2026-12-02T00:09:40Z","replica":"r-1","rules":["ev"],"partition":0,"offset":1,"post":{"id":"synthetic:1","source":"synthetic","text":"比亚迪","created_at":"2026-12-02T00:09:34Z","author":{"id":"5","name":"n"},"collected_at":"2026-12-02T00:09:35Z"}}"#;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("matched.jsonl");
        std::fs::write(&path, format!("{line}\n{}", &line[..60])).unwrap();
        assert_eq!(jsonl_posts(&path).len(), 1);
        std::fs::write(&path, format!("{line}\n{line}\n")).unwrap();
        assert_eq!(jsonl_posts(&path).len(), 2);
    }
}

//! The finite sources with a real broker, through the publish path the live
//! sources use: a file's posts are each published once (deleted statuses
//! and bad lines skipped and counted), at the configured rate.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use weibostream_collector::config::{CollectorConfig, SourceKind};
use weibostream_collector::{Collector, RunSummary};
use weibostream_shared::Post;
use weibostream_shared::http::HttpSettings;

use crate::broker::{Broker, read_topic, unique_topics};

fn post_line(n: usize) -> String {
    format!(
        r#"{{"id":"synthetic:{n}","source":"synthetic","text":"post {n}","created_at":"2025-01-01T00:00:00Z","author":{{"id":"{}","name":"a"}},"collected_at":"2025-01-02T00:00:00Z"}}"#,
        n % 7
    )
}

/// A file of `posts` posts, one deleted status and one line that is not JSON.
fn write_file(dir: &std::path::Path, posts: usize) -> std::path::PathBuf {
    let path = dir.join("posts.jsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    for n in 0..posts {
        writeln!(file, "{}", post_line(n)).unwrap();
        if n == posts / 2 {
            writeln!(file, r#"{{"id":"9","deleted":"1"}}"#).unwrap();
            writeln!(file, "not json").unwrap();
        }
    }
    path
}

fn file_config(broker: &Broker, path: std::path::PathBuf, rate_per_s: u64) -> CollectorConfig {
    let mut config = CollectorConfig {
        kafka: broker.kafka(),
        topics: unique_topics(),
        sources: vec![SourceKind::File],
        http: HttpSettings::on("off"),
        ..CollectorConfig::default()
    };
    config.file.path = path;
    config.file.rate_per_s = rate_per_s;
    config
}

async fn run(config: CollectorConfig) -> RunSummary {
    let collector = Collector::build(config).unwrap();
    tokio::time::timeout(
        Duration::from_secs(60),
        collector.run(CancellationToken::new()),
    )
    .await
    .expect("the file source ends the run by itself")
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_published_once_post_by_post_and_ends_the_run() {
    const POSTS: usize = 1_500;
    let broker = tokio::task::spawn_blocking(Broker::start).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = file_config(&broker, write_file(dir.path(), POSTS), 0);
    let (kafka, topic) = (config.kafka.clone(), config.topics.raw.clone());

    let summary = run(config).await;
    assert_eq!(
        summary,
        RunSummary {
            published: POSTS as u64,
            skipped: 1,
            bad_records: 1,
        }
    );
    // One more than published: a duplicate would show up within the wait.
    let records = tokio::task::spawn_blocking(move || {
        read_topic(&kafka, &topic, POSTS + 1, Duration::from_secs(5))
    })
    .await
    .unwrap();
    assert_eq!(records.len(), POSTS, "every post once, nothing else");
    let ids: BTreeSet<String> = records
        .iter()
        .map(|value| serde_json::from_slice::<Post>(value).unwrap().id)
        .collect();
    let expected: BTreeSet<String> = (0..POSTS).map(|n| format!("synthetic:{n}")).collect();
    assert_eq!(ids, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_rate_paces_the_posts() {
    const POSTS: usize = 60;
    let broker = tokio::task::spawn_blocking(Broker::start).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = file_config(&broker, write_file(dir.path(), POSTS), 100);
    let collector = Collector::build(config).unwrap();
    let file = collector.metrics().source("file").unwrap().clone();
    let run = tokio::spawn(collector.run(CancellationToken::new()));
    let mut first_read = None;
    while file.fetched() < POSTS as u64 {
        assert!(
            !run.is_finished(),
            "the run ended before reading every post"
        );
        if first_read.is_none() && file.fetched() > 0 {
            first_read = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // 59 more posts at 100 posts/s take 0.59 s (unpaced: a few ms).
    let took = first_read.map(|at| at.elapsed()).unwrap_or_default();
    assert!(took >= Duration::from_millis(500), "{took:?}");
    let summary = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(summary.published, POSTS as u64);
}

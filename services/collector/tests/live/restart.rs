//! The collector with a real broker: cursors are saved only after the broker
//! acknowledged the posts before them, and a restart from the saved cursors
//! publishes every post exactly once.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use weibostream_collector::config::{CollectorConfig, RetrySettings, SourceKind};
use weibostream_collector::cursor::CursorFile;
use weibostream_collector::{BuildError, Collector, RunSummary};
use weibostream_shared::Post;
use weibostream_shared::http::HttpSettings;

use crate::broker::{Broker, read_topic, unique_topics};
use crate::jetstream::{Ending, WsServer, cursor_of, post_event, post_id};
use crate::mastodon::Instance;
use crate::support::{HttpServer, eventually};

const LIMIT: Duration = Duration::from_secs(30);

fn cursor(dir: &Path, name: &str) -> Option<Value> {
    CursorFile::in_dir(dir, name).load::<Value>().unwrap()
}

fn config(
    broker: &Broker,
    dir: &Path,
    instance: &HttpServer,
    jetstream: &WsServer,
) -> CollectorConfig {
    let mut mastodon = crate::mastodon::settings(&[instance], "");
    mastodon.page_size = 40;
    mastodon.poll_interval_ms = 50;
    CollectorConfig {
        kafka: broker.kafka(),
        topics: unique_topics(),
        sources: vec![SourceKind::Mastodon, SourceKind::Jetstream],
        cursor_dir: dir.to_path_buf(),
        batch_max_wait_ms: 20,
        retry: RetrySettings {
            initial_backoff_ms: 50,
            max_backoff_ms: 500,
        },
        mastodon,
        jetstream: crate::jetstream::settings(jetstream),
        // Tests run in parallel: no fixed metrics port.
        http: HttpSettings::on("off"),
        ..CollectorConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_follow_acks_and_a_restart_neither_skips_nor_repeats() {
    let broker = tokio::task::spawn_blocking(Broker::start).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let instance = Instance::default();
    instance.add(1..=3);
    let server = instance.serve().await;
    // Jetstream: every connection replays the log from its cursor, then stays open.
    let log = Arc::new(Mutex::new(4u64));
    let events = log.clone();
    let jetstream = WsServer::start(move |_, uri| {
        let cursor = cursor_of(uri).unwrap_or(0);
        let last = *events.lock().unwrap();
        let replay = (1..=last)
            .filter(|n| 1_000_000 + n >= cursor)
            .map(|n| post_event(n, "en"))
            .collect();
        (replay, Ending::Hang)
    })
    .await;
    let config = config(&broker, dir.path(), &server, &jetstream);
    let mastodon = format!("mastodon:{}", server.addr);
    let since_id = |dir: &Path| cursor(dir, &mastodon).map(|c| c["since_id"].clone());
    let time_us = |dir: &Path| cursor(dir, "jetstream").map(|c| c["time_us"].clone());

    // Run 1: the first posts are acknowledged and their cursors saved.
    let collector = Collector::build(config.clone()).unwrap();
    let metrics = collector.metrics();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(collector.run(shutdown.clone()));
    eventually(LIMIT, "first cursors saved", || {
        since_id(dir.path()) == Some("3".into()) && time_us(dir.path()) == Some(1_000_004.into())
    })
    .await;
    let source = metrics.source(&mastodon).unwrap().clone();
    assert_eq!(source.published(), 3);

    // The broker stalls: new posts are fetched and sent, but not acknowledged,
    // so the cursor must stay where it is.
    broker.signal("STOP");
    instance.add(4..=5);
    eventually(LIMIT, "new statuses fetched", || source.fetched() >= 5).await;
    let stalled = tokio::time::Instant::now();
    while stalled.elapsed() < Duration::from_millis(1500) {
        assert_eq!(
            since_id(dir.path()),
            Some("3".into()),
            "cursor saved before the broker acknowledged"
        );
        assert_eq!(source.published(), 3);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    broker.signal("CONT");
    eventually(LIMIT, "cursor saved after the acks", || {
        since_id(dir.path()) == Some("5".into())
    })
    .await;
    assert_eq!(source.published(), 5);
    shutdown.cancel();
    let summary: RunSummary = run.await.unwrap().unwrap();
    assert_eq!(summary.published, 5 + 4);

    // While the collector is down, both services get new posts.
    instance.add(6..=8);
    *log.lock().unwrap() = 7;

    // Run 2 resumes from the saved cursors.
    let collector = Collector::build(config.clone()).unwrap();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(collector.run(shutdown.clone()));
    eventually(LIMIT, "second run's cursors saved", || {
        since_id(dir.path()) == Some("8".into()) && time_us(dir.path()) == Some(1_000_007.into())
    })
    .await;
    shutdown.cancel();
    let summary = run.await.unwrap().unwrap();
    assert_eq!(summary.published, 3 + 3, "only the new posts");
    let uris = jetstream.uris.lock().unwrap().clone();
    assert_eq!(cursor_of(uris.last().unwrap()), Some(1_000_004));

    let mut want: Vec<String> = (1..=8)
        .map(|id| format!("{mastodon}/{id}"))
        .chain((1..=7).map(post_id))
        .collect();
    want.sort();
    let (kafka, topic, expected) = (config.kafka.clone(), config.topics.raw.clone(), want.len());
    // One more than expected: reading runs the full 5 s, so a repeat would show.
    let records = tokio::task::spawn_blocking(move || {
        read_topic(&kafka, &topic, expected + 1, Duration::from_secs(5))
    })
    .await
    .unwrap();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for record in &records {
        let post: Post = serde_json::from_slice(record).unwrap();
        *counts.entry(post.id).or_default() += 1;
    }
    assert_eq!(counts.keys().cloned().collect::<Vec<_>>(), want, "no gap");
    assert!(counts.values().all(|n| *n == 1), "no repeat: {counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_source_leaves_others_running_until_an_auth_error_stops_the_collector() {
    use std::sync::atomic::{AtomicBool, Ordering};

    use crate::support::Reply;

    let broker = tokio::task::spawn_blocking(Broker::start).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("weibo-token");
    std::fs::write(&token_file, "expired-token\n").unwrap();
    let revoked = Arc::new(AtomicBool::new(false));
    let flag = revoked.clone();
    let weibo = HttpServer::start(move |_| {
        if flag.load(Ordering::SeqCst) {
            Reply::json(400, r#"{"error_code":21327,"error":"expired_token"}"#)
        } else {
            Reply::Full {
                status: 503,
                headers: vec![],
                body: "maintenance".into(),
            }
        }
    })
    .await;
    let jetstream =
        WsServer::start(|_, _| ((1..=3).map(|n| post_event(n, "en")).collect(), Ending::Hang))
            .await;
    let instance = HttpServer::start(|_| Reply::json(200, "[]")).await;
    let mut config = config(&broker, dir.path(), &instance, &jetstream);
    config.sources = vec![SourceKind::Weibo, SourceKind::Jetstream];
    config.weibo.base_url = weibo.url();
    config.weibo.access_token_file = token_file;
    config.weibo.calls_per_hour = 360_000;

    let collector = Collector::build(config).unwrap();
    let metrics = collector.metrics();
    let run = tokio::spawn(collector.run(CancellationToken::new()));
    let (weibo_metrics, jetstream_metrics) = (
        metrics.source("weibo").unwrap().clone(),
        metrics.source("jetstream").unwrap().clone(),
    );
    eventually(LIMIT, "jetstream published while weibo fails", || {
        jetstream_metrics.published() == 3
            && weibo_metrics.errors(weibostream_collector::metrics::ErrorKind::Http5xx) >= 2
    })
    .await;
    assert!(!run.is_finished());
    revoked.store(true, Ordering::SeqCst);
    let result = tokio::time::timeout(LIMIT, run).await.unwrap().unwrap();
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains("21327 expired_token") && error.contains("weibo.access_token_file"),
        "{error}"
    );
    assert!(
        !error.contains("expired-token"),
        "the token itself is never shown: {error}"
    );
}

#[test]
fn build_names_the_missing_token() {
    let mut config = CollectorConfig {
        sources: vec![SourceKind::Weibo],
        ..CollectorConfig::default()
    };
    config.weibo.access_token_env = "WEIBOSTREAM_TEST_TOKEN_THAT_IS_NOT_SET".into();
    let Err(BuildError::Config(error)) = Collector::build(config) else {
        panic!("built without a token, or another error")
    };
    assert_eq!(error.key, "weibo.access_token_env");
    let error = error.to_string();
    assert!(
        error.starts_with("weibo.access_token_env:")
            && error.contains("WEIBOSTREAM_TEST_TOKEN_THAT_IS_NOT_SET"),
        "{error}"
    );
}

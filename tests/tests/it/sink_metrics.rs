//! The sink's operations endpoint against a real broker, real filters and a
//! real sink: `/healthz`, `/readyz` before and after it joined its group,
//! `/metrics` counts after a run compared with what is in the topics and the
//! output file, `/events` delivering matched posts as they arrive, and a
//! store that cannot be written making the sink unready until it recovers.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;
use weibostream_shared::kafka::KafkaSettings;
use weibostream_shared::secret::Secret;
use weibostream_shared::{Author, Post, Source, Topics};
use weibostream_tests::pipeline::{
    Running, assert_output_equals, oracle, start_filter, start_sink_serving, start_synthetic,
    wait_for_assignments, write_rules,
};
use weibostream_tests::proxy::Proxy;
use weibostream_tests::web::{SseReader, get, metric, metrics_with_prefix, publish_posts};
use weibostream_tests::{Broker, postgres_url, read_topic_for, unique, unique_topics};

struct Run {
    _broker: Broker,
    kafka: KafkaSettings,
    topics: Topics,
    jsonl: PathBuf,
    sink: Running<()>,
    address: SocketAddr,
    filters: Vec<Running<()>>,
    _dir: tempfile::TempDir,
}

impl Run {
    /// A broker, a sink serving on a free port, and two filter replicas
    /// with the rule `ccb-rise` that have their partitions.
    async fn start() -> Run {
        let broker = Broker::start();
        let kafka = broker.kafka();
        let topics = unique_topics();
        let dir = tempfile::tempdir().unwrap();
        let rules = write_rules(dir.path(), &[("ccb-rise", "建设银行 AND 涨")]);
        let jsonl = dir.path().join("matched.jsonl");
        let (sink, address) = start_sink_serving(&kafka, &topics, &jsonl, |_| {}).await;
        let group = unique("filter");
        let filters = ["r0", "r1"]
            .iter()
            .map(|name| start_filter(&kafka, &topics, &group, &rules, name))
            .collect();
        Run {
            _broker: broker,
            kafka,
            topics,
            jsonl,
            sink,
            address,
            filters,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    async fn metrics(&self) -> String {
        let reply = get(&self.url("/metrics")).await;
        assert_eq!(reply.status, 200);
        reply.body
    }

    async fn stop(self) {
        for filter in self.filters {
            filter.stop().await;
        }
        self.sink.stop().await;
    }
}

fn post(id: &str, text: &str) -> Post {
    let now = Utc::now();
    Post {
        id: Source::Weibo.post_id(id),
        source: Source::Weibo,
        text: text.into(),
        lang: Some("zh".into()),
        created_at: now,
        author: Author {
            id: format!("author-{id}"),
            name: format!("tester {id}"),
            followers: None,
            verified: false,
        },
        url: None,
        reposts: 0,
        comments: 0,
        likes: 0,
        repost_of: None,
        client: None,
        collected_at: now,
    }
}

/// Polls `/metrics` until `check` holds (bounded); returns that body.
async fn metrics_until(run: &Run, limit: Duration, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let body = run.metrics().await;
        if check(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "metrics not as expected within {limit:?}:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_a_run_and_readiness_follows_the_group() {
    const POSTS: u64 = 5_000;
    const GARBAGE: u64 = 7;
    let run = Run::start().await;

    // Alive at once; not ready before it has created its topics and
    // assigned itself their partitions (hundreds of ms on the local broker).
    let health = get(&run.url("/healthz")).await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let ready = get(&run.url("/readyz")).await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(ready.body.starts_with("not ready: "), "{}", ready.body);
    let body = run.metrics().await;
    assert_eq!(
        metric(
            &body,
            "weibostream_sink_posts_output_total{output=\"jsonl\"}"
        ),
        Some(0.0),
        "{body}"
    );

    wait_for_assignments(
        &run.kafka,
        &run.topics.reports,
        &["r0", "r1"],
        Duration::from_secs(60),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = get(&run.url("/readyz")).await;
        if ready.status == 200 {
            assert_eq!(ready.body, "ready\n");
            break;
        }
        assert!(Instant::now() < deadline, "never ready: {}", ready.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Undecodable records the filters dead-letter, then a synthetic stream.
    let producer: FutureProducer = run.kafka.producer_config("test").create().unwrap();
    for i in 0..GARBAGE {
        let payload = format!("not a post {i}");
        producer
            .send(
                FutureRecord::to(&run.topics.raw)
                    .key("garbage")
                    .payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
    let summary = start_synthetic(&run.kafka, &run.topics, POSTS, 0, 11)
        .stop_when_done()
        .await;
    assert_eq!(summary.published, POSTS);
    let expected = oracle(&run.kafka, &run.topics.raw, POSTS + GARBAGE).await;
    assert!(
        expected.len() > 20,
        "too few matches to count: {}",
        expected.len()
    );
    assert_output_equals(&run.jsonl, &expected).await;

    let posts_in = "weibostream_sink_posts_in_total";
    let body = metrics_until(&run, Duration::from_secs(30), |body| {
        metric(body, posts_in) == Some(POSTS as f64)
    })
    .await;
    let matched_records = {
        let (kafka, topic) = (run.kafka.clone(), run.topics.matched.clone());
        tokio::task::spawn_blocking(move || read_topic_for(&kafka, &topic, Duration::from_secs(3)))
            .await
            .unwrap()
            .len() as f64
    };
    let value =
        |series: &str| metric(&body, series).unwrap_or_else(|| panic!("no {series} in:\n{body}"));
    let output = value("weibostream_sink_posts_output_total{output=\"jsonl\"}");
    let received = value("weibostream_sink_matched_posts_received_total");
    let duplicates = value("weibostream_sink_duplicates_dropped_total");
    assert_eq!(output, expected.len() as f64, "{body}");
    assert_eq!(received, matched_records, "{body}");
    assert_eq!(received, output + duplicates, "{body}");
    assert_eq!(
        metric(
            &body,
            "weibostream_sink_posts_output_total{output=\"stdout\"}"
        ),
        None,
        "print is off"
    );
    assert_eq!(value("weibostream_sink_blocks_printed_total"), 0.0);
    assert_eq!(
        value("weibostream_sink_dead_lettered_records_total"),
        GARBAGE as f64
    );
    assert!(value("weibostream_sink_blocks_total{completion=\"complete\"}") >= 1.0);
    assert!(value("weibostream_sink_reports_received_total") >= 2.0);
    assert_eq!(value("weibostream_sink_output_write_failures_total"), 0.0);
    assert_eq!(value("weibostream_sink_consumption_paused"), 0.0);

    // Lag of the matched topic's partitions: known, and 0 once everything
    // was output and committed.
    let lag_prefix = format!(
        "weibostream_sink_consumer_lag_records{{topic=\"{}\"",
        run.topics.matched
    );
    let body = metrics_until(&run, Duration::from_secs(30), |body| {
        let lags = metrics_with_prefix(body, &lag_prefix);
        !lags.is_empty() && lags.iter().all(|(_, lag)| *lag == 0.0)
    })
    .await;
    println!(
        "matched {} of {POSTS} posts; lag series: {:?}",
        expected.len(),
        metrics_with_prefix(&body, "weibostream_sink_consumer_lag_records")
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_deliver_matched_posts_as_they_arrive() {
    let run = Run::start().await;
    wait_for_assignments(
        &run.kafka,
        &run.topics.reports,
        &["r0", "r1"],
        Duration::from_secs(60),
    )
    .await;
    let mut events = SseReader::open(&run.url("/events")).await;
    let first = events.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(first.event, "snapshot");
    let snapshot: Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(snapshot["posts"].as_array().unwrap().len(), 0);

    let mut posts: Vec<Post> = (0..5)
        .map(|i| post(&format!("sse-{i}"), &format!("建设银行 今天涨了 {i}")))
        .collect();
    posts.push(post("sse-quiet", "今天天气不错"));
    let published = Instant::now();
    publish_posts(&run.kafka, &run.topics.raw, &posts).await;

    let wanted: BTreeSet<String> = posts[..5].iter().map(|p| p.id.clone()).collect();
    let mut seen = BTreeSet::new();
    let mut batch_with_matches = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen != wanted || batch_with_matches.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = events
            .next(left)
            .await
            .unwrap_or_else(|| panic!("only {seen:?} of {wanted:?} arrived within 30 s"));
        let data: Value = serde_json::from_str(&event.data).unwrap();
        match event.event.as_str() {
            "post" => {
                let id = data["id"].as_str().unwrap().to_string();
                assert!(wanted.contains(&id), "unexpected post {id}");
                assert!(seen.insert(id.clone()), "{id} pushed twice");
                if seen == wanted {
                    println!(
                        "all 5 posts on /events {:?} after publishing (1 s batches)",
                        event.at - published
                    );
                }
            }
            "batch" if data["matched_per_rule"]["ccb-rise"].as_u64() > Some(0) => {
                batch_with_matches = Some(data);
            }
            "batch" => {}
            other => panic!("unexpected event {other}"),
        }
    }
    let batch = batch_with_matches.unwrap();
    assert!(!batch["replicas"].as_array().unwrap().is_empty(), "{batch}");
    assert!(batch["interval_ms"].as_u64() == Some(1000), "{batch}");

    // A page opened later starts from the same posts.
    let reply = get(&run.url("/api/snapshot")).await;
    assert_eq!(reply.status, 200);
    let snapshot: Value = serde_json::from_str(&reply.body).unwrap();
    let ids: BTreeSet<String> = snapshot["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, wanted);
    run.stop().await;
}

/// A fresh database on the test PostgreSQL server (see `postgres_url`).
async fn postgres_database() -> String {
    let base = postgres_url();
    let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let name = unique("wsm").replace('-', "_");
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
}

/// `/readyz` until its status is `status` (bounded); returns the body.
async fn readyz_until(url: &str, status: u16, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let reply = get(url).await;
        if reply.status == status {
            return reply.body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz not {status} within {limit:?}: {} {}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_store_makes_the_sink_unready_and_is_counted() {
    const POSTS: u64 = 4_000;
    let url = postgres_database().await;
    let target = url
        .split('@')
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let proxy = Proxy::start(&target).await;
    let via_proxy = url.replace(&target, &format!("127.0.0.1:{}", proxy.port));

    let broker = Broker::start();
    let kafka = broker.kafka();
    let topics = unique_topics();
    let dir = tempfile::tempdir().unwrap();
    let rules = write_rules(dir.path(), &[("ccb-rise", "建设银行 AND 涨")]);
    let jsonl = dir.path().join("matched.jsonl");
    let (sink, address) = start_sink_serving(&kafka, &topics, &jsonl, |c| {
        c.postgres_url = Some(Secret::new(via_proxy.clone()));
        c.store_retry_max_ms = 1000;
    })
    .await;
    let group = unique("filter");
    let filters: Vec<_> = ["r0", "r1"]
        .iter()
        .map(|name| start_filter(&kafka, &topics, &group, &rules, name))
        .collect();
    wait_for_assignments(
        &kafka,
        &topics.reports,
        &["r0", "r1"],
        Duration::from_secs(60),
    )
    .await;
    let readyz = format!("http://{address}/readyz");
    readyz_until(&readyz, 200, Duration::from_secs(30)).await;

    proxy.cut();
    let collector = start_synthetic(&kafka, &topics, POSTS, 1000, 3);
    let reason = readyz_until(&readyz, 503, Duration::from_secs(30)).await;
    assert!(
        reason.contains("cannot write output, consumption paused"),
        "{reason}"
    );
    let metrics_url = format!("http://{address}/metrics");
    let body = get(&metrics_url).await.body;
    assert_eq!(
        metric(&body, "weibostream_sink_consumption_paused"),
        Some(1.0),
        "{body}"
    );
    assert!(
        metric(&body, "weibostream_sink_output_write_failures_total") >= Some(1.0),
        "{body}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();

    readyz_until(&readyz, 200, Duration::from_secs(30)).await;
    assert_eq!(collector.stop_when_done().await.published, POSTS);
    let expected = oracle(&kafka, &topics.raw, POSTS).await;
    assert_output_equals(&jsonl, &expected).await;
    let body = get(&metrics_url).await.body;
    assert_eq!(
        metric(
            &body,
            "weibostream_sink_posts_output_total{output=\"postgres\"}"
        ),
        Some(expected.len() as f64),
        "{body}"
    );
    assert_eq!(
        metric(&body, "weibostream_sink_consumption_paused"),
        Some(0.0)
    );
    let retries = metric(&body, "weibostream_sink_output_write_retries_total").unwrap();
    assert!(retries >= 1.0, "{body}");
    println!(
        "failures {:?}, retries {retries}",
        metric(&body, "weibostream_sink_output_write_failures_total")
    );
    for filter in filters {
        filter.stop().await;
    }
    sink.stop().await;
}

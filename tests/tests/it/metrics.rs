//! The collector's and the filter's operations endpoints against a real
//! broker: `/healthz` and `/readyz` (503 before the broker is reached, 200
//! once running) and `/metrics` counts scraped during and after a run,
//! compared with what is in the topics and with an independent oracle.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;
use weibostream_collector::config::SourceKind;
use weibostream_collector::{Collector, CollectorConfig};
use weibostream_filter::{Filter, FilterConfig};
use weibostream_shared::http::HttpSettings;
use weibostream_shared::kafka::KafkaSettings;
use weibostream_shared::{Post, Topics};
use weibostream_tests::pipeline::{Running, reports, write_rules};
use weibostream_tests::web::{get, metrics_with_prefix};
use weibostream_tests::{Broker, free_port, read_topic, unique, unique_topics};

/// The sum of every sample of `name` (any labels) whose labels contain `labels`.
fn sum(body: &str, name: &str, labels: &str) -> f64 {
    metrics_with_prefix(body, name)
        .into_iter()
        .filter(|(series, _)| {
            let rest = &series[name.len()..];
            (rest.is_empty() || rest.starts_with('{')) && rest.contains(labels)
        })
        .map(|(_, value)| value)
        .sum()
}

/// Every endpoint's `/metrics`, concatenated; `None` while one is not up yet.
async fn scrape(urls: &[String]) -> Option<String> {
    let mut all = String::new();
    for url in urls {
        let reply = reqwest::get(format!("{url}/metrics")).await.ok()?;
        assert_eq!(reply.status().as_u16(), 200, "{url}/metrics");
        all.push_str(&reply.text().await.ok()?);
    }
    Some(all)
}

fn filter_config(
    kafka: &KafkaSettings,
    topics: &Topics,
    group: &str,
    rules: &std::path::Path,
    id: &str,
    port: u16,
) -> FilterConfig {
    FilterConfig {
        kafka: kafka.clone(),
        topics: topics.clone(),
        group: group.into(),
        replica_id: id.into(),
        rules_path: rules.to_path_buf(),
        batch_interval_ms: 1000,
        http: HttpSettings::on(&format!("127.0.0.1:{port}")),
        ..FilterConfig::default()
    }
}

fn start_filter(config: FilterConfig) -> Running<()> {
    let filter = Filter::build(config).unwrap();
    let token = CancellationToken::new();
    let handle = tokio::spawn(filter.run(token.clone()));
    Running { token, handle }
}

/// Polls until `condition` holds on a scrape of `urls`; panics with the
/// last scrape after `limit`.
async fn until(urls: &[String], limit: Duration, condition: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let body = scrape(urls).await.unwrap_or_default();
        if condition(&body) {
            return body;
        }
        assert!(start.elapsed() < limit, "not met within {limit:?}:\n{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_is_503_until_the_broker_is_reached() {
    // Nothing listens on this port: both services wait for the broker.
    let kafka = KafkaSettings {
        brokers: format!("127.0.0.1:{}", free_port()),
        startup_timeout_ms: 4000,
        ..KafkaSettings::default()
    };
    let topics = unique_topics();
    let dir = tempfile::tempdir().unwrap();
    let rules = write_rules(dir.path(), &[("ccb-rise", "建设银行 AND 涨")]);
    let filter_port = free_port();
    let filter = start_filter(filter_config(
        &kafka,
        &topics,
        "g",
        &rules,
        "r1",
        filter_port,
    ));
    let collector_port = free_port();
    let collector = Collector::build(CollectorConfig {
        kafka: kafka.clone(),
        topics: topics.clone(),
        http: HttpSettings::on(&format!("127.0.0.1:{collector_port}")),
        ..CollectorConfig::default()
    })
    .unwrap();
    let collector = tokio::spawn(collector.run(CancellationToken::new()));

    for port in [filter_port, collector_port] {
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        let health = loop {
            match reqwest::get(format!("{url}/healthz")).await {
                Ok(reply) => break reply.status().as_u16(),
                Err(_) if start.elapsed() < Duration::from_secs(3) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!("{url}/healthz: {error}"),
            }
        };
        assert_eq!(health, 200);
        let ready = get(&format!("{url}/readyz")).await;
        assert_eq!(ready.status, 503, "{}", ready.body);
        assert!(
            ready.body.contains("waiting for the broker"),
            "{}",
            ready.body
        );
        let metrics = get(&format!("{url}/metrics")).await;
        assert_eq!(metrics.status, 200);
        assert!(metrics.body.contains("weibostream_"), "{}", metrics.body);
    }
    // Both give up after kafka.startup_timeout_ms, naming the brokers.
    let error = filter.handle.await.unwrap().unwrap_err();
    assert!(error.to_string().contains("unreachable"), "{error}");
    let error = collector.await.unwrap().unwrap_err();
    assert!(error.to_string().contains("unreachable"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_what_was_published_matched_and_dead_lettered() {
    const POSTS: u64 = 4000;
    let broker = Broker::start();
    let kafka = broker.kafka();
    let topics = unique_topics();
    let group = unique("filter");
    let dir = tempfile::tempdir().unwrap();
    let rules = write_rules(
        dir.path(),
        &[("ccb-rise", "建设银行 AND 涨"), ("fall", "跌")],
    );
    let ports = [free_port(), free_port()];
    let filters: Vec<Running<()>> = ["m1", "m2"]
        .iter()
        .zip(ports)
        .map(|(id, port)| start_filter(filter_config(&kafka, &topics, &group, &rules, id, port)))
        .collect();
    let filter_urls: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();

    // Both replicas ready once they have joined the group.
    let start = Instant::now();
    for url in &filter_urls {
        loop {
            // Connection refused until the server is bound: not ready either.
            let ready = match reqwest::get(format!("{url}/readyz")).await {
                Ok(reply) => (
                    reply.status().as_u16(),
                    reply.text().await.unwrap_or_default(),
                ),
                Err(error) => (0, error.to_string()),
            };
            if ready.0 == 200 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "{url}: {ready:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    let collector_port = free_port();
    let mut config = CollectorConfig {
        kafka: kafka.clone(),
        topics: topics.clone(),
        http: HttpSettings::on(&format!("127.0.0.1:{collector_port}")),
        ..CollectorConfig::default()
    };
    config.sources = vec![SourceKind::Synthetic];
    config.synthetic.count = POSTS;
    config.synthetic.rate_per_s = 1000;
    config.synthetic.seed = 5;
    let collector = Collector::build(config).unwrap();
    let collector = tokio::spawn(collector.run(CancellationToken::new()));
    let collector_url = vec![format!("http://127.0.0.1:{collector_port}")];

    // While it runs: ready, and never more published than the topic holds.
    let body = until(&collector_url, Duration::from_secs(20), |b| {
        sum(
            b,
            "weibostream_collector_posts_published_total",
            "source=\"synthetic\"",
        ) >= 500.0
    })
    .await;
    assert_eq!(
        get(&format!("{}/readyz", collector_url[0])).await.status,
        200
    );
    let seen = sum(
        &body,
        "weibostream_collector_posts_published_total",
        "source=\"synthetic\"",
    );
    let in_topic = {
        let (kafka, topic) = (kafka.clone(), topics.raw.clone());
        tokio::task::spawn_blocking(move || {
            read_topic(&kafka, &topic, seen as usize, Duration::from_secs(20)).len()
        })
        .await
        .unwrap()
    };
    assert_eq!(
        in_topic as f64, seen,
        "every post counted as published is in the topic"
    );
    assert_eq!(
        sum(&body, "weibostream_collector_publish_errors_total", ""),
        0.0
    );
    assert!(
        body.contains("weibostream_collector_producer_queue_messages"),
        "{body}"
    );
    assert!(
        body.contains(
            "weibostream_collector_source_errors_total{source=\"synthetic\",kind=\"timeout\"} 0"
        ),
        "{body}"
    );
    let summary = tokio::time::timeout(Duration::from_secs(30), collector)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(summary.published, POSTS);

    // Two undecodable records for the dead-letter counters.
    let producer: FutureProducer = kafka.producer_config("metrics-test").create().unwrap();
    for payload in ["not json", "{\"id\": 1}"] {
        producer
            .send(
                FutureRecord::to(&topics.raw).key("k").payload(payload),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }

    // The oracle: what is in the topic, matched by substring, not by the filter's code.
    let values = {
        let (kafka, topic) = (kafka.clone(), topics.raw.clone());
        tokio::task::spawn_blocking(move || {
            read_topic(&kafka, &topic, POSTS as usize + 2, Duration::from_secs(30))
        })
        .await
        .unwrap()
    };
    let posts: Vec<Post> = values
        .iter()
        .filter_map(|v| serde_json::from_slice(v).ok())
        .collect();
    assert_eq!(posts.len() as u64, POSTS);
    let rise = posts
        .iter()
        .filter(|p| p.text.contains("建设银行") && p.text.contains("涨"))
        .count();
    let fall = posts.iter().filter(|p| p.text.contains("跌")).count();
    let any = posts
        .iter()
        .filter(|p| (p.text.contains("建设银行") && p.text.contains("涨")) || p.text.contains("跌"))
        .count();
    assert!(
        rise > 0 && fall > 0,
        "the synthetic posts include both rules' matches"
    );

    let body = until(&filter_urls, Duration::from_secs(40), |b| {
        sum(b, "weibostream_filter_posts_in_total", "") == POSTS as f64
            && sum(b, "weibostream_filter_records_dead_lettered_total", "") == 2.0
            && sum(b, "weibostream_filter_consumer_lag_total_records", "") == 0.0
    })
    .await;
    let rule = |id: &str| {
        sum(
            &body,
            "weibostream_filter_rule_matches_total",
            &format!("rule=\"{id}\""),
        )
    };
    assert_eq!(rule("ccb-rise"), rise as f64, "{body}");
    assert_eq!(rule("fall"), fall as f64, "{body}");
    assert_eq!(
        sum(&body, "weibostream_filter_posts_matched_total", ""),
        any as f64
    );
    let reasons: BTreeMap<String, f64> =
        metrics_with_prefix(&body, "weibostream_filter_records_dead_lettered_total")
            .into_iter()
            .fold(BTreeMap::new(), |mut map, (series, value)| {
                *map.entry(series).or_default() += value;
                map
            });
    assert_eq!(
        reasons.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "weibostream_filter_records_dead_lettered_total{reason=\"invalid_json\"}",
            "weibostream_filter_records_dead_lettered_total{reason=\"not_a_post\"}",
        ],
        "{body}"
    );
    assert_eq!(
        sum(&body, "weibostream_filter_assigned_partitions", ""),
        6.0
    );
    assert_eq!(
        sum(&body, "weibostream_filter_batch_interval_seconds", ""),
        2.0,
        "1 s on each replica"
    );
    let batches = sum(&body, "weibostream_filter_batches_total", "");
    assert!(batches >= 4.0, "{body}");
    assert_eq!(
        sum(
            &body,
            "weibostream_filter_batch_processing_seconds_count",
            ""
        ),
        batches
    );
    for url in &filter_urls {
        assert_eq!(get(&format!("{url}/readyz")).await.status, 200);
        assert_eq!(get(&format!("{url}/healthz")).await.status, 200);
    }
    // Lag is per partition while the replica has it, and in the reports.
    assert_eq!(
        metrics_with_prefix(&body, "weibostream_filter_consumer_lag_records{").len(),
        6,
        "{body}"
    );
    let reports = reports(&kafka, &topics.reports, Duration::from_secs(2)).await;
    assert!(reports.iter().any(|r| r.lag == Some(0)), "{reports:?}");

    for filter in filters {
        filter.stop().await;
    }
}

//! Alerts through the real pipeline: a real broker, a filter replica and the
//! sink with an SQLite store, alerts from the rules file and two webhook
//! channels on local HTTP servers, one of which never answers. The alert
//! fires once; a restarted sink in a new group replays every matched post
//! and gets more in the same window, and does not fire again; the hanging
//! channel delays neither the stream nor the other channel.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use weibostream_shared::secret::SecretSource;
use weibostream_shared::{Author, Post, Source};
use weibostream_sink::config::{AlertChannel, ChannelKind};
use weibostream_tests::pipeline::{start_filter, start_sink_with, wait_for_assignments};
use weibostream_tests::web::publish_posts;
use weibostream_tests::{Broker, eventually, unique, unique_topics};

const RULES: &str = r#"
[[rule]]
id = "surge"
query = "暴涨警报"

[rule.alert]
window_s = 3600
min_matches = 20
cooldown_s = 7200
"#;

/// What a receiver got, and when.
type Received = Arc<Mutex<Vec<(serde_json::Value, Instant)>>>;

async fn receiver(hang: bool) -> (Received, String) {
    use axum::routing::post;
    let got: Received = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/",
        post(move |body: axum::Json<serde_json::Value>| async move {
            seen.lock().unwrap().push((body.0, Instant::now()));
            if hang {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            "ok"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (got, format!("http://{address}/"))
}

fn posts(from: usize, n: usize) -> Vec<Post> {
    let now = Utc::now();
    (from..from + n)
        .map(|i| Post {
            id: Source::Weibo.post_id(&format!("surge-{}-{i}", std::process::id())),
            source: Source::Weibo,
            text: format!("暴涨警报 第{i}条"),
            lang: Some("zh".into()),
            created_at: now,
            author: Author {
                id: format!("a{i}"),
                name: "股民".into(),
                followers: None,
                verified: false,
            },
            url: Some(format!("https://weibo.com/a/{i}")),
            reposts: 0,
            comments: 0,
            likes: 0,
            repost_of: None,
            client: None,
            collected_at: now,
        })
        .collect()
}

fn stored(db: &std::path::Path) -> i64 {
    let connection = rusqlite::Connection::open(db).unwrap();
    connection
        .query_row("SELECT COUNT(*) FROM matched_posts", [], |r| r.get(0))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_alert_fires_once_across_a_sink_restart_and_a_hanging_channel_holds_nothing_up() {
    let broker = Broker::start();
    let kafka = broker.kafka();
    let topics = unique_topics();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let db = dir.path().join("history.db");
    let (got, url) = receiver(false).await;
    let (hung, hang_url) = receiver(true).await;
    let url_file = dir.path().join("hook-url");
    std::fs::write(&url_file, format!("{url}\n")).unwrap();
    let hang_file = dir.path().join("hang-url");
    std::fs::write(&hang_file, &hang_url).unwrap();
    let configure = |c: &mut weibostream_sink::SinkConfig| {
        c.sqlite_path = Some(db.clone());
        c.alerts.rules_path = Some(rules.clone());
        c.alerts.timeout_ms = 2000;
        c.shutdown_timeout_ms = 2000;
        c.alerts.channels = vec![
            AlertChannel {
                name: "hung".into(),
                kind: ChannelKind::Webhook,
                url: SecretSource::new(format!("file:{}", hang_file.display())),
                secret: None,
            },
            AlertChannel {
                name: "hook".into(),
                kind: ChannelKind::Webhook,
                url: SecretSource::new(format!("file:{}", url_file.display())),
                secret: None,
            },
        ];
    };

    let sink = start_sink_with(&kafka, &topics, &dir.path().join("a.jsonl"), configure);
    let group = unique("filter");
    let filter = start_filter(&kafka, &topics, &group, &rules, "f1");
    wait_for_assignments(&kafka, &topics.reports, &["f1"], Duration::from_secs(60)).await;

    let published = Instant::now();
    publish_posts(&kafka, &topics.raw, &posts(0, 30)).await;
    eventually(Duration::from_secs(60), || stored(&db) == 30).await;
    let all_stored = published.elapsed();
    eventually(Duration::from_secs(30), || got.lock().unwrap().len() == 1).await;
    let alerted = got.lock().unwrap()[0].1 - published;
    println!(
        "30 posts stored {all_stored:?} and the alert received {alerted:?} after publishing (one channel hanging)"
    );
    // The channels are delivered side by side: the hanging one may read
    // its request a moment after the other answered.
    eventually(Duration::from_secs(5), || !hung.lock().unwrap().is_empty()).await;
    let alert = got.lock().unwrap()[0].0.clone();
    assert_eq!(alert["rule"], "surge");
    assert_eq!(alert["kind"], "threshold");
    assert!(alert["matches"].as_u64().unwrap() >= 20);

    // The stream goes on while the channel hangs.
    publish_posts(&kafka, &topics.raw, &posts(30, 10)).await;
    eventually(Duration::from_secs(60), || stored(&db) == 40).await;
    let stopping = Instant::now();
    sink.stop().await;
    println!(
        "sink stopped in {:?} with a delivery hanging",
        stopping.elapsed()
    );
    assert!(stopping.elapsed() < Duration::from_secs(10));

    // A restarted sink in a new group replays every matched post, and more
    // arrive in the same window: the alert is not sent again.
    let sink = start_sink_with(&kafka, &topics, &dir.path().join("b.jsonl"), |c| {
        configure(c);
        c.group = unique("replay");
    });
    publish_posts(&kafka, &topics.raw, &posts(40, 30)).await;
    eventually(Duration::from_secs(60), || stored(&db) == 70).await;
    let replayed = dir.path().join("b.jsonl");
    eventually(Duration::from_secs(60), || {
        std::fs::read_to_string(&replayed)
            .map(|t| t.lines().count())
            .unwrap_or(0)
            >= 70
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        got.lock().unwrap().len(),
        1,
        "fired exactly once across the restart"
    );
    sink.stop().await;
    filter.stop().await;
    let connection = rusqlite::Connection::open(&db).unwrap();
    let alerts: i64 = connection
        .query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(alerts, 1);
}

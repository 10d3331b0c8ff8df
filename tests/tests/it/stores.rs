//! Durable sinks: SQLite and PostgreSQL hold every matched post exactly once,
//! across replays, and a database that is down for 20 s loses nothing.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use weibostream_tests::pipeline::{
    Pipeline, assert_output_equals, oracle, start_sink_with, start_synthetic,
};
use weibostream_tests::proxy::Proxy;
use weibostream_tests::{eventually, postgres_url, unique};

const POSTS: u64 = 20_000;

fn sqlite_ids(path: &std::path::Path) -> (u64, BTreeSet<String>) {
    let connection = rusqlite::Connection::open(path).unwrap();
    let count: i64 = connection
        .query_row("SELECT COUNT(*) FROM matched_posts", [], |r| r.get(0))
        .unwrap();
    let mut statement = connection.prepare("SELECT id FROM matched_posts").unwrap();
    let ids = statement
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (count as u64, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_holds_each_match_once_even_when_everything_is_replayed() {
    let pipeline = Pipeline::start(&["r0", "r1", "r2"]).await;
    let (kafka, topics) = (pipeline.kafka.clone(), pipeline.topics.clone());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("weibostream.db");
    let store_sink = start_sink_with(&kafka, &topics, &dir.path().join("a.jsonl"), |c| {
        c.sqlite_path = Some(db.clone())
    });

    assert_eq!(
        start_synthetic(&kafka, &topics, POSTS, 0, 8)
            .stop_when_done()
            .await
            .published,
        POSTS
    );
    let expected = oracle(&kafka, &topics.raw, POSTS).await;
    assert_output_equals(&dir.path().join("a.jsonl"), &expected).await;
    let (count, ids) = sqlite_ids(&db);
    assert_eq!((count, &ids), (expected.len() as u64, &*expected));
    store_sink.stop().await;

    // A second sink in a new group replays the whole matched topic into the same database.
    let replay = start_sink_with(&kafka, &topics, &dir.path().join("b.jsonl"), |c| {
        c.sqlite_path = Some(db.clone());
        c.group = unique("replay");
    });
    assert_output_equals(&dir.path().join("b.jsonl"), &expected).await;
    replay.stop().await;
    let (count, ids) = sqlite_ids(&db);
    assert_eq!(
        (count, &ids),
        (expected.len() as u64, &*expected),
        "the replay created extra rows"
    );
    pipeline.stop().await;
}

async fn postgres_database() -> String {
    let base = postgres_url();
    let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let name = unique("ws").replace('-', "_");
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
}

async fn postgres_ids(url: &str) -> (u64, BTreeSet<String>) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let count: i64 = client
        .query_one("SELECT COUNT(*) FROM matched_posts", &[])
        .await
        .unwrap()
        .get(0);
    let rows = client
        .query("SELECT id FROM matched_posts", &[])
        .await
        .unwrap();
    (
        count as u64,
        rows.iter().map(|r| r.get::<_, String>(0)).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_down_for_20_s_loses_and_doubles_nothing() {
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

    let pipeline = Pipeline::start(&["r0", "r1", "r2"]).await;
    let (kafka, topics) = (pipeline.kafka.clone(), pipeline.topics.clone());
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("pg.jsonl");
    let sink = start_sink_with(&kafka, &topics, &jsonl, |c| {
        c.postgres_url = Some(weibostream_shared::secret::Secret::new(via_proxy.clone()));
        c.store_retry_max_ms = 2000;
    });

    let collector = start_synthetic(&kafka, &topics, 30_000, 3000, 9);
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(20)).await;
    let during = postgres_ids(&url).await.0;
    proxy.restore();

    assert_eq!(collector.stop_when_done().await.published, 30_000);
    let expected = oracle(&kafka, &topics.raw, 30_000).await;
    assert!(
        during < expected.len() as u64,
        "the outage did not hold anything back ({during} rows)"
    );
    assert_output_equals(&jsonl, &expected).await;
    let mut latest = (0, BTreeSet::new());
    eventually(Duration::from_secs(30), || {
        latest = futures_lite_block(postgres_ids(&url));
        latest.0 >= expected.len() as u64
    })
    .await;
    assert_eq!((latest.0, &latest.1), (expected.len() as u64, &*expected));
    sink.stop().await;
    pipeline.stop().await;
}

/// Runs a future to completion from inside a synchronous closure.
fn futures_lite_block<F: std::future::Future>(future: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

//! Durable sinks: SQLite and PostgreSQL hold every matched post exactly once,
//! across replays, and a database that is down for 20 s loses nothing; a
//! block output while its store failed is stored once after a restart.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use weibostream_shared::{Author, Post, Source};
use weibostream_sink::store::SqliteStore;
use weibostream_tests::pipeline::{
    Pipeline, assert_output_equals, jsonl_posts, oracle, start_filter, start_sink_with,
    start_synthetic, wait_for_assignments, write_rules,
};
use weibostream_tests::proxy::Proxy;
use weibostream_tests::web::publish_posts;
use weibostream_tests::{Broker, eventually, postgres_url, unique, unique_topics};

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

/// Posts that match `建设银行 AND 涨`, with ids unique to this run.
fn rising(n: usize) -> Vec<Post> {
    let now = Utc::now();
    (0..n)
        .map(|i| Post {
            id: Source::Weibo.post_id(&format!("refused-{}-{i}", std::process::id())),
            source: Source::Weibo,
            text: format!("建设银行 今天涨了 第{i}条"),
            lang: Some("zh".into()),
            created_at: now,
            author: Author {
                id: format!("a{i}"),
                name: "股民".into(),
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
        })
        .collect()
}

// The outputs run ahead of the store: a post can be in the JSON lines (and
// so in the de-duplication set a restarted sink loads from them) but not in
// the store. The restarted sink must still store it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_block_output_while_the_store_failed_is_stored_once_after_a_restart() {
    const POSTS: usize = 40;
    let broker = Broker::start();
    let kafka = broker.kafka();
    let topics = unique_topics();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    drop(SqliteStore::open(&db).unwrap());
    // SQLite itself refuses every insert until the trigger is dropped.
    let connection = rusqlite::Connection::open(&db).unwrap();
    connection
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON matched_posts
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
        .unwrap();
    let jsonl = dir.path().join("matched.jsonl");
    let group = unique("sink");
    let configure = |c: &mut weibostream_sink::SinkConfig| {
        c.sqlite_path = Some(db.clone());
        c.group = group.clone();
        c.store_retry_max_ms = 500;
        c.shutdown_timeout_ms = 1000;
    };
    let sink = start_sink_with(&kafka, &topics, &jsonl, configure);
    let rules = write_rules(dir.path(), &[("ccb-rise", "建设银行 AND 涨")]);
    let filter = start_filter(&kafka, &topics, &unique("filter"), &rules, "f1");
    wait_for_assignments(&kafka, &topics.reports, &["f1"], Duration::from_secs(60)).await;

    let posts = rising(POSTS);
    let expected: BTreeSet<String> = posts.iter().map(|p| p.id.clone()).collect();
    publish_posts(&kafka, &topics.raw, &posts).await;
    eventually(Duration::from_secs(60), || !jsonl_posts(&jsonl).is_empty()).await;
    // Two more batches, for anything still on its way to the outputs.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let output = jsonl_posts(&jsonl).len();
    assert_eq!(
        sqlite_ids(&db).0,
        0,
        "the trigger did not refuse the insert"
    );
    sink.stop().await;
    println!("{output} of {POSTS} posts output while the store refused them");

    connection.execute_batch("DROP TRIGGER refuse").unwrap();
    let sink = start_sink_with(&kafka, &topics, &jsonl, configure);
    eventually(Duration::from_secs(60), || {
        sqlite_ids(&db).0 >= POSTS as u64
    })
    .await;
    let (count, ids) = sqlite_ids(&db);
    assert_eq!((count, &ids), (POSTS as u64, &expected));
    let written: Vec<String> = jsonl_posts(&jsonl).into_iter().map(|m| m.post.id).collect();
    assert_eq!(
        written.len(),
        POSTS,
        "a post was output twice or not at all"
    );
    assert_eq!(written.into_iter().collect::<BTreeSet<_>>(), expected);
    sink.stop().await;
    filter.stop().await;
}

//! Mastodon REST polling and SSE streaming against local instances.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use weibostream_collector::config::{MastodonInstance, MastodonSettings};
use weibostream_collector::metrics::ErrorKind;
use weibostream_collector::sources::SourceError;
use weibostream_collector::sources::mastodon::MastodonSource;
use weibostream_collector::sources::mastodon_stream;
use weibostream_shared::secret::Secret;

use crate::support::{HttpServer, Reply, Request, TestContext, eventually, ids, spawn};

const LIMIT: Duration = Duration::from_secs(10);
const TIMELINE: &str = "/api/v1/timelines/public";
const STREAM: &str = "/api/v1/streaming/public";

pub fn status(id: u64) -> Value {
    json!({
        "id": id.to_string(), "created_at": "2022-08-30T23:12:47.000Z", "language": "en",
        "content": format!("<p>toot {id} &amp; <a href=\"https://x.example/a\"><span class=\"invisible\">https://</span>x.example/a</a></p><p>bye</p>"),
        "url": format!("https://m.example/@alice/{id}"), "uri": format!("https://m.example/users/alice/statuses/{id}"),
        "visibility": "public", "reblogs_count": 1, "replies_count": 2, "favourites_count": 3, "reblog": null,
        "account": {"id": "42", "username": "alice", "acct": "alice", "display_name": "Alice", "followers_count": 9}
    })
}

/// A Mastodon instance: a public timeline, faults served first, and scripted streams.
#[derive(Clone, Default)]
pub struct Instance {
    pub statuses: Arc<Mutex<Vec<u64>>>,
    faults: Arc<Mutex<VecDeque<Reply>>>,
    streams: Arc<Mutex<VecDeque<Reply>>>,
}

impl Instance {
    pub fn add(&self, ids: impl IntoIterator<Item = u64>) {
        self.statuses.lock().unwrap().extend(ids);
    }

    fn fault(&self, reply: Reply) {
        self.faults.lock().unwrap().push_back(reply);
    }

    fn stream(&self, chunks: Vec<String>, hang_after: Duration) {
        let chunks = chunks
            .into_iter()
            .map(|chunk| (Duration::from_millis(20), chunk))
            .collect();
        self.streams
            .lock()
            .unwrap()
            .push_back(Reply::Stream { chunks, hang_after });
    }

    fn reply(&self, request: &Request) -> Reply {
        if let Some(fault) = self.faults.lock().unwrap().pop_front() {
            return fault;
        }
        if request.path == STREAM {
            let next = self.streams.lock().unwrap().pop_front();
            return next.unwrap_or(Reply::Hang(Duration::from_secs(30)));
        }
        let number = |key: &str| request.query.get(key).and_then(|v| v.parse::<u64>().ok());
        let (since, max) = (number("since_id"), number("max_id"));
        let mut page: Vec<u64> = self
            .statuses
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|id| since.is_none_or(|s| *id > s) && max.is_none_or(|m| *id < m))
            .collect();
        page.sort_unstable_by(|a, b| b.cmp(a));
        page.truncate(number("limit").unwrap_or(20) as usize);
        let body: Vec<Value> = page.into_iter().map(status).collect();
        Reply::json(200, Value::Array(body).to_string())
    }

    pub async fn serve(&self) -> HttpServer {
        let instance = self.clone();
        HttpServer::start(move |request| instance.reply(request)).await
    }
}

pub fn settings(servers: &[&HttpServer], token_env: &str) -> MastodonSettings {
    MastodonSettings {
        instances: servers
            .iter()
            .map(|server| MastodonInstance {
                base_url: server.url(),
                access_token_env: token_env.into(),
                ..MastodonInstance::default()
            })
            .collect(),
        poll_interval_ms: 10,
        page_size: 2,
        request_timeout_ms: 500,
        stream_idle_timeout_ms: 2000,
        ..MastodonSettings::default()
    }
}

fn post_ids(server: &HttpServer, range: std::ops::RangeInclusive<u64>) -> Vec<String> {
    range
        .map(|id| format!("mastodon:{}/{id}", server.addr))
        .collect()
}

fn event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

#[tokio::test]
async fn polls_two_instances_paging_back_to_since_id() {
    let (a, b) = (Instance::default(), Instance::default());
    a.add(1..=5);
    b.add(1..=3);
    let (server_a, server_b) = (a.serve().await, b.serve().await);
    let settings = settings(&[&server_a, &server_b], "");
    let mut test_a = TestContext::new("a", None);
    let mut test_b = TestContext::new("b", None);
    let task_a = spawn(
        MastodonSource::new(&settings, 0, None)
            .unwrap()
            .run(test_a.context.clone()),
    );
    let task_b = spawn(
        MastodonSource::new(&settings, 1, None)
            .unwrap()
            .run(test_b.context.clone()),
    );

    let (posts, cursor) = test_a.posts(2, LIMIT).await;
    assert_eq!(
        ids(&posts),
        post_ids(&server_a, 4..=5),
        "first poll: the newest page"
    );
    assert_eq!(cursor.as_deref(), Some(r#"{"since_id":"5"}"#));
    let post = &posts[0];
    assert_eq!(post.text, "toot 4 & https://x.example/a\n\nbye");
    assert_eq!(post.url.as_deref(), Some("https://m.example/@alice/4"));
    assert_eq!(post.author.id, format!("{}/42", server_a.addr));
    let (posts, _) = test_b.posts(2, LIMIT).await;
    assert_eq!(
        ids(&posts),
        post_ids(&server_b, 2..=3),
        "same status ids, other instance"
    );

    a.add(6..=10);
    let (posts, cursor) = test_a.posts(5, LIMIT).await;
    assert_eq!(ids(&posts), post_ids(&server_a, 6..=10));
    assert_eq!(cursor.as_deref(), Some(r#"{"since_id":"10"}"#));
    let paged: Vec<_> = server_a
        .requests_to(TIMELINE)
        .into_iter()
        .filter(|r| r.query.get("since_id").map(String::as_str) == Some("5"))
        .map(|r| r.query.get("max_id").cloned())
        .collect();
    assert_eq!(
        paged[paged.len() - 3..],
        [None, Some("9".into()), Some("7".into())]
    );
    assert!(
        server_a
            .requests_to(TIMELINE)
            .iter()
            .all(|r| r.query.get("limit").map(String::as_str) == Some("2"))
    );
    assert!(
        server_a
            .requests_to(TIMELINE)
            .iter()
            .all(|r| !r.headers.contains_key("authorization"))
    );
    test_a.no_more_posts(Duration::from_millis(200)).await;
    test_a.shutdown.cancel();
    test_b.shutdown.cancel();
    task_a.await.unwrap().unwrap();
    task_b.await.unwrap().unwrap();
}

#[tokio::test]
async fn waits_for_the_rate_limit_reset_and_retries_server_errors() {
    let instance = Instance::default();
    instance.add(1..=2);
    let reset = chrono::Utc::now() + chrono::TimeDelta::milliseconds(700);
    instance.fault(Reply::Full {
        status: 429,
        headers: vec![
            ("X-RateLimit-Limit".into(), "300".into()),
            ("X-RateLimit-Remaining".into(), "0".into()),
            (
                "X-RateLimit-Reset".into(),
                reset.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ),
        ],
        body: r#"{"error":"Too many requests"}"#.into(),
    });
    instance.fault(Reply::Full {
        status: 502,
        headers: vec![],
        body: "bad gateway".into(),
    });
    instance.fault(Reply::json(200, "[{\"id\":"));
    let server = instance.serve().await;
    let mut test = TestContext::new("m", None);
    let task = spawn(
        MastodonSource::new(&settings(&[&server], ""), 0, None)
            .unwrap()
            .run(test.context.clone()),
    );
    let (posts, _) = test.posts(2, LIMIT).await;
    assert_eq!(ids(&posts), post_ids(&server, 1..=2));
    let requests = server.requests_to(TIMELINE);
    let waited = requests[1].at - requests[0].at;
    assert!(
        waited >= Duration::from_millis(600),
        "retried after {waited:?}, before the reset"
    );
    for (kind, count) in [
        (ErrorKind::RateLimited, 1),
        (ErrorKind::Http5xx, 1),
        (ErrorKind::InvalidJson, 1),
    ] {
        assert_eq!(test.metrics.errors(kind), count, "{kind:?}");
    }
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn http_401_stops_the_source_naming_the_token_key() {
    let instance = Instance::default();
    instance.fault(Reply::json(
        401,
        r#"{"error":"The access token is invalid"}"#,
    ));
    instance.fault(Reply::json(
        401,
        r#"{"error":"The access token is invalid"}"#,
    ));
    let server = instance.serve().await;
    let test = TestContext::new("m", None);
    let source =
        MastodonSource::new(&settings(&[&server], ""), 0, Some(Secret::new("bad"))).unwrap();
    let mut settings = settings(&[&server], "");
    settings.instances[0].streaming = false;
    let source_polling = MastodonSource::new(&settings, 0, Some(Secret::new("bad"))).unwrap();
    let streaming = mastodon_stream::run(source, test.context.clone());
    let polling = source_polling.run(test.context.clone());
    for result in [
        tokio::time::timeout(LIMIT, streaming).await.unwrap(),
        tokio::time::timeout(LIMIT, polling).await.unwrap(),
    ] {
        let Err(SourceError::Fatal(message)) = result else {
            panic!("{result:?}")
        };
        assert!(message.contains("The access token is invalid"), "{message}");
        assert!(
            message.contains("mastodon.instances[0].access_token_env"),
            "{message}"
        );
    }
    assert_eq!(
        server.requests_to(STREAM).len(),
        1,
        "no retry of the stream"
    );
    assert_eq!(
        server.requests_to(TIMELINE).len(),
        1,
        "no retry of the poll"
    );
}

#[tokio::test]
async fn streams_with_heartbeats_and_backfills_after_a_reconnect() {
    let instance = Instance::default();
    instance.add(1..=7);
    let update = |id: u64| event("update", &status(id).to_string());
    instance.stream(
        vec![
            ":)\n\n".into(),
            update(4),
            event("delete", "2"),
            event("status.update", &status(4).to_string()),
            ":thump\n\n".into(),
            update(5),
        ],
        Duration::ZERO,
    );
    instance.stream(vec![update(5), update(7)], Duration::from_secs(30));
    let server = instance.serve().await;
    let mut test = TestContext::new("m", None);
    let source =
        MastodonSource::new(&settings(&[&server], ""), 0, Some(Secret::new("tok"))).unwrap();
    let task = spawn(mastodon_stream::run(source, test.context.clone()));
    let (posts, _) = test.posts(2, LIMIT).await;
    assert_eq!(ids(&posts), post_ids(&server, 4..=5));
    // Never streamed: the REST backfill after the reconnect finds them.
    let (posts, cursor) = test.posts(2, LIMIT).await;
    assert_eq!(ids(&posts), post_ids(&server, 6..=7));
    assert_eq!(cursor.as_deref(), Some(r#"{"since_id":"7"}"#));
    test.no_more_posts(Duration::from_millis(200)).await;
    let streams = server.requests_to(STREAM);
    assert_eq!(streams.len(), 2);
    assert!(
        streams
            .iter()
            .all(|r| r.headers.get("authorization").map(String::as_str) == Some("Bearer tok"))
    );
    let backfill = server.requests_to(TIMELINE);
    assert_eq!(
        backfill[0].query.get("since_id").map(String::as_str),
        Some("5")
    );
    assert_eq!(test.metrics.skipped(), 2, "delete and edit skipped");
    assert!(
        test.metrics.duplicates() >= 2,
        "replayed 5 and backfilled 7 dropped"
    );
    assert_eq!(test.metrics.errors(ErrorKind::Closed), 1);
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_silent_stream_times_out_and_reconnects() {
    let instance = Instance::default();
    instance.stream(vec![], Duration::from_secs(30));
    instance.stream(
        vec![event("update", &status(1).to_string())],
        Duration::from_secs(30),
    );
    let server = instance.serve().await;
    let mut config = settings(&[&server], "");
    config.stream_idle_timeout_ms = 300;
    let mut test = TestContext::new("m", None);
    let source = MastodonSource::new(&config, 0, Some(Secret::new("tok"))).unwrap();
    let task = spawn(mastodon_stream::run(source, test.context.clone()));
    let (posts, _) = test.posts(1, LIMIT).await;
    assert_eq!(ids(&posts), post_ids(&server, 1..=1));
    eventually(LIMIT, "timeout counted", || {
        test.metrics.errors(ErrorKind::Timeout) == 1
    })
    .await;
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_retry_field_sets_the_least_wait_before_reconnecting() {
    let instance = Instance::default();
    instance.stream(
        vec![
            "retry: 1500\n\n".into(),
            event("update", &status(1).to_string()),
        ],
        Duration::ZERO,
    );
    instance.stream(vec![], Duration::from_secs(30));
    let server = instance.serve().await;
    let mut test = TestContext::new("m", None);
    let source =
        MastodonSource::new(&settings(&[&server], ""), 0, Some(Secret::new("tok"))).unwrap();
    let task = spawn(mastodon_stream::run(source, test.context.clone()));
    let (posts, _) = test.posts(1, LIMIT).await;
    assert_eq!(ids(&posts), post_ids(&server, 1..=1));
    eventually(LIMIT, "reconnected", || {
        server.requests_to(STREAM).len() == 2
    })
    .await;
    let streams = server.requests_to(STREAM);
    // The backoff alone waits at most 200 ms here.
    let gap = streams[1].at - streams[0].at;
    assert!(
        gap >= Duration::from_millis(1500),
        "reconnected after {gap:?}"
    );
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

//! The Weibo poller against a local Weibo-shaped server.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use weibostream_collector::config::{WeiboSettings, WeiboTimeline};
use weibostream_collector::metrics::ErrorKind;
use weibostream_collector::sources::SourceError;
use weibostream_collector::sources::weibo::WeiboSource;
use weibostream_shared::secret::Secret;

use crate::support::{HttpServer, Reply, Request, TestContext, eventually, ids, spawn};

const LIMIT: Duration = Duration::from_secs(10);

fn status(id: u64) -> Value {
    json!({
        "created_at": "Wed Jan 21 18:50:05 +0800 2015", "id": id, "idstr": id.to_string(),
        "mid": id.to_string(), "text": format!("微博 {id} &amp; more"), "source": "<a href=\"x\">微博 weibo.com</a>",
        "reposts_count": 1, "comments_count": "2", "attitudes_count": 3,
        "user": {"id": 5000 + id % 7, "screen_name": format!("user{}", id % 7), "followers_count": 10}
    })
}

/// A Weibo timeline: statuses by id, faults served first, `since_id` honoured or not.
#[derive(Clone, Default)]
struct Timeline {
    statuses: Arc<Mutex<Vec<Value>>>,
    faults: Arc<Mutex<VecDeque<Reply>>>,
    ignore_since_id: bool,
    window: Option<usize>,
    /// Answers requests for later pages (with `max_id`) instead, when it returns a reply.
    later_pages: Arc<Mutex<Option<Box<LaterPages>>>>,
    handed_out: Arc<Mutex<BTreeSet<u64>>>,
}

type LaterPages = dyn Fn() -> Option<Reply> + Send + Sync;

impl Timeline {
    fn add(&self, ids: impl IntoIterator<Item = u64>) {
        self.statuses
            .lock()
            .unwrap()
            .extend(ids.into_iter().map(status));
    }

    fn add_statuses(&self, statuses: Vec<Value>) {
        self.statuses.lock().unwrap().extend(statuses);
    }

    fn fault(&self, reply: Reply) {
        self.faults.lock().unwrap().push_back(reply);
    }

    fn reply(&self, request: &Request) -> Reply {
        if let Some(fault) = self.faults.lock().unwrap().pop_front() {
            return fault;
        }
        let number = |key: &str| request.query.get(key).and_then(|v| v.parse::<u64>().ok());
        if number("max_id").is_some()
            && let Some(later) = self.later_pages.lock().unwrap().as_ref()
            && let Some(reply) = later()
        {
            return reply;
        }
        let since = if self.ignore_since_id {
            None
        } else {
            number("since_id")
        };
        let max = number("max_id");
        let count = number("count").unwrap_or(20) as usize;
        let mut page: Vec<Value> = self
            .statuses
            .lock()
            .unwrap()
            .iter()
            .filter(|s| {
                let id = s["id"].as_u64().unwrap();
                since.is_none_or(|since| id > since) && max.is_none_or(|max| id <= max)
            })
            .cloned()
            .collect();
        page.sort_by_key(|s| std::cmp::Reverse(s["id"].as_u64().unwrap()));
        page.truncate(self.window.unwrap_or(count).min(count));
        self.handed_out
            .lock()
            .unwrap()
            .extend(page.iter().map(|s| s["id"].as_u64().unwrap()));
        let body = json!({"statuses": page, "previous_cursor": 0, "next_cursor": 0, "total_number": page.len()});
        Reply::json(200, body.to_string())
    }

    async fn serve(&self) -> HttpServer {
        let timeline = self.clone();
        HttpServer::start(move |request| timeline.reply(request)).await
    }
}

fn settings(server: &HttpServer, timeline: WeiboTimeline) -> WeiboSettings {
    WeiboSettings {
        base_url: format!("{}/2", server.url()),
        timeline,
        calls_per_hour: 360_000,
        page_size: 10,
        max_pages_per_poll: 5,
        request_timeout_ms: 500,
        ..WeiboSettings::default()
    }
}

fn weibo_ids(range: std::ops::RangeInclusive<u64>) -> Vec<String> {
    range.map(|id| format!("weibo:{id}")).collect()
}

#[tokio::test]
async fn home_timeline_pages_back_to_since_id_and_sends_oldest_first() {
    let timeline = Timeline::default();
    timeline.add(1..=15);
    let server = timeline.serve().await;
    let mut test = TestContext::new("weibo", None);
    let source = WeiboSource::new(
        settings(&server, WeiboTimeline::Home),
        Secret::new("tok-123"),
    )
    .unwrap();
    let task = spawn(source.run(test.context.clone()));

    // First poll without a cursor: the newest page only.
    let (posts, cursor) = test.posts(10, LIMIT).await;
    assert_eq!(ids(&posts), weibo_ids(6..=15));
    assert_eq!(cursor.as_deref(), Some(r#"{"since_id":15}"#));
    let first = &posts[0];
    assert_eq!(first.text, "微博 6 & more");
    assert_eq!(first.url.as_deref(), Some("https://weibo.com/5006/6"));

    // 27 new statuses, a deleted one and a repost: three pages walking back from the newest.
    let mut new: Vec<Value> = (16..=40).map(status).collect();
    new.push(json!({"id": 41, "deleted": "1"}));
    let mut repost = status(42);
    repost["retweeted_status"] = status(3);
    new.push(repost);
    timeline.add_statuses(new);
    let (posts, cursor) = test.posts(26, LIMIT).await;
    let mut expected = weibo_ids(16..=40);
    expected.push("weibo:42".into());
    assert_eq!(ids(&posts), expected);
    assert_eq!(cursor.as_deref(), Some(r#"{"since_id":42}"#));
    let repost_of = posts.last().unwrap().repost_of.as_ref().unwrap();
    assert_eq!(
        (repost_of.id.as_str(), repost_of.text.as_deref()),
        ("weibo:3", Some("微博 3 & more"))
    );
    eventually(LIMIT, "deleted status counted", || {
        test.metrics.skipped() == 1
    })
    .await;

    let requests = server.requests_to("/2/statuses/home_timeline.json");
    assert!(
        requests
            .iter()
            .all(|r| r.headers.get("authorization").map(String::as_str) == Some("OAuth2 tok-123"))
    );
    assert!(
        requests
            .iter()
            .all(|r| !r.query.contains_key("access_token")),
        "token kept out of URLs"
    );
    // since_id one below the cursor (15): status 15 comes back as proof
    // that Weibo's window still reaches the cursor.
    let paged: Vec<_> = requests
        .iter()
        .filter(|r| r.query.get("since_id").map(String::as_str) == Some("14"))
        .collect();
    let max_ids: Vec<_> = paged
        .iter()
        .map(|r| r.query.get("max_id").cloned())
        .collect();
    assert_eq!(
        max_ids[max_ids.len() - 3..],
        [None, Some("32".into()), Some("22".into())]
    );
    test.no_more_posts(Duration::from_millis(200)).await;
    test.shutdown.cancel();
    assert_eq!(task.await.unwrap(), Ok(()));
    assert_eq!(test.metrics.duplicates(), 0);
}

#[tokio::test]
async fn duplicates_across_polls_are_dropped_and_the_cursor_is_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let timeline = Timeline {
        ignore_since_id: true,
        ..Timeline::default()
    };
    timeline.add(1..=5);
    let server = timeline.serve().await;
    // A saved cursor: statuses up to 3 were published by an earlier run.
    let mut test = TestContext::new("weibo", Some(dir.path()));
    test.context
        .cursor
        .as_ref()
        .unwrap()
        .save(br#"{"since_id":3}"#)
        .unwrap();
    let source =
        WeiboSource::new(settings(&server, WeiboTimeline::Home), Secret::new("t")).unwrap();
    let task = spawn(source.run(test.context.clone()));
    let (posts, _) = test.posts(2, LIMIT).await;
    assert_eq!(ids(&posts), weibo_ids(4..=5));
    assert_eq!(
        server.requests_to("/2/statuses/home_timeline.json")[0]
            .query
            .get("since_id")
            .map(String::as_str),
        Some("2"),
        "one below the saved cursor, to see status 3 again"
    );
    // The server ignores since_id: every poll repeats old statuses.
    timeline.add(6..=7);
    let (posts, _) = test.posts(2, LIMIT).await;
    assert_eq!(ids(&posts), weibo_ids(6..=7));
    eventually(LIMIT, "duplicates counted", || {
        test.metrics.duplicates() >= 10
    })
    .await;
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn public_timeline_deduplicates_by_id_with_a_saved_window() {
    let dir = tempfile::tempdir().unwrap();
    let timeline = Timeline {
        window: Some(4),
        ..Timeline::default()
    };
    timeline.add(1..=4);
    let server = timeline.serve().await;
    let mut config = settings(&server, WeiboTimeline::Public);
    config.dedup_capacity = 6;
    let mut test = TestContext::new("weibo", Some(dir.path()));
    let task = spawn(
        WeiboSource::new(config.clone(), Secret::new("t"))
            .unwrap()
            .run(test.context.clone()),
    );
    let (posts, _) = test.posts(4, LIMIT).await;
    assert_eq!(ids(&posts), weibo_ids(1..=4));
    timeline.add(5..=6);
    let (posts, cursor) = test.posts(2, LIMIT).await;
    assert_eq!(ids(&posts), weibo_ids(5..=6));
    assert_eq!(cursor.as_deref(), Some(r#"{"seen_ids":[1,2,3,4,5,6]}"#));
    assert!(
        server
            .requests_to("/2/statuses/public_timeline.json")
            .iter()
            .all(|r| !r.query.contains_key("since_id"))
    );
    eventually(LIMIT, "overlapping polls dropped", || {
        test.metrics.duplicates() >= 4
    })
    .await;
    test.shutdown.cancel();
    task.await.unwrap().unwrap();

    // A restart from the saved window repeats nothing.
    test.context
        .cursor
        .as_ref()
        .unwrap()
        .save(cursor.unwrap().as_bytes())
        .unwrap();
    let mut again = TestContext::new("weibo", Some(dir.path()));
    let task = spawn(
        WeiboSource::new(config, Secret::new("t"))
            .unwrap()
            .run(again.context.clone()),
    );
    eventually(LIMIT, "a poll after the restart", || {
        again.metrics.duplicates() >= 4
    })
    .await;
    timeline.add(7..=7);
    let (posts, _) = again.posts(1, LIMIT).await;
    assert_eq!(ids(&posts), weibo_ids(7..=7));
    again.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn transient_errors_are_retried_with_backoff() {
    let timeline = Timeline::default();
    timeline.add(1..=3);
    let html_503 = Reply::Full {
        status: 503,
        headers: vec![],
        body: "<html>busy</html>".into(),
    };
    for fault in [
        html_503,
        Reply::json(200, r#"{"statuses":[{"id":1,"text":"#),
        Reply::json(200, "<html>not json</html>"),
        Reply::CutShort(r#"{"statuses":[{"id":1"#.into()),
        Reply::Reset,
        Reply::json(
            403,
            r#"{"request":"/2/statuses/home_timeline.json","error_code":"10022","error":"IP requests out of rate limit!"}"#,
        ),
        Reply::json(
            400,
            r#"{"request":"/2/statuses/home_timeline.json","error_code":10023,"error":"User requests out of rate limit!"}"#,
        ),
        Reply::json(
            403,
            r#"{"error_code":10024,"error":"User requests for (statuses/home_timeline) out of rate limit!"}"#,
        ),
        Reply::Hang(Duration::from_secs(3)),
        Reply::json(500, r#"{"error_code":10001,"error":"system error"}"#),
    ] {
        timeline.fault(fault);
    }
    let server = timeline.serve().await;
    let mut test = TestContext::new("weibo", None);
    let source =
        WeiboSource::new(settings(&server, WeiboTimeline::Home), Secret::new("t")).unwrap();
    let task = spawn(source.run(test.context.clone()));
    let (posts, _) = test.posts(3, LIMIT).await;
    assert_eq!(ids(&posts), weibo_ids(1..=3));
    let counts: Vec<_> = [
        ErrorKind::Http5xx,
        ErrorKind::InvalidJson,
        ErrorKind::Connection,
        ErrorKind::RateLimited,
        ErrorKind::Timeout,
    ]
    .iter()
    .map(|kind| (kind.name(), test.metrics.errors(*kind)))
    .collect();
    assert_eq!(
        counts,
        vec![
            ("http_5xx", 2),
            ("invalid_json", 2),
            ("connection", 2),
            ("rate_limited", 3),
            ("timeout", 1)
        ]
    );
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn auth_errors_stop_the_source_with_what_to_fix() {
    for (reply, detail) in [
        (
            Reply::json(400, r#"{"error_code":21327,"error":"expired_token"}"#),
            "21327 expired_token",
        ),
        (
            Reply::json(
                403,
                r#"{"error_code":"21332","error":"invalid_access_token"}"#,
            ),
            "21332",
        ),
        (
            Reply::json(400, r#"{"error_code":"21315","error":"token expired"}"#),
            "21315",
        ),
        (
            Reply::Full {
                status: 401,
                headers: vec![],
                body: "unauthorized".into(),
            },
            "HTTP 401",
        ),
    ] {
        let timeline = Timeline::default();
        timeline.fault(reply);
        let server = timeline.serve().await;
        let test = TestContext::new("weibo", None);
        let mut config = settings(&server, WeiboTimeline::Home);
        config.access_token_env = "MY_WEIBO_TOKEN".into();
        let source = WeiboSource::new(config, Secret::new("t")).unwrap();
        let result = tokio::time::timeout(LIMIT, source.run(test.context.clone()))
            .await
            .unwrap();
        let Err(SourceError::Fatal(message)) = result else {
            panic!("{detail}: {result:?}")
        };
        assert!(
            message.contains(detail) && message.contains("MY_WEIBO_TOKEN"),
            "{message}"
        );
        assert_eq!(
            server.requests_to("/2/statuses/home_timeline.json").len(),
            1,
            "no retry after {detail}"
        );
        assert_eq!(test.metrics.errors(ErrorKind::Auth), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_with_errors_on_later_pages_publishes_every_status_handed_out_exactly_once() {
    weibostream_testkit::init_logs();
    let timeline = Timeline::default();
    timeline.add(1..=10);
    let requests = Arc::new(Mutex::new(0u32));
    let counter = requests.clone();
    *timeline.later_pages.lock().unwrap() = Some(Box::new(move || {
        let mut n = counter.lock().unwrap();
        *n += 1;
        match *n % 8 {
            1 => Some(Reply::Full {
                status: 502,
                headers: vec![],
                body: "<html>502 Bad Gateway</html>".into(),
            }),
            3 => Some(Reply::json(
                403,
                r#"{"error_code":10023,"error":"User requests out of rate limit!"}"#,
            )),
            5 => Some(Reply::json(
                500,
                r#"{"error_code":10001,"error":"system error"}"#,
            )),
            _ => None,
        }
    }));
    let server = timeline.serve().await;
    let mut test = TestContext::new("weibo", None);
    let mut config = settings(&server, WeiboTimeline::Home);
    config.max_pages_per_poll = 3;
    let source = WeiboSource::new(config, Secret::new("t")).unwrap();
    let task = spawn(source.run(test.context.clone()));
    let (first, _) = test.posts(10, LIMIT).await;

    // Bursts of 45 statuses: more than one poll's 3 pages of 10 hold.
    let mut next = 11;
    for _ in 0..12 {
        timeline.add(next..next + 45);
        next += 45;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let released = (next - 11) as usize;
    let mut posts = Vec::new();
    let mut cursor = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while posts.len() < released && tokio::time::Instant::now() < deadline {
        if let Ok(Some(batch)) =
            tokio::time::timeout(Duration::from_millis(500), test.batches.recv()).await
        {
            posts.extend(batch.posts);
            if let Some(update) = batch.cursor {
                cursor = Some(String::from_utf8(update.bytes).unwrap());
            }
        }
    }
    let got: BTreeSet<String> = posts.iter().map(|p| p.id.clone()).collect();
    let missing: Vec<u64> = (11..next)
        .filter(|n| !got.contains(&format!("weibo:{n}")))
        .collect();
    assert!(
        missing.is_empty(),
        "missing {missing:?}; last cursor {cursor:?}"
    );
    test.no_more_posts(Duration::from_millis(500)).await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for post in first.iter().chain(&posts) {
        *counts.entry(post.id.clone()).or_default() += 1;
    }
    let handed_out: BTreeSet<String> = timeline
        .handed_out
        .lock()
        .unwrap()
        .iter()
        .map(|id| format!("weibo:{id}"))
        .collect();
    assert_eq!(
        counts.keys().cloned().collect::<BTreeSet<_>>(),
        handed_out,
        "every status handed out"
    );
    assert!(counts.values().all(|n| *n == 1), "exactly once");
    assert_eq!(handed_out.len(), released + 10);
    let errors = (
        test.metrics.errors(ErrorKind::Http5xx),
        test.metrics.errors(ErrorKind::RateLimited),
    );
    assert!(
        errors.0 >= 4 && errors.1 >= 2,
        "the faults happened: {errors:?}"
    );
    assert_eq!(test.metrics.gaps_abandoned(), 0);
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

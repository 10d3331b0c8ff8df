//! Posts that fall out of Weibo's window of recent posts: local servers that
//! serve only the newest posts of a feed (the mobile API's search, the open
//! API's home timeline), so a gap left by a walk that ended early can no
//! longer be filled, and more new posts than the window keeps between two
//! polls cannot all be read. The source must give the lost ids up with a
//! WARN and a metric whose `lost_at_most` is the number of ids between its
//! ends (exact here, where ids are dense), and publish nothing twice.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use weibostream_collector::config::{
    WeiboMobileSettings, WeiboSearchSettings, WeiboSettings, WeiboTimeline,
};
use weibostream_collector::sources::weibo::WeiboSource;
use weibostream_collector::sources::weibo_feeds::MobileSource;
use weibostream_collector::sources::weibo_mobile::MobileClient;
use weibostream_shared::Post;
use weibostream_shared::secret::Secret;

use crate::support::{HttpServer, Reply, Request, TestContext, eventually, spawn};

const LIMIT: Duration = Duration::from_secs(20);

/// Log lines written while the guard lives, on this thread (the tests run
/// on tokio's current-thread runtime, so the sources' tasks log here too).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// The lines that contain `needle`.
    fn lines_with(&self, needle: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

/// Post ids (numbers) by how often each was published.
fn counts(posts: &[Post]) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for post in posts {
        let id = post.id.trim_start_matches("weibo:").parse().unwrap();
        *counts.entry(id).or_default() += 1;
    }
    counts
}

/// A feed that serves only its `window` newest posts (by id), newest
/// first, and records every id it handed out.
#[derive(Clone)]
struct Window {
    ids: Arc<Mutex<BTreeSet<u64>>>,
    window: usize,
    handed_out: Arc<Mutex<BTreeSet<u64>>>,
    /// Mobile pages from this one on answer 503 while set.
    failing_from_page: Arc<Mutex<Option<u32>>>,
}

impl Window {
    fn new(window: usize) -> Window {
        Window {
            ids: Arc::default(),
            window,
            handed_out: Arc::default(),
            failing_from_page: Arc::default(),
        }
    }

    fn add(&self, ids: impl IntoIterator<Item = u64>) {
        self.ids.lock().unwrap().extend(ids);
    }

    /// The served ids, newest first, with `since < id <= max`.
    fn served(&self, since: Option<u64>, max: Option<u64>) -> Vec<u64> {
        self.ids
            .lock()
            .unwrap()
            .iter()
            .rev()
            .take(self.window)
            .copied()
            .filter(|id| since.is_none_or(|s| *id > s) && max.is_none_or(|m| *id <= m))
            .collect()
    }

    fn remove(&self, id: u64) {
        self.ids.lock().unwrap().remove(&id);
    }

    fn hand_out(&self, ids: &[u64]) {
        self.handed_out.lock().unwrap().extend(ids);
    }

    fn never_handed_out(&self) -> usize {
        let handed_out = self.handed_out.lock().unwrap();
        let ids = self.ids.lock().unwrap();
        ids.iter().filter(|id| !handed_out.contains(id)).count()
    }

    /// `getIndex` of the mobile API, pages of 10.
    fn mobile(&self, request: &Request) -> Reply {
        let page: u32 = request
            .query
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        if self
            .failing_from_page
            .lock()
            .unwrap()
            .is_some_and(|from| page >= from)
        {
            return Reply::Full {
                status: 503,
                headers: vec![],
                body: String::new(),
            };
        }
        let ids: Vec<u64> = self
            .served(None, None)
            .into_iter()
            .skip((page as usize - 1) * 10)
            .take(10)
            .collect();
        self.hand_out(&ids);
        let cards: Vec<Value> = ids
            .iter()
            .map(|id| json!({"card_type": 9, "mblog": mblog(*id)}))
            .collect();
        let body = if cards.is_empty() {
            json!({"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}})
        } else {
            json!({"ok": 1, "data": {"cards": cards, "cardlistInfo": {"page": page + 1}}})
        };
        Reply::json(200, body.to_string())
    }

    /// `statuses/home_timeline` of the open API.
    fn home(&self, request: &Request) -> Reply {
        let number = |key: &str| request.query.get(key).and_then(|v| v.parse::<u64>().ok());
        let count = number("count").unwrap_or(20) as usize;
        let mut ids = self.served(number("since_id"), number("max_id"));
        ids.truncate(count);
        self.hand_out(&ids);
        let statuses: Vec<Value> = ids.iter().map(|id| status(*id)).collect();
        let body = json!({"statuses": statuses, "previous_cursor": 0, "next_cursor": 0, "total_number": self.window});
        Reply::json(200, body.to_string())
    }
}

fn mblog(id: u64) -> Value {
    json!({
        "created_at": "刚刚", "id": id.to_string(), "mid": id.to_string(), "bid": format!("W{id}"),
        "text": format!("建设银行 涨 {id}"), "source": "iPhone客户端", "isLongText": false,
        "reposts_count": 0, "comments_count": 0, "attitudes_count": 0,
        "user": {"id": 7001, "screen_name": "用户", "followers_count": 10, "verified": false}
    })
}

fn status(id: u64) -> Value {
    json!({
        "created_at": "Wed Jan 21 18:50:05 +0800 2015", "id": id, "idstr": id.to_string(),
        "mid": id.to_string(), "text": format!("微博 {id}"), "source": "<a href=\"x\">微博 weibo.com</a>",
        "reposts_count": 0, "comments_count": 0, "attitudes_count": 0,
        "user": {"id": 5001, "screen_name": "user", "followers_count": 10}
    })
}

#[tokio::test]
async fn a_search_gap_out_of_the_window_is_given_up_with_the_number_of_ids_in_it() {
    let (logs, _guard) = Logs::capture();
    let feed = Window::new(15);
    feed.add(1..=10);
    let server = {
        let feed = feed.clone();
        HttpServer::start(move |request| feed.mobile(request)).await
    };
    let mut test = TestContext::new("weibo_search", None);
    let client = Arc::new(
        MobileClient::new(
            WeiboMobileSettings {
                base_url: server.url(),
                requests_per_hour: 3_600_000,
                min_gap_ms: 2,
                request_timeout_ms: 2000,
                ..WeiboMobileSettings::default()
            },
            Secret::new("SUB=cookie"),
        )
        .unwrap(),
    );
    client.add_user(test.metrics.clone());
    let settings = WeiboSearchSettings {
        queries: vec!["建设银行".to_owned()],
        max_pages_per_poll: 3,
        ..WeiboSearchSettings::default()
    };
    let source = MobileSource::search(client, settings).unwrap();
    let task = spawn(source.run(test.context.clone()));
    let (mut posts, _) = test.posts(10, LIMIT).await;

    // 40 new posts while every page after the first fails: the walk gets
    // 41..=50 and owes 11..=40. The window keeps 36..=50 only.
    *feed.failing_from_page.lock().unwrap() = Some(2);
    feed.add(11..=50);
    posts.extend(test.posts(10, LIMIT).await.0);
    *feed.failing_from_page.lock().unwrap() = None;
    // The next walk gets 36..=40 from page 2 and an empty page 3.
    posts.extend(test.posts(5, LIMIT).await.0);
    eventually(LIMIT, "gap given up", || test.metrics.gaps_abandoned() == 1).await;
    test.no_more_posts(Duration::from_millis(300)).await;

    let counts = counts(&posts);
    assert!(
        counts.values().all(|n| *n == 1),
        "nothing twice: {counts:?}"
    );
    let published: BTreeSet<u64> = counts.keys().copied().collect();
    assert_eq!(published, *feed.handed_out.lock().unwrap());
    assert_eq!(feed.never_handed_out(), 25, "ids 11 to 35");
    assert_eq!(test.metrics.lost_at_most(), 25);
    let warnings = logs.lines_with("gave up a gap");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    for field in [
        "source=weibo_search",
        "query=建设银行",
        "above=10",
        "below=36",
        "lost_at_most=25",
    ] {
        assert!(warnings[0].contains(field), "{field} in {}", warnings[0]);
    }
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_home_timeline_gap_out_of_the_window_is_given_up_with_the_number_of_ids_in_it() {
    let (logs, _guard) = Logs::capture();
    let timeline = Window::new(25);
    timeline.add(1..=10);
    let server = {
        let timeline = timeline.clone();
        HttpServer::start(move |request| timeline.home(request)).await
    };
    let mut test = TestContext::new("weibo", None);
    let settings = WeiboSettings {
        base_url: format!("{}/2", server.url()),
        timeline: WeiboTimeline::Home,
        calls_per_hour: 360_000,
        page_size: 10,
        max_pages_per_poll: 2,
        request_timeout_ms: 2000,
        ..WeiboSettings::default()
    };
    let source = WeiboSource::new(settings, Secret::new("tok")).unwrap();
    let task = spawn(source.run(test.context.clone()));
    let (mut posts, _) = test.posts(10, LIMIT).await;

    // 50 new statuses, two pages a poll: the poll gets 41..=60 and owes
    // 11..=40. The window keeps 36..=60 only.
    timeline.add(11..=60);
    posts.extend(test.posts(20, LIMIT).await.0);
    // The next poll walks the gap: 36..=40, then nothing at or below 10.
    posts.extend(test.posts(5, LIMIT).await.0);
    eventually(LIMIT, "gap given up", || test.metrics.gaps_abandoned() == 1).await;
    test.no_more_posts(Duration::from_millis(300)).await;

    let counts = counts(&posts);
    assert!(
        counts.values().all(|n| *n == 1),
        "nothing twice: {counts:?}"
    );
    let published: BTreeSet<u64> = counts.keys().copied().collect();
    assert_eq!(published, *timeline.handed_out.lock().unwrap());
    assert_eq!(timeline.never_handed_out(), 25, "ids 11 to 35");
    assert_eq!(test.metrics.lost_at_most(), 25);
    let warnings = logs.lines_with("gave up a gap");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    for field in ["source=weibo", "above=10", "below=36", "lost_at_most=25"] {
        assert!(warnings[0].contains(field), "{field} in {}", warnings[0]);
    }
    // With the window wide enough the same probe finds older statuses and
    // the gap counts as filled: see the overload test in weibo.rs.
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

/// A home timeline source polling `timeline`'s server fast, two pages of 10
/// per poll at most unless `max_pages` says otherwise.
fn home_source(server: &HttpServer, max_pages: u32) -> WeiboSource {
    let settings = WeiboSettings {
        base_url: format!("{}/2", server.url()),
        timeline: WeiboTimeline::Home,
        calls_per_hour: 360_000,
        page_size: 10,
        max_pages_per_poll: max_pages,
        request_timeout_ms: 2000,
        ..WeiboSettings::default()
    };
    WeiboSource::new(settings, Secret::new("tok")).unwrap()
}

#[tokio::test]
async fn more_new_home_statuses_than_the_window_keeps_are_reported_lost() {
    // 25: the walk ends on a short page (36..=40); 30: on a full page
    // (31..=40) and then an empty one.
    for window in [25, 30] {
        let (logs, _guard) = Logs::capture();
        let timeline = Window::new(window);
        timeline.add(1..=10);
        let server = {
            let timeline = timeline.clone();
            HttpServer::start(move |request| timeline.home(request)).await
        };
        let mut test = TestContext::new("weibo", None);
        let task = spawn(home_source(&server, 5).run(test.context.clone()));
        let (mut posts, cursor) = test.posts(10, LIMIT).await;
        assert_eq!(cursor.as_deref(), Some(r#"{"since_id":10}"#));

        // 50 new statuses before the next poll; the window keeps the newest
        // `window`, and five pages are enough to walk all of them.
        timeline.add(11..=60);
        let (more, cursor) = test.posts(window, LIMIT).await;
        posts.extend(more);
        assert_eq!(cursor.as_deref(), Some(r#"{"since_id":60}"#), "{window}");
        test.no_more_posts(Duration::from_millis(300)).await;

        let counts = counts(&posts);
        assert!(
            counts.values().all(|n| *n == 1),
            "nothing twice: {counts:?}"
        );
        let published: BTreeSet<u64> = counts.keys().copied().collect();
        assert_eq!(published, *timeline.handed_out.lock().unwrap());
        let lost = 50 - window as u64;
        assert_eq!(
            timeline.never_handed_out() as u64,
            lost,
            "ids 11 to 60 - window"
        );
        assert_eq!(test.metrics.gaps_abandoned(), 1, "{window}");
        assert_eq!(test.metrics.lost_at_most(), lost, "{window}");
        let warnings = logs.lines_with("gave up a gap");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let below = format!("below={}", 61 - window);
        let lost_field = format!("lost_at_most={lost}");
        for field in ["source=weibo", "above=10", &below, &lost_field] {
            assert!(warnings[0].contains(field), "{field} in {}", warnings[0]);
        }
        test.shutdown.cancel();
        task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_home_walk_ending_short_inside_the_window_loses_nothing_and_costs_no_extra_request() {
    // Sparse ids, as Weibo's are: a walk that read everything new ends on
    // a short page far above since_id + 1.
    let (logs, _guard) = Logs::capture();
    let timeline = Window::new(1000);
    timeline.add((1..=10).map(|n| n * 1000));
    let server = {
        let timeline = timeline.clone();
        HttpServer::start(move |request| timeline.home(request)).await
    };
    let mut test = TestContext::new("weibo", None);
    let task = spawn(home_source(&server, 5).run(test.context.clone()));
    let (mut posts, _) = test.posts(10, LIMIT).await;
    for burst in 0..3u64 {
        let first = 11 + burst * 4;
        timeline.add((first..first + 4).map(|n| n * 1000));
        posts.extend(test.posts(4, LIMIT).await.0);
    }
    // Every poll read one short page: none needed a second request (a
    // `max_id` page or a window probe).
    let max_ids = || -> Vec<String> {
        server
            .requests_to("/2/statuses/home_timeline.json")
            .iter()
            .filter_map(|r| r.query.get("max_id").cloned())
            .collect()
    };
    assert_eq!(max_ids(), Vec::<String>::new());

    // The status at the cursor is deleted: the next walk cannot see it, so
    // one probe asks whether older statuses are still served. They are.
    timeline.remove(22_000);
    timeline.add((23..=26).map(|n| n * 1000));
    posts.extend(test.posts(4, LIMIT).await.0);
    test.no_more_posts(Duration::from_millis(300)).await;
    assert_eq!(max_ids(), ["22000"]);

    let counts = counts(&posts);
    assert_eq!(counts.len(), 26);
    assert!(
        counts.values().all(|n| *n == 1),
        "nothing twice: {counts:?}"
    );
    assert_eq!(test.metrics.gaps_abandoned(), 0);
    assert_eq!(test.metrics.lost_at_most(), 0);
    assert!(logs.lines_with("gave up a gap").is_empty());
    assert_eq!(test.metrics.duplicates(), 0);
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn more_new_search_posts_than_the_window_keeps_are_reported_lost() {
    // Three pages a walk reach the end of the results at once; two leave
    // a gap whose next walk reaches it.
    for max_pages in [3, 2] {
        let (logs, _guard) = Logs::capture();
        let feed = Window::new(15);
        feed.add(1..=10);
        let server = {
            let feed = feed.clone();
            HttpServer::start(move |request| feed.mobile(request)).await
        };
        let mut test = TestContext::new("weibo_search", None);
        let client = Arc::new(
            MobileClient::new(
                WeiboMobileSettings {
                    base_url: server.url(),
                    requests_per_hour: 3_600_000,
                    min_gap_ms: 2,
                    request_timeout_ms: 2000,
                    ..WeiboMobileSettings::default()
                },
                Secret::new("SUB=cookie"),
            )
            .unwrap(),
        );
        client.add_user(test.metrics.clone());
        let settings = WeiboSearchSettings {
            queries: vec!["建设银行".to_owned()],
            max_pages_per_poll: max_pages,
            ..WeiboSearchSettings::default()
        };
        let source = MobileSource::search(client, settings).unwrap();
        let task = spawn(source.run(test.context.clone()));
        let (mut posts, _) = test.posts(10, LIMIT).await;

        // 40 new posts before the next walk; the window keeps 36..=50.
        feed.add(11..=50);
        posts.extend(test.posts(15, LIMIT).await.0);
        eventually(LIMIT, "gap given up", || test.metrics.gaps_abandoned() == 1).await;
        test.no_more_posts(Duration::from_millis(300)).await;

        let counts = counts(&posts);
        assert!(
            counts.values().all(|n| *n == 1),
            "nothing twice: {counts:?}"
        );
        let published: BTreeSet<u64> = counts.keys().copied().collect();
        assert_eq!(published, *feed.handed_out.lock().unwrap());
        assert_eq!(feed.never_handed_out(), 25, "ids 11 to 35");
        assert_eq!(test.metrics.lost_at_most(), 25);
        let warnings = logs.lines_with("gave up a gap");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        for field in ["query=建设银行", "above=10", "below=36", "lost_at_most=25"] {
            assert!(warnings[0].contains(field), "{field} in {}", warnings[0]);
        }
        test.shutdown.cancel();
        task.await.unwrap().unwrap();
    }
}

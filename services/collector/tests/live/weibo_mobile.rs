//! `weibo_search` and `weibo_user` against a local server answering in the
//! shapes of Weibo's mobile web API (m.weibo.cn), with fixtures written from
//! those shapes; the restart test runs the real collector with a real broker.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveTime, TimeDelta, Utc};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use weibostream_collector::config::{
    CollectorConfig, RetrySettings, SourceKind, WeiboMobileSettings, WeiboSearchSettings,
    WeiboUserSettings,
};
use weibostream_collector::cursor::CursorFile;
use weibostream_collector::metrics::ErrorKind;
use weibostream_collector::sources::weibo_feeds::MobileSource;
use weibostream_collector::sources::weibo_mobile::MobileClient;
use weibostream_collector::{BuildError, Collector};
use weibostream_shared::Post;
use weibostream_shared::http::HttpSettings;
use weibostream_shared::secret::Secret;

use crate::broker::{Broker, read_topic, unique_topics};
use crate::support::{HttpServer, Reply, Request, TestContext, eventually, ids, spawn};

const LIMIT: Duration = Duration::from_secs(20);
const SEARCH_PAGE: &str = include_str!("../fixtures/weibo_mobile/search_page.json");
const EXTEND: &str = include_str!("../fixtures/weibo_mobile/extend.json");
const LOGIN_REQUIRED: &str = include_str!("../fixtures/weibo_mobile/login_required.json");
const EMPTY: &str = include_str!("../fixtures/weibo_mobile/empty.json");
const INDEX: &str = "/api/container/getIndex";
const BASE_ID: u64 = 4_900_000_000_000_000;

/// An mblog as the mobile API sends it, with id `BASE_ID + n`.
fn mblog(n: u64, text: &str) -> Value {
    let id = (BASE_ID + n).to_string();
    json!({
        "created_at": "刚刚", "id": id, "mid": id, "bid": format!("N{n}"),
        "text": format!("{text} {n}<br />第二行"), "source": "iPhone客户端", "isLongText": false,
        "reposts_count": "1万+", "comments_count": 2, "attitudes_count": "3",
        "user": {"id": 7000 + n % 5, "screen_name": format!("用户{}", n % 5), "followers_count": "12.3万", "verified": false}
    })
}

fn post_id(n: u64) -> String {
    format!("weibo:{}", BASE_ID + n)
}

fn post_ids(range: impl IntoIterator<Item = u64>) -> Vec<String> {
    range.into_iter().map(post_id).collect()
}

type Fault = dyn Fn(&Request, u32) -> Option<Reply> + Send + Sync;

/// A fake m.weibo.cn: feeds by containerid, newest first by id, in pages of
/// `page_size`, the first three posts of a search page nested in a
/// `card_group`; faults first, then `fault(request, page)`.
#[derive(Clone)]
struct Mobile {
    feeds: Arc<Mutex<HashMap<String, Vec<Value>>>>,
    faults: Arc<Mutex<VecDeque<Reply>>>,
    fault: Arc<Mutex<Option<Box<Fault>>>>,
    handed_out: Arc<Mutex<BTreeSet<u64>>>,
    /// When each queued fault was served.
    faults_served: Arc<Mutex<Vec<tokio::time::Instant>>>,
    page_size: usize,
}

impl Default for Mobile {
    fn default() -> Self {
        Mobile {
            feeds: Arc::default(),
            faults: Arc::default(),
            fault: Arc::default(),
            handed_out: Arc::default(),
            faults_served: Arc::default(),
            page_size: 10,
        }
    }
}

fn search(query: &str) -> String {
    format!("100103type=61&q={query}")
}

impl Mobile {
    fn add(&self, containerid: &str, mblogs: impl IntoIterator<Item = Value>) {
        self.feeds
            .lock()
            .unwrap()
            .entry(containerid.to_owned())
            .or_default()
            .extend(mblogs);
    }

    fn add_posts(&self, containerid: &str, range: impl IntoIterator<Item = u64>, text: &str) {
        self.add(containerid, range.into_iter().map(|n| mblog(n, text)));
    }

    fn fault(&self, reply: Reply) {
        self.faults.lock().unwrap().push_back(reply);
    }

    fn reply(&self, request: &Request) -> Reply {
        if let Some(fault) = self.faults.lock().unwrap().pop_front() {
            self.faults_served.lock().unwrap().push(request.at);
            return fault;
        }
        let page: u32 = request
            .query
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        if let Some(fault) = self.fault.lock().unwrap().as_ref()
            && let Some(reply) = fault(request, page)
        {
            return reply;
        }
        if request.path == "/statuses/extend" {
            return Reply::json(200, EXTEND);
        }
        let containerid = request
            .query
            .get("containerid")
            .cloned()
            .unwrap_or_default();
        let mut mblogs = self
            .feeds
            .lock()
            .unwrap()
            .get(&containerid)
            .cloned()
            .unwrap_or_default();
        let id = |m: &Value| m["id"].as_str().unwrap().parse::<u64>().unwrap();
        mblogs.sort_by_key(|m| std::cmp::Reverse(id(m)));
        let start = (page as usize - 1) * self.page_size;
        let page_mblogs: Vec<Value> = mblogs
            .into_iter()
            .skip(start)
            .take(self.page_size)
            .collect();
        if page_mblogs.is_empty() {
            return Reply::json(200, EMPTY);
        }
        self.handed_out
            .lock()
            .unwrap()
            .extend(page_mblogs.iter().map(id));
        let cards: Vec<Value> = page_mblogs
            .into_iter()
            .map(|m| json!({"card_type": 9, "mblog": m}))
            .collect();
        let cards = if containerid.starts_with("100103") && cards.len() > 3 {
            let mut nested = vec![json!({"card_type": 11, "card_group": cards[..3]})];
            nested.extend(cards[3..].iter().cloned());
            nested
        } else {
            cards
        };
        let body = json!({"ok": 1, "data": {"cards": cards, "cardlistInfo": {"page": page + 1}}});
        Reply::json(200, body.to_string())
    }

    async fn serve(&self) -> HttpServer {
        let mobile = self.clone();
        HttpServer::start(move |request| mobile.reply(request)).await
    }
}

fn mobile_settings(server: &HttpServer) -> WeiboMobileSettings {
    WeiboMobileSettings {
        base_url: server.url(),
        requests_per_hour: 3_600_000,
        min_gap_ms: 2,
        gap_jitter_percent: 50,
        refused_initial_backoff_ms: 40,
        refused_max_backoff_ms: 400,
        request_timeout_ms: 2000,
        ..WeiboMobileSettings::default()
    }
}

fn client(settings: WeiboMobileSettings) -> Arc<MobileClient> {
    Arc::new(MobileClient::new(settings, Secret::new("SUB=_2A25secret; SUBP=0033")).unwrap())
}

fn search_settings(queries: &[&str]) -> WeiboSearchSettings {
    WeiboSearchSettings {
        queries: queries.iter().map(|q| (*q).to_owned()).collect(),
        max_pages_per_poll: 3,
        ..WeiboSearchSettings::default()
    }
}

fn search_source(
    test: &TestContext,
    client: Arc<MobileClient>,
    settings: WeiboSearchSettings,
) -> MobileSource {
    client.add_user(test.metrics.clone());
    MobileSource::search(client, settings).unwrap()
}

fn beijing(time: DateTime<Utc>) -> DateTime<FixedOffset> {
    time.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
}

#[tokio::test]
async fn a_search_page_is_normalized_with_every_time_form_long_texts_and_nested_cards() {
    let server = HttpServer::start(|request| {
        if request.path == "/statuses/extend" {
            assert_eq!(
                request.query.get("id").map(String::as_str),
                Some("4900000000000005")
            );
            return Reply::json(200, EXTEND);
        }
        match request.query.get("page").map(String::as_str) {
            None => Reply::json(200, SEARCH_PAGE),
            Some(_) => Reply::json(200, EMPTY),
        }
    })
    .await;
    let mut test = TestContext::new("weibo_search", None);
    let source = search_source(
        &test,
        client(mobile_settings(&server)),
        search_settings(&["建设银行 涨"]),
    );
    let task = spawn(source.run(test.context.clone()));
    let (posts, cursor) = test.posts(8, LIMIT).await;
    assert_eq!(
        ids(&posts),
        post_ids([0, 2, 3, 4, 5, 6, 7, 8]),
        "oldest first, nested cards included"
    );
    let by_n = |n: u64| posts.iter().find(|p| p.id == post_id(n)).unwrap();

    let newest = by_n(8);
    assert_eq!(newest.text, "建设银行 涨[笑cry]\n第二行 & \"引号\"");
    assert_eq!(
        (newest.reposts, newest.comments, newest.likes),
        (1_000_000, 12_000, 37)
    );
    assert_eq!(newest.author.followers, Some(123_000));
    assert!(newest.author.verified);
    assert_eq!(newest.client.as_deref(), Some("iPhone客户端"));
    assert_eq!(newest.lang.as_deref(), Some("zh"));
    assert_eq!(
        by_n(7).text,
        "@张三 建设银行今天#建设银行#涨了 网页链接",
        "links become their text, the link icon nothing"
    );
    assert_eq!(
        by_n(5).text,
        "建设银行 长文全文：第一段很长\n第二段 @王五 结尾[赞]",
        "the long text fetched in full"
    );
    let repost = by_n(4);
    assert_eq!(repost.text, "转发：建设银行 涨[doge]");
    let original = repost.repost_of.as_ref().unwrap();
    assert_eq!(original.id, post_id(1));
    assert_eq!(original.text.as_deref(), Some("原微博 建设银行\n大涨"));
    assert_eq!(original.author_name.as_deref(), Some("用户1"));

    // Relative times are absolute UTC, read in Beijing time at collection.
    let collected = newest.collected_at;
    let close = |post: &Post, expected: DateTime<Utc>| {
        let off = (post.created_at - expected).num_seconds().abs();
        assert!(off <= 5, "{}: {} vs {expected}", post.id, post.created_at);
    };
    close(newest, collected);
    close(by_n(7), collected - TimeDelta::minutes(5));
    close(by_n(6), collected - TimeDelta::hours(3));
    let today = beijing(collected).date_naive();
    let at_1230 = |date: chrono::NaiveDate| {
        date.and_time(NaiveTime::from_hms_opt(12, 30, 0).unwrap())
            .and_local_timezone(FixedOffset::east_opt(8 * 3600).unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    assert_eq!(by_n(5).created_at, at_1230(today));
    assert_eq!(by_n(4).created_at, at_1230(today.pred_opt().unwrap()));
    let december_first = beijing(by_n(3).created_at);
    assert_eq!(
        (
            december_first.format("%m-%d %H:%M").to_string(),
            december_first.date_naive() <= today
        ),
        ("12-01 00:00".to_owned(), true)
    );
    assert_eq!(by_n(2).created_at.to_rfc3339(), "2023-11-30T16:00:00+00:00");
    assert_eq!(by_n(0).created_at.to_rfc3339(), "2015-01-21T10:50:05+00:00");
    let cursor: Value = serde_json::from_str(&cursor.unwrap()).unwrap();
    assert_eq!(cursor["feeds"]["建设银行 涨"]["newest"], json!(BASE_ID + 8));

    let requests = server.requests_to(INDEX);
    let first = &requests[0];
    assert_eq!(
        first.query.get("containerid").map(String::as_str),
        Some("100103type=61&q=建设银行 涨")
    );
    assert_eq!(
        first.query.get("page_type").map(String::as_str),
        Some("searchall")
    );
    assert_eq!(
        first.headers.get("cookie").map(String::as_str),
        Some("SUB=_2A25secret; SUBP=0033")
    );
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn search_pages_back_to_the_cursor_and_two_queries_publish_a_post_once() {
    let mobile = Mobile::default();
    let (a, b) = (search("建设银行 涨"), search("建行"));
    mobile.add_posts(&a, 1..=12, "建设银行 涨");
    mobile.add_posts(&b, 13..=14, "建行");
    let server = mobile.serve().await;
    let mut test = TestContext::new("weibo_search", None);
    let source = search_source(
        &test,
        client(mobile_settings(&server)),
        search_settings(&["建设银行 涨", "建行"]),
    );
    let task = spawn(source.run(test.context.clone()));
    // First walks: the newest page of each query only.
    let (posts, _) = test.posts(12, LIMIT).await;
    let mut got = ids(&posts);
    got.sort();
    let mut want = post_ids((3..=12).chain(13..=14));
    want.sort();
    assert_eq!(got, want);

    // 25 new posts for the first query, 5 of which the second also finds.
    mobile.add_posts(&a, 15..=39, "建设银行 涨 建行");
    mobile.add_posts(&b, 35..=39, "建设银行 涨 建行");
    let (posts, cursor) = test.posts(25, LIMIT).await;
    let mut got = ids(&posts);
    got.sort();
    assert_eq!(got, post_ids(15..=39));
    test.no_more_posts(Duration::from_millis(300)).await;
    assert!(
        test.metrics.duplicates() >= 5,
        "{}",
        test.metrics.duplicates()
    );
    let cursor: Value = serde_json::from_str(&cursor.unwrap()).unwrap();
    assert_eq!(
        cursor["feeds"]["建设银行 涨"]["newest"],
        json!(BASE_ID + 39)
    );
    assert!(cursor["feeds"]["建设银行 涨"].get("gaps").is_none());
    // Paged: page 3 of the first query was read (25 new, pages of 10).
    assert!(
        server
            .requests_to(INDEX)
            .iter()
            .any(|r| r.query.get("page").map(String::as_str) == Some("3"))
    );
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn refusals_pause_with_one_message_back_off_and_lose_nothing() {
    let mobile = Mobile::default();
    let a = search("建设银行");
    mobile.add_posts(&a, 1..=5, "建设银行");
    let server = mobile.serve().await;
    let mut test = TestContext::new("weibo_search", None);
    let client = client(mobile_settings(&server));
    let source = search_source(&test, client, search_settings(&["建设银行"]));
    let task = spawn(source.run(test.context.clone()));
    let (posts, _) = test.posts(5, LIMIT).await;
    assert_eq!(ids(&posts), post_ids(1..=5));

    // The cookie expires mid-run, then the IP is blocked; new posts wait.
    let teapot = Reply::Full {
        status: 418,
        headers: vec![],
        body: String::new(),
    };
    let http_432 = Reply::Full {
        status: 432,
        headers: vec![],
        body: String::new(),
    };
    let login = Reply::Full {
        status: 302,
        headers: vec![(
            "Location".into(),
            "https://passport.weibo.cn/signin/login?entry=mweibo".into(),
        )],
        body: String::new(),
    };
    for reply in [Reply::json(200, LOGIN_REQUIRED), http_432, login, teapot] {
        mobile.fault(reply);
    }
    mobile.add_posts(&a, 6..=30, "建设银行");
    eventually(LIMIT, "paused", || test.metrics.paused().is_some()).await;
    let why = test.metrics.paused().unwrap();
    assert!(why.starts_with("paused until "), "{why}");
    assert!(
        why.contains("WEIBO_COOKIE") || why.contains("blocks this IP"),
        "says what to do: {why}"
    );
    assert!(
        !why.contains("_2A25secret"),
        "the cookie is never shown: {why}"
    );
    let (posts, _) = test.posts(25, LIMIT).await;
    let mut got = ids(&posts);
    got.sort();
    assert_eq!(got, post_ids(6..=30), "nothing lost, nothing repeated");
    assert_eq!(test.metrics.errors(ErrorKind::Refused), 4);
    eventually(LIMIT, "resumed", || test.metrics.paused().is_none()).await;

    // The pauses grew: 40 ms, then doubling (each drawn from its upper half).
    let mut times = mobile.faults_served.lock().unwrap().clone();
    let last = *times.last().unwrap();
    let after = server
        .requests_to(INDEX)
        .iter()
        .map(|r| r.at)
        .find(|at| *at > last)
        .unwrap();
    times.push(after);
    let gaps: Vec<u128> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    assert!(
        gaps[0] >= 20 && gaps[1] >= 40 && gaps[2] >= 80 && gaps[3] >= 160,
        "{gaps:?}"
    );
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_with_errors_on_later_pages_publishes_every_post_handed_out_exactly_once() {
    let mobile = Mobile::default();
    let a = search("建设银行 涨");
    mobile.add_posts(&a, 1..=10, "建设银行 涨");
    let requests = Arc::new(Mutex::new(0u32));
    let counter = requests.clone();
    *mobile.fault.lock().unwrap() = Some(Box::new(move |request: &Request, page: u32| {
        if request.path != INDEX || page < 2 {
            return None;
        }
        let mut n = counter.lock().unwrap();
        *n += 1;
        match *n % 7 {
            2 => Some(Reply::Full {
                status: 502,
                headers: vec![],
                body: "<html>502 Bad Gateway</html>".into(),
            }),
            5 => Some(Reply::Full {
                status: 418,
                headers: vec![],
                body: String::new(),
            }),
            _ => None,
        }
    }));
    let server = mobile.serve().await;
    let mut test = TestContext::new("weibo_search", None);
    test.context.retry = RetrySettings {
        initial_backoff_ms: 5,
        max_backoff_ms: 20,
    };
    let mut settings = mobile_settings(&server);
    settings.refused_initial_backoff_ms = 5;
    settings.refused_max_backoff_ms = 20;
    let source = search_source(&test, client(settings), search_settings(&["建设银行 涨"]));
    let task = spawn(source.run(test.context.clone()));
    let (first, _) = test.posts(10, LIMIT).await;

    // Bursts of 45 posts, more than one walk's 3 pages of 10 hold.
    let mut next = 11;
    for _ in 0..12 {
        mobile.add_posts(&a, next..next + 45, "建设银行 涨");
        next += 45;
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    let released = next - 11;
    let (posts, _) = test.posts(released as usize, Duration::from_secs(60)).await;
    test.no_more_posts(Duration::from_millis(500)).await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for post in first.iter().chain(&posts) {
        *counts.entry(post.id.clone()).or_default() += 1;
    }
    let handed_out: Vec<String> = mobile
        .handed_out
        .lock()
        .unwrap()
        .iter()
        .map(|id| format!("weibo:{id}"))
        .collect();
    assert_eq!(
        counts.keys().cloned().collect::<Vec<_>>(),
        handed_out,
        "every post handed out"
    );
    assert!(counts.values().all(|n| *n == 1), "exactly once");
    assert_eq!(handed_out.len() as u64, released + 10);
    let errors = (
        test.metrics.errors(ErrorKind::Http5xx),
        test.metrics.errors(ErrorKind::Refused),
    );
    assert!(
        errors.0 >= 3 && errors.1 >= 3,
        "the faults happened: {errors:?}"
    );
    assert_eq!(test.metrics.gaps_abandoned(), 0);
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_gap_the_api_no_longer_serves_is_given_up_with_a_count() {
    let mobile = Mobile::default();
    let a = search("建设银行");
    mobile.add_posts(&a, 1..=10, "建设银行");
    let server = mobile.serve().await;
    let mut test = TestContext::new("weibo_search", None);
    let mut settings = search_settings(&["建设银行"]);
    settings.max_pages_per_poll = 2;
    let source = search_source(&test, client(mobile_settings(&server)), settings);
    // Every page 2 fails while 40 new posts wait: each walk gets one page.
    *mobile.fault.lock().unwrap() = Some(Box::new(|_: &Request, page: u32| {
        (page >= 2).then(|| Reply::Full {
            status: 503,
            headers: vec![],
            body: String::new(),
        })
    }));
    let task = spawn(source.run(test.context.clone()));
    test.posts(10, LIMIT).await;
    mobile.add_posts(&a, 11..=50, "建设银行");
    let (posts, _) = test.posts(10, LIMIT).await;
    assert_eq!(ids(&posts), post_ids(41..=50));
    // Weibo drops all but the newest 10 posts: the gap 11..=40 cannot be filled.
    mobile
        .feeds
        .lock()
        .unwrap()
        .get_mut(&a)
        .unwrap()
        .retain(|m| m["id"].as_str().unwrap().parse::<u64>().unwrap() > BASE_ID + 40);
    *mobile.fault.lock().unwrap() = None;
    eventually(LIMIT, "gap given up", || test.metrics.gaps_abandoned() == 1).await;
    test.no_more_posts(Duration::from_millis(200)).await;
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn user_timelines_page_back_past_a_pinned_post() {
    let mobile = Mobile::default();
    let user = "1234567890";
    let container = format!("107603{user}");
    mobile.add_posts(&container, 1..=3, "我的微博");
    let server = mobile.serve().await;
    let mut test = TestContext::new("weibo_user", None);
    let client = client(mobile_settings(&server));
    client.add_user(test.metrics.clone());
    let settings = WeiboUserSettings {
        uids: vec![user.into()],
        max_pages_per_poll: 5,
        ..WeiboUserSettings::default()
    };
    let task = spawn(MobileSource::user(client, settings).run(test.context.clone()));
    let (posts, _) = test.posts(3, LIMIT).await;
    assert_eq!(ids(&posts), post_ids(1..=3));
    // A pinned old post sorts first on page 1 (the fake sorts by id, so give it
    // the highest); 20 new posts follow.
    let mut pinned = mblog(2, "置顶");
    pinned["isTop"] = json!(1);
    pinned["id"] = json!((BASE_ID + 1000).to_string());
    pinned["mid"] = pinned["id"].clone();
    mobile.add(&container, [pinned]);
    mobile.add_posts(&container, 4..=23, "我的微博");
    let (posts, cursor) = test.posts(21, LIMIT).await;
    let mut got = ids(&posts);
    got.sort();
    let mut want = post_ids(4..=23);
    want.push(post_id(1000));
    want.sort();
    assert_eq!(got, want);
    let cursor: Value = serde_json::from_str(&cursor.unwrap()).unwrap();
    assert_eq!(
        cursor["feeds"][user]["newest"],
        json!(BASE_ID + 23),
        "{cursor}"
    );
    assert!(
        server
            .requests_to(INDEX)
            .iter()
            .all(|r| r.query.get("containerid") == Some(&container))
    );
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn queries_follow_the_rules_file() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"ccb\"\nquery = \"建设银行 AND 涨 NOT 跌\"\n",
    )
    .unwrap();
    let mobile = Mobile::default();
    mobile.add_posts(&search("建设银行 涨"), 1..=2, "建设银行 涨");
    mobile.add_posts(&search("工商银行"), 3..=4, "工商银行");
    mobile.add_posts(&search("工行"), 4..=5, "工行");
    let server = mobile.serve().await;
    let mut test = TestContext::new("weibo_search", None);
    let settings = WeiboSearchSettings {
        queries_from_rules: true,
        rules_path: rules.clone(),
        rules_poll_ms: 100,
        ..search_settings(&[])
    };
    let task = spawn(
        search_source(&test, client(mobile_settings(&server)), settings).run(test.context.clone()),
    );
    let (posts, _) = test.posts(2, LIMIT).await;
    assert_eq!(ids(&posts), post_ids(1..=2));
    // A new rules file: its OR branches become queries; the old query goes.
    tokio::time::sleep(Duration::from_millis(20)).await;
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"icbc\"\nquery = \"工商银行 OR 工行\"\n",
    )
    .unwrap();
    let (posts, _) = test.posts(3, LIMIT).await;
    let mut got = ids(&posts);
    got.sort();
    assert_eq!(
        got,
        post_ids(3..=5),
        "post 4 found by both queries, published once"
    );
    let asked: BTreeSet<String> = server
        .requests_to(INDEX)
        .iter()
        .filter_map(|r| r.query.get("containerid").cloned())
        .collect();
    assert_eq!(
        asked,
        [search("工商银行"), search("工行"), search("建设银行 涨")].into()
    );
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

fn cursor_newest(dir: &Path, query: &str) -> Option<u64> {
    let cursor = CursorFile::in_dir(dir, "weibo_search")
        .load::<Value>()
        .unwrap()?;
    cursor["feeds"][query]["newest"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_resumes_search_after_a_restart_with_no_gap_and_no_repeat() {
    let broker = tokio::task::spawn_blocking(Broker::start).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cookie_file = dir.path().join("cookie");
    std::fs::write(&cookie_file, "SUB=_2A25secret\n").unwrap();
    let mobile = Mobile::default();
    let (a, b) = (search("建设银行 涨"), search("建行"));
    mobile.add_posts(&a, 1..=8, "建设银行 涨");
    mobile.add_posts(&b, 5..=9, "建行 涨");
    let server = mobile.serve().await;
    let config = CollectorConfig {
        kafka: broker.kafka(),
        topics: unique_topics(),
        sources: vec![SourceKind::WeiboSearch],
        cursor_dir: dir.path().join("state"),
        batch_max_wait_ms: 20,
        retry: RetrySettings {
            initial_backoff_ms: 50,
            max_backoff_ms: 500,
        },
        weibo_mobile: WeiboMobileSettings {
            cookie_file,
            ..mobile_settings(&server)
        },
        weibo_search: search_settings(&["建设银行 涨", "建行"]),
        http: HttpSettings::on("off"),
        ..CollectorConfig::default()
    };
    let state = dir.path().join("state");

    let collector = Collector::build(config.clone()).unwrap();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(collector.run(shutdown.clone()));
    eventually(LIMIT, "first cursors", || {
        cursor_newest(&state, "建设银行 涨") == Some(BASE_ID + 8)
            && cursor_newest(&state, "建行") == Some(BASE_ID + 9)
    })
    .await;
    mobile.add_posts(&a, 10..=31, "建设银行 涨");
    mobile.add_posts(&b, 30..=33, "建行 涨");
    eventually(LIMIT, "second cursors", || {
        cursor_newest(&state, "建设银行 涨") == Some(BASE_ID + 31)
            && cursor_newest(&state, "建行") == Some(BASE_ID + 33)
    })
    .await;
    shutdown.cancel();
    let first = run.await.unwrap().unwrap();

    // While the collector is down, both queries get 25 more posts.
    mobile.add_posts(&a, 34..=58, "建设银行 涨");
    mobile.add_posts(&b, 50..=58, "建行 涨");
    let collector = Collector::build(config.clone()).unwrap();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(collector.run(shutdown.clone()));
    eventually(LIMIT, "cursors after the restart", || {
        cursor_newest(&state, "建设银行 涨") == Some(BASE_ID + 58)
            && cursor_newest(&state, "建行") == Some(BASE_ID + 58)
    })
    .await;
    shutdown.cancel();
    let second = run.await.unwrap().unwrap();

    let want: Vec<String> = {
        let mut want = post_ids((1..=9).chain(10..=58));
        want.sort();
        want
    };
    assert_eq!(first.published + second.published, want.len() as u64);
    let (kafka, topic, expected) = (config.kafka.clone(), config.topics.raw.clone(), want.len());
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

#[test]
fn build_names_the_missing_cookie() {
    let mut config = CollectorConfig {
        sources: vec![SourceKind::WeiboSearch],
        ..CollectorConfig::default()
    };
    config.weibo_search.queries = vec!["建设银行".into()];
    config.weibo_mobile.cookie_env = "WEIBOSTREAM_TEST_COOKIE_THAT_IS_NOT_SET".into();
    let Err(BuildError::Config(error)) = Collector::build(config) else {
        panic!("built without a cookie, or another error")
    };
    assert_eq!(error.key, "weibo_mobile.cookie_env", "{error}");
}

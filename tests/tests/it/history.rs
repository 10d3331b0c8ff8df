//! The sink's history against real SQLite and PostgreSQL: search on Chinese
//! and English text with one-, two- and many-character words, filters and
//! pagination checked against an independent scan of the same posts; counts
//! per bucket against an independent count; retention; an alert recorded
//! and sent exactly once across a restart, and never held up by its
//! endpoint.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Duration as Span, DurationRound, Utc};
use tokio_util::sync::CancellationToken;
use weibostream_shared::rules_file::AlertSpec;
use weibostream_shared::secret::Secret;
use weibostream_shared::{Author, MatchedPost, Post, Source};
use weibostream_sink::alerts::deliver::Channel;
use weibostream_sink::alerts::{Alerts, Dispatcher};
use weibostream_sink::config::{AlertSettings, ChannelKind};
use weibostream_sink::history::History;
use weibostream_sink::history::query::{AlertsParams, Bucket, CountsParams, PostsParams};
use weibostream_sink::metrics::SinkMetrics;
use weibostream_sink::store::{PostgresStore, SqliteStore, Store};
use weibostream_tests::{postgres_url, unique};

const WORDS: &[&str] = &[
    "建设银行",
    "跌停",
    "涨停",
    "工商银行",
    "股价",
    "上涨",
    "下跌",
    "投资者",
    "今天",
    "的",
    "了",
    "，",
    "Bank",
    "surge",
    "construction",
    "shares",
    "跌",
    "建行",
    "100%",
    "a_b",
    "！",
];
const RULES: &[&str] = &["ccb", "fall", "rise", "en"];
const AUTHORS: &[&str] = &["股民小王", "analyst", "银行观察", "trader_7", "路人"];

/// A small deterministic generator (the posts differ only by seed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn post(
    id: u64,
    text: String,
    rules: Vec<String>,
    author: &str,
    label: Option<&str>,
    batch_time: DateTime<Utc>,
) -> MatchedPost {
    MatchedPost {
        batch_time,
        replica: "r0".into(),
        rules,
        partition: 0,
        offset: id as i64,
        post: Post {
            id: format!("weibo:{id:06}"),
            source: Source::Weibo,
            text,
            lang: None,
            created_at: batch_time - Span::seconds(3),
            author: Author {
                id: format!("u{}", author.len()),
                name: author.into(),
                followers: None,
                verified: false,
            },
            url: Some(format!("https://weibo.com/1/{id}")),
            reposts: 0,
            comments: 0,
            likes: 0,
            repost_of: None,
            client: None,
            collected_at: batch_time,
        },
        label: label.map(str::to_string),
        probability: None,
    }
}

/// `n` posts over the `days` before `end`, in batches of 5 s.
fn posts(n: u64, end: DateTime<Utc>, days: i64, seed: u64) -> Vec<MatchedPost> {
    let mut rng = Lcg(seed);
    let start = (end - Span::days(days))
        .duration_trunc(Span::seconds(5))
        .unwrap();
    let batches = (days * 86_400 / 5) as u64;
    (0..n)
        .map(|i| {
            let words = 2 + rng.below(6);
            let text: Vec<&str> = (0..words)
                .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
                .collect();
            let mut rules: Vec<String> = RULES
                .iter()
                .filter(|_| rng.below(3) == 0)
                .map(|r| r.to_string())
                .collect();
            if rules.is_empty() {
                rules.push(RULES[rng.below(4) as usize].into());
            }
            let label = [None, Some("negative"), Some("positive")][rng.below(3) as usize];
            let batch_time = start + Span::seconds(5 * rng.below(batches) as i64);
            post(
                seed * 1_000_000 + i,
                text.join(" "),
                rules,
                AUTHORS[rng.below(5) as usize],
                label,
                batch_time,
            )
        })
        .collect()
}

/// Writes `posts` in blocks of one batch time each, as the sink does.
async fn store_all(store: &mut Store, posts: &[MatchedPost]) {
    let mut by_batch: BTreeMap<DateTime<Utc>, Vec<MatchedPost>> = BTreeMap::new();
    for post in posts {
        by_batch
            .entry(post.batch_time)
            .or_default()
            .push(post.clone());
    }
    for block in by_batch.values() {
        store.write(block).await.unwrap();
    }
}

/// Every page of a search, in order.
async fn search_all(history: &History, mut params: PostsParams) -> Vec<(DateTime<Utc>, String)> {
    let mut found = Vec::new();
    params.limit = Some(37);
    loop {
        let page = history.posts(&params.check().unwrap()).await.unwrap();
        found.extend(page.posts.iter().map(|p| (p.batch_time, p.id.clone())));
        match page.next_cursor {
            Some(cursor) => params.cursor = Some(cursor),
            None => return found,
        }
    }
}

/// The independent answer: a scan of the posts in Rust, newest first.
fn expected(
    posts: &[MatchedPost],
    keep: impl Fn(&MatchedPost) -> bool,
) -> Vec<(DateTime<Utc>, String)> {
    let mut found: Vec<_> = posts
        .iter()
        .filter(|p| keep(p))
        .map(|p| (p.batch_time, p.post.id.clone()))
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    found
}

fn contains_all(text: &str, q: &str) -> bool {
    let text = text.to_lowercase();
    q.split_whitespace()
        .all(|w| text.contains(&w.to_lowercase()))
}

async fn search_and_counts(mut store: Store, history: History) {
    let end = Utc::now();
    let all = posts(3000, end, 6, 1);
    store_all(&mut store, &all).await;
    // A replay writes nothing and counts nothing twice.
    store_all(&mut store, &all[..500]).await;

    for q in [
        "跌",
        "建行",
        "跌停",
        "建设银行",
        "跌停 建设银行",
        "bank",
        "BANK surge",
        "100%",
        "a_b",
        "！",
        "银行",
        "行 涨",
    ] {
        let found = search_all(
            &history,
            PostsParams {
                q: Some(q.into()),
                ..PostsParams::default()
            },
        )
        .await;
        let want = expected(&all, |p| contains_all(&p.post.text, q));
        assert!(!want.is_empty(), "{q}: the data should hold matches");
        assert_eq!(found, want, "search {q:?}");
    }
    let filtered = search_all(
        &history,
        PostsParams {
            q: Some("跌停".into()),
            rule: Some("fall".into()),
            author: Some("股民小王".into()),
            label: Some("negative".into()),
            from: Some((end - Span::days(3)).to_rfc3339()),
            to: Some((end - Span::days(1)).to_rfc3339()),
            ..PostsParams::default()
        },
    )
    .await;
    let want = expected(&all, |p| {
        contains_all(&p.post.text, "跌停")
            && p.rules.iter().any(|r| r == "fall")
            && p.post.author.name == "股民小王"
            && p.label.as_deref() == Some("negative")
            && p.batch_time >= end - Span::days(3)
            && p.batch_time < end - Span::days(1)
    });
    assert!(!want.is_empty());
    assert_eq!(filtered, want);

    for bucket in [Bucket::Minute, Bucket::Hour, Bucket::Day, Bucket::Week] {
        let (from, to) = match bucket {
            Bucket::Minute => (end - Span::hours(6), end),
            _ => (end - Span::days(7), end),
        };
        let counts = history
            .counts(
                &CountsParams {
                    bucket: Some(bucket),
                    from: Some(from.to_rfc3339()),
                    to: Some(to.to_rfc3339()),
                    rule: None,
                }
                .check(end)
                .unwrap(),
            )
            .await
            .unwrap();
        let got: BTreeMap<(DateTime<Utc>, String), u64> = counts
            .counts
            .iter()
            .map(|c| ((c.bucket, c.rule.clone()), c.matches))
            .collect();
        let mut want: BTreeMap<(DateTime<Utc>, String), u64> = BTreeMap::new();
        for p in all
            .iter()
            .filter(|p| p.batch_time >= from && p.batch_time < to)
        {
            let t = p.batch_time;
            let start = match bucket {
                Bucket::Minute => t.duration_trunc(Span::minutes(1)).unwrap(),
                Bucket::Hour => t.duration_trunc(Span::hours(1)).unwrap(),
                Bucket::Day => t.duration_trunc(Span::days(1)).unwrap(),
                Bucket::Week => {
                    let day = t.duration_trunc(Span::days(1)).unwrap();
                    day - Span::days(i64::from(day.weekday().num_days_from_monday()))
                }
            };
            for rule in &p.rules {
                *want.entry((start, rule.clone())).or_default() += 1;
            }
        }
        assert_eq!(got, want, "{bucket:?} counts");
    }

    // Retention: everything before the cutoff goes, the rest stays searchable.
    let cutoff = end - Span::days(2);
    let deleted = history
        .delete_before(cutoff, &CancellationToken::new())
        .await
        .unwrap();
    assert!(deleted > 0);
    let remaining: Vec<MatchedPost> = all
        .iter()
        .filter(|p| p.batch_time >= cutoff)
        .cloned()
        .collect();
    let found = search_all(&history, PostsParams::default()).await;
    assert_eq!(found, expected(&remaining, |_| true));
    let found = search_all(
        &history,
        PostsParams {
            q: Some("建设银行".into()),
            ..PostsParams::default()
        },
    )
    .await;
    assert_eq!(
        found,
        expected(&remaining, |p| contains_all(&p.post.text, "建设银行"))
    );
    let counts = history
        .counts(
            &CountsParams {
                bucket: Some(Bucket::Week),
                from: Some((end - Span::days(30)).to_rfc3339()),
                ..CountsParams::default()
            }
            .check(end)
            .unwrap(),
        )
        .await
        .unwrap();
    let total: u64 = counts.counts.iter().map(|c| c.matches).sum();
    assert_eq!(
        total,
        remaining.iter().map(|p| p.rules.len() as u64).sum::<u64>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_search_counts_pages_and_retention_match_an_independent_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let store = Store::Sqlite(SqliteStore::open(&path).unwrap());
    search_and_counts(store, History::Sqlite(path)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_search_counts_pages_and_retention_match_an_independent_scan() {
    let url = fresh_database().await;
    let store = Store::Postgres(PostgresStore::open(&url).await.unwrap());
    search_and_counts(store, History::Postgres(Secret::new(url))).await;
}

/// A new, empty database on the test server.
async fn fresh_database() -> String {
    let server = postgres_url();
    let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let name = unique("history").replace(['-', '.'], "_").to_lowercase();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (base, _) = server.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// A local webhook receiver counting what it gets; `hang` never answers.
async fn receiver(hang: bool) -> (Arc<Mutex<Vec<serde_json::Value>>>, String) {
    use axum::routing::post;
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/",
        post(move |body: axum::Json<serde_json::Value>| async move {
            seen.lock().unwrap().push(body.0);
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

fn alerting(urls: &[(&str, &str)], metrics: &SinkMetrics) -> Alerts {
    let spec = AlertSpec {
        window_s: 600,
        min_matches: None,
        spike_factor: Some(3.0),
        spike_min_count: 10,
        baseline_windows: 6,
        cooldown_s: Some(1800),
        channels: None,
    };
    let channels = urls
        .iter()
        .map(|(name, url)| Channel {
            name: name.to_string(),
            kind: ChannelKind::Webhook,
            url: Secret::new(*url),
            secret: None,
        })
        .collect();
    let settings = AlertSettings {
        timeout_ms: 1000,
        attempts: 2,
        retry_initial_ms: 50,
        retry_max_ms: 100,
        ..AlertSettings::default()
    };
    let dispatcher = Dispatcher::start(channels, &settings, metrics.clone()).unwrap();
    Alerts::new(
        BTreeMap::from([("ccb".to_string(), spec)]),
        dispatcher,
        metrics.clone(),
    )
}

/// `n` posts of rule `ccb` in the batch at `t`.
fn burst(t: DateTime<Utc>, n: u64, seed: u64) -> Vec<MatchedPost> {
    (0..n)
        .map(|i| {
            post(
                seed * 1000 + i,
                format!("建设银行 涨 {i}"),
                vec!["ccb".into()],
                "路人",
                None,
                t,
            )
        })
        .collect()
}

async fn write_and_check(store: &mut Store, alerts: &Alerts, block: &[MatchedPost]) -> Duration {
    let written = store.write(block).await.unwrap();
    let started = Instant::now();
    alerts.check(store, &written, block).await;
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_fires_once_across_a_restart_and_a_hanging_endpoint_costs_the_stream_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.db");
    let (got, url) = receiver(false).await;
    let (hung, hang_url) = receiver(true).await;
    let window = |i: i64| {
        DateTime::from_timestamp(1_800_000_000 + i * 600, 0)
            .unwrap()
            .duration_trunc(Span::seconds(600))
            .unwrap()
    };
    // Six quiet windows of 2 matches each, then a burst of 30 in window 6.
    let mut history: Vec<MatchedPost> = (0..6)
        .flat_map(|i| burst(window(i) + Span::seconds(5), 2, 10 + i as u64))
        .collect();
    let spike = burst(window(6) + Span::seconds(5), 30, 99);

    let metrics = SinkMetrics::default();
    {
        let mut store = Store::Sqlite(SqliteStore::open(&path).unwrap());
        let alerts = alerting(
            &[("hook", url.as_str()), ("hung", hang_url.as_str())],
            &metrics,
        );
        for block in history.chunks(2) {
            write_and_check(&mut store, &alerts, block).await;
        }
        let took = write_and_check(&mut store, &alerts, &spike).await;
        eprintln!("alert check with a hanging endpoint took {took:?}");
        assert!(
            took < Duration::from_millis(200),
            "the check waited for an endpoint: {took:?}"
        );
        // The sink stops: queued deliveries get a bounded wait.
        alerts.finish(Duration::from_secs(3)).await;
    }
    assert_eq!(got.lock().unwrap().len(), 1);
    assert!(
        !hung.lock().unwrap().is_empty(),
        "the hanging endpoint got it too (and never answered)"
    );
    assert_eq!(metrics.alerts_fired.get(), 1);

    // The sink restarts: the same posts are redelivered, more arrive in the
    // same window and in the next one (within the cool-down): no second alert.
    {
        let mut store = Store::Sqlite(SqliteStore::open(&path).unwrap());
        let alerts = alerting(&[("hook", url.as_str())], &metrics);
        write_and_check(&mut store, &alerts, &spike).await;
        write_and_check(
            &mut store,
            &alerts,
            &burst(window(6) + Span::seconds(10), 40, 100),
        )
        .await;
        write_and_check(
            &mut store,
            &alerts,
            &burst(window(7) + Span::seconds(5), 200, 101),
        )
        .await;
        alerts.finish(Duration::from_secs(3)).await;
    }
    assert_eq!(
        got.lock().unwrap().len(),
        1,
        "fired once across the restart"
    );
    history.extend(spike);

    // After the cool-down (30 min = 3 windows) a new spike fires again.
    {
        let mut store = Store::Sqlite(SqliteStore::open(&path).unwrap());
        let alerts = alerting(&[("hook", url.as_str())], &metrics);
        for i in 8..12 {
            write_and_check(
                &mut store,
                &alerts,
                &burst(window(i) + Span::seconds(5), 1, 200 + i as u64),
            )
            .await;
        }
        write_and_check(
            &mut store,
            &alerts,
            &burst(window(12) + Span::seconds(5), 50, 300),
        )
        .await;
        alerts.finish(Duration::from_secs(3)).await;
    }
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["rule"], "ccb");
    assert_eq!(got[0]["kind"], "spike");
    assert_eq!(got[0]["matches"], 30);
    assert_eq!(got[0]["baseline"], 2.0);
    assert_eq!(got[0]["examples"].as_array().unwrap().len(), 3);
    assert_eq!(got[1]["window_start"], serde_json::json!(window(12)));

    let stored = History::Sqlite(path)
        .alerts(&AlertsParams::default())
        .await
        .unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|a| a.window_start)
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([window(6), window(12)])
    );
}

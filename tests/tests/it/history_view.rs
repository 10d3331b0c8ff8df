//! The dashboard's history view in headless Chromium, served by the sink's
//! own router over a real SQLite store: the counts chart is drawn, a search
//! returns exactly the posts that contain the words, a `<script>` post is
//! shown as text, and the CSV export neutralizes formula cells. Saves a
//! screenshot (`WEIBOSTREAM_HISTORY_PNG`, for the docs).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chrono::{Duration as Span, DurationRound, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use weibostream_shared::{Author, MatchedPost, Post, Source};
use weibostream_sink::dashboard::{self, Dashboard};
use weibostream_sink::history::History;
use weibostream_sink::store::{SqliteStore, Store};
use weibostream_tests::browser::{Browser, chromium_binary};

const SCRIPT_POST: &str = "建设银行 跌停 <script>alert(1)</script><img src=x onerror=alert(2)>";

fn matched(id: usize, text: &str, rules: &[&str], author: &str, minutes_ago: i64) -> MatchedPost {
    let batch_time = (Utc::now() - Span::minutes(minutes_ago))
        .duration_trunc(Span::seconds(5))
        .unwrap();
    MatchedPost {
        batch_time,
        replica: "r0".into(),
        rules: rules.iter().map(|r| r.to_string()).collect(),
        partition: 0,
        offset: id as i64,
        post: Post {
            id: format!("weibo:{id}"),
            source: Source::Weibo,
            text: text.into(),
            lang: None,
            created_at: batch_time,
            author: Author {
                id: format!("u{id}"),
                name: author.into(),
                followers: None,
                verified: false,
            },
            url: Some(format!("https://weibo.com/u/{id}")),
            reposts: 0,
            comments: 0,
            likes: 0,
            repost_of: None,
            client: None,
            collected_at: batch_time,
        },
        label: None,
        probability: None,
    }
}

fn js(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_view_charts_searches_exports_and_renders_html_as_text() {
    chromium_binary();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let mut store = Store::Sqlite(SqliteStore::open(&path).unwrap());
    let texts = [
        (
            "建设银行今日跌停，投资者恐慌",
            &["bank-fall"][..],
            "股民小王",
        ),
        ("工商银行股价上涨 3%", &["bank-rise"][..], "银行观察"),
        ("建设银行 涨停！", &["ccb-rise"][..], "路人"),
        (
            "China Construction Bank shares surge",
            &["banks-en"][..],
            "analyst",
        ),
        (
            "=HYPERLINK(\"http://evil\",\"跌停\")",
            &["bank-fall"][..],
            "=cmd|' /C calc'!A0",
        ),
        ("-2+3 跌", &["bank-fall"][..], "@trader"),
        (SCRIPT_POST, &["bank-fall", "ccb-rise"][..], "<b>bold</b>"),
    ];
    let mut posts = Vec::new();
    for hour in 0..20 {
        for (i, (text, rules, author)) in texts.iter().enumerate() {
            if (hour + i) % 3 == 0 || hour == 19 {
                posts.push(matched(
                    hour * 100 + i,
                    text,
                    rules,
                    author,
                    hour as i64 * 60 + i as i64,
                ));
            }
        }
    }
    for post in &posts {
        store.write(std::slice::from_ref(post)).await.unwrap();
    }

    let stop = CancellationToken::new();
    let router = dashboard::router(
        Dashboard::new(1000),
        stop.clone(),
        Some(History::Sqlite(path)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let (_browser, mut page) =
        Browser::open(&format!("http://{address}/history"), 1440, 1000).await;
    page.wait_for(
        "document.body.hasAttribute('data-loaded') \
         && document.querySelectorAll('#chart-counts path.series').length === 4 \
         && document.querySelectorAll('#results .post').length > 0",
        Duration::from_secs(30),
    )
    .await;

    // Search: exactly the posts holding both words, newest first.
    page.eval("document.getElementById('q').value = '跌停 建设银行'")
        .await;
    page.eval(
        "document.body.removeAttribute('data-loaded'); document.getElementById('go').click()",
    )
    .await;
    page.wait_for(
        "document.body.hasAttribute('data-loaded')",
        Duration::from_secs(30),
    )
    .await;
    let shown = page
        .eval("[...document.querySelectorAll('#results .post')].map(li => li.getAttribute('data-id'))")
        .await;
    let mut want: Vec<&MatchedPost> = posts
        .iter()
        .filter(|p| p.post.text.contains("跌停") && p.post.text.contains("建设银行"))
        .collect();
    want.sort_by(|a, b| (b.batch_time, &b.post.id).cmp(&(a.batch_time, &a.post.id)));
    let want: Vec<Value> = want
        .iter()
        .map(|p| Value::from(p.post.id.clone()))
        .collect();
    assert!(want.len() > 5);
    assert_eq!(shown, Value::Array(want));

    // The <script> post is text: nothing injected, nothing ran.
    let texts_shown = page
        .eval("[...document.querySelectorAll('#results .post .text')].map(d => d.textContent)")
        .await;
    assert!(
        texts_shown
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == SCRIPT_POST),
        "{texts_shown}"
    );
    assert_eq!(
        page.eval("document.querySelectorAll('#results img, #results b, #results script').length")
            .await,
        Value::from(0)
    );
    assert_eq!(
        page.eval("[...document.scripts].map(s => new URL(s.src).pathname)")
            .await,
        serde_json::json!(["/common.js", "/history.js"]),
        "only the page's own scripts"
    );
    assert!(
        page.events_named("Page.javascriptDialogOpening").is_empty(),
        "a script ran"
    );

    let screenshot = page.screenshot().await;
    assert_eq!(&screenshot[..8], b"\x89PNG\r\n\x1a\n");
    let png = std::env::var_os("WEIBOSTREAM_HISTORY_PNG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("history.png"));
    std::fs::write(&png, &screenshot).unwrap();
    println!("screenshot: {} ({} bytes)", png.display(), screenshot.len());

    // CSV of a search that returns the formula posts: no cell starts a formula.
    page.eval("document.getElementById('q').value = '跌'; document.body.removeAttribute('data-loaded'); document.getElementById('go').click()").await;
    page.wait_for(
        "document.body.hasAttribute('data-loaded')",
        Duration::from_secs(30),
    )
    .await;
    let csv = page.eval("window.weibostreamHistory.csvText()").await;
    let csv = csv.as_str().unwrap();
    let cells: Vec<&str> = csv
        .split("\",\"")
        .flat_map(|c| c.split("\r\n"))
        .map(|c| c.trim_matches('"'))
        .collect();
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"跌停\"\")\""),
        "{csv}"
    );
    assert!(csv.contains("\"'=cmd|' /C calc'!A0\""), "{csv}");
    assert!(csv.contains("\"'-2+3 跌\""), "{csv}");
    assert!(csv.contains("\"'@trader\""), "{csv}");
    for cell in cells {
        assert!(
            !cell.starts_with(['=', '+', '-', '@']),
            "unneutralized cell {cell:?}"
        );
    }
    assert_eq!(
        page.eval(&format!("window.weibostreamHistory.csvCell({})", js("+1")))
            .await,
        Value::from("\"'+1\"")
    );
    stop.cancel();
}

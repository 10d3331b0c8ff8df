//! The live dashboard in headless Chromium, against a real broker, three
//! real filter replicas (trending terms on), a real sink and a synthetic
//! stream: the page loads with its security headers, shows matched posts
//! and draws its charts, receives new posts live (no reload), and shows a
//! post full of HTML as text — no injected element, no script run.
//! Chromium must be installed (`deploy/local/ensure-chromium.sh`); without
//! it the test fails.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use weibostream_shared::{Author, Post, Source};
use weibostream_tests::browser::{Browser, chromium_binary};
use weibostream_tests::pipeline::{
    start_filter_with, start_sink_serving, start_synthetic, wait_for_assignments,
};
use weibostream_tests::web::{get, publish_posts};
use weibostream_tests::{Broker, unique, unique_topics, workspace_root};

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "<img src=x onerror=alert(1)>";
const NAME: &str = "<b>bold</b><img src=x onerror=alert(2)>";

fn evil_post(id: &str) -> Post {
    let now = Utc::now();
    Post {
        id: Source::Weibo.post_id(id),
        source: Source::Weibo,
        text: format!("建设银行 涨停了 {SCRIPT} {IMG}"),
        lang: Some("zh".into()),
        created_at: now,
        author: Author {
            id: "evil".into(),
            name: NAME.into(),
            followers: None,
            verified: false,
        },
        url: Some("javascript:alert(3)".into()),
        reposts: 0,
        comments: 0,
        likes: 0,
        repost_of: None,
        client: None,
        collected_at: now,
    }
}

/// A JavaScript string literal for `text`.
fn js(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_shows_live_posts_and_charts_and_renders_html_as_text() {
    // Fail at once, with what to do, when there is no browser.
    chromium_binary();
    let broker = Broker::start();
    let kafka = broker.kafka();
    let topics = unique_topics();
    let dir = tempfile::tempdir().unwrap();
    let rules = workspace_root().join("deploy/rules.toml");
    let (sink, address) =
        start_sink_serving(&kafka, &topics, &dir.path().join("m.jsonl"), |_| {}).await;
    let group = unique("filter");
    let names = ["filter-1", "filter-2", "filter-3"];
    let filters: Vec<_> = names
        .iter()
        .map(|name| {
            start_filter_with(&kafka, &topics, &group, &rules, name, |c| {
                c.trending.enabled = true;
                c.trending.min_posts = 2;
            })
        })
        .collect();
    wait_for_assignments(&kafka, &topics.reports, &names, Duration::from_secs(60)).await;
    let collector = start_synthetic(&kafka, &topics, 0, 300, 5);
    let base = format!("http://{address}");

    // The page and its assets: ours only, with a strict policy.
    let page = get(&format!("{base}/")).await;
    assert_eq!(page.status, 200);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let common = page.body.find("<script src=\"/common.js\"").unwrap();
    let app = page.body.find("<script src=\"/app.js\"").unwrap();
    assert!(common < app, "the shared helpers load first");
    assert!(
        !page.body.contains("http://") && !page.body.contains("https://"),
        "no external fetches"
    );
    for (path, kind) in [
        ("/common.js", "text/javascript"),
        ("/app.js", "text/javascript"),
        ("/app.css", "text/css"),
    ] {
        let asset = get(&format!("{base}{path}")).await;
        assert_eq!(asset.status, 200, "{path}");
        assert!(
            asset.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(
            !asset.body.contains("innerHTML"),
            "{path} must not parse HTML"
        );
    }

    // Enough batches for the charts before the browser opens (bounded
    // generously: on a loaded machine the group may rebalance meanwhile).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let snapshot: Value =
            serde_json::from_str(&get(&format!("{base}/api/snapshot")).await.body).unwrap();
        let batches = snapshot["batches"].as_array().unwrap().len();
        let posts = snapshot["posts"].as_array().unwrap().len();
        if batches >= 10 && posts > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {batches} batches and {posts} posts on the dashboard after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let (_browser, mut page) = Browser::open(&format!("{base}/"), 1440, 1000).await;
    page.wait_for(
        "document.getElementById('connection').getAttribute('data-state') === 'open' \
         && document.querySelectorAll('#posts .post').length > 0",
        Duration::from_secs(30),
    )
    .await;
    // Charts are drawn: bars per rule, a line per replica plus the interval.
    page.wait_for(
        "document.querySelectorAll('#chart-matches rect.bar').length > 0 \
         && Number(document.getElementById('chart-matches').getAttribute('data-points')) > 0 \
         && document.querySelectorAll('#chart-rate path.series').length === 1 \
         && document.querySelectorAll('#chart-processing path.series').length >= 4 \
         && document.querySelectorAll('#chart-lag path.series').length >= 1",
        Duration::from_secs(10),
    )
    .await;
    let screenshot = page.screenshot().await;
    assert_eq!(&screenshot[..8], b"\x89PNG\r\n\x1a\n");
    let png = std::env::var_os("WEIBOSTREAM_DASHBOARD_PNG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("dashboard.png"));
    std::fs::write(&png, &screenshot).unwrap();
    println!("screenshot: {} ({} bytes)", png.display(), screenshot.len());

    // New posts arrive live: the evil post shows up without a reload.
    page.eval("window.__loadedOnce = 42").await;
    let evil = evil_post(&format!("evil-{}", std::process::id()));
    let published = Instant::now();
    publish_posts(&kafka, &topics.raw, std::slice::from_ref(&evil)).await;
    let selector = format!(
        "[...document.querySelectorAll('#posts .post')].find(li => li.getAttribute('data-id') === {})",
        js(&evil.id)
    );
    page.wait_for(&format!("Boolean({selector})"), Duration::from_secs(30))
        .await;
    println!(
        "evil post on the page {:?} after publishing",
        published.elapsed()
    );
    assert_eq!(
        page.eval("window.__loadedOnce").await,
        Value::from(42),
        "the page reloaded"
    );

    // Shown as text, exactly; nothing injected, nothing run.
    let text = page
        .eval(&format!("{selector}.querySelector('.text').textContent"))
        .await;
    assert_eq!(text.as_str().unwrap(), evil.text);
    let author = page
        .eval(&format!("{selector}.querySelector('.author').textContent"))
        .await;
    assert_eq!(author.as_str().unwrap(), format!("@{NAME}"));
    assert_eq!(
        page.eval(&format!("{selector}.querySelectorAll('*').length"))
            .await,
        page.eval(&format!("{selector}.querySelectorAll('div, span').length"))
            .await,
        "only the page's own elements inside the post"
    );
    assert_eq!(
        page.eval("document.querySelectorAll('img, b, iframe, object').length")
            .await,
        Value::from(0)
    );
    assert_eq!(
        page.eval("[...document.scripts].map(s => new URL(s.src).pathname)")
            .await,
        serde_json::json!(["/common.js", "/app.js"]),
        "only the page's own scripts"
    );
    assert_eq!(
        page.eval(&format!("{selector}.querySelectorAll('a').length"))
            .await,
        Value::from(0),
        "javascript: link dropped"
    );
    let html = page.eval("document.documentElement.outerHTML").await;
    let html = html.as_str().unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "escaped script text missing"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "escaped img text missing"
    );
    assert!(
        html.contains("&lt;b&gt;bold&lt;/b&gt;"),
        "escaped author missing"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    page.eval("1").await; // collects events that came meanwhile
    assert!(
        page.events_named("Page.javascriptDialogOpening").is_empty(),
        "a script from post data ran: {:?}",
        page.events_named("Page.javascriptDialogOpening")
    );

    collector.token.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(30), collector.handle).await;
    for filter in filters {
        filter.stop().await;
    }
    sink.stop().await;
}

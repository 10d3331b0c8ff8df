//! Talking to a service's HTTP endpoint from tests: plain GETs, reading a
//! metric out of the Prometheus text format, reading Server-Sent Events,
//! and publishing hand-made posts to feed a pipeline.

use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use weibostream_shared::Post;
use weibostream_shared::kafka::KafkaSettings;

/// A GET's status, headers and body.
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body as text.
    pub body: String,
}

/// GETs `url` (bounded at 10 s).
pub async fn get(url: &str) -> Reply {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

/// The value of the sample `series` (name and labels exactly as encoded,
/// e.g. `weibostream_sink_posts_output_total{output="jsonl"}`) in a
/// Prometheus/OpenMetrics text body.
pub fn metric(body: &str, series: &str) -> Option<f64> {
    body.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        rest.strip_prefix(' ')?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// Every sample whose series starts with `prefix`, as `(series, value)`.
pub fn metrics_with_prefix(body: &str, prefix: &str) -> Vec<(String, f64)> {
    body.lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// The `event:` name (`message` when none).
    pub event: String,
    /// The `data:` lines, joined by newlines.
    pub data: String,
    /// When it was read.
    pub at: Instant,
}

/// An open `text/event-stream` response, read event by event.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// Opens `url`; panics unless it answers 200 with `text/event-stream`.
    pub async fn open(url: &str) -> SseReader {
        let response = reqwest::Client::new()
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(response.status().as_u16(), 200, "GET {url}");
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        SseReader {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (comments and keep-alives skipped); `None` when the
    /// stream ended or nothing came within `limit`.
    pub async fn next(&mut self, limit: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_event(&block) {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

fn parse_event(block: &str) -> Option<SseEvent> {
    let mut event = "message".to_string();
    let mut data = Vec::new();
    for line in block.lines() {
        if let Some(name) = line.strip_prefix("event:") {
            event = name.trim_start().to_string();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    (!data.is_empty()).then(|| SseEvent {
        event,
        data: data.join("\n"),
        at: Instant::now(),
    })
}

/// Publishes `posts` to `topic` (keyed by author id, like the collector)
/// and waits for the broker's acknowledgements.
pub async fn publish_posts(kafka: &KafkaSettings, topic: &str, posts: &[Post]) {
    let producer: FutureProducer = kafka.producer_config("test-publisher").create().unwrap();
    for post in posts {
        let payload = serde_json::to_vec(post).unwrap();
        producer
            .send(
                FutureRecord::to(topic)
                    .key(&post.author.id)
                    .payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
}

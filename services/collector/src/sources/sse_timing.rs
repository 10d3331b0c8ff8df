//! Times the SSE path against the hand-written parser it replaced (kept
//! here, test-only, as the reference). Run with
//! `cargo test --release -p weibostream-collector --lib sse_timing -- --ignored --nocapture`.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use sse_stream::SseByteStream;

use super::sse::SseEvents;

/// The parser the collector used before `sse-stream`, as it was.
#[derive(Default)]
struct HandWritten {
    line: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
}

impl HandWritten {
    /// Events completed by `chunk` (heartbeats are not counted).
    fn feed(&mut self, chunk: &[u8]) -> usize {
        let mut events = 0;
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            self.line.extend_from_slice(&rest[..end]);
            rest = &rest[end + 1..];
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            events += usize::from(self.line_done(&String::from_utf8_lossy(&line)));
        }
        self.line.extend_from_slice(rest);
        events
    }

    fn line_done(&mut self, line: &str) -> bool {
        if line.is_empty() {
            let dispatched = std::mem::take(&mut self.has_data);
            if dispatched {
                std::hint::black_box((
                    std::mem::take(&mut self.event),
                    std::mem::take(&mut self.data),
                ));
            }
            self.event.clear();
            return dispatched;
        }
        if line.starts_with(':') {
            return false;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        false
    }
}

/// A public-timeline stream: `events` updates of about 2.3 KB (a status as
/// Mastodon sends it), a heartbeat every 50 events, cut into `width`-byte chunks.
fn stream(events: usize, width: usize) -> Vec<Bytes> {
    let mut text = String::new();
    for id in 0..events {
        let status = serde_json::json!({
            "id": format!("1130{id:014}"), "created_at": "2026-08-30T23:12:47.000Z",
            "in_reply_to_id": null, "sensitive": false, "spoiler_text": "", "visibility": "public",
            "language": "en", "uri": format!("https://m.example/users/alice/statuses/{id}"),
            "url": format!("https://m.example/@alice/{id}"), "replies_count": 2,
            "reblogs_count": 1, "favourites_count": 3,
            "content": format!("<p>toot {id} &amp; {} <a href=\"https://x.example/a\"><span class=\"invisible\">https://</span>x.example/a</a></p>", "words of a post ".repeat(20)),
            "account": {"id": "42", "username": "alice", "acct": "alice", "display_name": "Alice",
                        "note": "<p>".to_owned() + &"about me ".repeat(40) + "</p>",
                        "followers_count": 9, "following_count": 5, "statuses_count": 100,
                        "avatar": "https://m.example/avatars/original/missing.png"},
            "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "reblog": null
        });
        text.push_str("event: update\ndata: ");
        text.push_str(&status.to_string());
        text.push_str("\n\n");
        if id % 50 == 0 {
            text.push_str(":thump\n");
        }
    }
    text.as_bytes()
        .chunks(width)
        .map(Bytes::copy_from_slice)
        .collect()
}

fn hand_written(chunks: &[Bytes]) -> usize {
    let mut parser = HandWritten::default();
    chunks.iter().map(|chunk| parser.feed(chunk)).sum()
}

/// Takes the chunks by value: the decoder needs a `'static` stream.
async fn crate_alone(chunks: Vec<Bytes>) -> usize {
    let input = futures::stream::iter(chunks.into_iter().map(Ok::<_, Infallible>));
    SseByteStream::new(input)
        .filter(|block| std::future::ready(matches!(block, Ok(b) if b.data.is_some())))
        .count()
        .await
}

async fn ours(chunks: Vec<Bytes>) -> usize {
    let input = futures::stream::iter(chunks.into_iter().map(Ok::<_, Infallible>));
    let mut events = SseEvents::new(input, Duration::from_secs(60));
    let mut count = 0;
    while let Ok(Some(event)) = events.next().await {
        std::hint::black_box(event);
        count += 1;
    }
    count
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

#[test]
#[ignore = "a timing, not a check: run it by hand"]
fn parser_timing() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    const EVENTS: usize = 20_000;
    for width in [1460, 16 * 1024] {
        let chunks = stream(EVENTS, width);
        let megabytes = chunks.iter().map(Bytes::len).sum::<usize>() as f64 / 1e6;
        let (mut old, mut new, mut full) = (Vec::new(), Vec::new(), Vec::new());
        // Interleaved rounds, so a noisy neighbour hits all three alike.
        for _ in 0..7 {
            let started = Instant::now();
            assert_eq!(hand_written(&chunks), EVENTS);
            old.push(started.elapsed());
            let started = Instant::now();
            assert_eq!(runtime.block_on(crate_alone(chunks.clone())), EVENTS);
            new.push(started.elapsed());
            let started = Instant::now();
            assert_eq!(runtime.block_on(ours(chunks.clone())), EVENTS);
            full.push(started.elapsed());
        }
        let (old, new, full) = (median(old), median(new), median(full));
        println!(
            "{width}-byte chunks, {megabytes:.1} MB, {EVENTS} events, median of 7: \
             hand-written {:.1} ms, sse-stream {:.1} ms ({:.2}x), \
             sse-stream + idle timeout and cap {:.1} ms ({:.2}x)",
            old.as_secs_f64() * 1e3,
            new.as_secs_f64() * 1e3,
            new.as_secs_f64() / old.as_secs_f64(),
            full.as_secs_f64() * 1e3,
            full.as_secs_f64() / old.as_secs_f64(),
        );
    }
}

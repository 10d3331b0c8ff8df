//! Server-Sent Events from a long-lived HTTP response. The `sse-stream`
//! crate parses the wire format (fields, blank-line dispatch, comments,
//! `\n`, `\r\n` or `\r` line ends); this module adds what a connection that
//! stays open for days needs: an idle timeout that any byte resets (the
//! server's `:` heartbeats included), a cap on the size of one event, and the
//! server's `retry:` reconnection delay.
//!
//! The crate replaced a hand-written parser: over 20,000 Mastodon-sized
//! events (28.5 MB) it took 0.16–0.23x the old parser's time in 1460-byte
//! chunks and 0.12–0.16x in 16 KiB chunks, 0.12–0.24x with this module's
//! limits around it (2026-12-03, three runs of the ignored test
//! `sse_timing::parser_timing`; docs/benchmarks.md).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sse_stream::{Sse, SseByteStream};

/// Longest event accepted before the stream is considered broken.
pub const MAX_EVENT_BYTES: u64 = 16 * 1024 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// `event:` field (`message` if absent).
    pub event: String,
    /// `data:` lines joined by `\n`.
    pub data: String,
}

/// Why a stream of events ended.
#[derive(Debug, thiserror::Error)]
pub enum SseError {
    /// Nothing arrived, not even a heartbeat, for the idle timeout.
    #[error("no event or heartbeat for {} ms", .0.as_millis())]
    Idle(Duration),
    /// One event grew past [`MAX_EVENT_BYTES`].
    #[error("an SSE event exceeds {MAX_EVENT_BYTES} bytes")]
    TooLarge,
    /// The body failed (a reset connection, a cut-off chunk).
    #[error("{0}")]
    Body(Box<dyn std::error::Error + Send + Sync>),
    /// The bytes are not SSE (a field value that is not UTF-8).
    #[error("invalid SSE: {0}")]
    Invalid(sse_stream::Error),
}

type Blocks = Pin<Box<dyn Stream<Item = Result<Sse, sse_stream::Error>> + Send>>;

/// Events from a byte stream, with the idle timeout, the size cap and the
/// last `retry:` the server sent.
pub struct SseEvents {
    blocks: Blocks,
    bytes: Arc<ByteCount>,
    retry: Option<Duration>,
}

/// Bytes received in all, and when the last event was dispatched: the
/// difference is what the parser may be holding for the next event.
#[derive(Debug, Default)]
struct ByteCount {
    received: AtomicU64,
    at_last_event: AtomicU64,
}

impl SseEvents {
    /// Events from the body of `response`.
    pub fn from_response(response: reqwest::Response, idle: Duration) -> SseEvents {
        let chunks = futures::stream::unfold(response, |mut response| async move {
            response
                .chunk()
                .await
                .transpose()
                .map(|chunk| (chunk, response))
        });
        SseEvents::new(chunks, idle)
    }

    /// Events from a stream of body chunks; the stream fails with
    /// [`SseError::Idle`] when no chunk arrives for `idle`.
    pub fn new<S, E>(chunks: S, idle: Duration) -> SseEvents
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        let bytes = Arc::new(ByteCount::default());
        let guarded = futures::stream::unfold(
            (Box::pin(chunks), bytes.clone()),
            move |(mut chunks, bytes)| async move {
                let item = match tokio::time::timeout(idle, chunks.next()).await {
                    Err(_) => Err(SseError::Idle(idle)),
                    Ok(None) => return None,
                    Ok(Some(Err(error))) => Err(SseError::Body(Box::new(error))),
                    Ok(Some(Ok(chunk))) => {
                        let received = bytes
                            .received
                            .fetch_add(chunk.len() as u64, Ordering::Relaxed)
                            + chunk.len() as u64;
                        let pending = received - bytes.at_last_event.load(Ordering::Relaxed);
                        if pending > MAX_EVENT_BYTES {
                            Err(SseError::TooLarge)
                        } else {
                            Ok(chunk)
                        }
                    }
                };
                Some((item, (chunks, bytes)))
            },
        );
        SseEvents {
            blocks: Box::pin(SseByteStream::new(Box::pin(guarded))),
            bytes,
            retry: None,
        }
    }

    /// The next event; `Ok(None)` when the server closed the stream. After an
    /// error the stream is over.
    pub async fn next(&mut self) -> Result<Option<SseEvent>, SseError> {
        loop {
            let block = match self.blocks.next().await {
                None => return Ok(None),
                Some(Ok(block)) => block,
                Some(Err(sse_stream::Error::Body(error))) => {
                    return Err(match error.downcast::<SseError>() {
                        Ok(error) => *error,
                        Err(error) => SseError::Body(error),
                    });
                }
                Some(Err(error)) => return Err(SseError::Invalid(error)),
            };
            let received = self.bytes.received.load(Ordering::Relaxed);
            self.bytes.at_last_event.store(received, Ordering::Relaxed);
            if let Some(retry) = block.retry {
                self.retry = Some(Duration::from_millis(retry));
            }
            // A block without data (only `retry:` or `id:`) dispatches nothing.
            if let Some(data) = block.data {
                let event = block.event.unwrap_or_else(|| "message".to_owned());
                return Ok(Some(SseEvent { event, data }));
            }
        }
    }

    /// The reconnection delay from the last `retry:` field, if any.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Whether any byte arrived, a heartbeat included.
    pub fn heard_from_server(&self) -> bool {
        self.bytes.received.load(Ordering::Relaxed) > 0
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    fn chunked(stream: &str, width: usize) -> Vec<Result<Bytes, Infallible>> {
        stream
            .as_bytes()
            .chunks(width)
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect()
    }

    async fn all_events(events: &mut SseEvents) -> (Vec<SseEvent>, Option<SseError>) {
        let mut found = Vec::new();
        loop {
            match events.next().await {
                Ok(Some(event)) => found.push(event),
                Ok(None) => return (found, None),
                Err(error) => return (found, Some(error)),
            }
        }
    }

    fn event(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[tokio::test]
    async fn events_split_across_chunks_and_retry() {
        let stream = ":)\n\nevent: update\ndata: {\"id\":\ndata: 1}\n\r\nretry: 2500\n\nevent: delete\r\ndata: 5\r\n\r\n:thump\ndata:x\n\nevent: nodata\n\n";
        for width in [1, 7, stream.len()] {
            let mut events = SseEvents::new(
                futures::stream::iter(chunked(stream, width)),
                Duration::from_secs(5),
            );
            assert!(!events.heard_from_server());
            let (found, error) = all_events(&mut events).await;
            assert!(error.is_none(), "{error:?}");
            assert_eq!(
                found,
                vec![
                    event("update", "{\"id\":\n1}"),
                    event("delete", "5"),
                    event("message", "x")
                ]
            );
            assert_eq!(events.retry(), Some(Duration::from_millis(2500)));
            assert!(events.heard_from_server());
        }
    }

    #[tokio::test]
    async fn an_event_over_the_cap_breaks_the_stream() {
        // 1 MiB chunks of one endless data line, after one small event.
        let mut chunks = vec![Ok::<_, Infallible>(Bytes::from_static(
            b"data: ok\n\ndata: ",
        ))];
        let mib = Bytes::from(vec![b'x'; 1 << 20]);
        chunks.extend((0..17).map(|_| Ok(mib.clone())));
        let mut events = SseEvents::new(futures::stream::iter(chunks), Duration::from_secs(5));
        let (found, error) = all_events(&mut events).await;
        assert_eq!(found, vec![event("message", "ok")]);
        assert!(matches!(error, Some(SseError::TooLarge)), "{error:?}");

        // Many events adding up to more than the cap are fine.
        let many = "data: 0123456789abcdef\n\n".repeat(1 << 16);
        let chunks: Vec<_> = (0..12).flat_map(|_| chunked(&many, 1 << 16)).collect();
        let mut events = SseEvents::new(futures::stream::iter(chunks), Duration::from_secs(5));
        let (found, error) = all_events(&mut events).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(found.len(), 12 << 16);
    }

    #[tokio::test]
    async fn silence_is_an_idle_error_and_heartbeats_are_not() {
        let (sender, receiver) = futures::channel::mpsc::unbounded::<Result<Bytes, Infallible>>();
        let mut events = SseEvents::new(receiver, Duration::from_secs(1));
        let beats = tokio::spawn(async move {
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = sender.unbounded_send(Ok(Bytes::from_static(b":thump\n")));
            }
            // Then silence, with the sender still open.
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(sender);
        });
        let started = tokio::time::Instant::now();
        let error = events.next().await.unwrap_err();
        assert!(matches!(error, SseError::Idle(_)), "{error:?}");
        // Ten heartbeats over 1 s kept it open, then 1 s of silence ended it.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
        beats.abort();
    }

    #[tokio::test]
    async fn invalid_utf8_ends_the_stream() {
        let chunks = vec![Ok::<_, Infallible>(Bytes::from_static(
            b"data: \xff\xfe\n\n",
        ))];
        let mut events = SseEvents::new(futures::stream::iter(chunks), Duration::from_secs(5));
        let error = events.next().await.unwrap_err();
        assert!(matches!(error, SseError::Invalid(_)), "{error:?}");
    }
}

//! Test servers the sources talk to (raw HTTP/1.1, WebSocket, line feeder),
//! a source context whose batches the test reads, and polling helpers.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use weibostream_collector::config::RetrySettings;
use weibostream_collector::cursor::CursorFile;
use weibostream_collector::metrics::SourceMetrics;
use weibostream_collector::sources::{Batch, SourceContext};
use weibostream_shared::Post;

/// A source context for tests: fast retries, short batches.
pub struct TestContext {
    pub context: SourceContext,
    pub batches: mpsc::Receiver<Batch>,
    pub shutdown: CancellationToken,
    pub metrics: Arc<SourceMetrics>,
    _own_dir: Option<tempfile::TempDir>,
}

impl TestContext {
    /// A context whose cursor file is in `cursor_dir`, or in a fresh folder.
    pub fn new(name: &str, cursor_dir: Option<&Path>) -> Self {
        let own_dir = cursor_dir.is_none().then(|| tempfile::tempdir().unwrap());
        let cursor_dir = cursor_dir
            .or(own_dir.as_ref().map(|dir| dir.path()))
            .unwrap();
        let (tx, rx) = mpsc::channel(16);
        let shutdown = CancellationToken::new();
        let metrics = Arc::new(SourceMetrics::new(name));
        let context = SourceContext {
            name: name.into(),
            batches: tx,
            metrics: metrics.clone(),
            cursor: Some(CursorFile::in_dir(cursor_dir, name)),
            retry: RetrySettings {
                initial_backoff_ms: 20,
                max_backoff_ms: 200,
            },
            batch_max_posts: 100,
            batch_max_wait: Duration::from_millis(20),
            shutdown: shutdown.clone(),
        };
        TestContext {
            context,
            batches: rx,
            shutdown,
            metrics,
            _own_dir: own_dir,
        }
    }

    /// Receives batches until `count` posts came; panics after `limit`.
    /// Returns the posts and the last cursor seen (as JSON text).
    pub async fn posts(&mut self, count: usize, limit: Duration) -> (Vec<Post>, Option<String>) {
        let deadline = Instant::now() + limit;
        let mut posts = Vec::new();
        let mut cursor = None;
        while posts.len() < count {
            let batch = tokio::time::timeout_at(deadline, self.batches.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "only {} of {count} posts within {limit:?}: {posts:#?}",
                        posts.len()
                    )
                })
                .expect("the source stopped");
            posts.extend(batch.posts);
            if let Some(update) = batch.cursor {
                cursor = Some(String::from_utf8(update.bytes).unwrap());
            }
        }
        (posts, cursor)
    }

    /// Asserts no further post arrives within `quiet`.
    pub async fn no_more_posts(&mut self, quiet: Duration) {
        let deadline = Instant::now() + quiet;
        while let Ok(Some(batch)) = tokio::time::timeout_at(deadline, self.batches.recv()).await {
            assert!(
                batch.posts.is_empty(),
                "unexpected posts: {:#?}",
                batch.posts
            );
        }
    }
}

/// Polls `condition` every 20 ms until it holds; panics after `limit`.
pub async fn eventually(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ids of posts.
pub fn ids(posts: &[Post]) -> Vec<String> {
    posts.iter().map(|post| post.id.clone()).collect()
}

/// A request as the test server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub at: Instant,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
}

/// What the test server answers.
pub enum Reply {
    /// A complete response.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Headers announcing more bytes than the body has, then a close.
    CutShort(String),
    /// Close the connection without answering.
    Reset,
    /// Answer nothing for this long.
    Hang(Duration),
    /// `200 text/event-stream`, then each chunk after its delay, then close
    /// (or stay silent for `hang_after` first).
    Stream {
        chunks: Vec<(Duration, String)>,
        hang_after: Duration,
    },
}

impl Reply {
    pub fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply::Full {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into(),
        }
    }
}

/// A raw HTTP/1.1 server answering each request through `handler`, one
/// request per connection.
pub struct HttpServer {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl HttpServer {
    pub async fn start<H>(handler: H) -> HttpServer
    where
        H: Fn(&Request) -> Reply + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = handler.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, handler.as_ref(), &seen).await;
                });
            }
        });
        HttpServer { addr, requests }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests to `path` so far.
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

async fn serve<H>(
    mut stream: TcpStream,
    handler: &H,
    seen: &Mutex<Vec<Request>>,
) -> std::io::Result<()>
where
    H: Fn(&Request) -> Reply,
{
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .unwrap_or_default()
        .split(' ')
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let request = Request {
        at: Instant::now(),
        path: path.to_owned(),
        query: query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), percent_decode(v)))
            .collect(),
        headers: lines
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect(),
    };
    seen.lock().unwrap().push(request.clone());
    match handler(&request) {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut text = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                text.push_str(&format!("{name}: {value}\r\n"));
            }
            text.push_str("\r\n");
            text.push_str(&body);
            stream.write_all(text.as_bytes()).await?;
        }
        Reply::CutShort(body) => {
            let text = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len() + 500
            );
            stream.write_all(text.as_bytes()).await?;
        }
        Reply::Reset => {
            // Dropping with a zero linger sends a TCP reset.
            stream.set_zero_linger()?;
            drop(stream);
            return Ok(());
        }
        Reply::Hang(duration) => tokio::time::sleep(duration).await,
        Reply::Stream { chunks, hang_after } => {
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
            stream.write_all(head.as_bytes()).await?;
            for (delay, chunk) in chunks {
                tokio::time::sleep(delay).await;
                stream.write_all(chunk.as_bytes()).await?;
                stream.flush().await?;
            }
            tokio::time::sleep(hang_after).await;
        }
    }
    stream.shutdown().await
}

/// A query value as the server reads it: `%XX` decoded, `+` a space.
pub fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Spawns `run` and returns its handle; the test cancels `shutdown` to end it.
pub fn spawn<F>(run: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(run)
}

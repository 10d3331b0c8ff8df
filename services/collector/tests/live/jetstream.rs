//! The Jetstream source against a local WebSocket server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::SinkExt;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use weibostream_collector::config::JetstreamSettings;
use weibostream_collector::metrics::ErrorKind;
use weibostream_collector::sources::jetstream::JetstreamSource;

use crate::support::{TestContext, eventually, ids, spawn};

const LIMIT: Duration = Duration::from_secs(10);
const GOLDEN: &str = include_str!("../fixtures/jetstream/golden_v1.jsonl");

/// What the server does on one connection.
pub enum Ending {
    /// Sends a close frame.
    Close,
    /// Drops the TCP connection without a close frame.
    Die,
    /// Stays open and silent.
    Hang,
}

/// A WebSocket server; `script(connection index, request URI)` gives the
/// frames to send and how to end.
pub struct WsServer {
    pub addr: SocketAddr,
    pub uris: Arc<Mutex<Vec<String>>>,
}

impl WsServer {
    pub async fn start<S>(script: S) -> WsServer
    where
        S: Fn(usize, &str) -> (Vec<String>, Ending) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let uris = Arc::new(Mutex::new(Vec::new()));
        let seen = uris.clone();
        let script = Arc::new(script);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, script) = (seen.clone(), script.clone());
                tokio::spawn(async move {
                    let uri = Arc::new(Mutex::new(String::new()));
                    let record = uri.clone();
                    // The callback's error type is tungstenite's, not ours to shrink.
                    #[allow(clippy::result_large_err)]
                    let callback = move |request: &Request, response: Response| {
                        *record.lock().unwrap() = request.uri().to_string();
                        Ok(response)
                    };
                    let Ok(mut socket) =
                        tokio_tungstenite::accept_hdr_async(stream, callback).await
                    else {
                        return;
                    };
                    let uri = uri.lock().unwrap().clone();
                    let index = {
                        let mut seen = seen.lock().unwrap();
                        seen.push(uri.clone());
                        seen.len() - 1
                    };
                    let (frames, ending) = script(index, &uri);
                    for frame in frames {
                        if socket.send(Message::text(frame)).await.is_err() {
                            return;
                        }
                    }
                    match ending {
                        Ending::Close => {
                            let _ = socket.close(None).await;
                        }
                        Ending::Die => drop(socket),
                        Ending::Hang => tokio::time::sleep(Duration::from_secs(30)).await,
                    }
                });
            }
        });
        WsServer { addr, uris }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/subscribe", self.addr)
    }
}

/// A post event `n` (time_us `1_000_000 + n`) in language `lang`.
pub fn post_event(n: u64, lang: &str) -> String {
    json!({
        "did": format!("did:plc:author{}", n % 3), "time_us": 1_000_000 + n, "kind": "commit",
        "commit": {"rev": "r", "operation": "create", "collection": "app.bsky.feed.post", "rkey": format!("rk{n}"),
            "record": {"$type": "app.bsky.feed.post", "createdAt": "2026-05-25T14:23:28.757Z", "langs": [lang], "text": format!("post {n}")},
            "cid": "c"}
    })
    .to_string()
}

/// The post id of [`post_event`] `n`.
pub fn post_id(n: u64) -> String {
    format!("bluesky:did:plc:author{}/rk{n}", n % 3)
}

/// The `cursor` query parameter of a request URI.
pub fn cursor_of(uri: &str) -> Option<u64> {
    uri.split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("cursor=")?.parse().ok())
}

pub fn settings(server: &WsServer) -> JetstreamSettings {
    JetstreamSettings {
        url: server.url(),
        connect_timeout_ms: 1000,
        idle_timeout_ms: 5000,
        ..JetstreamSettings::default()
    }
}

#[tokio::test]
async fn replays_the_golden_fixture() {
    let server =
        WsServer::start(|_, _| (GOLDEN.lines().map(str::to_owned).collect(), Ending::Hang)).await;
    let mut test = TestContext::new("jetstream", None);
    let task = spawn(JetstreamSource::new(settings(&server)).run(test.context.clone()));
    let (posts, cursor) = test.posts(1, LIMIT).await;
    // The fixture's one app.bsky.feed.post create; likes, reposts, follows,
    // profile updates, a delete, identity and account events are skipped.
    assert_eq!(
        ids(&posts),
        ["bluesky:did:plc:q235v55g5unth4zjjdpacfdr/3mmoojp4cd223"]
    );
    assert_eq!(posts[0].text, "Try RSV for a good time !!");
    eventually(LIMIT, "the other 9 events skipped", || {
        test.metrics.skipped() == 9
    })
    .await;
    assert_eq!(test.metrics.fetched(), 10);
    assert_eq!(
        cursor
            .as_deref()
            .map(|c| c.starts_with(r#"{"time_us":17797190"#)),
        Some(true),
        "{cursor:?}"
    );
    let uris = server.uris.lock().unwrap().clone();
    assert_eq!(uris, ["/subscribe?wantedCollections=app.bsky.feed.post"]);
    test.no_more_posts(Duration::from_millis(200)).await;
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn resumes_from_the_cursor_after_the_server_closes() {
    let server = WsServer::start(|index, uri| {
        let log: Vec<(u64, String)> = (1..=6)
            .map(|n| {
                (
                    1_000_000 + n,
                    post_event(n, if n == 2 { "ja" } else { "en" }),
                )
            })
            .collect();
        match index {
            0 => {
                let mut frames: Vec<String> = log[..3].iter().map(|(_, e)| e.clone()).collect();
                frames.insert(1, "{\"did\": truncated".into());
                (frames, Ending::Close)
            }
            _ => {
                let cursor = cursor_of(uri).unwrap_or(0);
                let replay = log
                    .iter()
                    .filter(|(t, _)| *t >= cursor)
                    .map(|(_, e)| e.clone())
                    .collect();
                (replay, Ending::Hang)
            }
        }
    })
    .await;
    let mut config = settings(&server);
    config.languages = vec!["en".into()];
    let mut test = TestContext::new("jetstream", None);
    let task = spawn(JetstreamSource::new(config).run(test.context.clone()));
    let (posts, cursor) = test.posts(5, LIMIT).await;
    assert_eq!(ids(&posts), [1, 3, 4, 5, 6].map(post_id));
    assert_eq!(cursor.as_deref(), Some(r#"{"time_us":1000006}"#));
    let uris = server.uris.lock().unwrap().clone();
    assert_eq!(cursor_of(&uris[1]), Some(1_000_003), "{uris:?}");
    assert_eq!(
        test.metrics.duplicates(),
        1,
        "event 3 replayed from the cursor"
    );
    assert_eq!(test.metrics.skipped(), 1, "the Japanese post");
    assert_eq!(test.metrics.errors(ErrorKind::InvalidJson), 1);
    assert_eq!(test.metrics.errors(ErrorKind::Closed), 1);
    test.no_more_posts(Duration::from_millis(200)).await;
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_server_dying_mid_stream_is_reconnected() {
    let server = WsServer::start(|index, uri| match index {
        0 => (vec![post_event(1, "en")], Ending::Die),
        _ => {
            assert_eq!(cursor_of(uri), Some(1_000_001));
            (vec![post_event(2, "en")], Ending::Hang)
        }
    })
    .await;
    let mut test = TestContext::new("jetstream", None);
    let task = spawn(JetstreamSource::new(settings(&server)).run(test.context.clone()));
    let (posts, _) = test.posts(2, LIMIT).await;
    assert_eq!(ids(&posts), [1, 2].map(post_id));
    let broken =
        test.metrics.errors(ErrorKind::Connection) + test.metrics.errors(ErrorKind::Closed);
    assert_eq!(broken, 1);
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

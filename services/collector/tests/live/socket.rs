//! The socket source against a local line feeder that closes after each batch of lines.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use weibostream_collector::config::SocketSettings;
use weibostream_collector::metrics::ErrorKind;
use weibostream_collector::sources::socket::SocketSource;
use weibostream_shared::Source;

use crate::support::{TestContext, eventually, spawn};

const LIMIT: Duration = Duration::from_secs(10);
const STATUS: &str =
    r#"{"created_at":"Wed Jan 21 18:50:05 +0800 2015","id":77,"text":"建设银行","user":{"id":1}}"#;
const POST: &str = r#"{"id":"synthetic:5","source":"synthetic","text":"hi","created_at":"2025-01-01T00:00:00Z","author":{"id":"7","name":"seven"}}"#;

/// A feeder writing `connections[i]` on its i-th connection, then closing.
async fn feeder(connections: Vec<String>) -> (String, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let served = Arc::new(Mutex::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        for text in connections {
            let (mut stream, _) = listener.accept().await.unwrap();
            // Written in pieces so lines cross reads.
            for piece in text.as_bytes().chunks(7) {
                stream.write_all(piece).await.unwrap();
            }
            stream.shutdown().await.unwrap();
            *count.lock().unwrap() += 1;
        }
        // Later connections are accepted and closed at once.
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    (address, served)
}

fn settings(address: &str) -> SocketSettings {
    SocketSettings {
        addresses: vec![address.to_owned()],
        reconnect_delay_ms: 10,
        max_line_bytes: 200,
        ..SocketSettings::default()
    }
}

#[tokio::test]
async fn reads_lines_and_reconnects_when_the_feeder_closes() {
    let first = format!(
        "plain text line\n{STATUS}\n\n{{\"id\":\"9\",\"deleted\":\"1\"}}\n{{\"id\": 5, \"text\"\n{POST}\n"
    );
    let long = "x".repeat(300);
    let second = format!("{POST}\r\n{long}\r\n第二 connection\nlast line without newline");
    let (address, served) = feeder(vec![first, second]).await;
    let mut test = TestContext::new("socket", None);
    let task =
        spawn(SocketSource::new(address.clone(), settings(&address)).run(test.context.clone()));
    let (posts, cursor) = test.posts(5, LIMIT).await;
    assert_eq!(cursor, None, "a feeder cannot resume");
    let texts: Vec<_> = posts.iter().map(|p| (p.source, p.text.as_str())).collect();
    assert_eq!(
        texts,
        [
            (Source::Socket, "plain text line"),
            (Source::Weibo, "建设银行"),
            (Source::Synthetic, "hi"),
            (Source::Socket, "第二 connection"),
            (Source::Socket, "last line without newline"),
        ]
    );
    assert!(
        posts[0].id.starts_with(&format!("socket:{address}/")) && posts[0].id.ends_with("-1"),
        "{}",
        posts[0].id
    );
    assert!(
        posts[3].id.ends_with("-3"),
        "line numbers count per connection: {}",
        posts[3].id
    );
    assert_ne!(posts[0].id.rsplit_once('/'), posts[3].id.rsplit_once('/'));
    assert_eq!(*served.lock().unwrap(), 2);
    assert_eq!(
        test.metrics.duplicates(),
        1,
        "the post repeated on the second connection"
    );
    assert_eq!(test.metrics.skipped(), 1, "the deleted status");
    assert_eq!(test.metrics.errors(ErrorKind::InvalidJson), 1);
    assert_eq!(
        test.metrics.errors(ErrorKind::InvalidRecord),
        1,
        "the overlong line"
    );
    // The feeder now closes every connection at once: retried with backoff.
    eventually(LIMIT, "empty connections counted", || {
        test.metrics.errors(ErrorKind::Closed) >= 2
    })
    .await;
    test.shutdown.cancel();
    task.await.unwrap().unwrap();
}

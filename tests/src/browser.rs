//! Headless Chromium (Debian's `chromium`), driven over the DevTools
//! protocol on a WebSocket: open a page, evaluate JavaScript in it, watch
//! for JavaScript dialogs (an `alert` means injected script ran), take a
//! screenshot.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{free_port, provided};

/// The Chromium binary: `$CHROMIUM_BIN`, or what
/// `deploy/local/ensure-chromium.sh` installs (Debian's `chromium`).
pub fn chromium_binary() -> PathBuf {
    PathBuf::from(provided("CHROMIUM_BIN", "ensure-chromium.sh"))
}

/// A headless Chromium process with one page; killed on drop.
pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The DevTools connection to a page.
pub struct Page {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Protocol events received so far (method and params).
    pub events: Vec<Value>,
}

impl Browser {
    /// Starts Chromium headless on `url` (window `width`×`height`) and
    /// connects to the page.
    pub async fn open(url: &str, width: u32, height: u32) -> (Browser, Page) {
        let port = free_port();
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(chromium_binary())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--remote-debugging-port={port}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromium_binary().display()));
        let browser = Browser {
            child,
            _profile: profile,
        };
        let list = format!("http://127.0.0.1:{port}/json/list");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let socket_url = loop {
            let found = match reqwest::get(&list).await {
                Ok(response) => response.json::<Vec<Value>>().await.ok().and_then(|pages| {
                    pages
                        .iter()
                        .find(|p| p["type"] == "page")
                        .and_then(|p| p["webSocketDebuggerUrl"].as_str().map(String::from))
                }),
                Err(_) => None,
            };
            if let Some(url) = found {
                break url;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Chromium did not offer a page to debug within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let (socket, _) = tokio_tungstenite::connect_async(socket_url.as_str())
            .await
            .unwrap();
        let mut page = Page {
            socket,
            next_id: 0,
            events: Vec::new(),
        };
        page.call("Page.enable", json!({})).await;
        page.call("Runtime.enable", json!({})).await;
        (browser, page)
    }
}

impl Page {
    /// Calls a DevTools method and returns its result (bounded at 30 s).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket
            .send(Message::Text(request.into()))
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("{method}: no answer within 30 s"))
                .expect("DevTools connection closed")
                .unwrap();
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(text.as_str()).unwrap();
            if value["id"] == id {
                assert!(value.get("error").is_none(), "{method}: {value}");
                return value["result"].clone();
            }
            if value.get("method").is_some() {
                self.events.push(value);
            }
        }
    }

    /// Evaluates `expression` in the page: its value (JSON), or the
    /// exception it threw.
    pub async fn try_eval(&mut self, expression: &str) -> Result<Value, Value> {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        match result.get("exceptionDetails") {
            Some(exception) => Err(exception.clone()),
            None => Ok(result["result"]["value"].clone()),
        }
    }

    /// Evaluates `expression` in the page and returns its value (JSON).
    pub async fn eval(&mut self, expression: &str) -> Value {
        self.try_eval(expression)
            .await
            .unwrap_or_else(|exception| panic!("{expression}: {exception}"))
    }

    /// Polls `expression` every 200 ms until it is `true` (an exception,
    /// e.g. while the page is still loading, counts as not yet); panics
    /// after `limit` with the last outcome.
    pub async fn wait_for(&mut self, expression: &str, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let outcome = self.try_eval(expression).await;
            if outcome == Ok(Value::Bool(true)) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not true within {limit:?}: {expression}: last outcome {outcome:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Events of the given method received so far.
    pub fn events_named(&self, method: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["method"] == method)
            .collect()
    }

    /// A PNG of the page as it is rendered now.
    pub async fn screenshot(&mut self) -> Vec<u8> {
        let result = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        base64_decode(result["data"].as_str().expect("screenshot data"))
    }
}

/// Standard base64 (the DevTools protocol's encoding of binary data).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        let produced = chunk.len() * 6 / 8;
        out.extend_from_slice(&n.to_be_bytes()[1..=produced]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode("aGVsbG8="), b"hello");
        assert_eq!(base64_decode("aGk="), b"hi");
        assert_eq!(base64_decode("YWJj"), b"abc");
    }
}

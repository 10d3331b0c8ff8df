//! Sending fired alerts: one task and one bounded queue per channel, so a
//! slow or failing endpoint delays only its own alerts, and the stream only
//! ever hands an alert over without waiting (a full queue drops it, logged
//! and counted). Each alert is tried `attempts` times with a doubling, jittered wait
//! (`weibostream_shared::retry::Backoff`).
//!
//! Message shapes and signatures follow each service's documentation:
//! - generic webhook: the [`Fired`] alert as JSON;
//! - Slack incoming webhook: `{"text": ...}` with `&`, `<`, `>` escaped;
//! - DingTalk robot: `{"msgtype":"text","text":{"content":...}}`; signed, the
//!   URL gets `timestamp` (ms) and `sign` = Base64(HMAC-SHA256(key = secret,
//!   message = "timestamp\nsecret")), URL-encoded; success is `errcode` 0;
//! - Feishu/Lark bot: `{"msg_type":"text","content":{"text":...}}`; signed,
//!   the body gets `timestamp` (s) and `sign` = Base64(HMAC-SHA256(key =
//!   "timestamp\nsecret", empty message)); success is `code` 0;
//! - WeCom group robot: `{"msgtype":"text","text":{"content":...}}`; success
//!   is `errcode` 0.
//!
//! Text messages, not markdown: post text is untrusted and must not turn
//! into links or mentions.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use weibostream_shared::config::InvalidKey;
use weibostream_shared::retry::Backoff;
use weibostream_shared::secret::Secret;

use super::{AlertKind, Fired};
use crate::config::{AlertChannel, AlertSettings, ChannelKind};
use crate::metrics::SinkMetrics;

/// A channel with its secrets read.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Its name.
    pub name: String,
    /// What the endpoint expects.
    pub kind: ChannelKind,
    /// The webhook URL.
    pub url: Secret,
    /// The signing secret, for DingTalk and Feishu.
    pub secret: Option<Secret>,
}

impl Channel {
    /// Reads a configured channel's secrets; the error names the key.
    pub fn read(index: usize, config: &AlertChannel) -> Result<Channel, InvalidKey> {
        let key = format!("alerts.channels[{index}]");
        Ok(Channel {
            name: config.name.clone(),
            kind: config.kind,
            url: (config.url.read()).map_err(|e| InvalidKey::new(format!("{key}.url"), e))?,
            secret: match &config.secret {
                Some(source) => Some(
                    source
                        .read()
                        .map_err(|e| InvalidKey::new(format!("{key}.secret"), e))?,
                ),
                None => None,
            },
        })
    }
}

/// The human-readable message: rule, counts, baseline, window, examples.
pub fn summary(fired: &Fired) -> String {
    let minutes = fired.window_s as f64 / 60.0;
    let mut text = format!(
        "weibostream alert: rule {} had {} matches in {} min ({} to {} UTC)",
        fired.rule,
        fired.matches,
        minutes,
        fired.window_start.format("%Y-%m-%d %H:%M"),
        fired.window_end.format("%H:%M"),
    );
    match (fired.kind, fired.baseline) {
        (AlertKind::Spike, Some(baseline)) => text.push_str(&format!(
            "; spike: baseline {baseline:.1}, factor {}",
            fired.spike_factor.unwrap_or_default()
        )),
        (_, baseline) => {
            text.push_str(&format!(
                "; threshold {}",
                fired.min_matches.unwrap_or_default()
            ));
            if let Some(baseline) = baseline {
                text.push_str(&format!(", baseline {baseline:.1}"));
            }
        }
    }
    for example in &fired.examples {
        text.push_str(&format!("\n- {}: {}", example.author, example.text));
        if let Some(url) = &example.url {
            text.push_str(&format!(" {url}"));
        }
    }
    text
}

fn hmac_sha256_base64(key: &[u8], message: &[u8]) -> Result<String, String> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .map_err(|_| "HMAC-SHA256 refused the key".to_string())?;
    mac.update(message);
    Ok(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// DingTalk's signature for `timestamp_ms`.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> Result<String, String> {
    hmac_sha256_base64(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    )
}

/// Feishu/Lark's signature for `timestamp_s`.
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> Result<String, String> {
    hmac_sha256_base64(format!("{timestamp_s}\n{secret}").as_bytes(), b"")
}

/// The URL and JSON body to send `fired` to `channel` at `now`.
pub fn request(
    channel: &Channel,
    fired: &Fired,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(reqwest::Url, Vec<u8>), String> {
    let mut url = reqwest::Url::parse(channel.url.expose())
        .map_err(|e| format!("channel {}: the URL does not parse: {e}", channel.name))?;
    let text = summary(fired);
    let body = match channel.kind {
        ChannelKind::Webhook => serde_json::to_value(fired).map_err(|e| e.to_string())?,
        ChannelKind::Slack => {
            let escaped = text
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            serde_json::json!({ "text": escaped })
        }
        ChannelKind::Dingtalk => {
            if let Some(secret) = &channel.secret {
                let timestamp = now.timestamp_millis();
                url.query_pairs_mut()
                    .append_pair("timestamp", &timestamp.to_string())
                    .append_pair("sign", &dingtalk_sign(secret.expose(), timestamp)?);
            }
            serde_json::json!({ "msgtype": "text", "text": { "content": text } })
        }
        ChannelKind::Feishu => {
            let mut body = serde_json::json!({ "msg_type": "text", "content": { "text": text } });
            if let Some(secret) = &channel.secret {
                let timestamp = now.timestamp();
                body["timestamp"] = timestamp.to_string().into();
                body["sign"] = feishu_sign(secret.expose(), timestamp)?.into();
            }
            body
        }
        ChannelKind::Wecom => {
            serde_json::json!({ "msgtype": "text", "text": { "content": text } })
        }
    };
    Ok((url, serde_json::to_vec(&body).map_err(|e| e.to_string())?))
}

/// Whether the endpoint took the message: a 2xx status and, for the chat
/// bots (which answer 200 to errors too), a zero error code.
pub fn accepted(kind: ChannelKind, status: u16, body: &[u8]) -> Result<(), String> {
    if !(200..300).contains(&status) {
        return Err(format!("HTTP status {status}"));
    }
    let fields: &[&str] = match kind {
        ChannelKind::Dingtalk | ChannelKind::Wecom => &["errcode"],
        // `StatusCode` in older Feishu answers.
        ChannelKind::Feishu => &["code", "StatusCode"],
        ChannelKind::Webhook | ChannelKind::Slack => return Ok(()),
    };
    let answer: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "the answer is not JSON".to_string())?;
    let code = fields
        .iter()
        .find_map(|field| answer.get(*field).and_then(serde_json::Value::as_i64));
    if code == Some(0) {
        return Ok(());
    }
    let message = ["errmsg", "msg", "StatusMessage"]
        .iter()
        .find_map(|field| answer.get(*field).and_then(serde_json::Value::as_str))
        .unwrap_or("");
    Err(match code {
        Some(code) => format!("refused: code {code}: {message}"),
        None => "the answer has no result code".to_string(),
    })
}

/// The per-channel delivery tasks and their queues.
pub struct Dispatcher {
    queues: Vec<(String, mpsc::Sender<Arc<Fired>>)>,
    tasks: JoinSet<()>,
    metrics: SinkMetrics,
}

impl Dispatcher {
    /// Starts one task per channel. No channels: alerts are only recorded.
    pub fn start(
        channels: Vec<Channel>,
        settings: &AlertSettings,
        metrics: SinkMetrics,
    ) -> Result<Dispatcher, String> {
        let mut queues = Vec::new();
        let mut tasks = JoinSet::new();
        if channels.is_empty() {
            // No HTTP client: building one loads TLS roots and code a sink
            // that only records alerts never uses (~1 MiB resident).
            return Ok(Dispatcher {
                queues,
                tasks,
                metrics,
            });
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms))
            .connect_timeout(Duration::from_millis(settings.timeout_ms))
            .build()
            .map_err(|e| format!("alerts: cannot build the HTTP client: {e}"))?;
        for channel in channels {
            let (sender, receiver) = mpsc::channel(settings.queue_len);
            metrics.alert_delivered(&channel.name, "sent", 0);
            queues.push((channel.name.clone(), sender));
            tasks.spawn(run_channel(
                channel,
                receiver,
                client.clone(),
                settings.clone(),
                metrics.clone(),
            ));
        }
        Ok(Dispatcher {
            queues,
            tasks,
            metrics,
        })
    }

    /// Queues `fired` for the named channels (all when `None`); never waits.
    pub fn send(&self, fired: Arc<Fired>, names: Option<&[String]>) {
        for (name, queue) in &self.queues {
            if names.is_some_and(|names| !names.contains(name)) {
                continue;
            }
            if queue.try_send(fired.clone()).is_err() {
                self.metrics.alert_delivered(name, "dropped", 1);
                tracing::error!(channel = %name, rule = %fired.rule,
                    "alert dropped: the channel's queue is full (its endpoint is slow or failing)");
            }
        }
    }

    /// Closes the queues and waits at most `deadline` for what is queued.
    pub async fn finish(mut self, deadline: Duration) {
        self.queues.clear();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(deadline, all).await.is_err() {
            tracing::warn!("alert deliveries still running at shutdown were abandoned");
            self.tasks.abort_all();
        }
    }
}

async fn run_channel(
    channel: Channel,
    mut receiver: mpsc::Receiver<Arc<Fired>>,
    client: reqwest::Client,
    settings: AlertSettings,
    metrics: SinkMetrics,
) {
    while let Some(fired) = receiver.recv().await {
        let mut backoff = Backoff::new(
            Duration::from_millis(settings.retry_initial_ms),
            Duration::from_millis(settings.retry_max_ms),
        );
        for attempt in 1..=settings.attempts {
            match send_once(&client, &channel, &fired).await {
                Ok(()) => {
                    metrics.alert_delivered(&channel.name, "sent", 1);
                    tracing::info!(channel = %channel.name, rule = %fired.rule, attempt, "alert sent");
                    break;
                }
                Err(error) if attempt < settings.attempts => {
                    let wait = backoff.next_delay(None);
                    tracing::warn!(channel = %channel.name, rule = %fired.rule, attempt, %error,
                        retry_in_ms = wait.as_millis() as u64, "alert not delivered; retrying");
                    // Not cut short by shutdown: `Dispatcher::finish` gives
                    // queued alerts their deadline, retries included.
                    tokio::time::sleep(wait).await;
                }
                Err(error) => {
                    metrics.alert_delivered(&channel.name, "failed", 1);
                    tracing::error!(channel = %channel.name, rule = %fired.rule, attempts = attempt, %error,
                        "alert given up");
                }
            }
        }
    }
}

async fn send_once(
    client: &reqwest::Client,
    channel: &Channel,
    fired: &Fired,
) -> Result<(), String> {
    let (url, body) = request(channel, fired, chrono::Utc::now())?;
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        // Without the URL: it holds the channel's token.
        .map_err(|e| format!("request failed: {}", e.without_url()))?;
    let status = response.status().as_u16();
    let answer = response
        .bytes()
        .await
        .map_err(|e| format!("reading the answer: {}", e.without_url()))?;
    accepted(channel.kind, status, &answer)
}

#[cfg(test)]
mod tests;

//! Deliveries against real local HTTP receivers that check each service's
//! documented signature and message shape the way the service does.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::post;
use base64::Engine as _;
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::*;
use crate::alerts::{AlertKind, Example, Fired};
use crate::metrics::DeliveryLabels;

/// How a receiver answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Checks the message as the named service does.
    Bot(ChannelKind),
    /// Answers 500.
    Fail,
    /// Never answers.
    Hang,
}

/// What a receiver got: query, body, when.
type Received = Arc<Mutex<Vec<(HashMap<String, String>, Value, Instant)>>>;

#[derive(Clone)]
struct Receiver {
    mode: Mode,
    secret: Option<String>,
    got: Received,
}

fn hmac_b64(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// What the service would answer (status, body).
fn verdict(receiver: &Receiver, query: &HashMap<String, String>, body: &Value) -> (u16, Value) {
    let now = Utc::now();
    let Mode::Bot(kind) = receiver.mode else {
        return (500, json!({}));
    };
    let text_ok = |v: &Value| {
        v.as_str()
            .is_some_and(|t| t.contains("weibostream alert: rule ccb-rise"))
    };
    match kind {
        ChannelKind::Dingtalk => {
            let shape = body["msgtype"] == "text" && text_ok(&body["text"]["content"]);
            let signed = match &receiver.secret {
                None => true,
                Some(secret) => {
                    let ts: i64 = query["timestamp"].parse().unwrap();
                    let fresh = (now.timestamp_millis() - ts).abs() < 3_600_000;
                    let expected =
                        hmac_b64(secret.as_bytes(), format!("{ts}\n{secret}").as_bytes());
                    fresh && query.get("sign") == Some(&expected)
                }
            };
            match (shape, signed) {
                (true, true) => (200, json!({"errcode": 0, "errmsg": "ok"})),
                (_, false) => (200, json!({"errcode": 310000, "errmsg": "sign not match"})),
                (false, _) => (200, json!({"errcode": 40035, "errmsg": "bad message"})),
            }
        }
        ChannelKind::Feishu => {
            let shape = body["msg_type"] == "text" && text_ok(&body["content"]["text"]);
            let signed = match &receiver.secret {
                None => true,
                Some(secret) => {
                    let ts: i64 = body["timestamp"].as_str().unwrap().parse().unwrap();
                    let fresh = (now.timestamp() - ts).abs() < 3600;
                    let expected = hmac_b64(format!("{ts}\n{secret}").as_bytes(), b"");
                    fresh && body["sign"].as_str() == Some(expected.as_str())
                }
            };
            match (shape, signed) {
                (true, true) => (200, json!({"code": 0, "msg": "success", "data": {}})),
                (_, false) => (200, json!({"code": 19021, "msg": "sign match fail"})),
                (false, _) => (200, json!({"code": 9499, "msg": "Bad Request"})),
            }
        }
        ChannelKind::Wecom => {
            let shape = query.contains_key("key")
                && body["msgtype"] == "text"
                && text_ok(&body["text"]["content"]);
            if shape {
                (200, json!({"errcode": 0, "errmsg": "ok"}))
            } else {
                (
                    200,
                    json!({"errcode": 40008, "errmsg": "invalid message type"}),
                )
            }
        }
        ChannelKind::Slack => {
            let only_text =
                body.as_object().is_some_and(|o| o.len() == 1) && text_ok(&body["text"]);
            let escaped = !body["text"].as_str().unwrap().contains('<');
            if only_text && escaped {
                (200, json!("ok"))
            } else {
                (400, json!("invalid_payload"))
            }
        }
        ChannelKind::Webhook => {
            let shape = body["rule"] == "ccb-rise"
                && body["kind"] == "spike"
                && body["matches"] == 42
                && body["baseline"] == 10.5
                && body["examples"][0]["text"].is_string();
            if shape {
                (200, json!({}))
            } else {
                (400, json!({}))
            }
        }
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, String) {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    receiver
        .got
        .lock()
        .unwrap()
        .push((query.clone(), body.clone(), Instant::now()));
    if receiver.mode == Mode::Hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let (status, answer) = verdict(&receiver, &query, &body);
    (
        axum::http::StatusCode::from_u16(status).unwrap(),
        answer.to_string(),
    )
}

/// Starts a receiver on a free port; returns its state and base URL.
async fn start(mode: Mode, secret: Option<&str>) -> (Receiver, String) {
    let receiver = Receiver {
        mode,
        secret: secret.map(str::to_string),
        got: Arc::default(),
    };
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (receiver, format!("http://{address}/hook"))
}

fn fired() -> Fired {
    let start = Utc::now() - chrono::Duration::minutes(10);
    Fired {
        rule: "ccb-rise".into(),
        kind: AlertKind::Spike,
        window_start: start,
        window_end: start + chrono::Duration::minutes(10),
        window_s: 600,
        matches: 42,
        baseline: Some(10.5),
        min_matches: None,
        spike_factor: Some(3.0),
        fired_at: Utc::now(),
        examples: vec![Example {
            id: "weibo:1".into(),
            author: "股民<b>".into(),
            text: "建设银行 涨停 <script>alert(1)</script> <!channel>".into(),
            url: Some("https://weibo.com/1/abc".into()),
        }],
    }
}

fn channel(name: &str, kind: ChannelKind, url: &str, secret: Option<&str>) -> Channel {
    Channel {
        name: name.into(),
        kind,
        url: Secret::new(url),
        secret: secret.map(Secret::new),
    }
}

fn settings() -> AlertSettings {
    AlertSettings {
        timeout_ms: 500,
        attempts: 3,
        retry_initial_ms: 20,
        retry_max_ms: 50,
        ..AlertSettings::default()
    }
}

fn delivered(metrics: &SinkMetrics, channel: &str, outcome: &'static str) -> u64 {
    metrics
        .alert_deliveries
        .get_or_create(&DeliveryLabels {
            channel: channel.into(),
            outcome,
        })
        .get()
}

#[tokio::test]
async fn each_bot_gets_its_documented_shape_and_signature() {
    let (dingtalk, dingtalk_url) = start(Mode::Bot(ChannelKind::Dingtalk), Some("SECding")).await;
    let (feishu, feishu_url) = start(Mode::Bot(ChannelKind::Feishu), Some("feishu-secret")).await;
    let (wecom, wecom_url) = start(Mode::Bot(ChannelKind::Wecom), None).await;
    let (slack, slack_url) = start(Mode::Bot(ChannelKind::Slack), None).await;
    let (webhook, webhook_url) = start(Mode::Bot(ChannelKind::Webhook), None).await;
    let channels = vec![
        channel(
            "ding",
            ChannelKind::Dingtalk,
            &format!("{dingtalk_url}?access_token=t0k"),
            Some("SECding"),
        ),
        channel(
            "lark",
            ChannelKind::Feishu,
            &feishu_url,
            Some("feishu-secret"),
        ),
        channel(
            "wecom",
            ChannelKind::Wecom,
            &format!("{wecom_url}?key=k3y"),
            None,
        ),
        channel("slack", ChannelKind::Slack, &slack_url, None),
        channel("hook", ChannelKind::Webhook, &webhook_url, None),
    ];
    let metrics = SinkMetrics::default();
    let dispatcher = Dispatcher::start(channels, &settings(), metrics.clone()).unwrap();
    dispatcher.send(Arc::new(fired()), None);
    dispatcher.finish(Duration::from_secs(10)).await;
    for (name, receiver) in [
        ("ding", &dingtalk),
        ("lark", &feishu),
        ("wecom", &wecom),
        ("slack", &slack),
        ("hook", &webhook),
    ] {
        assert_eq!(delivered(&metrics, name, "sent"), 1, "{name}");
        assert_eq!(
            receiver.got.lock().unwrap().len(),
            1,
            "{name}: sent once, accepted at once"
        );
    }
    let (query, _, _) = &dingtalk.got.lock().unwrap()[0];
    assert_eq!(
        query["access_token"], "t0k",
        "the robot's own query is kept"
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused_retried_and_given_up() {
    let (dingtalk, dingtalk_url) = start(Mode::Bot(ChannelKind::Dingtalk), Some("right")).await;
    let (feishu, feishu_url) = start(Mode::Bot(ChannelKind::Feishu), Some("right")).await;
    let channels = vec![
        channel("ding", ChannelKind::Dingtalk, &dingtalk_url, Some("wrong")),
        channel("lark", ChannelKind::Feishu, &feishu_url, Some("wrong")),
    ];
    let metrics = SinkMetrics::default();
    let dispatcher = Dispatcher::start(channels, &settings(), metrics.clone()).unwrap();
    dispatcher.send(
        Arc::new(fired()),
        Some(&["ding".to_string(), "lark".to_string()][..]),
    );
    dispatcher.finish(Duration::from_secs(10)).await;
    for (name, receiver) in [("ding", &dingtalk), ("lark", &feishu)] {
        assert_eq!(delivered(&metrics, name, "sent"), 0, "{name}");
        assert_eq!(delivered(&metrics, name, "failed"), 1, "{name}");
        assert_eq!(
            receiver.got.lock().unwrap().len(),
            3,
            "{name}: tried `attempts` times"
        );
    }
}

#[tokio::test]
async fn a_hanging_or_failing_endpoint_holds_up_neither_the_caller_nor_other_channels() {
    let (hang, hang_url) = start(Mode::Hang, None).await;
    let (fail, fail_url) = start(Mode::Fail, None).await;
    let (good, good_url) = start(Mode::Bot(ChannelKind::Webhook), None).await;
    let channels = vec![
        channel("hang", ChannelKind::Webhook, &hang_url, None),
        channel("fail", ChannelKind::Webhook, &fail_url, None),
        channel("good", ChannelKind::Webhook, &good_url, None),
    ];
    let metrics = SinkMetrics::default();
    let dispatcher = Dispatcher::start(channels, &settings(), metrics.clone()).unwrap();
    let sent_at = Instant::now();
    for _ in 0..5 {
        dispatcher.send(Arc::new(fired()), None);
    }
    let handing_over = sent_at.elapsed();
    // The stream's share: handing five alerts to three channels.
    assert!(
        handing_over < Duration::from_millis(20),
        "send took {handing_over:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while good.got.lock().unwrap().len() < 5 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let good_got: Vec<Duration> = good
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|(_, _, at)| *at - sent_at)
        .collect();
    assert_eq!(good_got.len(), 5);
    // The hanging endpoint times out at 500 ms per try; the good one must not wait for it.
    assert!(
        good_got[4] < Duration::from_millis(400),
        "good channel waited: {good_got:?}"
    );
    eprintln!("handing over 5 alerts: {handing_over:?}; good channel got them after {good_got:?}");
    dispatcher.finish(Duration::from_millis(300)).await;
    assert!(!fail.got.lock().unwrap().is_empty());
    assert!(!hang.got.lock().unwrap().is_empty());
    assert_eq!(delivered(&metrics, "good", "sent"), 5);
}

#[test]
fn signatures_match_the_documented_recipes() {
    // DingTalk: key = secret, message = "timestamp\nsecret".
    assert_eq!(
        dingtalk_sign("SEC1", 1_700_000_000_000).unwrap(),
        hmac_b64(b"SEC1", b"1700000000000\nSEC1")
    );
    // Feishu: key = "timestamp\nsecret", empty message.
    assert_eq!(
        feishu_sign("s", 1_700_000_000).unwrap(),
        hmac_b64(b"1700000000\ns", b"")
    );
    let ding = channel(
        "d",
        ChannelKind::Dingtalk,
        "https://oapi.dingtalk.com/robot/send?access_token=x",
        Some("SEC1"),
    );
    let now = chrono::DateTime::from_timestamp_millis(1_700_000_000_000).unwrap();
    let (url, _) = request(&ding, &fired(), now).unwrap();
    let sign = hmac_b64(b"SEC1", b"1700000000000\nSEC1");
    let encoded: String = sign
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    assert_eq!(
        url.as_str(),
        format!(
            "https://oapi.dingtalk.com/robot/send?access_token=x&timestamp=1700000000000&sign={encoded}"
        )
    );
}

#[test]
fn answers_are_judged_by_status_and_code() {
    assert!(
        accepted(
            ChannelKind::Dingtalk,
            200,
            br#"{"errcode":0,"errmsg":"ok"}"#
        )
        .is_ok()
    );
    let refused = accepted(
        ChannelKind::Dingtalk,
        200,
        br#"{"errcode":310000,"errmsg":"sign not match"}"#,
    );
    assert_eq!(refused.unwrap_err(), "refused: code 310000: sign not match");
    assert!(
        accepted(
            ChannelKind::Feishu,
            200,
            br#"{"StatusCode":0,"StatusMessage":"success"}"#
        )
        .is_ok()
    );
    assert!(
        accepted(
            ChannelKind::Feishu,
            200,
            br#"{"code":19021,"msg":"sign match fail"}"#
        )
        .is_err()
    );
    assert!(accepted(ChannelKind::Wecom, 200, b"<html>").is_err());
    assert_eq!(
        accepted(ChannelKind::Slack, 500, b"").unwrap_err(),
        "HTTP status 500"
    );
    assert!(accepted(ChannelKind::Slack, 200, b"ok").is_ok());
}

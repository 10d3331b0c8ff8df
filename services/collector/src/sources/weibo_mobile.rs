//! The Weibo mobile web API (m.weibo.cn) as the keyword crawlers read it:
//! `api/container/getIndex` pages of cards, `statuses/extend` for long
//! texts, a logged-in cookie, and the etiquette Weibo demands. One
//! [`MobileClient`] is shared by `weibo_search` and `weibo_user`: one
//! request budget, one gap between requests, and one pause when Weibo
//! refuses us, since Weibo limits and blocks per cookie and per IP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Failure;
use super::http::{self, Response};
use crate::config::WeiboMobileSettings;
use crate::metrics::{ErrorKind, SourceMetrics};
use weibostream_shared::retry::{Backoff, Pacer, sleep_until};
use weibostream_shared::secret::Secret;

/// `card_type` of a card carrying an `mblog`.
const MBLOG_CARD: u64 = 9;

/// Why a request to the mobile API gave no page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MobileError {
    /// Retry after the usual backoff (5xx, timeouts, bad bodies).
    Transient(Failure),
    /// Weibo refused us; the client is paused until the returned time.
    Refused(String),
    /// Shutdown came while waiting for the request's turn.
    Stopped,
}

/// One `getIndex` page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexPage {
    /// The page's mblogs in the order Weibo sent them, from top-level cards
    /// and from cards nested in a card's `card_group`.
    pub mblogs: Vec<Value>,
}

/// Where the client stands with Weibo.
#[derive(Debug)]
struct Refusals {
    backoff: Backoff,
    /// Paused until then; `None` while Weibo answers.
    until: Option<Instant>,
}

/// The shared mobile API client.
pub struct MobileClient {
    settings: WeiboMobileSettings,
    cookie: Secret,
    client: reqwest::Client,
    pacer: tokio::sync::Mutex<Pacer>,
    refusals: Mutex<Refusals>,
    users: Mutex<Vec<Arc<SourceMetrics>>>,
}

impl MobileClient {
    /// A client for `settings`, sending `cookie`.
    pub fn new(settings: WeiboMobileSettings, cookie: Secret) -> Result<Self, String> {
        let timeout = Duration::from_millis(settings.request_timeout_ms);
        // Redirects are not followed: a redirect to the passport login is how
        // Weibo says the cookie is missing or expired.
        let client = reqwest::Client::builder()
            .user_agent(http::USER_AGENT)
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| format!("cannot build an HTTP client: {error}"))?;
        let budget_gap = Pacer::interval_for_budget(settings.requests_per_hour);
        let gap = budget_gap.max(Duration::from_millis(settings.min_gap_ms));
        let backoff = Backoff::new(
            Duration::from_millis(settings.refused_initial_backoff_ms),
            Duration::from_millis(settings.refused_max_backoff_ms),
        );
        Ok(MobileClient {
            pacer: tokio::sync::Mutex::new(Pacer::at_least(gap, settings.gap_jitter_percent)),
            settings,
            cookie,
            client,
            refusals: Mutex::new(Refusals {
                backoff,
                until: None,
            }),
            users: Mutex::new(Vec::new()),
        })
    }

    /// Registers a source's metrics, marked paused while the client is.
    pub fn add_user(&self, metrics: Arc<SourceMetrics>) {
        if let Ok(mut users) = self.users.lock() {
            users.push(metrics);
        }
    }

    /// Whether long texts are fetched in full.
    pub fn fetch_long_text(&self) -> bool {
        self.settings.fetch_long_text
    }

    /// One page of a container: a search (`100103type=61&q=...`) or a
    /// user's posts (`107603<uid>`).
    pub async fn index_page(
        &self,
        containerid: &str,
        extra: &[(&str, &str)],
        page: u32,
        shutdown: &CancellationToken,
    ) -> Result<IndexPage, MobileError> {
        let mut query = format!("containerid={}", percent_encode(containerid));
        for (key, value) in extra {
            query.push_str(&format!("&{key}={}", percent_encode(value)));
        }
        if page > 1 {
            query.push_str(&format!("&page={page}"));
        }
        let url = format!(
            "{}/api/container/getIndex?{query}",
            self.settings.base_url.trim_end_matches('/')
        );
        let what = "GET /api/container/getIndex";
        let body = self.get(&url, what, shutdown).await?;
        Ok(IndexPage {
            mblogs: mblogs(&body),
        })
    }

    /// The full HTML text of a long post, from `/statuses/extend`.
    pub async fn long_text(
        &self,
        id: &str,
        shutdown: &CancellationToken,
    ) -> Result<String, MobileError> {
        let url = format!(
            "{}/statuses/extend?id={}",
            self.settings.base_url.trim_end_matches('/'),
            percent_encode(id)
        );
        let what = "GET /statuses/extend";
        let body = self.get(&url, what, shutdown).await?;
        match body.pointer("/data/longTextContent") {
            Some(Value::String(text)) => Ok(text.clone()),
            _ => Err(MobileError::Transient(Failure::new(
                ErrorKind::InvalidJson,
                format!("{what}: no data.longTextContent"),
            ))),
        }
    }

    /// Waits out a pause and the gap between requests, sends one request and
    /// reads its JSON body; a refusal pauses the client.
    async fn get(
        &self,
        url: &str,
        what: &str,
        shutdown: &CancellationToken,
    ) -> Result<Value, MobileError> {
        let paused_until = self.refusals.lock().ok().and_then(|r| r.until);
        if let Some(until) = paused_until
            && !sleep_until(until, shutdown).await
        {
            return Err(MobileError::Stopped);
        }
        {
            let mut pacer = self.pacer.lock().await;
            if !pacer.wait(shutdown).await {
                return Err(MobileError::Stopped);
            }
        }
        let request = self
            .client
            .get(url)
            .header("Cookie", self.cookie.expose())
            .header("Accept", "application/json, text/plain, */*")
            .header("X-Requested-With", "XMLHttpRequest")
            .header("MWeibo-Pwa", "1");
        let response = http::fetch(request, what)
            .await
            .map_err(MobileError::Transient)?;
        match self.read(response, what) {
            Ok(body) => {
                self.answered();
                Ok(body)
            }
            Err(Reply::Failed(failure)) => Err(MobileError::Transient(failure)),
            Err(Reply::Refused(why)) => Err(MobileError::Refused(self.refused(&why))),
        }
    }

    fn read(&self, response: Response, what: &str) -> Result<Value, Reply> {
        let status = response.status;
        if status == StatusCode::IM_A_TEAPOT {
            return Err(Reply::Refused(format!(
                "{what}: HTTP 418: Weibo blocks this IP address (it takes hours to clear); wait, lower weibo_mobile.requests_per_hour or raise weibo_mobile.min_gap_ms"
            )));
        }
        if status.as_u16() == 432 {
            return Err(Reply::Refused(format!(
                "{what}: HTTP 432: Weibo wants a logged-in cookie; {}",
                self.cookie_advice()
            )));
        }
        if status.is_redirection() {
            let location = response
                .headers
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            if is_login(location) {
                return Err(Reply::Refused(format!(
                    "{what}: redirected to the Weibo login; the cookie is missing or expired; {}",
                    self.cookie_advice()
                )));
            }
            return Err(Reply::Failed(http::status_failure(status, &[], what)));
        }
        if !status.is_success() {
            return Err(Reply::Failed(http::status_failure(
                status,
                &response.body,
                what,
            )));
        }
        let body = http::json(&response.body, what).map_err(Reply::Failed)?;
        let ok = body.get("ok").and_then(|ok| match ok {
            Value::Number(number) => number.as_i64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        });
        if ok == Some(-100) {
            return Err(Reply::Refused(format!(
                "{what}: Weibo answered ok:-100 (login required); the cookie is missing or expired; {}",
                self.cookie_advice()
            )));
        }
        Ok(body)
    }

    /// Where to put a fresh cookie.
    fn cookie_advice(&self) -> String {
        let place = if self.settings.cookie_file.as_os_str().is_empty() {
            format!(
                "the environment variable {} (weibo_mobile.cookie_env)",
                self.settings.cookie_env
            )
        } else {
            format!(
                "the file {} (weibo_mobile.cookie_file)",
                self.settings.cookie_file.display()
            )
        };
        format!(
            "log in at https://m.weibo.cn in a browser, copy the request's Cookie header (it holds SUB=...) into {place} and restart the collector"
        )
    }

    /// Pauses the client after a refusal; logs once per run of refusals.
    /// Returns the message for the caller.
    fn refused(&self, why: &str) -> String {
        let Ok(mut refusals) = self.refusals.lock() else {
            return why.to_owned();
        };
        let first = refusals.backoff.attempt() == 0;
        let delay = refusals.backoff.next_delay(None);
        refusals.until = Some(Instant::now() + delay);
        drop(refusals);
        let resume_at = chrono::Utc::now() + chrono::TimeDelta::from_std(delay).unwrap_or_default();
        let resume_at = resume_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if first {
            tracing::error!(
                source = "weibo_mobile",
                pause_ms = delay.as_millis() as u64,
                "Weibo refused us, pausing weibo_search and weibo_user until {resume_at} (then backing off up to weibo_mobile.refused_max_backoff_ms): {why}"
            );
        } else {
            tracing::debug!(
                source = "weibo_mobile",
                pause_ms = delay.as_millis() as u64,
                "Weibo still refuses us; next try at {resume_at}"
            );
        }
        let status = format!("paused until {resume_at}: {why}");
        for user in self.users() {
            user.add_error(ErrorKind::Refused);
            user.set_paused(Some(status.clone()));
        }
        status
    }

    /// Weibo answered: the pause, if any, is over.
    fn answered(&self) {
        let Ok(mut refusals) = self.refusals.lock() else {
            return;
        };
        let was_paused = refusals.until.take().is_some();
        refusals.backoff.reset();
        drop(refusals);
        if was_paused {
            tracing::info!(
                source = "weibo_mobile",
                "Weibo answers again; weibo_search and weibo_user resume"
            );
            for user in self.users() {
                user.set_paused(None);
            }
        }
    }

    fn users(&self) -> Vec<Arc<SourceMetrics>> {
        self.users.lock().map(|u| u.clone()).unwrap_or_default()
    }
}

enum Reply {
    Failed(Failure),
    Refused(String),
}

/// A redirect target that is Weibo's login.
fn is_login(location: &str) -> bool {
    location.contains("passport.weibo")
        || location.contains("/login")
        || location.contains("signin")
}

/// The mblogs of a `getIndex` body, top-level and nested in `card_group`s,
/// in the order sent. `{"ok":0}` and bodies without cards have none.
pub fn mblogs(body: &Value) -> Vec<Value> {
    let mut found = Vec::new();
    if let Some(Value::Array(cards)) = body.pointer("/data/cards") {
        collect_cards(cards, &mut found, 0);
    }
    found
}

fn collect_cards(cards: &[Value], found: &mut Vec<Value>, depth: usize) {
    for card in cards {
        if let Some(mblog) = card.get("mblog").filter(|m| m.is_object()) {
            let card_type = card.get("card_type").and_then(|t| match t {
                Value::Number(number) => number.as_u64(),
                Value::String(text) => text.trim().parse().ok(),
                _ => None,
            });
            if card_type.is_none_or(|t| t == MBLOG_CARD) {
                found.push(mblog.clone());
            }
        }
        // Search nests result cards in a card's `card_group`; two levels are all Weibo uses.
        if depth < 2
            && let Some(Value::Array(group)) = card.get("card_group")
        {
            collect_cards(group, found, depth + 1);
        }
    }
}

/// A post id of an mblog: `id`, else `mid`, as a number.
pub fn mblog_id(mblog: &Value) -> Option<u64> {
    ["id", "mid"].iter().find_map(|key| match mblog.get(key)? {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    })
}

/// Percent-encodes everything but RFC 3986's unreserved characters (a
/// space becomes `%20`, which Weibo's search reads as AND).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn mblogs_from_cards_and_card_groups() {
        let body = json!({"ok": 1, "data": {"cards": [
            {"card_type": 9, "mblog": {"id": "1"}},
            {"card_type": 11, "card_group": [
                {"card_type": 9, "mblog": {"id": "2"}},
                {"card_type": 4, "desc": "not a post"},
                {"card_type": "9", "mblog": {"id": "3"}}
            ]},
            {"card_type": 58, "mblog": {"id": "ad"}},
            {"card_type": 9, "mblog": null}
        ], "cardlistInfo": {"page": 2}}});
        let ids: Vec<_> = mblogs(&body).iter().map(|m| m["id"].clone()).collect();
        assert_eq!(ids, [json!("1"), json!("2"), json!("3")]);
        assert!(mblogs(&json!({"ok": 0, "msg": "这里还没有内容"})).is_empty());
        assert_eq!(
            mblog_id(&json!({"id": "4900000000000001"})),
            Some(4900000000000001)
        );
        assert_eq!(mblog_id(&json!({"mid": 7})), Some(7));
        assert_eq!(mblog_id(&json!({"bid": "Nabc"})), None);
    }

    #[test]
    fn encodes_containerids_and_queries() {
        assert_eq!(
            percent_encode("100103type=61&q=建设 涨"),
            "100103type%3D61%26q%3D%E5%BB%BA%E8%AE%BE%20%E6%B6%A8"
        );
        assert!(is_login("https://passport.weibo.cn/signin/login?r=x"));
        assert!(!is_login("https://m.weibo.cn/api/container/getIndex"));
    }
}

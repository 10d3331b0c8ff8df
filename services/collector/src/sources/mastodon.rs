//! Mastodon: statuses of one instance's public timeline, polled over REST
//! with `since_id` (or streamed, see [`super::mastodon_stream`], when a token
//! is configured). Status ids are unique per instance only, hence post ids
//! `mastodon:<host>/<status id>`.

use std::cmp::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use weibostream_shared::Post;

pub use super::mastodon_status::normalize_status;

use super::http::{self, Response};
use super::poll::{self, Polled, Poller};
use super::{Failure, FetchError, SeenIds, SourceContext, SourceError};
use crate::config::{MastodonInstance, MastodonSettings};
use crate::metrics::ErrorKind;
use weibostream_shared::retry::Pacer;
use weibostream_shared::secret::Secret;

/// What a Mastodon source saves after each acknowledged batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MastodonCursor {
    /// Newest status id published.
    pub since_id: Option<String>,
}

/// One configured instance.
pub struct MastodonSource {
    pub(super) settings: MastodonSettings,
    pub(super) instance: MastodonInstance,
    /// `host[:port]`, the namespace of the instance's status ids.
    pub(super) host: String,
    pub(super) index: usize,
    pub(super) token: Option<Secret>,
    pub(super) client: reqwest::Client,
}

impl MastodonSource {
    /// A source for `settings.instances[index]`, with its token if any.
    pub fn new(
        settings: &MastodonSettings,
        index: usize,
        token: Option<Secret>,
    ) -> Result<Self, String> {
        let instance = settings
            .instances
            .get(index)
            .cloned()
            .ok_or_else(|| format!("mastodon.instances[{index}]: no such instance"))?;
        let timeout = Duration::from_millis(settings.request_timeout_ms);
        Ok(MastodonSource {
            host: crate::live_validate::instance_key(&instance.base_url),
            client: http::client(Some(timeout), timeout)?,
            settings: settings.clone(),
            instance,
            index,
            token,
        })
    }

    /// `mastodon:<host>`: the source's name in logs, metrics and cursor files.
    pub fn name(&self) -> String {
        format!("mastodon:{}", self.host)
    }

    /// Whether it streams ([`super::mastodon_stream::run`]) rather than
    /// polls: a token is configured and streaming is on.
    pub fn streams(&self) -> bool {
        self.token.is_some() && self.instance.streaming
    }

    /// Polls the public timeline over REST until shutdown.
    pub async fn run(self, context: SourceContext) -> Result<(), SourceError> {
        let since_id = context
            .load_cursor::<MastodonCursor>()?
            .and_then(|c| c.since_id);
        let interval = Duration::from_millis(self.settings.poll_interval_ms);
        tracing::info!(source = %context.name, ?since_id, "polling the public timeline");
        let timeline = PublicTimeline {
            pacer: Pacer::new(interval, self.settings.poll_jitter_percent),
            seen: SeenIds::new(self.settings.dedup_capacity),
            since_id,
            source: self,
        };
        poll::run(timeline, &context).await
    }

    /// Up to `max_pages_per_poll` requests walking back from the newest status to `since_id`.
    pub(super) async fn poll(
        &self,
        pacer: &mut Pacer,
        context: &SourceContext,
        since_id: Option<&str>,
    ) -> Result<Option<Vec<Value>>, FetchError> {
        let mut collected = Vec::new();
        let mut max_id: Option<String> = None;
        for page in 1..=self.settings.max_pages_per_poll {
            if !pacer.wait(&context.shutdown).await {
                return Ok(None);
            }
            let statuses = self.request(since_id, max_id.as_deref()).await?;
            context.metrics.add_fetched(statuses.len() as u64);
            let full = statuses.len() >= self.settings.page_size as usize;
            let oldest = statuses
                .iter()
                .filter_map(|status| status.get("id")?.as_str())
                .min_by(|a, b| compare_ids(a, b))
                .map(str::to_owned);
            collected.extend(statuses);
            let (Some(since), Some(oldest), true) = (since_id, oldest, full) else {
                break;
            };
            if page == self.settings.max_pages_per_poll {
                tracing::warn!(source = %context.name, pages = page, since_id = since,
                    "more new statuses than mastodon.max_pages_per_poll pages hold; older ones are skipped");
            }
            // Mastodon's max_id is exclusive.
            max_id = Some(oldest);
        }
        Ok(Some(collected))
    }

    async fn request(
        &self,
        since_id: Option<&str>,
        max_id: Option<&str>,
    ) -> Result<Vec<Value>, FetchError> {
        let url = format!(
            "{}/api/v1/timelines/public",
            self.instance.base_url.trim_end_matches('/')
        );
        let mut query = vec![("limit", self.settings.page_size.to_string())];
        query.extend(since_id.map(|id| ("since_id", id.to_owned())));
        query.extend(max_id.map(|id| ("max_id", id.to_owned())));
        let mut request = self.client.get(&url).query(&query);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        let what = format!("GET {url}");
        let response = http::fetch(request, &what).await?;
        self.check(&response, &what)?;
        match http::json(&response.body, &what)? {
            Value::Array(statuses) => Ok(statuses),
            other => Err(Failure::new(
                ErrorKind::InvalidJson,
                format!(
                    "{what}: expected an array of statuses, got {}",
                    crate::weibo::json_kind(&other)
                ),
            )
            .into()),
        }
    }

    /// Maps a non-2xx response to an error: 401 is fatal, 429 waits for the reset.
    pub(super) fn check(&self, response: &Response, what: &str) -> Result<(), FetchError> {
        match response.status {
            status if status.is_success() => Ok(()),
            StatusCode::UNAUTHORIZED => Err(FetchError::Fatal(self.auth_message(response))),
            StatusCode::TOO_MANY_REQUESTS => {
                let reset = rate_limit_reset(&response.headers, Utc::now());
                let mut failure = Failure::new(
                    ErrorKind::RateLimited,
                    format!(
                        "{what}: HTTP 429 rate limited{}",
                        reset
                            .map(|d| format!(", resets in {} s", d.as_secs()))
                            .unwrap_or_default()
                    ),
                );
                failure.retry_after = reset;
                Err(failure.into())
            }
            status => Err(http::status_failure(status, &response.body, what).into()),
        }
    }

    fn auth_message(&self, response: &Response) -> String {
        let detail = serde_json::from_slice::<Value>(&response.body)
            .ok()
            .and_then(|body| body.get("error")?.as_str().map(str::to_owned))
            .unwrap_or_default();
        let key = format!("mastodon.instances[{}]", self.index);
        let fix = if self.token.is_some() {
            format!(
                "the access token was rejected: create a new one with scope read:statuses (Preferences > Development) and put it where {key}.access_token_env or {key}.access_token_file points"
            )
        } else {
            format!(
                "this instance requires a token: create one with scope read:statuses (Preferences > Development) and set {key}.access_token_env or {key}.access_token_file"
            )
        };
        format!(
            "mastodon {}: HTTP {} {detail}; {fix}, then start the collector again",
            self.host,
            response.status.as_u16()
        )
    }

    /// New statuses, oldest first, as posts; advances `since_id` (`true` if it moved).
    pub(super) fn new_posts(
        &self,
        context: &SourceContext,
        statuses: Vec<Value>,
        since_id: &mut Option<String>,
        seen: &mut SeenIds<String>,
    ) -> (Vec<Post>, bool) {
        let mut with_ids: Vec<(String, Value)> = Vec::with_capacity(statuses.len());
        for status in statuses {
            match status.get("id").and_then(Value::as_str) {
                Some(id) if !id.is_empty() => with_ids.push((id.to_owned(), status)),
                _ => {
                    context.metrics.add_error(ErrorKind::InvalidRecord);
                    tracing::warn!(source = %context.name, "skipping a status without an id");
                }
            }
        }
        with_ids.sort_by(|(a, _), (b, _)| compare_ids(a, b));
        let before = since_id.clone();
        let posts = with_ids
            .into_iter()
            .filter_map(|(id, status)| self.accept(context, &id, &status, since_id, seen))
            .collect();
        (posts, *since_id != before)
    }

    /// One status: `None` when it is a duplicate or unusable (counted).
    pub(super) fn accept(
        &self,
        context: &SourceContext,
        id: &str,
        status: &Value,
        since_id: &mut Option<String>,
        seen: &mut SeenIds<String>,
    ) -> Option<Post> {
        let old = since_id
            .as_deref()
            .is_some_and(|since| compare_ids(id, since) != Ordering::Greater);
        if old || !seen.insert(id.to_owned()) {
            context.metrics.add_duplicates(1);
            return None;
        }
        *since_id = Some(id.to_owned());
        match normalize_status(status, &self.host, Utc::now()) {
            Ok(post) => Some(post),
            Err(error) => {
                context.metrics.add_error(ErrorKind::InvalidRecord);
                tracing::warn!(source = %context.name, status_id = id, %error, "skipping a bad status");
                None
            }
        }
    }
}

/// The public timeline polled over REST, and where it stands.
struct PublicTimeline {
    source: MastodonSource,
    pacer: Pacer,
    /// Newest status id published.
    since_id: Option<String>,
    seen: SeenIds<String>,
}

impl Poller for PublicTimeline {
    type Cursor = MastodonCursor;

    async fn poll(&mut self, context: &SourceContext) -> Polled<MastodonCursor> {
        let source = &self.source;
        match source
            .poll(&mut self.pacer, context, self.since_id.as_deref())
            .await
        {
            Ok(Some(statuses)) => {
                let (posts, newest) =
                    source.new_posts(context, statuses, &mut self.since_id, &mut self.seen);
                Polled {
                    posts,
                    cursor: newest.then(|| MastodonCursor {
                        since_id: self.since_id.clone(),
                    }),
                    changed: true,
                    progressed: true,
                    error: None,
                }
            }
            Ok(None) => Polled::stopped(),
            Err(error) => Polled::failed(error),
        }
    }
}

/// Orders Mastodon's numeric string ids (shorter is older), falling back to text order.
pub fn compare_ids(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// How long until `X-RateLimit-Reset` (an ISO 8601 time), if given and in the future.
fn rate_limit_reset(headers: &reqwest::header::HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get("x-ratelimit-reset")?.to_str().ok()?;
    let reset = DateTime::parse_from_rfc3339(value.trim())
        .ok()?
        .with_timezone(&Utc);
    (reset - now).to_std().ok()
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};

    use super::*;

    #[test]
    fn ids_compare_numerically_and_reset_is_read() {
        assert_eq!(compare_ids("99", "100"), Ordering::Less);
        assert_eq!(compare_ids("101", "100"), Ordering::Greater);
        let now: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2024-01-01T00:00:30.000Z"),
        );
        assert_eq!(
            rate_limit_reset(&headers, now),
            Some(Duration::from_secs(30))
        );
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2023-12-31T00:00:00Z"),
        );
        assert_eq!(rate_limit_reset(&headers, now), None);
    }
}

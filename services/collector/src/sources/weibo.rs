//! The Weibo open API poller: `statuses/home_timeline` paged by `since_id`,
//! or `statuses/public_timeline` de-duplicated by status id, spaced to fit
//! the hourly request budget. Statuses are normalized by [`crate::weibo`].
//!
//! A home timeline poll that ends early (a failed page, more new statuses
//! than `max_pages_per_poll` pages hold) publishes what it fetched and
//! remembers the ids it skipped as a gap; later polls spend their leftover
//! requests filling gaps with `since_id`/`max_id`, newest first.
//!
//! Weibo serves only a window of recent statuses (its docs: usually the
//! newest 1,000). Every walk asks down to a status it published before
//! (the cursor, or a gap's bottom), that status included: getting it back
//! proves the window still reaches it. A walk (the main one, or one
//! through a gap) that ends on a short page above it instead either read
//! all there is or hit the window's edge; one more request (`max_id` = that
//! status) tells which: an empty answer means the rest is out of the
//! window, and it is given up with a WARN and a metric saying how many
//! statuses at most were lost ([`Gap::lost_at_most`]), as is a gap beyond
//! the tenth.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use weibostream_shared::Post;

use super::http::{self, Response};
use super::poll::{self, PollError, Polled, Poller};
use super::weibo_feeds::{FeedCursor, Gap, Walk};
use super::{Failure, FetchError, SeenIds, SourceContext, SourceError};
use crate::config::{WeiboSettings, WeiboTimeline};
use crate::metrics::ErrorKind;
use crate::weibo::{Normalized, normalize_status};
use weibostream_shared::retry::Pacer;
use weibostream_shared::secret::Secret;

/// Gaps the home timeline owes at most; beyond it the oldest is given up.
const HOME_MAX_GAPS: usize = 10;

/// Weibo error codes meaning "slow down": IP, user, and user-per-API limits.
const RATE_LIMIT_CODES: [u64; 3] = [10022, 10023, 10024];

/// What the Weibo source saves after each acknowledged poll.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeiboCursor {
    /// Newest status id published (home timeline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_id: Option<u64>,
    /// Id ranges below `since_id` a poll that ended early left unread (home
    /// timeline), newest first; later polls fill them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
    /// Ids published most recently, oldest first (public timeline, which has no `since_id`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen_ids: Vec<u64>,
}

/// A configured Weibo poller.
pub struct WeiboSource {
    settings: WeiboSettings,
    token: Secret,
    client: reqwest::Client,
}

impl WeiboSource {
    /// A poller for `settings`, authenticating with `token`.
    pub fn new(settings: WeiboSettings, token: Secret) -> Result<Self, String> {
        let timeout = Duration::from_millis(settings.request_timeout_ms);
        let client = http::client(Some(timeout), timeout)?;
        Ok(WeiboSource {
            settings,
            token,
            client,
        })
    }

    /// Polls until shutdown; returns an error only for auth failures and bad cursors.
    pub async fn run(self, context: SourceContext) -> Result<(), SourceError> {
        let saved: WeiboCursor = context.load_cursor()?.unwrap_or_default();
        let mut seen = SeenIds::new(self.settings.dedup_capacity);
        for id in &saved.seen_ids {
            seen.insert(*id);
        }
        let interval = Pacer::interval_for_budget(self.settings.calls_per_hour);
        tracing::info!(source = %context.name, timeline = ?self.settings.timeline, since_id = ?saved.since_id,
            interval_ms = interval.as_millis() as u64, "polling Weibo");
        let timeline = Timeline {
            pacer: Pacer::new(interval, self.settings.poll_jitter_percent),
            since_id: saved.since_id,
            gaps: saved.gaps,
            seen,
            source: self,
        };
        poll::run(timeline, &context).await
    }

    /// One poll of at most `max_pages_per_poll` requests: the newest
    /// statuses, walking back with `max_id` to `since_id`; then, with the
    /// requests left, the gaps earlier polls left, newest first. A failed
    /// request ends the poll but keeps what was fetched. `None` on shutdown.
    async fn poll(
        &self,
        pacer: &mut Pacer,
        context: &SourceContext,
        since_id: Option<u64>,
        gaps: &[Gap],
    ) -> Option<Pages> {
        let (path, since_id) = match self.settings.timeline {
            WeiboTimeline::Home => ("statuses/home_timeline.json", since_id),
            WeiboTimeline::Public => ("statuses/public_timeline.json", None),
        };
        let mut polled = Pages::default();
        let mut budget = self.settings.max_pages_per_poll;
        let top = self
            .walk(
                pacer,
                context,
                path,
                since_id,
                None,
                &mut budget,
                &mut polled,
            )
            .await?;
        polled.top = top;
        if let (Some(since), Some(bottom)) = (since_id, top.oldest) {
            // More new statuses than Weibo's window keeps: the walk ends
            // short above since_id and the rest is gone, not owed.
            match self
                .lost_to_window(pacer, context, path, since, &top, bottom)
                .await?
            {
                Ok(lost) => polled.out_of_window.extend(lost),
                Err(error) => {
                    // Unknown: what the walk did not reach stays owed as a gap.
                    polled.error = Some(error);
                    polled.top.reached = false;
                }
            }
        }
        if polled.error.is_some() || since_id.is_none() {
            return Some(polled);
        }
        for gap in gaps {
            if budget == 0 || polled.error.is_some() {
                break;
            }
            let walk = self
                .walk(
                    pacer,
                    context,
                    path,
                    Some(gap.above),
                    Some(gap.below - 1),
                    &mut budget,
                    &mut polled,
                )
                .await?;
            let bottom = walk.oldest.unwrap_or(gap.below).min(gap.below);
            match self
                .lost_to_window(pacer, context, path, gap.above, &walk, bottom)
                .await?
            {
                Ok(lost) => polled.out_of_window.extend(lost),
                Err(error) => {
                    // Unknown: the gap stays, narrowed to what is left.
                    polled.error = Some(error);
                    let unsure = Walk {
                        reached: false,
                        ..walk
                    };
                    polled.gap_walks.push((*gap, unsure));
                    break;
                }
            }
            polled.gap_walks.push((*gap, walk));
        }
        Some(polled)
    }

    /// After `walk` down to `above` (a status published before) read all
    /// Weibo gave, down to `bottom`: the ids between them that fell out of
    /// Weibo's window of recent statuses, if any. A walk that stopped early
    /// (budget, error) leaves the rest owed as a gap, and one that got down
    /// to `above` lost nothing; one that ended short above it read either
    /// all there is or the window's edge, and one probe tells which. `None`
    /// on shutdown.
    async fn lost_to_window(
        &self,
        pacer: &mut Pacer,
        context: &SourceContext,
        path: &str,
        above: u64,
        walk: &Walk,
        bottom: u64,
    ) -> Option<Result<Option<Gap>, FetchError>> {
        if !walk.reached || bottom <= above.saturating_add(1) {
            return Some(Ok(None));
        }
        let served = self.serves_at_or_below(pacer, context, path, above).await?;
        Some(served.map(|served| (!served).then(|| Gap::new(above, bottom))))
    }

    /// Whether Weibo still serves a status with an id of at most `id`,
    /// i.e. whether its window reaches down there. One request outside the
    /// poll's page budget (the pacer still spaces it); `None` on shutdown.
    async fn serves_at_or_below(
        &self,
        pacer: &mut Pacer,
        context: &SourceContext,
        path: &str,
        id: u64,
    ) -> Option<Result<bool, FetchError>> {
        if !pacer.wait(&context.shutdown).await {
            return None;
        }
        Some(match self.request(path, None, Some(id)).await {
            Ok(statuses) => {
                context.metrics.add_fetched(statuses.len() as u64);
                Ok(statuses.iter().filter_map(status_id).any(|s| s <= id))
            }
            Err(error) => Err(error),
        })
    }

    /// Pages back from `max_id` (or the newest) to `since_id`, spending
    /// `budget` requests at most; statuses and any error go to `polled`.
    ///
    /// `since_id` is a status published before. It is asked for too
    /// (Weibo's `since_id` is exclusive, so one below it), as proof that
    /// Weibo's window still reaches it: a walk that gets it back lost
    /// nothing and needs no window probe. It counts in the walk's `oldest`
    /// but is not handed on: it is not new.
    #[allow(clippy::too_many_arguments)]
    async fn walk(
        &self,
        pacer: &mut Pacer,
        context: &SourceContext,
        path: &str,
        since_id: Option<u64>,
        mut max_id: Option<u64>,
        budget: &mut u32,
        polled: &mut Pages,
    ) -> Option<Walk> {
        let mut walk = Walk::default();
        while *budget > 0 {
            *budget -= 1;
            if !pacer.wait(&context.shutdown).await {
                return None;
            }
            let asked_since = since_id.map(|id| id.saturating_sub(1));
            let statuses = match self.request(path, asked_since, max_id).await {
                Ok(statuses) => statuses,
                Err(error) => {
                    polled.error = Some(error);
                    return Some(walk);
                }
            };
            polled.pages += 1;
            context.metrics.add_fetched(statuses.len() as u64);
            let full = statuses.len() >= self.settings.page_size as usize;
            let ids = statuses.iter().filter_map(status_id);
            let (newest, oldest) = (ids.clone().max(), ids.min());
            walk.newest = walk.newest.max(newest);
            walk.oldest = match (walk.oldest, oldest) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            polled.statuses.extend(
                statuses
                    .into_iter()
                    .filter(|status| since_id.is_none() || status_id(status) != since_id),
            );
            let Some(since) = since_id else {
                // No cursor (the first poll, or the public timeline): the newest page only.
                break;
            };
            // A page short of full holds everything newer than since_id that is left.
            let Some(oldest) = oldest.filter(|_| full) else {
                walk.reached = true;
                break;
            };
            if oldest <= since.saturating_add(1) {
                walk.reached = true;
                break;
            }
            // Weibo's max_id is inclusive.
            max_id = Some(oldest - 1);
        }
        Some(walk)
    }

    async fn request(
        &self,
        path: &str,
        since_id: Option<u64>,
        max_id: Option<u64>,
    ) -> Result<Vec<Value>, FetchError> {
        let url = format!("{}/{path}", self.settings.base_url.trim_end_matches('/'));
        let mut query = vec![("count", self.settings.page_size.to_string())];
        query.extend(since_id.map(|id| ("since_id", id.to_string())));
        query.extend(max_id.map(|id| ("max_id", id.to_string())));
        let request = self
            .client
            .get(&url)
            .query(&query)
            .header("Authorization", format!("OAuth2 {}", self.token.expose()));
        let what = format!("GET {path}");
        let response = http::fetch(request, &what).await?;
        statuses(response, &what, &self.settings)
    }

    /// The statuses owed (all of them without a cursor) and not seen
    /// before, oldest first, as posts.
    fn new_posts(
        &self,
        context: &SourceContext,
        statuses: Vec<Value>,
        owed: Option<&FeedCursor>,
        seen: &mut SeenIds<u64>,
    ) -> Vec<Post> {
        let mut with_ids: Vec<(u64, Value)> = Vec::with_capacity(statuses.len());
        for status in statuses {
            match status_id(&status) {
                Some(id) => with_ids.push((id, status)),
                None => {
                    context.metrics.add_error(ErrorKind::InvalidRecord);
                    tracing::warn!(source = %context.name, "skipping a status without an id");
                }
            }
        }
        with_ids.sort_by_key(|(id, _)| *id);
        let now = chrono::Utc::now();
        let mut posts = Vec::with_capacity(with_ids.len());
        for (id, status) in with_ids {
            if owed.is_some_and(|owed| !owed.wants(id)) || !seen.insert(id) {
                context.metrics.add_duplicates(1);
                continue;
            }
            match normalize_status(&status, now) {
                Ok(Normalized::Post(post)) => posts.push(post),
                Ok(Normalized::Deleted { id }) => {
                    tracing::debug!(source = %context.name, %id, "skipping a deleted status");
                    context.metrics.add_skipped(1);
                }
                Err(error) => {
                    context.metrics.add_error(ErrorKind::InvalidRecord);
                    tracing::warn!(source = %context.name, status_id = id, %error, "skipping a bad status");
                }
            }
        }
        posts
    }
}

/// The timeline being polled, and where it stands.
struct Timeline {
    source: WeiboSource,
    pacer: Pacer,
    /// Newest status id published (home timeline).
    since_id: Option<u64>,
    /// Id ranges owed below `since_id`, newest first (home timeline).
    gaps: Vec<Gap>,
    seen: SeenIds<u64>,
}

impl Poller for Timeline {
    type Cursor = WeiboCursor;

    async fn poll(&mut self, context: &SourceContext) -> Polled<WeiboCursor> {
        let source = &self.source;
        let Some(polled) = source
            .poll(&mut self.pacer, context, self.since_id, &self.gaps)
            .await
        else {
            return Polled::stopped();
        };
        let before = (self.since_id, self.gaps.clone());
        let owed = self.since_id.map(|newest| FeedCursor {
            newest,
            gaps: self.gaps.clone(),
        });
        let posts = source.new_posts(context, polled.statuses, owed.as_ref(), &mut self.seen);
        let cursor = match source.settings.timeline {
            WeiboTimeline::Home => {
                match owed {
                    Some(mut owed) => {
                        for walk in polled.gap_walks {
                            owed.fill(walk);
                        }
                        for gap in polled.out_of_window {
                            let lost_at_most = gap.lost_at_most();
                            context.metrics.add_gap_abandoned(lost_at_most);
                            tracing::warn!(source = %context.name, timeline = "home", above = gap.above, below = gap.below, lost_at_most,
                                "gave up a gap: Weibo no longer serves statuses between these ids (they fell out of its window of recent statuses); at most lost_at_most statuses (one per id between them) were not collected; raise weibo.calls_per_hour or weibo.max_pages_per_poll");
                        }
                        for gap in owed.settle_top(polled.top, HOME_MAX_GAPS) {
                            let lost_at_most = gap.lost_at_most();
                            context.metrics.add_gap_abandoned(lost_at_most);
                            tracing::warn!(source = %context.name, timeline = "home", above = gap.above, below = gap.below, lost_at_most,
                                "gave up a gap: more than {HOME_MAX_GAPS} gaps wait; at most lost_at_most statuses (one per id between them) were not collected; raise weibo.calls_per_hour or weibo.max_pages_per_poll");
                        }
                        self.since_id = Some(owed.newest);
                        self.gaps = owed.gaps;
                    }
                    None => self.since_id = polled.top.newest,
                }
                WeiboCursor {
                    since_id: self.since_id,
                    gaps: self.gaps.clone(),
                    seen_ids: Vec::new(),
                }
            }
            WeiboTimeline::Public => WeiboCursor {
                since_id: None,
                gaps: Vec::new(),
                seen_ids: self.seen.iter().copied().collect(),
            },
        };
        Polled {
            changed: !posts.is_empty() || before != (self.since_id, self.gaps.clone()),
            posts,
            cursor: Some(cursor),
            progressed: polled.pages > 0,
            error: polled.error.map(PollError::from),
        }
    }
}

/// What one poll fetched.
#[derive(Default)]
struct Pages {
    statuses: Vec<Value>,
    /// The walk from the newest status back to `since_id`.
    top: Walk,
    /// The walks through earlier gaps.
    gap_walks: Vec<(Gap, Walk)>,
    /// The parts of gaps Weibo no longer serves (out of its window).
    out_of_window: Vec<Gap>,
    /// The error that ended the poll, if one did.
    error: Option<FetchError>,
    /// Requests answered with statuses.
    pages: u32,
}

/// A status's numeric id (`id`, or `idstr`).
fn status_id(status: &Value) -> Option<u64> {
    ["id", "idstr"]
        .iter()
        .find_map(|key| match status.get(key)? {
            Value::Number(number) => number.as_u64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        })
}

/// The statuses of a timeline response, or why there are none.
fn statuses(
    response: Response,
    what: &str,
    settings: &WeiboSettings,
) -> Result<Vec<Value>, FetchError> {
    let parsed = http::json(&response.body, what);
    if let Ok(Value::Object(body)) = &parsed
        && let Some(code) = body.get("error_code")
    {
        return Err(api_error(code, body.get("error"), what, settings));
    }
    if response.status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(FetchError::Fatal(auth_message("HTTP 401", settings)));
    }
    if !response.status.is_success() {
        return Err(http::status_failure(response.status, &response.body, what).into());
    }
    match parsed? {
        Value::Object(mut body) => match body.remove("statuses") {
            Some(Value::Array(statuses)) => Ok(statuses),
            _ => Err(Failure::new(
                ErrorKind::InvalidJson,
                format!("{what}: no \"statuses\" array"),
            )
            .into()),
        },
        Value::Array(statuses) => Ok(statuses),
        _ => Err(Failure::new(
            ErrorKind::InvalidJson,
            format!("{what}: not a timeline body"),
        )
        .into()),
    }
}

/// A Weibo error body: rate limit, auth, or another error.
fn api_error(
    code: &Value,
    message: Option<&Value>,
    what: &str,
    settings: &WeiboSettings,
) -> FetchError {
    let number = match code {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    };
    let message = message.and_then(Value::as_str).unwrap_or("");
    let described = format!(
        "Weibo error {} {message}",
        number.map_or_else(|| code.to_string(), |n| n.to_string())
    );
    match number {
        Some(code) if RATE_LIMIT_CODES.contains(&code) => Failure::new(
            ErrorKind::RateLimited,
            format!("{what}: {described} (rate limit)"),
        )
        .into(),
        Some(21327 | 21332 | 21314..=21317) => {
            FetchError::Fatal(auth_message(&described, settings))
        }
        Some(code) if (10000..20000).contains(&code) => Failure::new(
            ErrorKind::Http5xx,
            format!("{what}: {described} (system error)"),
        )
        .into(),
        _ => Failure::new(
            ErrorKind::Http4xx,
            format!("{what}: {}", described.trim_end()),
        )
        .into(),
    }
}

fn auth_message(what: &str, settings: &WeiboSettings) -> String {
    let place = if settings.access_token_file.as_os_str().is_empty() {
        format!(
            "the environment variable {} (weibo.access_token_env)",
            settings.access_token_env
        )
    } else {
        format!(
            "the file {} (weibo.access_token_file)",
            settings.access_token_file.display()
        )
    };
    format!(
        "weibo: the access token was rejected ({}); get a new OAuth2 access token for your app \
         (open.weibo.com) and put it in {place}, then start the collector again",
        what.trim_end()
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn error_codes_as_numbers_or_strings() {
        let settings = WeiboSettings::default();
        for code in [json!(10023), json!("10022"), json!(" 10024")] {
            let error = api_error(&code, None, "GET x", &settings);
            assert!(
                matches!(
                    error,
                    FetchError::Transient(Failure {
                        kind: ErrorKind::RateLimited,
                        ..
                    })
                ),
                "{code}"
            );
        }
        for code in [json!(21327), json!("21332"), json!(21314), json!("21317")] {
            let FetchError::Fatal(message) =
                api_error(&code, Some(&json!("expired_token")), "x", &settings)
            else {
                panic!("{code} should be fatal");
            };
            assert!(message.contains("WEIBO_ACCESS_TOKEN"), "{message}");
        }
        let error = api_error(&json!("20502"), Some(&json!("bad param")), "x", &settings);
        assert!(matches!(
            error,
            FetchError::Transient(Failure {
                kind: ErrorKind::Http4xx,
                ..
            })
        ));
    }

    #[test]
    fn status_ids_from_id_or_idstr() {
        assert_eq!(status_id(&json!({"id": 5})), Some(5));
        assert_eq!(status_id(&json!({"id": null, "idstr": "6"})), Some(6));
        assert_eq!(status_id(&json!({"text": "x"})), None);
    }
}

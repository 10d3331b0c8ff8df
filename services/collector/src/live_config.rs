//! Config of the live sources (`[weibo]`, `[weibo_mobile]`,
//! `[weibo_search]`, `[weibo_user]`, `[mastodon]`, `[jetstream]`, `[socket]`,
//! `[retry]`), validated without I/O.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Waits after transient errors (5xx, timeouts, resets, rate limits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// First wait after an error; doubles with each further error.
    pub initial_backoff_ms: u64,
    /// Longest wait between retries (a server's rate-limit reset time may be longer).
    pub max_backoff_ms: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            initial_backoff_ms: 1000,
            max_backoff_ms: 300_000,
        }
    }
}

/// Which Weibo timeline to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeiboTimeline {
    /// `statuses/home_timeline`: the token's user and whom they follow; paged by `since_id`.
    Home,
    /// `statuses/public_timeline`: a sample of public posts; no `since_id`, de-duplicated by id.
    Public,
}

/// The Weibo open API poller (`[weibo]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeiboSettings {
    /// API root; tests point it at a local server.
    pub base_url: String,
    /// Timeline to poll.
    pub timeline: WeiboTimeline,
    /// Environment variable holding the OAuth2 access token.
    pub access_token_env: String,
    /// File holding the access token; wins over `access_token_env` when set.
    pub access_token_file: PathBuf,
    /// Request budget per hour (Weibo allows about 150 per user per app);
    /// requests are spaced evenly over the hour.
    pub calls_per_hour: u32,
    /// Random spread of the poll interval, in percent of it.
    pub poll_jitter_percent: u32,
    /// Statuses asked for per request (`count`: home at most 100, public at most 200).
    pub page_size: u32,
    /// Requests at most per poll when more new statuses wait than one page holds.
    pub max_pages_per_poll: u32,
    /// Status ids remembered to drop duplicates (public timeline; also saved as its cursor).
    pub dedup_capacity: usize,
    /// Timeout of one request.
    pub request_timeout_ms: u64,
}

impl Default for WeiboSettings {
    fn default() -> Self {
        WeiboSettings {
            base_url: "https://api.weibo.com/2".into(),
            timeline: WeiboTimeline::Home,
            access_token_env: "WEIBO_ACCESS_TOKEN".into(),
            access_token_file: PathBuf::new(),
            calls_per_hour: 150,
            poll_jitter_percent: 10,
            page_size: 100,
            max_pages_per_poll: 3,
            dedup_capacity: 2000,
            request_timeout_ms: 15_000,
        }
    }
}

/// The Weibo mobile web API (m.weibo.cn) as `weibo_search` and `weibo_user`
/// use it (`[weibo_mobile]`): one cookie, one request budget and one pause
/// for both, since Weibo limits and blocks per cookie and per IP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeiboMobileSettings {
    /// API root; tests point it at a local server.
    pub base_url: String,
    /// Environment variable holding the logged-in `Cookie` header value
    /// (at least `SUB=...`).
    pub cookie_env: String,
    /// File holding the cookie; wins over `cookie_env` when set.
    pub cookie_file: PathBuf,
    /// Request budget per hour, long texts included.
    pub requests_per_hour: u32,
    /// Shortest gap between two requests; the crawlers people use wait 3-15 s.
    pub min_gap_ms: u64,
    /// Random extra on top of each gap, in percent of the gap.
    pub gap_jitter_percent: u32,
    /// First pause after Weibo refuses us (HTTP 418 or 432, `ok: -100`, a
    /// login redirect); doubles with each further refusal.
    pub refused_initial_backoff_ms: u64,
    /// Longest pause after refusals.
    pub refused_max_backoff_ms: u64,
    /// Timeout of one request.
    pub request_timeout_ms: u64,
    /// Fetch the full text of long posts (`isLongText`) from `/statuses/extend`;
    /// each costs one request of the budget.
    pub fetch_long_text: bool,
}

impl Default for WeiboMobileSettings {
    fn default() -> Self {
        WeiboMobileSettings {
            base_url: "https://m.weibo.cn".into(),
            cookie_env: "WEIBO_COOKIE".into(),
            cookie_file: PathBuf::new(),
            requests_per_hour: 600,
            min_gap_ms: 3000,
            gap_jitter_percent: 100,
            refused_initial_backoff_ms: 60_000,
            refused_max_backoff_ms: 3_600_000,
            request_timeout_ms: 15_000,
            fetch_long_text: true,
        }
    }
}

/// Weibo keyword search (`[weibo_search]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeiboSearchSettings {
    /// Search queries, e.g. `["建设银行 涨"]`; a space means AND.
    pub queries: Vec<String>,
    /// Also derive queries from the filter's rules file (`rules_path`).
    pub queries_from_rules: bool,
    /// The filter's rules file, read when `queries_from_rules` is set.
    pub rules_path: PathBuf,
    /// How often the rules file's modification time is checked.
    pub rules_poll_ms: u64,
    /// Result pages read at most per query and poll (each one request).
    pub max_pages_per_poll: u32,
    /// Post ids remembered (and saved in the cursor) so that a post found by
    /// two queries is published once.
    pub dedup_capacity: usize,
    /// Unfilled gaps remembered per query; beyond it the oldest is given up.
    pub max_gaps_per_query: usize,
}

impl Default for WeiboSearchSettings {
    fn default() -> Self {
        WeiboSearchSettings {
            queries: Vec::new(),
            queries_from_rules: false,
            rules_path: PathBuf::from("rules.toml"),
            rules_poll_ms: 10_000,
            max_pages_per_poll: 5,
            dedup_capacity: 5000,
            max_gaps_per_query: 10,
        }
    }
}

/// Weibo users' timelines (`[weibo_user]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeiboUserSettings {
    /// Numeric user ids to follow (the digits in `https://weibo.com/u/<uid>`).
    pub uids: Vec<String>,
    /// Pages read at most per user and poll (each one request).
    pub max_pages_per_poll: u32,
    /// Unfilled gaps remembered per user; beyond it the oldest is given up.
    pub max_gaps_per_query: usize,
}

impl Default for WeiboUserSettings {
    fn default() -> Self {
        WeiboUserSettings {
            uids: Vec::new(),
            max_pages_per_poll: 3,
            max_gaps_per_query: 10,
        }
    }
}

/// One Mastodon instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MastodonInstance {
    /// The instance's root URL, e.g. `https://mastodon.social`.
    pub base_url: String,
    /// Environment variable holding a user access token (scope `read:statuses`);
    /// empty for none. Streaming needs one; polling works without on most instances.
    pub access_token_env: String,
    /// File holding the access token; wins over `access_token_env` when set.
    pub access_token_file: PathBuf,
    /// Use the SSE streaming API when a token is configured (else poll).
    pub streaming: bool,
}

impl Default for MastodonInstance {
    fn default() -> Self {
        MastodonInstance {
            base_url: "https://mastodon.social".into(),
            access_token_env: String::new(),
            access_token_file: PathBuf::new(),
            streaming: true,
        }
    }
}

/// Mastodon instances (`[mastodon]`, `[[mastodon.instances]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MastodonSettings {
    /// Instances to follow, each with its own cursor.
    pub instances: Vec<MastodonInstance>,
    /// Time between two polls of `/api/v1/timelines/public` (300 requests per 5 min allowed).
    pub poll_interval_ms: u64,
    /// Random spread of the poll interval, in percent of it.
    pub poll_jitter_percent: u32,
    /// Statuses per request (`limit`, at most 40).
    pub page_size: u32,
    /// Requests at most per poll when more new statuses wait than one page holds.
    pub max_pages_per_poll: u32,
    /// Timeout of one REST request.
    pub request_timeout_ms: u64,
    /// A stream silent for this long (no post, no heartbeat) is reconnected.
    pub stream_idle_timeout_ms: u64,
    /// Status ids remembered per instance to drop duplicates.
    pub dedup_capacity: usize,
}

impl Default for MastodonSettings {
    fn default() -> Self {
        MastodonSettings {
            instances: vec![MastodonInstance::default()],
            poll_interval_ms: 5000,
            poll_jitter_percent: 10,
            page_size: 40,
            max_pages_per_poll: 5,
            request_timeout_ms: 15_000,
            stream_idle_timeout_ms: 60_000,
            dedup_capacity: 2000,
        }
    }
}

/// Bluesky through Jetstream (`[jetstream]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JetstreamSettings {
    /// The `subscribe` endpoint; `wantedCollections` and `cursor` are added.
    pub url: String,
    /// Keep only posts in these languages (ISO 639-1, e.g. `["en", "ja"]`); empty keeps all.
    pub languages: Vec<String>,
    /// Timeout of the WebSocket handshake.
    pub connect_timeout_ms: u64,
    /// A connection silent for this long is reconnected.
    pub idle_timeout_ms: u64,
    /// Post ids remembered to drop duplicates.
    pub dedup_capacity: usize,
}

impl Default for JetstreamSettings {
    fn default() -> Self {
        JetstreamSettings {
            url: "wss://jetstream2.us-east.bsky.network/subscribe".into(),
            languages: Vec::new(),
            connect_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            dedup_capacity: 10_000,
        }
    }
}

/// Line-oriented TCP feeders (`[socket]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SocketSettings {
    /// Feeders to connect to, `host:port` each.
    pub addresses: Vec<String>,
    /// Timeout of one connection attempt.
    pub connect_timeout_ms: u64,
    /// Wait before reconnecting after a feeder closed the connection.
    pub reconnect_delay_ms: u64,
    /// Longest line accepted; longer lines are dropped and counted.
    pub max_line_bytes: usize,
    /// Post ids remembered per feeder to drop duplicates (JSON posts).
    pub dedup_capacity: usize,
}

impl Default for SocketSettings {
    fn default() -> Self {
        SocketSettings {
            addresses: vec!["127.0.0.1:9999".into()],
            connect_timeout_ms: 5000,
            reconnect_delay_ms: 1000,
            max_line_bytes: 1024 * 1024,
            dedup_capacity: 10_000,
        }
    }
}

//! Config of the live sources (`sources = [...]`, `[weibo]`, `[mastodon]`,
//! `[jetstream]`, `[socket]`, `[retry]`), validated without I/O.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};

/// A live source; several can run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LiveSourceKind {
    /// Sina Weibo open API polling (`[weibo]`).
    Weibo,
    /// Mastodon instances, REST polling or SSE streaming (`[mastodon]`).
    Mastodon,
    /// Bluesky through Jetstream's WebSocket (`[jetstream]`).
    Jetstream,
    /// Line-oriented TCP feeders (`[socket]`).
    Socket,
}

impl std::str::FromStr for LiveSourceKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name.trim() {
            "weibo" => Ok(LiveSourceKind::Weibo),
            "mastodon" => Ok(LiveSourceKind::Mastodon),
            "jetstream" => Ok(LiveSourceKind::Jetstream),
            "socket" => Ok(LiveSourceKind::Socket),
            other => Err(format!(
                "unknown source {other:?}: expected weibo, mastodon, jetstream or socket"
            )),
        }
    }
}

/// `sources = ["weibo", "jetstream"]`, or `COLLECTOR__SOURCES=weibo,jetstream`.
pub(crate) fn list_or_csv<'de, D>(deserializer: D) -> Result<Vec<LiveSourceKind>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        List(Vec<String>),
        Csv(String),
    }
    let names = match Given::deserialize(deserializer)? {
        Given::List(list) => list,
        Given::Csv(text) => text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    names
        .iter()
        .map(|name| name.parse().map_err(serde::de::Error::custom))
        .collect()
}

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

/// An `http(s)://` or `ws(s)://` URL with a host, or an error naming `key`.
pub(crate) fn check_url(key: &str, url: &str, schemes: &[&str]) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|error| format!("{key}: {url:?} is not a URL: {error}"))?;
    if !schemes.contains(&parsed.scheme()) || parsed.host_str().is_none() {
        return Err(format!(
            "{key}: {url:?} must be a {} URL with a host",
            schemes.join(" or ")
        ));
    }
    Ok(())
}

fn check_range(key: &str, value: u64, min: u64, max: u64) -> Result<(), String> {
    if value < min || value > max {
        return Err(format!("{key}: {value} is not within {min}..={max}"));
    }
    Ok(())
}

impl RetrySettings {
    pub(crate) fn validate(&self) -> Result<(), String> {
        check_range(
            "retry.initial_backoff_ms",
            self.initial_backoff_ms,
            1,
            3_600_000,
        )?;
        if self.max_backoff_ms < self.initial_backoff_ms {
            return Err(format!(
                "retry.max_backoff_ms ({}) must be at least retry.initial_backoff_ms ({})",
                self.max_backoff_ms, self.initial_backoff_ms
            ));
        }
        Ok(())
    }
}

impl WeiboSettings {
    pub(crate) fn validate(&self) -> Result<(), String> {
        check_url("weibo.base_url", &self.base_url, &["http", "https"])?;
        if self.access_token_env.is_empty() && self.access_token_file.as_os_str().is_empty() {
            return Err(
                "weibo.access_token_env: set it (or weibo.access_token_file); Weibo needs a token"
                    .into(),
            );
        }
        check_range(
            "weibo.calls_per_hour",
            self.calls_per_hour.into(),
            1,
            360_000,
        )?;
        check_range(
            "weibo.poll_jitter_percent",
            self.poll_jitter_percent.into(),
            0,
            50,
        )?;
        let max_page = match self.timeline {
            WeiboTimeline::Home => 100,
            WeiboTimeline::Public => 200,
        };
        check_range("weibo.page_size", self.page_size.into(), 1, max_page)?;
        check_range(
            "weibo.max_pages_per_poll",
            self.max_pages_per_poll.into(),
            1,
            50,
        )?;
        check_range(
            "weibo.dedup_capacity",
            self.dedup_capacity as u64,
            1,
            1_000_000,
        )?;
        check_range(
            "weibo.request_timeout_ms",
            self.request_timeout_ms,
            1,
            600_000,
        )
    }
}

impl MastodonSettings {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.instances.is_empty() {
            return Err("mastodon.instances: list at least one instance".into());
        }
        let mut hosts = Vec::new();
        for (index, instance) in self.instances.iter().enumerate() {
            let key = format!("mastodon.instances[{index}].base_url");
            check_url(&key, &instance.base_url, &["http", "https"])?;
            let host = instance_key(&instance.base_url);
            if hosts.contains(&host) {
                return Err(format!("{key}: {host} is listed twice"));
            }
            hosts.push(host);
        }
        check_range(
            "mastodon.poll_interval_ms",
            self.poll_interval_ms,
            1,
            86_400_000,
        )?;
        check_range(
            "mastodon.poll_jitter_percent",
            self.poll_jitter_percent.into(),
            0,
            50,
        )?;
        check_range("mastodon.page_size", self.page_size.into(), 1, 40)?;
        check_range(
            "mastodon.max_pages_per_poll",
            self.max_pages_per_poll.into(),
            1,
            50,
        )?;
        check_range(
            "mastodon.request_timeout_ms",
            self.request_timeout_ms,
            1,
            600_000,
        )?;
        check_range(
            "mastodon.stream_idle_timeout_ms",
            self.stream_idle_timeout_ms,
            1,
            3_600_000,
        )?;
        check_range(
            "mastodon.dedup_capacity",
            self.dedup_capacity as u64,
            1,
            1_000_000,
        )
    }
}

/// `host[:port]` of an instance URL: the part of post ids that makes them unique.
pub(crate) fn instance_key(base_url: &str) -> String {
    match reqwest::Url::parse(base_url) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            _ => base_url.to_owned(),
        },
        Err(_) => base_url.to_owned(),
    }
}

impl JetstreamSettings {
    pub(crate) fn validate(&self) -> Result<(), String> {
        check_url("jetstream.url", &self.url, &["ws", "wss"])?;
        for language in &self.languages {
            if language.is_empty() || !language.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(format!(
                    "jetstream.languages: {language:?} is not a language code like \"en\""
                ));
            }
        }
        check_range(
            "jetstream.connect_timeout_ms",
            self.connect_timeout_ms,
            1,
            600_000,
        )?;
        check_range(
            "jetstream.idle_timeout_ms",
            self.idle_timeout_ms,
            1,
            3_600_000,
        )?;
        check_range(
            "jetstream.dedup_capacity",
            self.dedup_capacity as u64,
            1,
            10_000_000,
        )
    }
}

impl SocketSettings {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.addresses.is_empty() {
            return Err("socket.addresses: list at least one host:port".into());
        }
        for (index, address) in self.addresses.iter().enumerate() {
            let valid = address
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !valid || self.addresses[..index].contains(address) {
                return Err(format!(
                    "socket.addresses[{index}]: {address:?} is not a distinct host:port"
                ));
            }
        }
        check_range(
            "socket.connect_timeout_ms",
            self.connect_timeout_ms,
            1,
            600_000,
        )?;
        check_range(
            "socket.reconnect_delay_ms",
            self.reconnect_delay_ms,
            0,
            3_600_000,
        )?;
        check_range(
            "socket.max_line_bytes",
            self.max_line_bytes as u64,
            16,
            1 << 30,
        )?;
        check_range(
            "socket.dedup_capacity",
            self.dedup_capacity as u64,
            1,
            10_000_000,
        )
    }
}

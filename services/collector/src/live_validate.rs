//! Validation of the live sources' config without I/O; every error names
//! the key to fix.

use weibostream_shared::config::InvalidKey;

use crate::live_config::{
    JetstreamSettings, MastodonSettings, RetrySettings, SocketSettings, WeiboMobileSettings,
    WeiboSearchSettings, WeiboSettings, WeiboTimeline, WeiboUserSettings,
};

/// An `http(s)://` or `ws(s)://` URL with a host, or an error naming `key`.
pub(crate) fn check_url(key: &str, url: &str, schemes: &[&str]) -> Result<(), InvalidKey> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|error| InvalidKey::new(key, format!("{url:?} is not a URL: {error}")))?;
    if !schemes.contains(&parsed.scheme()) || parsed.host_str().is_none() {
        return Err(InvalidKey::new(
            key,
            format!("{url:?} must be a {} URL with a host", schemes.join(" or ")),
        ));
    }
    Ok(())
}

fn check_range(key: &str, value: u64, min: u64, max: u64) -> Result<(), InvalidKey> {
    if value < min || value > max {
        return Err(InvalidKey::new(
            key,
            format!("{value} is not within {min}..={max}"),
        ));
    }
    Ok(())
}

impl RetrySettings {
    pub(crate) fn validate(&self) -> Result<(), InvalidKey> {
        check_range(
            "retry.initial_backoff_ms",
            self.initial_backoff_ms,
            1,
            3_600_000,
        )?;
        if self.max_backoff_ms < self.initial_backoff_ms {
            return Err(InvalidKey::new(
                "retry.max_backoff_ms",
                format!(
                    "{} must be at least retry.initial_backoff_ms ({})",
                    self.max_backoff_ms, self.initial_backoff_ms
                ),
            ));
        }
        Ok(())
    }
}

impl WeiboSettings {
    pub(crate) fn validate(&self) -> Result<(), InvalidKey> {
        check_url("weibo.base_url", &self.base_url, &["http", "https"])?;
        if self.access_token_env.is_empty() && self.access_token_file.as_os_str().is_empty() {
            return Err(InvalidKey::new(
                "weibo.access_token_env",
                "set it (or weibo.access_token_file); Weibo needs a token",
            ));
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

impl WeiboMobileSettings {
    pub(crate) fn validate(&self) -> Result<(), InvalidKey> {
        check_url("weibo_mobile.base_url", &self.base_url, &["http", "https"])?;
        if self.cookie_env.is_empty() && self.cookie_file.as_os_str().is_empty() {
            return Err(InvalidKey::new(
                "weibo_mobile.cookie_env",
                "set it (or weibo_mobile.cookie_file); the mobile API needs a logged-in cookie",
            ));
        }
        check_range(
            "weibo_mobile.requests_per_hour",
            self.requests_per_hour.into(),
            1,
            3_600_000,
        )?;
        check_range("weibo_mobile.min_gap_ms", self.min_gap_ms, 1, 3_600_000)?;
        check_range(
            "weibo_mobile.gap_jitter_percent",
            self.gap_jitter_percent.into(),
            0,
            400,
        )?;
        check_range(
            "weibo_mobile.refused_initial_backoff_ms",
            self.refused_initial_backoff_ms,
            1,
            3_600_000,
        )?;
        if self.refused_max_backoff_ms < self.refused_initial_backoff_ms {
            return Err(InvalidKey::new(
                "weibo_mobile.refused_max_backoff_ms",
                format!(
                    "{} must be at least weibo_mobile.refused_initial_backoff_ms ({})",
                    self.refused_max_backoff_ms, self.refused_initial_backoff_ms
                ),
            ));
        }
        check_range(
            "weibo_mobile.refused_max_backoff_ms",
            self.refused_max_backoff_ms,
            1,
            86_400_000,
        )?;
        check_range(
            "weibo_mobile.request_timeout_ms",
            self.request_timeout_ms,
            1,
            600_000,
        )
    }
}

/// The longest search query accepted (Weibo's search box takes about as much).
const MAX_QUERY_CHARS: usize = 100;

impl WeiboSearchSettings {
    pub(crate) fn validate(&self) -> Result<(), InvalidKey> {
        if self.queries.is_empty() && !self.queries_from_rules {
            return Err(InvalidKey::new(
                "weibo_search.queries",
                "list at least one query (or set weibo_search.queries_from_rules = true)",
            ));
        }
        for (index, query) in self.queries.iter().enumerate() {
            let words = query.split_whitespace().count();
            if words == 0 || query.chars().count() > MAX_QUERY_CHARS {
                return Err(InvalidKey::new(
                    format!("weibo_search.queries[{index}]"),
                    format!("{query:?} must have 1 to {MAX_QUERY_CHARS} characters and a word"),
                ));
            }
            if self.queries[..index].contains(query) {
                return Err(InvalidKey::new(
                    format!("weibo_search.queries[{index}]"),
                    format!("{query:?} is listed twice"),
                ));
            }
        }
        if self.queries_from_rules && self.rules_path.as_os_str().is_empty() {
            return Err(InvalidKey::new(
                "weibo_search.rules_path",
                "required when weibo_search.queries_from_rules = true",
            ));
        }
        check_range(
            "weibo_search.rules_poll_ms",
            self.rules_poll_ms,
            100,
            86_400_000,
        )?;
        check_range(
            "weibo_search.max_pages_per_poll",
            self.max_pages_per_poll.into(),
            1,
            100,
        )?;
        check_range(
            "weibo_search.dedup_capacity",
            self.dedup_capacity as u64,
            1,
            1_000_000,
        )?;
        check_range(
            "weibo_search.max_gaps_per_query",
            self.max_gaps_per_query as u64,
            1,
            1000,
        )
    }
}

impl WeiboUserSettings {
    pub(crate) fn validate(&self) -> Result<(), InvalidKey> {
        if self.uids.is_empty() {
            return Err(InvalidKey::new(
                "weibo_user.uids",
                "list at least one user id",
            ));
        }
        for (index, uid) in self.uids.iter().enumerate() {
            if uid.is_empty() || uid.len() > 20 || !uid.bytes().all(|b| b.is_ascii_digit()) {
                return Err(InvalidKey::new(
                    format!("weibo_user.uids[{index}]"),
                    format!("{uid:?} is not a numeric Weibo user id"),
                ));
            }
            if self.uids[..index].contains(uid) {
                return Err(InvalidKey::new(
                    format!("weibo_user.uids[{index}]"),
                    format!("{uid} is listed twice"),
                ));
            }
        }
        check_range(
            "weibo_user.max_pages_per_poll",
            self.max_pages_per_poll.into(),
            1,
            100,
        )?;
        check_range(
            "weibo_user.max_gaps_per_query",
            self.max_gaps_per_query as u64,
            1,
            1000,
        )
    }
}

impl MastodonSettings {
    pub(crate) fn validate(&self) -> Result<(), InvalidKey> {
        if self.instances.is_empty() {
            return Err(InvalidKey::new(
                "mastodon.instances",
                "list at least one instance",
            ));
        }
        let mut hosts = Vec::new();
        for (index, instance) in self.instances.iter().enumerate() {
            let key = format!("mastodon.instances[{index}].base_url");
            check_url(&key, &instance.base_url, &["http", "https"])?;
            let host = instance_key(&instance.base_url);
            if hosts.contains(&host) {
                return Err(InvalidKey::new(key, format!("{host} is listed twice")));
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
    pub(crate) fn validate(&self) -> Result<(), InvalidKey> {
        check_url("jetstream.url", &self.url, &["ws", "wss"])?;
        for language in &self.languages {
            if language.is_empty() || !language.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(InvalidKey::new(
                    "jetstream.languages",
                    format!("{language:?} is not a language code like \"en\""),
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
    pub(crate) fn validate(&self) -> Result<(), InvalidKey> {
        if self.addresses.is_empty() {
            return Err(InvalidKey::new(
                "socket.addresses",
                "list at least one host:port",
            ));
        }
        for (index, address) in self.addresses.iter().enumerate() {
            let valid = address
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !valid || self.addresses[..index].contains(address) {
                return Err(InvalidKey::new(
                    format!("socket.addresses[{index}]"),
                    format!("{address:?} is not a distinct host:port"),
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

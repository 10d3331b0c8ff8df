//! Validation of the live sources' config without I/O; every error names
//! the key to fix.

use crate::live_config::{
    JetstreamSettings, MastodonSettings, RetrySettings, SocketSettings, WeiboSettings,
    WeiboTimeline,
};

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

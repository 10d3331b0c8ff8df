//! Collector service: takes posts from its sources (synthetic, file, or
//! live: Weibo, Mastodon, Bluesky Jetstream, TCP line feeders), normalizes
//! them to the shared `Post`, and publishes them to `posts.raw` keyed by
//! author id with an idempotent producer, all through one publish path
//! (`live`). Live sources save their cursors only once the broker
//! acknowledged the posts before them.

pub mod config;
pub mod cursor;
pub mod file_input;
pub mod live;
mod live_config;
mod live_validate;
pub mod metrics;
pub mod ops;
pub mod service;
pub mod sources;
pub mod synthetic;
mod synthetic_words;
pub mod weibo;

pub use config::CollectorConfig;
pub use service::{BuildError, Collector, RunSummary};

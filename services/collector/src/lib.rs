//! Collector service: takes posts from a source (synthetic, file; live
//! sources to come), normalizes them to the shared `Post`, and publishes them
//! to `posts.raw` keyed by author id with an idempotent producer.

pub mod config;
pub mod file_input;
pub mod publish;
pub mod service;
pub mod synthetic;
mod synthetic_words;
pub mod weibo;

pub use config::CollectorConfig;
pub use service::{Collector, RunSummary};

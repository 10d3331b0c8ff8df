//! Filter service: replicas in one consumer group split `posts.raw`'s
//! partitions, micro-batch on wall-clock-aligned intervals, match each post
//! against the keyword rules, and publish matches plus one report per batch.
//! Offsets are committed only after the broker acknowledged both.

mod acks;
pub mod analysis;
pub mod batch;
pub mod classify;
pub mod cli;
mod closing;
pub mod config;
mod context;
pub mod decode;
pub mod inspect;
pub mod metrics;
pub mod output;
pub mod post_view;
pub mod reload;
pub mod rules;
pub mod service;
pub mod step;
pub mod text;
mod worker;

#[cfg(test)]
mod test_rng;

pub use config::FilterConfig;
pub use reload::ReloadHandle;
pub use service::{BuildError, Filter};

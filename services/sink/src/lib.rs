//! Sink service: merges the filter replicas' per-batch output into one block
//! per batch time for the whole group, prints it Spark-style and/or appends
//! it to a JSON-lines file, each post once; serves its metrics and a live
//! dashboard over HTTP.

pub mod alerts;
pub mod assignment;
pub mod config;
pub mod dashboard;
pub mod dedupe;
pub mod history;
pub mod jsonl;
pub mod lag;
pub mod merge;
pub mod metrics;
pub mod offsets;
pub mod outputs;
pub mod print;
pub mod service;
pub mod store;
pub mod topology;

pub use config::SinkConfig;
pub use service::{BuildError, Sink};

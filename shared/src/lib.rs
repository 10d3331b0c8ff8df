//! Code shared by every weibostream service: the normalized [`Post`], the
//! records of every topic, topic names, the one Kafka client factory, config
//! loading, tracing setup and the shutdown token.

pub mod cli;
pub mod config;
pub mod http;
pub mod kafka;
pub mod post;
pub mod quirks;
pub mod records;
pub mod retry;
pub mod rules_file;
pub mod sanitize;
pub mod secret;
pub mod shutdown;
pub mod stats;
pub mod telemetry;
pub mod topics;

pub use post::{Author, Post, RepostRef, Source};
pub use records::{BatchReport, MatchedPost, PartitionRange};
pub use topics::{TopicRole, Topics};

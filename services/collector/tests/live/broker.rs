//! The workspace's shared broker plumbing: a real local Tansu broker on a
//! free port, unique topic names, reading a topic back.

pub use weibostream_testkit::{Broker, read_topic, unique_topics};

//! Helpers for the end-to-end tests: the shared test plumbing (broker,
//! names, topic reading, polling) from `weibostream-testkit`, plus running
//! the services in-process or as processes, and a cuttable TCP proxy.
#![allow(clippy::unwrap_used)]

pub use weibostream_testkit::*;

pub mod pipeline;
pub mod process;
pub mod proxy;

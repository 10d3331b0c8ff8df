//! Helpers for the end-to-end tests: the shared test plumbing (broker,
//! names, topic reading, polling) from `weibostream-testkit`, plus running
//! the services in-process or as processes, a cuttable TCP proxy, HTTP and
//! Server-Sent Events clients, and headless Chromium for the dashboard.
#![allow(clippy::unwrap_used)]

pub use weibostream_testkit::*;

pub mod browser;
pub mod pipeline;
pub mod process;
pub mod proxy;
pub mod security;
pub mod web;

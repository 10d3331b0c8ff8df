//! Tests of the live sources against servers the tests start: a raw HTTP
//! server (Weibo, Mastodon REST and SSE), a WebSocket server (Jetstream), a
//! line feeder (socket), and a real Tansu broker for the cursor guarantees
//! and the finite sources (synthetic, file).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broker;
mod finite;
mod jetstream;
mod mastodon;
mod restart;
mod socket;
mod support;
mod weibo;
mod weibo_mobile;
mod weibo_window;

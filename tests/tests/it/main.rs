//! The end-to-end tests, one module per area, in one test binary: as
//! sixteen binaries, each linking the whole workspace, they took ~4 of the
//! test command's minutes to build. (`local_run` stays a binary of its own:
//! `tests/run.sh` runs it on its own, under `cargo test`.)
//!
//! Under cargo-nextest every test still runs in a process of its own.

mod alerts;
mod bad_input;
mod build_features;
mod common;
mod compose;
mod dashboard;
mod dead_letters;
mod faults;
mod fuzz;
mod history;
mod history_view;
mod k8s;
mod kafka_security;
mod metrics;
mod module_cycles;
mod offset_gaps;
mod pipeline;
mod print_config;
mod resume;
mod sigterm;
mod sink_malloc;
mod sink_metrics;
mod stores;

//! The benchmark harness (issue #4): one run on a fresh local broker loads
//! synthetic posts with the collector, measures a null consumer (the limit),
//! the filter service in 1–3 replicas with and without text features, a
//! Quix Streams peer, and end-to-end latency through collector → filters →
//! sink, sampling each process's peak RSS and CPU time.

pub mod bench;
pub mod broker;
pub mod cpu;
pub mod filter_run;
pub mod latency;
pub mod load;
pub mod null_consumer;
pub mod pairs;
#[cfg(test)]
mod proc_timing;
pub mod process;
pub mod quix;
pub mod report;
pub mod services;
pub mod topics;

//! What the fault tests share: a broker, unique topics and group, a temp
//! dir, and services started as processes or in-process.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

use weibostream_shared::Topics;
use weibostream_shared::kafka::KafkaSettings;
use weibostream_tests::pipeline::write_rules;
use weibostream_tests::process::{ServiceProcess, spawn_filter};
use weibostream_tests::{Broker, unique, unique_topics};

pub struct Setup {
    pub broker: Broker,
    pub kafka: KafkaSettings,
    pub topics: Topics,
    pub group: String,
    pub dir: tempfile::TempDir,
    /// The rules file every replica reads, written once: rewriting it for
    /// each replica truncated it while an earlier replica was reading it,
    /// and that replica exited with "no rules defined" (a flaky failure).
    rules: std::path::PathBuf,
}

impl Setup {
    pub fn new() -> Setup {
        let broker = Broker::start();
        let kafka = broker.kafka();
        let dir = tempfile::tempdir().unwrap();
        let rules = write_rules(dir.path(), &[("ccb-rise", "建设银行 AND 涨")]);
        Setup {
            broker,
            kafka,
            topics: unique_topics(),
            group: unique("filter"),
            dir,
            rules,
        }
    }

    pub fn rules(&self) -> std::path::PathBuf {
        self.rules.clone()
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    pub fn filter_process(&self, name: &str) -> ServiceProcess {
        spawn_filter(
            &self.kafka,
            &self.topics,
            &self.group,
            &self.rules(),
            name,
            self.dir.path(),
        )
    }

    pub fn sink_process(&self, name: &str, group: &str) -> ServiceProcess {
        let env = [
            ("SINK__GROUP", group.to_string()),
            ("SINK__PRINT", "false".to_string()),
            ("SINK__GRACE_MS", "3000".to_string()),
            (
                "SINK__JSONL_PATH",
                self.path("matched.jsonl").display().to_string(),
            ),
        ];
        ServiceProcess::spawn(
            "sink",
            &self.kafka,
            &self.topics,
            &env,
            &[],
            self.dir.path(),
            name,
        )
    }

    pub fn collector_process(&self, name: &str, args: &[&str]) -> ServiceProcess {
        ServiceProcess::spawn(
            "collector",
            &self.kafka,
            &self.topics,
            &[],
            args,
            self.dir.path(),
            name,
        )
    }
}

/// The `published=N` a collector logged when it stopped.
pub fn published(log: &Path) -> u64 {
    let text = std::fs::read_to_string(log).unwrap();
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains("collector stopped"))
        .unwrap_or_else(|| panic!("{text}"));
    let value = line
        .split("published=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    value.parse().unwrap()
}

//! Scaling down on the local broker: the group's leader stops while the
//! group is re-forming after another replica stopped. On Tansu a LeaveGroup
//! in that state removes the member but keeps it as the group's leader, so
//! no SyncGroup ever completes and the last replica keeps its old share
//! (2 of 6 partitions) for good. With `kafka.local_broker_quirks` a stopping
//! replica process does not send LeaveGroup; the broker evicts it after the
//! session timeout, which also hands the leadership on.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use weibostream_shared::Topics;

/// A filter replica process whose log goes to a file.
struct Replica {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Replica {
    fn start(dir: &Path, name: &str, brokers: &str, topics: &Topics, group: &str) -> Replica {
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_filter"))
            .args(["--rules", &dir.join("rules.toml").display().to_string()])
            .args(["--replica-id", name])
            .env("KAFKA_BROKERS", brokers)
            .env("KAFKA_LOCAL_BROKER_QUIRKS", "true")
            .env("FILTER__GROUP", group)
            .env("FILTER__TOPICS__RAW", &topics.raw)
            .env("FILTER__TOPICS__MATCHED", &topics.matched)
            .env("FILTER__TOPICS__REPORTS", &topics.reports)
            .env("FILTER__TOPICS__DLQ", &topics.dlq)
            .env("FILTER__BATCH_INTERVAL_MS", "500")
            .env("FILTER__HTTP__BIND", "off")
            // The JoinGroup responses name the group's leader.
            .env("FILTER__KAFKA__LIBRDKAFKA__DEBUG", "cgrp")
            .env("RUST_LOG", "info,librdkafka=debug")
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Replica {
            name: name.to_string(),
            child,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The partitions this replica owns, from its "partitions assigned" and
    /// "partitions revoked" lines (the assignment is incremental).
    fn owned(&self) -> BTreeSet<i32> {
        let mut owned = BTreeSet::new();
        for line in self.log().lines() {
            let assigned = line.contains("partitions assigned");
            if !assigned && !line.contains("partitions revoked") {
                continue;
            }
            let Some(list) = line.split("partitions=[").nth(1) else {
                continue;
            };
            let list = list.split(']').next().unwrap_or("");
            for p in list.split(',').filter_map(|p| p.trim().parse::<i32>().ok()) {
                if assigned {
                    owned.insert(p);
                } else {
                    owned.remove(&p);
                }
            }
        }
        owned
    }

    /// (leader, own member id) from the last JoinGroup response.
    fn leadership(&self) -> Option<(String, String)> {
        let log = self.log();
        let line = log.lines().rev().find(|l| {
            l.contains("JoinGroup response: GenerationId") && !l.contains("LeaderId ,")
        })?;
        let field = |name: &str| {
            line.split(name)
                .nth(1)
                .map(|rest| rest.split([',', ' ']).next().unwrap_or("").to_string())
        };
        Some((field("LeaderId ")?, field("my MemberId ")?))
    }

    fn terminate_and_wait(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{} exited with {status}", self.name);
                return;
            }
            assert!(Instant::now() < deadline, "{} did not stop", self.name);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_last_replica_takes_every_partition_when_the_leader_stops_mid_rebalance() {
    let broker = Broker::start();
    let topics = unique_topics();
    let group = unique("scale-down");
    let dir = tempfile::tempdir().unwrap();
    write_rules(&dir.path().join("rules.toml"), &[("any", "银行")]);
    let mut replicas: Vec<Replica> = ["r1", "r2", "r3"]
        .iter()
        .map(|name| Replica::start(dir.path(), name, &broker.address, &topics, &group))
        .collect();

    // Three members, every partition owned once, one leader they agree on.
    let formed = Instant::now();
    let leader = loop {
        let owned: Vec<BTreeSet<i32>> = replicas.iter().map(Replica::owned).collect();
        let all: BTreeSet<i32> = owned.iter().flatten().copied().collect();
        let total: usize = owned.iter().map(BTreeSet::len).sum();
        let views: Vec<Option<(String, String)>> =
            replicas.iter().map(Replica::leadership).collect();
        let leaders: BTreeSet<&str> = views.iter().flatten().map(|(l, _)| l.as_str()).collect();
        if all.len() == 6 && total == 6 && owned.iter().all(|o| !o.is_empty()) && leaders.len() == 1
        {
            let leader = views
                .iter()
                .position(|v| v.as_ref().is_some_and(|(l, me)| l == me));
            if let Some(leader) = leader {
                break leader;
            }
        }
        assert!(
            formed.elapsed() < Duration::from_secs(90),
            "the three replicas did not share the 6 partitions under one leader: {:?} {:?}",
            replicas.iter().map(Replica::owned).collect::<Vec<_>>(),
            replicas.iter().map(Replica::leadership).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let follower = (0..3).find(|&i| i != leader).unwrap();
    let last = (0..3).find(|&i| i != leader && i != follower).unwrap();

    // A follower stops first (the group starts re-forming: a join waits
    // about half the session timeout on this broker), then the leader.
    replicas[follower].terminate_and_wait();
    replicas[leader].terminate_and_wait();

    let stopped = Instant::now();
    let limit = Duration::from_secs(45);
    loop {
        let owned = replicas[last].owned();
        if owned.len() == 6 {
            break;
        }
        assert!(
            stopped.elapsed() < limit,
            "{} still owns {owned:?} {} s after the leader stopped mid-rebalance",
            replicas[last].name,
            limit.as_secs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

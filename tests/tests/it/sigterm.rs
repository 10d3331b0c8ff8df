//! Every service stopped with SIGTERM mid-stream and restarted, one after
//! another: the output equals the oracle exactly, with no duplicates. (In the
//! `whole-pipeline` test group, so it does not run beside the other fault tests.)
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use weibostream_tests::pipeline::{assert_output_equals, oracle, wait_for_assignments};
use weibostream_tests::process::ServiceProcess;
use weibostream_tests::unique;

use crate::common::{Setup, published};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_to_each_service_in_turn_then_restart_loses_and_doubles_nothing() {
    let setup = Setup::new();
    let sink_group = unique("sink");
    let mut sink = setup.sink_process("sink-1", &sink_group);
    let mut filters: Vec<ServiceProcess> = ["r0", "r1", "r2"]
        .iter()
        .map(|n| setup.filter_process(n))
        .collect();
    wait_for_assignments(
        &setup.kafka,
        &setup.topics.reports,
        &["r0", "r1", "r2"],
        Duration::from_secs(60),
    )
    .await;
    let args = [
        "--synthetic",
        "--rate",
        "6000",
        "--count",
        "60000",
        "--seed",
        "5",
    ];

    let mut collector = setup.collector_process("collector-1", &args);
    tokio::time::sleep(Duration::from_secs(2)).await;
    collector.signal("TERM");
    assert!(
        collector.wait(Duration::from_secs(20)).success(),
        "collector exit after SIGTERM"
    );
    let first_run = published(&collector.log);
    // The same seed again: the same posts (same ids) are published a second time.
    let mut collector = setup.collector_process("collector-2", &args);

    tokio::time::sleep(Duration::from_secs(2)).await;
    filters[0].signal("TERM");
    assert!(
        filters[0].wait(Duration::from_secs(20)).success(),
        "filter exit after SIGTERM"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    filters[0] = setup.filter_process("r0");

    tokio::time::sleep(Duration::from_secs(2)).await;
    sink.signal("TERM");
    assert!(
        sink.wait(Duration::from_secs(20)).success(),
        "sink exit after SIGTERM"
    );
    let mut sink = setup.sink_process("sink-2", &sink_group);

    assert!(
        collector.wait(Duration::from_secs(60)).success(),
        "second collector run"
    );
    let total = first_run + published(&collector.log);
    let expected = oracle(&setup.kafka, &setup.topics.raw, total).await;
    assert_output_equals(&setup.path("matched.jsonl"), &expected).await;
    sink.signal("TERM");
    assert!(sink.wait(Duration::from_secs(20)).success());
    for mut filter in filters {
        filter.signal("TERM");
        assert!(filter.wait(Duration::from_secs(20)).success());
    }
}

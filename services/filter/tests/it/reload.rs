//! Live rule reload against a real broker: an edited rules file takes effect
//! from a later batch without a restart, a broken one keeps the old rules,
//! and with polling off a reload request (what SIGHUP sends) does it.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::support::*;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(40);

/// Reports listing rule `id` (every report lists every rule it matched with).
fn reports_with_rule(reports: &[Value], id: &str) -> usize {
    reports
        .iter()
        .filter(|r| r["matched_per_rule"].get(id).is_some())
        .count()
}

fn rules_of(matched: &[Value], post: &str) -> Option<Vec<String>> {
    matched
        .iter()
        .find(|m| m["post"]["id"] == format!("weibo:{post}"))
        .map(|m| serde_json::from_value(m["rules"].clone()).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_rules_file_applies_without_restart_and_a_broken_one_is_ignored() {
    let broker = Broker::start();
    let kafka = broker.kafka();
    let topics = unique_topics();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    write_rules(&rules, &[("alpha", "alpha")]);
    let mut config = config(&kafka, &topics, &rules);
    config.rules_poll_ms = 200;
    let filter = start_filter(config);
    let read = |topic: &str| read_all(&kafka, topic, Duration::from_secs(3));

    eventually(
        LIMIT,
        || read(&topics.reports),
        |r| reports_with_rule(r, "alpha") > 0,
    )
    .await;
    publish(&kafka, &topics.raw, "1", "alpha beta").await;
    let matched = eventually(
        LIMIT,
        || read(&topics.matched),
        |m| rules_of(m, "1").is_some(),
    )
    .await;
    assert_eq!(rules_of(&matched, "1").unwrap(), ["alpha"]);

    write_rules(&rules, &[("beta", "beta")]);
    eventually(
        LIMIT,
        || read(&topics.reports),
        |r| reports_with_rule(r, "beta") > 0,
    )
    .await;
    publish(&kafka, &topics.raw, "2", "alpha beta").await;
    let matched = eventually(
        LIMIT,
        || read(&topics.matched),
        |m| rules_of(m, "2").is_some(),
    )
    .await;
    assert_eq!(rules_of(&matched, "2").unwrap(), ["beta"]);

    std::fs::write(
        &rules,
        "[[rule]]\nid = \"gamma\"\nquery = \"gamma AND (\"\n",
    )
    .unwrap();
    // Several batches (and polls) after the broken edit, the old rules still run.
    let seen = reports_with_rule(&read(&topics.reports), "beta");
    eventually(
        LIMIT,
        || read(&topics.reports),
        |r| reports_with_rule(r, "beta") >= seen + 4,
    )
    .await;
    publish(&kafka, &topics.raw, "3", "beta gamma").await;
    let matched = eventually(
        LIMIT,
        || read(&topics.matched),
        |m| rules_of(m, "3").is_some(),
    )
    .await;
    assert_eq!(rules_of(&matched, "3").unwrap(), ["beta"]);
    assert_eq!(reports_with_rule(&read(&topics.reports), "gamma"), 0);

    // Fixing the file is picked up again.
    write_rules(&rules, &[("gamma", "gamma")]);
    eventually(
        LIMIT,
        || read(&topics.reports),
        |r| reports_with_rule(r, "gamma") > 0,
    )
    .await;
    filter.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_polling_off_a_reload_request_swaps_the_rules() {
    let broker = Broker::start();
    let kafka = broker.kafka();
    let topics = unique_topics();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    write_rules(&rules, &[("alpha", "alpha")]);
    let mut config = config(&kafka, &topics, &rules);
    config.rules_poll_ms = 0;
    let filter = start_filter(config);
    let read = || read_all(&kafka, &topics.reports, Duration::from_secs(3));

    eventually(LIMIT, read, |r| reports_with_rule(r, "alpha") > 0).await;
    write_rules(&rules, &[("beta", "beta")]);
    let seen = reports_with_rule(&read(), "alpha");
    eventually(LIMIT, read, |r| reports_with_rule(r, "alpha") >= seen + 4).await;
    assert_eq!(
        reports_with_rule(&read(), "beta"),
        0,
        "no polling: no reload yet"
    );

    filter.reload.request();
    eventually(LIMIT, read, |r| reports_with_rule(r, "beta") > 0).await;
    filter.stop().await;
}

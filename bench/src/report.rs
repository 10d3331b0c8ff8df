//! The results: one JSON object (`bench/results/latest.json`, numbers only)
//! and a table on screen.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::filter_run::FilterRun;
use crate::latency::LatencyRun;
use crate::load::Loaded;
use crate::pairs::{Pair, median};
use crate::quix::QuixRun;

/// Everything one benchmark run measured.
pub struct Results {
    /// Load and null consumer.
    pub loaded: Loaded,
    /// Filter runs, rules only then with text features.
    pub filters: Vec<FilterRun>,
    /// The filter ×1 next to the null consumer, round by round (the first
    /// from the main runs); empty without a ×1 run.
    pub pairs: Vec<Pair>,
    /// Quix Streams runs.
    pub quix: Vec<QuixRun>,
    /// The end-to-end run.
    pub latency: Option<LatencyRun>,
    /// Batch interval of the throughput runs, ms.
    pub batch_interval_ms: u64,
    /// Machine facts and load averages.
    pub machine: Value,
    /// ISO date-time of the run.
    pub date: String,
}

fn by_replicas(runs: &[&FilterRun], value: impl Fn(&FilterRun) -> f64) -> Value {
    let map: Map<String, Value> = runs
        .iter()
        .map(|r| (r.replicas.to_string(), json!(round(value(r), 3))))
        .collect();
    Value::Object(map)
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

impl Results {
    /// The results as the JSON object of `latest.json`.
    pub fn to_json(&self) -> Value {
        let null = self.loaded.null.posts_per_s();
        let rules: Vec<&FilterRun> = self.filters.iter().filter(|r| !r.text).collect();
        let text: Vec<&FilterRun> = self.filters.iter().filter(|r| r.text).collect();
        let mut out = json!({
            "date": self.date,
            "machine": self.machine,
            "posts": self.loaded.posts,
            "post_sample": self.loaded.sample,
            "collector_posts_per_s": round(self.loaded.collector_posts_per_s, 0),
            "null_consumer_posts_per_s": round(null, 0),
            "null_consumer_mb_per_s": round(self.loaded.null.mb_per_s(), 1),
            "null_consumer_join_s": round(self.loaded.null_join_s, 3),
            "batch_interval_ms": self.batch_interval_ms,
            "filter_posts_per_s": by_replicas(&rules, |r| r.posts_per_s.round()),
            "filter_ratio_to_null": by_replicas(&rules, |r| r.posts_per_s / null),
            "filter_join_s": by_replicas(&rules, |r| r.join_s),
            "filter_until_committed_s": by_replicas(&rules, |r| r.until_committed_s),
            "filter_peak_rss_mb": round(rules.iter().map(|r| r.peak_rss_mb).fold(0.0, f64::max), 1),
            "filter_cpu_s": by_replicas(&rules, |r| r.cpu_s),
            "filter_runs": self.filters,
        });
        let obj = out.as_object_mut().expect("a JSON object literal");
        if !text.is_empty() {
            obj.insert(
                "filter_text_posts_per_s".into(),
                by_replicas(&text, |r| r.posts_per_s.round()),
            );
            obj.insert(
                "filter_text_ratio_to_null".into(),
                by_replicas(&text, |r| r.posts_per_s / null),
            );
            let peak = text.iter().map(|r| r.peak_rss_mb).fold(0.0, f64::max);
            obj.insert("filter_text_peak_rss_mb".into(), json!(round(peak, 1)));
        }
        if let Some(one) = self.quix.iter().find(|q| q.instances == 1) {
            obj.insert("quix_posts_per_s".into(), json!(round(one.posts_per_s, 0)));
            obj.insert("quix_matched".into(), json!(one.matched));
            obj.insert("quix_peak_rss_mb".into(), json!(round(one.peak_rss_mb, 1)));
        }
        if !self.quix.is_empty() {
            let per: Map<String, Value> = self
                .quix
                .iter()
                .map(|q| (q.instances.to_string(), json!(round(q.posts_per_s, 0))))
                .collect();
            obj.insert("quix_posts_per_s_by_instances".into(), Value::Object(per));
            let ratio: Map<String, Value> = self
                .quix
                .iter()
                .filter_map(|q| {
                    let ours = rules.iter().find(|r| r.replicas == q.instances)?;
                    Some((
                        q.instances.to_string(),
                        json!(round(ours.posts_per_s / q.posts_per_s, 2)),
                    ))
                })
                .collect();
            obj.insert("filter_to_quix_ratio".into(), Value::Object(ratio));
            obj.insert("quix_runs".into(), json!(self.quix));
        }
        self.insert_pairs(obj);
        if let Some(ccb) = rules
            .first()
            .and_then(|r| r.matched_per_rule.get("ccb-rise"))
        {
            obj.insert("filter_matched_ccb_rise".into(), json!(ccb));
        }
        let mut services = json!({
            "collector_load": self.loaded.collector,
            "null_consumer": self.loaded.null_usage,
            "null_consumer_machine": self.loaded.null_machine,
        });
        if let Some(e2e) = &self.latency {
            for (key, value) in [
                ("e2e_rate_per_s", json!(e2e.rate_per_s)),
                ("e2e_p50_ms_raw", json!(round(e2e.raw_ms.p50, 1))),
                ("e2e_p95_ms_raw", json!(round(e2e.raw_ms.p95, 1))),
                ("e2e_p99_ms_raw", json!(round(e2e.raw_ms.p99, 1))),
                (
                    "e2e_p50_ms_after_close",
                    json!(round(e2e.after_close_ms.p50, 1)),
                ),
                (
                    "e2e_p95_ms_after_close",
                    json!(round(e2e.after_close_ms.p95, 1)),
                ),
                (
                    "e2e_p99_ms_after_close",
                    json!(round(e2e.after_close_ms.p99, 1)),
                ),
                ("e2e", json!(e2e)),
            ] {
                obj.insert(key.into(), value);
            }
            services["e2e_collector"] = json!(e2e.collector);
            services["e2e_filters"] = json!(e2e.filter);
            services["e2e_sink"] = json!(e2e.sink);
        }
        obj.insert("services".into(), services);
        out
    }

    /// The paired rounds and their medians: `paired_x1` (each round),
    /// `filter_x1_ratio_median`, `filter_text_x1_ratio_median`,
    /// `filter_x1_posts_per_s_median` and `filter_to_quix_ratio_median`.
    fn insert_pairs(&self, obj: &mut Map<String, Value>) {
        if self.pairs.is_empty() {
            return;
        }
        let rounds: Vec<Value> = self
            .pairs
            .iter()
            .map(|p| {
                json!({
                    "null_posts_per_s": round(p.null_posts_per_s, 0),
                    "filter_posts_per_s": round(p.filter_posts_per_s, 0),
                    "ratio": round(p.ratio(), 3),
                    "text_posts_per_s": p.text_posts_per_s.map(|t| round(t, 0)),
                    "text_ratio": p.text_ratio().map(|r| round(r, 3)),
                })
            })
            .collect();
        obj.insert("paired_x1".into(), Value::Array(rounds));
        let ratio = median(self.pair_ratios());
        let text = median(self.pair_text_ratios());
        let speed = median(self.pairs.iter().map(|p| p.filter_posts_per_s).collect());
        let quix = self.quix.iter().find(|q| q.instances == 1);
        for (key, value) in [
            ("filter_x1_ratio_median", ratio.map(|r| round(r, 3))),
            ("filter_text_x1_ratio_median", text.map(|r| round(r, 3))),
            ("filter_x1_posts_per_s_median", speed.map(|v| round(v, 0))),
            (
                "filter_to_quix_ratio_median",
                speed.zip(quix).map(|(v, q)| round(v / q.posts_per_s, 2)),
            ),
        ] {
            if let Some(value) = value {
                obj.insert(key.into(), json!(value));
            }
        }
    }

    /// Filter ×1 / null consumer, round by round.
    fn pair_ratios(&self) -> Vec<f64> {
        self.pairs.iter().map(Pair::ratio).collect()
    }

    /// Filter + text ×1 / null consumer, for the rounds that measured it.
    fn pair_text_ratios(&self) -> Vec<f64> {
        self.pairs.iter().filter_map(Pair::text_ratio).collect()
    }

    /// The paired rounds as table lines.
    fn pairs_table(&self, t: &mut String) {
        if self.pairs.len() < 2 {
            return;
        }
        let list = |ratios: Vec<f64>| {
            let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
            let middle = median(ratios).unwrap_or(0.0);
            format!("{} -> median {middle:.2}", shown.join(" / "))
        };
        let _ = writeln!(
            t,
            "filter x1 / null consumer, {} alternated rounds: {}",
            self.pairs.len(),
            list(self.pair_ratios())
        );
        let text = self.pair_text_ratios();
        if !text.is_empty() {
            let _ = writeln!(
                t,
                "filter +text x1 / null consumer, {} rounds: {}",
                text.len(),
                list(text)
            );
        }
    }

    /// A readable table of the headline numbers.
    pub fn table(&self) -> String {
        let null = self.loaded.null.posts_per_s();
        let mut t = String::new();
        let l = &self.loaded;
        let _ = writeln!(
            t,
            "\n== weibostream benchmark: {} posts, {} ==",
            l.posts, self.date
        );
        let _ = writeln!(t, "machine: {}", self.machine);
        let _ = writeln!(
            t,
            "posts: mean {:.0} B record, {:.0} B text, {:.0}% Chinese",
            l.sample.mean_record_bytes,
            l.sample.mean_text_bytes,
            l.sample.zh_share * 100.0
        );
        let _ = writeln!(
            t,
            "{:<34} {:>12} {:>8} {:>8} {:>9} {:>8} {:>7} {:>9}",
            "", "posts/s", "x null", "join s", "peak MiB", "CPU s", "busy %", "broker s"
        );
        let _ = writeln!(
            t,
            "{:<34} {:>12.0} {:>8} {:>8} {:>9.1} {:>8.2}",
            "collector load (publish, acked)",
            l.collector_posts_per_s,
            "",
            "",
            l.collector.peak_rss_mb,
            l.collector.cpu_s
        );
        let _ = writeln!(
            t,
            "{:<34} {:>12.0} {:>8.2} {:>8.2} {:>9.1} {:>8.2} {:>7.0} {:>9.2}",
            format!("null consumer ({:.0} MB/s)", l.null.mb_per_s()),
            null,
            1.0,
            l.null_join_s,
            l.null_usage.peak_rss_mb,
            l.null_usage.cpu_s,
            l.null_machine.machine_busy * 100.0,
            l.null_machine.broker_cpu_s
        );
        for run in &self.filters {
            let name = format!(
                "filter{} x{}",
                if run.text { " +text" } else { "" },
                run.replicas
            );
            let _ = writeln!(
                t,
                "{:<34} {:>12.0} {:>8.2} {:>8.2} {:>9.1} {:>8.2} {:>7.0} {:>9.2}",
                name,
                run.posts_per_s,
                run.posts_per_s / null,
                run.join_s,
                run.peak_rss_mb,
                run.cpu_s,
                run.machine.machine_busy * 100.0,
                run.machine.broker_cpu_s
            );
        }
        for run in &self.quix {
            let name = format!("quix streams x{} ({} matched)", run.instances, run.matched);
            let _ = writeln!(
                t,
                "{:<34} {:>12.0} {:>8.2} {:>8.2} {:>9.1} {:>8.2}",
                name,
                run.posts_per_s,
                run.posts_per_s / null,
                run.join_s,
                run.peak_rss_mb,
                run.cpu_s
            );
        }
        self.pairs_table(&mut t);
        if let Some(e2e) = &self.latency {
            let _ = writeln!(
                t,
                "end to end at {}/s for {} posts ({} output, batch {} ms):",
                e2e.rate_per_s, e2e.posts, e2e.outputs, e2e.batch_interval_ms
            );
            let _ = writeln!(
                t,
                "  publish -> output      p50 {:>8.1} ms  p95 {:>8.1} ms  p99 {:>8.1} ms",
                e2e.raw_ms.p50, e2e.raw_ms.p95, e2e.raw_ms.p99
            );
            let _ = writeln!(
                t,
                "  batch close -> output  p50 {:>8.1} ms  p95 {:>8.1} ms  p99 {:>8.1} ms",
                e2e.after_close_ms.p50, e2e.after_close_ms.p95, e2e.after_close_ms.p99
            );
            let r = e2e.report_after_close_ms;
            let _ = writeln!(
                t,
                "  batch close -> report  p50 {:>8.1} ms  p95 {:>8.1} ms  p99 {:>8.1} ms (the filters' share)",
                r.p50, r.p95, r.p99
            );
            for (name, u) in [
                ("collector", e2e.collector),
                ("3 filters", e2e.filter),
                ("sink", e2e.sink),
            ] {
                let _ = writeln!(
                    t,
                    "  {name:<10} peak {:>7.1} MiB  CPU {:>7.2} s",
                    u.peak_rss_mb, u.cpu_s
                );
            }
        }
        t
    }
}

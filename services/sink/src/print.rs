//! Spark-pprint-style text for a block: a `Time:` header between dashed
//! lines, the matched posts (with the classifier's label, when the filter has
//! a model), a one-line summary, and the batch's trending terms.
//!
//! Trending terms come from every replica's report: each replica scores the
//! terms of its own partitions, and the block sums a term's scores over the
//! replicas (a term trending on all partitions adds up; replicas see random
//! shares of the same stream, so their IDFs are comparable), then keeps the
//! best `N`, `N` being the longest list a replica sent.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Local, Utc};
use weibostream_shared::records::TermScore;
use weibostream_shared::sanitize::for_terminal;

use crate::merge::{Block, Completion};

const RULE: &str = "-------------------------------------------";

/// How blocks are rendered.
#[derive(Debug, Clone, Copy)]
pub struct PrintOptions {
    /// Posts shown before "... and N more"; 0 shows all.
    pub max_posts: usize,
    /// Show batch times in UTC rather than local time.
    pub utc: bool,
}

/// Renders a block; post text and names are made safe for a terminal.
pub fn render(block: &Block, options: PrintOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{RULE}");
    let _ = write!(out, "Time: {}", format_time(block.batch_time, options.utc));
    match &block.completion {
        Completion::Complete => {}
        Completion::Late { missing_partitions } => {
            let list: Vec<String> = missing_partitions.iter().map(i32::to_string).collect();
            let _ = write!(
                out,
                "  (partitions {} late: printed after the grace period)",
                list.join(", ")
            );
        }
        Completion::Straggler => {
            let _ = write!(out, "  (late matches for a batch already printed)");
        }
    }
    let _ = writeln!(out, "\n{RULE}");
    let shown = if options.max_posts == 0 {
        block.posts.len()
    } else {
        block.posts.len().min(options.max_posts)
    };
    for matched in &block.posts[..shown] {
        let post = &matched.post;
        let verified = if post.author.verified { " ✓" } else { "" };
        let label = match (&matched.label, matched.probability) {
            (Some(label), Some(p)) => format!("  ({} {p:.2})", for_terminal(label)),
            (Some(label), None) => format!("  ({})", for_terminal(label)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "@{}{}: {}  [{}]{label}",
            for_terminal(&post.author.name),
            verified,
            for_terminal(&post.text),
            for_terminal(&matched.rules.join(", "))
        );
    }
    if shown < block.posts.len() {
        let _ = writeln!(out, "... and {} more", block.posts.len() - shown);
    }
    if block.completion != Completion::Straggler {
        let _ = writeln!(out, "{}", summary(block));
        trending(block, &mut out);
    }
    out.push('\n');
    out
}

fn format_time(time: DateTime<Utc>, utc: bool) -> String {
    if utc {
        time.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        time.with_timezone(&Local)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }
}

/// `trending: term (score), ...` and one indented line per rule with terms.
fn trending(block: &Block, out: &mut String) {
    let overall = merge_terms(block.reports.iter().map(|r| r.top_terms.as_slice()));
    if !overall.is_empty() {
        let _ = writeln!(out, "trending: {}", format_terms(&overall));
    }
    let mut rules: BTreeMap<&str, Vec<&[TermScore]>> = BTreeMap::new();
    for report in &block.reports {
        for (rule, terms) in &report.top_terms_per_rule {
            rules.entry(rule.as_str()).or_default().push(terms);
        }
    }
    for (rule, lists) in rules {
        let terms = merge_terms(lists.into_iter());
        if !terms.is_empty() {
            let _ = writeln!(out, "  {}: {}", for_terminal(rule), format_terms(&terms));
        }
    }
}

/// Sums each term's scores over the lists; best first (ties by term),
/// as many as the longest list.
pub(crate) fn merge_terms<'a>(lists: impl Iterator<Item = &'a [TermScore]>) -> Vec<(&'a str, f64)> {
    let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
    let mut keep = 0;
    for list in lists {
        keep = keep.max(list.len());
        for term in list {
            *sums.entry(term.term.as_str()).or_default() += term.score;
        }
    }
    let mut merged: Vec<(&str, f64)> = sums.into_iter().collect();
    merged.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    merged.truncate(keep);
    merged
}

fn format_terms(terms: &[(&str, f64)]) -> String {
    let parts: Vec<String> = terms
        .iter()
        .map(|(term, score)| format!("{} ({score:.1})", for_terminal(term)))
        .collect();
    parts.join(", ")
}

fn summary(block: &Block) -> String {
    let posts_in: u64 = block.reports.iter().map(|r| r.posts_in).sum();
    let dead: u64 = block.reports.iter().map(|r| r.dead_lettered).sum();
    let mut per_rule: BTreeMap<&str, u64> = BTreeMap::new();
    for report in &block.reports {
        for (rule, n) in &report.matched_per_rule {
            *per_rule.entry(rule.as_str()).or_default() += n;
        }
    }
    let rules: Vec<String> = per_rule
        .iter()
        .map(|(rule, n)| format!("{}: {n}", for_terminal(rule)))
        .collect();
    let slowest = block
        .reports
        .iter()
        .map(|r| r.processing_ms)
        .fold(0.0, f64::max);
    let mut line = format!(
        "({posts_in} posts in, {} matched{} | {} replica{}, {}/{} partitions | slowest replica {slowest:.0} ms",
        block.posts.len(),
        if rules.is_empty() {
            String::new()
        } else {
            format!(" ({})", rules.join(", "))
        },
        block.reports.len(),
        if block.reports.len() == 1 { "" } else { "s" },
        block.covered_partitions().len(),
        block.partition_count,
    );
    if dead > 0 {
        let _ = write!(line, " | {dead} dead-lettered");
    }
    if block.duplicates_dropped > 0 {
        let _ = write!(
            line,
            " | {} redelivered duplicates dropped",
            block.duplicates_dropped
        );
    }
    line.push(')');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::Completion;

    fn empty_block(completion: Completion) -> Block {
        Block {
            batch_time: DateTime::from_timestamp(1_421_837_405, 0).unwrap(),
            posts: vec![],
            raw: vec![],
            duplicates_dropped: 0,
            reports: vec![],
            partition_count: 6,
            completion,
            receipts: vec![],
        }
    }

    #[test]
    fn renders_a_spark_style_header() {
        let text = render(
            &empty_block(Completion::Complete),
            PrintOptions {
                max_posts: 10,
                utc: true,
            },
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], RULE);
        assert_eq!(lines[1], "Time: 2015-01-21 10:50:05");
        assert_eq!(lines[2], RULE);
        assert!(
            lines[3].starts_with("(0 posts in, 0 matched"),
            "{}",
            lines[3]
        );
    }

    fn report(
        terms: &[(&str, f64)],
        rule_terms: &[(&str, f64)],
    ) -> weibostream_shared::BatchReport {
        let list = |terms: &[(&str, f64)]| -> Vec<TermScore> {
            terms
                .iter()
                .map(|(term, score)| TermScore {
                    term: (*term).into(),
                    score: *score,
                })
                .collect()
        };
        let mut per_rule = BTreeMap::new();
        if !rule_terms.is_empty() {
            per_rule.insert("ccb".to_string(), list(rule_terms));
        }
        weibostream_shared::BatchReport {
            batch_time: DateTime::from_timestamp(1_421_837_405, 0).unwrap(),
            interval_ms: 5000,
            replica: "r".into(),
            partitions: vec![],
            posts_in: 1,
            dead_lettered: 0,
            matched_posts: 0,
            matched_per_rule: BTreeMap::new(),
            processing_ms: 1.0,
            top_terms: list(terms),
            top_terms_per_rule: per_rule,
            lag: None,
        }
    }

    #[test]
    fn trending_terms_are_summed_over_replicas() {
        let mut block = empty_block(Completion::Complete);
        block.reports = vec![
            report(&[("地震", 5.0), ("天气", 2.0)], &[("涨", 3.0)]),
            report(&[("天气", 4.0), ("股票", 1.0)], &[]),
        ];
        let options = PrintOptions {
            max_posts: 10,
            utc: true,
        };
        let text = render(&block, options);
        assert!(
            text.contains("trending: 天气 (6.0), 地震 (5.0)\n"),
            "{text}"
        );
        assert!(text.contains("  ccb: 涨 (3.0)\n"), "{text}");
        let quiet = render(&empty_block(Completion::Complete), options);
        assert!(!quiet.contains("trending"), "{quiet}");
    }

    #[test]
    fn names_late_partitions() {
        let block = empty_block(Completion::Late {
            missing_partitions: vec![2, 5],
        });
        let text = render(
            &block,
            PrintOptions {
                max_posts: 10,
                utc: true,
            },
        );
        assert!(text.contains("partitions 2, 5 late"), "{text}");
    }
}

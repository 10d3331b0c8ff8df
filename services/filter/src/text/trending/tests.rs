//! Trending terms: spikes rank first, ever-present words sink, the history
//! slides.

use super::*;

/// A batch of `posts` posts: every post has `天气`, every other one `今天`,
/// post `i` has filler word `w{i % 7}`, and the first `spike` posts have `地震`
/// and match rule 0.
fn batch(posts: usize, spike: usize) -> BatchTerms {
    let mut batch = BatchTerms::new(2);
    for i in 0..posts {
        let filler = format!("w{}", i % 7);
        let mut tokens = vec!["天气", filler.as_str()];
        if i % 2 == 0 {
            tokens.push("今天");
        }
        if i < spike {
            tokens.extend(["地震", "地震"]);
        }
        let rules: &[usize] = if i < spike { &[0] } else { &[] };
        batch.add_post(tokens.into_iter(), rules);
    }
    batch
}

fn terms(scores: &[TermScore]) -> Vec<&str> {
    scores.iter().map(|t| t.term.as_str()).collect()
}

#[test]
fn a_planted_spike_ranks_first() {
    let mut history = TermHistory::new(60);
    for _ in 0..10 {
        history.close(batch(100, 0), 10, 2);
    }
    let trending = history.close(batch(100, 20), 3, 2);
    assert_eq!(terms(&trending.overall)[0], "地震", "{trending:?}");
    assert!(
        trending.overall[0].score > 2.0 * trending.overall[1].score,
        "{trending:?}"
    );
    assert_eq!(trending.overall.len(), 3);
    let rule = &trending.per_rule[&0];
    assert_eq!(terms(rule)[0], "地震");
    assert!(
        !trending.per_rule.contains_key(&1),
        "rule 1 matched nothing"
    );
}

#[test]
fn ever_present_words_have_idf_near_one() {
    let mut history = TermHistory::new(5);
    assert!(history.is_empty());
    for _ in 0..5 {
        history.close(batch(50, 0), 10, 2);
    }
    assert!((history.idf("天气") - 1.0).abs() < 1e-9);
    assert!(history.idf("今天") > 1.5 && history.idf("今天") < 2.0);
    assert!(history.idf("never-seen") > 5.0);
}

#[test]
fn history_slides_and_forgets() {
    let mut history = TermHistory::new(3);
    history.close(batch(10, 10), 10, 2);
    let before = history.idf("地震");
    for _ in 0..3 {
        history.close(batch(10, 0), 10, 2);
    }
    assert_eq!(history.len(), 3);
    assert!(
        history.idf("地震") > before,
        "the spike batch left the history"
    );
    assert!(!history.totals.contains_key("地震"));
    assert_eq!(history.total_posts, 30);
}

#[test]
fn rare_terms_need_min_posts_unless_the_scope_is_smaller() {
    let mut history = TermHistory::new(10);
    let mut one = BatchTerms::new(1);
    one.add_post(["孤词", "天气"].into_iter(), &[0]);
    one.add_post(["天气"].into_iter(), &[]);
    assert_eq!(one.posts(), 2);
    let trending = history.close(one, 10, 2);
    assert_eq!(terms(&trending.overall), ["天气"]);
    assert_eq!(
        terms(&trending.per_rule[&0]),
        ["天气", "孤词"],
        "one post: threshold 1"
    );
}

#[test]
fn empty_batches_report_nothing_and_are_not_remembered() {
    let mut history = TermHistory::new(10);
    let trending = history.close(BatchTerms::new(3), 10, 2);
    assert_eq!(trending, Trending::default());
    assert!(history.is_empty());
}

#[test]
fn a_term_counts_once_per_post_however_often_it_appears() {
    let mut batch = BatchTerms::new(2);
    batch.add_post(["a", "b", "a", "a"].into_iter(), &[0]);
    batch.add_post(["a", "c", "c"].into_iter(), &[]);
    batch.add_post(["b", "b"].into_iter(), &[0, 1]);
    let posts =
        |counts: &HashMap<Box<str>, PostCount>, term: &str| counts.get(term).map_or(0, |c| c.posts);
    assert_eq!(batch.posts(), 3);
    let all = &batch.terms;
    assert_eq!(
        (posts(all, "a"), posts(all, "b"), posts(all, "c")),
        (2, 2, 1)
    );
    let (rule0_posts, rule0) = &batch.per_rule[0];
    assert_eq!(
        (*rule0_posts, posts(rule0, "a"), posts(rule0, "b")),
        (2, 1, 2)
    );
    let (rule1_posts, rule1) = &batch.per_rule[1];
    assert_eq!(
        (*rule1_posts, posts(rule1, "a"), posts(rule1, "b")),
        (1, 0, 1)
    );
}

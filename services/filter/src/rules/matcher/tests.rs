//! Matcher tests, through the public [`RuleSet`] API.

use crate::rules::{LabelScore, MatchScratch, RuleError, RuleSet};

fn set(rules: &[(&str, &str)]) -> RuleSet {
    RuleSet::compile(
        rules
            .iter()
            .map(|(id, q)| ((*id).to_owned(), (*q).to_owned()))
            .collect(),
    )
    .unwrap()
}

fn matches(rules: &RuleSet, text: &str) -> Vec<usize> {
    let mut scratch = rules.scratch();
    let mut matched = vec![99];
    rules.match_text(text, &mut scratch, &mut matched);
    matched
}

/// Whether the single query matches the text.
fn hit(query: &str, text: &str) -> bool {
    !matches(&set(&[("r", query)]), text).is_empty()
}

#[test]
fn chinese_and() {
    let q = "建设银行 AND 涨";
    assert!(hit(q, "建设银行今天大涨"));
    assert!(hit(q, "涨！建设银行"));
    assert!(!hit(q, "建设银行今天大跌"));
    assert!(!hit(q, "工商银行涨"));
    assert!(hit("建设银行 涨", "建设银行今天大涨"));
}

#[test]
fn full_width_and_half_width_are_equal() {
    assert!(hit("ccb", "ＣＣＢ股价"));
    assert!(hit("ＣＣＢ", "ccb"));
    assert!(hit("ＣＣＢ", "CCB"));
    assert!(hit("１０％", "今天涨了10%"));
    assert!(hit("10%", "今天涨了１０％"));
    assert!(hit("カタカナ", "ｶﾀｶﾅ"));
}

#[test]
fn case_insensitive() {
    assert!(hit("Bank", "BANK"));
    assert!(hit("bank", "Bank"));
    assert!(hit("École", "ÉCOLE normale"));
}

#[test]
fn mixed_chinese_and_english() {
    let q = "CCB AND 涨";
    assert!(hit(q, "CCB今天大涨"));
    assert!(hit(q, "今天ccb涨了"));
    assert!(!hit(q, "abcCCB涨"));
    assert!(
        hit("iphone手机", "买了xiphone手机"),
        "CJK literals are substrings"
    );
    assert!(hit("은행", "국민은행이"));
}

#[test]
fn word_boundaries() {
    assert!(hit("bank", "bank"));
    assert!(hit("bank", "the bank, again"));
    assert!(hit("bank", "bank."));
    assert!(hit("bank", "去bank了"));
    assert!(hit("bank", "bank_"), "underscore is not alphanumeric");
    assert!(!hit("bank", "banking"));
    assert!(!hit("bank", "embankment"));
    assert!(!hit("bank", "bank2"));
    assert!(!hit("bank", "2bank"));
    assert!(!hit("bank", "ébank"));
    // Edges that are not word characters are not checked.
    assert!(hit("#bank", "x#bank"));
    assert!(!hit("#bank", "#banking"));
    assert!(hit("c++", "c++x"));
}

#[test]
fn prefix_terms() {
    assert!(hit("bank*", "banking"));
    assert!(hit("bank*", "bank"));
    assert!(hit("bank*", "去banking了"));
    assert!(hit("bank*", "Banks, banks"));
    assert!(!hit("bank*", "embankment"));
    assert!(!hit("bank*", "xbanks"));
}

#[test]
fn whole_word_and_prefix_of_the_same_word_share_a_pattern() {
    let rules = set(&[
        ("exact", "bank"),
        ("prefix", "bank*"),
        ("again", "ＢＡＮＫ"),
    ]);
    assert_eq!(rules.pattern_count(), 1);
    assert_eq!(rules.literal_count(), 2);
    assert_eq!(matches(&rules, "banking"), [1]);
    assert_eq!(matches(&rules, "bank"), [0, 1, 2]);
    assert_eq!(matches(&rules, "embankment"), Vec::<usize>::new());
}

#[test]
fn phrases_span_whitespace_runs() {
    let q = "\"bank of china\"";
    assert!(hit(q, "Bank  of\nChina"));
    assert!(hit(q, "the bank\n\n of\tchina's shares"));
    assert!(hit(q, "去bank of china了"));
    assert!(!hit(q, "bank of chinatown"));
    assert!(!hit(q, "bank ofchina"));
    assert!(!hit(q, "bank china"));
    assert!(hit("\"中国 银行\"", "中国\u{3000}\u{3000}银行"));
}

#[test]
fn not() {
    assert!(hit("NOT spam", "hello"));
    assert!(hit("NOT spam", ""));
    assert!(!hit("NOT spam", "SPAM here"));
    assert!(hit("NOT spam", "spammy"), "whole words only");
    let q = "bank* AND NOT \"food bank\"";
    assert!(hit(q, "banking news"));
    assert!(!hit(q, "local food bank"));
    assert!(!hit(q, "food bank and banking"));
    assert!(!hit("x", ""));
    assert!(hit("a OR NOT b", ""));
    assert!(!hit("a OR NOT b", "b"));
    assert!(hit("a OR NOT b", "b a"));
    assert!(hit("NOT NOT a", "a"));
    assert!(!hit("NOT NOT a", ""));
}

#[test]
fn or_and_precedence() {
    let q = "\"bank of china\" OR (bank* AND NOT \"food bank\")";
    assert!(hit(q, "Bank of China"));
    assert!(hit(q, "food bank of china"));
    assert!(!hit(q, "food bank"));
    assert!(hit("a OR b c", "a"));
    assert!(!hit("a OR b c", "b"));
    assert!(hit("a OR b c", "c b"));
}

#[test]
fn several_rules_match_the_same_text() {
    let rules = set(&[
        ("ccb-rise", "建设银行 AND 涨"),
        (
            "banks-en",
            "\"bank of china\" OR (bank* AND NOT \"food bank\")",
        ),
        ("other", "icbc"),
        ("all-but-spam", "NOT spam"),
    ]);
    assert_eq!(
        matches(&rules, "Bank of China 和 建设银行 都涨了"),
        [0, 1, 3]
    );
    assert_eq!(matches(&rules, "spam"), Vec::<usize>::new());
}

#[test]
fn term_that_is_a_substring_of_another_term() {
    let rules = set(&[
        ("short", "银行"),
        ("long", "建设银行"),
        ("en", "bank"),
        ("en-long", "\"bank of china\""),
    ]);
    assert_eq!(matches(&rules, "建设银行"), [0, 1]);
    assert_eq!(matches(&rules, "工商银行"), [0]);
    assert_eq!(matches(&rules, "bank of china"), [2, 3]);
    assert_eq!(matches(&rules, "bank of chinatown"), [2]);
    let rules = set(&[("left", "\"bank of\""), ("right", "\"of china\"")]);
    assert_eq!(matches(&rules, "bank of china"), [0, 1]);
}

#[test]
fn a_failing_occurrence_does_not_hide_a_later_one() {
    assert!(hit("bank", "embankment bank"));
    assert!(hit("bank", "banking, banks, bank"));
    assert!(hit("bank*", "embank banking"));
    assert!(
        hit("aa", "aaa aa"),
        "overlapping occurrences of the same literal"
    );
    assert!(hit("\"bank of china\"", "bank of chinatown, bank of china"));
    assert!(!hit("aa", "aaaa"));
    // The valid occurrence overlaps the failing one: a non-overlapping scan
    // would resume after "a a" at 1 and never see the one at 3.
    assert!(hit("\"a a\"", "xa a a"));
    assert!(hit("\"银行 bank\"", "建设银行 bank银行 bank"));
    assert!(!hit("\"a a\"", "xa a ax"));
}

#[test]
fn a_literal_used_twice_is_compiled_once() {
    let rules = set(&[("a", "bank OR (bank AND x)"), ("b", "bank")]);
    assert_eq!(rules.literal_count(), 2);
    assert_eq!(matches(&rules, "a bank"), [0, 1]);
}

#[test]
fn bitset_spans_several_words() {
    let owned: Vec<(String, String)> = (0..200)
        .map(|i| (format!("r{i}"), format!("w{i}")))
        .collect();
    let rules = RuleSet::compile(owned).unwrap();
    assert_eq!(rules.literal_count(), 200);
    assert_eq!(matches(&rules, "w150 w3 w199 w2000"), [3, 150, 199]);
}

#[test]
fn rules_without_found_literals_across_bitset_words() {
    // Every third rule is negative, so the rules that match without any of
    // their literals are spread over several 64-bit words.
    let owned: Vec<(String, String)> = (0..200)
        .map(|i| {
            let query = if i % 3 == 0 {
                format!("NOT w{i}")
            } else {
                format!("w{i}")
            };
            (format!("r{i}"), query)
        })
        .collect();
    let rules = RuleSet::compile(owned).unwrap();
    let expected = |present: &[usize]| -> Vec<usize> {
        (0..200)
            .filter(|i| (i % 3 == 0) != present.contains(i))
            .collect()
    };
    assert_eq!(matches(&rules, ""), expected(&[]));
    assert_eq!(
        matches(&rules, "w0 w1 w99 w100 w198 w199"),
        expected(&[0, 1, 99, 100, 198, 199])
    );
}

#[test]
fn scratch_is_reusable_across_texts_and_rule_sets() {
    let small = set(&[("a", "alpha")]);
    let big = set(&[("x", "x"), ("y", "y"), ("alpha", "alpha")]);
    let mut scratch = MatchScratch::new();
    let mut matched = Vec::new();
    small.match_text("ALPHA", &mut scratch, &mut matched);
    assert_eq!(matched, [0]);
    assert_eq!(scratch.normalized_text(), "alpha");
    small.match_text("beta", &mut scratch, &mut matched);
    assert!(matched.is_empty());
    big.match_text("y  Alpha", &mut scratch, &mut matched);
    assert_eq!(matched, [1, 2]);
    assert_eq!(scratch.normalized_text(), "y alpha");
    small.match_text("alpha", &mut scratch, &mut matched);
    assert_eq!(matched, [0]);
}

#[test]
fn rule_set_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RuleSet>();
    assert_send_sync::<MatchScratch>();
}

#[test]
fn compile_validates_ids_like_the_file_loader() {
    let pair = |id: &str| (id.to_owned(), "x".to_owned());
    let e = RuleSet::compile(vec![pair("a"), pair("b"), pair("a")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "rule \"a\" (rule 3): duplicate id, already used by rule 1"
    );
    let e = RuleSet::compile(vec![pair("a/b")]).unwrap_err();
    assert!(matches!(e, RuleError::InvalidId { bad: '/', .. }), "{e:?}");
    let e = RuleSet::compile(vec![pair("")]).unwrap_err();
    assert_eq!(e.to_string(), "rule 1: id must not be empty");
    let ok = RuleSet::compile(vec![pair("A-z_0.9")]).unwrap();
    assert_eq!(ok.ids().collect::<Vec<_>>(), ["A-z_0.9"]);
}

#[test]
fn compile_errors_use_list_positions() {
    let e =
        RuleSet::compile(vec![("a".into(), "x".into()), ("b".into(), "x AND".into())]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "rule \"b\" (rule 2): column 6: expected a term or \"(\" after AND, found end of query"
    );
    let e = RuleSet::compile(Vec::new()).unwrap_err();
    assert_eq!(e.to_string(), "no rules given");
}

/// Matches with a fake classifier giving `scores` (label name, probability)
/// and counting its calls.
fn labelled(rules: &RuleSet, text: &str, scores: &[(&str, f64)], calls: &mut usize) -> Vec<usize> {
    let mut scratch = rules.scratch();
    let mut matched = Vec::new();
    rules.match_text_with(text, &mut scratch, &mut matched, |normalized, out| {
        *calls += 1;
        assert_eq!(normalized, normalized.to_lowercase());
        let best = scores.iter().map(|s| s.1).fold(0.0, f64::max);
        for name in rules.labels() {
            let p = scores.iter().find(|s| s.0 == name).map_or(0.0, |s| s.1);
            out.push(LabelScore {
                probability: p,
                top: p == best,
            });
        }
        true
    });
    matched
}

#[test]
fn label_rules_use_the_classifier_only_when_keywords_allow() {
    let rules = set(&[
        ("neg", "建设银行 AND label:negative"),
        ("sure", "建设银行 AND label:negative>=0.8"),
        ("plain", "建设银行"),
    ]);
    assert_eq!(rules.labels(), ["negative"]);
    assert!(rules.uses_labels());
    let negative = [("negative", 0.7), ("positive", 0.3)];
    let mut calls = 0;
    assert_eq!(
        labelled(&rules, "建设银行跌了", &negative, &mut calls),
        [0, 2]
    );
    assert_eq!(
        calls, 1,
        "one classification per post, whatever the rule count"
    );
    assert_eq!(
        labelled(&rules, "建设银行跌了", &[("negative", 0.9)], &mut calls),
        [0, 1, 2]
    );
    assert_eq!(
        labelled(
            &rules,
            "建设银行涨了",
            &[("positive", 0.9), ("negative", 0.1)],
            &mut calls
        ),
        [2]
    );
    calls = 0;
    assert_eq!(
        labelled(&rules, "工商银行跌了", &negative, &mut calls),
        Vec::<usize>::new()
    );
    assert_eq!(calls, 0, "no keyword, no classification");
}

#[test]
fn keyword_part_can_decide_without_the_classifier() {
    let rules = set(&[
        ("either", "建设银行 OR label:negative"),
        ("not", "NOT label:positive"),
    ]);
    let mut calls = 0;
    // `either` is true on keywords alone, but `not` still needs the labels.
    assert_eq!(
        labelled(&rules, "建设银行", &[("positive", 0.9)], &mut calls),
        [0]
    );
    assert_eq!(calls, 1);
    let only = set(&[("either", "建设银行 OR label:negative")]);
    calls = 0;
    assert_eq!(labelled(&only, "建设银行", &[], &mut calls), [0]);
    assert_eq!(calls, 0);
    assert_eq!(
        labelled(&only, "天气", &[("negative", 0.6)], &mut calls),
        [0]
    );
    assert_eq!(calls, 1, "a bare label predicate classifies every post");
}

#[test]
fn without_a_classifier_label_rules_never_match() {
    let rules = set(&[
        ("a", "x AND label:negative"),
        ("b", "NOT label:negative"),
        ("c", "x"),
    ]);
    assert_eq!(matches(&rules, "x"), [2]);
    let mut scratch = rules.scratch();
    let mut matched = Vec::new();
    rules.match_text_with("x", &mut scratch, &mut matched, |_, _| false);
    assert_eq!(matched, [2]);
}

#[test]
fn label_column_points_at_the_predicate() {
    let rules = set(&[("a", "建设银行 AND label:negative")]);
    assert_eq!(rules.rules()[0].label_column("negative"), 10);
    assert_eq!(rules.rules()[0].label_column("other"), 1);
}

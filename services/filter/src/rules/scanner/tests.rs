use aho_corasick::AhoCorasick;

use super::*;

/// Every (pattern, start, end) `scanner` reports in `text`, sorted.
fn matches(scanner: &Scanner, text: &str) -> Vec<(usize, usize, usize)> {
    let mut all = Vec::new();
    scanner.for_each_match(text, |pattern, start, end| all.push((pattern, start, end)));
    all.sort_unstable();
    all
}

/// What the aho-corasick crate's own overlapping search reports.
fn reference(texts: &[String], text: &str) -> Vec<(usize, usize, usize)> {
    let automaton = AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        .build(texts)
        .unwrap();
    let mut all: Vec<_> = automaton
        .find_overlapping_iter(text)
        .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
        .collect();
    all.sort_unstable();
    all
}

#[test]
fn small_sets_take_the_dfa_and_large_ones_the_nfa() {
    let small: Vec<String> = ["a", "b"].map(String::from).to_vec();
    assert!(matches!(
        Scanner::build(&small, DFA_MAX_PATTERNS).unwrap(),
        Scanner::Dfa(_)
    ));
    let large: Vec<String> = (0..=DFA_MAX_PATTERNS).map(|i| format!("w{i}")).collect();
    assert!(matches!(
        Scanner::build(&large, DFA_MAX_PATTERNS).unwrap(),
        Scanner::Nfa(_)
    ));
}

#[test]
fn both_automata_report_what_the_overlapping_search_reports() {
    let texts: Vec<String> = [
        "建设银行",
        "银行",
        "涨",
        "涨停",
        "bank",
        "ban",
        "an",
        "nk",
        "a",
        "banana",
        "ana",
        "行",
    ]
    .map(String::from)
    .to_vec();
    let pieces = [
        "建设", "银行", "涨", "停", "ban", "ana", "nk", "b", " ", "x", "行行", "a",
    ];
    let dfa = Scanner::build(&texts, DFA_MAX_PATTERNS).unwrap();
    let nfa = Scanner::build(&texts, 0).unwrap();
    assert!(matches!(dfa, Scanner::Dfa(_)) && matches!(nfa, Scanner::Nfa(_)));
    // Taken only when the contiguous NFA cannot be built, so built here directly.
    let big = Scanner::BigNfa(
        noncontiguous::Builder::new()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(&texts)
            .unwrap(),
    );
    let mut rng = crate::test_rng::TestRng(0x51_7CC1_B727_220A);
    let mut text = String::new();
    let mut reported = 0;
    for _ in 0..5_000 {
        text.clear();
        for _ in 0..rng.next() % 12 {
            text.push_str(pieces[(rng.next() % pieces.len() as u64) as usize]);
        }
        let expected = reference(&texts, &text);
        reported += expected.len();
        assert_eq!(matches(&dfa, &text), expected, "{text:?}");
        assert_eq!(matches(&nfa, &text), expected, "{text:?}");
        assert_eq!(matches(&big, &text), expected, "{text:?}");
    }
    // The texts did contain matches, many of them overlapping.
    assert!(reported > 20_000, "{reported}");
}

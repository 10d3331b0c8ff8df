//! Parser tests: structure via the S-expression rendering, errors via
//! (column, kind).

use super::*;
use crate::rules::error::{After, Found, ParseErrorKind as K};

fn p(query: &str) -> String {
    parse_query(query).unwrap().to_string()
}

fn err(query: &str) -> (usize, K) {
    let e = parse_query(query).unwrap_err();
    (e.column, e.kind)
}

fn expected(after: After, found: Found) -> K {
    K::ExpectedOperand { after, found }
}

#[test]
fn explicit_and_implicit_and_are_the_same() {
    assert_eq!(p("建设银行 AND 涨"), "(AND 建设银行 涨)");
    assert_eq!(p("建设银行 涨"), "(AND 建设银行 涨)");
    assert_eq!(p("a b AND c"), "(AND a b c)");
}

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(p("a OR b c"), "(OR a (AND b c))");
    assert_eq!(p("a b OR c"), "(OR (AND a b) c)");
    assert_eq!(p("a AND b OR c AND d"), "(OR (AND a b) (AND c d))");
    assert_eq!(p("a OR b OR c"), "(OR a b c)");
}

#[test]
fn not_binds_tightest() {
    assert_eq!(p("NOT a b"), "(AND (NOT a) b)");
    assert_eq!(p("a NOT b"), "(AND a (NOT b))");
    assert_eq!(p("a OR NOT b c"), "(OR a (AND (NOT b) c))");
    assert_eq!(p("NOT NOT a"), "(NOT (NOT a))");
    assert_eq!(p("NOT a"), "(NOT a)");
}

#[test]
fn parentheses_group_and_flatten() {
    assert_eq!(p("(a OR b) c"), "(AND (OR a b) c)");
    assert_eq!(p("a (b OR c)"), "(AND a (OR b c))");
    assert_eq!(p("NOT (a OR b)"), "(NOT (OR a b))");
    assert_eq!(p("((a))"), "a");
    assert_eq!(p("a AND (b AND c)"), "(AND a b c)");
    assert_eq!(p("a OR (b OR c) OR d"), "(OR a b c d)");
    assert_eq!(p("(a)(b)"), "(AND a b)");
}

#[test]
fn phrases() {
    assert_eq!(
        p(r#""bank of china" OR (bank* AND NOT "food bank")"#),
        r#"(OR "bank of china" (AND bank* (NOT "food bank")))"#
    );
    assert_eq!(p(r#""x AND  y""#), r#""x and y""#);
    assert_eq!(p(r#""a"b"#), r#"(AND "a" b)"#);
    assert_eq!(p(r#"" 建设银行 ""#), r#""建设银行""#);
    assert_eq!(
        parse_query(r#""Bank  of China""#).unwrap(),
        Query::Phrase("bank of china".into())
    );
}

#[test]
fn prefix_terms() {
    assert_eq!(
        parse_query("Bank*").unwrap(),
        Query::Term {
            text: "bank".into(),
            prefix: true
        }
    );
    assert_eq!(p("bank* OR bank"), "(OR bank* bank)");
    assert_eq!(p("AND*"), "and*");
}

#[test]
fn lowercase_operators_are_terms() {
    assert_eq!(p("a and b"), "(AND a and b)");
    assert_eq!(p("x or y"), "(AND x or y)");
    assert_eq!(p("not x"), "(AND not x)");
    assert_eq!(p("Or"), "or");
}

#[test]
fn terms_are_normalized() {
    assert_eq!(p("ＣＣＢ １０％"), "(AND ccb 10%)");
    assert_eq!("Ｂａｎｋ".parse::<Query>().unwrap().to_string(), "bank");
}

#[test]
fn empty_query() {
    assert_eq!(err(""), (1, K::EmptyQuery));
    assert_eq!(err(" \t\u{3000}"), (1, K::EmptyQuery));
}

#[test]
fn unbalanced_parentheses() {
    assert_eq!(err("(a"), (1, K::UnclosedParen));
    assert_eq!(err("a (b (c)"), (3, K::UnclosedParen));
    assert_eq!(err("a)"), (2, K::UnmatchedParen));
    assert_eq!(err("(a))"), (4, K::UnmatchedParen));
    assert_eq!(err(")"), (1, K::UnmatchedParen));
    assert_eq!(err("a AND )"), (7, K::UnmatchedParen));
    assert_eq!(
        err("()"),
        (2, expected(After::OpenParen, Found::CloseParen))
    );
    assert_eq!(err("(a AND)"), (7, expected(After::And, Found::CloseParen)));
}

#[test]
fn quotes() {
    assert_eq!(err("\"abc"), (1, K::UnterminatedQuote));
    assert_eq!(err("a \"b c"), (3, K::UnterminatedQuote));
    assert_eq!(err("a \"b\" \""), (7, K::UnterminatedQuote));
    assert_eq!(err("\"\""), (1, K::EmptyPhrase));
    assert_eq!(err("a \" \u{3000} \""), (3, K::EmptyPhrase));
}

#[test]
fn dangling_operators() {
    assert_eq!(err("a AND"), (6, expected(After::And, Found::End)));
    assert_eq!(err("a AND "), (7, expected(After::And, Found::End)));
    assert_eq!(err("a OR"), (5, expected(After::Or, Found::End)));
    assert_eq!(err("OR b"), (1, expected(After::Start, Found::Or)));
    assert_eq!(err("AND b"), (1, expected(After::Start, Found::And)));
    assert_eq!(err("NOT"), (4, expected(After::Not, Found::End)));
    assert_eq!(err("a NOT"), (6, expected(After::Not, Found::End)));
    assert_eq!(err("a AND OR b"), (7, expected(After::And, Found::Or)));
    assert_eq!(err("a OR AND b"), (6, expected(After::Or, Found::And)));
    assert_eq!(err("NOT OR a"), (5, expected(After::Not, Found::Or)));
    assert_eq!(err("(OR a)"), (2, expected(After::OpenParen, Found::Or)));
}

#[test]
fn misplaced_stars() {
    assert_eq!(err("*"), (1, K::LoneStar));
    assert_eq!(err("a *"), (3, K::LoneStar));
    assert_eq!(err("ba*nk"), (3, K::StarInsideTerm));
    assert_eq!(err("bank**"), (5, K::StarInsideTerm));
    assert_eq!(err("*bank"), (1, K::StarInsideTerm));
}

#[test]
fn columns_count_chinese_characters() {
    assert_eq!(err("建设银行 AND"), (9, expected(After::And, Found::End)));
    assert_eq!(err("建设银行 (涨"), (6, K::UnclosedParen));
    assert_eq!(err("建设 \"银行"), (4, K::UnterminatedQuote));
    assert_eq!(err("建设银行 涨*跌"), (7, K::StarInsideTerm));
    assert_eq!(
        err("建设银行 OR OR 涨"),
        (9, expected(After::Or, Found::Or))
    );
}

#[test]
fn error_messages() {
    let e = parse_query("建设银行 AND ").unwrap_err();
    assert_eq!(
        e.to_string(),
        "column 10: expected a term or \"(\" after AND, found end of query"
    );
    assert_eq!(
        parse_query("(a").unwrap_err().to_string(),
        "column 1: \"(\" is never closed"
    );
    assert_eq!(
        parse_query("x ba*nk").unwrap_err().to_string(),
        "column 5: \"*\" is only allowed at the end of a term"
    );
}

#[test]
fn first_error_from_the_left_wins() {
    assert_eq!(err("OR \"abc"), (1, expected(After::Start, Found::Or)));
    assert_eq!(err("a \"abc OR"), (3, K::UnterminatedQuote));
}

#[test]
fn nesting_is_bounded() {
    let ok = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(p(&ok), "a");
    let deep = format!(
        "{}a{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(err(&deep), (MAX_DEPTH + 1, K::TooDeep(MAX_DEPTH)));
    let nots = "NOT ".repeat(10_000) + "a";
    assert_eq!(err(&nots).1, K::TooDeep(MAX_DEPTH));
}

#[test]
fn label_predicates() {
    assert_eq!(
        p("建设银行 AND label:negative"),
        "(AND 建设银行 label:negative)"
    );
    assert_eq!(p("label:negative>=0.8"), "label:negative>=0.8");
    assert_eq!(p("label:neg-1.x_y>=1"), "label:neg-1.x_y>=1");
    assert_eq!(p("a OR NOT label:负面>=0"), "(OR a (NOT label:负面>=0))");
    assert_eq!(p(r#""label:x""#), r#""label:x""#);
    assert_eq!(
        p("Label:x"),
        "label:x",
        "only lowercase label: is a predicate"
    );
    let q = parse_query("x label:neg>=0.25").unwrap();
    assert!(q.uses_labels());
    assert_eq!(q.labels().collect::<Vec<_>>(), ["neg"]);
    assert!(!parse_query("x").unwrap().uses_labels());
    assert_eq!(
        parse_query("label:a>=0.5").unwrap(),
        Query::Label {
            label: "a".into(),
            min_probability: Probability::new(0.5)
        }
    );
}

#[test]
fn label_errors_point_at_the_problem() {
    assert_eq!(err("a label:"), (9, K::EmptyLabel));
    assert_eq!(err("label:>=0.5"), (7, K::EmptyLabel));
    assert_eq!(err("label:neg>0.5"), (10, K::BadThreshold));
    assert_eq!(err("label:neg=0.5"), (10, K::BadThreshold));
    assert_eq!(err("label:neg>=1.5"), (12, K::BadThreshold));
    assert_eq!(err("label:neg>=x"), (12, K::BadThreshold));
    assert_eq!(err("label:neg>="), (12, K::BadThreshold));
    assert_eq!(err("label:neg>=NaN"), (12, K::BadThreshold));
    assert_eq!(err("label:ne!g"), (9, K::InvalidLabelChar('!')));
    assert_eq!(err("label:!"), (7, K::InvalidLabelChar('!')));
    assert_eq!(
        parse_query("建设银行 label:neg>=2")
            .unwrap_err()
            .to_string(),
        "column 17: expected \">=\" and a probability between 0 and 1, e.g. label:negative>=0.8"
    );
}

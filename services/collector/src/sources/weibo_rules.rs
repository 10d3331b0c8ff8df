//! Search queries derived from the filter's rules file, so that
//! `weibo_search` fetches what the filter's rules look for.
//!
//! Each rule's query is expanded into its OR branches (`a OR (b c)` has
//! two); each branch becomes one search query of its positive words and
//! phrases joined by spaces (Weibo reads a space as AND). `NOT` parts and
//! `label:` predicates are left out (the search cannot express them; the
//! filter still applies them), a prefix term `bank*` is searched as `bank`,
//! and a phrase's words are searched as words. A branch with no positive
//! word (`NOT x`, `label:y`) cannot be searched and is skipped with a
//! warning; so are the branches of a rule beyond [`MAX_BRANCHES`].
//! Identical queries are searched once.

use std::path::Path;

use weibostream_filter::rules::{Query, RuleSet};

/// Queries one rule may give at most.
pub const MAX_BRANCHES: usize = 16;

/// The queries of the rules file at `path`, in rule order; warnings are logged.
pub fn queries_from_file(path: &Path) -> Result<Vec<String>, String> {
    let rules = RuleSet::load(path).map_err(|error| error.to_string())?;
    let mut queries = Vec::new();
    for rule in rules.rules() {
        let (derived, warnings) = rule_queries(&rule.ast);
        for warning in warnings {
            tracing::warn!(rule = %rule.id, "weibo_search.queries_from_rules: {warning}");
        }
        for query in derived {
            if !queries.contains(&query) {
                queries.push(query);
            }
        }
    }
    Ok(queries)
}

/// The search queries of one parsed rule, and what could not be searched.
pub fn rule_queries(query: &Query) -> (Vec<String>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut branches = branches(query);
    if branches.len() > MAX_BRANCHES {
        warnings.push(format!(
            "{} OR branches; only the first {MAX_BRANCHES} are searched",
            branches.len()
        ));
        branches.truncate(MAX_BRANCHES);
    }
    let mut queries: Vec<String> = Vec::new();
    for words in branches {
        if words.is_empty() {
            warnings.push(
                "a branch has no positive word (only NOT or label:), so it cannot be searched"
                    .into(),
            );
            continue;
        }
        let query = words.join(" ");
        if !queries.contains(&query) {
            queries.push(query);
        }
    }
    (queries, warnings)
}

/// The OR branches of a query, each the list of its positive words; at
/// most `MAX_BRANCHES + 1` are built, so that a huge product is cut short.
fn branches(query: &Query) -> Vec<Vec<String>> {
    match query {
        Query::Term { text, .. } => vec![words(text)],
        Query::Phrase(text) => vec![words(text)],
        Query::Label { .. } | Query::Not(_) => vec![Vec::new()],
        Query::Or(parts) => {
            let mut all = Vec::new();
            for part in parts {
                all.extend(branches(part));
                if all.len() > MAX_BRANCHES {
                    break;
                }
            }
            all
        }
        Query::And(parts) => {
            let mut product: Vec<Vec<String>> = vec![Vec::new()];
            for part in parts {
                let options = branches(part);
                let mut next = Vec::new();
                'outer: for prefix in &product {
                    for option in &options {
                        let mut combined = prefix.clone();
                        for word in option {
                            if !combined.contains(word) {
                                combined.push(word.clone());
                            }
                        }
                        next.push(combined);
                        if next.len() > MAX_BRANCHES {
                            break 'outer;
                        }
                    }
                }
                product = next;
            }
            product
        }
    }
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use weibostream_filter::rules::parse_query;

    use super::*;

    fn derived(query: &str) -> (Vec<String>, usize) {
        let (queries, warnings) = rule_queries(&parse_query(query).unwrap());
        (queries, warnings.len())
    }

    #[test]
    fn one_query_per_or_branch_of_positive_words() {
        assert_eq!(derived("建设银行 AND 涨"), (vec!["建设银行 涨".into()], 0));
        assert_eq!(
            derived("(建设银行 OR 建行) 涨 NOT 跌"),
            (vec!["建设银行 涨".into(), "建行 涨".into()], 0)
        );
        assert_eq!(
            derived("\"bank of china\" OR bank* AND NOT \"food bank\""),
            (vec!["bank of china".into(), "bank".into()], 0)
        );
        assert_eq!(derived("ccb label:negative"), (vec!["ccb".into()], 0));
        assert_eq!(derived("a OR NOT b"), (vec!["a".into()], 1));
        assert_eq!(derived("NOT b"), (vec![], 1));
        // Normalized like the filter's literals: NFKC and lowercase.
        assert_eq!(derived("ＣＣＢ"), (vec!["ccb".into()], 0));
    }

    #[test]
    fn products_are_capped() {
        let query = "(a OR b OR c OR d OR e) (f OR g OR h OR i OR j)";
        let (queries, warnings) = derived(query);
        assert_eq!(queries.len(), MAX_BRANCHES);
        assert_eq!(queries[0], "a f");
        assert_eq!(warnings, 1);
    }

    #[test]
    fn reads_a_rules_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        std::fs::write(
            &path,
            "[[rule]]\nid = \"a\"\nquery = \"建设银行 涨\"\n[[rule]]\nid = \"b\"\nquery = \"建设银行 AND 涨 OR 建行\"\n",
        )
        .unwrap();
        assert_eq!(queries_from_file(&path).unwrap(), ["建设银行 涨", "建行"]);
        std::fs::write(&path, "[[rule]]\nid = \"a\"\nquery = \"(\"\n").unwrap();
        assert!(queries_from_file(&path).is_err());
    }
}

//! The TOML rules file format.
//!
//! ```toml
//! [[rule]]
//! id = "ccb-rise"
//! query = "建设银行 AND 涨"
//! ```
//!
//! Unknown keys, at the top level or inside a rule, are rejected so that a
//! typo (`querry = ...`) cannot silently disable a rule.

use weibostream_shared::rules_file::{self, RulesFileError};

use super::error::RuleError;

/// Deserializes a rules file into `(id, query)` pairs in file order, through
/// the shared parser (so the filter accepts the sink's `[rule.alert]`
/// sections and rejects what the sink rejects). Ids and queries are
/// validated by the caller.
pub(super) fn parse_rules_file(
    toml: &str,
    file_name: &str,
) -> Result<Vec<(String, String)>, RuleError> {
    let file = rules_file::parse(toml).map_err(|error| match error {
        RulesFileError::Toml(error) => RuleError::Toml {
            file: file_name.to_owned(),
            error: Box::new(error),
        },
        alert @ RulesFileError::Alert { .. } => RuleError::Alert {
            file: file_name.to_owned(),
            message: alert.to_string(),
        },
    })?;
    Ok(file
        .rule
        .into_iter()
        .map(|entry| (entry.id, entry.query))
        .collect())
}

#[cfg(test)]
mod tests {
    use crate::rules::{RuleError, RuleSet};

    const GOOD: &str = r#"
# rules.toml
[[rule]]
id = "ccb-rise"
query = "建设银行 AND 涨"

[[rule]]
id = "banks-en"
query = '"bank of china" OR (bank* AND NOT "food bank")'
"#;

    fn load_err(toml: &str) -> RuleError {
        RuleSet::from_toml_str(toml, "rules.toml").unwrap_err()
    }

    #[test]
    fn loads_rules_in_order() {
        let set = RuleSet::from_toml_str(GOOD, "rules.toml").unwrap();
        assert_eq!(set.len(), 2);
        assert!(!set.is_empty());
        assert_eq!(set.ids().collect::<Vec<_>>(), ["ccb-rise", "banks-en"]);
        assert_eq!(set.rules()[0].query, "建设银行 AND 涨");
        assert_eq!(set.rules()[0].ast.to_string(), "(AND 建设银行 涨)");
    }

    #[test]
    fn unknown_key_in_rule_is_rejected_by_name() {
        let e = load_err("[[rule]]\nid = \"a\"\nquery = \"x\"\nquerry = \"y\"\n");
        assert!(matches!(e, RuleError::Toml { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.starts_with("rules.toml: "), "{msg}");
        assert!(msg.contains("querry"), "{msg}");
    }

    #[test]
    fn unknown_top_level_key_is_rejected_by_name() {
        let e = load_err("[[rules]]\nid = \"a\"\nquery = \"x\"\n");
        assert!(e.to_string().contains("rules"), "{e}");
        let e = load_err("version = 2\n[[rule]]\nid = \"a\"\nquery = \"x\"\n");
        assert!(e.to_string().contains("version"), "{e}");
    }

    #[test]
    fn missing_field_and_wrong_type() {
        let e = load_err("[[rule]]\nid = \"a\"\n");
        assert!(e.to_string().contains("query"), "{e}");
        let e = load_err("[[rule]]\nid = 1\nquery = \"x\"\n");
        assert!(matches!(e, RuleError::Toml { .. }), "{e:?}");
    }

    #[test]
    fn alert_sections_are_accepted_and_checked() {
        let toml =
            "[[rule]]\nid = \"a\"\nquery = \"x\"\n[rule.alert]\nwindow_s = 60\nmin_matches = 5\n";
        assert_eq!(RuleSet::from_toml_str(toml, "rules.toml").unwrap().len(), 1);
        let e = load_err(
            "[[rule]]\nid = \"a\"\nquery = \"x\"\n[rule.alert]\nwindow_s = 60\nmin_matchez = 5\n",
        );
        assert!(matches!(e, RuleError::Toml { .. }), "{e:?}");
        assert!(e.to_string().contains("min_matchez"), "{e}");
        let e = load_err(
            "[[rule]]\nid = \"a\"\nquery = \"x\"\n[rule.alert]\nwindow_s = 0\nmin_matches = 5\n",
        );
        assert!(matches!(e, RuleError::Alert { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("rules.toml: rule \"a\" (rule 1): alert.window_s"),
            "{e}"
        );
    }

    #[test]
    fn invalid_toml() {
        let e = load_err("[[rule]\nid = \"a\"\n");
        assert!(matches!(e, RuleError::Toml { .. }), "{e:?}");
    }

    #[test]
    fn empty_file_is_an_error() {
        for toml in ["", "# only a comment\n", "rule = []\n"] {
            let e = load_err(toml);
            assert!(matches!(e, RuleError::NoRules { .. }), "{e:?}");
            assert!(e.to_string().starts_with("rules.toml: no rules"), "{e}");
        }
    }

    #[test]
    fn duplicate_id_names_both_rules() {
        let toml = format!("{GOOD}\n[[rule]]\nid = \"ccb-rise\"\nquery = \"x\"\n");
        let e = load_err(&toml);
        assert_eq!(
            e.to_string(),
            "rule \"ccb-rise\" (rule 3 in rules.toml): duplicate id, already used by rule 1"
        );
    }

    #[test]
    fn bad_ids_name_the_rule() {
        let e =
            load_err("[[rule]]\nid = \"a\"\nquery = \"x\"\n[[rule]]\nid = \"\"\nquery = \"x\"\n");
        assert_eq!(e.to_string(), "rule 2 in rules.toml: id must not be empty");
        let e = load_err("[[rule]]\nid = \"ccb rise\"\nquery = \"x\"\n");
        assert!(matches!(e, RuleError::InvalidId { bad: ' ', .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "rule \"ccb rise\" (rule 1 in rules.toml): invalid id: ' ' is not allowed, \
             use only ASCII letters, digits, '-', '_' and '.'"
        );
        let e = load_err("[[rule]]\nid = \"建行\"\nquery = \"x\"\n");
        assert!(matches!(e, RuleError::InvalidId { bad: '建', .. }), "{e:?}");
    }

    #[test]
    fn query_syntax_error_names_rule_position_and_file() {
        let toml = "[[rule]]\nid = \"ok\"\nquery = \"x\"\n\
                    [[rule]]\nid = \"ccb-rise\"\nquery = \"建设银行 AND \"\n";
        let e = load_err(toml);
        assert_eq!(
            e.to_string(),
            "rule \"ccb-rise\" (rule 2 in rules.toml): column 10: \
             expected a term or \"(\" after AND, found end of query"
        );
    }

    #[test]
    fn first_error_in_file_order_wins() {
        let toml = "[[rule]]\nid = \"a\"\nquery = \"(x\"\n\
                    [[rule]]\nid = \"a\"\nquery = \"y\"\n";
        assert!(matches!(load_err(toml), RuleError::Query { .. }));
    }

    #[test]
    fn load_reads_the_file_and_names_missing_paths() {
        let dir = std::env::temp_dir().join(format!("rules-file-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rules.toml");
        std::fs::write(&path, GOOD).unwrap();
        let set = RuleSet::load(&path).unwrap();
        assert_eq!(set.len(), 2);

        std::fs::write(&path, "[[rule]]\nid = \"x\"\nquery = \"NOT\"\n").unwrap();
        let msg = RuleSet::load(&path).unwrap_err().to_string();
        assert!(
            msg.contains(&format!("(rule 1 in {})", path.display())),
            "{msg}"
        );

        let missing = dir.join("missing.toml");
        let e = RuleSet::load(&missing).unwrap_err();
        assert!(matches!(e, RuleError::Io { .. }), "{e:?}");
        assert!(e.to_string().contains("missing.toml"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Live rule reload: the rules file is polled (mtime and size, every
//! `rules_poll_ms`) and re-read on request (the binary turns SIGHUP into one;
//! the library never reads signals). A changed file is compiled at once —
//! errors are logged with the rule and column and the current rules stay —
//! and a good one replaces the rules at the next batch boundary, so every
//! batch is matched by exactly one rule set.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::Notify;

use crate::classify::Classifier;
use crate::rules::{MatchOptions, RuleError, RuleLocation, RuleSet};

/// Asks a running filter to re-read its rules file now. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ReloadHandle(Arc<Notify>);

impl ReloadHandle {
    /// Requests a reload; requests made before the loop looks are merged.
    pub fn request(&self) {
        self.0.notify_one();
    }

    /// Resolves when a reload is requested.
    pub(crate) async fn requested(&self) {
        self.0.notified().await;
    }
}

/// Compiled rules plus, for each label they use (in [`RuleSet::labels`]
/// order), the index of that label in the classifier's labels.
#[derive(Debug, Clone)]
pub struct ActiveRules {
    /// The rules.
    pub rules: RuleSet,
    /// Model label index per rule-set label.
    pub label_map: Vec<usize>,
}

/// Why a rules file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// It does not parse or compile.
    #[error("{0}")]
    Rules(#[from] RuleError),
    /// A rule uses a label with no classifier configured, or a label the
    /// model does not have.
    #[error("rule {id:?} ({location}): column {column}: {reason}")]
    Label {
        /// The rule's id.
        id: String,
        /// Which rule.
        location: RuleLocation,
        /// Column of the `label:` predicate.
        column: usize,
        /// What is wrong.
        reason: String,
    },
}

impl ActiveRules {
    /// Compiles a rules file's text and checks its labels against the
    /// classifier. `file_name` is only used in messages.
    ///
    /// # Errors
    ///
    /// As [`RuleSet::from_toml_str`], or [`RulesError::Label`] naming the
    /// first rule (in file order) whose label cannot be evaluated.
    pub fn compile(
        toml: &str,
        file_name: &str,
        classifier: Option<&Classifier>,
    ) -> Result<ActiveRules, RulesError> {
        ActiveRules::compile_with(toml, file_name, classifier, MatchOptions::default())
    }

    /// [`ActiveRules::compile`] with explicit [`MatchOptions`] (the
    /// service passes its config's).
    ///
    /// # Errors
    ///
    /// As [`ActiveRules::compile`].
    pub fn compile_with(
        toml: &str,
        file_name: &str,
        classifier: Option<&Classifier>,
        options: MatchOptions,
    ) -> Result<ActiveRules, RulesError> {
        let rules = RuleSet::from_toml_str_with(toml, file_name, options)?;
        for (index, rule) in rules.rules().iter().enumerate() {
            let Some(label) = rule.ast.labels().next() else {
                continue;
            };
            let problem = match classifier {
                None => Some((
                    label,
                    format!(
                        "label:{label} needs a classifier, but classifier.model_path is not set"
                    ),
                )),
                Some(model) => rule
                    .ast
                    .labels()
                    .find(|l| model.label_index(l).is_none())
                    .map(|l| {
                        (
                            l,
                            format!(
                                "label {l:?} is not a label of the model (it has: {})",
                                model.labels().join(", ")
                            ),
                        )
                    }),
            };
            if let Some((label, reason)) = problem {
                return Err(RulesError::Label {
                    id: rule.id.clone(),
                    location: RuleLocation {
                        index: index + 1,
                        file: Some(file_name.to_owned()),
                    },
                    column: rule.label_column(label),
                    reason,
                });
            }
        }
        let label_map = rules
            .labels()
            .iter()
            .filter_map(|l| classifier.and_then(|m| m.label_index(l)))
            .collect();
        Ok(ActiveRules { rules, label_map })
    }
}

/// Size and modification time: what polling compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let metadata = std::fs::metadata(path)?;
    Ok(Stamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
    })
}

/// Notices changes to the rules file.
#[derive(Debug)]
pub struct RulesWatcher {
    path: PathBuf,
    stamp: Option<Stamp>,
    text: String,
}

impl RulesWatcher {
    /// Watches `path`, whose current contents `text` are already in use.
    pub fn new(path: &Path, text: String) -> RulesWatcher {
        RulesWatcher {
            path: path.to_path_buf(),
            stamp: stamp(path).ok(),
            text,
        }
    }

    /// The watched file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's new contents, if they differ from the last contents seen
    /// (good or bad, so a broken file is reported once, not every poll).
    /// The file is read only when its stamp changed, or when `force`d.
    ///
    /// # Errors
    ///
    /// The file cannot be read (e.g. it is being replaced).
    pub fn check(&mut self, force: bool) -> std::io::Result<Option<String>> {
        let current = stamp(&self.path)?;
        if !force && self.stamp == Some(current) {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&self.path)?;
        self.stamp = Some(current);
        if text == self.text {
            return Ok(None);
        }
        self.text.clone_from(&text);
        Ok(Some(text))
    }
}

#[cfg(test)]
mod tests;

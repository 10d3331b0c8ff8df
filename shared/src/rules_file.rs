//! The rules file's format, read by the filter (rules) and the sink (alerts),
//! so both accept exactly the same keys.
//!
//! ```toml
//! [[rule]]
//! id = "ccb-rise"
//! query = "建设银行 AND 涨"
//!
//! [rule.alert]          # optional
//! window_s = 600        # count matches in windows of 10 minutes
//! min_matches = 20      # fire at 20 or more in a window, and/or
//! spike_factor = 3.0    # fire at 3x the median of the previous windows
//! spike_min_count = 10  # ...but only from 10 matches on
//! baseline_windows = 6  # windows the median is taken over
//! cooldown_s = 1800     # quiet time after firing
//! channels = ["ops"]    # channel names of the sink's config; all when absent
//! ```
//!
//! Unknown keys, at any level, are rejected so that a typo (`querry = ...`,
//! `min_match = ...`) cannot silently disable a rule or an alert.

use serde::{Deserialize, Serialize};

use crate::config::InvalidKey;

/// A parsed rules file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// The rules, in file order.
    #[serde(default)]
    pub rule: Vec<RuleEntry>,
}

/// One `[[rule]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleEntry {
    /// The rule id (validated by the filter's rule engine).
    pub id: String,
    /// The query (parsed by the filter's rule engine).
    pub query: String,
    /// When to tell people that the rule's matches jumped.
    pub alert: Option<AlertSpec>,
}

/// A rule's alert conditions: at least one of `min_matches` and
/// `spike_factor`. Windows are aligned to multiples of `window_s` since the
/// Unix epoch (in batch time), so every sink sees the same windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    /// Window length in seconds.
    pub window_s: u64,
    /// Fire when a window holds at least this many matches.
    pub min_matches: Option<u64>,
    /// Fire when a window holds at least this factor times the baseline
    /// (the median of the previous `baseline_windows` windows).
    pub spike_factor: Option<f64>,
    /// A spike needs at least this many matches in the window, so that
    /// 1 → 3 is not a spike.
    #[serde(default = "default_spike_min_count")]
    pub spike_min_count: u64,
    /// Previous windows the baseline is the median of.
    #[serde(default = "default_baseline_windows")]
    pub baseline_windows: usize,
    /// After firing, the rule stays quiet for this many seconds of batch
    /// time; defaults to `window_s`.
    pub cooldown_s: Option<u64>,
    /// Names of the sink's alert channels to send to; all when absent.
    pub channels: Option<Vec<String>>,
}

fn default_spike_min_count() -> u64 {
    10
}

fn default_baseline_windows() -> usize {
    6
}

/// Longest alert window accepted: one week.
pub const MAX_WINDOW_S: u64 = 7 * 24 * 3600;

impl AlertSpec {
    /// Checks the values; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        if self.window_s == 0 || self.window_s > MAX_WINDOW_S {
            return Err(InvalidKey::new(
                "alert.window_s",
                format!("must be between 1 and {MAX_WINDOW_S}"),
            ));
        }
        if self.min_matches.is_none() && self.spike_factor.is_none() {
            return Err(InvalidKey::new(
                "alert",
                "set min_matches, spike_factor or both",
            ));
        }
        if self.min_matches == Some(0) {
            return Err(InvalidKey::new("alert.min_matches", "must be above 0"));
        }
        if let Some(factor) = self.spike_factor
            && !(factor.is_finite() && factor > 1.0)
        {
            return Err(InvalidKey::new(
                "alert.spike_factor",
                "must be a number above 1",
            ));
        }
        if self.spike_min_count == 0 {
            return Err(InvalidKey::new("alert.spike_min_count", "must be above 0"));
        }
        if !(1..=1000).contains(&self.baseline_windows) {
            return Err(InvalidKey::new(
                "alert.baseline_windows",
                "must be between 1 and 1000",
            ));
        }
        if self.cooldown_s.is_some_and(|c| c > 30 * 24 * 3600) {
            return Err(InvalidKey::new(
                "alert.cooldown_s",
                "must be at most 30 days",
            ));
        }
        if let Some(channels) = &self.channels
            && channels.iter().any(|c| c.trim().is_empty())
        {
            return Err(InvalidKey::new("alert.channels", "names must not be empty"));
        }
        Ok(())
    }

    /// The cool-down in seconds.
    pub fn cooldown(&self) -> u64 {
        self.cooldown_s.unwrap_or(self.window_s)
    }
}

/// Why a rules file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RulesFileError {
    /// Invalid TOML, an unknown key, a missing field or a wrong type.
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    /// A rule's alert section has a bad value.
    #[error("rule {id:?} (rule {position}): {message}")]
    Alert {
        /// The rule's id.
        id: String,
        /// 1-based position of the rule in the file.
        position: usize,
        /// What is wrong, naming the key.
        message: String,
    },
}

/// Parses a rules file and checks its alert sections. Rule ids and queries
/// are left to the filter's rule engine.
pub fn parse(toml: &str) -> Result<RulesFile, RulesFileError> {
    let file: RulesFile = toml::from_str(toml)?;
    for (index, rule) in file.rule.iter().enumerate() {
        if let Some(alert) = &rule.alert {
            alert.validate().map_err(|message| RulesFileError::Alert {
                id: rule.id.clone(),
                position: index + 1,
                message: message.to_string(),
            })?;
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_sections_parse_with_defaults() {
        let file = parse(
            "[[rule]]\nid = \"a\"\nquery = \"x\"\n[rule.alert]\nwindow_s = 60\nspike_factor = 3.0\n\
             [[rule]]\nid = \"b\"\nquery = \"y\"\n",
        )
        .unwrap();
        let alert = file.rule[0].alert.as_ref().unwrap();
        assert_eq!(alert.spike_min_count, 10);
        assert_eq!(alert.baseline_windows, 6);
        assert_eq!(alert.cooldown(), 60);
        assert!(file.rule[1].alert.is_none());
    }

    #[test]
    fn unknown_alert_key_and_bad_values_are_named() {
        let e = parse(
            "[[rule]]\nid = \"a\"\nquery = \"x\"\n[rule.alert]\nwindow_s = 60\nmin_match = 3\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("min_match"), "{e}");
        let e = parse("[[rule]]\nid = \"a\"\nquery = \"x\"\n[rule.alert]\nwindow_s = 60\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "rule \"a\" (rule 1): alert: set min_matches, spike_factor or both"
        );
        let e = parse("[[rule]]\nid = \"a\"\nquery = \"x\"\n[rule.alert]\nwindow_s = 60\nspike_factor = 0.5\n")
            .unwrap_err();
        assert!(e.to_string().contains("alert.spike_factor"), "{e}");
    }
}

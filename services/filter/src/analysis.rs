//! The per-post work of the run loop: match the rules, classify when a rule
//! or the matched record needs it, and count terms for trending. Pure and
//! synchronous; the loop around it does the I/O.
//!
//! Cost is paid only for what is configured: with no classifier and
//! trending off, a post is matched and nothing else (no tokenization). A
//! post is tokenized at most once, and classified at most once: when a
//! `label:` rule is still undecided after its keywords, or when the post
//! matched and a classifier is configured (to label the record).

use std::sync::Arc;

use crate::classify::{Classifier, ClassifyScratch, Prediction};
use crate::config::TrendingConfig;
use crate::reload::ActiveRules;
use crate::rules::{LabelScore, MatchScratch};
use crate::text::{BatchTerms, TermHistory, TokenScratch, Tokenizer, Trending};

/// Reusable state for analysing posts, one per worker.
pub struct PostAnalyzer {
    classifier: Option<Arc<Classifier>>,
    classify: ClassifyScratch,
    tokens: TokenScratch,
    trending: Option<TrendingState>,
}

struct TrendingState {
    config: TrendingConfig,
    history: TermHistory,
    batch: BatchTerms,
}

impl PostAnalyzer {
    /// An analyzer with an optional classifier, counting trending terms if
    /// `trending.enabled`. Loads the tokenizer's dictionary now if any text
    /// feature is on, so the first batch does not pay for it.
    pub fn new(trending: &TrendingConfig, classifier: Option<Arc<Classifier>>) -> PostAnalyzer {
        if trending.enabled || classifier.is_some() {
            Tokenizer::shared();
        }
        PostAnalyzer {
            classifier,
            classify: ClassifyScratch::default(),
            tokens: TokenScratch::new(),
            trending: trending.enabled.then(|| TrendingState {
                config: trending.clone(),
                history: TermHistory::new(trending.history_batches),
                batch: BatchTerms::new(0),
            }),
        }
    }

    /// Starts counting a new batch matched by `rule_count` rules.
    pub fn start_batch(&mut self, rule_count: usize) {
        if let Some(state) = &mut self.trending {
            state.batch = BatchTerms::new(rule_count);
        }
    }

    /// Matches `text` against `active` (indices into `matched`, ascending)
    /// and counts it for trending; returns the classifier's verdict if the
    /// post was classified.
    pub fn analyze(
        &mut self,
        active: &ActiveRules,
        text: &str,
        scratch: &mut MatchScratch,
        matched: &mut Vec<usize>,
    ) -> Option<Prediction> {
        let PostAnalyzer {
            classifier,
            classify,
            tokens,
            trending,
        } = self;
        let mut prediction = None;
        let mut tokenized = false;
        if active.rules.uses_labels() {
            active
                .rules
                .match_text_with(text, scratch, matched, |normalized, scores| {
                    let Some(model) = classifier.as_deref() else {
                        return false;
                    };
                    Tokenizer::shared().tokenize_normalized(normalized, tokens);
                    tokenized = true;
                    let verdict = model.classify_tokens(tokens.tokens(), classify);
                    scores.extend(active.label_map.iter().map(|&label| LabelScore {
                        probability: classify.probabilities.get(label).copied().unwrap_or(0.0),
                        top: label == verdict.label,
                    }));
                    prediction = Some(verdict);
                    true
                });
        } else {
            active.rules.match_text(text, scratch, matched);
        }
        let label_record = classifier.is_some() && !matched.is_empty() && prediction.is_none();
        if !tokenized && (label_record || trending.is_some()) {
            Tokenizer::shared().tokenize_normalized(scratch.normalized_text(), tokens);
        }
        if label_record && let Some(model) = classifier.as_deref() {
            prediction = Some(model.classify_tokens(tokens.tokens(), classify));
        }
        if let Some(state) = trending {
            state.batch.add_post(tokens.tokens(), matched);
        }
        prediction
    }

    /// The label name of a prediction.
    pub fn label_name(&self, prediction: &Prediction) -> Option<&str> {
        self.classifier
            .as_deref()
            .and_then(|m| m.labels().get(prediction.label))
            .map(String::as_str)
    }

    /// Trending terms of the batch just closed (`None` when trending is
    /// off); the batch joins the history.
    pub fn close_batch(&mut self) -> Option<Trending> {
        let state = self.trending.as_mut()?;
        let batch = std::mem::take(&mut state.batch);
        Some(
            state
                .history
                .close(batch, state.config.top_n, state.config.min_posts),
        )
    }
}

#[cfg(test)]
mod tests;

//! The classifier model and its versioned JSON file.
//!
//! The model is multinomial logistic regression (softmax) over the TF-IDF
//! vector of [`features`](super::features). The file stores everything
//! prediction needs — labels, the n-gram vocabulary, IDF weights, one weight
//! row and bias per label — plus how it was trained:
//!
//! ```json
//! {"format": "weibostream-classifier", "version": 1, "model": "tfidf-logreg",
//!  "labels": ["negative", "positive"], "ngram_max": 2,
//!  "vocabulary": ["不", "好", "不 好"], "idf": [1.2, 1.1, 3.4],
//!  "weights": [[...], [...]], "bias": [0.1, -0.1], "training": {...}}
//! ```

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::features::{FeatureScratch, Vocabulary, vectorize};
use crate::text::{TokenScratch, Tokenizer};

/// `format` of every model file.
pub const FORMAT: &str = "weibostream-classifier";
/// The model file version this build reads and writes.
pub const VERSION: u32 = 1;
/// `model` of the only model kind so far.
pub const KIND: &str = "tfidf-logreg";

/// How a model was trained, kept in the file for the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Training {
    /// Training examples used.
    pub examples: usize,
    /// N-grams seen in fewer training examples were left out of the vocabulary.
    pub min_df: usize,
    /// Inverse L2 regularization strength (scikit-learn's `C`).
    pub c: f64,
    /// Optimizer iterations run.
    pub iterations: usize,
    /// Final value of the training objective.
    pub loss: f64,
}

/// The on-disk form of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// File version; this build reads [`VERSION`].
    pub version: u32,
    /// Always [`KIND`].
    pub model: String,
    /// Class names, in weight-row order.
    pub labels: Vec<String>,
    /// Longest n-gram used (2: unigrams and bigrams).
    pub ngram_max: usize,
    /// N-grams, in feature order; bigrams are two tokens joined by a space.
    pub vocabulary: Vec<String>,
    /// Inverse document frequency per feature.
    pub idf: Vec<f32>,
    /// One row of feature weights per label.
    pub weights: Vec<Vec<f32>>,
    /// One bias per label.
    pub bias: Vec<f32>,
    /// How the model was trained.
    pub training: Training,
}

/// A loaded model, ready to classify. `Send + Sync`; give each thread its
/// own [`ClassifyScratch`].
#[derive(Debug, Clone)]
pub struct Classifier {
    file: ModelFile,
    vocabulary: Vocabulary,
}

/// Reusable buffers for [`Classifier::classify_text`].
#[derive(Debug, Default, Clone)]
pub struct ClassifyScratch {
    tokens: TokenScratch,
    features: FeatureScratch,
    /// Probabilities of the last classification, one per label.
    pub probabilities: Vec<f64>,
}

/// A classification: the most probable label and its probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Index into [`Classifier::labels`].
    pub label: usize,
    /// Probability of that label, in [0, 1].
    pub probability: f64,
}

impl Classifier {
    /// Checks a model file's shape and indexes its vocabulary.
    ///
    /// # Errors
    ///
    /// Wrong format, an unsupported version or kind, fewer than two labels,
    /// or rows whose lengths disagree with the vocabulary.
    pub fn from_file(file: ModelFile) -> anyhow::Result<Classifier> {
        anyhow::ensure!(file.format == FORMAT, "not a {FORMAT} file");
        anyhow::ensure!(
            file.version == VERSION,
            "model file version {} is not supported (this build reads version {VERSION})",
            file.version
        );
        anyhow::ensure!(file.model == KIND, "unknown model kind {:?}", file.model);
        anyhow::ensure!(file.ngram_max == 2, "ngram_max must be 2");
        anyhow::ensure!(file.labels.len() >= 2, "a model needs at least two labels");
        let features = file.vocabulary.len();
        anyhow::ensure!(
            file.idf.len() == features,
            "idf length differs from vocabulary"
        );
        anyhow::ensure!(
            file.weights.len() == file.labels.len() && file.bias.len() == file.labels.len(),
            "one weight row and one bias per label expected"
        );
        anyhow::ensure!(
            file.weights.iter().all(|row| row.len() == features),
            "weight rows must be as long as the vocabulary"
        );
        let vocabulary = Vocabulary::new(file.vocabulary.iter().map(String::as_str));
        anyhow::ensure!(
            vocabulary.len() == features,
            "vocabulary has duplicate entries"
        );
        Ok(Classifier { file, vocabulary })
    }

    /// Reads and checks a model file.
    ///
    /// # Errors
    ///
    /// The file cannot be read or parsed, or fails [`Classifier::from_file`];
    /// the message names the path.
    pub fn load(path: &Path) -> anyhow::Result<Classifier> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading model file {}", path.display()))?;
        let file: ModelFile = serde_json::from_str(&text)
            .with_context(|| format!("model file {}", path.display()))?;
        Classifier::from_file(file).with_context(|| format!("model file {}", path.display()))
    }

    /// Writes the model as JSON.
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_vec(&self.file).context("encoding the model")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))
    }

    /// The model's file form.
    pub fn file(&self) -> &ModelFile {
        &self.file
    }

    /// Class names, in the order of [`ClassifyScratch::probabilities`].
    pub fn labels(&self) -> &[String] {
        &self.file.labels
    }

    /// Index of a label, if the model has it.
    pub fn label_index(&self, label: &str) -> Option<usize> {
        self.file.labels.iter().position(|l| l == label)
    }

    /// Classifies raw text (tokenized with the shared tokenizer).
    pub fn classify_text(&self, text: &str, scratch: &mut ClassifyScratch) -> Prediction {
        Tokenizer::shared().tokenize(text, &mut scratch.tokens);
        self.classify_scratch_tokens(scratch)
    }

    /// Classifies text already [`normalize`](crate::rules::normalize)d.
    pub fn classify_normalized(
        &self,
        normalized: &str,
        scratch: &mut ClassifyScratch,
    ) -> Prediction {
        Tokenizer::shared().tokenize_normalized(normalized, &mut scratch.tokens);
        self.classify_scratch_tokens(scratch)
    }

    /// Classifies a token sequence.
    pub fn classify_tokens<'t>(
        &self,
        tokens: impl Iterator<Item = &'t str> + Clone,
        scratch: &mut ClassifyScratch,
    ) -> Prediction {
        vectorize(
            tokens,
            &self.vocabulary,
            &self.file.idf,
            &mut scratch.features,
        );
        self.probabilities(&scratch.features.vector, &mut scratch.probabilities)
    }

    fn classify_scratch_tokens(&self, scratch: &mut ClassifyScratch) -> Prediction {
        let ClassifyScratch {
            tokens,
            features,
            probabilities,
        } = scratch;
        vectorize(tokens.tokens(), &self.vocabulary, &self.file.idf, features);
        self.probabilities(&features.vector, probabilities)
    }

    /// Softmax of the label scores of a feature vector, into `out`.
    fn probabilities(&self, vector: &[(u32, f32)], out: &mut Vec<f64>) -> Prediction {
        out.clear();
        for (row, &bias) in self.file.weights.iter().zip(&self.file.bias) {
            let score: f32 = vector
                .iter()
                .map(|&(f, x)| row.get(f as usize).copied().unwrap_or(0.0) * x)
                .sum();
            out.push(f64::from(score + bias));
        }
        softmax_in_place(out);
        let (label, probability) =
            out.iter()
                .copied()
                .enumerate()
                .fold(
                    (0, f64::MIN),
                    |best, (i, p)| if p > best.1 { (i, p) } else { best },
                );
        Prediction { label, probability }
    }
}

/// Replaces scores by their softmax, stably.
pub fn softmax_in_place(scores: &mut [f64]) {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    if sum > 0.0 {
        scores.iter_mut().for_each(|s| *s /= sum);
    }
}

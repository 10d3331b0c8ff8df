//! From tokens to the classifier's feature vector: unigrams and bigrams
//! (adjacent tokens joined by a space), weighted by sublinear TF-IDF
//! (`(1 + ln tf) * idf`) and scaled to unit length — the same weighting as
//! scikit-learn's `TfidfVectorizer(sublinear_tf=True)`.

use foldhash::HashMap;

/// Feature index by n-gram; the training vocabulary.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    index: HashMap<Box<str>, u32>,
}

impl Vocabulary {
    /// Indexes `terms` in order (the first is feature 0).
    pub fn new<'a>(terms: impl IntoIterator<Item = &'a str>) -> Vocabulary {
        let index = terms
            .into_iter()
            .enumerate()
            .map(|(i, term)| (Box::from(term), i as u32))
            .collect();
        Vocabulary { index }
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there is no feature.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The feature index of an n-gram, if it is in the vocabulary.
    pub fn get(&self, term: &str) -> Option<u32> {
        self.index.get(term).copied()
    }
}

/// Reusable buffers for building one feature vector.
#[derive(Debug, Default, Clone)]
pub struct FeatureScratch {
    bigram: String,
    counts: HashMap<u32, u32>,
    /// The last vector built: `(feature, weight)`, sorted by feature.
    pub vector: Vec<(u32, f32)>,
}

/// Calls `each` with every unigram and then every bigram of `tokens`;
/// `buffer` holds the bigram being built.
pub fn for_each_ngram<'t>(
    tokens: impl Iterator<Item = &'t str> + Clone,
    buffer: &mut String,
    mut each: impl FnMut(&str),
) {
    for token in tokens.clone() {
        each(token);
    }
    let mut previous: Option<&str> = None;
    for token in tokens {
        if let Some(previous) = previous {
            buffer.clear();
            buffer.push_str(previous);
            buffer.push(' ');
            buffer.push_str(token);
            each(buffer);
        }
        previous = Some(token);
    }
}

/// Builds the unit-length TF-IDF vector of `tokens` into `scratch.vector`;
/// n-grams outside the vocabulary are ignored.
pub fn vectorize<'t>(
    tokens: impl Iterator<Item = &'t str> + Clone,
    vocabulary: &Vocabulary,
    idf: &[f32],
    scratch: &mut FeatureScratch,
) {
    scratch.counts.clear();
    let counts = &mut scratch.counts;
    for_each_ngram(tokens, &mut scratch.bigram, |term| {
        if let Some(feature) = vocabulary.get(term) {
            *counts.entry(feature).or_default() += 1;
        }
    });
    let vector = &mut scratch.vector;
    vector.clear();
    vector.extend(counts.iter().map(|(&feature, &count)| {
        let idf = idf.get(feature as usize).copied().unwrap_or(0.0);
        (feature, (1.0 + (count as f32).ln()) * idf)
    }));
    vector.sort_unstable_by_key(|&(feature, _)| feature);
    let norm = vector.iter().map(|&(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|(_, w)| *w /= norm);
    }
}

/// Smoothed inverse document frequency, as scikit-learn computes it:
/// `ln((1 + documents) / (1 + df)) + 1`.
pub fn smooth_idf(documents: usize, df: usize) -> f32 {
    (((1 + documents) as f64 / (1 + df) as f64).ln() + 1.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ngrams_are_unigrams_then_bigrams() {
        let mut seen = Vec::new();
        let mut buffer = String::new();
        for_each_ngram(["a", "b", "c"].into_iter(), &mut buffer, |t| {
            seen.push(t.to_owned())
        });
        assert_eq!(seen, ["a", "b", "c", "a b", "b c"]);
    }

    #[test]
    fn vectors_are_unit_length_tf_idf() {
        let vocabulary = Vocabulary::new(["好", "不", "不 好"]);
        let idf = [1.0, 2.0, 3.0];
        let mut scratch = FeatureScratch::default();
        vectorize(
            ["不", "unknown", "好", "好"].into_iter(),
            &vocabulary,
            &idf,
            &mut scratch,
        );
        let features: Vec<u32> = scratch.vector.iter().map(|&(f, _)| f).collect();
        assert_eq!(features, [0, 1]);
        let norm: f32 = scratch.vector.iter().map(|&(_, w)| w * w).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        // (1 + ln 2) * 1 vs 1 * 2
        let ratio = scratch.vector[0].1 / scratch.vector[1].1;
        assert!((ratio - (1.0 + 2f32.ln()) / 2.0).abs() < 1e-5, "{ratio}");
        vectorize(["x"].into_iter(), &vocabulary, &idf, &mut scratch);
        assert!(scratch.vector.is_empty());
    }

    #[test]
    fn idf_matches_scikit_learn() {
        assert!((smooth_idf(9, 9) - 1.0).abs() < 1e-6);
        assert!((smooth_idf(9, 0) - (10f32.ln() + 1.0)).abs() < 1e-5);
    }
}

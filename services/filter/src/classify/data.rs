//! Labelled examples (`{"text": ..., "label": ...}` per line) and the seeded
//! train/test split shared by `filter train`, `filter eval` and
//! `filter tokenize`, so every tool sees the same held-out posts.

use std::io::BufRead;
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

/// One labelled text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Example {
    /// The post text.
    pub text: String,
    /// Its class, e.g. `positive`.
    pub label: String,
}

/// Reads a JSON-lines file of examples; blank lines are skipped.
///
/// # Errors
///
/// The file cannot be read, or a line is not an example (the error names the
/// line number).
pub fn read_examples(path: &Path) -> anyhow::Result<Vec<Example>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut examples = Vec::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let example: Example = serde_json::from_str(&line).with_context(|| {
            format!(
                "{} line {}: expected {{\"text\": ..., \"label\": ...}}",
                path.display(),
                index + 1
            )
        })?;
        if example.label.trim().is_empty() {
            anyhow::bail!("{} line {}: empty label", path.display(), index + 1);
        }
        examples.push(example);
    }
    anyhow::ensure!(!examples.is_empty(), "{}: no examples", path.display());
    Ok(examples)
}

/// Drops every example whose exact text appeared earlier in the list.
pub fn dedupe(examples: Vec<Example>) -> Vec<Example> {
    let mut seen = std::collections::HashSet::new();
    examples
        .into_iter()
        .filter(|e| seen.insert(e.text.clone()))
        .collect()
}

/// Which side of the split each example falls on: `true` for training.
/// A seeded Fisher-Yates shuffle of the indices; the first `train_fraction`
/// of the shuffled order trains, the rest is held out. Same input length,
/// fraction and seed give the same split on every machine.
pub fn split_mask(len: usize, train_fraction: f64, seed: u64) -> Vec<bool> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut rng = SplitMix64(seed);
    for i in (1..len).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let train = ((len as f64) * train_fraction.clamp(0.0, 1.0)).round() as usize;
    let mut mask = vec![false; len];
    for &index in order.iter().take(train) {
        mask[index] = true;
    }
    mask
}

/// SplitMix64: tiny, well-known, and easy to reproduce in other languages.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_seeded_and_sized() {
        let a = split_mask(1000, 0.8, 42);
        assert_eq!(a, split_mask(1000, 0.8, 42));
        assert_ne!(a, split_mask(1000, 0.8, 43));
        assert_eq!(a.iter().filter(|&&t| t).count(), 800);
        assert!(split_mask(10, 1.0, 1).iter().all(|&t| t));
        assert!(split_mask(0, 0.8, 1).is_empty());
    }

    #[test]
    fn dedupe_keeps_first_occurrences() {
        let e = |text: &str, label: &str| Example {
            text: text.into(),
            label: label.into(),
        };
        let kept = dedupe(vec![e("a", "x"), e("b", "x"), e("a", "y")]);
        assert_eq!(kept, vec![e("a", "x"), e("b", "x")]);
    }

    #[test]
    fn reads_examples_and_names_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.jsonl");
        std::fs::write(&path, "{\"text\":\"好\",\"label\":\"pos\"}\n\n").unwrap();
        assert_eq!(read_examples(&path).unwrap().len(), 1);
        std::fs::write(&path, "{\"text\":\"好\",\"label\":\"pos\"}\n{\"text\":1}\n").unwrap();
        let error = format!("{:#}", read_examples(&path).unwrap_err());
        assert!(error.contains("line 2"), "{error}");
        std::fs::write(&path, "").unwrap();
        assert!(read_examples(&path).is_err());
    }
}

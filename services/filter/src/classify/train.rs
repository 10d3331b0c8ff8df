//! Training: vocabulary and IDF from the training tokens, then multinomial
//! logistic regression with an L2 penalty, fitted by L-BFGS. The objective
//! is scikit-learn's `LogisticRegression(C=c)` divided by the number of
//! examples: mean cross-entropy plus `|W|² / (2 c n)`. Deterministic: the
//! same examples and options give the same model.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::features::{FeatureScratch, Vocabulary, for_each_ngram, smooth_idf, vectorize};
use super::model::{Classifier, FORMAT, KIND, ModelFile, Training, VERSION, softmax_in_place};

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainOptions {
    /// N-grams in fewer training examples than this are left out.
    pub min_df: usize,
    /// Inverse regularization strength (larger: weaker penalty).
    pub c: f64,
    /// Upper bound on optimizer iterations.
    pub max_iterations: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            min_df: 2,
            c: 5.0,
            max_iterations: 400,
        }
    }
}

/// One training example: its tokens and its label.
pub type TokenizedExample<'a> = (&'a [String], &'a str);

/// Trains a classifier.
///
/// # Errors
///
/// Fewer than two distinct labels, or no n-gram reaching `min_df`.
pub fn train(
    examples: &[TokenizedExample<'_>],
    options: TrainOptions,
) -> anyhow::Result<Classifier> {
    let labels: Vec<String> = examples
        .iter()
        .map(|&(_, label)| label)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_owned)
        .collect();
    anyhow::ensure!(
        labels.len() >= 2,
        "training needs at least two distinct labels"
    );
    let label_of: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();

    let mut df: HashMap<String, usize> = HashMap::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut buffer = String::new();
    for (tokens, _) in examples {
        seen.clear();
        for_each_ngram(tokens.iter().map(String::as_str), &mut buffer, |term| {
            if !seen.contains(term) {
                seen.insert(term.to_owned());
            }
        });
        for term in seen.drain() {
            *df.entry(term).or_default() += 1;
        }
    }
    let mut terms: Vec<(String, usize)> = df
        .into_iter()
        .filter(|&(_, n)| n >= options.min_df)
        .collect();
    anyhow::ensure!(
        !terms.is_empty(),
        "no n-gram occurs in {} examples",
        options.min_df
    );
    terms.sort_unstable();
    let idf: Vec<f32> = terms
        .iter()
        .map(|&(_, n)| smooth_idf(examples.len(), n))
        .collect();
    let vocabulary = Vocabulary::new(terms.iter().map(|(t, _)| t.as_str()));

    let mut rows = Rows::default();
    let mut scratch = FeatureScratch::default();
    for (tokens, label) in examples {
        vectorize(
            tokens.iter().map(String::as_str),
            &vocabulary,
            &idf,
            &mut scratch,
        );
        rows.push(&scratch.vector, label_of.get(label).copied().unwrap_or(0));
    }
    let problem = Problem {
        rows: &rows,
        classes: labels.len(),
        features: terms.len(),
        penalty: 1.0 / (options.c * examples.len() as f64),
    };
    let (params, iterations, loss) = lbfgs(&problem, options.max_iterations);
    let features = terms.len();
    let weights = (0..labels.len())
        .map(|k| {
            params[k * features..(k + 1) * features]
                .iter()
                .map(|&w| w as f32)
                .collect()
        })
        .collect();
    let bias = params[labels.len() * features..]
        .iter()
        .map(|&b| b as f32)
        .collect();
    Classifier::from_file(ModelFile {
        format: FORMAT.into(),
        version: VERSION,
        model: KIND.into(),
        labels,
        ngram_max: 2,
        vocabulary: terms.into_iter().map(|(t, _)| t).collect(),
        idf,
        weights,
        bias,
        training: Training {
            examples: examples.len(),
            min_df: options.min_df,
            c: options.c,
            iterations,
            loss,
        },
    })
}

/// The training matrix in compressed sparse rows.
#[derive(Default)]
struct Rows {
    start: Vec<usize>,
    entries: Vec<(u32, f32)>,
    labels: Vec<usize>,
}

impl Rows {
    fn push(&mut self, vector: &[(u32, f32)], label: usize) {
        self.start.push(self.entries.len());
        self.entries.extend_from_slice(vector);
        self.labels.push(label);
    }

    fn iter(&self) -> impl Iterator<Item = (&[(u32, f32)], usize)> {
        (0..self.labels.len()).map(|i| {
            let end = self.start.get(i + 1).copied().unwrap_or(self.entries.len());
            (&self.entries[self.start[i]..end], self.labels[i])
        })
    }
}

/// Softmax regression objective; parameters are `classes` weight rows of
/// `features` each, then `classes` biases.
struct Problem<'a> {
    rows: &'a Rows,
    classes: usize,
    features: usize,
    penalty: f64,
}

impl Problem<'_> {
    fn dimension(&self) -> usize {
        self.classes * (self.features + 1)
    }

    /// Objective value, with its gradient written into `grad`.
    fn evaluate(&self, params: &[f64], grad: &mut [f64]) -> f64 {
        let (k_count, d) = (self.classes, self.features);
        grad.iter_mut().for_each(|g| *g = 0.0);
        let n = self.rows.labels.len().max(1) as f64;
        let mut scores = vec![0.0; k_count];
        let mut loss = 0.0;
        for (row, label) in self.rows.iter() {
            for (k, score) in scores.iter_mut().enumerate() {
                let w = &params[k * d..(k + 1) * d];
                *score = params[k_count * d + k]
                    + row
                        .iter()
                        .map(|&(f, x)| w[f as usize] * f64::from(x))
                        .sum::<f64>();
            }
            softmax_in_place(&mut scores);
            loss -= scores[label].max(1e-300).ln();
            for (k, &p) in scores.iter().enumerate() {
                let delta = (p - f64::from(u8::from(k == label))) / n;
                grad[k_count * d + k] += delta;
                let g = &mut grad[k * d..(k + 1) * d];
                for &(f, x) in row {
                    g[f as usize] += delta * f64::from(x);
                }
            }
        }
        let mut norm = 0.0;
        for (g, &w) in grad[..k_count * d].iter_mut().zip(&params[..k_count * d]) {
            *g += self.penalty * w;
            norm += w * w;
        }
        loss / n + 0.5 * self.penalty * norm
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Limited-memory BFGS with a backtracking (Armijo) line search. Returns the
/// parameters, the iterations run and the final objective value.
fn lbfgs(problem: &Problem<'_>, max_iterations: usize) -> (Vec<f64>, usize, f64) {
    const MEMORY: usize = 8;
    let n = problem.dimension();
    let mut x = vec![0.0; n];
    let mut g = vec![0.0; n];
    let mut f = problem.evaluate(&x, &mut g);
    let mut history: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::with_capacity(MEMORY);
    let (mut x_new, mut g_new) = (vec![0.0; n], vec![0.0; n]);
    let mut direction = vec![0.0; n];
    let mut alphas = [0.0; MEMORY];
    let mut iterations = 0;
    while iterations < max_iterations {
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < 1e-6 {
            break;
        }
        iterations += 1;
        // Two-loop recursion: direction = -H g.
        direction.iter_mut().zip(&g).for_each(|(d, v)| *d = -v);
        for (i, (s, y, rho)) in history.iter().enumerate().rev() {
            alphas[i] = rho * dot(s, &direction);
            direction
                .iter_mut()
                .zip(y)
                .for_each(|(d, v)| *d -= alphas[i] * v);
        }
        if let Some((s, y, _)) = history.last() {
            let scale = dot(s, y) / dot(y, y);
            direction.iter_mut().for_each(|d| *d *= scale);
        }
        for (i, (s, y, rho)) in history.iter().enumerate() {
            let beta = rho * dot(y, &direction);
            direction
                .iter_mut()
                .zip(s)
                .for_each(|(d, v)| *d += (alphas[i] - beta) * v);
        }
        let mut slope = dot(&g, &direction);
        if slope >= 0.0 {
            // Not a descent direction (numerical trouble): restart from steepest descent.
            history.clear();
            direction.iter_mut().zip(&g).for_each(|(d, v)| *d = -v);
            slope = dot(&g, &direction);
        }
        let mut step = if history.is_empty() {
            1.0 / dot(&g, &g).sqrt().max(1e-12)
        } else {
            1.0
        };
        let mut f_new = f;
        let mut accepted = false;
        for _ in 0..40 {
            x_new
                .iter_mut()
                .zip(&x)
                .zip(&direction)
                .for_each(|((xn, xo), d)| *xn = xo + step * d);
            f_new = problem.evaluate(&x_new, &mut g_new);
            if f_new <= f + 1e-4 * step * slope {
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            if history.len() == MEMORY {
                history.remove(0);
            }
            history.push((s, y, 1.0 / sy));
        }
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        let converged = (f - f_new).abs() <= 1e-10 * f.abs().max(1.0);
        f = f_new;
        if converged {
            break;
        }
    }
    (x, iterations, f)
}

#[cfg(test)]
mod tests;

//! Evaluation on held-out examples: accuracy, per-class precision and
//! recall, and the confusion matrix.

use std::fmt::Write as _;

/// Counts of (actual, predicted) label pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    labels: Vec<String>,
    /// `confusion[actual][predicted]`.
    confusion: Vec<Vec<usize>>,
}

impl Evaluation {
    /// An empty evaluation over the model's labels.
    pub fn new(labels: &[String]) -> Evaluation {
        Evaluation {
            labels: labels.to_vec(),
            confusion: vec![vec![0; labels.len()]; labels.len()],
        }
    }

    /// Records one example. An actual label the model does not know gets a
    /// row of its own (always counted wrong).
    pub fn record(&mut self, actual: &str, predicted: usize) {
        let row = match self.labels.iter().position(|l| l == actual) {
            Some(row) => row,
            None => {
                self.labels.push(actual.to_owned());
                self.confusion.iter_mut().for_each(|r| r.push(0));
                self.confusion.push(vec![0; self.labels.len()]);
                self.labels.len() - 1
            }
        };
        if let Some(cell) = self
            .confusion
            .get_mut(row)
            .and_then(|r| r.get_mut(predicted))
        {
            *cell += 1;
        }
    }

    /// Examples recorded.
    pub fn total(&self) -> usize {
        self.confusion.iter().flatten().sum()
    }

    /// Fraction predicted right (0 when nothing was recorded).
    pub fn accuracy(&self) -> f64 {
        let right: usize = (0..self.labels.len()).map(|k| self.confusion[k][k]).sum();
        ratio(right, self.total())
    }

    /// Of the examples predicted as label `k`, the fraction that are `k`.
    pub fn precision(&self, k: usize) -> f64 {
        let predicted: usize = self.confusion.iter().map(|row| row[k]).sum();
        ratio(self.confusion[k][k], predicted)
    }

    /// Of the examples that are label `k`, the fraction predicted as `k`.
    pub fn recall(&self, k: usize) -> f64 {
        ratio(self.confusion[k][k], self.confusion[k].iter().sum())
    }

    /// The labels, in matrix order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// `confusion()[actual][predicted]` counts.
    pub fn confusion(&self) -> &[Vec<usize>] {
        &self.confusion
    }

    /// The report `filter eval` prints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let width = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(5)
            .max(9);
        let _ = writeln!(
            out,
            "accuracy: {:.4} ({} examples)",
            self.accuracy(),
            self.total()
        );
        let _ = writeln!(out, "{:width$}  precision  recall  support", "label");
        for (k, label) in self.labels.iter().enumerate() {
            let support: usize = self.confusion[k].iter().sum();
            let _ = writeln!(
                out,
                "{label:width$}  {:9.4}  {:6.4}  {support:7}",
                self.precision(k),
                self.recall(k)
            );
        }
        let _ = writeln!(out, "confusion matrix (rows: actual, columns: predicted):");
        let _ = write!(out, "{:width$}", "");
        for label in &self.labels {
            let _ = write!(out, "  {label:>width$}");
        }
        out.push('\n');
        for (label, row) in self.labels.iter().zip(&self.confusion) {
            let _ = write!(out, "{label:width$}");
            for count in row {
                let _ = write!(out, "  {count:>width$}");
            }
            out.push('\n');
        }
        out
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_from_the_confusion_matrix() {
        let labels = ["neg".to_string(), "pos".to_string()];
        let mut eval = Evaluation::new(&labels);
        for (actual, predicted) in [("pos", 1), ("pos", 1), ("pos", 0), ("neg", 0), ("neg", 1)] {
            eval.record(actual, predicted);
        }
        assert_eq!(eval.total(), 5);
        assert!((eval.accuracy() - 0.6).abs() < 1e-12);
        assert!((eval.precision(1) - 2.0 / 3.0).abs() < 1e-12);
        assert!((eval.recall(1) - 2.0 / 3.0).abs() < 1e-12);
        assert!((eval.recall(0) - 0.5).abs() < 1e-12);
        assert_eq!(eval.confusion(), [vec![1, 1], vec![1, 2]]);
        let text = eval.render();
        assert!(text.starts_with("accuracy: 0.6000 (5 examples)"), "{text}");
        assert!(text.contains("confusion matrix"), "{text}");
    }

    #[test]
    fn unknown_actual_labels_get_a_row() {
        let mut eval = Evaluation::new(&["a".to_string(), "b".to_string()]);
        eval.record("c", 0);
        assert_eq!(eval.labels(), ["a", "b", "c"]);
        assert_eq!(eval.confusion()[2], [1, 0, 0]);
        assert_eq!(eval.accuracy(), 0.0);
        assert_eq!(Evaluation::new(&[]).accuracy(), 0.0);
    }
}

//! The subcommands of the `filter` binary: the offline `train`, `eval` and
//! `tokenize`, and `inspect` (topic, group members and lag). Each is a plain
//! function over its parsed arguments.

pub mod eval;
pub mod inspect;
pub mod tokenize;
pub mod train;

use std::path::PathBuf;

pub use eval::EvalArgs;
pub use inspect::InspectArgs;
pub use tokenize::TokenizeArgs;
pub use train::TrainArgs;

use crate::classify::TrainOptions;
use crate::classify::data::{Example, dedupe, read_examples, split_mask};

/// The labelled input and how to split it.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Labelled JSON lines (`{"text": ..., "label": ...}`).
    #[arg(long)]
    pub input: PathBuf,
    /// Seed of the train/test split.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Drop examples whose exact text already appeared (before splitting).
    #[arg(long)]
    pub dedupe: bool,
}

/// Training settings shared by `train` and `eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// N-grams in fewer training examples are left out of the vocabulary.
    #[arg(long, default_value_t = TrainOptions::default().min_df)]
    pub min_df: usize,
    /// Inverse L2 regularization strength, as scikit-learn's `C`.
    #[arg(long, default_value_t = TrainOptions::default().c)]
    pub c: f64,
    /// Upper bound on optimizer (L-BFGS) iterations.
    #[arg(long, default_value_t = TrainOptions::default().max_iterations)]
    pub max_iterations: usize,
}

impl ModelArgs {
    fn options(&self) -> TrainOptions {
        TrainOptions {
            min_df: self.min_df,
            c: self.c,
            max_iterations: self.max_iterations,
        }
    }
}

/// Reads the examples and splits them: `(training side, held-out side)`.
/// A `split` of `None` puts everything on the held-out side.
fn load_split(data: &DataArgs, split: Option<f64>) -> anyhow::Result<(Vec<Example>, Vec<Example>)> {
    anyhow::ensure!(
        split.is_none_or(|s| (0.0..=1.0).contains(&s)),
        "--split must be between 0 and 1"
    );
    let mut examples = read_examples(&data.input)?;
    if data.dedupe {
        examples = dedupe(examples);
    }
    let mask = match split {
        Some(fraction) => split_mask(examples.len(), fraction, data.seed),
        None => vec![false; examples.len()],
    };
    let (train, test): (Vec<_>, Vec<_>) = examples
        .into_iter()
        .zip(mask)
        .partition(|(_, train)| *train);
    Ok((
        train.into_iter().map(|(e, _)| e).collect(),
        test.into_iter().map(|(e, _)| e).collect(),
    ))
}

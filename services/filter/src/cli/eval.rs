//! `filter eval`: accuracy, per-class precision/recall and the confusion
//! matrix on held-out examples — of a saved model (`--model`), or of a model
//! trained on the training side of a seeded split.

use std::path::PathBuf;

use super::{DataArgs, ModelArgs, load_split, train::fit};
use crate::classify::eval::Evaluation;
use crate::classify::{Classifier, ClassifyScratch};

/// Arguments of `filter eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Input and split.
    #[command(flatten)]
    pub data: DataArgs,
    /// Training settings.
    #[command(flatten)]
    pub model: ModelArgs,
    /// A saved model to evaluate; without it, one is trained on the
    /// training side of the split.
    #[arg(long = "model")]
    pub model_path: Option<PathBuf>,
    /// Fraction of the input used for training; the rest is evaluated.
    /// Default 0.8 when training, and all of the input with `--model`.
    #[arg(long)]
    pub split: Option<f64>,
}

/// Evaluates and prints the report to stdout.
pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let report = evaluate(args)?;
    print!("{}", report.render());
    Ok(())
}

/// The evaluation `run` prints.
pub fn evaluate(args: &EvalArgs) -> anyhow::Result<Evaluation> {
    let split = match (&args.model_path, args.split) {
        (Some(_), split) => split,
        (None, split) => Some(split.unwrap_or(0.8)),
    };
    let (train_side, held_out) = load_split(&args.data, split)?;
    anyhow::ensure!(!held_out.is_empty(), "no held-out examples to evaluate");
    let model = match &args.model_path {
        Some(path) => Classifier::load(path)?,
        None => fit(&train_side, args.model.options())?,
    };
    let mut evaluation = Evaluation::new(model.labels());
    let mut scratch = ClassifyScratch::default();
    for example in &held_out {
        let prediction = model.classify_text(&example.text, &mut scratch);
        evaluation.record(&example.label, prediction.label);
    }
    eprintln!(
        "filter eval: {} training, {} held-out examples (seed {}{})",
        train_side.len(),
        held_out.len(),
        args.data.seed,
        if args.data.dedupe {
            ", deduplicated"
        } else {
            ""
        }
    );
    Ok(evaluation)
}

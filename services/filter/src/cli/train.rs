//! `filter train`: tokenizes labelled examples with the shared tokenizer,
//! trains the classifier and saves it as a versioned JSON model file.

use std::path::PathBuf;
use std::time::Instant;

use super::{DataArgs, ModelArgs, load_split};
use crate::classify::data::Example;
use crate::classify::train::TokenizedExample;
use crate::classify::{Classifier, TrainOptions, train};
use crate::text::Tokenizer;

/// Arguments of `filter train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Input and split.
    #[command(flatten)]
    pub data: DataArgs,
    /// Training settings.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Where to write the model file.
    #[arg(long)]
    pub out: PathBuf,
    /// Train only on this fraction of the input (the training side of the
    /// seeded split `filter eval --split` uses); default: all of it.
    #[arg(long)]
    pub split: Option<f64>,
}

/// Trains and saves; prints a one-line summary to stderr.
pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    let (train_side, held_out) = load_split(&args.data, Some(args.split.unwrap_or(1.0)))?;
    let started = Instant::now();
    let model = fit(&train_side, args.model.options())?;
    model.save(&args.out)?;
    let file = model.file();
    eprintln!(
        "filter train: {} examples ({} held out), labels {:?}, {} features, {} iterations, {:.1} s -> {}",
        train_side.len(),
        held_out.len(),
        file.labels,
        file.vocabulary.len(),
        file.training.iterations,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

/// Tokenizes the examples and trains a classifier on them.
pub fn fit(examples: &[Example], options: TrainOptions) -> anyhow::Result<Classifier> {
    let tokenizer = Tokenizer::shared();
    let tokens: Vec<Vec<String>> = examples.iter().map(|e| tokenizer.tokens(&e.text)).collect();
    let pairs: Vec<TokenizedExample<'_>> = tokens
        .iter()
        .zip(examples)
        .map(|(t, e)| (t.as_slice(), e.label.as_str()))
        .collect();
    train(&pairs, options)
}

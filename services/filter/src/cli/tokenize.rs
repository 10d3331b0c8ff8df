//! `filter tokenize`: the shared tokenizer's output for a labelled file, one
//! JSON line per example with its side of the seeded split. Feeds the
//! scikit-learn comparison (`deploy/data/compare_sklearn.py`) the exact
//! tokens and split the Rust classifier uses.

use std::io::Write as _;

use anyhow::Context as _;
use serde::Serialize;

use super::DataArgs;
use crate::classify::data::{dedupe, read_examples, split_mask};
use crate::text::Tokenizer;

/// Arguments of `filter tokenize`.
#[derive(Debug, clap::Args)]
pub struct TokenizeArgs {
    /// Input and split.
    #[command(flatten)]
    pub data: DataArgs,
    /// Fraction of examples on the training side of the split.
    #[arg(long, default_value_t = 0.8)]
    pub split: f64,
}

#[derive(Serialize)]
struct Line<'a> {
    tokens: Vec<&'a str>,
    label: &'a str,
    split: &'static str,
}

/// Writes one JSON line per example to stdout.
pub fn run(args: &TokenizeArgs) -> anyhow::Result<()> {
    let mut examples = read_examples(&args.data.input)?;
    if args.data.dedupe {
        examples = dedupe(examples);
    }
    let mask = split_mask(examples.len(), args.split, args.data.seed);
    let tokenizer = Tokenizer::shared();
    let mut scratch = crate::text::TokenScratch::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (example, train) in examples.iter().zip(mask) {
        tokenizer.tokenize(&example.text, &mut scratch);
        let line = Line {
            tokens: scratch.tokens().collect(),
            label: &example.label,
            split: if train { "train" } else { "test" },
        };
        serde_json::to_writer(&mut out, &line).context("writing tokens")?;
        out.write_all(b"\n").context("writing tokens")?;
    }
    out.flush().context("writing tokens")
}

//! Text intelligence: the shared tokenizer and trending terms by TF-IDF.
//! Nothing here runs unless a text feature is configured (`trending.enabled`
//! or `classifier.model_path`).

mod ascii_words;
pub mod tokenize;
pub mod trending;

pub use tokenize::{TokenScratch, Tokenizer};
pub use trending::{BatchTerms, TermHistory, Trending};

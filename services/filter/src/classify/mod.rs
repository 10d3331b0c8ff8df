//! Text classification over the shared tokens: TF-IDF unigrams and bigrams
//! into multinomial logistic regression, trained by `filter train`, checked
//! by `filter eval`, loaded by the filter from `classifier.model_path`.

pub mod data;
pub mod eval;
pub mod features;
pub mod model;
pub mod train;

pub use model::{Classifier, ClassifyScratch, Prediction};
pub use train::{TrainOptions, train};

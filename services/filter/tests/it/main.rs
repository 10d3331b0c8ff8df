//! The filter's integration tests in one test binary (each used to link
//! the whole crate on its own).

mod classifier_targets;
mod inspect;
mod labels;
mod reload;
mod scale_down;
mod scripts;
mod support;

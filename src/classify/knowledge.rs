//! Human texts for the vocabulary (descriptions, fix instructions), loaded from
//! `data/vocab.toml` once.

use crate::vocab::{Category, Effect, Fix, RootCause};

pub fn category_text(_c: Category) -> &'static str {
    ""
}
pub fn root_cause_text(_r: RootCause) -> &'static str {
    ""
}
pub fn effect_text(_e: Effect) -> &'static str {
    ""
}
pub fn fix_text(_f: Fix) -> &'static str {
    ""
}

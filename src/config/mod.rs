//! Configuration: placeholder module file, replaced by the config helper.
mod types;
pub use types::*;

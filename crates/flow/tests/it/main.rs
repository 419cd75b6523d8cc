//! The flow crate's one integration-test binary.
mod conditions;
mod dotted;
mod engine;
mod fixtures;
mod harness;
mod shipped;

//! The integration tests, in one binary (naga's `tests/naga/main.rs` pattern): the test-only
//! engines (`engines/`) and helpers (`common`) are compiled and linked once.
//!
//! Run one area with a filter, e.g. `cargo test --test suite gatekeeper::`.

mod common;
mod engines;

mod action;
mod bad_input;
mod bundle;
mod catalogue;
mod cel_backend;
mod cel_branches;
mod check;
mod cli;
mod differential;
mod falco_psp;
mod falco_seed;
mod gatekeeper;
mod golden;
mod injection;
mod kubewarden;
mod kyverno_backend;
mod kyverno_engine;
mod kyverno_schema;
mod labels;
mod layering;
mod level_table;
mod levels;
mod limits;
mod map_engine;
mod properties;
mod psa_conformance;
mod psp_migration;
mod psp_model;
mod readme;
mod regressions;
mod schema;
mod scope;

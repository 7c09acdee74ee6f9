//! polytrans: move Kubernetes clusters off PodSecurityPolicy without breaking workloads.
//!
//! Data flows one way: [`load`] → [`front`] (PSP → [`ir`]) → validation → backends → render.
//! The Pod Security Standards live in [`pss`] as the same IR, [`eval`] judges pods against any
//! IR policy, and [`fit`] compares a PSP with the levels.

pub mod diag;
pub mod eval;
pub mod ir;
pub mod load;
pub mod pod;
pub mod pss;

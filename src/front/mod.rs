//! Front ends: Kubernetes objects → policy IR.

pub mod psp;

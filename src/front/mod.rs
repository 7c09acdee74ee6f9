//! Front ends: Kubernetes objects → policy IR.

pub mod psp;
pub mod rbac;

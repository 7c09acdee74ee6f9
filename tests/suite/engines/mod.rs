//! Test-only engines, compiled once for the whole suite: each runs what a backend writes the way
//! the real engine would, and is calibrated on upstream fixtures (see each module).

pub mod cel;
pub mod falco;
pub mod gatekeeper;
pub mod kubewarden;
pub mod kyverno;
pub mod map;
pub mod psp_admission;
pub mod psp_gen;

//! `--to kyverno` (issue #11; not implemented yet).

use super::{Emitted, Input};

/// Options of this backend.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Kyverno options")]
pub struct KyvernoArgs {}

/// Golden files of this backend (see [`super::golden_files`]).
pub const GOLDEN_FILES: &[(&str, &[&str])] = &[];

pub fn emit(_input: &Input<'_>, _args: &KyvernoArgs) -> Result<Emitted, crate::Error> {
    Err(crate::Error::Unimplemented("kyverno"))
}

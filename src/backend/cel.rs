//! `--to vap and kyverno-cel` (issue #9; not implemented yet).

use super::{Emitted, Input};

/// Options of this backend.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Cel options")]
pub struct CelArgs {}

/// Golden files of this backend (see [`super::golden_files`]).
pub const GOLDEN_FILES: &[(&str, &[&str])] = &[];

pub fn emit(
    _input: &Input<'_>,
    _args: &CelArgs,
    target: crate::cli::Target,
) -> Result<Emitted, crate::Error> {
    Err(crate::Error::Unimplemented(target.name()))
}

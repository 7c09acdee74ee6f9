//! `--to falco` (issue #4; not implemented yet).

use super::{Emitted, Input};

/// Options of this backend.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Falco options")]
pub struct FalcoArgs {}

/// Golden files of this backend (see [`super::golden_files`]).
pub const GOLDEN_FILES: &[(&str, &[&str])] = &[];

pub fn emit(_input: &Input<'_>, _args: &FalcoArgs) -> Result<Emitted, crate::Error> {
    Err(crate::Error::Unimplemented("falco"))
}

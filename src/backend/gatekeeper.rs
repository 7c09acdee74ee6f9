//! `--to gatekeeper` (issue #5; not implemented yet).

use super::{Emitted, Input};

/// Options of this backend.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Gatekeeper options")]
pub struct GatekeeperArgs {}

/// Golden files of this backend (see [`super::golden_files`]).
pub const GOLDEN_FILES: &[(&str, &[&str])] = &[];

pub fn emit(_input: &Input<'_>, _args: &GatekeeperArgs) -> Result<Emitted, crate::Error> {
    Err(crate::Error::Unimplemented("gatekeeper"))
}

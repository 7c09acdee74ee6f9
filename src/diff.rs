//! `polytrans diff`: what a PSP change loosens or tightens (issue #8; not implemented yet).

/// Options of `polytrans diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The old and new inputs.
    pub inputs: Vec<std::path::PathBuf>,
}

pub fn run(_args: &Args, _limits: &crate::load::Limits) -> Result<crate::Outcome, crate::Error> {
    Err(crate::Error::Unimplemented("diff"))
}

//! `polytrans check`: offline Pod Security Admission for manifests (issue #7; not implemented yet).

/// Options of `polytrans check`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Input files or folders, or `-` for stdin.
    pub inputs: Vec<std::path::PathBuf>,
}

pub fn run(_args: &Args, _limits: &crate::load::Limits) -> Result<crate::Outcome, crate::Error> {
    Err(crate::Error::Unimplemented("check"))
}

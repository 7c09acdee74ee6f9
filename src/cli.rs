//! The command line: clap derive types. [`Target`] is the backend registry.

use crate::backend;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Move Kubernetes clusters off PodSecurityPolicy without breaking workloads.
///
/// Exit codes: 0 success; 1 findings (rejected pods, drift, loosened policy, fidelity loss under
/// --strict); 2 usage or input error.
#[derive(Debug, Parser)]
#[command(name = "polytrans", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = ErrorFormat::Human, global = true)]
    pub error_format: ErrorFormat,

    /// Print notes (e.g. objects that were ignored).
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Largest input file in bytes.
    #[arg(long, default_value_t = crate::load::Limits::default().max_file_bytes, global = true)]
    pub max_input_bytes: u64,

    /// Most YAML documents in one file.
    #[arg(long, default_value_t = crate::load::Limits::default().max_documents, global = true)]
    pub max_documents: usize,

    /// Deepest nesting of YAML/JSON collections.
    #[arg(long, default_value_t = crate::load::Limits::default().max_depth, global = true)]
    pub max_depth: usize,

    /// Most nodes YAML alias expansion may add per document.
    #[arg(long, default_value_t = crate::load::Limits::default().max_alias_nodes, global = true)]
    pub max_alias_nodes: usize,
}

pub const EXIT_CODES: &str = "Exit codes:\n  0  success\n  1  findings: rejected pods, drift, a loosened policy, or fidelity loss under --strict\n  2  usage or input error";

impl Cli {
    pub fn limits(&self) -> crate::load::Limits {
        crate::load::Limits {
            max_file_bytes: self.max_input_bytes,
            max_documents: self.max_documents,
            max_depth: self.max_depth,
            max_alias_nodes: self.max_alias_nodes,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ErrorFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Translate PodSecurityPolicies (files, folders, `-` for stdin) to a target.
    Psp(PspArgs),
    /// Emit a Pod Security Standards level through any backend, with exceptions.
    Pss(PssArgs),
    /// Print a JSON Schema.
    Schema {
        /// Which schema.
        #[arg(value_enum)]
        which: SchemaKind,
    },
    /// Check workloads offline against a level, a PSP or their namespaces' PSA labels.
    Check(crate::check::Args),
    /// Explain what changed between two sets of PSPs: loosened, tightened, PSS fit, outputs.
    Diff(crate::diff::Args),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour output written to stdout.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// The policy IR (`--to ir` output).
    Ir,
}

/// The backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Target {
    /// The normalised policy IR (YAML or JSON).
    Ir,
    /// Level-fit report: how each PSP compares with the Pod Security Standards.
    Pss,
    /// Falco rules (k8s audit and syscall).
    Falco,
    /// Kyverno ClusterPolicy.
    Kyverno,
    /// Kyverno ValidatingPolicy (CEL).
    KyvernoCel,
    /// Gatekeeper constraints for the gatekeeper-library templates.
    Gatekeeper,
    /// Kubernetes ValidatingAdmissionPolicy (CEL).
    Vap,
    /// Pod Security Admission namespace labels.
    PssLabels,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Ir => "ir",
            Target::Pss => "pss",
            Target::Falco => "falco",
            Target::Kyverno => "kyverno",
            Target::KyvernoCel => "kyverno-cel",
            Target::Gatekeeper => "gatekeeper",
            Target::Vap => "vap",
            Target::PssLabels => "pss-labels",
        }
    }
}

#[derive(Debug, Args)]
pub struct PspArgs {
    /// Input files or folders (`*.yaml`, `*.yml`, `*.json`), or `-` for stdin.
    pub inputs: Vec<PathBuf>,

    /// What to produce.
    #[arg(long, value_enum)]
    pub to: Target,

    /// Output format, where the target has several (text, yaml, json, markdown, kubectl).
    #[arg(long)]
    pub format: Option<String>,

    /// Pod Security Standards version to compare with or pin (`v1.N` or `latest`).
    #[arg(long, default_value = "latest", value_parser = parse_version)]
    pub pss_version: crate::pss::Version,

    /// Write to this file (or, ending in `/`, one file per policy in this folder) instead of
    /// stdout. Writes are atomic.
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    /// Compare the output with what EXISTING holds (a file, or a folder as `-o DIR/` writes it)
    /// and print a unified diff; YAML equal modulo formatting is reported, not diffed.
    #[arg(long, value_name = "EXISTING")]
    pub diff: Option<PathBuf>,

    /// With `--diff` (or `-o`): exit 1 when the output differs from what is there; never writes.
    #[arg(long)]
    pub check: bool,

    /// With `--diff EXISTING`: update EXISTING in place.
    #[arg(long, requires = "diff", conflicts_with = "check")]
    pub write: bool,

    /// Colour diffs: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Print what the target cannot express exactly, per policy and field, instead of the output.
    #[arg(long)]
    pub explain: bool,

    /// Fail (exit 1) when the target cannot express a constraint exactly.
    #[arg(long)]
    pub strict: bool,

    /// Emit the intersection of each PSP and this level (pods must satisfy both).
    #[arg(long, value_name = "LEVEL", value_parser = parse_level)]
    pub at_least: Option<crate::ir::Level>,

    /// Accept PSPs missing a required strategy (read as `RunAsAny`), as falcoctl did.
    #[arg(long)]
    pub lenient: bool,

    /// Load templates from this folder first (same layout as `templates/`).
    #[arg(long)]
    pub templates: Option<PathBuf>,

    #[command(flatten)]
    pub falco: backend::falco::FalcoArgs,
    #[command(flatten)]
    pub gatekeeper: backend::gatekeeper::GatekeeperArgs,
    #[command(flatten)]
    pub kyverno: backend::kyverno::KyvernoArgs,
    #[command(flatten)]
    pub cel: backend::cel::CelArgs,
    #[command(flatten)]
    pub psa: backend::psa::PsaArgs,
}

/// Options of `polytrans pss`.
#[derive(Debug, Args)]
pub struct PssArgs {
    /// The level: `baseline` or `restricted` (`privileged` allows everything).
    #[arg(value_parser = parse_level)]
    pub level: crate::ir::Level,

    /// The level's version (`v1.N` or `latest`); same as `--pss-version`.
    #[arg(long = "version", value_parser = parse_version)]
    pub level_version: Option<crate::pss::Version>,

    /// A check that does not apply (`CHECK_ID`), or extra values it allows
    /// (`CHECK_ID=v1,v2`, e.g. `capabilities_baseline=NET_RAW`). Repeatable.
    #[arg(long = "except", value_name = "CHECK_ID[=VALUES]", value_parser = parse_exception)]
    pub except: Vec<crate::pss::Exception>,

    /// Images whose containers are not judged (comma-separated; `*` suffix matches a prefix).
    #[arg(long = "images", id = "level_exempt_images", value_delimiter = ',')]
    pub images: Vec<String>,

    /// Namespaces whose pods are not judged (comma-separated).
    #[arg(
        long = "namespaces",
        id = "level_exempt_namespaces",
        value_delimiter = ','
    )]
    pub namespaces: Vec<String>,

    #[command(flatten)]
    pub emit: PspArgs,
}

pub fn parse_level(s: &str) -> Result<crate::ir::Level, String> {
    crate::ir::Level::parse(s)
        .ok_or_else(|| format!("`{s}` is not a level (privileged, baseline, restricted)"))
}

pub fn parse_exception(s: &str) -> Result<crate::pss::Exception, String> {
    crate::pss::Exception::parse(s)
}

pub fn parse_version(s: &str) -> Result<crate::pss::Version, String> {
    crate::pss::Version::parse(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}

//! Backends: IR → policies for an engine. One module per target, each with its own options
//! (`Args`, flattened into the command line), template(s) under `templates/<target>/` and golden
//! cases. Every backend reports what it could not express exactly ([`FidelityEntry`]).

pub mod cel;
pub mod falco;
pub mod gatekeeper;
pub mod ir;
pub mod kyverno;
pub mod psa;
pub mod pss;

use crate::diag::Diagnostics;
use crate::ir::Policy;
use crate::load::Object;
use serde::Serialize;

/// The golden files each backend produces: (expected file name in `golden/<case>/`, arguments
/// after `polytrans psp <inputs>`). The golden test walks every case and checks each file listed
/// here that the case holds; `BLESS=1` writes them.
pub fn golden_files() -> Vec<(&'static str, &'static [&'static str])> {
    [
        ir::GOLDEN_FILES,
        pss::GOLDEN_FILES,
        falco::GOLDEN_FILES,
        gatekeeper::GOLDEN_FILES,
        kyverno::GOLDEN_FILES,
        cel::GOLDEN_FILES,
        psa::GOLDEN_FILES,
    ]
    .concat()
}

/// What a backend gets: the policies to translate and every object loaded (RBAC, namespaces,
/// pods and workloads, for backends that use them).
pub struct Input<'a> {
    pub policies: &'a [Policy],
    pub objects: &'a [Object],
    /// Common options.
    pub common: &'a Common,
}

/// Options every backend honours.
#[derive(Debug, Clone, Default)]
pub struct Common {
    /// `--templates DIR`: template overrides.
    pub templates: Option<std::path::PathBuf>,
    /// `--pss-version`: the PSS version to compare with or pin.
    pub pss_version: crate::pss::Version,
    /// `--format`, for targets with several (text, yaml, json, markdown, kubectl).
    pub format: Option<String>,
    /// Whether [`Emitted::files`] is needed (`-o DIR/`, `--diff DIR`); backends may skip
    /// splitting their output otherwise.
    pub want_files: bool,
}

/// One generated file, with a stable name for `-o DIR/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputFile {
    /// Relative path, e.g. `falco/no-privileged.yaml`.
    pub name: String,
    pub content: String,
}

/// How exactly a backend expresses one PSP field (or PSS check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fidelity {
    Exact,
    Approximated,
    Unsupported,
}

impl Fidelity {
    pub fn as_str(self) -> &'static str {
        match self {
            Fidelity::Exact => "exact",
            Fidelity::Approximated => "approximated",
            Fidelity::Unsupported => "unsupported",
        }
    }
}

/// One line of a fidelity report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FidelityEntry {
    /// The policy (PSP name or level).
    pub policy: String,
    /// The PSP field or PSS check.
    pub field: String,
    pub fidelity: Fidelity,
    pub note: String,
}

/// What a backend produces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Emitted {
    /// What `polytrans psp … --to <target>` prints.
    pub stdout: String,
    /// The same content split per policy, for `-o DIR/`.
    pub files: Vec<OutputFile>,
    /// What could not be expressed exactly.
    pub fidelity: Vec<FidelityEntry>,
    /// Warnings for the user.
    #[serde(skip)]
    pub diagnostics: Diagnostics,
}

/// Renders a fidelity report as a comment block (`# ` prefixed lines).
pub fn fidelity_comment(entries: &[FidelityEntry], prefix: &str) -> String {
    let mut out = String::new();
    let lossy: Vec<&FidelityEntry> = entries
        .iter()
        .filter(|e| e.fidelity != Fidelity::Exact)
        .collect();
    if lossy.is_empty() {
        out.push_str(&format!(
            "{prefix}fidelity: every constraint is expressed exactly\n"
        ));
        return out;
    }
    out.push_str(&format!("{prefix}fidelity: not expressed exactly:\n"));
    for e in lossy {
        out.push_str(&format!(
            "{prefix}  - {} {}: {} ({})\n",
            single_line(&e.policy),
            single_line(&e.field),
            e.fidelity.as_str(),
            single_line(&e.note)
        ));
    }
    out
}

/// Renders a fidelity report as a table for `--explain`.
pub fn fidelity_table(entries: &[FidelityEntry]) -> String {
    let w_pol = entries
        .iter()
        .map(|e| e.policy.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let w_field = entries
        .iter()
        .map(|e| e.field.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!(
        "{:<w_pol$}  {:<w_field$}  {:<12}  note\n",
        "policy", "field", "fidelity"
    );
    for e in entries {
        out.push_str(&format!(
            "{:<w_pol$}  {:<w_field$}  {:<12}  {}\n",
            e.policy,
            e.field,
            e.fidelity.as_str(),
            single_line(&e.note)
        ));
    }
    out
}

/// Newlines from input never reach a comment line.
pub fn single_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// A DNS-1123 name derived from a PSP name (`No_Privileged` → `no-privileged`), stable and
/// hash-free.
pub fn k8s_name(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t = out.trim_matches('-').to_string();
    if t.is_empty() { "policy".into() } else { t }
}

//! Backends: IR → policies for an engine. One module per target, each with its own options
//! (`Args`, flattened into the command line), template(s) under `templates/<target>/` and golden
//! cases. Every backend reports what it could not express exactly ([`FidelityEntry`]).

pub mod cel;
pub mod cel_expr;
pub mod falco;
pub mod gatekeeper;
pub mod ir;
pub mod kubewarden;
pub mod kyverno;
pub mod psa;
pub mod pss;

use crate::diag::Diagnostics;
use crate::ir::Policy;
use crate::scope::{Plan, Scope};
use serde::Serialize;

/// What a violation does, for every admission backend (`--mode`): Gatekeeper
/// `enforcementAction`, Kyverno `failureAction`, VAP `validationActions`, Kyverno-CEL
/// `validationActions`, Kubewarden `mode`. Falco only detects, so it has no mode. The default is `enforce`: the
/// output replaces a control that enforced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Enforce,
    Audit,
    Warn,
}

impl Mode {
    /// The names `--mode` takes.
    pub const NAMES: &[&str] = &["enforce", "audit", "warn"];

    /// Parses one of [`Mode::NAMES`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "enforce" => Some(Mode::Enforce),
            "audit" => Some(Mode::Audit),
            "warn" => Some(Mode::Warn),
            _ => None,
        }
    }
}

/// A Kyverno release (`--kyverno-version 1.N`): what `--to kyverno` and `--to kyverno-cel`
/// emit depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KyvernoVersion {
    /// `N` in `1.N`.
    pub minor: u32,
}

impl KyvernoVersion {
    /// The newest release polytrans is checked against: v1.19.0 (2026-08-20), whose CRD
    /// schemas the tests validate the output with (`conformance/kyverno-schemas`).
    pub const NEWEST: KyvernoVersion = KyvernoVersion { minor: 19 };
    /// Per-rule `validate.failureAction` (what `--to kyverno` writes) arrived in 1.13.
    pub const RULE_FAILURE_ACTION: KyvernoVersion = KyvernoVersion { minor: 13 };
    /// `ValidatingPolicy` arrived in 1.14 (`v1alpha1`), `v1beta1` in 1.16, `v1` in 1.17.
    pub const VALIDATING_POLICY: KyvernoVersion = KyvernoVersion { minor: 14 };
    /// `MutatingPolicy` arrived in 1.15 (`v1alpha1`), `v1beta1` in 1.16, `v1` in 1.17.
    pub const MUTATING_POLICY: KyvernoVersion = KyvernoVersion { minor: 15 };
    /// `ClusterPolicy` is deprecated from 1.17 on.
    pub const CLUSTER_POLICY_DEPRECATED: KyvernoVersion = KyvernoVersion { minor: 17 };
    /// Kyverno plans to refuse creating or updating `ClusterPolicy` from 1.20 on.
    pub const CLUSTER_POLICY_REMOVED: KyvernoVersion = KyvernoVersion { minor: 20 };

    /// Parses `1.N`, `v1.N` or `1.N.P`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.strip_prefix('v').unwrap_or(s);
        let mut parts = s.split('.');
        if parts.next()? != "1" {
            return None;
        }
        let minor = parts.next()?.parse().ok()?;
        match parts.next() {
            None => {}
            Some(p) if p.parse::<u32>().is_ok() && parts.next().is_none() => {}
            Some(_) => return None,
        }
        Some(KyvernoVersion { minor })
    }

    /// The `apiVersion` of Kyverno's CEL policy kinds (`ValidatingPolicy`, `MutatingPolicy`)
    /// in this release.
    pub fn cel_api_version(self) -> &'static str {
        match self.minor {
            ..=15 => "policies.kyverno.io/v1alpha1",
            16 => "policies.kyverno.io/v1beta1",
            _ => "policies.kyverno.io/v1",
        }
    }
}

impl Default for KyvernoVersion {
    fn default() -> Self {
        KyvernoVersion::NEWEST
    }
}

impl std::fmt::Display for KyvernoVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "1.{}", self.minor)
    }
}

/// Every backend's own options, for the registry's emit functions (each reads only its own).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub falco: falco::Options,
    pub gatekeeper: gatekeeper::Options,
    pub kyverno: kyverno::Options,
    pub kubewarden: kubewarden::Options,
    pub cel: cel::Options,
    pub psa: psa::Options,
}

/// One target of `--to`: the registry row.
#[derive(Debug)]
pub struct Target {
    /// The `--to` value.
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// The `--format` values it supports; the first is the default.
    pub formats: &'static [&'static str],
    /// Golden files: (expected file name in `golden/<case>/`, arguments after
    /// `polytrans psp <inputs>`). The golden test walks every case and checks each file listed
    /// that the case holds; `BLESS=1` writes them.
    pub golden_files: &'static [(&'static str, &'static [&'static str])],
    /// Whether it writes admission policies that RBAC scoping applies to.
    pub admission: bool,
    pub emit: fn(&Input<'_>, &Options) -> Result<Emitted, crate::Error>,
}

/// Every target, in the order `--help` lists them.
pub static TARGETS: &[Target] = &[
    Target {
        name: "ir",
        about: "the normalised policy IR (YAML or JSON)",
        formats: &["yaml", "json"],
        golden_files: ir::GOLDEN_FILES,
        admission: false,
        emit: |i, _| ir::emit(i),
    },
    Target {
        name: "pss",
        about: "level fit: how each PSP compares with the Pod Security Standards",
        formats: &["text", "yaml", "json"],
        golden_files: pss::GOLDEN_FILES,
        admission: false,
        emit: |i, _| pss::emit(i),
    },
    Target {
        name: "falco",
        about: "Falco rules (k8s audit, and syscall rules in the legacy flavour)",
        formats: &["yaml"],
        golden_files: falco::GOLDEN_FILES,
        admission: false,
        emit: |i, o| falco::emit(i, &o.falco),
    },
    Target {
        name: "kyverno",
        about: "Kyverno ClusterPolicy (kyverno.io/v1)",
        formats: &["yaml"],
        golden_files: kyverno::GOLDEN_FILES,
        admission: true,
        emit: |i, o| kyverno::emit(i, &o.kyverno),
    },
    Target {
        name: "kyverno-cel",
        about: "Kyverno ValidatingPolicy (CEL)",
        formats: &["yaml"],
        golden_files: cel::GOLDEN_FILES_KYVERNO_CEL,
        admission: true,
        emit: |i, o| cel::emit(i, &o.cel, cel::Flavor::KyvernoCel),
    },
    Target {
        name: "gatekeeper",
        about: "Gatekeeper constraints and mutators for the gatekeeper-library templates",
        formats: &["yaml"],
        golden_files: gatekeeper::GOLDEN_FILES,
        admission: true,
        emit: |i, o| gatekeeper::emit(i, &o.gatekeeper),
    },
    Target {
        name: "vap",
        about: "Kubernetes ValidatingAdmissionPolicy and binding (CEL)",
        formats: &["yaml"],
        golden_files: cel::GOLDEN_FILES_VAP,
        admission: true,
        emit: |i, o| cel::emit(i, &o.cel, cel::Flavor::Vap),
    },
    Target {
        name: "kubewarden",
        about: "Kubewarden ClusterAdmissionPolicy for the Kubewarden PSP policies",
        formats: &["yaml"],
        golden_files: kubewarden::GOLDEN_FILES,
        admission: true,
        emit: |i, o| kubewarden::emit(i, &o.kubewarden),
    },
    Target {
        name: "pss-labels",
        about: "Pod Security Admission namespace labels",
        formats: &["yaml", "kubectl", "text", "markdown", "json"],
        golden_files: psa::GOLDEN_FILES,
        admission: true,
        emit: |i, o| psa::emit(i, &o.psa),
    },
];

/// The registry row named `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// What `--to all` means: every target whose [`Target::admission`] is true, plus `falco`, in
/// registry order.
pub fn all_targets() -> Vec<&'static Target> {
    TARGETS
        .iter()
        .filter(|t| t.admission || t.name == "falco")
        .collect()
}

/// Whether `--to <target>` writes Kubernetes objects for the cluster in this `--format` (the
/// default when `None`), so that a bundle folder gets a `kustomization.yaml` listing them:
/// the admission targets in YAML. Falco rules, the IR and the level fit are not Kubernetes
/// objects, other formats are not YAML, and an AdmissionConfiguration
/// (`--to pss-labels --admission-config`) is a file for the API server, not an object to apply.
pub fn writes_manifests(target: &Target, format: Option<&str>, options: &Options) -> bool {
    let format = format.unwrap_or(target.formats[0]);
    target.admission
        && format == "yaml"
        && !(target.name == "pss-labels" && options.psa.admission_config)
}

/// Every golden file of every target (see [`Target::golden_files`]).
pub fn golden_files() -> Vec<(&'static str, &'static [&'static str])> {
    TARGETS
        .iter()
        .flat_map(|t| t.golden_files.iter().copied())
        .collect()
}

impl Target {
    /// Runs the backend, after checking that it supports `--format`.
    pub fn run(&self, input: &Input<'_>, options: &Options) -> Result<Emitted, crate::Error> {
        if let Some(f) = input.common.format.as_deref() {
            if !self.formats.contains(&f) {
                return Err(crate::Error::Usage(format!(
                    "`--to {}` has no `--format {f}`; it writes {}",
                    self.name,
                    self.formats
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        (self.emit)(input, options)
    }
}

/// What a backend gets: the policies to translate and the scoping pass's result (where each
/// applies; the namespaces and workloads the input named).
pub struct Input<'a> {
    pub policies: &'a [Policy],
    pub scope: &'a Scope,
    /// Common options.
    pub common: &'a Common,
    /// Where the files go as they are rendered ([`Emitted::push_file`]); without one they are
    /// kept in [`Emitted::files`].
    pub sink: Option<&'a FileSink<'a>>,
}

/// Receives each file of `-o DIR/` as soon as it is rendered (see [`Input::sink`]), so a run
/// over thousands of PSPs never holds a whole target's output.
pub type FileSink<'a> = dyn Fn(OutputFile) -> Result<(), crate::Error> + 'a;

/// Options every backend honours.
#[derive(Debug, Clone, Default)]
pub struct Common {
    /// `--templates DIR`: template overrides.
    pub templates: Option<std::path::PathBuf>,
    /// `--pss-version`: the PSS version to compare with or pin.
    pub pss_version: crate::pss::Version,
    /// `--format`, for targets with several (text, yaml, json, markdown, kubectl).
    pub format: Option<String>,
    /// Whether [`Emitted::files`] is what is written (`-o DIR/`, `--diff DIR`): backends may
    /// then leave [`Emitted::stdout`] empty, and may skip splitting their output otherwise.
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
    /// Remote resources the output needs in the cluster before it can be applied, as URLs at a
    /// pinned commit (Gatekeeper: the gatekeeper-library ConstraintTemplates of the constraints).
    /// A bundle (`--to A,B -o DIR/`) lists them in `DIR/<target>/templates/kustomization.yaml`.
    /// Backends construct `Emitted` with `..Default::default()` so that fields like this one can
    /// be added without touching them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Warnings for the user.
    #[serde(skip)]
    pub diagnostics: Diagnostics,
}

impl Emitted {
    /// Adds one policy's document: appended to `whole` (the text of the whole output, documents
    /// separated by `sep`) unless only the files are written (`-o DIR/`), and as a file
    /// ([`Emitted::push_file`]).
    pub fn push_document(
        &mut self,
        input: &Input<'_>,
        whole: &mut String,
        sep: &str,
        file: OutputFile,
    ) -> Result<(), crate::Error> {
        if !input.common.want_files {
            append_document(whole, sep, &file.content);
        }
        self.push_file(input, file)
    }

    /// Adds a file of the output: handed to the input's [`FileSink`] when there is one, else
    /// kept in [`Emitted::files`].
    pub fn push_file(&mut self, input: &Input<'_>, file: OutputFile) -> Result<(), crate::Error> {
        push_file(input, &mut self.files, file)
    }
}

/// How a policy written for several PSPs (an any-of group) names them: PodSecurityPolicies
/// `a`, `b`.
pub fn group_source(members: &[&Policy]) -> String {
    format!(
        "PodSecurityPolicies {}",
        members
            .iter()
            .map(|p| format!("`{}`", p.name))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Appends `text` to `whole`, after `sep` unless `whole` is empty.
pub fn append_document(whole: &mut String, sep: &str, text: &str) {
    if !whole.is_empty() {
        whole.push_str(sep);
    }
    whole.push_str(text);
}

/// [`Emitted::push_file`] for a backend that collects its files before building `Emitted`.
pub fn push_file(
    input: &Input<'_>,
    files: &mut Vec<OutputFile>,
    file: OutputFile,
) -> Result<(), crate::Error> {
    match input.sink {
        Some(sink) => sink(file),
        None => {
            files.push(file);
            Ok(())
        }
    }
}

/// The fidelity entries every backend reports for the scope: what namespaces cannot express
/// ([`crate::scope::Note`]), and, for engines that require every matching policy
/// (`engine_rule`, e.g. "Gatekeeper requires every constraint"), the namespaces where several
/// PSPs are usable and none admits all the others do. Field `rbac`, policy = the place.
pub fn scope_fidelity(scope: &Scope, plan: &Plan, engine_rule: &str) -> Vec<FidelityEntry> {
    ScopeFidelity::new(scope, plan, engine_rule).all()
}

/// [`scope_fidelity`] with the PSPs each entry is about. The whole output (stdout, `--explain`,
/// `--strict`) reports every entry; the file of one PSP (`-o DIR/`) repeats only the entries
/// about that PSP, and the entries about no single PSP (the namespaces where no PSP is usable)
/// are listed once per target folder, in [`NOTES_FILE`] ([`ScopeFidelity::notes_file`]). On a
/// cluster with many namespaces, every file repeating every namespace's note made the output
/// grow with PSPs × namespaces.
#[derive(Debug, Clone, Default)]
pub struct ScopeFidelity {
    /// Each entry and the PSPs it is about (none: the output as a whole).
    entries: Vec<(FidelityEntry, Vec<String>)>,
    /// PSP → the indexes in `entries` of the entries about it (ascending).
    by_psp: std::collections::HashMap<String, Vec<usize>>,
    /// How many entries are about some PSP.
    by_psp_entries: usize,
}

/// The file of a target folder listing the scope's notes about no single PSP.
pub const NOTES_FILE: &str = "NOTES.md";

impl ScopeFidelity {
    pub fn new(scope: &Scope, plan: &Plan, engine_rule: &str) -> Self {
        let mut entries: Vec<(FidelityEntry, Vec<String>)> = scope
            .notes
            .iter()
            .map(|n| {
                (
                    FidelityEntry {
                        policy: n.place.clone(),
                        field: "rbac".into(),
                        fidelity: Fidelity::Approximated,
                        note: n.text.clone(),
                    },
                    n.psp.iter().cloned().collect(),
                )
            })
            .collect();
        for (namespaces, psps) in &plan.stricter {
            entries.push((
                FidelityEntry {
                    policy: namespaces.describe(),
                    field: "rbac".into(),
                    fidelity: Fidelity::Approximated,
                    note: format!(
                        "PSPs {} are all usable here: PSP admitted a pod any of them admits, {engine_rule}, and none of them admits all the others do",
                        psps.iter()
                            .map(|n| format!("`{}`", single_line(n)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
                psps.clone(),
            ));
        }
        let mut by_psp: std::collections::HashMap<String, Vec<usize>> = Default::default();
        for (i, (_, psps)) in entries.iter().enumerate() {
            for p in psps {
                by_psp.entry(p.clone()).or_default().push(i);
            }
        }
        let by_psp_entries = entries.iter().filter(|(_, p)| !p.is_empty()).count();
        ScopeFidelity {
            entries,
            by_psp,
            by_psp_entries,
        }
    }

    /// Every entry, for the whole output.
    pub fn all(&self) -> Vec<FidelityEntry> {
        self.entries.iter().map(|(e, _)| e.clone()).collect()
    }

    /// The entries about no single PSP.
    pub fn general(&self) -> Vec<FidelityEntry> {
        self.entries
            .iter()
            .filter(|(_, psps)| psps.is_empty())
            .map(|(e, _)| e.clone())
            .collect()
    }

    /// What the file of policy `name` says about the scope: the entries about it, and, when
    /// there are entries about no single PSP, one pointing at [`NOTES_FILE`].
    pub fn for_policy(&self, name: &str) -> Vec<FidelityEntry> {
        self.for_policies(&[name])
    }

    /// [`ScopeFidelity::for_policy`] for a file holding the policies `names`.
    pub fn for_policies(&self, names: &[&str]) -> Vec<FidelityEntry> {
        let mut at: Vec<usize> = names
            .iter()
            .filter_map(|n| self.by_psp.get(*n))
            .flatten()
            .copied()
            .collect();
        at.sort_unstable();
        at.dedup();
        let mut out: Vec<FidelityEntry> = at.iter().map(|&i| self.entries[i].0.clone()).collect();
        let general = self.entries.len() - self.by_psp_entries;
        if general > 0 {
            out.push(FidelityEntry {
                policy: "(output)".into(),
                field: "rbac".into(),
                fidelity: Fidelity::Approximated,
                note: format!(
                    "{general} note(s) on namespaces that no single PSP's policy covers: listed once, at the top of the whole output and in {NOTES_FILE} with -o DIR/"
                ),
            });
        }
        out
    }

    /// The entries about no single PSP as a comment (`# ` lines) for the top of the whole
    /// output; empty when there are none.
    pub fn general_comment(&self) -> String {
        let general = self.general();
        if general.is_empty() {
            return String::new();
        }
        let mut out = String::from("# scope: not expressed exactly, for the whole output:\n");
        for e in &general {
            out.push_str(&fidelity_line(e, "# "));
        }
        out
    }

    /// `<target>/NOTES.md` listing [`ScopeFidelity::general`], when there is any.
    pub fn notes_file(
        &self,
        env: &minijinja::Environment<'_>,
        target: &str,
    ) -> Result<Option<OutputFile>, crate::Error> {
        let general = self.general();
        if general.is_empty() {
            return Ok(None);
        }
        let notes: Vec<String> = general
            .iter()
            .map(|e| format!("{}: {}", single_line(&e.policy), single_line(&e.note)))
            .collect();
        let content = crate::render::render(
            env,
            "bundle/notes.md.j2",
            minijinja::context! { target => target, notes => notes },
        )?;
        Ok(Some(OutputFile {
            name: format!("{target}/{NOTES_FILE}"),
            content,
        }))
    }
}

/// A placement as a namespace selector: `(In values, NotIn values)` on
/// `kubernetes.io/metadata.name`, the exemptions added to `NotIn`. Without RBAC in the input no
/// selector is written (every namespace).
pub fn namespace_selector(
    scope: &Scope,
    namespaces: &crate::scope::Namespaces,
    exempt: &[String],
) -> (Option<Vec<String>>, Vec<String>) {
    use crate::scope::Namespaces;
    let (only, mut not_in) = match namespaces {
        _ if !scope.from_rbac => (None, vec![]),
        Namespaces::Only(v) => (Some(v.clone()), vec![]),
        Namespaces::AllExcept(v) => (None, v.clone()),
    };
    not_in.extend(exempt.iter().cloned());
    not_in.sort();
    not_in.dedup();
    (only, not_in)
}

/// For each policy the plan skips: a comment line in the output and an (exact) `rbac` fidelity
/// entry saying why no policy was generated.
pub fn skipped_notes(plan: &Plan, out: &mut String, fidelity: &mut Vec<FidelityEntry>) {
    for (name, why) in &plan.skipped {
        let note = format!("no policy generated: {}", single_line(why));
        out.push_str(&format!(
            "# PodSecurityPolicy `{}`: {note}\n",
            single_line(name)
        ));
        fidelity.push(FidelityEntry {
            policy: name.clone(),
            field: "rbac".into(),
            fidelity: Fidelity::Exact,
            note,
        });
    }
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
        out.push_str(&fidelity_line(e, prefix));
    }
    out
}

/// One entry of a fidelity comment: `<prefix>  - policy field: fidelity (note)`.
fn fidelity_line(e: &FidelityEntry, prefix: &str) -> String {
    format!(
        "{prefix}  - {} {}: {} ({})\n",
        single_line(&e.policy),
        single_line(&e.field),
        e.fidelity.as_str(),
        single_line(&e.note)
    )
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

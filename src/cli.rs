//! The command line: clap derive types only, mapped onto the backend registry
//! ([`crate::backend::TARGETS`]) and each backend's plain `Options`.

use crate::backend;
use clap::builder::TypedValueParser;
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
    #[arg(long, default_value_t = crate::load::Limits::default().max_file_bytes, global = true, help_heading = "Input limits")]
    pub max_input_bytes: u64,

    /// Most YAML documents in one file.
    #[arg(long, default_value_t = crate::load::Limits::default().max_documents, global = true, help_heading = "Input limits")]
    pub max_documents: usize,

    /// Deepest nesting of YAML/JSON collections.
    #[arg(long, default_value_t = crate::load::Limits::default().max_depth, global = true, help_heading = "Input limits")]
    pub max_depth: usize,

    /// Most nodes YAML alias expansion may add per document.
    #[arg(long, default_value_t = crate::load::Limits::default().max_alias_nodes, global = true, help_heading = "Input limits")]
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

pub const PSP_EXAMPLES: &str = "Examples:
  kubectl get psp -o yaml | polytrans psp --to pss
  polytrans psp psp/ rbac.yaml --to all -o generated/
  polytrans psp -f psp.yaml --to vap --explain";

pub const PSS_EXAMPLES: &str = "Examples:
  polytrans pss restricted --to kyverno
  polytrans pss baseline --version v1.31 --except hostNamespaces=hostNetwork --namespaces kube-system --to vap";

pub const CHECK_EXAMPLES: &str = "Examples:
  polytrans check manifests/
  kubectl get pods,deploy -A -o yaml | polytrans check --level restricted --fail-on warning
  polytrans check manifests/ --format sarif > polytrans.sarif";

pub const DIFF_EXAMPLES: &str = "Examples:
  polytrans diff old/psp.yaml new/psp.yaml
  polytrans diff --git origin/main psp/ --format markdown --fail-on loosen";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Translate PodSecurityPolicies (files, folders, `-` for stdin) to a target.
    #[command(after_help = PSP_EXAMPLES)]
    Psp(PspArgs),
    /// Emit a Pod Security Standards level through any backend, with exceptions.
    #[command(after_help = PSS_EXAMPLES)]
    Pss(PssArgs),
    /// Print a JSON Schema.
    #[command(
        after_help = "Examples:\n  polytrans schema ir > ir.schema.json\n  polytrans psp psp.yaml --to ir --format json | check-jsonschema --schemafile ir.schema.json -"
    )]
    Schema {
        /// Which schema.
        #[arg(value_enum)]
        which: SchemaKind,
    },
    /// Check workloads offline against a level, a PSP or their namespaces' PSA labels.
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Explain what changed between two sets of PSPs: loosened, tightened, PSS fit, outputs.
    #[command(after_help = DIFF_EXAMPLES)]
    Diff(DiffArgs),
    /// Print shell completions.
    #[command(
        after_help = "Examples:\n  polytrans completions bash > /etc/bash_completion.d/polytrans\n  polytrans completions zsh > \"${fpath[1]}/_polytrans\""
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(
        after_help = "Examples:\n  polytrans man > /usr/local/share/man/man1/polytrans.1\n  polytrans man | man -l -"
    )]
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

/// A target: a row of the registry ([`backend::TARGETS`]).
pub type Target = &'static backend::Target;

/// One `--to` value: a target of the registry, or `all` ([`backend::all_targets`]).
#[derive(Debug, Clone, Copy)]
pub enum ToValue {
    Target(Target),
    All,
}

fn target_parser() -> impl clap::builder::TypedValueParser<Value = ToValue> {
    let all = backend::all_targets()
        .iter()
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(", ");
    clap::builder::PossibleValuesParser::new(
        backend::TARGETS
            .iter()
            .map(|t| clap::builder::PossibleValue::new(t.name).help(t.about))
            .chain([clap::builder::PossibleValue::new("all").help(format!(
                "every admission target and falco, one folder each with -o DIR/: {all}"
            ))]),
    )
    .map(|s| match backend::target(&s) {
        Some(t) => ToValue::Target(t),
        None => ToValue::All,
    })
}

fn names_parser<T: Clone + Send + Sync + 'static>(
    names: &'static [&'static str],
    parse: fn(&str) -> Option<T>,
) -> impl clap::builder::TypedValueParser<Value = T> {
    clap::builder::PossibleValuesParser::new(names.iter().copied())
        .map(move |s| parse(&s).expect("a listed value"))
}

/// Options of `--to falco`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Falco options")]
pub struct FalcoArgs {
    /// Rules flavour: `modern` (Falco ≥ 0.37, k8saudit plugin) or `legacy` (falcoctl output).
    #[arg(long = "falco-flavor", default_value = "modern",
          value_parser = names_parser(backend::falco::Flavor::NAMES, backend::falco::Flavor::parse))]
    pub falco_flavor: backend::falco::Flavor,
    /// Rule priority.
    #[arg(long = "falco-priority", default_value = "WARNING")]
    pub falco_priority: String,
    /// Rule tags, comma separated.
    #[arg(long = "falco-tags", default_value = "k8s-psp")]
    pub falco_tags: String,
    /// Prefix of rule names (modern flavour).
    #[arg(long = "falco-rule-prefix", default_value = "PSP")]
    pub falco_rule_prefix: String,
}

/// Options of `--to gatekeeper`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Gatekeeper options")]
pub struct GatekeeperArgs {
    /// Scope constraints and mutators to these namespaces (repeatable, comma-separated;
    /// overrides RBAC).
    #[arg(
        long = "gatekeeper-namespaces",
        value_name = "NS",
        value_delimiter = ','
    )]
    pub namespaces: Vec<String>,
    /// Namespaces the constraints do not apply to (repeatable, comma-separated).
    #[arg(
        long = "gatekeeper-exempt-namespaces",
        value_name = "NS",
        value_delimiter = ','
    )]
    pub exempt_namespaces: Vec<String>,
    /// Images exempt from the container checks (`exemptImages`; a trailing `*` is a prefix).
    #[arg(
        long = "gatekeeper-exempt-images",
        value_name = "IMAGE",
        value_delimiter = ','
    )]
    pub exempt_images: Vec<String>,
}

/// Options of `--to kyverno`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Kyverno options")]
pub struct KyvernoArgs {
    /// How validating rules are written: `auto` (`podSecurity` where the source is a level
    /// Kyverno can express), `rules` (one rule per field), `pod-security`.
    #[arg(long = "kyverno-style", default_value = "auto",
          value_parser = names_parser(backend::kyverno::Style::NAMES, backend::kyverno::Style::parse))]
    pub kyverno_style: backend::kyverno::Style,
    /// Also scan existing resources (`spec.background: true`).
    #[arg(long = "kyverno-background")]
    pub kyverno_background: bool,
    /// Do not generate rules for pod controllers (`pod-policies.kyverno.io/autogen-controllers: none`).
    #[arg(long = "kyverno-no-autogen")]
    pub kyverno_no_autogen: bool,
    /// The Kyverno release to emit for (`1.N`), for `--to kyverno` (1.13–1.19; ClusterPolicy is
    /// deprecated from 1.17) and `--to kyverno-cel` (1.14 on; picks the ValidatingPolicy
    /// apiVersion).
    #[arg(long = "kyverno-version", default_value_t = backend::KyvernoVersion::NEWEST, value_parser = parse_kyverno_version)]
    pub kyverno_version: backend::KyvernoVersion,
}

/// Options of `--to vap` and `--to kyverno-cel`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Cel options")]
pub struct CelArgs {
    /// Also match pod controllers (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob,
    /// ReplicationController) and judge their pod templates.
    #[arg(long = "cel-workloads")]
    pub cel_workloads: bool,
    /// Write only the validating policies: no MutatingAdmissionPolicy (`--to vap`) or
    /// MutatingPolicy (`--to kyverno-cel`) doing PSP's defaulting.
    #[arg(long = "no-mutation", alias = "cel-no-mutation")]
    pub no_mutation: bool,
    /// API version of the MutatingAdmissionPolicy: `v1` (Kubernetes 1.36+) or `v1beta1`
    /// (1.34–1.35, behind the `MutatingAdmissionPolicy` feature gate).
    #[arg(long = "cel-api", default_value = "v1",
          value_parser = names_parser(backend::cel::CelApi::NAMES, backend::cel::CelApi::parse))]
    pub cel_api: backend::cel::CelApi,
}

/// Options of `--to pss-labels`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Psa options")]
pub struct PsaArgs {
    /// Force the enforce level instead of computing it.
    #[arg(long, value_parser = parse_level)]
    pub enforce: Option<crate::ir::Level>,
    /// Force the warn level (default: one level stricter than enforce).
    #[arg(long, value_parser = parse_level)]
    pub warn: Option<crate::ir::Level>,
    /// Force the audit level (default: one level stricter than enforce).
    #[arg(long, value_parser = parse_level)]
    pub audit: Option<crate::ir::Level>,
    /// Propose levels even when a given pod would be rejected.
    #[arg(long)]
    pub allow_breakage: bool,
    /// Emit an AdmissionConfiguration (cluster defaults, privileged namespaces exempted) instead
    /// of namespace labels.
    #[arg(long)]
    pub admission_config: bool,
    /// Write `-version: latest` instead of pinning the newest version in the catalogue.
    #[arg(long)]
    pub unpinned: bool,
}

/// Format names kubectl users pass to `-o` out of habit.
const FORMAT_WORDS: &[&str] = &[
    "json", "yaml", "yml", "text", "markdown", "kubectl", "wide", "name", "sarif", "junit",
];

impl Cli {
    /// kubectl habits: `-f/--filename` inputs join the positional ones, and with no input at all
    /// `psp` and `check` read stdin when it is not a terminal (`kubectl get psp -o yaml |
    /// polytrans psp --to pss`).
    pub fn resolve_inputs(&mut self, stdin_is_terminal: bool) {
        let stdin = PathBuf::from("-");
        match &mut self.command {
            Command::Psp(a) => {
                a.inputs.append(&mut a.filename);
                if a.inputs.is_empty() && !stdin_is_terminal {
                    a.inputs.push(stdin);
                }
            }
            Command::Pss(a) => a.emit.inputs.append(&mut a.emit.filename),
            Command::Check(a) => {
                a.inputs.append(&mut a.filename);
                if a.inputs.is_empty() && !stdin_is_terminal {
                    a.inputs.push(stdin);
                }
            }
            _ => {}
        }
    }
}

impl PspArgs {
    /// Warnings for kubectl habits that mean something else here: `-o json` names an output file
    /// called `json`, which is rarely what was meant.
    pub fn habit_warnings(&self) -> Vec<crate::diag::Diagnostic> {
        let Some(o) = &self.output else {
            return vec![];
        };
        let word = o.to_string_lossy();
        if !FORMAT_WORDS.contains(&word.as_ref()) || o.exists() {
            return vec![];
        }
        let targets = self.targets();
        let help = if let [to] = targets[..] {
            if to.formats.contains(&word.as_ref()) {
                format!(
                    "to print `{word}`, use `--format {word}`; to write a file, give it an extension (`-o out.{word}`)"
                )
            } else {
                format!(
                    "`--to {}` writes {}; `-o` takes a file (`-o out.yaml`) or a folder (`-o out/`)",
                    to.name,
                    to.formats
                        .iter()
                        .map(|f| format!("`--format {f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        } else {
            format!("several targets are written one folder each: `-o {word}/` (or another folder)")
        };
        vec![crate::diag::Diagnostic::warning(format!(
            "`-o {word}` writes the output to a file named `{word}`: here `-o` is the output file, not kubectl's output format"
        ))
        .with_help(help)]
    }

    /// The targets of `--to`, in registry order, each once (`all` expanded).
    pub fn targets(&self) -> Vec<Target> {
        let chosen = |t: &backend::Target| {
            self.to.iter().any(|v| match v {
                ToValue::Target(x) => x.name == t.name,
                ToValue::All => backend::all_targets().iter().any(|a| a.name == t.name),
            })
        };
        backend::TARGETS.iter().filter(|t| chosen(t)).collect()
    }

    /// `--to` as given, for messages: `kyverno`, `kyverno,gatekeeper`, `all`.
    pub fn to_label(&self) -> String {
        self.to
            .iter()
            .map(|v| match v {
                ToValue::Target(t) => t.name,
                ToValue::All => "all",
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Refuses a `--format` one of the targets does not write (a usage error, exit 2), rather
    /// than ignoring it.
    pub fn check_format(&self) -> Result<(), String> {
        let Some(f) = self.format.as_deref() else {
            return Ok(());
        };
        for to in self.targets() {
            if !to.formats.contains(&f) {
                return Err(format!(
                    "`--to {}` has no `--format {f}`; it writes {}",
                    to.name,
                    to.formats
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The usage rules of `--to` and the output options: `--format` valid for every target
    /// ([`PspArgs::check_format`]), and several targets (a bundle) written to a folder: `-o DIR/`
    /// or `--diff DIR/` (stdout would mix engines; `--explain` prints one table per target).
    pub fn check_usage(&self) -> Result<(), String> {
        self.check_format()?;
        let targets = self.targets();
        if targets.len() < 2 || self.explain {
            return Ok(());
        }
        let names = || {
            targets
                .iter()
                .map(|t| format!("`{}`", t.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let is_dir = |p: &PathBuf| p.to_string_lossy().ends_with('/') || p.is_dir();
        for (flag, path) in [("-o", &self.output), ("--diff", &self.diff)] {
            if let Some(p) = path.as_ref().filter(|p| !is_dir(p)) {
                return Err(format!(
                    "`--to {}` writes one folder per target ({}), and `{flag} {}` is not a folder: end it with `/` (`{flag} {}/`)",
                    self.to_label(),
                    names(),
                    p.display(),
                    p.display()
                ));
            }
        }
        if self.output.is_none() && self.diff.is_none() && !self.check {
            return Err(format!(
                "`--to {}` writes one folder per target ({}), not stdout: give `-o DIR/` (or `--diff DIR/`), or one target",
                self.to_label(),
                names()
            ));
        }
        Ok(())
    }
}

/// Options of `polytrans check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Input files or folders, or `-` for stdin; none reads stdin when it is not a terminal.
    pub inputs: Vec<PathBuf>,

    /// An input, as kubectl names it (same as a positional input; repeatable, comma-separated).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "INPUT",
        value_delimiter = ','
    )]
    pub filename: Vec<PathBuf>,

    /// Judge against this level (enforce, warn and audit); without it, namespaces' PSA labels.
    #[arg(long, value_parser = parse_level, conflicts_with = "psp")]
    pub level: Option<crate::ir::Level>,

    /// The level's version (`v1.N` or `latest`).
    #[arg(long = "version", value_parser = parse_version, default_value = "latest")]
    pub level_version: crate::pss::Version,

    /// Judge against the PodSecurityPolicies in this file (any of them may admit a pod).
    #[arg(long, value_name = "FILE")]
    pub psp: Option<PathBuf>,

    /// Reject workloads' pod templates as if they were Pods (PSA only warns for them).
    #[arg(long)]
    pub workloads_as_pods: bool,

    /// Output format: text, json, junit, sarif.
    #[arg(long, default_value = "text",
          value_parser = names_parser(crate::check::CheckFormat::NAMES, crate::check::CheckFormat::parse))]
    pub format: crate::check::CheckFormat,

    /// When to exit 1: on a rejected object (`error`, default), or also on a warning (`warning`:
    /// workloads, which PSA only warns about, and warn-mode labels).
    #[arg(long, default_value = "error",
          value_parser = names_parser(crate::check::FailOn::NAMES, crate::check::FailOn::parse))]
    pub fail_on: crate::check::FailOn,

    /// Accept PSPs missing a required strategy (with `--psp`).
    #[arg(long)]
    pub lenient: bool,
}

impl CheckArgs {
    /// The plain options `check` runs with.
    pub fn options(&self) -> crate::check::Options {
        crate::check::Options {
            inputs: self.inputs.clone(),
            level: self.level,
            level_version: self.level_version,
            psp: self.psp.clone(),
            workloads_as_pods: self.workloads_as_pods,
            format: self.format,
            fail_on: self.fail_on,
            lenient: self.lenient,
        }
    }
}

/// Options of `polytrans diff`.
#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// `OLD NEW` (files or folders); with `--git`, the paths to compare with their old revision.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,

    /// Read the old side from this git revision of the same paths (e.g. `origin/main`).
    #[arg(long, value_name = "BASE")]
    pub git: Option<String>,

    /// Output format: text, markdown, json.
    #[arg(long, default_value = "text",
          value_parser = names_parser(crate::diff::DiffFormat::NAMES, crate::diff::DiffFormat::parse))]
    pub format: crate::diff::DiffFormat,

    /// When to exit 1: on a loosened PSP (`loosen`, default), on any change (`any`), or never.
    #[arg(long, default_value = "loosen",
          value_parser = names_parser(crate::diff::FailOn::NAMES, crate::diff::FailOn::parse))]
    pub fail_on: crate::diff::FailOn,

    /// Pod Security Standards version for the fit before and after.
    #[arg(long, default_value = "latest", value_parser = parse_version)]
    pub pss_version: crate::pss::Version,

    /// Accept PSPs missing a required strategy (read as `RunAsAny`).
    #[arg(long)]
    pub lenient: bool,
}

impl DiffArgs {
    /// The plain options `diff` runs with.
    pub fn options(&self) -> crate::diff::Options {
        crate::diff::Options {
            inputs: self.inputs.clone(),
            git: self.git.clone(),
            format: self.format,
            fail_on: self.fail_on,
            pss_version: self.pss_version,
            lenient: self.lenient,
        }
    }
}

#[derive(Debug, Args)]
pub struct PspArgs {
    /// Input files or folders (`*.yaml`, `*.yml`, `*.json`), or `-` for stdin; none reads stdin
    /// when it is not a terminal.
    pub inputs: Vec<PathBuf>,

    /// An input, as kubectl names it (same as a positional input; repeatable, comma-separated).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "INPUT",
        value_delimiter = ','
    )]
    pub filename: Vec<PathBuf>,

    /// What to produce: a target, several (comma-separated or repeated), or `all`. Several
    /// targets are an apply-ready bundle: `-o DIR/` writes `DIR/<target>/` with one file per
    /// policy and a `kustomization.yaml`.
    #[arg(long, value_name = "TARGET", required = true, value_delimiter = ',', value_parser = target_parser())]
    pub to: Vec<ToValue>,

    /// What a violation does in the admission backends: `enforce` (reject; the default, as PSP
    /// did), `audit` (record only) or `warn` (admit with a warning). Gatekeeper
    /// `enforcementAction`, Kyverno `failureAction`, VAP and Kyverno-CEL `validationActions`,
    /// Kubewarden `mode` (`protect`; `monitor` for audit and warn).
    #[arg(long, default_value = "enforce", alias = "cel-mode", alias = "kyverno-mode",
          value_parser = names_parser(backend::Mode::NAMES, backend::Mode::parse))]
    pub mode: backend::Mode,

    /// Output format, where the target has several (text, yaml, json, markdown, kubectl).
    #[arg(long)]
    pub format: Option<String>,

    /// Pod Security Standards version to compare with or pin (`v1.N` or `latest`).
    #[arg(long, default_value = "latest", value_parser = parse_version)]
    pub pss_version: crate::pss::Version,

    /// Write to this file, or (ending in `/`) a folder: `DIR/<target>/<policy>.yaml`, and with
    /// several targets a `kustomization.yaml` in each target folder. Writes are atomic. (Not
    /// kubectl's `-o FORMAT`: the format is `--format`.)
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
    pub falco: FalcoArgs,
    #[command(flatten)]
    pub gatekeeper: GatekeeperArgs,
    #[command(flatten)]
    pub kyverno: KyvernoArgs,
    #[command(flatten)]
    pub cel: CelArgs,
    #[command(flatten)]
    pub psa: PsaArgs,
}

impl PspArgs {
    /// Every backend's plain options, from the command line.
    pub fn backend_options(&self) -> backend::Options {
        backend::Options {
            falco: backend::falco::Options {
                flavor: self.falco.falco_flavor,
                priority: self.falco.falco_priority.clone(),
                tags: self.falco.falco_tags.clone(),
                rule_prefix: self.falco.falco_rule_prefix.clone(),
            },
            gatekeeper: backend::gatekeeper::Options {
                mode: self.mode,
                namespaces: self.gatekeeper.namespaces.clone(),
                exempt_namespaces: self.gatekeeper.exempt_namespaces.clone(),
                exempt_images: self.gatekeeper.exempt_images.clone(),
            },
            kyverno: backend::kyverno::Options {
                style: self.kyverno.kyverno_style,
                mode: self.mode,
                background: self.kyverno.kyverno_background,
                no_autogen: self.kyverno.kyverno_no_autogen,
                version: self.kyverno.kyverno_version,
            },
            kubewarden: backend::kubewarden::Options { mode: self.mode },
            cel: backend::cel::Options {
                mode: self.mode,
                workloads: self.cel.cel_workloads,
                no_mutation: self.cel.no_mutation,
                cel_api: self.cel.cel_api,
                kyverno_version: self.kyverno.kyverno_version,
            },
            psa: backend::psa::Options {
                enforce: self.psa.enforce,
                warn: self.psa.warn,
                audit: self.psa.audit,
                allow_breakage: self.psa.allow_breakage,
                admission_config: self.psa.admission_config,
                unpinned: self.psa.unpinned,
            },
        }
    }
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
    crate::ir::Level::parse_arg(s)
}

pub fn parse_exception(s: &str) -> Result<crate::pss::Exception, String> {
    crate::pss::Exception::parse(s)
}

pub fn parse_kyverno_version(s: &str) -> Result<backend::KyvernoVersion, String> {
    backend::KyvernoVersion::parse(s)
        .ok_or_else(|| format!("`{s}` is not a Kyverno release; expected `1.N`, e.g. `1.19`"))
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

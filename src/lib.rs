//! polytrans: move Kubernetes clusters off PodSecurityPolicy without breaking workloads.
//!
//! Data flows one way: [`load`] → [`front`] (PSP → [`ir`]) → validation → [`backend`] →
//! [`render`]. The Pod Security Standards live in [`pss`] as the same IR, [`eval`] judges pods
//! against any IR policy, and [`fit`] compares a PSP with the levels.
//!
//! The library never prints: [`run`] writes the command's output to the writer it is given and
//! returns diagnostics for the caller to render.

// Diagnostics travel by value on the (cold) error path; boxing them buys nothing.
#![allow(clippy::result_large_err)]

pub mod backend;
pub mod check;
pub mod cli;
pub mod compare;
pub mod diag;
pub mod diff;
pub mod eval;
pub mod fit;
pub mod front;
pub mod ir;
pub mod k8s;
pub mod load;
pub mod output;
pub mod pipeline;
pub mod pod;
pub mod pss;
pub mod render;
pub mod scope;

use diag::{Diagnostic, Diagnostics};
use std::io::Write;

/// Errors that stop a command (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is invalid; the diagnostics say where and why.
    #[error("invalid input")]
    Input(Diagnostics),
    /// The command line is wrong.
    #[error("{0}")]
    Usage(String),
    /// Writing a file (or stdout, `path` = `<stdout>`) failed.
    #[error("cannot write `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A template failed to render (a bug, or a broken `--templates` override).
    #[error("template error: {0}")]
    Template(String),
    /// The target or command is not implemented yet.
    #[error("`{0}` is not implemented yet")]
    Unimplemented(&'static str),
}

impl Error {
    /// A failed write to `path`.
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }

    /// A failed write to standard output.
    pub fn stdout(source: std::io::Error) -> Error {
        Error::io("<stdout>", source)
    }

    /// Whether this is a write to a closed pipe (`polytrans … | head`): not an error to report.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The diagnostics to print for this error.
    pub fn diagnostics(&self) -> Diagnostics {
        match self {
            Error::Input(d) => d.clone(),
            Error::Usage(m) => Diagnostics(vec![Diagnostic::error(m.clone())]),
            Error::Unimplemented(_) => {
                Diagnostics(vec![Diagnostic::error(self.to_string()).with_help(
                    "see the open issues; `polytrans psp --help` lists the targets",
                )])
            }
            other => Diagnostics(vec![Diagnostic::error(other.to_string())]),
        }
    }
}

/// What a successful command reports back.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Findings (exit code 1): rejected pods, drift, loosened policies, fidelity loss under
    /// `--strict`.
    pub findings: bool,
    /// Warnings and notes to print.
    pub diagnostics: Diagnostics,
    /// A one-line summary for stderr, printed whatever the verbosity (`polytrans check`).
    pub summary: Option<String>,
}

/// Runs a parsed command line, writing its output to `out`.
pub fn run(cli: &cli::Cli, out: &mut dyn Write) -> Result<Outcome, Error> {
    let limits = cli.limits();
    match &cli.command {
        cli::Command::Psp(args) => psp_command(args, &limits, cli.verbose, out),
        cli::Command::Pss(args) => pss_command(args, &limits, out),
        cli::Command::Schema { which } => {
            match which {
                cli::SchemaKind::Ir => write_out(out, &ir::schema_json())?,
            }
            Ok(Outcome::default())
        }
        cli::Command::Check(args) => check::run(&args.options(), &limits, out),
        cli::Command::Diff(args) => diff::run(&args.options(), &limits, out),
        cli::Command::Completions { shell } => {
            let mut cmd = <cli::Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "polytrans", &mut buf);
            out.write_all(&buf).map_err(Error::stdout)?;
            Ok(Outcome::default())
        }
        cli::Command::Man => {
            let cmd = <cli::Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(Error::stdout)?;
            out.write_all(&buf).map_err(Error::stdout)?;
            Ok(Outcome::default())
        }
    }
}

fn write_out(out: &mut dyn Write, s: &str) -> Result<(), Error> {
    out.write_all(s.as_bytes()).map_err(Error::stdout)
}

fn psp_command(
    args: &cli::PspArgs,
    limits: &load::Limits,
    verbose: bool,
    out: &mut dyn Write,
) -> Result<Outcome, Error> {
    let options = front::psp::Options {
        lenient: args.lenient,
    };
    args.check_usage().map_err(Error::Usage)?;
    let (mut policies, objects, mut diags) =
        pipeline::load_policies(&args.inputs, limits, &options, verbose)?;
    diags
        .0
        .extend(pss::version_warning(args.pss_version, "--pss-version"));
    diags.0.extend(args.habit_warnings());
    if args.strict && strict_unknown_fields(&mut diags) {
        return Ok(Outcome {
            findings: true,
            diagnostics: diags,
            summary: None,
        });
    }
    if let Some(level) = args.at_least {
        for p in &mut policies {
            pss::intersect_with_level(p, level, args.pss_version);
        }
    }
    emit_and_write(&policies, objects, args, args.pss_version, diags, out)
}

/// Under `--strict`, unknown PSP fields (ignored with a warning otherwise) are errors: a typo such
/// as `allowPrivilegeEscalaton` silently drops a constraint. Returns whether there was one.
fn strict_unknown_fields(diags: &mut Diagnostics) -> bool {
    let mut found = false;
    for d in diags.0.iter_mut() {
        if d.severity == diag::Severity::Warning && d.message.starts_with("unknown field `") {
            d.severity = diag::Severity::Error;
            d.message = d
                .message
                .replace(" is ignored", " (refused under `--strict`)");
            found = true;
        }
    }
    found
}

/// The version `polytrans pss` pins: `--version`, else `--pss-version`.
pub fn pss_version(args: &cli::PssArgs) -> pss::Version {
    args.level_version.unwrap_or(args.emit.pss_version)
}

/// The policy `polytrans pss LEVEL …` emits: the level at its version, with `--except`,
/// `--images` and `--namespaces` applied.
pub fn level_policy_from_args(args: &cli::PssArgs) -> Result<ir::Policy, Error> {
    let version = pss_version(args);
    let mut policy = pss::level_policy(args.level, version);
    pss::apply_exceptions(&mut policy, &args.except).map_err(Error::Usage)?;
    if !args.except.is_empty() {
        let ex: Vec<String> = args
            .except
            .iter()
            .map(|e| {
                if e.values.is_empty() {
                    e.check.clone()
                } else {
                    format!("{}={}", e.check, e.values.join(","))
                }
            })
            .collect();
        policy.name = format!("{} except {}", policy.name, ex.join(" "));
    }
    policy.exempt_images = args.images.clone();
    policy.exempt_namespaces = args.namespaces.clone();
    Ok(policy)
}

fn pss_command(
    args: &cli::PssArgs,
    limits: &load::Limits,
    out: &mut dyn Write,
) -> Result<Outcome, Error> {
    args.emit.check_usage().map_err(Error::Usage)?;
    let version = pss_version(args);
    let policy = level_policy_from_args(args)?;
    let (objects, mut diags) = if args.emit.inputs.is_empty() {
        (vec![], Diagnostics::default())
    } else {
        pipeline::load_inputs(&args.emit.inputs, limits)?
    };
    let flag = if args.level_version.is_some() {
        "--version"
    } else {
        "--pss-version"
    };
    diags.0.extend(pss::version_warning(version, flag));
    diags.0.extend(args.emit.habit_warnings());
    emit_and_write(&[policy], objects, &args.emit, version, diags, out)
}

fn emit_and_write(
    policies: &[ir::Policy],
    objects: Vec<load::Object>,
    args: &cli::PspArgs,
    pss_version: pss::Version,
    mut diags: Diagnostics,
    out: &mut dyn Write,
) -> Result<Outcome, Error> {
    if let Some(t) = &args.templates {
        if !t.is_dir() {
            return Err(Error::Usage(format!(
                "`--templates {}` is not a folder (it must hold `<target>/*.j2` like `templates/`)",
                t.display()
            )));
        }
    }
    let targets = args.targets();
    let bundle = targets.len() > 1;
    let dir_like = |p: &std::path::PathBuf| output::is_dir_like(p);
    let common = backend::Common {
        templates: args.templates.clone(),
        pss_version,
        format: args.format.clone(),
        want_files: args.output.as_ref().is_some_and(dir_like)
            || args.diff.as_ref().is_some_and(dir_like),
    };
    let options = args.backend_options();
    // Load, lower and scope once; emit every target.
    let scope = pipeline::scope_of(policies, &objects);
    // What was read is in the IR and the scope now: free it before rendering.
    drop(objects);
    if let Some(path) = args
        .output
        .as_ref()
        .filter(|_| !args.explain && !args.check && args.diff.is_none())
    {
        return write_streaming(
            path,
            &targets,
            &Emit {
                policies,
                scope: &scope,
                common: &common,
                options: &options,
            },
            args,
            diags,
        );
    }
    let mut emitted = Vec::new();
    for &t in &targets {
        let e = pipeline::emit(t, policies, &scope, &common, &options)?;
        diags.extend(e.diagnostics.clone());
        emitted.push((t, e));
    }
    let lossy: Vec<(&backend::Target, &backend::FidelityEntry)> = emitted
        .iter()
        .flat_map(|(t, e)| e.fidelity.iter().map(move |f| (*t, f)))
        .filter(|(_, f)| f.fidelity != backend::Fidelity::Exact)
        .collect();
    if args.explain {
        for (i, (t, e)) in emitted.iter().enumerate() {
            if bundle {
                let sep = if i == 0 { "" } else { "\n" };
                write_out(out, &format!("{sep}# --- {} ---\n", t.name))?;
            }
            write_out(out, &backend::fidelity_table(&e.fidelity))?;
        }
        return Ok(Outcome {
            findings: args.strict && !lossy.is_empty(),
            diagnostics: diags,
            summary: None,
        });
    }
    if args.strict && !lossy.is_empty() {
        diags.0.extend(strict_errors(&lossy));
        return Ok(Outcome {
            findings: true,
            diagnostics: diags,
            summary: None,
        });
    }
    let outputs: Vec<output::TargetOutput> = emitted
        .into_iter()
        .map(|(t, e)| output::TargetOutput {
            target: t,
            emitted: e,
            manifests: backend::writes_manifests(t, args.format.as_deref(), &options),
        })
        .collect();
    let templates = args.templates.as_deref();
    let existing = args.diff.as_ref().or(if args.check {
        args.output.as_ref()
    } else {
        None
    });
    if let Some(existing) = existing {
        let plan = output::plan(existing, outputs, templates)?;
        let d = diff::drift(&plan, args.color.enabled());
        write_out(out, &d.diff)?;
        for f in &d.formatting_only {
            write_out(
                out,
                &format!("{f}: equal modulo formatting (key order, quoting, comments)\n"),
            )?;
        }
        for (_, f) in &d.stale {
            write_out(out, &format!("{f}: stale (no longer generated)\n"))?;
        }
        let mut summary = None;
        if args.write {
            let n = plan.write(&d.stale)?;
            if dir_like(existing) {
                summary = Some(wrote(n, existing, d.stale.len()));
            }
        }
        if !d.is_clean() && args.check {
            let message = if bundle {
                let mut parts = Vec::new();
                for (what, names) in [
                    ("changed", d.changed.clone()),
                    ("missing", d.missing.clone()),
                    ("stale", d.stale.iter().map(|(_, n)| n.clone()).collect()),
                ] {
                    if !names.is_empty() {
                        parts.push(format!(
                            "{what}: {}",
                            names
                                .iter()
                                .map(|n| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
                format!(
                    "generated `--to {}` output differs from `{}` ({})",
                    args.to_label(),
                    existing.display(),
                    parts.join("; ")
                )
            } else {
                format!(
                    "generated `--to {}` output differs from `{}` ({} changed, {} missing)",
                    targets[0].name,
                    existing.display(),
                    d.changed.len(),
                    d.missing.len()
                )
            };
            diags.push(
                Diagnostic::error(message)
                    .with_help("regenerate with `--write` (or `-o`) and commit the result"),
            );
        }
        return Ok(Outcome {
            findings: args.check && !d.is_clean(),
            diagnostics: diags,
            summary,
        });
    }
    if args.check {
        return Err(Error::Usage(
            "`--check` needs `--diff EXISTING` or `-o PATH` to compare with".into(),
        ));
    }
    // `-o` went to `write_streaming`; `check_usage` refused several targets without
    // `-o`/`--diff`.
    for o in &outputs {
        write_out(out, &o.emitted.stdout)?;
    }
    Ok(Outcome {
        findings: false,
        diagnostics: diags,
        summary: None,
    })
}

/// With `--strict`, what `e` could not express exactly.
fn lossy_entries(
    t: &'static backend::Target,
    e: &backend::Emitted,
    strict: bool,
) -> Vec<(&'static backend::Target, backend::FidelityEntry)> {
    if !strict {
        return Vec::new();
    }
    e.fidelity
        .iter()
        .filter(|f| f.fidelity != backend::Fidelity::Exact)
        .map(|f| (t, f.clone()))
        .collect()
}

/// `--strict`: an error for each entry not expressed exactly.
fn strict_errors(lossy: &[(&backend::Target, &backend::FidelityEntry)]) -> Vec<Diagnostic> {
    lossy
        .iter()
        .map(|(t, e)| {
            Diagnostic::error(format!(
                "`--to {}` cannot express `{}` of `{}` exactly: {} ({})",
                t.name,
                e.field,
                e.policy,
                e.fidelity.as_str(),
                backend::single_line(&e.note)
            ))
            .with_help("drop `--strict` to accept the approximation, or use another target")
        })
        .collect()
}

/// What every target is emitted from.
struct Emit<'a> {
    policies: &'a [ir::Policy],
    scope: &'a scope::Scope,
    common: &'a backend::Common,
    options: &'a backend::Options,
}

/// `-o PATH` (no `--diff`, `--check`, `--explain` or `--strict`): each target is emitted,
/// planned and staged ([`output::Staged`]) before the next one is rendered, so a run holds one
/// target's output at a time; every file is renamed into place once all are written.
fn write_streaming(
    path: &std::path::Path,
    targets: &[&'static backend::Target],
    emit: &Emit<'_>,
    args: &cli::PspArgs,
    mut diags: Diagnostics,
) -> Result<Outcome, Error> {
    let env = render::environment(args.templates.as_deref());
    let staged = std::cell::RefCell::new(output::Staged::default());
    // What was planned, without the contents: for the stale files.
    let planned = std::cell::RefCell::new(output::Plan::default());
    let mut lossy: Vec<(&backend::Target, backend::FidelityEntry)> = Vec::new();
    let bundle = targets.len() > 1;
    for &t in targets {
        let manifests = backend::writes_manifests(t, args.format.as_deref(), emit.options);
        if !emit.common.want_files {
            // `-o FILE`: the whole output of the one target.
            let mut e = pipeline::emit(t, emit.policies, emit.scope, emit.common, emit.options)?;
            diags.extend(std::mem::take(&mut e.diagnostics));
            lossy.extend(lossy_entries(t, &e, args.strict));
            let o = output::TargetOutput {
                target: t,
                emitted: e,
                manifests,
            };
            let part = output::plan_target(path, o, bundle, &env)?;
            part.stage(&mut staged.borrow_mut())?;
            continue;
        }
        // `-o DIR/`: each file is staged as soon as the backend renders it.
        let folder = std::cell::RefCell::new(output::TargetFolder::new(path, t, bundle, manifests));
        let stage = |f: backend::OutputFile| -> Result<(), Error> {
            let planned_file = folder.borrow_mut().file(f);
            staged
                .borrow_mut()
                .stage(&planned_file.path, &planned_file.content)?;
            planned.borrow_mut().files.push(output::PlannedFile {
                content: String::new(),
                ..planned_file
            });
            Ok(())
        };
        let mut e = pipeline::emit_into(
            t,
            emit.policies,
            emit.scope,
            emit.common,
            emit.options,
            Some(&stage),
        )?;
        diags.extend(std::mem::take(&mut e.diagnostics));
        lossy.extend(lossy_entries(t, &e, args.strict));
        // What the backend kept rather than handing to the sink.
        for f in std::mem::take(&mut e.files) {
            stage(f)?;
        }
        let rest = folder.into_inner().finish(&e.resources, &env)?;
        rest.stage(&mut staged.borrow_mut())?;
        let mut planned = planned.borrow_mut();
        planned.owned.extend(rest.owned);
        planned
            .files
            .extend(rest.files.into_iter().map(|f| output::PlannedFile {
                content: String::new(),
                ..f
            }));
    }
    let staged = staged.into_inner();
    let planned = planned.into_inner();
    if !lossy.is_empty() {
        // Nothing is written (dropping `staged` removes what was staged).
        let refs: Vec<(&backend::Target, &backend::FidelityEntry)> =
            lossy.iter().map(|(t, e)| (*t, e)).collect();
        diags.0.extend(strict_errors(&refs));
        return Ok(Outcome {
            findings: true,
            diagnostics: diags,
            summary: None,
        });
    }
    for (_, name) in planned.stale() {
        diags.push(
            Diagnostic::warning(format!(
                "`{name}` in `{}` is no longer generated (stale)",
                path.display()
            ))
            .with_help(format!(
                "`--diff {} --write` removes it (`-o` only writes)",
                path.display()
            )),
        );
    }
    let n = staged.commit()?;
    Ok(Outcome {
        findings: false,
        diagnostics: diags,
        summary: output::is_dir_like(path).then(|| wrote(n, path, 0)),
    })
}

/// The stderr line after writing into a folder: `wrote 14 files to out/`.
fn wrote(files: usize, dir: &std::path::Path, removed: usize) -> String {
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let mut s = format!("wrote {} to {}", plural(files, "file"), dir.display());
    if removed > 0 {
        s.push_str(&format!(", removed {}", plural(removed, "stale file")));
    }
    s
}

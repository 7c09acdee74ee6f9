//! Diffing for pull-request review.
//!
//! - [`run`] (`polytrans diff OLD NEW`, or `--git BASE PATH...`): compares PSPs by name and
//!   classifies every field change as loosened, tightened or neutral, with the PSS fit before and
//!   after and the effect on each backend's output.
//! - [`drift`]: compares what `polytrans psp` would write with what a repository holds
//!   (`--diff`, `--check`, `--write`), YAML semantically first, then textually.

use crate::compare::{absent_summary, covers, rule_of, summary};
use crate::diag::{Diagnostic, Diagnostics};
use crate::fit::{FitReport, Relation, fit};
use crate::ir::{Level, Policy};
use crate::load::{Limits, Object, Source};
use crate::{Error, Outcome};
use serde::Serialize;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options of `polytrans diff` (the command line maps onto them in [`crate::cli`]).
#[derive(Debug, Clone)]
pub struct Options {
    /// `OLD NEW` (files or folders); with `git`, the paths to compare with their old revision.
    pub inputs: Vec<PathBuf>,
    /// Read the old side from this git revision of the same paths.
    pub git: Option<String>,
    pub format: DiffFormat,
    pub fail_on: FailOn,
    /// Pod Security Standards version for the fit before and after.
    pub pss_version: crate::pss::Version,
    /// Accept PSPs missing a required strategy (read as `RunAsAny`).
    pub lenient: bool,
}

/// `polytrans diff --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffFormat {
    Text,
    Markdown,
    Json,
}

impl DiffFormat {
    pub const NAMES: &[&str] = &["text", "markdown", "json"];
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "text" => Some(DiffFormat::Text),
            "markdown" => Some(DiffFormat::Markdown),
            "json" => Some(DiffFormat::Json),
            _ => None,
        }
    }
}

/// `polytrans diff --fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Loosen,
    Any,
    Never,
}

impl FailOn {
    pub const NAMES: &[&str] = &["loosen", "any", "never"];
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "loosen" => Some(FailOn::Loosen),
            "any" => Some(FailOn::Any),
            "never" => Some(FailOn::Never),
            _ => None,
        }
    }
}

/// How a change moves the set of admitted pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Admits more pods.
    Loosened,
    /// Admits fewer pods.
    Tightened,
    /// Admits some pods it did not and rejects some it admitted.
    Mixed,
    /// Admits the same pods (e.g. a defaulting change).
    Neutral,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Loosened => "loosened",
            Change::Tightened => "tightened",
            Change::Mixed => "mixed",
            Change::Neutral => "neutral",
        }
    }

    fn loosens(self) -> bool {
        matches!(self, Change::Loosened | Change::Mixed)
    }
}

/// One field change of a PSP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    pub field: String,
    pub change: Change,
    pub before: String,
    pub after: String,
    pub reason: String,
}

/// One PSS check whose relation changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckChange {
    pub check: String,
    pub before: Relation,
    pub after: Relation,
    pub reason: String,
}

/// The effect of a PSP change on one backend's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendEffect {
    pub target: String,
    pub added_lines: usize,
    pub removed_lines: usize,
}

/// A PSP present on both sides whose IR differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangedPolicy {
    pub name: String,
    /// The overall change (the worst of the field changes).
    pub change: Change,
    pub fields: Vec<FieldChange>,
    /// Safe level (ignoring controls PSP cannot express) before and after.
    pub level_before: Level,
    pub level_after: Level,
    pub at_least_restricted_before: bool,
    pub at_least_restricted_after: bool,
    pub checks: Vec<CheckChange>,
    pub backends: Vec<BackendEffect>,
}

/// The result of `polytrans diff`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<ChangedPolicy>,
    pub unchanged: Vec<String>,
}

impl PolicyDiff {
    /// Whether anything admits more pods than before (an added PSP counts).
    pub fn loosens(&self) -> bool {
        !self.added.is_empty() || self.changed.iter().any(|c| c.change.loosens())
    }

    pub fn any_change(&self) -> bool {
        !self.added.is_empty() || !self.removed.is_empty() || !self.changed.is_empty()
    }
}

/// Every constraint kind, in a stable order, for field-by-field comparison.
fn kinds(old: &Policy, new: &Policy) -> Vec<&'static str> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in old.rules.iter().chain(new.rules.iter()) {
        let k = r.constraint.kind_name();
        if seen.insert(k) {
            out.push(k);
        }
    }
    out
}

/// Compares two versions of one PSP.
pub fn compare_policies(old: &Policy, new: &Policy, version: crate::pss::Version) -> ChangedPolicy {
    let mut fields = Vec::new();
    for kind in kinds(old, new) {
        let (o, n) = (rule_of(old, kind), rule_of(new, kind));
        let (oc, nc) = (o.map(|r| &r.constraint), n.map(|r| &r.constraint));
        if oc == nc {
            continue;
        }
        let field = n
            .or(o)
            .map(|r| r.provenance.field.clone())
            .unwrap_or_default();
        let widen = covers(nc, oc); // new admits all old admitted
        let narrow = covers(oc, nc); // old admits all new admits
        let change = match (widen, narrow) {
            (true, true) => Change::Neutral,
            (true, false) => Change::Loosened,
            (false, true) => Change::Tightened,
            (false, false) => Change::Mixed,
        };
        let before = oc
            .map(summary)
            .unwrap_or_else(|| absent_summary(kind).into());
        let after = nc
            .map(summary)
            .unwrap_or_else(|| absent_summary(kind).into());
        let what = match (oc, nc) {
            (Some(a), Some(b)) => crate::compare::name_delta(a, b),
            _ => None,
        }
        .unwrap_or_else(|| format!("{before} → {after}"));
        let reason = match change {
            Change::Loosened => format!("now allows more: {what}"),
            Change::Tightened => format!("now allows less: {what}"),
            Change::Mixed => format!("allows some new values and drops others: {what}"),
            Change::Neutral => format!("same pods admitted: {what}"),
        };
        fields.push(FieldChange {
            field,
            change,
            before,
            after,
            reason,
        });
    }
    if old.images != new.images {
        // The policy judges only the listed containers (empty: every container).
        let judged =
            |i: &[String], of: &[String]| of.is_empty() || i.iter().all(|x| of.contains(x));
        let (wider, narrower) = (
            judged(&old.images, &new.images),
            judged(&new.images, &old.images),
        );
        let show = |i: &[String]| {
            if i.is_empty() {
                "every container".to_string()
            } else {
                i.join(", ")
            }
        };
        let (before, after) = (show(&old.images), show(&new.images));
        let (change, how) = match (wider, narrower) {
            (true, true) => (Change::Neutral, "same containers judged"),
            (true, false) => (Change::Tightened, "judges more containers"),
            (false, true) => (Change::Loosened, "judges fewer containers"),
            (false, false) => (Change::Mixed, "judges other containers"),
        };
        fields.push(FieldChange {
            field: "metadata.annotations[falco-rules-psp-images]".into(),
            change,
            reason: format!("{how}: {before} → {after}"),
            before,
            after,
        });
    }
    // Defaulting changes are neutral for admission but change pods.
    let describe = |p: &Policy| -> BTreeSet<String> {
        p.defaults
            .iter()
            .map(|d| {
                format!(
                    "{}: {}",
                    d.provenance.field,
                    crate::fit::describe_default(&d.action)
                )
            })
            .collect()
    };
    let (od, nd) = (describe(old), describe(new));
    for gone in od.difference(&nd) {
        let (field, what) = gone.split_once(": ").unwrap_or((gone, ""));
        fields.push(FieldChange {
            field: field.to_string(),
            change: Change::Neutral,
            before: what.to_string(),
            after: "no defaulting".into(),
            reason: format!("no longer {what}"),
        });
    }
    for new_d in nd.difference(&od) {
        let (field, what) = new_d.split_once(": ").unwrap_or((new_d, ""));
        fields.push(FieldChange {
            field: field.to_string(),
            change: Change::Neutral,
            before: "no defaulting".into(),
            after: what.to_string(),
            reason: format!("now {what}"),
        });
    }
    let change = if fields.iter().any(|f| f.change == Change::Mixed)
        || (fields.iter().any(|f| f.change == Change::Loosened)
            && fields.iter().any(|f| f.change == Change::Tightened))
    {
        Change::Mixed
    } else if fields.iter().any(|f| f.change == Change::Loosened) {
        Change::Loosened
    } else if fields.iter().any(|f| f.change == Change::Tightened) {
        Change::Tightened
    } else {
        Change::Neutral
    };
    let (fb, fa): (FitReport, FitReport) = (fit(old, version), fit(new, version));
    let checks = fb
        .checks
        .iter()
        .filter_map(|b| {
            let a = fa.checks.iter().find(|a| a.check == b.check)?;
            (a.relation != b.relation).then(|| CheckChange {
                check: b.check.clone(),
                before: b.relation,
                after: a.relation,
                reason: a.reason.clone(),
            })
        })
        .collect();
    ChangedPolicy {
        name: new.name.clone(),
        change,
        fields,
        level_before: fb.safe_level_ignoring_not_expressible,
        level_after: fa.safe_level_ignoring_not_expressible,
        at_least_restricted_before: fb.at_least_restricted,
        at_least_restricted_after: fa.at_least_restricted,
        checks,
        backends: backend_effects(old, new),
    }
}

/// Line counts by which each implemented backend's output for the PSP changes.
fn backend_effects(old: &Policy, new: &Policy) -> Vec<BackendEffect> {
    let mut out = Vec::new();
    let common = crate::backend::Common::default();
    let options = crate::backend::Options::default();
    for target in crate::backend::TARGETS
        .iter()
        .filter(|t| t.admission || t.name == "falco")
    {
        if target.name == "pss-labels" {
            continue;
        }
        let render = |p: &Policy| {
            let policies = [p.clone()];
            let scope = crate::scope::Scope::unscoped(&policies);
            crate::pipeline::emit(target, &policies, &scope, &common, &options).map(|e| e.stdout)
        };
        let (Ok(a), Ok(b)) = (render(old), render(new)) else {
            continue;
        };
        let diff = similar::TextDiff::from_lines(&a, &b);
        let (mut added, mut removed) = (0, 0);
        for c in diff.iter_all_changes() {
            match c.tag() {
                similar::ChangeTag::Insert => added += 1,
                similar::ChangeTag::Delete => removed += 1,
                similar::ChangeTag::Equal => {}
            }
        }
        out.push(BackendEffect {
            target: target.name.to_string(),
            added_lines: added,
            removed_lines: removed,
        });
    }
    out
}

/// A PSP's content without where it was read: origin and provenance locations cleared, rules
/// (a conjunction) in a canonical order. Two PSPs with equal content admit and default the same
/// pods, whatever file, document, key order or comments they were written with.
pub fn content(p: &Policy) -> Policy {
    let mut c = p.clone();
    c.origin = crate::ir::Origin::Level {
        level: Level::Privileged,
        version: String::new(),
    };
    for r in &mut c.rules {
        r.provenance.location = None;
    }
    for d in &mut c.defaults {
        d.provenance.location = None;
    }
    c.rules
        .sort_by_cached_key(|r| serde_json::to_string(r).unwrap_or_default());
    c
}

/// Compares two sets of PSPs by name and normalised [`content`].
pub fn diff_policies(old: &[Policy], new: &[Policy], version: crate::pss::Version) -> PolicyDiff {
    let mut d = PolicyDiff::default();
    let by_name: std::collections::HashMap<&str, &Policy> =
        new.iter().map(|n| (n.name.as_str(), n)).collect();
    let old_names: BTreeSet<&str> = old.iter().map(|o| o.name.as_str()).collect();
    for o in old {
        match by_name.get(o.name.as_str()) {
            None => d.removed.push(o.name.clone()),
            Some(n) => {
                if content(o) == content(n) {
                    d.unchanged.push(o.name.clone());
                } else {
                    d.changed.push(compare_policies(o, n, version));
                }
            }
        }
    }
    for n in new {
        if !old_names.contains(n.name.as_str()) {
            d.added.push(n.name.clone());
        }
    }
    d
}

/// `polytrans diff`.
pub fn run(args: &Options, limits: &Limits, out: &mut dyn Write) -> Result<Outcome, Error> {
    let options = crate::front::psp::Options {
        lenient: args.lenient,
    };
    let (old_objects, new_paths, mut diags) = match &args.git {
        Some(base) => {
            let (objs, diags) = load_git(base, &args.inputs, limits)?;
            (objs, args.inputs.clone(), diags)
        }
        None => {
            if args.inputs.len() != 2 {
                return Err(Error::Usage(format!(
                    "`polytrans diff` takes OLD and NEW ({} given); use `--git BASE PATH...` to compare with a git revision",
                    args.inputs.len()
                )));
            }
            let (objs, diags) = crate::pipeline::load_inputs(&args.inputs[..1], limits)?;
            (objs, args.inputs[1..].to_vec(), diags)
        }
    };
    let (new_objects, d2) = crate::pipeline::load_inputs(&new_paths, limits)?;
    diags.extend(d2);
    let lower = |objs: &[Object]| -> Result<Vec<Policy>, Error> {
        let (p, warnings) =
            crate::front::psp::lower_all_with(objs, &options).map_err(Error::Input)?;
        let _ = warnings;
        Ok(p)
    };
    let old = lower(&old_objects)?;
    let new = lower(&new_objects)?;
    diags.0.extend(crate::pss::version_warning(
        args.pss_version,
        "--pss-version",
    ));
    let d = diff_policies(&old, &new, args.pss_version);
    let text = match args.format {
        DiffFormat::Text => render_text(&d),
        DiffFormat::Markdown => render_markdown(&d),
        DiffFormat::Json => {
            let mut s = serde_json::to_string_pretty(&d).expect("diff serialises");
            s.push('\n');
            s
        }
    };
    out.write_all(text.as_bytes()).map_err(Error::stdout)?;
    let findings = match args.fail_on {
        FailOn::Loosen => d.loosens(),
        FailOn::Any => d.any_change(),
        FailOn::Never => false,
    };
    if findings && args.fail_on == FailOn::Loosen {
        diags.push(Diagnostic::note(
            "a PSP admits more pods than before (`--fail-on loosen`)",
        ));
    }
    Ok(Outcome {
        findings,
        diagnostics: diags,
        summary: None,
    })
}

/// Runs git in `dir`; a failure is a usage error quoting git's message.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, Error> {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .map_err(|e| Error::Usage(format!("`--git` needs git, which cannot be run: {e}")))?;
    if !out.status.success() {
        return Err(Error::Usage(format!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

/// `path` (relative to the working directory, or absolute) as a path from the repository root
/// `top`, with `.` and `..` resolved; `None` when it lies outside the repository.
fn repo_relative(top: &Path, cwd: &Path, path: &Path) -> Option<String> {
    let joined = cwd.join(path);
    // Resolve symlinks where the path exists (the repository root is canonical too).
    let abs = std::fs::canonicalize(&joined).unwrap_or_else(|_| {
        let mut out = PathBuf::new();
        for c in joined.components() {
            match c {
                std::path::Component::ParentDir => {
                    out.pop();
                }
                std::path::Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    });
    let rel = abs.strip_prefix(top).ok()?;
    let s = rel.to_string_lossy().replace('\\', "/");
    Some(if s.is_empty() { ".".into() } else { s })
}

/// Reads the old side of `paths` from git revision `base`. Works from any folder of the
/// repository: paths are taken relative to the working directory, as for the new side.
fn load_git(
    base: &str,
    paths: &[PathBuf],
    limits: &Limits,
) -> Result<(Vec<Object>, Diagnostics), Error> {
    if base.starts_with('-') {
        return Err(Error::Usage(format!("`--git {base}` is not a revision")));
    }
    let cwd = std::env::current_dir()
        .map_err(|e| Error::Usage(format!("cannot read the working directory: {e}")))?;
    let top = match git(&cwd, &["rev-parse", "--show-toplevel"]) {
        Ok(out) => PathBuf::from(String::from_utf8_lossy(&out).trim()),
        Err(Error::Usage(m)) if m.contains("not a git repository") => {
            return Err(Error::Usage(format!(
                "`--git {base}` needs a git repository, and `{}` is not inside one (run it from the repository, or compare two paths: `polytrans diff OLD NEW`)",
                cwd.display()
            )));
        }
        Err(e) => return Err(e),
    };
    let top = std::fs::canonicalize(&top).unwrap_or(top);
    let commit = format!("{base}^{{commit}}");
    if git(&top, &["rev-parse", "--verify", "--quiet", &commit]).is_err() {
        return Err(Error::Usage(format!(
            "`{base}` is not a revision of the repository at `{}` (in CI, fetch it: `actions/checkout` with `fetch-depth: 0`, or `git fetch origin {base}`)",
            top.display()
        )));
    }
    let mut objects = Vec::new();
    let mut diags = Diagnostics::default();
    for p in paths {
        let rel = repo_relative(&top, &cwd, p).ok_or_else(|| {
            Error::Usage(format!(
                "`{}` is outside the repository at `{}`",
                p.display(),
                top.display()
            ))
        })?;
        let listing = git(
            &top,
            &[
                "ls-tree",
                "-r",
                "--name-only",
                "--full-tree",
                base,
                "--",
                &rel,
            ],
        )?;
        let mut files: Vec<String> = String::from_utf8_lossy(&listing)
            .lines()
            .filter(|f| {
                // A file named explicitly is read whatever its extension, as on the new side.
                *f == rel || f.ends_with(".yaml") || f.ends_with(".yml") || f.ends_with(".json")
            })
            .map(str::to_string)
            .collect();
        files.sort();
        for f in files {
            let bytes = git(&top, &["show", &format!("{base}:{f}")])?;
            let name = format!("{base}:{f}");
            if bytes.len() as u64 > limits.max_file_bytes {
                return Err(Error::Usage(format!("`{name}` is over the input limit")));
            }
            let text = crate::load::decode_text(bytes, &name)
                .map_err(|d| Error::Input(Diagnostics(vec![d])))?;
            let source = Arc::new(Source { name });
            crate::load::parse_stream(&text, &source, limits, &mut |o| objects.push(o), &mut diags);
        }
    }
    if diags.has_errors() {
        return Err(Error::Input(diags));
    }
    Ok((objects, diags))
}

fn level_change(c: &ChangedPolicy) -> String {
    if c.level_before == c.level_after {
        format!("{} (unchanged)", c.level_after)
    } else {
        format!("{} → {}", c.level_before, c.level_after)
    }
}

/// Text rendering.
pub fn render_text(d: &PolicyDiff) -> String {
    let mut out = format!(
        "PodSecurityPolicy changes: {} changed, {} added, {} removed, {} unchanged\n",
        d.changed.len(),
        d.added.len(),
        d.removed.len(),
        d.unchanged.len()
    );
    for n in &d.added {
        out.push_str(&format!(
            "\n+ {n}: added (pods bound to it may now do what it allows)\n"
        ));
    }
    for n in &d.removed {
        out.push_str(&format!("\n- {n}: removed\n"));
    }
    for c in &d.changed {
        out.push_str(&format!("\n~ {}: {}\n", c.name, c.change.as_str()));
        out.push_str(&format!(
            "  PSS fit (ignoring controls PSP cannot express): {}\n",
            level_change(c)
        ));
        for f in &c.fields {
            out.push_str(&format!(
                "  {:<9}  {}: {}\n",
                f.change.as_str(),
                f.field,
                f.reason
            ));
        }
        for k in &c.checks {
            out.push_str(&format!(
                "  check      {}: {} → {} ({})\n",
                k.check,
                k.before.as_str(),
                k.after.as_str(),
                k.reason
            ));
        }
        if !c.backends.is_empty() {
            let effects: Vec<String> = c
                .backends
                .iter()
                .map(|b| format!("{} +{} -{}", b.target, b.added_lines, b.removed_lines))
                .collect();
            out.push_str(&format!("  output     {} (lines)\n", effects.join(", ")));
        }
    }
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Markdown rendering, ready to post as a PR comment: a summary table, then details per PSP in
/// collapsible sections.
pub fn render_markdown(d: &PolicyDiff) -> String {
    let mut out = String::from("### PodSecurityPolicy changes\n\n");
    out.push_str(&format!(
        "{} changed, {} added, {} removed, {} unchanged\n\n",
        d.changed.len(),
        d.added.len(),
        d.removed.len(),
        d.unchanged.len()
    ));
    if !d.any_change() {
        out.push_str("No PSP changes.\n");
        return out;
    }
    out.push_str("| PSP | change | PSS fit | fields |\n|---|---|---|---|\n");
    for n in &d.added {
        out.push_str(&format!("| `{}` | **added** | | |\n", md_escape(n)));
    }
    for n in &d.removed {
        out.push_str(&format!("| `{}` | removed | | |\n", md_escape(n)));
    }
    for c in &d.changed {
        let badge = match c.change {
            Change::Loosened | Change::Mixed => format!("**{}**", c.change.as_str()),
            other => other.as_str().to_string(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            md_escape(&c.name),
            badge,
            level_change(c),
            c.fields.len()
        ));
    }
    for c in &d.changed {
        out.push_str(&format!(
            "\n<details><summary><code>{}</code>: {}</summary>\n\n",
            md_escape(&c.name),
            c.change.as_str()
        ));
        out.push_str("| field | change | why |\n|---|---|---|\n");
        for f in &c.fields {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                md_escape(&f.field),
                f.change.as_str(),
                md_escape(&f.reason)
            ));
        }
        if !c.checks.is_empty() {
            out.push_str("\nPod Security Standards checks:\n\n");
            for k in &c.checks {
                out.push_str(&format!(
                    "- `{}`: {} → {} ({})\n",
                    k.check,
                    k.before.as_str(),
                    k.after.as_str(),
                    md_escape(&k.reason)
                ));
            }
        }
        if !c.backends.is_empty() {
            out.push_str("\nGenerated output:\n\n");
            for b in &c.backends {
                out.push_str(&format!(
                    "- {}: +{} −{} lines\n",
                    b.target, b.added_lines, b.removed_lines
                ));
            }
        }
        out.push_str("\n</details>\n");
    }
    out
}

/// The result of comparing generated output with what a repository holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// A unified diff (with file headers) of every real difference.
    pub diff: String,
    /// Files that differ in content.
    pub changed: Vec<String>,
    /// Files equal once parsed as YAML (key order, quoting, comments).
    pub formatting_only: Vec<String>,
    /// Files that would be created.
    pub missing: Vec<String>,
    /// Files of a bundle's target folders that the output no longer has (path, name).
    pub stale: Vec<(std::path::PathBuf, String)>,
}

impl Drift {
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.stale.is_empty()
    }
}

/// Whether two YAML texts hold the same documents.
pub fn yaml_equal(a: &str, b: &str) -> bool {
    match (
        crate::load::yaml_documents(a),
        crate::load::yaml_documents(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn compare_one(name: &str, expected: &str, existing: Option<&str>, drift: &mut Drift, color: bool) {
    match existing {
        None => {
            drift.missing.push(name.to_string());
            drift.diff.push_str(&unified(name, "", expected, color));
        }
        Some(e) if e == expected => {}
        Some(e) => {
            if yaml_equal(e, expected) {
                drift.formatting_only.push(name.to_string());
            } else {
                drift.changed.push(name.to_string());
                drift.diff.push_str(&unified(name, e, expected, color));
            }
        }
    }
}

fn unified(name: &str, old: &str, new: &str, color: bool) -> String {
    let text = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string();
    if !color {
        return text;
    }
    text.lines()
        .map(|l| {
            if l.starts_with("+++") || l.starts_with("---") {
                format!("\x1b[1m{l}\x1b[0m\n")
            } else if l.starts_with('+') {
                format!("\x1b[32m{l}\x1b[0m\n")
            } else if l.starts_with('-') {
                format!("\x1b[31m{l}\x1b[0m\n")
            } else if l.starts_with("@@") {
                format!("\x1b[36m{l}\x1b[0m\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// Compares what a run would write ([`crate::output::Plan`]: one file, the files of a folder,
/// or a bundle's target folders) with what is there; in a bundle, files of its target folders
/// that it no longer writes are stale.
pub fn drift(plan: &crate::output::Plan, color: bool) -> Drift {
    let mut d = Drift::default();
    for f in &plan.files {
        let content = std::fs::read_to_string(&f.path).ok();
        compare_one(&f.name, &f.content, content.as_deref(), &mut d, color);
    }
    for (path, name) in plan.stale() {
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        d.diff.push_str(&unified(&name, &old, "", color));
        d.stale.push((path, name));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_semantic_equality() {
        assert!(yaml_equal("a: 1\nb: 'x'\n", "# c\nb: x\na: 1\n"));
        assert!(!yaml_equal("a: 1\n", "a: 2\n"));
    }
}

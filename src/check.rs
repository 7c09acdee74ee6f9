//! `polytrans check`: offline Pod Security Admission for manifests.
//!
//! Objects are read and judged one by one ([`crate::load::for_each_object`]) and every report is
//! written as objects are judged (JSON and SARIF stream their arrays; JUnit spools its test cases
//! to a temporary file, as its counts come first), so memory stays flat in the number of objects.
//!
//! A summary line (objects judged, rejected, warned, judged at the cluster default) always goes
//! to stderr, and an input with no object to judge is an error (exit 2): a CI job pointed at the
//! wrong folder must not pass.
//!
//! What judges a pod:
//! - `--level L [--version V]`: that level, as the enforce, warn and audit level;
//! - `--psp FILE`: the PSPs in FILE (a pod passes when any of them admits it);
//! - neither: each namespace's `pod-security.kubernetes.io/*` labels, from the Namespace objects
//!   in the input (read in a first pass), the way admission would; a namespace without labels is
//!   `privileged`.
//!
//! As PSA does, enforce rejects only Pods; workloads (Deployment, CronJob, …) get warnings unless
//! `--workloads-as-pods`; `--fail-on warning` fails CI on them anyway. Messages are PSA's, each
//! prefixed with `file:line` and `Kind/namespace/name` of the object.

use crate::diag::{Diagnostic, Diagnostics};
use crate::eval::{Violation, admits, join_messages, push_messages};
use crate::ir::{Level, Policy};
use crate::load::{ItemAt, Limits, Object, ObjectSink, Source, Undecoded};
use crate::pss::{LevelVersion, PsaPolicy, Version, level_policy, policy_from_labels};
use crate::{Error, Outcome};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `polytrans check` (the command line maps onto them in [`crate::cli`]).
#[derive(Debug, Clone)]
pub struct Options {
    /// Input files or folders, or `-` for stdin.
    pub inputs: Vec<PathBuf>,
    /// Judge against this level (enforce, warn and audit); without it, namespaces' PSA labels.
    pub level: Option<Level>,
    /// The level's version.
    pub level_version: Version,
    /// Judge against the PodSecurityPolicies in this file (any of them may admit a pod).
    pub psp: Option<PathBuf>,
    /// Reject workloads' pod templates as if they were Pods (PSA only warns for them).
    pub workloads_as_pods: bool,
    pub format: CheckFormat,
    pub fail_on: FailOn,
    /// Accept PSPs missing a required strategy (with `psp`).
    pub lenient: bool,
}

/// `polytrans check --fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// Exit 1 when an object is rejected.
    Error,
    /// Exit 1 when an object is rejected or warned about.
    Warning,
}

impl FailOn {
    pub const NAMES: &[&str] = &["error", "warning"];
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "error" => Some(FailOn::Error),
            "warning" => Some(FailOn::Warning),
            _ => None,
        }
    }
}

/// `polytrans check --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckFormat {
    Text,
    Json,
    Junit,
    Sarif,
}

impl CheckFormat {
    pub const NAMES: &[&str] = &["text", "json", "junit", "sarif"];
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "text" => Some(CheckFormat::Text),
            "json" => Some(CheckFormat::Json),
            "junit" => Some(CheckFormat::Junit),
            "sarif" => Some(CheckFormat::Sarif),
            _ => None,
        }
    }
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Enforce rejects the object.
    Rejected,
    /// A `warn`-mode (or workload) warning.
    Warning,
    /// An `audit`-mode annotation.
    Audit,
}

/// One judged object that did not pass cleanly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub file: String,
    pub line: u32,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub verdict: Verdict,
    /// `restricted:latest`, `baseline:v1.24`, or `psp:<names>`.
    pub policy: String,
    /// The message exactly as PSA (or kubectl, for warnings) prints it.
    pub message: String,
    pub violations: Vec<Violation>,
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Pods and workloads judged.
    pub objects: usize,
    pub rejected: usize,
    pub warnings: usize,
    pub audit: usize,
    /// Objects judged at the cluster default (`privileged`) because their namespace has no PSA
    /// labels in the input (namespace labels only).
    pub at_cluster_default: usize,
    /// Objects that fail under `--fail-on` (one per object).
    pub failed: usize,
}

/// `Kind/namespace/name` (`Kind/name` when the object names no namespace), as kubectl names it.
pub fn object_name(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

impl Finding {
    /// `Kind/namespace/name` of the object.
    pub fn object(&self) -> String {
        object_name(&self.kind, self.namespace.as_deref(), &self.name)
    }
}

/// `restricted:latest` as PSA prints a level and version.
pub fn level_string(lv: LevelVersion) -> String {
    format!("{}:{}", lv.level, lv.version)
}

/// The policy a pod is judged against.
enum Judge {
    /// Fixed PSA policy (from `--level`).
    Fixed(PsaPolicy),
    /// Namespace labels.
    Labels {
        namespaces: HashMap<String, PsaPolicy>,
        /// Namespaces with at least one `pod-security.kubernetes.io/` label.
        labelled: std::collections::HashSet<String>,
    },
    /// PSPs.
    Psp(Vec<Policy>),
}

struct Checker<'a> {
    judge: Judge,
    args: &'a Options,
    cache: HashMap<(Level, Version), Policy>,
    /// The findings of the object being judged.
    findings: Vec<Finding>,
    summary: Summary,
    diags: Diagnostics,
    report: Report<'a>,
    /// Kinds of the objects read, for the message when none could be judged.
    kinds: std::collections::BTreeSet<String>,
}

/// An object as reports name it: where it was read and what it is.
struct Subject<'a> {
    source: &'a Arc<Source>,
    /// The line of the object's start.
    line: u32,
    kind: &'a str,
    name: &'a str,
    namespace: Option<&'a str>,
}

impl ObjectSink for Checker<'_> {
    fn object(&mut self, o: Object) {
        Checker::object(self, o)
    }

    /// Items of a JSON list are decoded straight from the text into the typed pod.
    fn json_item(&mut self, text: &str, at: &ItemAt<'_>, depth: usize) -> Result<usize, Undecoded> {
        let (o, n) = crate::load::decode_prefix::<crate::pod::TypedObject<true>>(text, depth)?;
        if at.item.is_none() && crate::load::is_list_kind(&o.kind) {
            return Err(Undecoded::Refused); // a document whose items are the objects
        }
        let subject = Subject {
            source: at.source,
            line: at.line,
            kind: &o.kind,
            name: &o.metadata.name,
            namespace: o.metadata.namespace.as_deref(),
        };
        self.subject(&subject, o.found.map(Ok));
        Ok(n)
    }
}

impl Checker<'_> {
    fn level(&mut self, lv: LevelVersion) -> &Policy {
        self.cache
            .entry((lv.level, lv.version))
            .or_insert_with(|| level_policy(lv.level, lv.version))
    }

    fn emit(&mut self, f: Finding) {
        match f.verdict {
            Verdict::Rejected => self.summary.rejected += 1,
            Verdict::Warning => self.summary.warnings += 1,
            Verdict::Audit => self.summary.audit += 1,
        }
        self.findings.push(f);
    }

    fn object(&mut self, o: Object) {
        let found = crate::pod::pod_of(&o);
        let subject = Subject {
            source: &o.source,
            line: o.node.line,
            kind: &o.kind,
            name: &o.name,
            namespace: o.namespace.as_deref(),
        };
        self.subject(&subject, found);
    }

    /// Judges an object (`found`: its pod, `None` for a kind that has none) and reports it.
    fn subject(&mut self, o: &Subject, found: Option<Result<crate::pod::FoundPod, Diagnostic>>) {
        if self.kinds.len() < 64 && !self.kinds.contains(o.kind) {
            self.kinds.insert(o.kind.to_string());
        }
        let Some(found) = found else {
            return;
        };
        self.findings.clear();
        let before = self.summary.objects;
        self.judge_object(o, found);
        if self.summary.objects == before {
            return; // not decodable: a diagnostic says why
        }
        let fails = self.findings.iter().any(|f| match self.args.fail_on {
            FailOn::Error => f.verdict == Verdict::Rejected,
            FailOn::Warning => f.verdict <= Verdict::Warning,
        });
        if fails {
            self.summary.failed += 1;
        }
        // A report names only objects with findings (JUnit names every one).
        if !self.findings.is_empty() || self.args.format == CheckFormat::Junit {
            let name = object_name(o.kind, o.namespace, o.name);
            self.report.object(&name, o, &self.findings, fails);
        }
    }

    fn judge_object(&mut self, o: &Subject, found: Result<crate::pod::FoundPod, Diagnostic>) {
        let found = match found {
            Ok(f) => f,
            Err(d) => {
                self.diags.push(d);
                return;
            }
        };
        self.summary.objects += 1;
        if let Judge::Labels { labelled, .. } = &self.judge {
            if !labelled.contains(o.namespace.unwrap_or("default")) {
                self.summary.at_cluster_default += 1;
            }
        }
        let is_pod = found.is_pod || self.args.workloads_as_pods;
        let base = |verdict, policy: String, message: String, violations| Finding {
            file: o.source.name.clone(),
            line: o.line,
            kind: o.kind.to_string(),
            name: o.name.to_string(),
            namespace: o.namespace.map(str::to_string),
            verdict,
            policy,
            message,
            violations,
        };
        let resource = || {
            if o.kind == "Pod" {
                "pods".to_string()
            } else {
                format!("{}s", o.kind.to_lowercase())
            }
        };
        let psp_verdict = if let Judge::Psp(psps) = &self.judge {
            let mut per_psp = Vec::new();
            for p in psps {
                let v = admits(p, &found.pod);
                if v.is_empty() {
                    return;
                }
                per_psp.push((p.name.clone(), v));
            }
            let names: Vec<&str> = psps.iter().map(|p| p.name.as_str()).collect();
            Some((format!("psp:{}", names.join(",")), per_psp))
        } else {
            None
        };
        if let Some((policy, per_psp)) = psp_verdict {
            let detail: Vec<String> = per_psp
                .iter()
                .map(|(n, v)| format!("{n}: {}", join_messages(v)))
                .collect();
            let violations = per_psp.into_iter().flat_map(|(_, v)| v).collect();
            let (verdict, message) = if is_pod {
                (
                    Verdict::Rejected,
                    format!(
                        "{} \"{}\" is forbidden: no PodSecurityPolicy admits it: {}",
                        resource(),
                        o.name,
                        detail.join("; ")
                    ),
                )
            } else {
                (
                    Verdict::Warning,
                    format!(
                        "Warning: would violate PodSecurityPolicy: no PodSecurityPolicy admits it: {}",
                        detail.join("; ")
                    ),
                )
            };
            self.emit(base(verdict, policy, message, violations));
            return;
        }
        let psa = match &self.judge {
            Judge::Fixed(p) => *p,
            // Objects without a namespace are created in `default`.
            Judge::Labels { namespaces, .. } => namespaces
                .get(o.namespace.unwrap_or("default"))
                .copied()
                .unwrap_or_default(),
            Judge::Psp(_) => unreachable!(),
        };
        // Enforce (Pods only), then warn when not rejected; audit always, as PSA does.
        let mut rejected = false;
        if is_pod {
            let v = admits(self.level(psa.enforce), &found.pod);
            if !v.is_empty() {
                rejected = true;
                let ls = level_string(psa.enforce);
                let mut message = format!(
                    "{} \"{}\" is forbidden: violates PodSecurity \"{ls}\": ",
                    resource(),
                    o.name,
                );
                push_messages(&mut message, &v);
                self.emit(base(Verdict::Rejected, ls, message, v));
            }
        }
        if !rejected {
            // Workloads are judged at their warn level (which copies a stricter enforce level).
            let v = admits(self.level(psa.warn), &found.pod);
            if !v.is_empty() {
                let ls = level_string(psa.warn);
                let mut message = format!("Warning: would violate PodSecurity \"{ls}\": ");
                push_messages(&mut message, &v);
                self.emit(base(Verdict::Warning, ls, message, v));
            }
        }
        if matches!(self.judge, Judge::Labels { .. }) {
            let v = admits(self.level(psa.audit), &found.pod);
            if !v.is_empty() {
                let ls = level_string(psa.audit);
                let mut message = format!("audit: would violate PodSecurity \"{ls}\": ");
                push_messages(&mut message, &v);
                self.emit(base(Verdict::Audit, ls, message, v));
            }
        }
    }
}

/// Reads stdin once, so that a labels pass and a judging pass can both see it.
fn stdin_source(inputs: &[PathBuf], limits: &Limits) -> Result<Option<String>, Error> {
    if !inputs.iter().any(|p| p.as_os_str() == "-") {
        return Ok(None);
    }
    let mut buf = Vec::new();
    use std::io::Read;
    std::io::stdin()
        .take(limits.max_file_bytes + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::Usage(format!("cannot read stdin: {e}")))?;
    if buf.len() as u64 > limits.max_file_bytes {
        return Err(Error::Usage("stdin is larger than the input limit".into()));
    }
    crate::load::decode_text(buf, "<stdin>")
        .map(Some)
        .map_err(|d| Error::Input(Diagnostics(vec![d])))
}

/// The first pass without `--level` or `--psp`: every Namespace's PSA labels.
#[derive(Default)]
struct Namespaces {
    namespaces: HashMap<String, PsaPolicy>,
    /// Namespaces with at least one `pod-security.kubernetes.io/` label.
    labelled: std::collections::HashSet<String>,
    /// Invalid labels.
    diags: Diagnostics,
}

impl Namespaces {
    fn namespace(
        &mut self,
        name: &str,
        labels: &BTreeMap<String, String>,
        at: impl Fn() -> crate::diag::Location,
    ) {
        let (policy, errors) = policy_from_labels(labels, PsaPolicy::default());
        for e in errors {
            self.diags.push(
                Diagnostic::warning(format!("invalid PSA label: {e}"))
                    .at(at())
                    .with_help("PSA falls back: enforce to restricted, audit and warn to privileged, versions to latest"),
            );
        }
        if labels
            .keys()
            .any(|k| k.starts_with("pod-security.kubernetes.io/"))
        {
            self.labelled.insert(name.to_string());
        }
        self.namespaces.insert(name.to_string(), policy);
    }
}

impl ObjectSink for Namespaces {
    fn object(&mut self, o: Object) {
        if o.kind == "Namespace" {
            // Labels that are not strings are left out.
            let labels: BTreeMap<String, String> = o
                .node
                .path(&["metadata", "labels"])
                .and_then(|l| l.as_map())
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            self.namespace(&o.name, &labels, || o.location());
        }
    }

    fn json_item(&mut self, text: &str, at: &ItemAt<'_>, depth: usize) -> Result<usize, Undecoded> {
        let (o, n) = crate::load::decode_prefix::<crate::pod::TypedObject<false>>(text, depth)?;
        if at.item.is_none() && crate::load::is_list_kind(&o.kind) {
            return Err(Undecoded::Refused);
        }
        if o.kind == "Namespace" {
            let describe = if o.metadata.name.is_empty() {
                o.kind.clone()
            } else {
                format!("{} `{}`", o.kind, o.metadata.name)
            };
            self.namespace(&o.metadata.name, &o.metadata.labels, || {
                at.location(describe.clone())
            });
        }
        Ok(n)
    }
}

/// Streams every object of the inputs (stdin from the buffer).
fn each_object(
    inputs: &[PathBuf],
    stdin: &Option<String>,
    limits: &Limits,
    f: &mut dyn ObjectSink,
    diags: &mut Diagnostics,
) {
    let files: Vec<PathBuf> = inputs
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .cloned()
        .collect();
    if !files.is_empty() {
        crate::load::for_each_object_in(&files, limits, f, diags);
    }
    if let Some(text) = stdin {
        let src = Arc::new(Source {
            name: "<stdin>".into(),
        });
        crate::load::parse_stream_in(text, &src, limits, f, diags);
    }
}

/// `polytrans check`.
pub fn run(args: &Options, limits: &Limits, out: &mut dyn Write) -> Result<Outcome, Error> {
    let stdin = stdin_source(&args.inputs, limits)?;
    let mut diags = Diagnostics::default();
    if args.level.is_some() {
        diags
            .0
            .extend(crate::pss::version_warning(args.level_version, "--version"));
    }
    let judge = if let Some(level) = args.level {
        let lv = LevelVersion {
            level,
            version: args.level_version,
        };
        Judge::Fixed(PsaPolicy {
            enforce: lv,
            audit: lv,
            warn: lv,
        })
    } else if let Some(psp) = &args.psp {
        let options = crate::front::psp::Options {
            lenient: args.lenient,
        };
        let (policies, _, d) =
            crate::pipeline::load_policies(std::slice::from_ref(psp), limits, &options, false)?;
        diags.extend(d);
        Judge::Psp(policies)
    } else {
        let mut pass_diags = Diagnostics::default();
        let mut pass = Namespaces::default();
        each_object(&args.inputs, &stdin, limits, &mut pass, &mut pass_diags);
        let Namespaces {
            namespaces,
            labelled,
            diags: label_diags,
        } = pass;
        if pass_diags.has_errors() {
            return Err(Error::Input(pass_diags));
        }
        diags.extend(pass_diags);
        diags.extend(label_diags);
        Judge::Labels {
            namespaces,
            labelled,
        }
    };
    let judged_at = match &judge {
        Judge::Fixed(p) => format!(" at {}", level_string(p.enforce)),
        Judge::Psp(psps) => {
            let names: Vec<&str> = psps.iter().map(|p| p.name.as_str()).collect();
            format!(" against PodSecurityPolicy {}", names.join(", "))
        }
        Judge::Labels { .. } => " by their namespace's PSA labels".into(),
    };
    let mut checker = Checker {
        judge,
        args,
        cache: HashMap::new(),
        findings: Vec::new(),
        summary: Summary::default(),
        diags: Diagnostics::default(),
        report: Report::new(args.format, out),
        kinds: Default::default(),
    };
    let mut load_diags = Diagnostics::default();
    each_object(&args.inputs, &stdin, limits, &mut checker, &mut load_diags);
    load_diags.extend(std::mem::take(&mut checker.diags));
    if load_diags.has_errors() {
        return Err(Error::Input(load_diags));
    }
    diags.extend(load_diags);
    let summary = checker.summary.clone();
    if summary.objects == 0 {
        let kinds: Vec<&str> = checker.kinds.iter().map(String::as_str).collect();
        diags.push(
            Diagnostic::error("no Pod or workload to judge in the input").with_help(format!(
                "`polytrans check` judges Pods and pod templates (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, ReplicationController, PodTemplate); kinds found: {}",
                if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") }
            )),
        );
        return Err(Error::Input(diags));
    }
    checker.report.finish(&summary).map_err(Error::stdout)?;
    let mut line = format!(
        "checked {} object{}{judged_at}: {} rejected, {} warned",
        summary.objects,
        if summary.objects == 1 { "" } else { "s" },
        summary.rejected,
        summary.warnings
    );
    if summary.audit > 0 {
        line.push_str(&format!(", {} audit", summary.audit));
    }
    if matches!(checker.judge, Judge::Labels { .. }) {
        line.push_str(&format!(
            ", {} at the cluster default (privileged) because their namespace has no PSA labels",
            summary.at_cluster_default
        ));
    }
    if args.fail_on == FailOn::Warning {
        line.push_str(&format!(
            "; {} fail under `--fail-on warning`",
            summary.failed
        ));
    }
    Ok(Outcome {
        findings: summary.failed > 0,
        diagnostics: diags,
        summary: Some(line),
    })
}

/// Writes a report as objects are judged.
struct Report<'a> {
    format: CheckFormat,
    out: &'a mut dyn Write,
    /// Whether the opening of a JSON or SARIF document was written, and whether an entry of its
    /// array was.
    started: bool,
    entries: usize,
    /// JUnit: test cases spooled until the counts are known.
    spool: Option<std::io::BufWriter<std::fs::File>>,
    spool_path: Option<PathBuf>,
    /// The first write error (later writes are skipped).
    error: Option<std::io::Error>,
}

impl<'a> Report<'a> {
    fn new(format: CheckFormat, out: &'a mut dyn Write) -> Self {
        Report {
            format,
            out,
            started: false,
            entries: 0,
            spool: None,
            spool_path: None,
            error: None,
        }
    }

    fn write(&mut self, text: &str) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(text.as_bytes()) {
                self.error = Some(e);
            }
        }
    }

    fn start(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        match self.format {
            CheckFormat::Json => self.write("{\"findings\": [\n"),
            CheckFormat::Sarif => {
                let head = sarif_head();
                self.write(&head);
            }
            CheckFormat::Text | CheckFormat::Junit => {}
        }
    }

    fn entry(&mut self, json: &serde_json::Value) {
        self.start();
        let sep = if self.entries == 0 { "" } else { ",\n" };
        self.entries += 1;
        let text = format!("{sep}{json}");
        self.write(&text);
    }

    /// One judged object with its findings (none when it passed).
    fn object(&mut self, name: &str, o: &Subject, findings: &[Finding], fails: bool) {
        match self.format {
            CheckFormat::Text => {
                for f in findings {
                    if self.error.is_none() {
                        let written =
                            writeln!(self.out, "{}:{}: {name}: {}", f.file, f.line, f.message);
                        if let Err(e) = written {
                            self.error = Some(e);
                        }
                    }
                }
            }
            CheckFormat::Json => {
                for f in findings {
                    let v = serde_json::to_value(f).expect("finding serialises");
                    self.entry(&v);
                }
            }
            CheckFormat::Sarif => {
                for f in findings {
                    for v in sarif_results(f) {
                        self.entry(&v);
                    }
                }
            }
            CheckFormat::Junit => {
                let case = junit_case(name, o, findings, fails);
                if self.spool.is_none() && self.error.is_none() {
                    match spool_file() {
                        Ok((f, path)) => {
                            self.spool = Some(std::io::BufWriter::new(f));
                            self.spool_path = Some(path);
                        }
                        Err(e) => self.error = Some(e),
                    }
                }
                if let Some(spool) = self.spool.as_mut() {
                    if let Err(e) = spool.write_all(case.as_bytes()) {
                        self.error = Some(e);
                    }
                }
            }
        }
    }

    /// Closes the document (the summary goes into the JSON report and the JUnit counts).
    fn finish(mut self, summary: &Summary) -> std::io::Result<()> {
        match self.format {
            CheckFormat::Text => {}
            CheckFormat::Json => {
                self.start();
                let tail = format!(
                    "\n],\n\"summary\": {}}}\n",
                    serde_json::to_string(summary).expect("summary serialises")
                );
                self.write(&tail);
            }
            CheckFormat::Sarif => {
                self.start();
                self.write("\n]}]}\n");
            }
            CheckFormat::Junit => {
                let head = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"polytrans check\" tests=\"{0}\" failures=\"{1}\">\n  <testsuite name=\"pod-security\" tests=\"{0}\" failures=\"{1}\">\n",
                    summary.objects, summary.failed
                );
                self.write(&head);
                if let Some(spool) = self.spool.take() {
                    match spool.into_inner() {
                        Ok(mut file) => {
                            use std::io::Seek;
                            let copied = file
                                .seek(std::io::SeekFrom::Start(0))
                                .and_then(|_| std::io::copy(&mut file, &mut self.out));
                            if let Err(e) = copied {
                                self.error.get_or_insert(e);
                            }
                        }
                        Err(e) => {
                            self.error.get_or_insert(e.into_error());
                        }
                    }
                }
                self.write("  </testsuite>\n</testsuites>\n");
            }
        }
        if let Some(p) = self.spool_path.take() {
            let _ = std::fs::remove_file(p);
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Report<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.spool_path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A temporary file for JUnit test cases, removed when the report is done (on Unix at once: the
/// open file stays readable).
fn spool_file() -> std::io::Result<(std::fs::File, PathBuf)> {
    let dir = std::env::temp_dir();
    for n in 0..100u32 {
        let path = dir.join(format!(
            ".polytrans-check-{}-{n}.junit.tmp",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => {
                #[cfg(unix)]
                let _ = std::fs::remove_file(&path);
                return Ok((f, path));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("cannot create a temporary file"))
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {
                out.push_str(&format!("&#x{:x};", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// One JUnit test case: the object, failed when it fails under `--fail-on` (the rejection, or
/// the warning), with every message in `<system-out>`.
fn junit_case(name: &str, o: &Subject, findings: &[Finding], fails: bool) -> String {
    let classname = findings
        .first()
        .map(|f| f.policy.as_str())
        .unwrap_or("pod-security");
    let mut out = format!(
        "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\">\n",
        xml_escape(classname),
        xml_escape(&format!("{name} ({}:{})", o.source.name, o.line)),
        xml_escape(&o.source.name),
        o.line
    );
    if fails {
        let worst = findings
            .iter()
            .min_by_key(|f| f.verdict)
            .expect("a failing object has a finding");
        out.push_str(&format!(
            "      <failure message=\"{}\" type=\"PodSecurity\"/>\n",
            xml_escape(&worst.message)
        ));
    }
    if !findings.is_empty() {
        let text: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        out.push_str(&format!(
            "      <system-out>{}</system-out>\n",
            xml_escape(&text.join("\n"))
        ));
    }
    out.push_str("    </testcase>\n");
    out
}

/// The opening of the SARIF 2.1.0 document, up to its `results` array.
fn sarif_head() -> String {
    let rules: Vec<serde_json::Value> = crate::pss::CHECKS
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "name": c.id,
                "shortDescription": {"text": c.summary},
                "properties": {"level": c.level.as_str()},
            })
        })
        .collect();
    let tool = serde_json::json!({"driver": {
        "name": "polytrans",
        "informationUri": "https://kubernetes.io/docs/concepts/security/pod-security-standards/",
        "version": env!("CARGO_PKG_VERSION"),
        "rules": rules,
    }});
    format!(
        "{{\"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\", \"version\": \"2.1.0\", \"runs\": [{{\"tool\": {tool},\n\"results\": [\n"
    )
}

/// SARIF results of a finding, one per failed check, for code-scanning upload.
fn sarif_results(f: &Finding) -> Vec<serde_json::Value> {
    f.violations
        .iter()
        .map(|v| {
            let rule = v.check.clone().unwrap_or_else(|| v.field.clone());
            serde_json::json!({
                "ruleId": rule,
                "level": match f.verdict {
                    Verdict::Rejected => "error",
                    Verdict::Warning => "warning",
                    Verdict::Audit => "note",
                },
                "message": {"text": format!("{}: {} ({})", f.object(), v.message(), f.policy)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.file},
                        "region": {"startLine": f.line.max(1)}
                    }
                }]
            })
        })
        .collect()
}

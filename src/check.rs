//! `polytrans check`: offline Pod Security Admission for manifests.
//!
//! Objects are read and judged one by one ([`crate::load::for_each_object`]), so memory does not
//! grow with their number; only findings are kept (for the JSON, JUnit and SARIF reports).
//!
//! What judges a pod:
//! - `--level L [--version V]`: that level, as the enforce, warn and audit level;
//! - `--psp FILE`: the PSPs in FILE (a pod passes when any of them admits it);
//! - neither: each namespace's `pod-security.kubernetes.io/*` labels, from the Namespace objects
//!   in the input (read in a first pass), the way admission would; a namespace without labels is
//!   `privileged`.
//!
//! As PSA does, enforce rejects only Pods; workloads (Deployment, CronJob, …) get warnings unless
//! `--workloads-as-pods`. Messages are PSA's, each prefixed with `file:line` of the object.

use crate::diag::{Diagnostic, Diagnostics};
use crate::eval::{Violation, admits, join_messages};
use crate::ir::{Level, Policy};
use crate::load::{Limits, Object, Source};
use crate::pss::{LevelVersion, PsaPolicy, Version, level_policy, policy_from_labels};
use crate::{Error, Outcome};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `polytrans check`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Input files or folders, or `-` for stdin.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,

    /// Judge against this level (enforce, warn and audit); without it, namespaces' PSA labels.
    #[arg(long, value_parser = crate::ir::Level::parse_arg, conflicts_with = "psp")]
    pub level: Option<Level>,

    /// The level's version (`v1.N` or `latest`).
    #[arg(long = "version", value_parser = crate::pss::Version::parse, default_value = "latest")]
    pub level_version: Version,

    /// Judge against the PodSecurityPolicies in this file (any of them may admit a pod).
    #[arg(long, value_name = "FILE")]
    pub psp: Option<PathBuf>,

    /// Reject workloads' pod templates as if they were Pods (PSA only warns for them).
    #[arg(long)]
    pub workloads_as_pods: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,

    /// Accept PSPs missing a required strategy (with `--psp`).
    #[arg(long)]
    pub lenient: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Junit,
    Sarif,
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
pub struct Summary {
    pub objects: usize,
    pub rejected: usize,
    pub warnings: usize,
    pub audit: usize,
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
    },
    /// PSPs.
    Psp(Vec<Policy>),
}

struct Checker<'a> {
    judge: Judge,
    args: &'a Args,
    cache: HashMap<(Level, Version), Policy>,
    findings: Vec<Finding>,
    summary: Summary,
    diags: Diagnostics,
    out: &'a mut dyn Write,
    write_error: Option<std::io::Error>,
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
        if self.args.format == CheckFormat::Text && self.write_error.is_none() {
            if let Err(e) = writeln!(self.out, "{}:{}: {}", f.file, f.line, f.message) {
                self.write_error = Some(e);
            }
        }
        if self.args.format != CheckFormat::Text {
            self.findings.push(f);
        }
    }

    fn object(&mut self, o: Object) {
        let Some(found) = crate::pod::pod_of(&o) else {
            return;
        };
        let found = match found {
            Ok(f) => f,
            Err(d) => {
                self.diags.push(d);
                return;
            }
        };
        self.summary.objects += 1;
        let is_pod = found.is_pod || self.args.workloads_as_pods;
        let base = |verdict, policy: String, message: String, violations| Finding {
            file: o.source.name.clone(),
            line: o.node.line,
            kind: o.kind.clone(),
            name: o.name.clone(),
            namespace: o.namespace.clone(),
            verdict,
            policy,
            message,
            violations,
        };
        let resource = if o.kind == "Pod" {
            "pods".to_string()
        } else {
            format!("{}s", o.kind.to_lowercase())
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
                        "{resource} \"{}\" is forbidden: no PodSecurityPolicy admits it: {}",
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
            Judge::Labels { namespaces } => namespaces
                .get(o.namespace.as_deref().unwrap_or("default"))
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
                let message = format!(
                    "{resource} \"{}\" is forbidden: violates PodSecurity \"{ls}\": {}",
                    o.name,
                    join_messages(&v)
                );
                self.emit(base(Verdict::Rejected, ls, message, v));
            }
        }
        if !rejected {
            // Workloads are judged at their warn level (which copies a stricter enforce level).
            let v = admits(self.level(psa.warn), &found.pod);
            if !v.is_empty() {
                let ls = level_string(psa.warn);
                let message = format!(
                    "Warning: would violate PodSecurity \"{ls}\": {}",
                    join_messages(&v)
                );
                self.emit(base(Verdict::Warning, ls, message, v));
            }
        }
        if matches!(self.judge, Judge::Labels { .. }) {
            let v = admits(self.level(psa.audit), &found.pod);
            if !v.is_empty() {
                let ls = level_string(psa.audit);
                let message = format!(
                    "audit: would violate PodSecurity \"{ls}\": {}",
                    join_messages(&v)
                );
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
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| Error::Usage("stdin is not UTF-8 text".into()))
}

/// Streams every object of the inputs (stdin from the buffer).
fn each_object(
    inputs: &[PathBuf],
    stdin: &Option<String>,
    limits: &Limits,
    f: &mut dyn FnMut(Object),
    diags: &mut Diagnostics,
) {
    let files: Vec<PathBuf> = inputs
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .cloned()
        .collect();
    if !files.is_empty() {
        crate::load::for_each_object(&files, limits, f, diags);
    }
    if let Some(text) = stdin {
        let src = Arc::new(Source {
            name: "<stdin>".into(),
        });
        crate::load::parse_stream(text, &src, limits, f, diags);
    }
}

/// `polytrans check`.
pub fn run(args: &Args, limits: &Limits, out: &mut dyn Write) -> Result<Outcome, Error> {
    let stdin = stdin_source(&args.inputs, limits)?;
    let mut diags = Diagnostics::default();
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
        let mut namespaces = HashMap::new();
        let mut pass_diags = Diagnostics::default();
        let mut label_diags = Diagnostics::default();
        each_object(
            &args.inputs,
            &stdin,
            limits,
            &mut |o| {
                if o.kind == "Namespace" {
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
                    let (policy, errors) = policy_from_labels(&labels, PsaPolicy::default());
                    for e in errors {
                        label_diags.push(
                            Diagnostic::warning(format!("invalid PSA label: {e}"))
                                .at(o.location())
                                .with_help("PSA falls back: enforce to restricted, audit and warn to privileged, versions to latest"),
                        );
                    }
                    namespaces.insert(o.name.clone(), policy);
                }
            },
            &mut pass_diags,
        );
        if pass_diags.has_errors() {
            return Err(Error::Input(pass_diags));
        }
        diags.extend(pass_diags);
        diags.extend(label_diags);
        Judge::Labels { namespaces }
    };
    let mut checker = Checker {
        judge,
        args,
        cache: HashMap::new(),
        findings: Vec::new(),
        summary: Summary::default(),
        diags: Diagnostics::default(),
        out,
        write_error: None,
    };
    let mut load_diags = Diagnostics::default();
    each_object(
        &args.inputs,
        &stdin,
        limits,
        &mut |o| checker.object(o),
        &mut load_diags,
    );
    load_diags.extend(std::mem::take(&mut checker.diags));
    if load_diags.has_errors() {
        return Err(Error::Input(load_diags));
    }
    diags.extend(load_diags);
    if let Some(e) = checker.write_error.take() {
        return Err(Error::stdout(e));
    }
    let report = match args.format {
        CheckFormat::Text => String::new(),
        CheckFormat::Json => {
            let mut s = serde_json::to_string_pretty(&serde_json::json!({
                "findings": checker.findings,
                "summary": checker.summary,
            }))
            .expect("report serialises");
            s.push('\n');
            s
        }
        CheckFormat::Junit => junit(&checker.findings, &checker.summary),
        CheckFormat::Sarif => sarif(&checker.findings),
    };
    checker
        .out
        .write_all(report.as_bytes())
        .map_err(Error::stdout)?;
    Ok(Outcome {
        findings: checker.summary.rejected > 0,
        diagnostics: diags,
    })
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

/// JUnit XML: one test case per finding (rejections are failures).
pub fn junit(findings: &[Finding], summary: &Summary) -> String {
    let failures = findings
        .iter()
        .filter(|f| f.verdict == Verdict::Rejected)
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"polytrans check\" tests=\"{}\" failures=\"{failures}\">\n  <testsuite name=\"pod-security\" tests=\"{}\" failures=\"{failures}\">\n",
        summary.objects, summary.objects
    ));
    for f in findings {
        let name = format!("{}/{} ({}:{})", f.kind, f.name, f.file, f.line);
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\">\n",
            xml_escape(&f.policy),
            xml_escape(&name)
        ));
        match f.verdict {
            Verdict::Rejected => out.push_str(&format!(
                "      <failure message=\"{}\" type=\"PodSecurity\"/>\n",
                xml_escape(&f.message)
            )),
            _ => out.push_str(&format!(
                "      <system-out>{}</system-out>\n",
                xml_escape(&f.message)
            )),
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// SARIF 2.1.0, one result per failed check of each finding, for code-scanning upload.
pub fn sarif(findings: &[Finding]) -> String {
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
    let mut results = Vec::new();
    for f in findings {
        for v in &f.violations {
            let rule = v.check.clone().unwrap_or_else(|| v.field.clone());
            results.push(serde_json::json!({
                "ruleId": rule,
                "level": match f.verdict {
                    Verdict::Rejected => "error",
                    Verdict::Warning => "warning",
                    Verdict::Audit => "note",
                },
                "message": {"text": format!("{} {}: {} ({})", f.kind, f.name, v.message(), f.policy)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.file},
                        "region": {"startLine": f.line.max(1)}
                    }
                }]
            }));
        }
    }
    let doc = serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "polytrans",
                "informationUri": "https://kubernetes.io/docs/concepts/security/pod-security-standards/",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }]
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("sarif serialises");
    s.push('\n');
    s
}

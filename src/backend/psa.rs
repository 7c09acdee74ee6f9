//! `--to pss-labels`: the Pod Security Admission labels each namespace can get today without
//! breaking a workload, from PSPs, RBAC and (optionally) the pods and workloads that run.
//!
//! For each namespace: the PSPs its pods may use ([`crate::front::rbac`]), their union's level
//! fit ([`crate::fit::fit_set`]), and the enforce level = the most restrictive level whose checks
//! the PSPs satisfy without relying on PSP's defaulting (checks PSP cannot express are not held
//! against it; they are listed). Given pods are then judged at that level, and the level is
//! lowered until none breaks (unless `--allow-breakage`). `warn` and `audit` are one level
//! stricter by default; versions are pinned to the newest in the catalogue.

use super::{Emitted, Fidelity, FidelityEntry, Input, OutputFile};
use crate::eval::{admits, join_messages};
use crate::fit::{Relation, fit_set};
use crate::ir::{Level, Policy};
use crate::pss::{Version, level_policy};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Options of `--to pss-labels`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Force the enforce level instead of computing it.
    pub enforce: Option<Level>,
    /// Force the warn level (default: one level stricter than enforce).
    pub warn: Option<Level>,
    /// Force the audit level (default: one level stricter than enforce).
    pub audit: Option<Level>,
    /// Propose levels even when a given pod would be rejected.
    pub allow_breakage: bool,
    /// Emit an AdmissionConfiguration (cluster defaults, privileged namespaces exempted) instead
    /// of namespace labels.
    pub admission_config: bool,
    /// Write `-version: latest` instead of pinning the newest version in the catalogue.
    pub unpinned: bool,
}

/// Golden files of this backend (see [`super::golden_files`]).
pub const GOLDEN_FILES: &[(&str, &[&str])] = &[
    ("pss-labels.yaml", &["--to", "pss-labels"]),
    (
        "pss-labels.kubectl.sh",
        &["--to", "pss-labels", "--format", "kubectl"],
    ),
    (
        "pss-labels.txt",
        &["--to", "pss-labels", "--format", "text"],
    ),
    (
        "pss-labels.md",
        &["--to", "pss-labels", "--format", "markdown"],
    ),
    (
        "pss-labels.json",
        &["--to", "pss-labels", "--format", "json"],
    ),
    (
        "pss-labels.admission-config.yaml",
        &["--to", "pss-labels", "--admission-config"],
    ),
];

#[derive(Debug, Clone, Serialize)]
struct Label {
    key: String,
    value: String,
}

#[derive(Debug, Clone, Serialize)]
struct Blocker {
    check: String,
    field: String,
    relation: String,
    reason: String,
}

#[derive(Debug, Clone, Serialize)]
struct RejectedPod {
    location: String,
    message: String,
}

/// The proposal for one namespace.
#[derive(Debug, Clone, Serialize)]
struct NamespacePlan {
    name: String,
    enforce: Level,
    warn: Level,
    audit: Level,
    version: String,
    labels: Vec<Label>,
    current: Vec<String>,
    psps: Vec<String>,
    grants: Vec<String>,
    next_level: Option<Level>,
    blockers: Vec<Blocker>,
    pods_checked: usize,
    lowered_from: Option<Level>,
    /// Pods the proposed (or, when lowered, the first computed) enforce level would reject.
    rejected: Vec<RejectedPod>,
}

fn stricter(l: Level) -> Level {
    l.stricter().unwrap_or(l)
}

pub fn emit(input: &Input<'_>, args: &Options) -> Result<Emitted, crate::Error> {
    let version = input.common.pss_version;
    let minor = version.effective_minor();
    let version_label = if args.unpinned {
        "latest".to_string()
    } else {
        version.resolved()
    };
    let names: Vec<String> = input.policies.iter().map(|p| p.name.clone()).collect();
    let scope = input.scope;

    // Namespaces: those the input names, and those a grant names.
    let mut namespaces: BTreeSet<String> = scope.namespaces.keys().cloned().collect();
    for g in &scope.groups {
        if let crate::scope::Namespaces::Only(v) = &g.namespaces {
            namespaces.extend(v.iter().cloned());
        }
    }
    let current = &scope.namespaces;
    let mut pods: BTreeMap<&str, Vec<&crate::pod::Workload>> = BTreeMap::new();
    for w in &scope.workloads {
        pods.entry(w.namespace.as_str()).or_default().push(w);
    }
    let mut fidelity = super::scope_fidelity(
        scope,
        &crate::scope::Plan::default(),
        "a namespace gets one label",
    );

    let mut plans = Vec::new();
    let mut level_cache: BTreeMap<Level, Policy> = BTreeMap::new();
    for ns in &namespaces {
        let u = scope.group_of(ns);
        let policies: Vec<Policy> = input
            .policies
            .iter()
            .filter(|p| u.psps.contains_key(&p.name))
            .cloned()
            .collect();
        let (computed, next_level, blockers) = if policies.is_empty() {
            (Level::Restricted, None, vec![])
        } else {
            let report = fit_set(&policies, version);
            let level = report.safe_level_ignoring_not_expressible;
            let next = level.stricter();
            let blockers = match next {
                None => vec![],
                Some(next) => {
                    let ids: Vec<&str> = crate::pss::checks_at(next, minor)
                        .iter()
                        .map(|c| c.id.as_str())
                        .collect();
                    report
                        .checks
                        .iter()
                        .filter(|c| ids.contains(&c.check.as_str()))
                        .filter(|c| {
                            c.relation > Relation::Equal && c.relation != Relation::NotExpressible
                        })
                        .map(|c| Blocker {
                            check: c.check.clone(),
                            field: c.field.clone(),
                            relation: c.relation.as_str().into(),
                            reason: c.reason.clone(),
                        })
                        .collect()
                }
            };
            for c in report
                .checks
                .iter()
                .filter(|c| c.relation == Relation::NotExpressible && c.level <= level)
            {
                fidelity.push(FidelityEntry {
                    policy: format!("namespace {ns}"),
                    field: c.check.clone(),
                    fidelity: Fidelity::Approximated,
                    note: format!("{} (PSP never judged it; the label will)", c.reason),
                });
            }
            (level, next, blockers)
        };
        let mut enforce = args.enforce.unwrap_or(computed);
        // Judge the given pods; lower the level until none breaks.
        let ns_pods = pods.get(ns.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let mut rejected = Vec::new();
        let mut lowered_from = None;
        let mut lowered_by = Vec::new();
        loop {
            let lp = level_cache
                .entry(enforce)
                .or_insert_with(|| level_policy(enforce, version));
            rejected.clear();
            for w in ns_pods {
                let (loc, found, what) = (&w.location, &w.found, &w.what);
                let v = admits(lp, &found.pod);
                if !v.is_empty() {
                    let ls = format!("{enforce}:{version_label}");
                    let message = if found.is_pod {
                        format!(
                            "{what} is forbidden: violates PodSecurity \"{ls}\": {}",
                            join_messages(&v)
                        )
                    } else {
                        format!(
                            "Warning: would violate PodSecurity \"{ls}\": {}",
                            join_messages(&v)
                        )
                    };
                    rejected.push(RejectedPod {
                        location: loc.clone(),
                        message,
                    });
                }
            }
            if rejected.is_empty() || args.allow_breakage || args.enforce.is_some() {
                break;
            }
            let lower = match enforce {
                Level::Restricted => Level::Baseline,
                _ => Level::Privileged,
            };
            if lowered_from.is_none() {
                lowered_from = Some(enforce);
                lowered_by = rejected.clone();
            }
            enforce = lower;
        }
        let warn = args.warn.unwrap_or(stricter(enforce));
        let audit = args.audit.unwrap_or(stricter(enforce));
        let mut labels = Vec::new();
        for (mode, level) in [("audit", audit), ("enforce", enforce), ("warn", warn)] {
            labels.push(Label {
                key: format!("pod-security.kubernetes.io/{mode}"),
                value: level.to_string(),
            });
            labels.push(Label {
                key: format!("pod-security.kubernetes.io/{mode}-version"),
                value: version_label.clone(),
            });
        }
        let grants = u
            .psps
            .iter()
            .filter(|(_, reasons)| !reasons.is_empty())
            .map(|(p, reasons)| format!("{p}: {}", reasons.join(", ")))
            .collect();
        plans.push(NamespacePlan {
            name: ns.clone(),
            enforce,
            warn,
            audit,
            version: version_label.clone(),
            labels,
            current: current
                .get(ns)
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default(),
            psps: u.psps.keys().cloned().collect(),
            grants,
            next_level: next_level.filter(|_| enforce == computed),
            blockers: if enforce == computed {
                blockers
            } else {
                vec![]
            },
            pods_checked: ns_pods.len(),
            lowered_from,
            rejected: if args.allow_breakage || args.enforce.is_some() {
                rejected
            } else {
                lowered_by
            },
        });
    }

    let env = crate::render::environment(input.common.templates.as_deref());
    let psps = names.clone();
    let fidelity_text = super::fidelity_comment(&fidelity, "# ");
    let format = input.common.format.as_deref();
    let stdout = if args.admission_config {
        // Cluster defaults: what a namespace with only cluster-wide grants gets.
        let everywhere = scope.group_of("");
        let policies: Vec<Policy> = input
            .policies
            .iter()
            .filter(|p| everywhere.psps.contains_key(&p.name))
            .cloned()
            .collect();
        let level = if policies.is_empty() {
            Level::Restricted
        } else {
            fit_set(&policies, version).safe_level_ignoring_not_expressible
        };
        let exempt: Vec<&str> = plans
            .iter()
            .filter(|p| p.enforce == Level::Privileged && level != Level::Privileged)
            .map(|p| p.name.as_str())
            .collect();
        crate::render::render(
            &env,
            "psa/admission-config.yaml.j2",
            minijinja::context! {
                psps => psps,
                defaults => minijinja::context! {
                    enforce => level.as_str(),
                    warn => stricter(level).as_str(),
                    audit => stricter(level).as_str(),
                    version => version_label,
                },
                exempt => exempt,
            },
        )?
    } else {
        match format {
            None | Some("yaml") => crate::render::render(
                &env,
                "psa/namespaces.yaml.j2",
                minijinja::context! {
                    psps => psps,
                    namespaces => plans,
                    fidelity => fidelity_text,
                    pods_checked => !pods.is_empty(),
                },
            )?,
            Some("kubectl") => crate::render::render(
                &env,
                "psa/kubectl.sh.j2",
                minijinja::context! { psps => psps, namespaces => plans },
            )?,
            Some("text") => crate::render::render(
                &env,
                "psa/report.txt.j2",
                minijinja::context! { psps => psps, namespaces => plans, version => Version::Minor(minor).resolved() },
            )?,
            Some("markdown") => crate::render::render(
                &env,
                "psa/report.md.j2",
                minijinja::context! { psps => psps, namespaces => plans, version => Version::Minor(minor).resolved() },
            )?,
            Some("json") => {
                let mut s = serde_json::to_string_pretty(&serde_json::json!({
                    "psps": psps,
                    "version": version_label,
                    "namespaces": plans,
                }))
                .expect("plan serialises");
                s.push('\n');
                s
            }
            Some(f) => {
                return Err(crate::Error::Usage(format!(
                    "`--to pss-labels` supports `--format yaml|kubectl|text|markdown|json`, not `{f}`"
                )));
            }
        }
    };
    let files = vec![OutputFile {
        name: "pss-labels/namespaces.yaml".into(),
        content: stdout.clone(),
    }];
    let mut diagnostics = crate::diag::Diagnostics::default();
    if namespaces.is_empty() {
        diagnostics.push(
            crate::diag::Diagnostic::warning(
                "no namespaces found: give Namespaces, RoleBindings or pods with the PSPs",
            )
            .with_help("`kubectl get psp,clusterrole,clusterrolebinding,role,rolebinding,ns,pods -A -o yaml` exports them"),
        );
    }
    Ok(Emitted {
        stdout,
        files,
        fidelity,
        diagnostics,
        ..Default::default()
    })
}

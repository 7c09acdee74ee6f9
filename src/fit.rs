//! Level fit: how a PSP (or the set of PSPs a namespace may use) compares with the Pod Security
//! Standards, check by check.
//!
//! For each PSS check the PSP is:
//! - [`Relation::Stricter`] or [`Relation::Equal`]: every pod it admits passes the check;
//! - [`Relation::EqualByDefaulting`]: it passes only because PSP **mutated** the pod (a
//!   `default*` field, `MustRunAs`, `requiredDropCapabilities`…); once PSP is gone the same
//!   manifest fails the check unless something else mutates it;
//! - [`Relation::NotExpressible`]: PSP has no field for the control, so it admits pods the check
//!   rejects (e.g. Windows `hostProcess`, probe hosts);
//! - [`Relation::Looser`]: a PSP field allows what the check forbids.
//!
//! "Safe to enforce" is the most restrictive level whose checks are all `Stricter`/`Equal`:
//! the strict answer. Because some checks are never expressible in PSP, the report also gives the
//! level reached when those are ignored and when defaulting is kept by a mutating policy.

use crate::ir::{Constraint, DefaultAction, Level, NameSet, Policy};
use crate::k8s::CheckId;
use crate::pss::{self, Version};
use serde::Serialize;

/// How a PSP compares with one PSS check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    Stricter,
    Equal,
    EqualByDefaulting,
    NotExpressible,
    Looser,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Stricter => "stricter",
            Relation::Equal => "equal",
            Relation::EqualByDefaulting => "equal-by-defaulting",
            Relation::NotExpressible => "not-expressible",
            Relation::Looser => "looser",
        }
    }
}

/// One row of the fit report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckFit {
    pub check: String,
    pub level: Level,
    pub relation: Relation,
    /// The PSP field that decides it (`-` when PSP has no field for the control).
    pub field: String,
    pub reason: String,
}

/// A defaulting constraint the PSP applies, and which checks depend on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefaultingNote {
    pub field: String,
    pub action: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
}

/// The fit of one PSP, or of a set of PSPs taken together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FitReport {
    /// The PSP name, or the names joined with `+` for a set.
    pub policy: String,
    /// The PSS version compared against (`v1.N`).
    pub version: String,
    /// Most restrictive level admitting every pod the PSP admits (strict).
    pub safe_level: Level,
    /// The same, ignoring checks PSP cannot express.
    pub safe_level_ignoring_not_expressible: Level,
    /// The same, also counting defaulting as kept (by Kyverno/Gatekeeper mutations).
    pub safe_level_with_defaulting_kept: Level,
    /// Whether the PSP admits only pods the baseline level admits.
    pub at_least_baseline: bool,
    /// Whether the PSP admits only pods the restricted level admits.
    pub at_least_restricted: bool,
    pub checks: Vec<CheckFit>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub defaulting: Vec<DefaultingNote>,
}

/// Compares each policy with the levels at `version`.
pub fn fit(policy: &Policy, version: Version) -> FitReport {
    fit_set(std::slice::from_ref(policy), version)
}

/// Compares the union of several PSPs (a namespace allowed to use all of them).
pub fn fit_set(policies: &[Policy], version: Version) -> FitReport {
    let minor = version.effective_minor();
    let mut checks = Vec::new();
    for info in pss::checks_at(Level::Restricted, minor).into_iter().chain(
        // baseline checks that restricted overrides are still reported for baseline
        pss::checks_at(Level::Baseline, minor)
            .into_iter()
            .filter(|c| !pss::checks_at(Level::Restricted, minor).contains(c)),
    ) {
        let mut worst: Option<CheckFit> = None;
        for p in policies {
            let (relation, field, reason) = compare(p, info.id, minor);
            let row = CheckFit {
                check: info.id.to_string(),
                level: info.level,
                relation,
                field: if policies.len() > 1 {
                    format!("{}: {field}", p.name)
                } else {
                    field
                },
                reason,
            };
            if worst.as_ref().is_none_or(|w| row.relation > w.relation) {
                worst = Some(row);
            }
        }
        if let Some(w) = worst {
            checks.push(w);
        }
    }
    checks.sort_by(|a, b| (a.level, a.check.as_str()).cmp(&(b.level, b.check.as_str())));
    let level_ok = |level: Level, ok: &dyn Fn(Relation) -> bool| {
        pss::checks_at(level, minor).iter().all(|c| {
            checks
                .iter()
                .find(|r| r.check == c.id)
                .is_none_or(|r| ok(r.relation))
        })
    };
    let best = |ok: &dyn Fn(Relation) -> bool| {
        [Level::Restricted, Level::Baseline]
            .into_iter()
            .find(|l| level_ok(*l, ok))
            .unwrap_or(Level::Privileged)
    };
    let strict = |r: Relation| r <= Relation::Equal;
    let ignoring = |r: Relation| r <= Relation::Equal || r == Relation::NotExpressible;
    let with_defaults =
        |r: Relation| r <= Relation::EqualByDefaulting || r == Relation::NotExpressible;
    let at_least = |r: Relation| r <= Relation::EqualByDefaulting;
    let mut defaulting = Vec::new();
    for p in policies {
        for d in &p.defaults {
            let deps: Vec<String> = checks
                .iter()
                .filter(|c| c.relation == Relation::EqualByDefaulting)
                .filter(|c| default_affects(&d.action, &c.check))
                .map(|c| c.check.clone())
                .collect();
            defaulting.push(DefaultingNote {
                field: if policies.len() > 1 {
                    format!("{}: {}", p.name, d.provenance.field)
                } else {
                    d.provenance.field.clone()
                },
                action: describe_default(&d.action),
                checks: deps,
            });
        }
    }
    FitReport {
        policy: policies
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join("+"),
        version: version.resolved(),
        safe_level: best(&strict),
        safe_level_ignoring_not_expressible: best(&ignoring),
        safe_level_with_defaulting_kept: best(&with_defaults),
        at_least_baseline: level_ok(Level::Baseline, &at_least),
        at_least_restricted: level_ok(Level::Restricted, &at_least),
        checks,
        defaulting,
    }
}

fn default_affects(action: &DefaultAction, check: &str) -> bool {
    matches!(
        (action, check),
        (
            DefaultAction::AllowPrivilegeEscalation { .. },
            "allowPrivilegeEscalation"
        ) | (
            DefaultAction::DropCapabilities { .. },
            "capabilities_restricted"
        ) | (DefaultAction::RunAsNonRoot, "runAsNonRoot")
            | (
                DefaultAction::RunAsUser { .. },
                "runAsNonRoot" | "runAsUser"
            )
            | (
                DefaultAction::SeccompProfile { .. },
                "seccompProfile_restricted"
            )
            | (DefaultAction::AppArmorProfile { .. }, "appArmorProfile")
            | (DefaultAction::SeLinuxOptions { .. }, "seLinuxOptions")
    )
}

/// A one-line description of a defaulting action.
pub fn describe_default(a: &DefaultAction) -> String {
    match a {
        DefaultAction::AddCapabilities { capabilities } => {
            format!("adds {} to capabilities.add", capabilities.join(", "))
        }
        DefaultAction::DropCapabilities { capabilities } => {
            format!("adds {} to capabilities.drop", capabilities.join(", "))
        }
        DefaultAction::AllowPrivilegeEscalation { value } => {
            format!("sets allowPrivilegeEscalation={value} where unset")
        }
        DefaultAction::ReadOnlyRootFilesystem => {
            "sets readOnlyRootFilesystem=true where unset".into()
        }
        DefaultAction::RunAsNonRoot => {
            "sets runAsNonRoot=true where neither runAsNonRoot nor runAsUser is set".into()
        }
        DefaultAction::RunAsUser { value } => format!("sets runAsUser={value} where unset"),
        DefaultAction::GroupId { field, value } => {
            format!("sets {}={value} where unset", field.as_str())
        }
        DefaultAction::SeLinuxOptions { .. } => "sets seLinuxOptions where unset".into(),
        DefaultAction::SeccompProfile { profile } => {
            format!("sets the seccomp profile to {profile} where unset")
        }
        DefaultAction::AppArmorProfile { profile } => {
            format!("sets the AppArmor profile to {profile} where unset")
        }
        DefaultAction::RuntimeClass { name } => format!("sets runtimeClassName={name} where unset"),
    }
}

fn find(p: &Policy, pred: impl Fn(&Constraint) -> bool) -> Option<&crate::ir::Rule> {
    p.rules.iter().find(|r| pred(&r.constraint))
}

fn has_default(p: &Policy, pred: impl Fn(&DefaultAction) -> bool) -> Option<String> {
    p.defaults
        .iter()
        .find(|d| pred(&d.action))
        .map(|d| d.provenance.field.clone())
}

fn set_minus(a: &NameSet, allowed: &[&str]) -> Vec<String> {
    match a {
        NameSet::Any => vec!["*".into()],
        NameSet::AnyExcept(_) => vec!["*".into()],
        NameSet::Only(v) => v
            .iter()
            .filter(|x| !allowed.iter().any(|p| crate::ir::pattern_matches(p, x)))
            .cloned()
            .collect(),
    }
}

/// Compares one PSP with one check: (relation, deciding field, reason).
pub fn compare(p: &Policy, check: CheckId, minor: u32) -> (Relation, String, String) {
    use Relation::*;
    // A policy that carries the check itself (a level, or a PSP intersected with one).
    if let Some(r) = p
        .rules
        .iter()
        .find(|r| r.provenance.check.as_deref() == Some(check.as_str()))
    {
        return (
            Equal,
            r.provenance.field.clone(),
            "the policy includes this check".into(),
        );
    }
    let none = || "-".to_string();
    let field_of = |r: Option<&crate::ir::Rule>, default: &str| {
        r.map(|r| r.provenance.field.clone())
            .unwrap_or_else(|| default.to_string())
    };
    match check {
        CheckId::Privileged => {
            let r = find(p, |c| matches!(c, Constraint::Privileged { .. }));
            match r.map(|r| &r.constraint) {
                Some(Constraint::Privileged { allowed: false }) | None => (
                    Equal,
                    field_of(r, "spec.privileged"),
                    "privileged containers are not allowed".into(),
                ),
                _ => (
                    Looser,
                    field_of(r, "spec.privileged"),
                    "privileged: true allows privileged containers".into(),
                ),
            }
        }
        CheckId::HostNamespaces => {
            let open: Vec<&crate::ir::Rule> = p
                .rules
                .iter()
                .filter(|r| {
                    matches!(
                        r.constraint,
                        Constraint::HostNamespace { allowed: true, .. }
                    )
                })
                .collect();
            if open.is_empty() {
                (
                    Equal,
                    "spec.hostNetwork, spec.hostPID, spec.hostIPC".into(),
                    "host namespaces are not allowed".into(),
                )
            } else {
                let fields: Vec<String> = open.iter().map(|r| r.provenance.field.clone()).collect();
                (
                    Looser,
                    fields.join(", "),
                    format!(
                        "{} allowed",
                        fields
                            .iter()
                            .map(|f| f.trim_start_matches("spec."))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            }
        }
        CheckId::HostPorts => match find(p, |c| matches!(c, Constraint::HostPorts { .. })) {
            Some(r) => match &r.constraint {
                Constraint::HostPorts { allowed } if !allowed.is_empty() => (
                    Looser,
                    r.provenance.field.clone(),
                    "host ports are allowed".into(),
                ),
                _ => (Equal, r.provenance.field.clone(), "no host ports".into()),
            },
            None => (Equal, "spec.hostPorts".into(), "no host ports".into()),
        },
        CheckId::WindowsHostProcess => (
            NotExpressible,
            none(),
            "PSP has no field for Windows hostProcess".into(),
        ),
        CheckId::HostProbesAndHostLifecycle => (
            NotExpressible,
            none(),
            "PSP has no field for probe and lifecycle hosts".into(),
        ),
        CheckId::HostPathVolumes | CheckId::RestrictedVolumes => {
            let r = find(p, |c| matches!(c, Constraint::Volumes { .. }));
            let allowed = match r.map(|r| &r.constraint) {
                Some(Constraint::Volumes { allowed }) => allowed.clone(),
                _ => NameSet::Only(vec![]),
            };
            let field = field_of(r, "spec.volumes");
            if check == CheckId::HostPathVolumes {
                if allowed.contains("hostPath") {
                    (Looser, field, "hostPath volumes are allowed".into())
                } else if allowed == NameSet::any_except(["hostPath"]) {
                    (Equal, field, "every volume type but hostPath".into())
                } else {
                    (Stricter, field, "hostPath volumes are not allowed".into())
                }
            } else {
                let extra = set_minus(&allowed, pss::RESTRICTED_VOLUMES);
                if !extra.is_empty() {
                    (
                        Looser,
                        field,
                        format!("allows volume types {}", extra.join(", ")),
                    )
                } else if NameSet::only(pss::RESTRICTED_VOLUMES.iter().copied())
                    .is_subset_of(&allowed)
                {
                    (Equal, field, "the restricted volume types".into())
                } else {
                    (
                        Stricter,
                        field,
                        "a subset of the restricted volume types".into(),
                    )
                }
            }
        }
        CheckId::CapabilitiesBaseline | CheckId::CapabilitiesRestricted => {
            let r = find(p, |c| matches!(c, Constraint::AddCapabilities { .. }));
            let allowed = match r.map(|r| &r.constraint) {
                Some(Constraint::AddCapabilities { allowed }) => allowed.clone(),
                _ => NameSet::Only(vec![]),
            };
            let field = field_of(r, "spec.allowedCapabilities");
            let base: &[&str] = if check == CheckId::CapabilitiesBaseline {
                pss::BASELINE_CAPABILITIES
            } else {
                &["NET_BIND_SERVICE"]
            };
            let extra = set_minus(&allowed, base);
            if !extra.is_empty() {
                return (Looser, field, format!("allows adding {}", extra.join(", ")));
            }
            if check == CheckId::CapabilitiesBaseline {
                return if NameSet::only(base.iter().copied()).is_subset_of(&allowed) {
                    (Equal, field, "the default capabilities".into())
                } else {
                    (
                        Stricter,
                        field,
                        "a subset of the default capabilities".into(),
                    )
                };
            }
            match has_default(
                p,
                |d| matches!(d, DefaultAction::DropCapabilities { capabilities } if capabilities.iter().any(|c| c == "ALL")),
            ) {
                Some(f) => (
                    EqualByDefaulting,
                    f,
                    "PSP adds ALL to capabilities.drop; pods must now drop ALL themselves".into(),
                ),
                None => (
                    Looser,
                    "spec.requiredDropCapabilities".into(),
                    "pods need not drop ALL capabilities".into(),
                ),
            }
        }
        CheckId::AppArmorProfile => match find(p, |c| matches!(c, Constraint::AppArmor { .. })) {
            Some(r) => {
                let Constraint::AppArmor { allowed, .. } = &r.constraint else {
                    unreachable!()
                };
                let extra = set_minus(allowed, &["runtime/default", "localhost/*"]);
                if extra.is_empty() {
                    (
                        Stricter,
                        r.provenance.field.clone(),
                        "only runtime/default or localhost profiles".into(),
                    )
                } else {
                    (
                        Looser,
                        r.provenance.field.clone(),
                        format!("allows AppArmor profiles {}", extra.join(", ")),
                    )
                }
            }
            None => (
                NotExpressible,
                format!(
                    "metadata.annotations[{}]",
                    crate::front::psp::APPARMOR_ALLOWED
                ),
                "no AppArmor annotation: any profile, including unconfined (PSP cannot allow unset profiles and forbid unconfined without defaulting them)".into(),
            ),
        },
        CheckId::SeLinuxOptions => match find(p, |c| matches!(c, Constraint::SeLinux { .. })) {
            Some(r) => {
                let Constraint::SeLinux {
                    user, role, type_, ..
                } = &r.constraint
                else {
                    unreachable!()
                };
                let types = pss::selinux_types(minor);
                let ok_type = type_
                    .as_ref()
                    .is_some_and(|t| t.iter().all(|x| types.contains(&x.as_str())));
                let empty = |v: &Option<Vec<String>>| {
                    v.as_ref().is_some_and(|v| v.iter().all(String::is_empty))
                };
                if ok_type && empty(user) && empty(role) {
                    (
                        Stricter,
                        r.provenance.field.clone(),
                        "fixed SELinux options within the allowed types".into(),
                    )
                } else {
                    (
                        Looser,
                        r.provenance.field.clone(),
                        "MustRunAs options outside what baseline allows".into(),
                    )
                }
            }
            None => (
                NotExpressible,
                "spec.seLinux".into(),
                "RunAsAny allows any SELinux user, role and type (PSP cannot express baseline's set of types, only one fixed value)".into(),
            ),
        },
        CheckId::ProcMount | CheckId::ProcMountRestricted => {
            let r = find(p, |c| matches!(c, Constraint::ProcMount { .. }));
            match r.map(|r| &r.constraint) {
                Some(Constraint::ProcMount { allowed }) if allowed.contains("Unmasked") => (
                    Looser,
                    field_of(r, "spec.allowedProcMountTypes"),
                    "Unmasked procMount is allowed".into(),
                ),
                _ => (
                    Equal,
                    field_of(r, "spec.allowedProcMountTypes"),
                    "only the Default procMount".into(),
                ),
            }
        }
        CheckId::SeccompProfileBaseline | CheckId::SeccompProfileRestricted => {
            let r = find(p, |c| matches!(c, Constraint::Seccomp { .. }));
            let (allowed, unset_allowed) = match r.map(|r| &r.constraint) {
                Some(Constraint::Seccomp {
                    allowed,
                    unset_allowed,
                    ..
                }) => (allowed.clone(), *unset_allowed),
                _ => (NameSet::Only(vec![]), true),
            };
            let field = field_of(
                r,
                &format!(
                    "metadata.annotations[{}]",
                    crate::front::psp::SECCOMP_ALLOWED
                ),
            );
            let extra = set_minus(
                &allowed,
                &["runtime/default", "docker/default", "localhost/*"],
            );
            if allowed == NameSet::Any && check == CheckId::SeccompProfileBaseline {
                // `*` is the only way to let pods leave the profile unset without defaulting it.
                return (
                    NotExpressible,
                    field,
                    "`*` allows unconfined (PSP cannot allow unset profiles and forbid unconfined without defaulting them)".into(),
                );
            }
            if !extra.is_empty() {
                return (
                    Looser,
                    field,
                    format!("allows seccomp profiles {}", extra.join(", ")),
                );
            }
            if check == CheckId::SeccompProfileBaseline {
                return if allowed.is_empty() {
                    (Stricter, field, "no seccomp profile may be set".into())
                } else {
                    (
                        Stricter,
                        field,
                        "only runtime/default or localhost profiles".into(),
                    )
                };
            }
            if !unset_allowed {
                return (
                    Equal,
                    field,
                    "a runtime/default or localhost profile is required".into(),
                );
            }
            match has_default(
                p,
                |d| matches!(d, DefaultAction::SeccompProfile { profile } if profile != "unconfined"),
            ) {
                Some(f) => (
                    EqualByDefaulting,
                    f,
                    "PSP sets the default profile; pods must now set it themselves".into(),
                ),
                None => (
                    Looser,
                    field,
                    "pods may run without a seccomp profile".into(),
                ),
            }
        }
        CheckId::Sysctls => {
            let r = find(p, |c| matches!(c, Constraint::Sysctls { .. }));
            let allowed = match r.map(|r| &r.constraint) {
                Some(Constraint::Sysctls { allowed, .. }) => allowed.clone(),
                _ => NameSet::only(crate::front::psp::PSP_SAFE_SYSCTLS.iter().copied()),
            };
            let safe = pss::safe_sysctls(minor);
            let extra = set_minus(&allowed, &safe);
            let field = field_of(r, "spec.allowedUnsafeSysctls");
            if !extra.is_empty() {
                (
                    Looser,
                    field,
                    format!("allows sysctls {}", extra.join(", ")),
                )
            } else if NameSet::only(safe.iter().copied()).is_subset_of(&allowed) {
                (Equal, field, "only safe sysctls".into())
            } else {
                (Stricter, field, "a subset of the safe sysctls".into())
            }
        }
        CheckId::AllowPrivilegeEscalation => {
            match find(p, |c| matches!(c, Constraint::NoPrivilegeEscalation)) {
                Some(r) => {
                    if has_default(p, |d| {
                        matches!(d, DefaultAction::AllowPrivilegeEscalation { value: false })
                    })
                    .is_some()
                    {
                        (EqualByDefaulting, r.provenance.field.clone(), "PSP sets allowPrivilegeEscalation=false; pods must now set it themselves".into())
                    } else {
                        (
                            Equal,
                            r.provenance.field.clone(),
                            "privilege escalation is not allowed".into(),
                        )
                    }
                }
                None => (
                    Looser,
                    "spec.allowPrivilegeEscalation".into(),
                    "privilege escalation is allowed (unset means true)".into(),
                ),
            }
        }
        CheckId::RunAsNonRoot => {
            if let Some(r) = find(p, |c| matches!(c, Constraint::RunAsNonRoot { .. })) {
                return (
                    Looser,
                    r.provenance.field.clone(),
                    "MustRunAsNonRoot also admits a non-zero runAsUser without runAsNonRoot=true"
                        .into(),
                );
            }
            match find(p, |c| matches!(c, Constraint::RunAsUser { .. })) {
                Some(r) => (
                    Looser,
                    r.provenance.field.clone(),
                    "MustRunAs admits pods that do not set runAsNonRoot=true".into(),
                ),
                None => (
                    Looser,
                    "spec.runAsUser".into(),
                    "RunAsAny allows running as root".into(),
                ),
            }
        }
        CheckId::RunAsUser => {
            if let Some(r) = find(p, |c| matches!(c, Constraint::RunAsNonRoot { .. })) {
                return (
                    Equal,
                    r.provenance.field.clone(),
                    "MustRunAsNonRoot rejects runAsUser=0".into(),
                );
            }
            match find(p, |c| matches!(c, Constraint::RunAsUser { .. })) {
                Some(r) => {
                    let Constraint::RunAsUser { ranges, .. } = &r.constraint else {
                        unreachable!()
                    };
                    if ranges.iter().any(|x| x.contains(0)) {
                        (
                            Looser,
                            r.provenance.field.clone(),
                            "the ranges include uid 0".into(),
                        )
                    } else {
                        (
                            Stricter,
                            r.provenance.field.clone(),
                            "the ranges exclude uid 0".into(),
                        )
                    }
                }
                None => (
                    Looser,
                    "spec.runAsUser".into(),
                    "RunAsAny allows runAsUser=0".into(),
                ),
            }
        }
    }
}

/// Renders fit reports as text.
pub fn render_text(reports: &[FitReport]) -> String {
    let mut out = String::new();
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if r.policy.contains('+') {
            // PSP names are DNS subdomains: `+` only joins the names of a set.
            out.push_str(&format!(
                "All PodSecurityPolicies together (`{}`), as for a namespace allowed to use each, against Pod Security Standards {}\n",
                r.policy.replace('+', "`, `"),
                r.version
            ));
        } else {
            let what = if r.policy.contains(':') {
                "Level"
            } else {
                "PodSecurityPolicy"
            };
            out.push_str(&format!(
                "{what} `{}` against Pod Security Standards {}\n",
                r.policy, r.version
            ));
        }
        out.push_str(&format!(
            "  safe to enforce (strict):                 {}\n",
            r.safe_level
        ));
        out.push_str(&format!(
            "  ignoring controls PSP cannot express:     {}\n",
            r.safe_level_ignoring_not_expressible
        ));
        out.push_str(&format!(
            "  and keeping PSP defaulting by mutation:   {}\n",
            r.safe_level_with_defaulting_kept
        ));
        out.push_str(&format!(
            "  PSP at least as strict as baseline: {}, restricted: {}\n",
            yes_no(r.at_least_baseline),
            yes_no(r.at_least_restricted)
        ));
        let w_check = r
            .checks
            .iter()
            .map(|c| c.check.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let w_rel = r
            .checks
            .iter()
            .map(|c| c.relation.as_str().len())
            .max()
            .unwrap_or(8)
            .max(8);
        let w_field = r
            .checks
            .iter()
            .map(|c| c.field.len())
            .max()
            .unwrap_or(5)
            .max(5);
        out.push_str(&format!(
            "\n  {:<w_check$}  {:<10}  {:<w_rel$}  {:<w_field$}  why\n",
            "check", "level", "relation", "field"
        ));
        for c in &r.checks {
            out.push_str(&format!(
                "  {:<w_check$}  {:<10}  {:<w_rel$}  {:<w_field$}  {}\n",
                c.check,
                c.level.as_str(),
                c.relation.as_str(),
                c.field,
                c.reason
            ));
        }
        if !r.defaulting.is_empty() {
            out.push_str("\n  defaulting (PSP mutated pods; after migration nothing does unless a policy keeps it):\n");
            for d in &r.defaulting {
                let deps = if d.checks.is_empty() {
                    String::new()
                } else {
                    format!(" [needed for {}]", d.checks.join(", "))
                };
                out.push_str(&format!("  - {}: {}{}\n", d.field, d.action, deps));
            }
        }
    }
    out
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

//! Planning the `podSecurity` subrule: whether a policy is a level Kyverno can express (with
//! `exclude` entries), at which pinned version, and what that costs.

use super::*;

/// A `podSecurity` subrule and what it costs.
#[derive(Debug, Clone)]
pub struct PodSecurityPlan {
    pub level: Level,
    /// The pinned minor version (`v1.<minor>`), within the schema's range.
    pub minor: u32,
    /// `exclude` entries.
    pub exclude: Vec<Exclude>,
    /// The level's exceptions the entries express.
    pub exceptions: Vec<Exception>,
    /// (field, fidelity, note) per source field.
    pub fidelity: Vec<(String, Fidelity, String)>,
}

/// The Kyverno control of a PSS check, and where its restricted fields are.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ControlKind {
    Pod,
    Container,
    Both,
}

pub(super) fn control(check: CheckId) -> Option<(&'static str, ControlKind)> {
    use ControlKind::*;
    Some(match check {
        CheckId::AppArmorProfile => ("AppArmor", Both),
        CheckId::CapabilitiesBaseline | CheckId::CapabilitiesRestricted => {
            ("Capabilities", Container)
        }
        CheckId::HostNamespaces => ("Host Namespaces", Pod),
        CheckId::HostPathVolumes => ("HostPath Volumes", Pod),
        CheckId::HostPorts => ("Host Ports", Container),
        CheckId::Privileged => ("Privileged Containers", Container),
        CheckId::ProcMount => ("/proc Mount Type", Container),
        CheckId::SeLinuxOptions => ("SELinux", Both),
        CheckId::SeccompProfileBaseline | CheckId::SeccompProfileRestricted => ("Seccomp", Both),
        CheckId::Sysctls => ("Sysctls", Pod),
        CheckId::WindowsHostProcess => ("HostProcess", Both),
        CheckId::AllowPrivilegeEscalation => ("Privilege Escalation", Container),
        CheckId::RestrictedVolumes => ("Volume Types", Pod),
        CheckId::RunAsNonRoot => ("Running as Non-root", Both),
        CheckId::RunAsUser => ("Running as Non-root user", Both),
        // `Host Probes / Lifecycle Hooks` (v1.34) and the v1.35 procMount revision are beyond
        // the versions the schema accepts, and not in its `controlName` enum.
        _ => return None,
    })
}

/// `exclude` entries for one restricted field under every container list.
pub(super) fn container_fields(
    control: &'static str,
    suffix: &str,
    images: &[String],
    values: &[String],
) -> Vec<Exclude> {
    ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .map(|list| Exclude {
            control_name: control,
            images: Some(escape_all(images)),
            restricted_field: Some(format!("spec.{list}[*].{suffix}")),
            values: (!values.is_empty()).then(|| escape_all(values)),
        })
        .collect()
}

pub(super) fn pod_field(control: &'static str, field: &str, values: &[String]) -> Exclude {
    Exclude {
        control_name: control,
        images: None,
        restricted_field: Some(field.to_string()),
        values: Some(escape_all(values)),
    }
}

/// An entry excluding a whole control, for every image (`Some`) or at pod level (`None`).
pub(super) fn whole_control(control: &'static str, images: Option<Vec<String>>) -> Exclude {
    Exclude {
        control_name: control,
        images,
        restricted_field: None,
        values: None,
    }
}

/// Expands port ranges into single ports (Kyverno compares values one by one); `None` above a
/// size that would make the exclusion unreadable.
pub(super) fn port_values(ranges: &[IdRange]) -> Option<Vec<String>> {
    let n: i64 = ranges.iter().map(|r| r.max - r.min + 1).sum();
    if n > 32 {
        return None;
    }
    Some(
        ranges
            .iter()
            .flat_map(|r| (r.min..=r.max).map(|p| p.to_string()))
            .collect(),
    )
}

/// The `exclude` entries expressing one exception, or why they cannot.
pub(super) fn exclude_entries(ex: &Exception, lp: &Policy) -> Result<Vec<Exclude>, String> {
    let (name, kind) = CheckId::parse(&ex.check)
        .and_then(control)
        .ok_or_else(|| format!("check `{}` has no Kyverno control", ex.check))?;
    let all = vec!["*".to_string()];
    if ex.values.is_empty() {
        return Ok(match kind {
            ControlKind::Pod => vec![whole_control(name, None)],
            ControlKind::Container => vec![whole_control(name, Some(all))],
            ControlKind::Both => vec![whole_control(name, None), whole_control(name, Some(all))],
        });
    }
    let v = &ex.values;
    Ok(match ex.check.as_str() {
        "capabilities_baseline" | "capabilities_restricted" => {
            container_fields(name, "securityContext.capabilities.add", &all, v)
        }
        "hostPorts" => {
            let mut ports = Vec::new();
            for x in v {
                let (a, b) = x.split_once('-').unwrap_or((x, x));
                let (a, b) = (
                    a.parse::<i64>()
                        .map_err(|_| format!("`{x}` is not a port"))?,
                    b.parse::<i64>()
                        .map_err(|_| format!("`{x}` is not a port"))?,
                );
                ports.push(IdRange {
                    min: a.min(b),
                    max: a.max(b),
                });
            }
            let ports = port_values(&crate::ir::normalise_ranges(ports))
                .ok_or("host port ranges too wide to list as values")?;
            container_fields(name, "ports[*].hostPort", &all, &ports)
        }
        "hostNamespaces" => v
            .iter()
            .map(|ns| pod_field(name, &format!("spec.{ns}"), &["true".to_string()]))
            .collect(),
        "sysctls" => vec![pod_field(name, "spec.securityContext.sysctls[*].name", v)],
        "procMount" => container_fields(name, "securityContext.procMount", &all, v),
        "seLinuxOptions" => {
            let mut e = vec![pod_field(
                name,
                "spec.securityContext.seLinuxOptions.type",
                v,
            )];
            e.extend(container_fields(
                name,
                "securityContext.seLinuxOptions.type",
                &all,
                v,
            ));
            e
        }
        _ => {
            let _ = lp;
            return Err(format!(
                "values of check `{}` have no Kyverno restricted field polytrans writes",
                ex.check
            ));
        }
    })
}

/// Values by which `wide` allows more than `narrow` (same kind), as exception values; `None`
/// when they cannot be listed.
pub(super) fn extra_values(wide: &Constraint, narrow: &Constraint) -> Option<Vec<String>> {
    use Constraint::*;
    let only = |a: &NameSet, b: &NameSet| -> Option<Vec<String>> {
        match (a, b) {
            (NameSet::Only(a), NameSet::Only(b)) => Some(
                a.iter()
                    .filter(|x| !b.contains(x) && !x.ends_with('*'))
                    .cloned()
                    .collect(),
            ),
            _ => None,
        }
    };
    match (wide, narrow) {
        (AddCapabilities { allowed: a }, AddCapabilities { allowed: b })
        | (ProcMount { allowed: a }, ProcMount { allowed: b }) => only(a, b),
        (
            Sysctls {
                allowed: a,
                forbidden: fa,
            },
            Sysctls { allowed: b, .. },
        ) if fa.is_empty() => only(a, b),
        (
            HostNamespace {
                namespace,
                allowed: true,
            },
            HostNamespace { allowed: false, .. },
        ) => Some(vec![namespace.pod_field().to_string()]),
        (HostPorts { allowed: a }, HostPorts { allowed: b }) if b.is_empty() => Some(
            a.iter()
                .map(|r| {
                    if r.min == r.max {
                        r.min.to_string()
                    } else {
                        r.to_string()
                    }
                })
                .collect(),
        ),
        (
            SeLinux {
                type_: Some(a),
                user: ua,
                role: ra,
                level: la,
                ..
            },
            SeLinux {
                type_: Some(b),
                user: ub,
                role: rb,
                level: lb,
                ..
            },
        ) if ua == ub && ra == rb && la == lb => {
            Some(a.iter().filter(|x| !b.contains(x)).cloned().collect())
        }
        _ => None,
    }
}

pub(super) fn same(a: Option<&Constraint>, b: Option<&Constraint>) -> bool {
    let source_ok = match (a, b) {
        (
            Some(Constraint::Seccomp { source: x, .. }),
            Some(Constraint::Seccomp { source: y, .. }),
        ) => x == y,
        _ => true,
    };
    source_ok && crate::compare::covers(a, b) && crate::compare::covers(b, a)
}

/// The kinds of rule in either policy.
pub(super) fn kinds<'a>(a: &'a Policy, b: &'a Policy) -> std::collections::BTreeSet<&'static str> {
    a.rules
        .iter()
        .chain(&b.rules)
        .map(|r| r.constraint.kind_name())
        .collect()
}

pub(super) fn rule_of<'a>(p: &'a Policy, kind: &str) -> Option<&'a Rule> {
    p.rules.iter().find(|r| r.constraint.kind_name() == kind)
}

/// Whether the policy is exactly `level` at `minor` with Kyverno-expressible exceptions, and
/// which: the `podSecurity` subrule then enforces exactly what the policy enforces.
pub fn plan_pod_security(p: &Policy, version: Version) -> Result<PodSecurityPlan, String> {
    let requested = version.effective_minor();
    let minor = requested.clamp(KYVERNO_MIN_MINOR, KYVERNO_MAX_MINOR);
    let levels: Vec<Level> = match &p.origin {
        Origin::Level { level, .. } => vec![*level],
        Origin::Psp { .. } => vec![Level::Restricted, Level::Baseline, Level::Privileged],
    };
    let mut why = Vec::new();
    let compare = match p.origin {
        Origin::Level { .. } => requested,
        Origin::Psp { .. } => minor,
    };
    for level in levels {
        match plan_at(p, level, compare, minor) {
            Ok(mut plan) => {
                if let Origin::Level { .. } = p.origin {
                    if minor != requested {
                        // Checks that differ between the requested version and the pinned one.
                        let want = crate::pss::level_policy(level, Version::Minor(requested));
                        let got = crate::pss::level_policy(level, Version::Minor(minor));
                        let mut checks: Vec<&str> = want
                            .rules
                            .iter()
                            .chain(&got.rules)
                            .filter_map(|r| r.provenance.check.as_deref())
                            .collect();
                        checks.sort();
                        checks.dedup();
                        for c in checks {
                            let of = |q: &Policy| -> Vec<(Constraint, Vec<Exemption>)> {
                                q.rules
                                    .iter()
                                    .filter(|r| r.provenance.check.as_deref() == Some(c))
                                    .map(|r| (r.constraint.clone(), r.unless.clone()))
                                    .collect()
                            };
                            if of(&want) != of(&got) {
                                plan.fidelity.retain(|(f, _, _)| f != c);
                                plan.fidelity.push((
                                    c.to_string(),
                                    Fidelity::Approximated,
                                    format!(
                                        "`podSecurity.version` is pinned to v1.{minor} (the ClusterPolicy schema allows v1.{KYVERNO_MIN_MINOR} to v1.{KYVERNO_MAX_MINOR}); this check differs at v1.{requested}"
                                    ),
                                ));
                            }
                        }
                    }
                }
                return Ok(plan);
            }
            Err(e) => why.push(format!("{level}: {e}")),
        }
    }
    Err(why.join("; "))
}

/// `compare` is the version the policy is compared with (a level's own), `minor` the one
/// written.
pub(super) fn plan_at(
    p: &Policy,
    level: Level,
    compare: u32,
    minor: u32,
) -> Result<PodSecurityPlan, String> {
    let lp = crate::pss::level_policy(level, Version::Minor(compare));
    // For a level, its exceptions were applied to the policy's rules: derive them again by
    // comparing with the plain level, check by check.
    let mut exceptions: Vec<Exception> = Vec::new();
    for info in crate::pss::checks_at(level, compare) {
        let lrules: Vec<&Rule> = lp
            .rules
            .iter()
            .filter(|r| r.provenance.check.as_deref() == Some(info.id.as_str()))
            .collect();
        let mut drop = true;
        let mut all_open = true;
        let mut values: Vec<String> = Vec::new();
        let mut equal = true;
        for lr in &lrules {
            let k = lr.constraint.kind_name();
            let pr = rule_of(p, k).map(|r| &r.constraint);
            all_open &= pr.is_none_or(crate::compare::is_trivial);
            if same(pr, Some(&lr.constraint)) {
                drop = false;
                continue;
            }
            equal = false;
            if !crate::compare::covers(pr, Some(&lr.constraint)) {
                return Err(format!("stricter than check `{}`", info.id));
            }
            match pr.map(|c| (c, extra_values(c, &lr.constraint))) {
                None => {}
                // Values first: `hostNetwork` allowed is trivial for its rule, but the check
                // (all three host namespaces) is only widened by it.
                Some((_, Some(v))) if !v.is_empty() => {
                    drop = false;
                    values.extend(v);
                }
                Some((c, _)) if crate::compare::is_trivial(c) => {}
                Some(_) => {
                    return Err(format!(
                        "looser than check `{}` in a way no exclusion lists",
                        info.id
                    ));
                }
            }
        }
        if equal {
            continue;
        }
        values.sort();
        values.dedup();
        // Every rule of the check open: the whole control, not its values.
        let drop = drop || all_open;
        if drop || !values.is_empty() {
            exceptions.push(Exception {
                check: info.id.to_string(),
                values: if drop { vec![] } else { values },
            });
        }
    }
    // The level with those exceptions must be the policy, rule kind by rule kind.
    let mut widened = lp.clone();
    crate::pss::apply_exceptions(&mut widened, &exceptions)?;
    for k in kinds(p, &widened) {
        let (a, b) = (rule_of(p, k), rule_of(&widened, k));
        if !same(a.map(|r| &r.constraint), b.map(|r| &r.constraint)) {
            return Err(format!("`{k}` differs from the level"));
        }
    }
    let mut exclude = Vec::new();
    for ex in &exceptions {
        exclude.extend(exclude_entries(ex, &lp)?);
    }
    let mut fidelity = Vec::new();
    if !p.exempt_images.is_empty() {
        for info in crate::pss::checks_at(level, minor) {
            if let Some((name, kind)) = control(info.id) {
                if kind != ControlKind::Pod {
                    let e = whole_control(name, Some(escape_all(&p.exempt_images)));
                    if !exclude.contains(&e) {
                        exclude.push(e);
                    }
                }
            }
        }
        let wild = p
            .exempt_images
            .iter()
            .any(|i| i.contains('?') || i.trim_end_matches('*').contains('*'));
        fidelity.push((
            "exemptImages".to_string(),
            if wild { Fidelity::Approximated } else { Fidelity::Exact },
            if wild {
                "`exclude.images`: Kyverno reads `*` and `?` anywhere as wildcards; polytrans only a trailing `*`".to_string()
            } else {
                "`exclude.images` on every container-level control".to_string()
            },
        ));
    }
    if !p.exempt_namespaces.is_empty() {
        fidelity.push((
            "exemptNamespaces".to_string(),
            Fidelity::Exact,
            "rule `exclude` by namespace".to_string(),
        ));
    }
    for r in &p.rules {
        let k = r.constraint.kind_name();
        let lr = rule_of(&widened, k);
        let f = &r.provenance.field;
        if fidelity.iter().any(|(x, _, _)| x == f) {
            continue;
        }
        // PSS exempts some pods (Windows, user namespaces) from checks a PSP applies to all.
        let differs = lr.is_some_and(|lr| lr.unless != r.unless);
        fidelity.push(if differs {
            (
                f.clone(),
                Fidelity::Approximated,
                format!("enforced by `podSecurity` level `{level}` v1.{minor}, which exempts Windows or user-namespaced pods from this check"),
            )
        } else {
            (
                f.clone(),
                Fidelity::Exact,
                format!("`podSecurity` level `{level}` v1.{minor}"),
            )
        });
    }
    Ok(PodSecurityPlan {
        level,
        minor,
        exclude,
        exceptions,
        fidelity,
    })
}

/// `--kyverno-style pod-security` for a PSP that is not exactly a level: its safe level, which
/// admits pods the PSP rejected where the PSP is stricter.
pub(super) fn safe_level_plan(p: &Policy, version: Version, why: &str) -> PodSecurityPlan {
    let minor = version
        .effective_minor()
        .clamp(KYVERNO_MIN_MINOR, KYVERNO_MAX_MINOR);
    // The most restrictive level that admits every pod the PSP admits once its defaulting is
    // kept (by the mutate rules), with the controls PSP cannot express excluded: the
    // `podSecurity` rule never rejects a pod the PSP admitted, and admits more where the PSP is
    // stricter.
    let report = crate::fit::fit(p, Version::Minor(minor));
    let level = report.safe_level_with_defaulting_kept;
    let mut exclude = Vec::new();
    let mut exceptions = Vec::new();
    for c in &report.checks {
        let active = crate::pss::checks_at(level, minor)
            .iter()
            .any(|i| c.check == i.id);
        if active && c.relation == crate::fit::Relation::NotExpressible {
            let ex = Exception {
                check: c.check.clone(),
                values: vec![],
            };
            if let Ok(e) = exclude_entries(&ex, p) {
                for x in e {
                    if !exclude.contains(&x) {
                        exclude.push(x);
                    }
                }
                exceptions.push(ex);
            }
        }
    }
    let fidelity = p
        .rules
        .iter()
        .map(|r| {
            (
                r.provenance.field.clone(),
                Fidelity::Approximated,
                format!(
                    "enforced as PSS level `{level}` v1.{minor} (`podSecurity`, controls PSP cannot express excluded), which admits pods this policy rejects where it is stricter ({})",
                    crate::backend::single_line(why)
                ),
            )
        })
        .collect();
    PodSecurityPlan {
        level,
        minor,
        exclude,
        exceptions,
        fidelity,
    }
}

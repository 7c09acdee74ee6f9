//! Semantic comparison of IR constraints: does one admit everything another admits?
//!
//! Used by `polytrans diff` to classify a PSP change as loosening or tightening. An absent rule
//! admits everything (for its aspect of a pod).

use crate::eval::path_has_prefix;
use crate::ir::{Constraint, NameSet, Policy, Rule, ranges_subset};

/// Whether `outer` admits every pod `inner` admits, for one aspect of a pod. `None` is no rule.
pub fn covers(outer: Option<&Constraint>, inner: Option<&Constraint>) -> bool {
    use Constraint::*;
    let (Some(o), Some(i)) = (outer, inner) else {
        return match (outer, inner) {
            (None, _) => true,
            (Some(o), None) => is_trivial(o),
            _ => unreachable!(),
        };
    };
    let subset = |a: &NameSet, b: &NameSet| a.is_subset_of(b);
    match (o, i) {
        (Privileged { allowed: a }, Privileged { allowed: b })
        | (HostProcess { allowed: a }, HostProcess { allowed: b })
        | (ProbeHost { allowed: a }, ProbeHost { allowed: b }) => *a || !*b,
        (
            HostNamespace {
                namespace: na,
                allowed: a,
            },
            HostNamespace {
                namespace: nb,
                allowed: b,
            },
        ) => na == nb && (*a || !*b),
        (HostPorts { allowed: a }, HostPorts { allowed: b }) => ranges_subset(b, a),
        (Volumes { allowed: a }, Volumes { allowed: b })
        | (AddCapabilities { allowed: a }, AddCapabilities { allowed: b })
        | (ProcMount { allowed: a }, ProcMount { allowed: b })
        | (RuntimeClass { allowed: a }, RuntimeClass { allowed: b }) => subset(b, a),
        (HostPaths { allowed: a }, HostPaths { allowed: b }) => b.iter().all(|ib| {
            a.iter().any(|oa| {
                path_has_prefix(&ib.path_prefix, &oa.path_prefix) && (!oa.read_only || ib.read_only)
            })
        }),
        (FlexVolumeDrivers { allowed: a }, FlexVolumeDrivers { allowed: b })
        | (CsiDrivers { allowed: a }, CsiDrivers { allowed: b }) => b.iter().all(|d| a.contains(d)),
        (DropCapabilities { required: a }, DropCapabilities { required: b }) => {
            a.iter().all(|c| b.contains(c))
        }
        (
            RunAsUser {
                ranges: ra,
                required: qa,
                ..
            },
            RunAsUser {
                ranges: rb,
                required: qb,
                ..
            },
        ) => ranges_subset(rb, ra) && (*qb || !*qa),
        (
            RunAsNonRoot {
                nonzero_uid_suffices: a,
                ..
            },
            RunAsNonRoot {
                nonzero_uid_suffices: b,
                ..
            },
        ) => *a || !*b,
        (
            GroupIds {
                field: fa,
                ranges: ra,
                required: qa,
            },
            GroupIds {
                field: fb,
                ranges: rb,
                required: qb,
            },
        ) => fa == fb && ranges_subset(rb, ra) && (*qb || !*qa),
        (ReadOnlyRootFilesystem, ReadOnlyRootFilesystem)
        | (NoPrivilegeEscalation, NoPrivilegeEscalation) => true,
        (
            SeLinux {
                user: ua,
                role: ra,
                type_: ta,
                level: la,
                ..
            },
            SeLinux {
                user: ub,
                role: rb,
                type_: tb,
                level: lb,
                ..
            },
        ) => [(ua, ub), (ra, rb), (ta, tb), (la, lb)]
            .iter()
            .all(|(a, b)| match (a, b) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => b.iter().all(|v| a.contains(v)),
            }),
        (
            Seccomp {
                allowed: a,
                unset_allowed: ua,
                ..
            },
            Seccomp {
                allowed: b,
                unset_allowed: ub,
                ..
            },
        )
        | (
            AppArmor {
                allowed: a,
                unset_allowed: ua,
                ..
            },
            AppArmor {
                allowed: b,
                unset_allowed: ub,
                ..
            },
        ) => subset(b, a) && (*ua || !*ub),
        (
            Sysctls {
                allowed: a,
                forbidden: fa,
            },
            Sysctls {
                allowed: b,
                forbidden: fb,
            },
        ) => subset(b, a) && fa.iter().all(|f| fb.contains(f)),
        _ => false,
    }
}

/// A constraint that admits every pod.
pub fn is_trivial(c: &Constraint) -> bool {
    use Constraint::*;
    match c {
        Privileged { allowed }
        | HostNamespace { allowed, .. }
        | HostProcess { allowed }
        | ProbeHost { allowed } => *allowed,
        Volumes { allowed }
        | AddCapabilities { allowed }
        | ProcMount { allowed }
        | RuntimeClass { allowed } => *allowed == NameSet::Any,
        Sysctls { allowed, forbidden } => *allowed == NameSet::Any && forbidden.is_empty(),
        Seccomp {
            allowed,
            unset_allowed,
            ..
        }
        | AppArmor {
            allowed,
            unset_allowed,
            ..
        } => *allowed == NameSet::Any && *unset_allowed,
        RunAsUser {
            ranges, required, ..
        } => {
            !required
                && ranges_subset(
                    &[crate::ir::IdRange {
                        min: i64::MIN,
                        max: i64::MAX,
                    }],
                    ranges,
                )
        }
        DropCapabilities { required } => required.is_empty(),
        HostPaths { .. }
        | FlexVolumeDrivers { .. }
        | CsiDrivers { .. }
        | RunAsNonRoot { .. }
        | GroupIds { .. }
        | ReadOnlyRootFilesystem
        | NoPrivilegeEscalation
        | SeLinux { .. }
        | HostPorts { .. } => false,
    }
}

/// The rule of a given kind in a policy (a PSP has at most one per kind).
pub fn rule_of<'a>(p: &'a Policy, kind: &str) -> Option<&'a Rule> {
    p.rules.iter().find(|r| r.constraint.kind_name() == kind)
}

/// A short human description of what a constraint allows.
pub fn summary(c: &Constraint) -> String {
    use Constraint::*;
    let set = |s: &NameSet| match s {
        NameSet::Any => "any".to_string(),
        NameSet::Only(v) if v.is_empty() => "none".to_string(),
        NameSet::Only(v) => v.join(", "),
        NameSet::AnyExcept(v) => format!("any except {}", v.join(", ")),
    };
    let ranges = crate::eval::format_ranges;
    let allowed = |a: bool| if a { "allowed" } else { "not allowed" }.to_string();
    match c {
        Privileged { allowed: a }
        | HostNamespace { allowed: a, .. }
        | HostProcess { allowed: a }
        | ProbeHost { allowed: a } => allowed(*a),
        HostPorts { allowed } => ranges(allowed),
        Volumes { allowed }
        | AddCapabilities { allowed }
        | ProcMount { allowed }
        | RuntimeClass { allowed } => set(allowed),
        HostPaths { allowed } => allowed
            .iter()
            .map(|h| {
                if h.read_only {
                    format!("{} (read-only)", h.path_prefix)
                } else {
                    h.path_prefix.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        FlexVolumeDrivers { allowed } | CsiDrivers { allowed } => allowed.join(", "),
        DropCapabilities { required } => format!("must drop {}", required.join(", ")),
        RunAsUser {
            ranges: r,
            required,
            ..
        } => format!(
            "{} {}",
            if *required { "MustRunAs" } else { "within" },
            ranges(r)
        ),
        RunAsNonRoot { .. } => "MustRunAsNonRoot".into(),
        GroupIds {
            ranges: r,
            required,
            ..
        } => format!(
            "{} {}",
            if *required { "MustRunAs" } else { "MayRunAs" },
            ranges(r)
        ),
        ReadOnlyRootFilesystem => "required".into(),
        NoPrivilegeEscalation => "not allowed".into(),
        SeLinux {
            user, role, type_, ..
        } => {
            let part = |n: &str, v: &Option<Vec<String>>| {
                v.as_ref()
                    .map(|v| format!("{n}={}", v.join("|")))
                    .unwrap_or_default()
            };
            format!(
                "MustRunAs {}",
                [part("user", user), part("role", role), part("type", type_)]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
        Seccomp {
            allowed,
            unset_allowed,
            ..
        }
        | AppArmor {
            allowed,
            unset_allowed,
            ..
        } => format!(
            "{}{}",
            set(allowed),
            if *unset_allowed {
                ""
            } else {
                " (a profile is required)"
            }
        ),
        Sysctls { allowed, forbidden } => {
            if forbidden.is_empty() {
                set(allowed)
            } else {
                format!("{}, forbidden {}", set(allowed), forbidden.join(", "))
            }
        }
    }
}

/// For two constraints of a name-set kind, the names added and removed (`+hostPath, −csi`).
pub fn name_delta(old: &Constraint, new: &Constraint) -> Option<String> {
    use Constraint::*;
    let sets = |c: &Constraint| -> Option<NameSet> {
        match c {
            Volumes { allowed }
            | AddCapabilities { allowed }
            | ProcMount { allowed }
            | RuntimeClass { allowed }
            | Sysctls { allowed, .. }
            | Seccomp { allowed, .. }
            | AppArmor { allowed, .. } => Some(allowed.clone()),
            FlexVolumeDrivers { allowed } | CsiDrivers { allowed } => {
                Some(NameSet::Only(allowed.clone()))
            }
            _ => None,
        }
    };
    let (NameSet::Only(a), NameSet::Only(b)) = (sets(old)?, sets(new)?) else {
        return None;
    };
    let added: Vec<String> = b
        .iter()
        .filter(|x| !a.contains(x))
        .map(|x| format!("+{x}"))
        .collect();
    let removed: Vec<String> = a
        .iter()
        .filter(|x| !b.contains(x))
        .map(|x| format!("−{x}"))
        .collect();
    let parts: Vec<String> = added.into_iter().chain(removed).collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// What `rule` would have said when absent (for descriptions of added/removed rules).
pub fn absent_summary(kind: &str) -> &'static str {
    match kind {
        "read-only-root-filesystem" => "not required",
        "allow-privilege-escalation" => "allowed",
        "run-as-non-root"
        | "run-as-user"
        | "run-as-group"
        | "supplemental-groups"
        | "fs-group"
        | "selinux" => "RunAsAny",
        "apparmor" => "any (no annotation)",
        "host-paths" | "flex-volumes" | "csi-drivers" => "any",
        _ => "unset",
    }
}

/// Whether `outer` admits every pod `inner` admits (rule by rule), with no defaulting of its own
/// other than `inner`'s: then, where both are usable, `outer`'s constraints alone decide.
pub fn policy_covers(outer: &Policy, inner: &Policy) -> bool {
    let kinds: std::collections::BTreeSet<&str> = outer
        .rules
        .iter()
        .chain(&inner.rules)
        .map(|r| r.constraint.kind_name())
        .collect();
    let same_defaults = outer.defaults.is_empty()
        || outer
            .defaults
            .iter()
            .map(|d| &d.action)
            .eq(inner.defaults.iter().map(|d| &d.action));
    same_defaults
        && outer.images.is_empty()
        && kinds.into_iter().all(|k| {
            covers(
                rule_of(outer, k).map(|r| &r.constraint),
                rule_of(inner, k).map(|r| &r.constraint),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::IdRange;

    #[test]
    fn coverage() {
        let p = |a| Constraint::Privileged { allowed: a };
        assert!(covers(Some(&p(true)), Some(&p(false))));
        assert!(!covers(Some(&p(false)), Some(&p(true))));
        assert!(covers(None, Some(&p(false))));
        assert!(covers(Some(&p(true)), None));
        assert!(!covers(Some(&p(false)), None));
        let v = |n: &[&str]| Constraint::Volumes {
            allowed: NameSet::only(n.iter().copied()),
        };
        assert!(covers(Some(&v(&["a", "b"])), Some(&v(&["a"]))));
        assert!(!covers(Some(&v(&["a"])), Some(&v(&["a", "b"]))));
        let u = |min, max, required| Constraint::RunAsUser {
            ranges: vec![IdRange { min, max }],
            required,
            scope: crate::ir::Scope::Effective,
        };
        assert!(covers(Some(&u(1, 100, true)), Some(&u(10, 20, true))));
        assert!(!covers(Some(&u(10, 20, true)), Some(&u(1, 100, true))));
        assert!(!covers(Some(&Constraint::NoPrivilegeEscalation), None));
    }
}

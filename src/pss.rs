//! The Pod Security Standards catalogue, per Kubernetes version, expressed in the policy IR;
//! and Pod Security Admission's namespace labels (modes, levels, versions).
//!
//! 19 checks (12 baseline, 7 restricted). A check applies from its first version; at later
//! versions a new revision may take over; in the restricted level some restricted checks replace
//! baseline ones. `latest` is the newest version any check names ([`LATEST_MINOR`]); newer
//! `v1.N` behave as `latest`. The facts are cross-checked against
//! `conformance/psa/checks.json` by the test suite.

use crate::ir::{
    Constraint, Exemption, HostNamespace, IdRange, Level, NameSet, Origin, Policy, ProfileSource,
    Provenance, Rule, Scope,
};
use crate::k8s::CheckId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The newest minor version any check names: what `latest` means.
pub const LATEST_MINOR: u32 = 37;

/// A PSS policy version: `v1.N`, or `latest`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Version {
    /// `v1.N`.
    Minor(u32),
    /// `latest`.
    #[default]
    Latest,
}

impl Version {
    /// Parses `latest` or `v1.N`.
    pub fn parse(s: &str) -> Result<Version, String> {
        if s == "latest" {
            return Ok(Version::Latest);
        }
        let minor = s
            .strip_prefix("v1.")
            .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_digit()))
            .filter(|m| *m == "0" || !m.starts_with('0'))
            .and_then(|m| m.parse::<u32>().ok())
            .ok_or_else(|| format!("version `{s}` must be \"latest\" or \"v1.x\""))?;
        Ok(Version::Minor(minor))
    }

    /// The minor version checks are evaluated at (newer than known behaves as latest).
    pub fn effective_minor(self) -> u32 {
        match self {
            Version::Latest => LATEST_MINOR,
            Version::Minor(m) => m.min(LATEST_MINOR),
        }
    }

    /// `v1.N` of the effective version.
    pub fn resolved(self) -> String {
        format!("v1.{}", self.effective_minor())
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::Minor(m) => write!(f, "v1.{m}"),
        }
    }
}

/// One PSS check in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckInfo {
    pub id: CheckId,
    pub level: Level,
    /// First minor version at which the check applies.
    pub min_minor: u32,
    /// Minor versions at which a new revision takes over.
    pub changes_at: &'static [u32],
    /// The restricted check that replaces this baseline check in the restricted level, and from
    /// which minor version.
    pub overridden_by: Option<(CheckId, u32)>,
    /// A one-line description.
    pub summary: &'static str,
}

/// The catalogue, in PSA's result order (baseline ids, then restricted ids, bytewise).
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo {
        id: CheckId::AppArmorProfile,
        level: Level::Baseline,
        min_minor: 0,
        changes_at: &[],
        overridden_by: None,
        summary: "AppArmor profiles must be runtime/default or localhost/*",
    },
    CheckInfo {
        id: CheckId::CapabilitiesBaseline,
        level: Level::Baseline,
        min_minor: 0,
        changes_at: &[],
        overridden_by: Some((CheckId::CapabilitiesRestricted, 22)),
        summary: "added capabilities only from the default set",
    },
    CheckInfo {
        id: CheckId::HostNamespaces,
        level: Level::Baseline,
        min_minor: 0,
        changes_at: &[],
        overridden_by: None,
        summary: "no hostNetwork, hostPID or hostIPC",
    },
    CheckInfo {
        id: CheckId::HostPathVolumes,
        level: Level::Baseline,
        min_minor: 0,
        changes_at: &[],
        overridden_by: Some((CheckId::RestrictedVolumes, 0)),
        summary: "no hostPath volumes",
    },
    CheckInfo {
        id: CheckId::HostPorts,
        level: Level::Baseline,
        min_minor: 0,
        changes_at: &[],
        overridden_by: None,
        summary: "no host ports",
    },
    CheckInfo {
        id: CheckId::HostProbesAndHostLifecycle,
        level: Level::Baseline,
        min_minor: 34,
        changes_at: &[],
        overridden_by: None,
        summary: "no host in probe and lifecycle handlers",
    },
    CheckInfo {
        id: CheckId::Privileged,
        level: Level::Baseline,
        min_minor: 0,
        changes_at: &[],
        overridden_by: None,
        summary: "no privileged containers",
    },
    CheckInfo {
        id: CheckId::ProcMount,
        level: Level::Baseline,
        min_minor: 0,
        changes_at: &[35],
        overridden_by: Some((CheckId::ProcMountRestricted, 35)),
        summary: "procMount must be Default (any for user-namespaced pods from v1.35)",
    },
    CheckInfo {
        id: CheckId::SeLinuxOptions,
        level: Level::Baseline,
        min_minor: 0,
        changes_at: &[31],
        overridden_by: None,
        summary: "SELinux type from the container types; no user or role",
    },
    CheckInfo {
        id: CheckId::SeccompProfileBaseline,
        level: Level::Baseline,
        min_minor: 0,
        changes_at: &[19],
        overridden_by: Some((CheckId::SeccompProfileRestricted, 19)),
        summary: "seccomp profile must not be Unconfined",
    },
    CheckInfo {
        id: CheckId::Sysctls,
        level: Level::Baseline,
        min_minor: 0,
        changes_at: &[27, 29, 32, 37],
        overridden_by: None,
        summary: "only safe sysctls",
    },
    CheckInfo {
        id: CheckId::WindowsHostProcess,
        level: Level::Baseline,
        min_minor: 0,
        changes_at: &[],
        overridden_by: None,
        summary: "no Windows HostProcess containers",
    },
    CheckInfo {
        id: CheckId::AllowPrivilegeEscalation,
        level: Level::Restricted,
        min_minor: 8,
        changes_at: &[25],
        overridden_by: None,
        summary: "allowPrivilegeEscalation must be false",
    },
    CheckInfo {
        id: CheckId::CapabilitiesRestricted,
        level: Level::Restricted,
        min_minor: 22,
        changes_at: &[25],
        overridden_by: None,
        summary: "drop ALL capabilities; add only NET_BIND_SERVICE",
    },
    CheckInfo {
        id: CheckId::ProcMountRestricted,
        level: Level::Restricted,
        min_minor: 35,
        changes_at: &[],
        overridden_by: None,
        summary: "procMount must be Default, even for user-namespaced pods",
    },
    CheckInfo {
        id: CheckId::RestrictedVolumes,
        level: Level::Restricted,
        min_minor: 0,
        changes_at: &[],
        overridden_by: None,
        summary: "only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected, secret volumes",
    },
    CheckInfo {
        id: CheckId::RunAsNonRoot,
        level: Level::Restricted,
        min_minor: 0,
        changes_at: &[35],
        overridden_by: None,
        summary: "runAsNonRoot must be true",
    },
    CheckInfo {
        id: CheckId::RunAsUser,
        level: Level::Restricted,
        min_minor: 23,
        changes_at: &[35],
        overridden_by: None,
        summary: "runAsUser must not be 0",
    },
    CheckInfo {
        id: CheckId::SeccompProfileRestricted,
        level: Level::Restricted,
        min_minor: 19,
        changes_at: &[25],
        overridden_by: None,
        summary: "seccomp profile must be RuntimeDefault or Localhost",
    },
];

/// Looks a check up by id.
pub fn check_info(id: &str) -> Option<&'static CheckInfo> {
    CHECKS.iter().find(|c| c.id == id)
}

/// Capabilities baseline allows in `capabilities.add`.
pub const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Volume types restricted allows (PSP `volumes` names).
pub const RESTRICTED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// The safe sysctls at a minor version.
pub fn safe_sysctls(minor: u32) -> Vec<&'static str> {
    let mut v = vec![
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    ];
    if minor >= 27 {
        v.push("net.ipv4.ip_local_reserved_ports");
    }
    if minor >= 29 {
        v.extend([
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes",
        ]);
    }
    if minor >= 32 {
        v.extend(["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"]);
    }
    if minor >= 37 {
        v.extend([
            "net.ipv4.tcp_slow_start_after_idle",
            "net.ipv4.tcp_notsent_lowat",
        ]);
    }
    v
}

/// SELinux types baseline allows at a minor version (`""` is unset).
pub fn selinux_types(minor: u32) -> Vec<&'static str> {
    let mut v = vec!["", "container_init_t", "container_kvm_t", "container_t"];
    if minor >= 31 {
        v.push("container_engine_t");
    }
    v.sort();
    v
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The constraints one check contributes at a minor version, with their exemptions.
pub fn check_constraints(id: CheckId, minor: u32) -> Vec<(Constraint, Vec<Exemption>)> {
    let windows = if minor >= 25 {
        vec![Exemption::WindowsPod]
    } else {
        vec![]
    };
    let userns = if minor >= 35 {
        vec![Exemption::UserNamespacePod]
    } else {
        vec![]
    };
    let one = |c: Constraint| vec![(c, vec![])];
    match id {
        CheckId::AppArmorProfile => one(Constraint::AppArmor {
            allowed: NameSet::only(["", "localhost/*", "runtime/default"]),
            unset_allowed: true,
            scope: Scope::EveryValue,
        }),
        CheckId::CapabilitiesBaseline => one(Constraint::AddCapabilities {
            allowed: NameSet::only(BASELINE_CAPABILITIES.iter().copied()),
        }),
        CheckId::HostNamespaces => HostNamespace::ALL
            .iter()
            .map(|ns| {
                (
                    Constraint::HostNamespace {
                        namespace: *ns,
                        allowed: false,
                    },
                    vec![],
                )
            })
            .collect(),
        CheckId::HostPathVolumes => one(Constraint::Volumes {
            allowed: NameSet::any_except(["hostPath"]),
        }),
        CheckId::HostPorts => one(Constraint::HostPorts { allowed: vec![] }),
        CheckId::HostProbesAndHostLifecycle => one(Constraint::ProbeHost { allowed: false }),
        CheckId::Privileged => one(Constraint::Privileged { allowed: false }),
        CheckId::ProcMount => vec![(
            Constraint::ProcMount {
                allowed: NameSet::only(["Default"]),
            },
            userns.clone(),
        )],
        CheckId::SeLinuxOptions => one(Constraint::SeLinux {
            user: Some(vec![String::new()]),
            role: Some(vec![String::new()]),
            type_: Some(strings(&selinux_types(minor))),
            level: None,
            scope: Scope::EveryValue,
        }),
        CheckId::SeccompProfileBaseline => one(if minor >= 19 {
            Constraint::Seccomp {
                allowed: NameSet::only(["localhost/*", "runtime/default"]),
                unset_allowed: true,
                source: ProfileSource::Fields,
                scope: Scope::EveryValue,
            }
        } else {
            Constraint::Seccomp {
                allowed: NameSet::only(["docker/default", "localhost/*", "runtime/default"]),
                unset_allowed: true,
                source: ProfileSource::Annotations,
                scope: Scope::EveryValue,
            }
        }),
        CheckId::Sysctls => one(Constraint::Sysctls {
            allowed: NameSet::only(safe_sysctls(minor)),
            forbidden: vec![],
        }),
        CheckId::WindowsHostProcess => one(Constraint::HostProcess { allowed: false }),
        CheckId::AllowPrivilegeEscalation => vec![(Constraint::NoPrivilegeEscalation, windows)],
        CheckId::CapabilitiesRestricted => vec![
            (
                Constraint::DropCapabilities {
                    required: vec!["ALL".into()],
                },
                windows.clone(),
            ),
            (
                Constraint::AddCapabilities {
                    allowed: NameSet::only(["NET_BIND_SERVICE"]),
                },
                windows,
            ),
        ],
        CheckId::ProcMountRestricted => one(Constraint::ProcMount {
            allowed: NameSet::only(["Default"]),
        }),
        CheckId::RestrictedVolumes => one(Constraint::Volumes {
            allowed: NameSet::only(RESTRICTED_VOLUMES.iter().copied()),
        }),
        CheckId::RunAsNonRoot => vec![(
            Constraint::RunAsNonRoot {
                nonzero_uid_suffices: false,
                scope: Scope::EveryValue,
            },
            userns,
        )],
        CheckId::RunAsUser => vec![(
            Constraint::RunAsUser {
                ranges: vec![
                    IdRange {
                        min: i64::MIN,
                        max: -1,
                    },
                    IdRange {
                        min: 1,
                        max: i64::MAX,
                    },
                ],
                required: false,
                scope: Scope::EveryValue,
            },
            userns,
        )],
        CheckId::SeccompProfileRestricted => vec![(
            Constraint::Seccomp {
                allowed: NameSet::only(["localhost/*", "runtime/default"]),
                unset_allowed: false,
                source: ProfileSource::Fields,
                scope: Scope::EveryValue,
            },
            windows,
        )],
    }
}

/// The checks that apply at `level` and minor version, in PSA's result order.
pub fn checks_at(level: Level, minor: u32) -> Vec<&'static CheckInfo> {
    CHECKS
        .iter()
        .filter(|c| c.level <= level && level != Level::Privileged && c.min_minor <= minor)
        .filter(|c| {
            !(level == Level::Restricted
                && c.overridden_by.is_some_and(|(by, from)| {
                    minor >= from && check_info(by.as_str()).is_some_and(|b| b.min_minor <= minor)
                }))
        })
        .collect()
}

/// A level at a version as an IR policy.
pub fn level_policy(level: Level, version: Version) -> Policy {
    let minor = version.effective_minor();
    let mut rules = Vec::new();
    for check in checks_at(level, minor) {
        for (constraint, unless) in check_constraints(check.id, minor) {
            rules.push(Rule {
                constraint,
                provenance: Provenance {
                    field: check.id.to_string(),
                    check: Some(check.id.to_string()),
                    location: None,
                },
                unless,
            });
        }
    }
    Policy {
        name: format!("{level}:{}", version.resolved()),
        origin: Origin::Level {
            level,
            version: version.resolved(),
        },
        images: vec![],
        exempt_namespaces: vec![],
        exempt_images: vec![],
        rules,
        defaults: vec![],
    }
}

/// PSA modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Enforce,
    Audit,
    Warn,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Enforce, Mode::Audit, Mode::Warn];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
            Mode::Warn => "warn",
        }
    }

    /// `pod-security.kubernetes.io/<mode>`.
    pub fn level_label(self) -> String {
        format!("pod-security.kubernetes.io/{}", self.as_str())
    }

    /// `pod-security.kubernetes.io/<mode>-version`.
    pub fn version_label(self) -> String {
        format!("pod-security.kubernetes.io/{}-version", self.as_str())
    }
}

/// A level and version for one mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelVersion {
    pub level: Level,
    pub version: Version,
}

/// The policy PSA evaluates for a namespace: one level and version per mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PsaPolicy {
    pub enforce: LevelVersion,
    pub audit: LevelVersion,
    pub warn: LevelVersion,
}

impl Default for PsaPolicy {
    fn default() -> Self {
        let p = LevelVersion {
            level: Level::Privileged,
            version: Version::Latest,
        };
        PsaPolicy {
            enforce: p,
            audit: p,
            warn: p,
        }
    }
}

impl PsaPolicy {
    pub fn get(&self, mode: Mode) -> LevelVersion {
        match mode {
            Mode::Enforce => self.enforce,
            Mode::Audit => self.audit,
            Mode::Warn => self.warn,
        }
    }
}

/// Reads a namespace's PSA labels the way PSA does, starting from `defaults`. Invalid values are
/// reported and fall back as PSA falls back: an invalid enforce level is `restricted`, an invalid
/// audit or warn level `privileged`, an invalid version `latest`. Without a warn label, warn
/// copies a stricter enforce level (and its version, unless warn's is given).
pub fn policy_from_labels(
    labels: &BTreeMap<String, String>,
    defaults: PsaPolicy,
) -> (PsaPolicy, Vec<String>) {
    let mut p = defaults;
    let mut errors = Vec::new();
    let mut has_enforce_level = false;
    let mut has_warn_level = false;
    let mut has_warn_version = false;
    for mode in Mode::ALL {
        let slot = match mode {
            Mode::Enforce => &mut p.enforce,
            Mode::Audit => &mut p.audit,
            Mode::Warn => &mut p.warn,
        };
        if let Some(v) = labels.get(&mode.level_label()) {
            match Level::parse(v) {
                Some(l) => {
                    slot.level = l;
                    if mode == Mode::Enforce {
                        has_enforce_level = true;
                    }
                }
                None => {
                    errors.push(format!(
                        "`{}`: `{v}` must be one of privileged, baseline, restricted",
                        mode.level_label()
                    ));
                    slot.level = if mode == Mode::Enforce {
                        Level::Restricted
                    } else {
                        Level::Privileged
                    };
                }
            }
            if mode == Mode::Warn {
                has_warn_level = true;
            }
        }
        if let Some(v) = labels.get(&mode.version_label()) {
            if mode == Mode::Warn {
                has_warn_version = true;
            }
            match Version::parse(v) {
                Ok(ver) => slot.version = ver,
                Err(_) => {
                    errors.push(format!(
                        "`{}`: `{v}` must be \"latest\" or \"v1.x\"",
                        mode.version_label()
                    ));
                    slot.version = Version::Latest;
                }
            }
        }
    }
    if !has_warn_level && has_enforce_level && p.enforce.level > p.warn.level {
        p.warn.level = p.enforce.level;
        if !has_warn_version {
            p.warn.version = p.enforce.version;
        }
    }
    (p, errors)
}

/// A warning when `version` is newer than the catalogue: which version is used instead (as PSA
/// does, a newer version is evaluated as the newest it knows). `flag` names the option.
pub fn version_warning(version: Version, flag: &str) -> Option<crate::diag::Diagnostic> {
    match version {
        Version::Minor(m) if m > LATEST_MINOR => Some(
            crate::diag::Diagnostic::warning(format!(
                "`{flag} v1.{m}` is newer than the Pod Security Standards catalogue; using v1.{} (the latest it holds)",
                LATEST_MINOR
            ))
            .with_help(format!(
                "PSA evaluates a version newer than it knows as its latest; pass `{flag} v1.{}` or `latest` to silence this",
                LATEST_MINOR
            )),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(Version::parse("latest"), Ok(Version::Latest));
        assert_eq!(Version::parse("v1.25"), Ok(Version::Minor(25)));
        assert!(Version::parse("v1.025").is_err());
        assert!(Version::parse("1.25").is_err());
        assert!(Version::parse("v2.0").is_err());
        assert_eq!(Version::Minor(99).effective_minor(), LATEST_MINOR);
    }

    #[test]
    fn check_ids_round_trip_in_catalogue_order() {
        for c in CheckId::ALL {
            assert_eq!(CheckId::parse(c.as_str()), Some(c));
        }
        let ids: Vec<CheckId> = CHECKS.iter().map(|c| c.id).collect();
        assert_eq!(ids, CheckId::ALL.to_vec());
    }

    #[test]
    fn restricted_overrides() {
        let ids = |minor| {
            checks_at(Level::Restricted, minor)
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
        };
        assert!(ids(21).contains(&"capabilities_baseline"));
        assert!(!ids(22).contains(&"capabilities_baseline"));
        assert!(!ids(0).contains(&"hostPathVolumes"));
        assert!(ids(18).contains(&"seccompProfile_baseline"));
        assert!(!ids(19).contains(&"seccompProfile_baseline"));
        assert!(ids(34).contains(&"procMount"));
        assert!(!ids(35).contains(&"procMount"));
        assert_eq!(checks_at(Level::Baseline, 37).len(), 12);
        assert_eq!(checks_at(Level::Privileged, 37).len(), 0);
    }

    #[test]
    fn labels() {
        let mut l = BTreeMap::new();
        l.insert(
            "pod-security.kubernetes.io/enforce".to_string(),
            "bogus".to_string(),
        );
        l.insert(
            "pod-security.kubernetes.io/audit".to_string(),
            "bogus".to_string(),
        );
        l.insert(
            "pod-security.kubernetes.io/enforce-version".to_string(),
            "v1.x".to_string(),
        );
        let (p, errs) = policy_from_labels(&l, PsaPolicy::default());
        assert_eq!(p.enforce.level, Level::Restricted);
        assert_eq!(p.audit.level, Level::Privileged);
        assert_eq!(p.enforce.version, Version::Latest);
        // invalid enforce level does not default warn
        assert_eq!(p.warn.level, Level::Privileged);
        assert_eq!(errs.len(), 3);
        let mut l = BTreeMap::new();
        l.insert(
            "pod-security.kubernetes.io/enforce".to_string(),
            "baseline".to_string(),
        );
        l.insert(
            "pod-security.kubernetes.io/enforce-version".to_string(),
            "v1.24".to_string(),
        );
        let (p, _) = policy_from_labels(&l, PsaPolicy::default());
        assert_eq!(p.warn.level, Level::Baseline);
        assert_eq!(p.warn.version, Version::Minor(24));
    }
}

/// An exception to a level: `CHECK_ID` (the check does not apply) or `CHECK_ID=v1,v2` (the check
/// also allows these values), as Kyverno's `podSecurity.exclude` and PSA exemptions allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    pub check: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl Exception {
    /// Parses `CHECK_ID[=v1,v2]`.
    pub fn parse(s: &str) -> Result<Exception, String> {
        let (check, values) = match s.split_once('=') {
            Some((c, v)) => (
                c.trim(),
                v.split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect(),
            ),
            None => (s.trim(), vec![]),
        };
        if check_info(check).is_none() {
            let ids: Vec<&str> = CHECKS.iter().map(|c| c.id.as_str()).collect();
            let hint = crate::diag::suggest(check, &ids)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(format!("unknown check `{check}`{hint}"));
        }
        Ok(Exception {
            check: check.to_string(),
            values,
        })
    }
}

/// Applies exceptions to a level policy: drops the check's rules, or widens them by the values.
pub fn apply_exceptions(policy: &mut Policy, exceptions: &[Exception]) -> Result<(), String> {
    for ex in exceptions {
        let of_check = |r: &Rule| r.provenance.check.as_deref() == Some(ex.check.as_str());
        if !policy.rules.iter().any(of_check) {
            return Err(format!(
                "check `{}` does not apply to `{}`",
                ex.check, policy.name
            ));
        }
        if ex.values.is_empty() {
            policy.rules.retain(|r| !of_check(r));
            continue;
        }
        let mut widened = false;
        for rule in policy.rules.iter_mut().filter(|r| of_check(r)) {
            widened |= widen(&mut rule.constraint, &ex.values)
                .map_err(|e| format!("`--except {}`: {e}", ex.check))?;
        }
        if !widened {
            return Err(format!(
                "check `{}` takes no values; use `--except {}` to drop it",
                ex.check, ex.check
            ));
        }
    }
    Ok(())
}

fn widen_set(set: &mut NameSet, values: &[String]) {
    *set = match std::mem::replace(set, NameSet::Any) {
        NameSet::Any => NameSet::Any,
        NameSet::Only(v) => NameSet::only(v.into_iter().chain(values.iter().cloned())),
        NameSet::AnyExcept(v) => NameSet::any_except(v.into_iter().filter(|x| !values.contains(x))),
    };
}

/// Widens one constraint by exception values; `Ok(false)` when the constraint takes none.
fn widen(c: &mut Constraint, values: &[String]) -> Result<bool, String> {
    match c {
        Constraint::AddCapabilities { allowed }
        | Constraint::Volumes { allowed }
        | Constraint::ProcMount { allowed }
        | Constraint::Sysctls { allowed, .. }
        | Constraint::Seccomp { allowed, .. }
        | Constraint::AppArmor { allowed, .. } => {
            widen_set(allowed, values);
            Ok(true)
        }
        Constraint::SeLinux { type_, .. } => {
            if let Some(t) = type_ {
                t.extend(values.iter().cloned());
                t.sort();
                t.dedup();
            }
            Ok(true)
        }
        Constraint::HostPorts { allowed } => {
            for v in values {
                let (a, b) = v.split_once('-').unwrap_or((v, v));
                let parse = |x: &str| {
                    x.parse::<i64>()
                        .ok()
                        .filter(|p| (0..=65535).contains(p))
                        .ok_or_else(|| format!("`{v}` is not a port or port range"))
                };
                let (min, max) = (parse(a)?, parse(b)?);
                allowed.push(IdRange {
                    min: min.min(max),
                    max: min.max(max),
                });
            }
            *allowed = crate::ir::normalise_ranges(std::mem::take(allowed));
            Ok(true)
        }
        Constraint::HostNamespace { namespace, allowed } => {
            if values.iter().any(|v| v == namespace.pod_field()) {
                *allowed = true;
            }
            for v in values {
                if !HostNamespace::ALL.iter().any(|n| n.pod_field() == v) {
                    return Err(format!("`{v}` is not hostNetwork, hostPID or hostIPC"));
                }
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The intersection of a policy and a level: pods must satisfy both (`--at-least`).
pub fn intersect_with_level(policy: &mut Policy, level: Level, version: Version) {
    let lp = level_policy(level, version);
    policy.rules.extend(lp.rules);
}

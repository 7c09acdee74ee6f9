//! The normalised policy IR: a backend-neutral description of what a pod may and may not do.
//!
//! A [`Policy`] comes either from a PodSecurityPolicy (front end [`crate::front::psp`]) or from a
//! Pod Security Standards level at a Kubernetes version ([`crate::pss`]). It holds two kinds of
//! constraints, kept apart because PSP both validated and mutated pods:
//!
//! - [`Rule`]s **validate**: a pod that breaks one is rejected;
//! - [`Defaulting`]s **mutate**: PSP admission changed the pod before validating it.
//!
//! Every constraint carries a [`Provenance`]: the PSP field it comes from (with file, document,
//! line and column) or the PSS check id. Sets and ranges are normalised: sorted, merged,
//! duplicates removed, "everything" spelled as [`NameSet::Any`].
//!
//! The evaluator in [`crate::eval`] gives these types their meaning, and it is the reference every
//! backend is tested against.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The IR format version, bumped on incompatible changes.
pub const IR_VERSION: &str = "polytrans.dev/ir/v1";

/// One policy: what pods it admits, and how it changes them on the way in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// The PSP's `metadata.name`, or `<level>:<version>` for a level (e.g. `restricted:v1.37`).
    pub name: String,
    /// Where the policy comes from.
    pub origin: Origin,
    /// Containers the policy applies to, from the `falco-rules-psp-images` annotation; empty
    /// means every container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Namespaces whose pods the policy does not judge (PSA `exemptions.namespaces`, Kyverno
    /// `exclude`), from `--namespaces`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempt_namespaces: Vec<String>,
    /// Images whose containers the policy does not judge (Kyverno `podSecurity.exclude.images`),
    /// from `--images`; entries may end in `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempt_images: Vec<String>,
    /// Validating constraints: a pod must satisfy all of them.
    pub rules: Vec<Rule>,
    /// Defaulting (mutating) constraints, applied before validation, in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defaults: Vec<Defaulting>,
}

/// Where a policy comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Origin {
    /// A `PodSecurityPolicy` object.
    Psp {
        /// `policy/v1beta1` or `extensions/v1beta1`.
        api_version: String,
        /// Where the object starts.
        location: SourceLocation,
    },
    /// A Pod Security Standards level at a policy version.
    Level {
        level: Level,
        /// The resolved version, `v1.N` (never `latest`).
        version: String,
    },
}

/// A position in an input file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct SourceLocation {
    pub file: String,
    /// 1-based YAML document index.
    pub document: usize,
    pub line: u32,
    pub column: u32,
}

/// Pod Security Standards levels, from least to most restrictive.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Privileged, Level::Baseline, Level::Restricted];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "privileged" => Some(Level::Privileged),
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }

    /// [`Level::parse`] with the error message a command line prints.
    pub fn parse_arg(s: &str) -> Result<Level, String> {
        Level::parse(s)
            .ok_or_else(|| format!("`{s}` is not a level (privileged, baseline, restricted)"))
    }

    /// The next stricter level, if any.
    pub fn stricter(self) -> Option<Level> {
        match self {
            Level::Privileged => Some(Level::Baseline),
            Level::Baseline => Some(Level::Restricted),
            Level::Restricted => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validating constraint with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub constraint: Constraint,
    pub provenance: Provenance,
    /// Pods to which the rule does not apply (PSS exemptions such as Windows pods).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unless: Vec<Exemption>,
}

/// Why a constraint exists: a PSP field or a PSS check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// The PSP field path (`spec.runAsUser`, `metadata.annotations[seccomp…]`) or, for levels,
    /// the PSS check id (`runAsNonRoot`).
    pub field: String,
    /// The PSS check id this constraint implements (levels only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// Where the field is written (PSPs only). Absent for fields the PSP leaves unset (whose
    /// default still constrains pods, e.g. unset `privileged` means not allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<SourceLocation>,
}

/// Pods a rule does not apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Exemption {
    /// Pods with `spec.os.name: windows` (PSS restricted checks from v1.25).
    WindowsPod,
    /// Pods with `spec.hostUsers: false` (user-namespaced; PSS relaxations from v1.35).
    UserNamespacePod,
}

/// A set of names (capabilities, volume types, profiles, sysctls, …). Entries may end in `*` as
/// a prefix pattern where the Kubernetes field allows it.
///
/// Serialised as `{set: any}`, `{set: only, names: [...]}` or `{set: anyExcept, names: [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "set", content = "names", rename_all = "camelCase")]
pub enum NameSet {
    /// Every name.
    Any,
    /// Only these names (sorted, unique). Empty means none.
    Only(Vec<String>),
    /// Every name except these (sorted, unique).
    AnyExcept(Vec<String>),
}

impl NameSet {
    /// Builds a normalised set: `*` in the list means [`NameSet::Any`].
    pub fn only<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> NameSet {
        let mut v: Vec<String> = names.into_iter().map(Into::into).collect();
        if v.iter().any(|n| n == "*") {
            return NameSet::Any;
        }
        v.sort();
        v.dedup();
        NameSet::Only(v)
    }

    pub fn any_except<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> NameSet {
        let mut v: Vec<String> = names.into_iter().map(Into::into).collect();
        v.sort();
        v.dedup();
        if v.is_empty() {
            NameSet::Any
        } else {
            NameSet::AnyExcept(v)
        }
    }

    /// Whether `name` is in the set (entries ending in `*` match by prefix).
    pub fn contains(&self, name: &str) -> bool {
        match self {
            NameSet::Any => true,
            NameSet::Only(v) => v.iter().any(|p| pattern_matches(p, name)),
            NameSet::AnyExcept(v) => !v.iter().any(|p| pattern_matches(p, name)),
        }
    }

    /// Whether every name in `self` is also in `other` (exact for literal entries; prefix
    /// patterns are compared as patterns).
    pub fn is_subset_of(&self, other: &NameSet) -> bool {
        match (self, other) {
            (_, NameSet::Any) => true,
            (NameSet::Any, _) => false,
            (NameSet::Only(a), _) => a.iter().all(|n| other.contains_pattern(n)),
            (NameSet::AnyExcept(a), NameSet::AnyExcept(b)) => {
                b.iter().all(|n| a.iter().any(|p| pattern_matches(p, n)))
            }
            (NameSet::AnyExcept(_), NameSet::Only(_)) => false,
        }
    }

    /// Whether everything a (possibly pattern) entry matches is in the set.
    fn contains_pattern(&self, entry: &str) -> bool {
        match entry.strip_suffix('*') {
            None => self.contains(entry),
            Some(prefix) => match self {
                NameSet::Any => true,
                NameSet::Only(v) => v
                    .iter()
                    .any(|p| p.strip_suffix('*').is_some_and(|pp| prefix.starts_with(pp))),
                NameSet::AnyExcept(v) => !v.iter().any(|p| {
                    let pp = p.strip_suffix('*').unwrap_or(p);
                    pp.starts_with(prefix) || prefix.starts_with(pp)
                }),
            },
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, NameSet::Only(v) if v.is_empty())
    }
}

/// `*` alone matches everything; `prefix*` matches by prefix; anything else exactly.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// The two spellings of the container runtime's default seccomp profile. Since Kubernetes 1.19
/// PSP treats them as one profile: an `allowedProfileNames` entry of either allows both, and the
/// field `seccompProfile: {type: RuntimeDefault}` matches both.
pub const SECCOMP_RUNTIME_DEFAULT_ALIASES: [&str; 2] = ["docker/default", "runtime/default"];

/// A set of seccomp profiles (annotation form) with the runtime-default aliases completed: a set
/// that names one of [`SECCOMP_RUNTIME_DEFAULT_ALIASES`] names both, so that every backend and
/// the evaluator, which compare names, see the two spellings as the same profile.
pub fn seccomp_profiles(set: NameSet) -> NameSet {
    let complete = |v: Vec<String>| -> Vec<String> {
        let mut v = v;
        if SECCOMP_RUNTIME_DEFAULT_ALIASES
            .iter()
            .any(|a| v.iter().any(|n| n == a))
        {
            v.extend(
                SECCOMP_RUNTIME_DEFAULT_ALIASES
                    .iter()
                    .map(|a| a.to_string()),
            );
        }
        v
    };
    match set {
        NameSet::Any => NameSet::Any,
        NameSet::Only(v) => NameSet::only(complete(v)),
        NameSet::AnyExcept(v) => NameSet::any_except(complete(v)),
    }
}

/// An inclusive range of ids or ports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct IdRange {
    pub min: i64,
    pub max: i64,
}

impl IdRange {
    pub fn contains(&self, v: i64) -> bool {
        self.min <= v && v <= self.max
    }
}

/// `min-max`, as PSP messages print a range.
impl std::fmt::Display for IdRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.min, self.max)
    }
}

/// Sorts and merges overlapping or adjacent ranges.
pub fn normalise_ranges(mut ranges: Vec<IdRange>) -> Vec<IdRange> {
    ranges.sort();
    let mut out: Vec<IdRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.min <= last.max.saturating_add(1) => last.max = last.max.max(r.max),
            _ => out.push(r),
        }
    }
    out
}

/// Whether every value of `a` lies in `b` (both normalised).
pub fn ranges_subset(a: &[IdRange], b: &[IdRange]) -> bool {
    a.iter()
        .all(|r| b.iter().any(|s| s.min <= r.min && r.max <= s.max))
}

/// The host namespaces a pod can share.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum HostNamespace {
    /// `spec.hostNetwork`.
    Network,
    /// `spec.hostPID`.
    Pid,
    /// `spec.hostIPC`.
    Ipc,
}

impl HostNamespace {
    pub const ALL: [HostNamespace; 3] = [
        HostNamespace::Network,
        HostNamespace::Pid,
        HostNamespace::Ipc,
    ];

    /// The pod spec field.
    pub fn pod_field(self) -> &'static str {
        match self {
            HostNamespace::Network => "hostNetwork",
            HostNamespace::Pid => "hostPID",
            HostNamespace::Ipc => "hostIPC",
        }
    }
}

/// Which values of a security-context setting a rule judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Scope {
    /// Each container's effective value (the container's, else the pod's): how PSP judged.
    /// For SELinux options the pod-level value, when set, is judged as well (PSP's
    /// `ValidatePod`).
    Effective,
    /// Every value written anywhere (pod and each container), plus, where the rule requires a
    /// value, each container's effective value: how PSS judges.
    EveryValue,
}

/// Group-id settings constrained by PSP strategies.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum GroupField {
    /// `securityContext.runAsGroup` (pod and containers).
    RunAsGroup,
    /// `spec.securityContext.supplementalGroups`.
    SupplementalGroups,
    /// `spec.securityContext.fsGroup`.
    FsGroup,
}

impl GroupField {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupField::RunAsGroup => "runAsGroup",
            GroupField::SupplementalGroups => "supplementalGroups",
            GroupField::FsGroup => "fsGroup",
        }
    }
}

/// Where seccomp profiles are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ProfileSource {
    /// `seccomp.security.alpha.kubernetes.io/pod` and `container.seccomp…/<name>` only.
    Annotations,
    /// `securityContext.seccompProfile` only.
    Fields,
    /// Fields, with annotations standing in where no field is set.
    Both,
}

/// A validating constraint. Profile and option values are written in PSP's annotation form
/// (`runtime/default`, `docker/default`, `localhost/<path>`, `unconfined`) so that PSP and PSS
/// constraints compare directly; the evaluator maps pod fields onto that form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Constraint {
    /// `securityContext.privileged: true` on a container (PSP `privileged`, PSS `privileged`).
    Privileged { allowed: bool },
    /// Sharing a host namespace (PSP `hostNetwork`/`hostPID`/`hostIPC`, PSS `hostNamespaces`).
    HostNamespace {
        namespace: HostNamespace,
        allowed: bool,
    },
    /// Non-zero `ports[].hostPort` must lie in these ranges; empty means no host ports (PSP
    /// `hostPorts`, PSS `hostPorts`).
    HostPorts { allowed: Vec<IdRange> },
    /// `windowsOptions.hostProcess: true` (PSS `windowsHostProcess`; PSP has no such field).
    HostProcess { allowed: bool },
    /// `host` in probe and lifecycle handlers (PSS `hostProbesAndHostLifecycle`).
    ProbeHost { allowed: bool },
    /// Volume types, by PSP's `volumes` names (`configMap`, `hostPath`, `cephFS`, …).
    Volumes { allowed: NameSet },
    /// `hostPath` volumes must be under one of these prefixes (PSP `allowedHostPaths`).
    HostPaths { allowed: Vec<HostPathRule> },
    /// `flexVolume.driver` must be one of these (PSP `allowedFlexVolumes`).
    FlexVolumeDrivers { allowed: Vec<String> },
    /// Inline `csi.driver` must be one of these (PSP `allowedCSIDrivers`).
    CsiDrivers { allowed: Vec<String> },
    /// Capabilities a container may add.
    AddCapabilities { allowed: NameSet },
    /// Capabilities every container must drop (PSS restricted: `ALL`).
    DropCapabilities { required: Vec<String> },
    /// User ids (`runAsUser`) must lie in these ranges. With `required`, a container whose
    /// effective `runAsUser` is unset is rejected.
    RunAsUser {
        ranges: Vec<IdRange>,
        required: bool,
        scope: Scope,
    },
    /// Containers must not run as root: `runAsNonRoot: true`, or (PSP `MustRunAsNonRoot`) a
    /// non-zero `runAsUser`; an explicit `runAsNonRoot: false` is rejected.
    RunAsNonRoot {
        nonzero_uid_suffices: bool,
        scope: Scope,
    },
    /// Group ids (`runAsGroup`, `supplementalGroups`, `fsGroup`) must lie in these ranges; with
    /// `required`, an unset value is rejected (PSP `MustRunAs` after defaulting; `MayRunAs`
    /// allows unset).
    GroupIds {
        field: GroupField,
        ranges: Vec<IdRange>,
        required: bool,
    },
    /// Containers must set `readOnlyRootFilesystem: true`.
    ReadOnlyRootFilesystem,
    /// Containers must set `allowPrivilegeEscalation: false` (unset counts as allowed).
    NoPrivilegeEscalation,
    /// `procMount` values a container may use (`Default`, `Unmasked`).
    ProcMount { allowed: NameSet },
    /// SELinux options: each listed part must be one of the values (`""` means unset); a part
    /// that is `None` is not judged.
    SeLinux {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none", rename = "type")]
        type_: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        level: Option<Vec<String>>,
        scope: Scope,
    },
    /// Seccomp profiles (annotation form, `localhost/*` patterns). With `unset_allowed: false`,
    /// each container's effective profile must be set.
    Seccomp {
        allowed: NameSet,
        unset_allowed: bool,
        source: ProfileSource,
        scope: Scope,
    },
    /// AppArmor profiles (annotation form). With `unset_allowed: false`, each container's
    /// profile must be set.
    AppArmor {
        allowed: NameSet,
        unset_allowed: bool,
        scope: Scope,
    },
    /// `spec.securityContext.sysctls[].name`: allowed patterns, minus forbidden ones.
    Sysctls {
        allowed: NameSet,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        forbidden: Vec<String>,
    },
    /// `spec.runtimeClassName` must be one of these (PSP `runtimeClass.allowedRuntimeClassNames`);
    /// unset is allowed only when `""` is listed or the set is `Any`.
    RuntimeClass { allowed: NameSet },
}

impl Constraint {
    /// A stable, short name of the constraint kind (used for rule names and reports).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Constraint::Privileged { .. } => "privileged",
            Constraint::HostNamespace { namespace, .. } => match namespace {
                HostNamespace::Network => "host-network",
                HostNamespace::Pid => "host-pid",
                HostNamespace::Ipc => "host-ipc",
            },
            Constraint::HostPorts { .. } => "host-ports",
            Constraint::HostProcess { .. } => "host-process",
            Constraint::ProbeHost { .. } => "probe-host",
            Constraint::Volumes { .. } => "volumes",
            Constraint::HostPaths { .. } => "host-paths",
            Constraint::FlexVolumeDrivers { .. } => "flex-volumes",
            Constraint::CsiDrivers { .. } => "csi-drivers",
            Constraint::AddCapabilities { .. } => "add-capabilities",
            Constraint::DropCapabilities { .. } => "drop-capabilities",
            Constraint::RunAsUser { .. } => "run-as-user",
            Constraint::RunAsNonRoot { .. } => "run-as-non-root",
            Constraint::GroupIds { field, .. } => match field {
                GroupField::RunAsGroup => "run-as-group",
                GroupField::SupplementalGroups => "supplemental-groups",
                GroupField::FsGroup => "fs-group",
            },
            Constraint::ReadOnlyRootFilesystem => "read-only-root-filesystem",
            Constraint::NoPrivilegeEscalation => "allow-privilege-escalation",
            Constraint::ProcMount { .. } => "proc-mount",
            Constraint::SeLinux { .. } => "selinux",
            Constraint::Seccomp { .. } => "seccomp",
            Constraint::AppArmor { .. } => "apparmor",
            Constraint::Sysctls { .. } => "sysctls",
            Constraint::RuntimeClass { .. } => "runtime-class",
        }
    }
}

/// One entry of PSP `allowedHostPaths`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostPathRule {
    /// Path prefix, matched by whole path components (`/foo` allows `/foo/bar`, not `/food`).
    pub path_prefix: String,
    /// Volumes under this prefix must be mounted read-only.
    #[serde(default)]
    pub read_only: bool,
}

/// A mutation PSP admission applied to pods before validating them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Defaulting {
    pub action: DefaultAction,
    pub provenance: Provenance,
}

/// What a [`Defaulting`] does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "set", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum DefaultAction {
    /// Adds these capabilities to every container's `capabilities.add` (`defaultAddCapabilities`).
    AddCapabilities { capabilities: Vec<String> },
    /// Adds these capabilities to every container's `capabilities.drop`
    /// (`requiredDropCapabilities`).
    DropCapabilities { capabilities: Vec<String> },
    /// Sets `allowPrivilegeEscalation` on containers that leave it unset.
    AllowPrivilegeEscalation { value: bool },
    /// Sets `readOnlyRootFilesystem: true` on containers that leave it unset.
    ReadOnlyRootFilesystem,
    /// Sets `runAsNonRoot: true` on containers with neither it nor a `runAsUser` in effect.
    RunAsNonRoot,
    /// Sets `runAsUser` on containers with none in effect (first range's min).
    RunAsUser { value: i64 },
    /// Sets the pod's `runAsGroup`/`fsGroup`/`supplementalGroups` when unset.
    GroupId { field: GroupField, value: i64 },
    /// Sets the pod's `seLinuxOptions` when unset.
    SeLinuxOptions {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        user: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        role: String,
        #[serde(default, skip_serializing_if = "String::is_empty", rename = "type")]
        type_: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        level: String,
    },
    /// Sets the pod's seccomp profile when none is in effect (annotation form).
    SeccompProfile { profile: String },
    /// Sets each container's AppArmor profile when unset (annotation form).
    AppArmorProfile { profile: String },
    /// Sets `spec.runtimeClassName` when unset.
    RuntimeClass { name: String },
}

impl DefaultAction {
    /// A stable short name.
    pub fn kind_name(&self) -> &'static str {
        match self {
            DefaultAction::AddCapabilities { .. } => "default-add-capabilities",
            DefaultAction::DropCapabilities { .. } => "required-drop-capabilities",
            DefaultAction::AllowPrivilegeEscalation { .. } => "default-allow-privilege-escalation",
            DefaultAction::ReadOnlyRootFilesystem => "default-read-only-root-filesystem",
            DefaultAction::RunAsNonRoot => "default-run-as-non-root",
            DefaultAction::RunAsUser { .. } => "default-run-as-user",
            DefaultAction::GroupId { field, .. } => match field {
                GroupField::RunAsGroup => "default-run-as-group",
                GroupField::SupplementalGroups => "default-supplemental-groups",
                GroupField::FsGroup => "default-fs-group",
            },
            DefaultAction::SeLinuxOptions { .. } => "default-selinux-options",
            DefaultAction::SeccompProfile { .. } => "default-seccomp-profile",
            DefaultAction::AppArmorProfile { .. } => "default-apparmor-profile",
            DefaultAction::RuntimeClass { .. } => "default-runtime-class",
        }
    }
}

/// The IR document `polytrans psp --to ir` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IrDocument {
    /// Always [`IR_VERSION`].
    pub ir_version: String,
    pub policies: Vec<Policy>,
}

impl IrDocument {
    pub fn new(policies: Vec<Policy>) -> Self {
        IrDocument {
            ir_version: IR_VERSION.to_string(),
            policies,
        }
    }
}

/// The JSON Schema of [`IrDocument`], as committed under `schemas/ir.schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(IrDocument);
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge() {
        let r = normalise_ranges(vec![
            IdRange { min: 10, max: 20 },
            IdRange { min: 1, max: 5 },
            IdRange { min: 6, max: 8 },
            IdRange { min: 15, max: 30 },
        ]);
        assert_eq!(
            r,
            vec![IdRange { min: 1, max: 8 }, IdRange { min: 10, max: 30 }]
        );
    }

    #[test]
    fn name_sets() {
        let a = NameSet::only(["b", "a", "a"]);
        assert_eq!(a, NameSet::Only(vec!["a".into(), "b".into()]));
        assert_eq!(NameSet::only(["x", "*"]), NameSet::Any);
        assert!(a.is_subset_of(&NameSet::Any));
        assert!(!NameSet::Any.is_subset_of(&a));
        assert!(a.is_subset_of(&NameSet::any_except(["c"])));
        assert!(!a.is_subset_of(&NameSet::any_except(["a"])));
        let l = NameSet::only(["localhost/*"]);
        assert!(l.contains("localhost/x"));
        assert!(NameSet::only(["localhost/a/*"]).is_subset_of(&l));
        assert!(!l.is_subset_of(&NameSet::only(["localhost/a"])));
    }

    #[test]
    fn seccomp_runtime_default_aliases() {
        let both = NameSet::only(["docker/default", "runtime/default"]);
        assert_eq!(seccomp_profiles(NameSet::only(["docker/default"])), both);
        assert_eq!(seccomp_profiles(NameSet::only(["runtime/default"])), both);
        assert_eq!(
            seccomp_profiles(NameSet::only(["localhost/x"])),
            NameSet::only(["localhost/x"])
        );
        assert_eq!(
            seccomp_profiles(NameSet::any_except(["docker/default"])),
            NameSet::any_except(["docker/default", "runtime/default"])
        );
        assert_eq!(seccomp_profiles(NameSet::Any), NameSet::Any);
    }
}

//! `--to gatekeeper` (issue #5): OPA Gatekeeper constraints (`constraints.gatekeeper.sh/v1beta1`)
//! for the gatekeeper-library pod-security-policy ConstraintTemplates, plus mutators
//! (`Assign`, `ModifySet`) for the PSP's defaulting fields.
//!
//! The library's Rego is not shipped: the output names the templates it needs and the library
//! commit it was verified against. Every IR constraint is mapped to constraint parameters here,
//! into a typed view ([`PolicyView`]: constraints with their parameters, mutators with their
//! location and value, where they match); `templates/gatekeeper/constraints.yaml.j2` lays out
//! every document (apiVersion, kind, metadata, spec, match, enforcementAction, applyTo), so
//! `--templates DIR` can reshape them. Strings reach the YAML only through the `to_yaml` filter.

use super::{Emitted, Fidelity, FidelityEntry, Input, OutputFile, fidelity_comment, k8s_name};
use crate::ir::{
    Constraint, DefaultAction, Exemption, GroupField, HostNamespace, IdRange, NameSet, Policy,
    Scope,
};
use crate::scope::{Namespaces, Union};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The gatekeeper-library commit the constraints were verified against.
pub const LIBRARY_VERSION: &str = "5c441fb645f257b2c428fe9aea22da24a94b5bab";

/// Options of this backend.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// What a violation does: `spec.enforcementAction` of every constraint (`deny`, `dryrun`,
    /// `warn`).
    pub mode: super::Mode,
    /// Scope constraints and mutators to these namespaces (overrides RBAC).
    pub namespaces: Vec<String>,
    /// Namespaces the constraints do not apply to.
    pub exempt_namespaces: Vec<String>,
    /// Images exempt from the container checks (`exemptImages`; a trailing `*` is a prefix).
    pub exempt_images: Vec<String>,
}

/// Golden files of this backend (see [`super::golden_files`]).
pub const GOLDEN_FILES: &[(&str, &[&str])] = &[("gatekeeper.yaml", &["--to", "gatekeeper"])];

/// Templates whose Rego reads `exemptImages`.
const EXEMPT_IMAGES: &[&str] = &[
    "K8sPSPAllowPrivilegeEscalationContainer",
    "K8sPSPAppArmor",
    "K8sPSPCapabilities",
    "K8sPSPHostNetworkingPorts",
    "K8sPSPHostProbesLifecycle",
    "K8sPSPHostProcess",
    "K8sPSPPrivilegedContainer",
    "K8sPSPProcMount",
    "K8sPSPReadOnlyRootFilesystem",
    "K8sPSPSeccomp",
    "K8sPSPSELinuxV2",
    "K8sPSPAllowedUsers",
    OWN_APPARMOR,
    OWN_CAPABILITIES,
    OWN_HOST_PORTS,
    OWN_RUN_AS_NON_ROOT,
    OWN_SECCOMP,
    OWN_SELINUX,
];

// polytrans's own ConstraintTemplates (issue #17 §3): where no gatekeeper-library template
// expresses a PSP field exactly. Each carries Rego v1 and CEL (`K8sNativeValidation`) that
// agree; the output includes them (`templates/gatekeeper/own/*.yaml.j2`).
const OWN_APPARMOR: &str = "K8sPolytransPSPAppArmor";
const OWN_CAPABILITIES: &str = "K8sPolytransPSPCapabilities";
const OWN_CSI_DRIVERS: &str = "K8sPolytransPSPCSIDrivers";
const OWN_HOST_NAMESPACE: &str = "K8sPolytransPSPHostNamespace";
const OWN_HOST_PORTS: &str = "K8sPolytransPSPHostPorts";
const OWN_RUN_AS_NON_ROOT: &str = "K8sPolytransPSPRunAsNonRoot";
const OWN_RUNTIME_CLASS: &str = "K8sPolytransPSPRuntimeClass";
const OWN_SECCOMP: &str = "K8sPolytransPSPSeccomp";
const OWN_SELINUX: &str = "K8sPolytransPSPSELinux";
const OWN_VOLUME_TYPES: &str = "K8sPolytransPSPVolumeTypes";

/// polytrans's own ConstraintTemplates: (constraint kind, template
/// `templates/gatekeeper/own/<file>.yaml.j2`). The ConstraintTemplate's name is the kind in
/// lowercase, as Gatekeeper requires.
pub const OWN_TEMPLATES: &[(&str, &str)] = &[
    (OWN_APPARMOR, "apparmor"),
    (OWN_CAPABILITIES, "capabilities"),
    (OWN_CSI_DRIVERS, "csi-drivers"),
    (OWN_HOST_NAMESPACE, "host-namespace"),
    (OWN_HOST_PORTS, "host-ports"),
    (OWN_RUN_AS_NON_ROOT, "run-as-non-root"),
    (OWN_RUNTIME_CLASS, "runtime-class"),
    (OWN_SECCOMP, "seccomp"),
    (OWN_SELINUX, "selinux"),
    (OWN_VOLUME_TYPES, "volume-types"),
];

/// Parameters of `K8sPolytransPSPHostNamespace`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HostNamespaceParams {
    /// Pods may set `hostPID`.
    #[serde(rename = "hostPID")]
    host_pid: bool,
    /// Pods may set `hostIPC`.
    #[serde(rename = "hostIPC")]
    host_ipc: bool,
}

/// Parameters of `K8sPolytransPSPHostPorts`.
#[derive(Serialize)]
struct HostPortsParams {
    ranges: Vec<IdRange>,
}

/// Parameters of `K8sPolytransPSPCSIDrivers`.
#[derive(Serialize)]
struct CsiDriversParams {
    #[serde(rename = "allowedCSIDrivers")]
    allowed_csi_drivers: Vec<String>,
}

/// Parameters of `K8sPolytransPSPRuntimeClass`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuntimeClassParams {
    allowed_runtime_class_names: Vec<String>,
}

/// Parameters of `K8sPolytransPSPSeccomp` and `K8sPolytransPSPAppArmor`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProfilesParams {
    allowed_profiles: Vec<String>,
    /// AppArmor: the profile PSP set on a container without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    default_profile: Option<String>,
}

/// Parameters of `K8sPolytransPSPSELinux`: the allowed values of each judged part (`""`: unset).
#[derive(Serialize)]
struct SeLinuxParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Vec<String>>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    type_: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    level: Option<Vec<String>>,
}

/// Parameters of `K8sPolytransPSPVolumeTypes`.
#[derive(Serialize)]
struct VolumeTypesParams {
    /// The pod's volume source keys (`cephfs` for PSP's `cephFS`).
    volumes: Vec<String>,
}

/// Parameters of `K8sPolytransPSPRunAsNonRoot` (`exemptImages` is added with the others).
#[derive(Serialize)]
struct RunAsNonRootParams {}

/// A typed parameter object as the constraint's `spec.parameters`.
fn typed_params<T: Serialize>(t: &T) -> serde_json::Map<String, Value> {
    match serde_json::to_value(t) {
        Ok(Value::Object(m)) => m,
        _ => unreachable!("parameters serialise to an object"),
    }
}

/// Sets every parameter of a typed parameter object on constraint `kind`.
fn set_typed<T: Serialize>(
    set: &mut impl FnMut(&'static str, &'static str, &str, Value),
    kind: &'static str,
    suffix: &'static str,
    params: &T,
) {
    set(kind, suffix, "", Value::Null);
    for (k, v) in typed_params(params) {
        set(kind, suffix, &k, v);
    }
}

/// One constraint being built: its kind, name suffix and parameters.
#[derive(Clone, PartialEq)]
struct Built {
    kind: &'static str,
    suffix: &'static str,
    params: serde_json::Map<String, Value>,
}

/// The constraints and mutators for one policy, and what they cost.
#[derive(Default)]
pub struct PolicyOutput {
    /// What the template lays out.
    pub view: PolicyView,
    pub fidelity: Vec<FidelityEntry>,
    pub templates: Vec<&'static str>,
}

/// One policy's documents, as `templates/gatekeeper/constraints.yaml.j2` receives them (the
/// template's `policies` list).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PolicyView {
    /// The `polytrans.dev/scope` annotation of every document (how RBAC scoped them).
    pub scope: Option<String>,
    /// `spec.match` of every constraint (and of every mutator when `match.scoped`).
    #[serde(rename = "match")]
    pub match_: MatchView,
    pub constraints: Vec<ConstraintView>,
    pub mutators: Vec<MutatorView>,
}

/// Where a policy's documents apply (`spec.match`, besides `kinds: Pod`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MatchView {
    /// `namespaces`; `None`: every namespace (the key is left out).
    pub namespaces: Option<Vec<String>>,
    /// `excludedNamespaces`; empty: the key is left out.
    pub excluded_namespaces: Vec<String>,
    /// Whether either key is written: mutators then carry a `match` (with `scope: Namespaced`).
    pub scoped: bool,
}

/// One constraint (`constraints.gatekeeper.sh/v1beta1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConstraintView {
    /// The library's constraint kind (`K8sPSP...`).
    pub kind: &'static str,
    /// `metadata.name`.
    pub name: String,
    /// `spec.parameters`, the library template's own parameter object (written by the
    /// `to_yaml` filter); empty: the key is left out.
    pub parameters: serde_json::Map<String, Value>,
}

/// One mutator (`mutations.gatekeeper.sh/v1`) for a PSP default, applied to Pods.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MutatorView {
    /// `Assign` (the value when the location is unset) or `ModifySet` (merge into a list).
    pub kind: &'static str,
    /// `metadata.name`.
    pub name: String,
    /// `spec.location`.
    pub location: String,
    /// `Assign`: `parameters.assign.value`, set only where `location` does not exist.
    pub value: Option<Value>,
    /// `ModifySet`: `parameters.values.fromList`, merged in.
    pub values: Vec<String>,
}

fn ranges_json(r: &[IdRange]) -> Value {
    Value::Array(
        r.iter()
            .map(|r| json!({"min": r.min, "max": r.max}))
            .collect(),
    )
}

/// Where one policy's constraints and mutators apply (`spec.match`), from the options, the
/// policy's own exemptions and, when the input holds RBAC, which namespaces may use the PSP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchScope {
    /// `None`: every namespace.
    pub namespaces: Option<Vec<String>>,
    /// Namespaces left out (where another usable PSP admits everything this one does).
    pub excluded: Vec<String>,
    /// Why (RBAC bindings), written as the `polytrans.dev/scope` annotation.
    pub why: Option<String>,
}

/// Translates one policy, every namespace in scope (no RBAC).
pub fn translate(p: &Policy, args: &Options) -> PolicyOutput {
    translate_scoped(p, args, &MatchScope::default())
}

/// Translates one policy for a [`MatchScope`].
pub fn translate_scoped(p: &Policy, args: &Options, scope: &MatchScope) -> PolicyOutput {
    let mut out = PolicyOutput::default();
    let built: std::cell::RefCell<BTreeMap<&'static str, Built>> = Default::default();
    let fid = |field: &str, f: Fidelity, note: &str| {
        (p.name.clone(), field.to_string(), f, note.to_string())
    };
    let mut entries = Vec::new();
    let mut set = |kind: &'static str, suffix: &'static str, key: &str, v: Value| {
        let mut built = built.borrow_mut();
        let b = built.entry(kind).or_insert_with(|| Built {
            kind,
            suffix,
            params: serde_json::Map::new(),
        });
        if !key.is_empty() {
            b.params.insert(key.to_string(), v);
        }
    };
    let mut host_ns: Vec<(HostNamespace, String)> = Vec::new();
    let mut own_capabilities = false;
    // PSP's AppArmor default: the own AppArmor template judges a container without a profile
    // with it.
    let apparmor_default: Option<String> = p.defaults.iter().find_map(|d| match &d.action {
        DefaultAction::AppArmorProfile { profile } => Some(profile.clone()),
        _ => None,
    });
    let mut mutator_views: Vec<MutatorView> = Vec::new();
    let is_level = matches!(p.origin, crate::ir::Origin::Level { .. });
    for r in &p.rules {
        let field = r.provenance.field.as_str();
        let before = built.borrow().clone();
        let (f, note): (Fidelity, String) = match &r.constraint {
            Constraint::Privileged { allowed } => {
                if !allowed {
                    set("K8sPSPPrivilegedContainer", "privileged", "", Value::Null);
                }
                (Fidelity::Exact, "K8sPSPPrivilegedContainer".into())
            }
            Constraint::HostNamespace { namespace, allowed } => match namespace {
                HostNamespace::Network => {
                    set(
                        "K8sPSPHostNetworkingPorts",
                        "host-network-ports",
                        "hostNetwork",
                        Value::Bool(*allowed),
                    );
                    (
                        Fidelity::Exact,
                        "K8sPSPHostNetworkingPorts `hostNetwork`".into(),
                    )
                }
                ns => {
                    if *allowed {
                        (Fidelity::Exact, "allowed: no constraint".into())
                    } else {
                        // Decided after every rule is read: the library's template forbids both
                        // namespaces together, polytrans's own one each apart.
                        host_ns.push((*ns, field.to_string()));
                        (Fidelity::Exact, String::new())
                    }
                }
            },
            Constraint::HostPorts { allowed } => match allowed.as_slice() {
                [] => {
                    set(
                        "K8sPSPHostNetworkingPorts",
                        "host-network-ports",
                        "min",
                        json!(0),
                    );
                    set(
                        "K8sPSPHostNetworkingPorts",
                        "host-network-ports",
                        "max",
                        json!(0),
                    );
                    (
                        Fidelity::Exact,
                        "K8sPSPHostNetworkingPorts `min: 0, max: 0`".into(),
                    )
                }
                [one] => {
                    set(
                        "K8sPSPHostNetworkingPorts",
                        "host-network-ports",
                        "min",
                        json!(one.min),
                    );
                    set(
                        "K8sPSPHostNetworkingPorts",
                        "host-network-ports",
                        "max",
                        json!(one.max),
                    );
                    (
                        Fidelity::Exact,
                        "K8sPSPHostNetworkingPorts `min`/`max`".into(),
                    )
                }
                many => {
                    // The library's template takes one range: polytrans's own one takes them all
                    // (K8sPSPHostNetworkingPorts keeps `hostNetwork`, with no port bounds).
                    set_typed(
                        &mut set,
                        OWN_HOST_PORTS,
                        "host-ports",
                        &HostPortsParams {
                            ranges: many.to_vec(),
                        },
                    );
                    (
                        Fidelity::Exact,
                        format!("{OWN_HOST_PORTS} `ranges` (several ranges)"),
                    )
                }
            },
            Constraint::Volumes { allowed } => match allowed {
                NameSet::Any => (Fidelity::Exact, "every volume type allowed".into()),
                NameSet::Only(v)
                    if !is_level
                        && v.iter().any(|t| t == "secret")
                        && !v.iter().any(|t| t == "projected") =>
                {
                    // PSP's `secret` also allows the projected service-account token volume
                    // (`IsOnlyServiceAccountTokenSources`), which the library rejects.
                    let keys: Vec<String> = v
                        .iter()
                        .map(|t| crate::k8s::pod_volume_key(t).to_string())
                        .collect();
                    set_typed(
                        &mut set,
                        OWN_VOLUME_TYPES,
                        "volume-types",
                        &VolumeTypesParams { volumes: keys },
                    );
                    (
                        Fidelity::Exact,
                        format!(
                            "{OWN_VOLUME_TYPES} `volumes` (`secret` also allows the projected service-account token)"
                        ),
                    )
                }
                NameSet::Only(v) => {
                    // The template compares the pod's volume source keys (`cephfs` for PSP's
                    // `cephFS`).
                    let keys: Vec<&str> = v.iter().map(|t| crate::k8s::pod_volume_key(t)).collect();
                    set("K8sPSPVolumeTypes", "volume-types", "volumes", json!(keys));
                    (Fidelity::Exact, "K8sPSPVolumeTypes `volumes`".into())
                }
                NameSet::AnyExcept(_) => (
                    Fidelity::Unsupported,
                    "K8sPSPVolumeTypes takes an allow-list only".into(),
                ),
            },
            Constraint::HostPaths { allowed } => {
                let v: Vec<Value> = allowed
                    .iter()
                    .map(|h| json!({"pathPrefix": h.path_prefix, "readOnly": h.read_only}))
                    .collect();
                set(
                    "K8sPSPHostFilesystem",
                    "host-filesystem",
                    "allowedHostPaths",
                    Value::Array(v),
                );
                (
                    Fidelity::Exact,
                    "K8sPSPHostFilesystem `allowedHostPaths`".into(),
                )
            }
            Constraint::FlexVolumeDrivers { allowed } => {
                let v: Vec<Value> = allowed.iter().map(|d| json!({"driver": d})).collect();
                set(
                    "K8sPSPFlexVolumes",
                    "flexvolumes",
                    "allowedFlexVolumes",
                    Value::Array(v),
                );
                (
                    Fidelity::Exact,
                    "K8sPSPFlexVolumes `allowedFlexVolumes`".into(),
                )
            }
            Constraint::AddCapabilities { allowed } => match allowed {
                NameSet::Any => {
                    set(
                        "K8sPSPCapabilities",
                        "capabilities",
                        "allowedCapabilities",
                        json!(["*"]),
                    );
                    (
                        Fidelity::Exact,
                        "K8sPSPCapabilities `allowedCapabilities`".into(),
                    )
                }
                NameSet::Only(v) => {
                    set(
                        "K8sPSPCapabilities",
                        "capabilities",
                        "allowedCapabilities",
                        json!(v),
                    );
                    if v.is_empty() {
                        (
                            Fidelity::Exact,
                            "K8sPSPCapabilities `allowedCapabilities`".into(),
                        )
                    } else {
                        // The library compares capability names case-insensitively (it would
                        // admit `chown` where PSP allows only `CHOWN`): polytrans's own template
                        // takes the adds and the required drops.
                        own_capabilities = true;
                        (
                            Fidelity::Exact,
                            format!(
                                "{OWN_CAPABILITIES} `allowedCapabilities` (names compared exactly)"
                            ),
                        )
                    }
                }
                NameSet::AnyExcept(_) => (
                    Fidelity::Unsupported,
                    "K8sPSPCapabilities takes an allow-list only".into(),
                ),
            },
            Constraint::DropCapabilities { required } => {
                set(
                    "K8sPSPCapabilities",
                    "capabilities",
                    "requiredDropCapabilities",
                    json!(required),
                );
                (
                    Fidelity::Exact,
                    "`requiredDropCapabilities` of the capabilities constraint".into(),
                )
            }
            Constraint::RunAsUser {
                ranges,
                required,
                scope,
            } => {
                let rule = if *required { "MustRunAs" } else { "MayRunAs" };
                set(
                    "K8sPSPAllowedUsers",
                    "allowed-users",
                    "runAsUser",
                    json!({"rule": rule, "ranges": ranges_json(ranges)}),
                );
                scope_fidelity(*scope, "K8sPSPAllowedUsers `runAsUser`")
            }
            Constraint::RunAsNonRoot {
                scope: Scope::Effective,
                nonzero_uid_suffices: true,
            } if !is_level => {
                // The library reads `runAsNonRoot` only where no `runAsUser` is in effect (it
                // admits `runAsNonRoot: false` with a non-zero `runAsUser`, which PSP rejected).
                set_typed(
                    &mut set,
                    OWN_RUN_AS_NON_ROOT,
                    "run-as-non-root",
                    &RunAsNonRootParams {},
                );
                (
                    Fidelity::Exact,
                    format!("{OWN_RUN_AS_NON_ROOT} (effective values, as PSP judged them)"),
                )
            }
            Constraint::RunAsNonRoot {
                scope,
                nonzero_uid_suffices,
            } => {
                set(
                    "K8sPSPAllowedUsers",
                    "allowed-users",
                    "runAsUser",
                    json!({"rule": "MustRunAsNonRoot"}),
                );
                match scope_fidelity(
                    *scope,
                    "K8sPSPAllowedUsers `runAsUser.rule: MustRunAsNonRoot`",
                ) {
                    // The library reads `runAsNonRoot` only when no `runAsUser` is in effect.
                    (Fidelity::Exact, what) if *nonzero_uid_suffices => (
                        Fidelity::Approximated,
                        format!(
                            "{what}: the library admits an explicit `runAsNonRoot: false` when a non-zero `runAsUser` is in effect; PSP rejected it"
                        ),
                    ),
                    other => other,
                }
            }
            Constraint::GroupIds {
                field,
                ranges,
                required,
            } => {
                let rule = if *required { "MustRunAs" } else { "MayRunAs" };
                set(
                    "K8sPSPAllowedUsers",
                    "allowed-users",
                    field.as_str(),
                    json!({"rule": rule, "ranges": ranges_json(ranges)}),
                );
                (
                    Fidelity::Exact,
                    format!("K8sPSPAllowedUsers `{}`", field.as_str()),
                )
            }
            Constraint::ReadOnlyRootFilesystem => {
                set(
                    "K8sPSPReadOnlyRootFilesystem",
                    "read-only-root-filesystem",
                    "",
                    Value::Null,
                );
                (Fidelity::Exact, "K8sPSPReadOnlyRootFilesystem".into())
            }
            Constraint::NoPrivilegeEscalation => {
                set(
                    "K8sPSPAllowPrivilegeEscalationContainer",
                    "allow-privilege-escalation",
                    "",
                    Value::Null,
                );
                (
                    Fidelity::Exact,
                    "K8sPSPAllowPrivilegeEscalationContainer".into(),
                )
            }
            Constraint::ProcMount { allowed } => {
                let v = if allowed.contains("Unmasked") {
                    "Unmasked"
                } else {
                    "Default"
                };
                set("K8sPSPProcMount", "proc-mount", "procMount", json!(v));
                (Fidelity::Exact, "K8sPSPProcMount `procMount`".into())
            }
            Constraint::SeLinux {
                user,
                role,
                type_,
                level,
                scope: Scope::Effective,
            } if !is_level => {
                // PSP compared every part, an unset one as `""`, and levels by their categories
                // in any order; the library admits unset parts.
                set_typed(
                    &mut set,
                    OWN_SELINUX,
                    "selinux",
                    &SeLinuxParams {
                        user: user.clone(),
                        role: role.clone(),
                        type_: type_.clone(),
                        level: level.clone(),
                    },
                );
                (
                    Fidelity::Exact,
                    format!("{OWN_SELINUX} (pod and effective container options)"),
                )
            }
            Constraint::SeLinux {
                user,
                role,
                type_,
                level,
                scope,
            } => {
                let parts = [
                    ("user", user),
                    ("role", role),
                    ("type", type_),
                    ("level", level),
                ];
                let mut combos: Vec<serde_json::Map<String, Value>> = vec![serde_json::Map::new()];
                for (k, vals) in parts {
                    if let Some(vals) = vals {
                        let mut next = Vec::new();
                        for c in &combos {
                            for v in vals {
                                let mut c = c.clone();
                                if !v.is_empty() {
                                    c.insert(k.into(), json!(v));
                                }
                                next.push(c);
                            }
                        }
                        combos = next;
                    }
                }
                set(
                    "K8sPSPSELinuxV2",
                    "selinux",
                    "allowedSELinuxOptions",
                    Value::Array(combos.into_iter().map(Value::Object).collect()),
                );
                scope_fidelity(*scope, "K8sPSPSELinuxV2 `allowedSELinuxOptions`")
            }
            Constraint::Seccomp {
                allowed: NameSet::Only(v),
                ..
            } if !is_level => {
                // PSP judged the pod's profile as well as each container's, read annotations
                // and fields, and required a profile when the list is not empty: polytrans's own
                // template does all of that.
                set_typed(
                    &mut set,
                    OWN_SECCOMP,
                    "seccomp",
                    &ProfilesParams {
                        allowed_profiles: v.clone(),
                        default_profile: None,
                    },
                );
                (
                    Fidelity::Exact,
                    format!(
                        "{OWN_SECCOMP} `allowedProfiles` (pod and containers, annotations and fields)"
                    ),
                )
            }
            Constraint::AppArmor {
                allowed: NameSet::Only(v),
                ..
            } if !is_level => {
                // PSP required a profile on every container (after setting its default): the
                // library reads a missing one as `runtime/default`.
                set_typed(
                    &mut set,
                    OWN_APPARMOR,
                    "apparmor",
                    &ProfilesParams {
                        allowed_profiles: v.iter().filter(|p| !p.is_empty()).cloned().collect(),
                        default_profile: apparmor_default.clone(),
                    },
                );
                (Fidelity::Exact, format!("{OWN_APPARMOR} `allowedProfiles`"))
            }
            Constraint::Seccomp {
                allowed,
                unset_allowed,
                scope,
                ..
            } => {
                let (f, note) = profiles_rule(
                    &mut set,
                    ("K8sPSPSeccomp", "seccomp"),
                    allowed,
                    *unset_allowed,
                );
                match (f, scope) {
                    (Fidelity::Exact, Scope::EveryValue) => scope_fidelity(*scope, &note),
                    _ => (f, note),
                }
            }
            Constraint::AppArmor {
                allowed,
                unset_allowed,
                scope,
                ..
            } => {
                let (f, note) = profiles_rule(
                    &mut set,
                    ("K8sPSPAppArmor", "apparmor"),
                    allowed,
                    *unset_allowed,
                );
                match (f, scope) {
                    (Fidelity::Exact, Scope::EveryValue) => scope_fidelity(*scope, &note),
                    _ => (f, note),
                }
            }
            Constraint::Sysctls { allowed, forbidden } => {
                let allowed_v: Vec<String> = match allowed {
                    NameSet::Any => vec!["*".into()],
                    NameSet::Only(v) => v.clone(),
                    NameSet::AnyExcept(v) => {
                        let mut all = v.clone();
                        all.extend(forbidden.iter().cloned());
                        all.sort();
                        all.dedup();
                        set(
                            "K8sPSPForbiddenSysctls",
                            "forbidden-sysctls",
                            "forbiddenSysctls",
                            json!(all),
                        );
                        vec!["*".into()]
                    }
                };
                if !matches!(allowed, NameSet::AnyExcept(_)) {
                    set(
                        "K8sPSPForbiddenSysctls",
                        "forbidden-sysctls",
                        "forbiddenSysctls",
                        json!(forbidden),
                    );
                }
                set(
                    "K8sPSPForbiddenSysctls",
                    "forbidden-sysctls",
                    "allowedSysctls",
                    json!(allowed_v),
                );
                (Fidelity::Exact, "K8sPSPForbiddenSysctls".into())
            }
            Constraint::HostProcess { allowed } => {
                if !allowed {
                    set("K8sPSPHostProcess", "host-process", "", Value::Null);
                }
                (Fidelity::Exact, "K8sPSPHostProcess".into())
            }
            Constraint::ProbeHost { allowed } => {
                if !allowed {
                    set(
                        "K8sPSPHostProbesLifecycle",
                        "host-probes-lifecycle",
                        "",
                        Value::Null,
                    );
                }
                (Fidelity::Exact, "K8sPSPHostProbesLifecycle".into())
            }
            Constraint::CsiDrivers { allowed } => {
                // No gatekeeper-library template checks inline CSI drivers.
                set_typed(
                    &mut set,
                    OWN_CSI_DRIVERS,
                    "csi-drivers",
                    &CsiDriversParams {
                        allowed_csi_drivers: allowed.clone(),
                    },
                );
                (
                    Fidelity::Exact,
                    format!("{OWN_CSI_DRIVERS} `allowedCSIDrivers`"),
                )
            }
            Constraint::RuntimeClass { allowed } => match allowed {
                NameSet::Any => (Fidelity::Exact, "every RuntimeClass allowed".into()),
                NameSet::Only(v) => {
                    // No gatekeeper-library template checks `runtimeClassName`. An unset
                    // `runtimeClassName` is allowed, as PSP allowed it.
                    let names: Vec<String> = v.iter().filter(|n| !n.is_empty()).cloned().collect();
                    set_typed(
                        &mut set,
                        OWN_RUNTIME_CLASS,
                        "runtime-class",
                        &RuntimeClassParams {
                            allowed_runtime_class_names: names,
                        },
                    );
                    (
                        Fidelity::Exact,
                        format!("{OWN_RUNTIME_CLASS} `allowedRuntimeClassNames`"),
                    )
                }
                NameSet::AnyExcept(_) => (
                    Fidelity::Unsupported,
                    format!("{OWN_RUNTIME_CLASS} takes an allow-list only"),
                ),
            },
        };
        let (f, note) = if r.unless.is_empty() || f != Fidelity::Exact {
            (f, note)
        } else {
            let who: Vec<&str> = r
                .unless
                .iter()
                .map(|e| match e {
                    Exemption::WindowsPod => "Windows pods",
                    Exemption::UserNamespacePod => "pods with `hostUsers: false`",
                })
                .collect();
            (
                Fidelity::Approximated,
                format!(
                    "{note}; the check exempts {}, which the library's template also judges",
                    who.join(" and ")
                ),
            )
        };
        // A level's checks judge pods upstream's fixtures pin down: where the library cannot
        // express a check exactly, no constraint is better than one that may reject pods the
        // level admits.
        let (f, note) = if is_level && f != Fidelity::Exact && *built.borrow() != before {
            *built.borrow_mut() = before;
            (Fidelity::Unsupported, format!("not enforced: {note}"))
        } else {
            (f, note)
        };
        entries.push(fid(field, f, &note));
    }
    let mut built = built.into_inner();
    // Capabilities: the own template takes the whole constraint where the library's
    // case-insensitive comparison is not exact.
    if own_capabilities && let Some(mut b) = built.remove("K8sPSPCapabilities") {
        b.kind = OWN_CAPABILITIES;
        built.insert(OWN_CAPABILITIES, b);
    }
    // Both templates read a missing `allowedCapabilities` as "none": where only the drop list
    // made the constraint, added capabilities are not judged.
    for kind in ["K8sPSPCapabilities", OWN_CAPABILITIES] {
        if let Some(b) = built.get_mut(kind) {
            b.params
                .entry("allowedCapabilities")
                .or_insert_with(|| json!(["*"]));
        }
    }
    if !p.images.is_empty() {
        entries.push(fid(
            "metadata.annotations[falco-rules-psp-images]",
            Fidelity::Approximated,
            "the library cannot limit a constraint to some images: every container is judged",
        ));
    }
    // hostPID and hostIPC: the library's template rejects both together; where only one is
    // forbidden, polytrans's own template judges each apart.
    let forbids = |ns: HostNamespace| host_ns.iter().any(|(n, _)| *n == ns);
    let (kind, note) = match (forbids(HostNamespace::Pid), forbids(HostNamespace::Ipc)) {
        (true, true) => (
            "K8sPSPHostNamespace",
            "K8sPSPHostNamespace (rejects hostPID and hostIPC)".to_string(),
        ),
        (pid, _) => (
            OWN_HOST_NAMESPACE,
            format!(
                "{OWN_HOST_NAMESPACE} (rejects {})",
                if pid { "hostPID" } else { "hostIPC" }
            ),
        ),
    };
    if !host_ns.is_empty() {
        built.insert(
            kind,
            Built {
                kind,
                suffix: "host-namespace",
                params: if kind == OWN_HOST_NAMESPACE {
                    typed_params(&HostNamespaceParams {
                        host_pid: !forbids(HostNamespace::Pid),
                        host_ipc: !forbids(HostNamespace::Ipc),
                    })
                } else {
                    serde_json::Map::new()
                },
            },
        );
        for e in entries
            .iter_mut()
            .filter(|e| host_ns.iter().any(|(_, f)| *f == e.1))
        {
            e.3 = note.clone();
        }
    }
    // Mutators.
    let own_apparmor = built.contains_key(OWN_APPARMOR);
    for d in &p.defaults {
        let field = d.provenance.field.as_str();
        let (f, note) = match &d.action {
            DefaultAction::AppArmorProfile { .. } if own_apparmor => (
                Fidelity::Approximated,
                format!(
                    "{OWN_APPARMOR} judges a container without a profile as if it had the default, as PSP did after setting it; the annotation is not written (AssignMetadata cannot key it by container name)"
                ),
            ),
            action => mutators(p, action, &mut mutator_views),
        };
        entries.push(fid(field, f, &note));
    }
    let exempt_images: Vec<&String> = {
        let mut v: Vec<&String> = args.exempt_images.iter().chain(&p.exempt_images).collect();
        v.sort();
        v.dedup();
        v
    };
    let match_ = match_view(args, p, scope);
    let mut constraints = Vec::new();
    for b in built.into_values() {
        let mut params = b.params;
        if !exempt_images.is_empty() && EXEMPT_IMAGES.contains(&b.kind) {
            params.insert("exemptImages".into(), json!(exempt_images));
        }
        out.templates.push(b.kind);
        constraints.push(ConstraintView {
            kind: b.kind,
            name: format!("{}-{}", k8s_name(&p.name), b.suffix),
            parameters: params,
        });
    }
    out.view = PolicyView {
        scope: scope.why.clone(),
        match_,
        constraints,
        mutators: mutator_views,
    };
    out.fidelity = entries
        .into_iter()
        .map(|(policy, field, fidelity, note)| FidelityEntry {
            policy,
            field,
            fidelity,
            note,
        })
        .collect();
    out
}

/// K8sPSPSeccomp reads a `RuntimeDefault` field as whichever of `runtime/default` and
/// `docker/default` the list holds, as PSP did. Sets lowered from a PSP name both spellings
/// (`ir::seccomp_profiles`); only an IR set that names `docker/default` alone, where the IR
/// evaluator reads the field as `runtime/default`, is reported here.
fn seccomp_default_alias(kind: &str, v: &[&String]) -> (Fidelity, String) {
    let has = |p: &str| v.iter().any(|x| x.as_str() == p);
    if kind == "K8sPSPSeccomp" && has("docker/default") && !has("runtime/default") {
        (
            Fidelity::Approximated,
            format!(
                "{kind} `allowedProfiles`: the library reads a `RuntimeDefault` field as `docker/default` when only that is listed, so it admits what PSP reads as `runtime/default` and rejects"
            ),
        )
    } else {
        (Fidelity::Exact, format!("{kind} `allowedProfiles`"))
    }
}

/// The value K8sPSPSeccomp gives a container without any seccomp profile.
pub const SECCOMP_UNSET: &str = "not configured";

/// Seccomp and AppArmor. A container without a profile: K8sPSPSeccomp rejects it unless
/// `allowedProfiles` holds `*`; K8sPSPAppArmor reads it as `runtime/default`.
fn profiles_rule(
    set: &mut impl FnMut(&'static str, &'static str, &str, Value),
    (kind, suffix): (&'static str, &'static str),
    allowed: &NameSet,
    unset_allowed: bool,
) -> (Fidelity, String) {
    match allowed {
        NameSet::Any => (Fidelity::Exact, "every profile allowed".into()),
        NameSet::AnyExcept(_) => (
            Fidelity::Unsupported,
            format!("{kind} takes an allow-list only"),
        ),
        // K8sPSPSeccomp names a container without any profile `not configured` (in its Rego
        // and its CEL alike, verified against LIBRARY_VERSION): listing that value admits
        // unset profiles.
        NameSet::Only(v) if kind == "K8sPSPSeccomp" && unset_allowed => {
            let named: Vec<&String> = v.iter().filter(|p| !p.is_empty()).collect();
            let mut list: Vec<&str> = named.iter().map(|p| p.as_str()).collect();
            list.push(SECCOMP_UNSET);
            set(kind, suffix, "allowedProfiles", json!(list));
            match seccomp_default_alias(kind, &named) {
                (Fidelity::Exact, _) => (
                    Fidelity::Exact,
                    format!(
                        "{kind} `allowedProfiles`, with `{SECCOMP_UNSET}` for containers without a profile"
                    ),
                ),
                other => other,
            }
        }
        NameSet::Only(v) if v.is_empty() && unset_allowed => (
            Fidelity::Unsupported,
            format!(
                "the PSP allows only unset profiles; {kind} cannot require a profile to be absent"
            ),
        ),
        NameSet::Only(v) if kind == "K8sPSPAppArmor" && v.iter().any(|p| p.ends_with('*')) => (
            Fidelity::Unsupported,
            format!(
                "{kind} compares profiles exactly: it cannot express the pattern(s) of the allowed list"
            ),
        ),
        NameSet::Only(v) => {
            // `""` stands for an unset profile in level policies; `unset_allowed` carries it.
            let v: Vec<&String> = v.iter().filter(|p| !p.is_empty()).collect();
            set(kind, suffix, "allowedProfiles", json!(v));
            let apparmor = kind == "K8sPSPAppArmor";
            let library_admits_unset = apparmor && v.iter().any(|p| *p == "runtime/default");
            match (unset_allowed, library_admits_unset) {
                (true, false) => (
                    Fidelity::Approximated,
                    format!(
                        "{kind} `allowedProfiles`: the library also rejects containers without a profile, which the PSP allows"
                    ),
                ),
                (false, true) => (
                    Fidelity::Approximated,
                    format!(
                        "{kind} `allowedProfiles`: the library reads an unset profile as `runtime/default` and admits it; the PSP requires a profile to be set"
                    ),
                ),
                _ if apparmor => (
                    Fidelity::Exact,
                    format!(
                        "{kind} `allowedProfiles` (an unset profile reads as `runtime/default`)"
                    ),
                ),
                _ => seccomp_default_alias(kind, &v),
            }
        }
    }
}

fn scope_fidelity(scope: Scope, what: &str) -> (Fidelity, String) {
    match scope {
        Scope::Effective => (Fidelity::Exact, what.to_string()),
        Scope::EveryValue => (
            Fidelity::Approximated,
            format!("{what}: the library judges effective values only"),
        ),
    }
}

fn match_view(args: &Options, p: &Policy, scope: &MatchScope) -> MatchView {
    // `--gatekeeper-namespaces` overrides the RBAC-derived list.
    let namespaces = if args.namespaces.is_empty() {
        scope.namespaces.clone()
    } else {
        Some(args.namespaces.clone())
    };
    let mut excluded: Vec<String> = args
        .exempt_namespaces
        .iter()
        .chain(&p.exempt_namespaces)
        .chain(&scope.excluded)
        .cloned()
        .collect();
    excluded.sort();
    excluded.dedup();
    MatchView {
        scoped: namespaces.is_some() || !excluded.is_empty(),
        namespaces,
        excluded_namespaces: excluded,
    }
}

/// The container lists PSP defaulting applies to, with the mutator name suffix of each.
const CONTAINER_KINDS: [(&str, &str); 3] = [
    ("containers", "c"),
    ("initContainers", "ic"),
    ("ephemeralContainers", "ec"),
];

fn assign(name: String, location: String, value: Value) -> MutatorView {
    MutatorView {
        kind: "Assign",
        name,
        location,
        value: Some(value),
        values: vec![],
    }
}

fn modify_set(name: String, location: String, values: &[String]) -> MutatorView {
    MutatorView {
        kind: "ModifySet",
        name,
        location,
        value: None,
        values: values.to_vec(),
    }
}

/// Mutators for one defaulting action.
fn mutators(p: &Policy, a: &DefaultAction, out: &mut Vec<MutatorView>) -> (Fidelity, String) {
    let base = format!("{}-{}", k8s_name(&p.name), a.kind_name());
    let per_container = |out: &mut Vec<MutatorView>, path: &str, v: Value| {
        for (list, short) in CONTAINER_KINDS {
            out.push(assign(
                format!("{base}-{short}"),
                format!("spec.{list}[name:*].securityContext.{path}"),
                v.clone(),
            ));
        }
    };
    match a {
        DefaultAction::AllowPrivilegeEscalation { value } => {
            per_container(out, "allowPrivilegeEscalation", json!(value));
            (Fidelity::Exact, "Assign when unset".into())
        }
        DefaultAction::ReadOnlyRootFilesystem => {
            per_container(out, "readOnlyRootFilesystem", json!(true));
            (Fidelity::Exact, "Assign when unset".into())
        }
        DefaultAction::RunAsNonRoot => {
            // On the pod, when the pod leaves it unset: a container's own value, and a
            // pod-level `runAsNonRoot: false`, are kept and judged, as under PSP (a per-container
            // Assign would override the pod's `false`).
            out.push(assign(
                base,
                "spec.securityContext.runAsNonRoot".into(),
                json!(true),
            ));
            (
                Fidelity::Exact,
                "Assign on the pod when unset: containers without their own value inherit it".into(),
            )
        }
        DefaultAction::RunAsUser { value } => {
            // PSP set a container's `runAsUser` only when neither it nor the pod sets one. An
            // Assign can test only its own path, so the default goes on the pod when the pod
            // leaves it unset: every container without its own value inherits it, and a
            // pod-level value is kept (and judged), as under PSP.
            out.push(assign(
                base,
                "spec.securityContext.runAsUser".into(),
                json!(value),
            ));
            (
                Fidelity::Exact,
                "Assign on the pod when unset: containers without their own value inherit it".into(),
            )
        }
        DefaultAction::GroupId { field, value } => {
            let v = if *field == GroupField::SupplementalGroups {
                json!([value])
            } else {
                json!(value)
            };
            out.push(assign(
                base,
                format!("spec.securityContext.{}", field.as_str()),
                v,
            ));
            (Fidelity::Exact, "Assign on the pod when unset".into())
        }
        DefaultAction::AddCapabilities { capabilities }
        | DefaultAction::DropCapabilities { capabilities } => {
            let which = if matches!(a, DefaultAction::AddCapabilities { .. }) {
                "add"
            } else {
                "drop"
            };
            for (list, short) in CONTAINER_KINDS {
                out.push(modify_set(
                    format!("{base}-{short}"),
                    format!("spec.{list}[name:*].securityContext.capabilities.{which}"),
                    capabilities,
                ));
            }
            (Fidelity::Exact, "ModifySet merge".into())
        }
        DefaultAction::SeLinuxOptions { user, role, type_, level } => {
            let mut o = serde_json::Map::new();
            for (k, v) in [("user", user), ("role", role), ("type", type_), ("level", level)] {
                if !v.is_empty() {
                    o.insert(k.into(), json!(v));
                }
            }
            out.push(assign(
                base,
                "spec.securityContext.seLinuxOptions".into(),
                Value::Object(o),
            ));
            (Fidelity::Exact, "Assign on the pod when unset".into())
        }
        DefaultAction::SeccompProfile { profile } => {
            let v = match profile.as_str() {
                "runtime/default" | "docker/default" => json!({"type": "RuntimeDefault"}),
                "unconfined" => json!({"type": "Unconfined"}),
                p => match p.strip_prefix("localhost/") {
                    Some(f) => json!({"type": "Localhost", "localhostProfile": f}),
                    None => return (Fidelity::Unsupported, format!("unknown profile `{p}`")),
                },
            };
            out.push(assign(base, "spec.securityContext.seccompProfile".into(), v));
            (
                Fidelity::Approximated,
                "Assign of the pod's `seccompProfile` field, not the annotation; containers with their own profile keep it".into(),
            )
        }
        DefaultAction::AppArmorProfile { .. } => (
            Fidelity::Unsupported,
            "AppArmor defaults are per-container annotations that AssignMetadata cannot key by container name".into(),
        ),
        DefaultAction::RuntimeClass { name } => {
            out.push(assign(base, "spec.runtimeClassName".into(), json!(name)));
            (Fidelity::Exact, "Assign when unset".into())
        }
    }
}

/// How the engine combines constraints, for the shared RBAC fidelity notes.
const ENGINE_RULE: &str = "Gatekeeper requires every constraint";

/// A placement from the scoping pass as Gatekeeper's `match` expresses it.
fn match_scope(scope: &crate::scope::Scope, place: &crate::scope::Placement) -> MatchScope {
    if !scope.from_rbac {
        return MatchScope::default();
    }
    let (namespaces, excluded) = match &place.namespaces {
        Namespaces::Only(v) => (Some(v.clone()), vec![]),
        Namespaces::AllExcept(v) => (None, v.clone()),
    };
    MatchScope {
        namespaces,
        excluded,
        why: Some(place.why.clone()),
    }
}

pub fn emit(input: &Input<'_>, args: &Options) -> Result<Emitted, crate::Error> {
    let env = crate::render::environment(input.common.templates.as_deref());
    let plan = input.scope.plan(input.policies, Union::AllMustPass);
    let mut all_views = Vec::new();
    let scope_fidelity = super::ScopeFidelity::new(input.scope, &plan, ENGINE_RULE);
    let mut all_fid = scope_fidelity.all();
    let mut all_templates: Vec<&str> = Vec::new();
    let mut all_notes = Vec::new();
    let mut files = Vec::new();
    for p in input.policies {
        let (o, notes) = match plan.placements.get(&p.name) {
            Some(place) => (
                translate_scoped(p, args, &match_scope(input.scope, place)),
                vec![],
            ),
            None => {
                let why = plan
                    .skipped
                    .iter()
                    .find(|(n, _)| *n == p.name)
                    .map_or(String::new(), |(_, w)| w.clone());
                (
                    PolicyOutput::default(),
                    vec![format!(
                        "`{}`: no constraints ({why})",
                        super::single_line(&p.name)
                    )],
                )
            }
        };
        let mut templates = o.templates.clone();
        templates.sort();
        templates.dedup();
        let fid = [scope_fidelity.for_policy(&p.name), o.fidelity.clone()].concat();
        let views = std::slice::from_ref(&o.view);
        let content = render_file(&env, args, &[p], &templates, &fid, &notes, views, &[])?;
        super::push_file(
            input,
            &mut files,
            OutputFile {
                name: format!("gatekeeper/{}.yaml", k8s_name(&p.name)),
                content,
            },
        )?;
        // The whole output (stdout) needs every view; `-o DIR/` only the files.
        if !input.common.want_files {
            all_views.push(o.view);
        }
        all_fid.extend(o.fidelity);
        all_templates.extend(templates);
        all_notes.extend(notes);
    }
    all_templates.sort();
    all_templates.dedup();
    let (own, library): (Vec<&str>, Vec<&str>) =
        all_templates.iter().partition(|k| is_own_template(k));
    // `--explain` prints the fidelity table: it names what the output needs there too.
    let list = |v: &[&str]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    all_fid.push(FidelityEntry {
        policy: "(output)".into(),
        field: "ConstraintTemplates".into(),
        fidelity: Fidelity::Exact,
        note: if own.is_empty() {
            format!(
                "requires {} from gatekeeper-library {LIBRARY_VERSION} (library/pod-security-policy)",
                list(&library)
            )
        } else {
            format!(
                "requires {} from gatekeeper-library {LIBRARY_VERSION} (library/pod-security-policy) and polytrans's own {} (in the output)",
                list(&library),
                list(&own)
            )
        },
    });
    // polytrans's own ConstraintTemplates: first in the output, and under `templates/` with
    // `-o DIR/` (applied before the constraints).
    let mut own_docs = Vec::new();
    for kind in &own {
        let text = own_template(&env, kind)?;
        super::push_file(
            input,
            &mut files,
            OutputFile {
                name: format!("gatekeeper/templates/{}.yaml", kind.to_lowercase()),
                content: text.clone(),
            },
        )?;
        own_docs.push(text);
    }
    if let Some(f) = scope_fidelity.notes_file(&env, "gatekeeper")? {
        super::push_file(input, &mut files, f)?;
    }
    let refs: Vec<&Policy> = input.policies.iter().collect();
    // With `-o DIR/` only the files are written.
    let stdout = if input.common.want_files {
        String::new()
    } else {
        render_file(
            &env,
            args,
            &refs,
            &all_templates,
            &all_fid,
            &all_notes,
            &all_views,
            &own_docs,
        )?
    };
    Ok(Emitted {
        stdout,
        files,
        fidelity: all_fid,
        resources: all_templates
            .iter()
            .filter_map(|k| template_url(k))
            .collect(),
        diagnostics: Default::default(),
    })
}

/// Whether constraint kind `kind` is one of polytrans's own ConstraintTemplates.
pub fn is_own_template(kind: &str) -> bool {
    OWN_TEMPLATES.iter().any(|(k, _)| *k == kind)
}

/// Renders polytrans's own ConstraintTemplate for constraint kind `kind`
/// (`templates/gatekeeper/own/<file>.yaml.j2`, receiving `name`, `kind` and
/// `polytrans_version`).
pub fn own_template(env: &minijinja::Environment<'_>, kind: &str) -> Result<String, crate::Error> {
    let (_, file) = OWN_TEMPLATES
        .iter()
        .find(|(k, _)| *k == kind)
        .ok_or_else(|| crate::Error::Template(format!("no own ConstraintTemplate `{kind}`")))?;
    crate::render::render(
        env,
        &format!("gatekeeper/own/{file}.yaml.j2"),
        minijinja::context! {
            name => kind.to_lowercase(),
            kind => kind,
            polytrans_version => env!("CARGO_PKG_VERSION"),
        },
    )
}

/// Where each ConstraintTemplate lives in the gatekeeper-library:
/// `library/pod-security-policy/<folder>/template.yaml` (constraint kind, folder).
pub const TEMPLATE_FOLDERS: &[(&str, &str)] = &[
    (
        "K8sPSPAllowPrivilegeEscalationContainer",
        "allow-privilege-escalation",
    ),
    ("K8sPSPAllowedUsers", "users"),
    ("K8sPSPAppArmor", "apparmor"),
    ("K8sPSPCapabilities", "capabilities"),
    ("K8sPSPFSGroup", "fsgroup"),
    ("K8sPSPFlexVolumes", "flexvolume-drivers"),
    ("K8sPSPForbiddenSysctls", "forbidden-sysctls"),
    ("K8sPSPHostFilesystem", "host-filesystem"),
    ("K8sPSPHostNamespace", "host-namespaces"),
    ("K8sPSPHostNetworkingPorts", "host-network-ports"),
    ("K8sPSPHostProbesLifecycle", "host-probes-lifecycle"),
    ("K8sPSPHostProcess", "host-process"),
    ("K8sPSPPrivilegedContainer", "privileged-containers"),
    ("K8sPSPProcMount", "proc-mount"),
    ("K8sPSPReadOnlyRootFilesystem", "read-only-root-filesystem"),
    ("K8sPSPSELinuxV2", "selinux"),
    ("K8sPSPSeccomp", "seccomp"),
    ("K8sPSPSeccompV2", "seccompv2"),
    ("K8sPSPVolumeTypes", "volumes"),
];

/// The ConstraintTemplate of constraint kind `kind` at [`LIBRARY_VERSION`], as a URL kustomize
/// reads (`resources:` takes raw files over HTTPS).
pub fn template_url(kind: &str) -> Option<String> {
    let (_, folder) = TEMPLATE_FOLDERS.iter().find(|(k, _)| *k == kind)?;
    Some(format!(
        "https://raw.githubusercontent.com/open-policy-agent/gatekeeper-library/{LIBRARY_VERSION}/library/pod-security-policy/{folder}/template.yaml"
    ))
}

/// Renders one output file. The template receives `sources` (the PSPs' names for the header),
/// `library_version`, `templates` (the ConstraintTemplates required), `fidelity` (the header
/// comment), `notes`, `enforcement_action` (`deny`, `dryrun` or `warn`), `policies` (one
/// [`PolicyView`] per policy: `scope`, `match`, `constraints`, `mutators`), `own_templates`
/// (polytrans's own ConstraintTemplates needed, by kind) and `own_documents` (those templates,
/// rendered, to include first; empty in the per-policy files of `-o DIR/`, which have them under
/// `templates/`).
#[allow(clippy::too_many_arguments)]
fn render_file(
    env: &minijinja::Environment<'_>,
    args: &Options,
    policies: &[&Policy],
    templates: &[&str],
    fidelity: &[FidelityEntry],
    notes: &[String],
    views: &[PolicyView],
    own_documents: &[String],
) -> Result<String, crate::Error> {
    let (own, library): (Vec<&str>, Vec<&str>) = templates.iter().partition(|k| is_own_template(k));
    let list = |v: &[&str]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let sources: Vec<String> = policies
        .iter()
        .map(|p| format!("`{}`", super::single_line(&p.name)))
        .collect();
    crate::render::render(
        env,
        "gatekeeper/constraints.yaml.j2",
        minijinja::context! {
            sources => sources.join(", "),
            library_version => LIBRARY_VERSION,
            templates => list(&library),
            own_templates => own,
            own_documents => own_documents,
            fidelity => fidelity_comment(fidelity, "# "),
            notes => notes,
            enforcement_action => match args.mode {
                super::Mode::Enforce => "deny",
                super::Mode::Audit => "dryrun",
                super::Mode::Warn => "warn",
            },
            policies => views,
        },
    )
}

//! `--to gatekeeper` (issue #5): OPA Gatekeeper constraints (`constraints.gatekeeper.sh/v1beta1`)
//! for the gatekeeper-library pod-security-policy ConstraintTemplates, plus mutators
//! (`Assign`, `ModifySet`) for the PSP's defaulting fields.
//!
//! The library's Rego is not shipped: the output names the templates it needs and the library
//! commit it was verified against. Every IR constraint is mapped to constraint parameters here;
//! the template only lays the documents out.

use super::{Emitted, Fidelity, FidelityEntry, Input, OutputFile, fidelity_comment, k8s_name};
use crate::ir::{
    Constraint, DefaultAction, GroupField, HostNamespace, IdRange, NameSet, Policy, Scope,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The gatekeeper-library commit the constraints were verified against.
pub const LIBRARY_VERSION: &str = "5c441fb645f257b2c428fe9aea22da24a94b5bab";

/// Options of this backend.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Gatekeeper options")]
pub struct GatekeeperArgs {
    /// `spec.enforcementAction` of every constraint.
    #[arg(
        long = "gatekeeper-enforcement",
        visible_alias = "enforcement",
        value_name = "ACTION",
        value_parser = ["deny", "dryrun", "warn"]
    )]
    pub enforcement: Option<String>,
    /// Scope constraints and mutators to these namespaces (repeatable, comma-separated).
    #[arg(
        long = "gatekeeper-namespaces",
        value_name = "NS",
        value_delimiter = ','
    )]
    pub namespaces: Vec<String>,
    /// Namespaces the constraints do not apply to (repeatable, comma-separated).
    #[arg(
        long = "gatekeeper-exempt-namespaces",
        value_name = "NS",
        value_delimiter = ','
    )]
    pub exempt_namespaces: Vec<String>,
    /// Images exempt from the container checks (`exemptImages`; a trailing `*` is a prefix).
    #[arg(
        long = "gatekeeper-exempt-images",
        value_name = "IMAGE",
        value_delimiter = ','
    )]
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
];

/// One constraint being built: its kind, name suffix and parameters.
struct Built {
    kind: &'static str,
    suffix: &'static str,
    params: serde_json::Map<String, Value>,
}

/// The constraints and mutators for one policy.
#[derive(Default)]
pub struct PolicyOutput {
    pub constraints: Vec<Value>,
    pub mutators: Vec<Value>,
    pub fidelity: Vec<FidelityEntry>,
    pub templates: Vec<&'static str>,
}

fn ranges_json(r: &[IdRange]) -> Value {
    Value::Array(
        r.iter()
            .map(|r| json!({"min": r.min, "max": r.max}))
            .collect(),
    )
}

/// Translates one policy.
pub fn translate(p: &Policy, args: &GatekeeperArgs) -> PolicyOutput {
    let mut out = PolicyOutput::default();
    let mut built: BTreeMap<&'static str, Built> = BTreeMap::new();
    let fid = |field: &str, f: Fidelity, note: &str| {
        (p.name.clone(), field.to_string(), f, note.to_string())
    };
    let mut entries = Vec::new();
    let mut set = |kind: &'static str, suffix: &'static str, key: &str, v: Value| {
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
    for r in &p.rules {
        let field = r.provenance.field.as_str();
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
                        host_ns.push((*ns, field.to_string()));
                        set("K8sPSPHostNamespace", "host-namespace", "", Value::Null);
                        (
                            Fidelity::Exact,
                            "K8sPSPHostNamespace (rejects hostPID and hostIPC)".into(),
                        )
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
                    let lo = many.first().map_or(0, |r| r.min);
                    let hi = many.last().map_or(0, |r| r.max);
                    set(
                        "K8sPSPHostNetworkingPorts",
                        "host-network-ports",
                        "min",
                        json!(lo),
                    );
                    set(
                        "K8sPSPHostNetworkingPorts",
                        "host-network-ports",
                        "max",
                        json!(hi),
                    );
                    (
                        Fidelity::Approximated,
                        format!(
                            "the library takes one port range; {lo}-{hi} spans the PSP's ranges and also admits the gaps"
                        ),
                    )
                }
            },
            Constraint::Volumes { allowed } => match allowed {
                NameSet::Any => (Fidelity::Exact, "every volume type allowed".into()),
                NameSet::Only(v) => {
                    // The template compares the pod's volume source keys; PSP's `cephFS` is
                    // the `cephfs` key.
                    let keys: Vec<&str> = v
                        .iter()
                        .map(|t| if t == "cephFS" { "cephfs" } else { t.as_str() })
                        .collect();
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
                        (
                            Fidelity::Approximated,
                            "K8sPSPCapabilities `allowedCapabilities`: the library compares capability names case-insensitively, so it also admits e.g. `chown` where PSP allows only `CHOWN`".into(),
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
                    "K8sPSPCapabilities `requiredDropCapabilities`".into(),
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
            Constraint::RunAsNonRoot { scope, .. } => {
                set(
                    "K8sPSPAllowedUsers",
                    "allowed-users",
                    "runAsUser",
                    json!({"rule": "MustRunAsNonRoot"}),
                );
                scope_fidelity(
                    *scope,
                    "K8sPSPAllowedUsers `runAsUser.rule: MustRunAsNonRoot`",
                )
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
                allowed,
                unset_allowed,
                ..
            } => profiles_rule(
                &mut set,
                ("K8sPSPSeccomp", "seccomp"),
                allowed,
                *unset_allowed,
            ),
            Constraint::AppArmor {
                allowed,
                unset_allowed,
                ..
            } => profiles_rule(
                &mut set,
                ("K8sPSPAppArmor", "apparmor"),
                allowed,
                *unset_allowed,
            ),
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
            Constraint::CsiDrivers { .. } => (
                Fidelity::Unsupported,
                "no gatekeeper-library template checks inline CSI drivers".into(),
            ),
            Constraint::RuntimeClass { .. } => (
                Fidelity::Unsupported,
                "no gatekeeper-library template checks `runtimeClassName`".into(),
            ),
        };
        entries.push(fid(field, f, &note));
    }
    // hostPID and hostIPC: the library rejects both together, so forbidding one also forbids
    // the other.
    if let [(ns, forbidden)] = host_ns.as_slice() {
        let other = if *ns == HostNamespace::Pid {
            "hostIPC"
        } else {
            "hostPID"
        };
        for e in entries.iter_mut().filter(|e| e.1 == *forbidden) {
            e.2 = Fidelity::Approximated;
            e.3 = format!(
                "K8sPSPHostNamespace rejects hostPID and hostIPC together: it also rejects `{other}`, which the PSP allows"
            );
        }
    }
    // Mutators.
    for d in &p.defaults {
        let field = d.provenance.field.as_str();
        let (f, note) = mutators(p, &d.action, &mut out.mutators);
        entries.push(fid(field, f, &note));
    }
    for b in built.into_values() {
        let mut params = b.params;
        if !args.exempt_images.is_empty() && EXEMPT_IMAGES.contains(&b.kind) {
            params.insert("exemptImages".into(), json!(args.exempt_images));
        }
        let mut spec = serde_json::Map::new();
        if let Some(e) = &args.enforcement {
            spec.insert("enforcementAction".into(), json!(e));
        }
        spec.insert("match".into(), match_json(args));
        if !params.is_empty() {
            spec.insert("parameters".into(), Value::Object(params));
        }
        out.templates.push(b.kind);
        out.constraints.push(json!({
            "apiVersion": "constraints.gatekeeper.sh/v1beta1",
            "kind": b.kind,
            "metadata": {"name": format!("{}-{}", k8s_name(&p.name), b.suffix)},
            "spec": Value::Object(spec),
        }));
    }
    if !args.namespaces.is_empty() || !args.exempt_namespaces.is_empty() {
        for m in out.mutators.iter_mut() {
            let mut mt =
                json!({"scope": "Namespaced", "kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]});
            if !args.namespaces.is_empty() {
                mt["namespaces"] = json!(args.namespaces);
            }
            if !args.exempt_namespaces.is_empty() {
                mt["excludedNamespaces"] = json!(args.exempt_namespaces);
            }
            m["spec"]["match"] = mt;
        }
    }
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
        NameSet::Only(v) if v.is_empty() && unset_allowed => (
            Fidelity::Unsupported,
            format!(
                "the PSP allows only unset profiles; {kind} cannot require a profile to be absent"
            ),
        ),
        NameSet::Only(v) => {
            set(kind, suffix, "allowedProfiles", json!(v));
            let apparmor = kind == "K8sPSPAppArmor";
            let library_admits_unset = apparmor && v.iter().any(|p| p == "runtime/default");
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
                    format!("{kind} `allowedProfiles` (an unset profile reads as `runtime/default`)"),
                ),
                _ => (Fidelity::Exact, format!("{kind} `allowedProfiles`")),
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

fn match_json(args: &GatekeeperArgs) -> Value {
    let mut m = json!({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]});
    if !args.namespaces.is_empty() {
        m["namespaces"] = json!(args.namespaces);
    }
    if !args.exempt_namespaces.is_empty() {
        m["excludedNamespaces"] = json!(args.exempt_namespaces);
    }
    m
}

/// The container lists PSP defaulting applies to, with the mutator name suffix of each.
const CONTAINER_KINDS: [(&str, &str); 3] = [
    ("containers", "c"),
    ("initContainers", "ic"),
    ("ephemeralContainers", "ec"),
];

fn assign(name: String, location: String, value: Value) -> Value {
    json!({
        "apiVersion": "mutations.gatekeeper.sh/v1",
        "kind": "Assign",
        "metadata": {"name": name},
        "spec": {
            "applyTo": [{"groups": [""], "kinds": ["Pod"], "versions": ["v1"]}],
            "location": location,
            "parameters": {
                "pathTests": [{"subPath": location, "condition": "MustNotExist"}],
                "assign": {"value": value},
            },
        },
    })
}

fn modify_set(name: String, location: String, values: &[String]) -> Value {
    json!({
        "apiVersion": "mutations.gatekeeper.sh/v1",
        "kind": "ModifySet",
        "metadata": {"name": name},
        "spec": {
            "applyTo": [{"groups": [""], "kinds": ["Pod"], "versions": ["v1"]}],
            "location": location,
            "parameters": {"operation": "merge", "values": {"fromList": values}},
        },
    })
}

/// Mutators for one defaulting action.
fn mutators(p: &Policy, a: &DefaultAction, out: &mut Vec<Value>) -> (Fidelity, String) {
    let base = format!("{}-{}", k8s_name(&p.name), a.kind_name());
    let per_container = |out: &mut Vec<Value>, path: &str, v: Value| {
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
            per_container(out, "runAsNonRoot", json!(true));
            (
                Fidelity::Approximated,
                "Assign when unset, also on containers with a `runAsUser`".into(),
            )
        }
        DefaultAction::RunAsUser { value } => {
            per_container(out, "runAsUser", json!(value));
            (
                Fidelity::Approximated,
                "Assign on containers that leave it unset, even when the pod sets it".into(),
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

pub fn emit(input: &Input<'_>, args: &GatekeeperArgs) -> Result<Emitted, crate::Error> {
    let env = crate::render::environment(input.common.templates.as_deref());
    let mut all_docs = Vec::new();
    let mut all_fid = Vec::new();
    let mut all_templates: Vec<&str> = Vec::new();
    let mut files = Vec::new();
    for p in input.policies {
        let o = translate(p, args);
        let docs: Vec<String> = o
            .constraints
            .iter()
            .chain(o.mutators.iter())
            .map(|d| crate::load::to_yaml(d).trim_end().to_string())
            .collect();
        let mut templates = o.templates.clone();
        templates.sort();
        templates.dedup();
        let content = render_file(&env, &[p], &templates, &o.fidelity, &docs)?;
        files.push(OutputFile {
            name: format!("gatekeeper/{}.yaml", k8s_name(&p.name)),
            content,
        });
        all_docs.extend(docs);
        all_fid.extend(o.fidelity);
        all_templates.extend(templates);
    }
    all_templates.sort();
    all_templates.dedup();
    let refs: Vec<&Policy> = input.policies.iter().collect();
    let stdout = render_file(&env, &refs, &all_templates, &all_fid, &all_docs)?;
    Ok(Emitted {
        stdout,
        files,
        fidelity: all_fid,
        diagnostics: Default::default(),
    })
}

fn render_file(
    env: &minijinja::Environment<'_>,
    policies: &[&Policy],
    templates: &[&str],
    fidelity: &[FidelityEntry],
    docs: &[String],
) -> Result<String, crate::Error> {
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
            templates => if templates.is_empty() { "none".to_string() } else { templates.join(", ") },
            fidelity => fidelity_comment(fidelity, "# "),
            documents => docs,
        },
    )
}

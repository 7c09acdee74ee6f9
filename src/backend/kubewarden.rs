//! `--to kubewarden` (issue #21): Kubewarden `ClusterAdmissionPolicy` resources
//! (`policies.kubewarden.io/v1`) for Kubewarden's PodSecurityPolicy replacement policies, one
//! per policy module a PSP needs, with the module pinned to a version listed in [`MODULES`].
//!
//! Each IR constraint is mapped onto the settings of one module here (read from the module's
//! source at the pinned version: settings validation, validation and mutation code); the
//! template (`templates/kubewarden/policies.yaml.j2`) only lays out the documents from the view
//! model ([`PolicyView`]).
//!
//! - `mutating: true` where the PSP defaults a value the module can default (capabilities,
//!   `allowPrivilegeEscalation`, user and group ids, SELinux options). Where the PSP validates
//!   without defaulting, `mutating: false`: Kubewarden rejects a request the policy would have
//!   mutated, so the module's defaulting becomes "must already be set", which is what the PSP
//!   (or level) asks for.
//! - Names carry a two-digit step (`psp-<name>-01-capabilities`): Kubernetes calls mutating
//!   webhooks in the order of their configuration names (`clusterwide-<policy name>`), and two
//!   modules replace parts of the pod they did not change (see [`MODULES`]); they run first so
//!   that the others default what they removed.
//! - Where several PSPs are usable in a namespace and none admits all the others do
//!   ([`Union::AnyOf`]), one `ClusterAdmissionPolicyGroup` admits a pod when every member policy
//!   of any one PSP accepts it: its `expression` joins each PSP's members with `&&` and the PSPs
//!   with `||`, which is PSP's own rule. Group members cannot mutate, so the PSPs' defaulting is
//!   reported as approximated there.

use super::{Emitted, Fidelity, FidelityEntry, Input, OutputFile, fidelity_comment, k8s_name};
use crate::ir::{
    Constraint, DefaultAction, Exemption, GroupField, HostNamespace, IdRange, NameSet, Origin,
    Policy, Rule,
};
use crate::scope::{Namespaces, Union};
use serde::Serialize;
use std::collections::BTreeMap;

/// Options of this backend.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// What a violation does: `spec.mode` (`protect` for enforce; `monitor` for audit and warn,
    /// as Kubewarden has no warn mode).
    pub mode: super::Mode,
}

/// Golden files of this backend (see [`super::golden_files`]).
pub const GOLDEN_FILES: &[(&str, &[&str])] = &[("kubewarden.yaml", &["--to", "kubewarden"])];

/// When the module versions below were checked against kubewarden/policies (commit
/// `6a01a242a770dbb168767a986ad0bc57cb3b61fb`).
pub const CHECKED: &str = "2026-08-17";

/// The registry every module is pulled from.
pub const REGISTRY: &str = "registry://ghcr.io/kubewarden/policies";

/// One Kubewarden policy module polytrans writes settings for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Module {
    /// The policy name (`ghcr.io/kubewarden/policies/<name>`); also the schema file name
    /// (`schemas/kubewarden/<name>.schema.json`).
    pub name: &'static str,
    /// The pinned version (the `<name>-policy/v<version>` tag of kubewarden/policies).
    pub version: &'static str,
    /// Orders the policies' names, hence the mutating webhooks (see the module docs).
    pub step: u8,
    /// Whether the module reads pod templates of workload resources
    /// (`extract_pod_spec_from_object`); the others read `Pod` objects only.
    pub workloads: bool,
}

impl Module {
    /// `registry://ghcr.io/kubewarden/policies/<name>:v<version>`.
    pub fn reference(&self) -> String {
        format!("{REGISTRY}/{}:v{}", self.name, self.version)
    }
}

/// Every module, in step order. `capabilities-psp` (its mutation sets the `securityContext` of
/// each container it does not change to none when it changes another, `src/mutate.rs`) and
/// `allowed-fsgroups-psp` (its defaulting replaces the pod's whole `securityContext` with
/// `{fsGroup}`, `src/lib.rs`) come first.
pub const MODULES: &[Module] = &[
    Module {
        name: "capabilities-psp",
        version: "1.0.13",
        step: 1,
        workloads: true,
    },
    Module {
        name: "allowed-fsgroups-psp",
        version: "1.0.12",
        step: 2,
        workloads: false,
    },
    Module {
        name: "allow-privilege-escalation-psp",
        version: "1.0.13",
        step: 3,
        workloads: true,
    },
    Module {
        name: "selinux-psp",
        version: "1.1.2",
        step: 4,
        workloads: false,
    },
    Module {
        name: "user-group-psp",
        version: "1.1.6",
        step: 5,
        workloads: true,
    },
    Module {
        name: "pod-privileged",
        version: "1.0.13",
        step: 6,
        workloads: true,
    },
    Module {
        name: "host-namespaces-psp",
        version: "1.1.11",
        step: 7,
        workloads: true,
    },
    Module {
        name: "volumes-psp",
        version: "1.1.10",
        step: 8,
        workloads: false,
    },
    Module {
        name: "hostpaths-psp",
        version: "1.1.10",
        step: 9,
        workloads: true,
    },
    Module {
        name: "flexvolume-drivers-psp",
        version: "1.0.17",
        step: 10,
        workloads: false,
    },
    Module {
        name: "readonly-root-filesystem-psp",
        version: "1.0.13",
        step: 11,
        workloads: false,
    },
    Module {
        name: "allowed-proc-mount-types-psp",
        version: "1.0.15",
        step: 12,
        workloads: false,
    },
    Module {
        name: "seccomp-psp",
        version: "1.0.15",
        step: 13,
        workloads: false,
    },
    Module {
        name: "apparmor-psp",
        version: "1.0.14",
        step: 14,
        workloads: false,
    },
    Module {
        name: "sysctl-psp",
        version: "1.0.14",
        step: 15,
        workloads: false,
    },
];

/// The module named `name`.
pub fn module(name: &str) -> &'static Module {
    MODULES
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("unknown module {name}"))
}

/// The sysctls `sysctl-psp` accepts without listing them (`CreateSafeSysctlsSet`).
pub const MODULE_SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ping_group_range",
    "net.ipv4.tcp_syncookies",
];

/// The `allowedTypes` entry written when a PSP allows no volume at all: `volumes-psp` rejects
/// every pod when the list is empty, and no volume source is named this (the API server drops
/// unknown fields before admission), so it admits exactly the pods without volumes.
pub const NO_VOLUME_TYPE: &str = "none (polytrans: no volume type is allowed)";

/// A settings value, laid out by the template (strings through `yaml_string`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "t", content = "v", rename_all = "lowercase")]
pub enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
    List(Vec<Value>),
    Map(Vec<Entry>),
}

/// One key of a settings map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub key: String,
    pub value: Value,
}

fn entry(key: &str, value: Value) -> Entry {
    Entry {
        key: key.into(),
        value,
    }
}

fn strs<I: IntoIterator<Item = S>, S: Into<String>>(v: I) -> Value {
    Value::List(v.into_iter().map(|s| Value::Str(s.into())).collect())
}

fn ranges(r: &[IdRange]) -> Value {
    Value::List(
        r.iter()
            .map(|r| {
                Value::Map(vec![
                    entry("min", Value::Int(r.min)),
                    entry("max", Value::Int(r.max)),
                ])
            })
            .collect(),
    )
}

/// The settings of one module being built, keys in insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Built {
    settings: Vec<Entry>,
    mutating: bool,
}

impl Built {
    fn set(&mut self, key: &str, value: Value) {
        match self.settings.iter_mut().find(|e| e.key == key) {
            Some(e) => e.value = value,
            None => self.settings.push(entry(key, value)),
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.settings
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }
}

/// One module with its settings, for one policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleUse {
    pub module: &'static Module,
    pub settings: Vec<Entry>,
    pub mutating: bool,
    /// `spec.matchConditions` (name, CEL expression): pods every rule of this module exempts.
    pub match_conditions: Vec<(String, String)>,
}

/// What one policy becomes.
#[derive(Debug, Clone, Default)]
pub struct Translation {
    pub modules: Vec<ModuleUse>,
    pub fidelity: Vec<FidelityEntry>,
}

/// Translates one policy. `in_group`: the modules run as members of a policy group, where
/// Kubewarden lets no policy mutate.
pub fn translate(p: &Policy, in_group: bool) -> Translation {
    let mut built: BTreeMap<&'static str, Built> = BTreeMap::new();
    let mut fid: Vec<FidelityEntry> = Vec::new();
    let mut note = |field: &str, f: Fidelity, text: String| {
        fid.push(FidelityEntry {
            policy: p.name.clone(),
            field: field.to_string(),
            fidelity: f,
            note: text,
        })
    };
    let is_level = matches!(p.origin, Origin::Level { .. });
    // Defaults first: they decide `mutating` and the module settings rules rely on.
    for d in &p.defaults {
        let field = d.provenance.field.as_str();
        let (f, text) = default_action(&mut built, p, &d.action, in_group);
        note(field, f, text);
    }
    // Each rule, with the modules it wrote settings to.
    let mut results = Vec::new();
    let mut touched_by: BTreeMap<&'static str, Vec<Vec<Exemption>>> = BTreeMap::new();
    for r in &p.rules {
        let before = built.clone();
        let (f, text) = rule(&mut built, p, r, is_level);
        let touched: Vec<&'static str> = built
            .iter()
            .filter(|(k, b)| before.get(*k) != Some(*b))
            .map(|(k, _)| *k)
            .collect();
        for m in &touched {
            touched_by.entry(m).or_default().push(r.unless.clone());
        }
        results.push((r, f, text, touched));
    }
    // A module whose every rule exempts the same pods skips them with a match condition.
    let exempting: BTreeMap<&'static str, Vec<Exemption>> = touched_by
        .iter()
        .filter(|(_, sets)| !sets[0].is_empty() && sets.iter().all(|s| *s == sets[0]))
        .map(|(k, sets)| (*k, sets[0].clone()))
        .collect();
    for (r, mut f, mut text, touched) in results {
        let expressed = !touched.is_empty() && touched.iter().all(|m| exempting.contains_key(m));
        if !r.unless.is_empty() && f != Fidelity::Unsupported && !touched.is_empty() {
            if expressed {
                text.push_str(&format!(
                    "; {} are exempt (`matchConditions`)",
                    exemption_names(&r.unless)
                ));
            } else {
                f = f.max(Fidelity::Approximated);
                text.push_str(&format!(
                    "; the exemption of {} is not expressed (the module also judges rules without it): those pods are judged too",
                    exemption_names(&r.unless)
                ));
            }
        }
        note(r.provenance.field.as_str(), f, text);
    }
    if !p.images.is_empty() {
        note(
            "metadata.annotations[falco-rules-psp-images]",
            Fidelity::Unsupported,
            "Kubewarden's PSP policies judge every container: the image scope is not expressed"
                .into(),
        );
    }
    if !p.exempt_images.is_empty() {
        note(
            "exemptImages",
            Fidelity::Unsupported,
            "Kubewarden's PSP policies have no image exemptions: every container is judged".into(),
        );
    }
    let mut modules: Vec<ModuleUse> = built
        .into_iter()
        .map(|(name, b)| ModuleUse {
            module: module(name),
            settings: b.settings,
            mutating: b.mutating && !in_group,
            match_conditions: exempting
                .get(name)
                .map(|e| e.iter().map(|x| match_condition(*x)).collect())
                .unwrap_or_default(),
        })
        .collect();
    modules.sort_by_key(|m| m.module.step);
    Translation {
        modules,
        fidelity: fid,
    }
}

fn exemption_names(e: &[Exemption]) -> String {
    e.iter()
        .map(|e| match e {
            Exemption::WindowsPod => "Windows pods",
            Exemption::UserNamespacePod => "user-namespace pods",
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The pod spec of the reviewed object, as CEL (Pods and workload resources).
const CEL_SPEC: &str = "(object.kind == 'Pod' ? object.spec : object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)";

/// A `matchConditions` entry that leaves the exempt pods out.
fn match_condition(e: Exemption) -> (String, String) {
    match e {
        Exemption::WindowsPod => (
            "not-windows-pod".into(),
            format!("!(has({CEL_SPEC}.os) && {CEL_SPEC}.os.name == 'windows')"),
        ),
        Exemption::UserNamespacePod => (
            "not-user-namespace-pod".into(),
            format!("!(has({CEL_SPEC}.hostUsers) && {CEL_SPEC}.hostUsers == false)"),
        ),
    }
}

fn get<'a>(built: &'a mut BTreeMap<&'static str, Built>, name: &'static str) -> &'a mut Built {
    built.entry(module(name).name).or_default()
}

/// Maps one defaulting action; returns its fidelity.
fn default_action(
    built: &mut BTreeMap<&'static str, Built>,
    p: &Policy,
    a: &DefaultAction,
    in_group: bool,
) -> (Fidelity, String) {
    let group_loss = |what: &str| {
        (
            Fidelity::Approximated,
            format!(
                "{what}: a policy group's members cannot mutate, so pods must carry the value PSP would have set"
            ),
        )
    };
    match a {
        DefaultAction::AddCapabilities { capabilities } => {
            let b = get(built, "capabilities-psp");
            b.set("default_add_capabilities", strs(capabilities.clone()));
            b.mutating = true;
            if in_group {
                return group_loss("capabilities-psp `default_add_capabilities`");
            }
            (
                Fidelity::Approximated,
                "capabilities-psp `default_add_capabilities` (mutating; containers and init containers): when it changes one container, it sets the `securityContext` of every container it leaves unchanged to none (src/mutate.rs); it runs first, so the other modules default their fields again".into(),
            )
        }
        DefaultAction::DropCapabilities { capabilities } => {
            let b = get(built, "capabilities-psp");
            b.set("required_drop_capabilities", strs(capabilities.clone()));
            b.mutating = true;
            if in_group {
                return group_loss("capabilities-psp `required_drop_capabilities`");
            }
            (
                Fidelity::Approximated,
                "capabilities-psp `required_drop_capabilities` (mutating: adds the names to `drop`; containers and init containers): when it changes one container, it sets the `securityContext` of every container it leaves unchanged to none (src/mutate.rs); it runs first, so the other modules default their fields again".into(),
            )
        }
        DefaultAction::AllowPrivilegeEscalation { value } => {
            if *value {
                return (
                    Fidelity::Exact,
                    "unset already means allowed: nothing to default".into(),
                );
            }
            let allowed = p
                .rules
                .iter()
                .all(|r| r.constraint != Constraint::NoPrivilegeEscalation);
            if allowed {
                return (
                    Fidelity::Unsupported,
                    "allow-privilege-escalation-psp rejects `allowPrivilegeEscalation: true`, which this PSP allows: the default `false` is not written".into(),
                );
            }
            let b = get(built, "allow-privilege-escalation-psp");
            b.set("default_allow_privilege_escalation", Value::Bool(false));
            b.mutating = true;
            if in_group {
                return group_loss("allow-privilege-escalation-psp");
            }
            (
                Fidelity::Exact,
                "allow-privilege-escalation-psp `default_allow_privilege_escalation: false` (mutating; containers and init containers)".into(),
            )
        }
        DefaultAction::ReadOnlyRootFilesystem => (
            Fidelity::Approximated,
            "readonly-root-filesystem-psp does not mutate: pods must set `readOnlyRootFilesystem: true` themselves".into(),
        ),
        DefaultAction::RunAsNonRoot => {
            let b = get(built, "user-group-psp");
            b.mutating = true;
            if in_group {
                return group_loss("user-group-psp `MustRunAsNonRoot`");
            }
            (
                Fidelity::Exact,
                "user-group-psp `run_as_user: MustRunAsNonRoot` sets `runAsNonRoot: true` (mutating)"
                    .into(),
            )
        }
        DefaultAction::RunAsUser { .. } => {
            get(built, "user-group-psp").mutating = true;
            if in_group {
                return group_loss("user-group-psp `run_as_user`");
            }
            (
                Fidelity::Approximated,
                "user-group-psp sets the first range's `min` on each container without its own `runAsUser`, even when the pod sets one (PSP let such containers inherit the pod's)".into(),
            )
        }
        DefaultAction::GroupId { field, .. } => {
            let name = if *field == GroupField::FsGroup {
                "allowed-fsgroups-psp"
            } else {
                "user-group-psp"
            };
            get(built, name).mutating = true;
            if in_group {
                return group_loss(&format!("{name} `{}`", field.as_str()));
            }
            match field {
                GroupField::FsGroup => (
                    Fidelity::Approximated,
                    "allowed-fsgroups-psp defaults `fsGroup` by replacing the pod's whole `securityContext` with `{fsGroup: min}` (src/lib.rs): pod-level values it drops (runAsNonRoot, seccompProfile, …) are lost unless a later module defaults them; it runs before the other mutating modules".into(),
                ),
                GroupField::RunAsGroup => (
                    Fidelity::Approximated,
                    "user-group-psp sets the first range's `min` on each container without its own `runAsGroup`, even when the pod sets one".into(),
                ),
                GroupField::SupplementalGroups => (
                    Fidelity::Exact,
                    "user-group-psp sets `supplementalGroups: [min]` when unset (mutating)".into(),
                ),
            }
        }
        DefaultAction::SeLinuxOptions { .. } => {
            get(built, "selinux-psp").mutating = true;
            if in_group {
                return group_loss("selinux-psp");
            }
            (
                Fidelity::Exact,
                "selinux-psp sets the options on the pod and on each container without them (mutating)".into(),
            )
        }
        DefaultAction::SeccompProfile { .. } => (
            Fidelity::Approximated,
            "seccomp-psp does not mutate: pods must set the default profile themselves".into(),
        ),
        DefaultAction::AppArmorProfile { .. } => (
            Fidelity::Approximated,
            "apparmor-psp does not mutate: pods must set the default profile themselves".into(),
        ),
        DefaultAction::RuntimeClass { .. } => (
            Fidelity::Unsupported,
            "pod-runtime-class's `fallbackRuntime` overrides every pod's runtime class, not only unset ones: the default is not written".into(),
        ),
    }
}

/// Maps one validating rule; returns its fidelity.
fn rule(
    built: &mut BTreeMap<&'static str, Built>,
    p: &Policy,
    r: &Rule,
    is_level: bool,
) -> (Fidelity, String) {
    let exact = |s: &str| (Fidelity::Exact, s.to_string());
    match &r.constraint {
        Constraint::Privileged { allowed } => {
            if *allowed {
                return exact("allowed: no policy");
            }
            get(built, "pod-privileged");
            exact("pod-privileged (containers, init and ephemeral containers)")
        }
        Constraint::HostNamespace { namespace, allowed } => {
            let b = get(built, "host-namespaces-psp");
            let key = match namespace {
                HostNamespace::Network => "allow_host_network",
                HostNamespace::Pid => "allow_host_pid",
                HostNamespace::Ipc => "allow_host_ipc",
            };
            b.set(key, Value::Bool(*allowed));
            exact(&format!("host-namespaces-psp `{key}`"))
        }
        Constraint::HostPorts { allowed } => {
            let b = get(built, "host-namespaces-psp");
            b.set("allow_host_ports", ranges(allowed));
            exact(
                "host-namespaces-psp `allow_host_ports` (containers and init containers; ephemeral containers have no ports)",
            )
        }
        Constraint::HostProcess { .. } | Constraint::ProbeHost { .. } => (
            Fidelity::Unsupported,
            "no Kubewarden PSP policy judges this".into(),
        ),
        Constraint::Volumes { allowed } => {
            let types: Vec<String> = match allowed {
                NameSet::Any => return exact("every volume type allowed: no policy"),
                NameSet::Only(v) if v.is_empty() => vec![NO_VOLUME_TYPE.to_string()],
                NameSet::Only(v) => v.iter().map(|t| volume_key(t)).collect(),
                NameSet::AnyExcept(v) => {
                    let except: Vec<String> = v.iter().map(|t| volume_key(t)).collect();
                    crate::pod::VOLUME_SOURCES
                        .iter()
                        .filter(|k| !except.iter().any(|e| e == *k))
                        .map(|k| k.to_string())
                        .collect()
                }
            };
            get(built, "volumes-psp").set("allowedTypes", strs(types));
            let how = if matches!(allowed, NameSet::AnyExcept(_)) {
                "volumes-psp `allowedTypes`: every volume source of the core/v1 API except the forbidden ones"
            } else {
                "volumes-psp `allowedTypes` (`cephFS` as the pod's `cephfs` key)"
            };
            (Fidelity::Exact, format!("{how}; Pods only"))
        }
        Constraint::HostPaths { allowed } => {
            if allowed.is_empty() {
                return exact("any host path: no policy");
            }
            // Ascending paths: hostpaths-psp lets a later entry refine an earlier one only when
            // the earlier is its prefix, so the longest matching prefix decides.
            let mut sorted = allowed.clone();
            sorted.sort();
            let v = Value::List(
                sorted
                    .iter()
                    .map(|h| {
                        Value::Map(vec![
                            entry("pathPrefix", Value::Str(h.path_prefix.clone())),
                            entry("readOnly", Value::Bool(h.read_only)),
                        ])
                    })
                    .collect(),
            );
            get(built, "hostpaths-psp").set("allowedHostPaths", v);
            (
                Fidelity::Approximated,
                "hostpaths-psp `allowedHostPaths`: it judges only hostPath volumes that a container or init container mounts, requires each mount's `readOnly` to equal the longest matching entry's (a read-only mount under a `readOnly: false` prefix is rejected)".into(),
            )
        }
        Constraint::FlexVolumeDrivers { allowed } => {
            if allowed.is_empty() {
                return exact("any driver: no policy");
            }
            let v = Value::List(
                allowed
                    .iter()
                    .map(|d| Value::Map(vec![entry("driver", Value::Str(d.clone()))]))
                    .collect(),
            );
            get(built, "flexvolume-drivers-psp").set("allowedFlexVolumes", v);
            exact("flexvolume-drivers-psp `allowedFlexVolumes`; Pods only")
        }
        Constraint::CsiDrivers { allowed } => {
            if allowed.is_empty() {
                return exact("any driver: no policy");
            }
            (
                Fidelity::Unsupported,
                "Kubewarden has no CSI driver policy".into(),
            )
        }
        Constraint::AddCapabilities { allowed } => {
            let names: Vec<String> = match allowed {
                NameSet::Any => vec!["*".into()],
                NameSet::Only(v) => {
                    // PSP allows what it adds by default.
                    let mut v = v.clone();
                    for d in &p.defaults {
                        if let DefaultAction::AddCapabilities { capabilities } = &d.action {
                            v.extend(capabilities.iter().cloned());
                        }
                    }
                    v.sort();
                    v.dedup();
                    v
                }
                NameSet::AnyExcept(_) => {
                    return (
                        Fidelity::Unsupported,
                        "capabilities-psp takes an allow-list only".into(),
                    );
                }
            };
            get(built, "capabilities-psp").set("allowed_capabilities", strs(names));
            (
                Fidelity::Approximated,
                "capabilities-psp `allowed_capabilities`: containers and init containers (not ephemeral containers)".into(),
            )
        }
        Constraint::DropCapabilities { required } => {
            let b = get(built, "capabilities-psp");
            if b.get("required_drop_capabilities").is_none() {
                b.set("required_drop_capabilities", strs(required.clone()));
            }
            if b.mutating {
                (
                    Fidelity::Exact,
                    "capabilities-psp `required_drop_capabilities` (added to `drop` by its mutation, as PSP did)".into(),
                )
            } else {
                (
                    Fidelity::Approximated,
                    "capabilities-psp `required_drop_capabilities` with `mutating: false`: a container (or init container) that does not drop them is rejected; ephemeral containers are not judged".into(),
                )
            }
        }
        Constraint::RunAsUser {
            ranges: r,
            required,
            ..
        } => {
            let b = get(built, "user-group-psp");
            if *required {
                b.set(
                    "run_as_user",
                    Value::Map(vec![
                        entry("rule", Value::Str("MustRunAs".into())),
                        entry("ranges", ranges(r)),
                    ]),
                );
                let f = if b.mutating {
                    Fidelity::Exact
                } else {
                    Fidelity::Approximated
                };
                return (
                    f,
                    "user-group-psp `run_as_user: MustRunAs` (containers and init containers: each its own value; the pod's when a container was defaulted)".into(),
                );
            }
            // A level's `runAsUser` check (not 0): MustRunAsNonRoot rejects 0 and, with
            // `mutating: false`, a container without `runAsNonRoot: true`.
            if is_level && !has_run_as_user_rule(b) {
                b.set(
                    "run_as_user",
                    Value::Map(vec![entry("rule", Value::Str("MustRunAsNonRoot".into()))]),
                );
            }
            (
                Fidelity::Approximated,
                "user-group-psp has no optional user range: `MustRunAsNonRoot` rejects uid 0 and also requires `runAsNonRoot: true`".into(),
            )
        }
        Constraint::RunAsNonRoot { .. } => {
            let b = get(built, "user-group-psp");
            b.set(
                "run_as_user",
                Value::Map(vec![entry("rule", Value::Str("MustRunAsNonRoot".into()))]),
            );
            if is_level && !b.mutating {
                // Validation alone would make every container and the pod set
                // `runAsNonRoot: true` themselves (the module marks the pod mutated whenever it
                // judged a container): let it set the value instead, which the kubelet enforces.
                b.mutating = true;
                return (
                    Fidelity::Approximated,
                    "user-group-psp `MustRunAsNonRoot` (mutating): sets `runAsNonRoot: true` where a level rejects an unset value (the kubelet then refuses to run such a container as root); rejects `runAsNonRoot: false` and uid 0 in each container's and the pod's own values".into(),
                );
            }
            let how = if b.mutating {
                "user-group-psp `MustRunAsNonRoot` (mutating): rejects `runAsNonRoot: false` and uid 0 in each container's and the pod's own values (a pod-level 0 is rejected even when every container overrides it), else sets `runAsNonRoot: true`"
            } else {
                "user-group-psp `MustRunAsNonRoot` with `mutating: false`: each container (and then the pod) must set `runAsNonRoot: true` itself; a pod-level value alone is not enough"
            };
            (Fidelity::Approximated, how.into())
        }
        Constraint::GroupIds {
            field,
            ranges: r,
            required,
        } => {
            let rule = if *required { "MustRunAs" } else { "MayRunAs" };
            match field {
                GroupField::FsGroup => {
                    let b = get(built, "allowed-fsgroups-psp");
                    b.set("rule", Value::Str(rule.into()));
                    b.set("ranges", ranges(r));
                    let f = if *required && !b.mutating {
                        Fidelity::Approximated
                    } else {
                        Fidelity::Exact
                    };
                    (f, format!("allowed-fsgroups-psp `{rule}`; Pods only"))
                }
                GroupField::RunAsGroup | GroupField::SupplementalGroups => {
                    let key = if *field == GroupField::RunAsGroup {
                        "run_as_group"
                    } else {
                        "supplemental_groups"
                    };
                    let b = get(built, "user-group-psp");
                    b.set(
                        key,
                        Value::Map(vec![
                            entry("rule", Value::Str(rule.into())),
                            entry("ranges", ranges(r)),
                        ]),
                    );
                    let f = if *required && !b.mutating {
                        Fidelity::Approximated
                    } else {
                        Fidelity::Exact
                    };
                    (f, format!("user-group-psp `{key}: {rule}`"))
                }
            }
        }
        Constraint::ReadOnlyRootFilesystem => {
            get(built, "readonly-root-filesystem-psp");
            (
                Fidelity::Exact,
                "readonly-root-filesystem-psp (containers and init containers; Pods only)".into(),
            )
        }
        Constraint::NoPrivilegeEscalation => {
            let b = get(built, "allow-privilege-escalation-psp");
            if b.get("default_allow_privilege_escalation").is_none() {
                // Without PSP's defaulting: the module's default `false` turns into a rejection
                // of unset values under `mutating: false`.
                b.set("default_allow_privilege_escalation", Value::Bool(false));
            }
            (
                Fidelity::Exact,
                "allow-privilege-escalation-psp (containers and init containers)".into(),
            )
        }
        Constraint::ProcMount { allowed } => {
            if allowed.contains("Unmasked") {
                return exact("`Unmasked` allowed: no policy");
            }
            get(built, "allowed-proc-mount-types-psp")
                .set("allow_unmasked_proc_mount_type", Value::Bool(false));
            exact("allowed-proc-mount-types-psp; Pods only")
        }
        Constraint::SeLinux {
            user,
            role,
            type_,
            level,
            ..
        } => {
            let one = |v: &Option<Vec<String>>| match v {
                Some(v) if v.len() == 1 => Some(v[0].clone()),
                _ => None,
            };
            let parts = [
                ("user", user),
                ("role", role),
                ("type", type_),
                ("level", level),
            ];
            if parts.iter().any(|(_, v)| one(v).is_none())
                || parts.iter().all(|(_, v)| one(v).as_deref() == Some(""))
            {
                return (
                    Fidelity::Unsupported,
                    "selinux-psp takes one value per option (`MustRunAs`): lists of allowed values are not expressed".into(),
                );
            }
            let b = get(built, "selinux-psp");
            b.set("rule", Value::Str("MustRunAs".into()));
            for (k, v) in parts {
                let v = one(v).unwrap_or_default();
                if !v.is_empty() {
                    b.set(k, Value::Str(v));
                }
            }
            (
                Fidelity::Approximated,
                "selinux-psp `MustRunAs`: user, role and type must equal the settings; `level` is compared only when both the pod and the settings set one; Pods only".into(),
            )
        }
        Constraint::Seccomp {
            allowed,
            unset_allowed,
            ..
        } => {
            let v = match allowed {
                NameSet::Any => return exact("every profile allowed: no policy"),
                NameSet::AnyExcept(_) => {
                    return (
                        Fidelity::Unsupported,
                        "seccomp-psp takes an allow-list only".into(),
                    );
                }
                NameSet::Only(v) => v,
            };
            let mut profiles: Vec<String> = v.iter().filter(|s| !s.is_empty()).cloned().collect();
            // PSP (since 1.19) reads `docker/default` and `runtime/default` as one profile.
            if profiles
                .iter()
                .any(|s| s == "runtime/default" || s == "docker/default")
            {
                profiles.push("runtime/default".into());
                profiles.push("docker/default".into());
            }
            profiles.sort();
            profiles.dedup();
            let localhost: Vec<String> = profiles
                .iter()
                .filter_map(|s| s.strip_prefix("localhost/"))
                .filter(|s| !s.ends_with('*'))
                .map(String::from)
                .collect();
            let b = get(built, "seccomp-psp");
            b.set("allowed_profiles", strs(profiles.clone()));
            b.set("profile_types", Value::List(vec![]));
            b.set("localhost_profiles", strs(localhost));
            let mut lossy = Vec::new();
            if !unset_allowed {
                lossy.push("it cannot require a profile: pods without one are admitted");
            }
            if profiles.iter().any(|s| s.ends_with('*')) {
                lossy.push("it compares names exactly: `*` patterns admit no localhost profile");
            }
            if profiles.iter().any(|s| s.starts_with("localhost/")) {
                lossy.push("a `Localhost` field profile also passes when a listed `localhost/` entry merely ends with its name");
            }
            if lossy.is_empty() {
                exact("seccomp-psp `allowed_profiles` (annotations and fields; Pods only)")
            } else {
                (
                    Fidelity::Approximated,
                    format!("seccomp-psp `allowed_profiles`: {}", lossy.join("; ")),
                )
            }
        }
        Constraint::AppArmor { allowed, .. } => {
            let v = match allowed {
                NameSet::Any => return exact("every profile allowed: no policy"),
                NameSet::AnyExcept(_) => {
                    return (
                        Fidelity::Unsupported,
                        "apparmor-psp takes an allow-list only".into(),
                    );
                }
                NameSet::Only(v) => v,
            };
            let profiles: Vec<String> = v.iter().filter(|s| !s.is_empty()).cloned().collect();
            get(built, "apparmor-psp").set("allowed_profiles", strs(profiles));
            (
                Fidelity::Approximated,
                "apparmor-psp `allowed_profiles`: container annotations only (not the `appArmorProfile` fields), exact names, and a pod without a profile is admitted; Pods only".into(),
            )
        }
        Constraint::Sysctls { allowed, forbidden } => sysctls(built, allowed, forbidden),
        Constraint::RuntimeClass { allowed } => {
            if *allowed == NameSet::Any {
                return exact("every runtime class allowed: no policy");
            }
            (
                Fidelity::Unsupported,
                "pod-runtime-class takes a deny-list (`reservedRuntimes`), not an allow-list"
                    .into(),
            )
        }
    }
}

fn has_run_as_user_rule(b: &Built) -> bool {
    b.get("run_as_user").is_some()
}

/// A PSP `volumes` name as the pod's volume source key.
fn volume_key(t: &str) -> String {
    if t == "cephFS" {
        "cephfs".into()
    } else {
        t.to_string()
    }
}

fn sysctls(
    built: &mut BTreeMap<&'static str, Built>,
    allowed: &NameSet,
    forbidden: &[String],
) -> (Fidelity, String) {
    let b = get(built, "sysctl-psp");
    let (mut allowed_unsafe, mut forbid, f, text): (Vec<String>, Vec<String>, Fidelity, String) =
        match allowed {
            NameSet::Any if forbidden.is_empty() => {
                built.remove("sysctl-psp");
                return (Fidelity::Exact, "every sysctl allowed: no policy".into());
            }
            NameSet::Any | NameSet::AnyExcept(_) => (
                vec![],
                forbidden.to_vec(),
                Fidelity::Approximated,
                "sysctl-psp cannot allow every unsafe sysctl: only its four safe sysctls are admitted besides the PSP's forbidden ones".into(),
            ),
            NameSet::Only(v) => {
                let patterns = v.iter().any(|s| s.ends_with('*'));
                let names: Vec<String> = v.iter().filter(|s| !s.ends_with('*')).cloned().collect();
                let text = if patterns {
                    "sysctl-psp `allowedUnsafeSysctls` takes no patterns: sysctls the PSP allows by pattern are rejected".to_string()
                } else {
                    "sysctl-psp `allowedUnsafeSysctls` and `forbiddenSysctls` (its built-in safe sysctls the PSP does not allow are forbidden); Pods only".to_string()
                };
                let f = if patterns {
                    Fidelity::Approximated
                } else {
                    Fidelity::Exact
                };
                // The module's safe sysctls pass unless forbidden.
                let mut forbid = forbidden.to_vec();
                for s in MODULE_SAFE_SYSCTLS {
                    if !names.iter().any(|n| n == s) {
                        forbid.push(s.to_string());
                    }
                }
                (names, forbid, f, text)
            }
        };
    allowed_unsafe.retain(|s| !MODULE_SAFE_SYSCTLS.contains(&s.as_str()));
    // The module refuses a name both allowed and forbidden (exact names; a forbidden pattern
    // with an allowed name is the module's own exception mechanism).
    allowed_unsafe.retain(|s| !forbid.contains(s));
    allowed_unsafe.sort();
    allowed_unsafe.dedup();
    forbid.sort();
    forbid.dedup();
    b.set("allowedUnsafeSysctls", strs(allowed_unsafe));
    b.set("forbiddenSysctls", strs(forbid));
    (f, text)
}

/// `spec.rules` of one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleView {
    pub api_group: &'static str,
    pub resources: Vec<&'static str>,
}

/// The view of one `ClusterAdmissionPolicy` or `ClusterAdmissionPolicyGroup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyView {
    /// `ClusterAdmissionPolicy` or `ClusterAdmissionPolicyGroup`.
    pub kind: &'static str,
    pub name: String,
    pub source: String,
    pub scope: Option<String>,
    pub mode: &'static str,
    /// Policies only.
    pub module: String,
    pub mutating: bool,
    pub settings: Vec<Entry>,
    /// `spec.matchConditions`.
    pub match_conditions: Vec<MatchCondition>,
    pub rules: Vec<RuleView>,
    pub namespaces_in: Option<Vec<String>>,
    pub namespaces_not_in: Vec<String>,
    /// Groups only: the members, the expression and the message.
    pub members: Vec<MemberView>,
    pub expression: String,
    pub message: String,
}

/// One `matchConditions` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchCondition {
    pub name: String,
    pub expression: String,
}

/// One member of a policy group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberView {
    pub name: String,
    pub module: String,
    pub settings: Vec<Entry>,
}

fn rules_for(m: &Module) -> Vec<RuleView> {
    let mut v = vec![RuleView {
        api_group: "",
        resources: vec!["pods"],
    }];
    if m.workloads {
        v[0].resources.push("replicationcontrollers");
        v.push(RuleView {
            api_group: "apps",
            resources: vec!["daemonsets", "deployments", "replicasets", "statefulsets"],
        });
        v.push(RuleView {
            api_group: "batch",
            resources: vec!["cronjobs", "jobs"],
        });
    }
    v
}

fn mode_name(mode: super::Mode) -> &'static str {
    match mode {
        super::Mode::Enforce => "protect",
        super::Mode::Audit | super::Mode::Warn => "monitor",
    }
}

/// The DNS name of a generated object, bounded well inside 253 characters.
fn object_name(s: String) -> String {
    let mut n = s;
    if n.len() > 200 {
        n.truncate(200);
        n = n.trim_end_matches('-').to_string();
    }
    n
}

fn prefix(p: &Policy) -> &'static str {
    match p.origin {
        Origin::Psp { .. } => "psp",
        Origin::Level { .. } => "pss",
    }
}

fn source_name(p: &Policy) -> String {
    match p.origin {
        Origin::Psp { .. } => format!("PodSecurityPolicy `{}`", p.name),
        Origin::Level { .. } => format!("Pod Security Standards `{}`", p.name),
    }
}

/// How the engine combines policies, for the shared RBAC fidelity notes.
const ENGINE_RULE: &str = "";

pub fn emit(input: &Input<'_>, args: &Options) -> Result<Emitted, crate::Error> {
    let env = crate::render::environment(input.common.templates.as_deref());
    let plan = input.scope.plan(input.policies, Union::AnyOf);
    let scope_fid = super::scope_fidelity(input.scope, &plan, ENGINE_RULE);
    let mode = mode_name(args.mode);
    let mut emitted = Emitted::default();
    emitted.fidelity.extend(scope_fid.clone());
    let mut notes: Vec<String> = Vec::new();
    if args.mode == super::Mode::Warn {
        notes.push("--mode warn: Kubewarden has no warn mode; `monitor` records each decision without rejecting or mutating".into());
    }
    let selector = |namespaces: &Namespaces, exempt: &[String]| {
        super::namespace_selector(input.scope, namespaces, exempt)
    };
    let mut stdout = String::new();
    for p in input.policies {
        let t = translate(p, false);
        emitted.fidelity.extend(t.fidelity.clone());
        let Some(place) = plan.placements.get(&p.name) else {
            continue;
        };
        let (namespaces_in, namespaces_not_in) = selector(&place.namespaces, &p.exempt_namespaces);
        let base = format!("{}-{}", prefix(p), k8s_name(&p.name));
        let views: Vec<PolicyView> = t
            .modules
            .iter()
            .map(|m| PolicyView {
                kind: "ClusterAdmissionPolicy",
                name: object_name(format!("{base}-{:02}-{}", m.module.step, m.module.name)),
                source: source_name(p),
                scope: input.scope.from_rbac.then(|| place.why.clone()),
                mode,
                module: m.module.reference(),
                mutating: m.mutating,
                settings: m.settings.clone(),
                match_conditions: m
                    .match_conditions
                    .iter()
                    .map(|(name, expression)| MatchCondition {
                        name: name.clone(),
                        expression: expression.clone(),
                    })
                    .collect(),
                rules: rules_for(m.module),
                namespaces_in: namespaces_in.clone(),
                namespaces_not_in: namespaces_not_in.clone(),
                members: vec![],
                expression: String::new(),
                message: String::new(),
            })
            .collect();
        let header = fidelity_comment(&[scope_fid.clone(), t.fidelity].concat(), "# ");
        let content = render(&env, &source_name(p), &header, &notes, &views)?;
        emitted.files.push(OutputFile {
            name: format!("kubewarden/{base}.yaml"),
            content: content.clone(),
        });
        stdout.push_str(&content);
    }
    for (namespaces, names) in &plan.any_of {
        let members: Vec<&Policy> = names
            .iter()
            .filter_map(|n| input.policies.iter().find(|p| &p.name == n))
            .collect();
        let mut fid = Vec::new();
        let mut member_views = Vec::new();
        let mut alternatives = Vec::new();
        for (i, p) in members.iter().enumerate() {
            let t = translate(p, true);
            fid.extend(t.fidelity);
            let calls: Vec<String> = t
                .modules
                .iter()
                .map(|m| {
                    let name = format!("psp{i}_{}", m.module.name.replace('-', "_"));
                    member_views.push(MemberView {
                        name: name.clone(),
                        module: m.module.reference(),
                        settings: m.settings.clone(),
                    });
                    format!("{name}()")
                })
                .collect();
            alternatives.push(if calls.is_empty() {
                "true".to_string()
            } else {
                format!("({})", calls.join(" && "))
            });
        }
        emitted.fidelity.extend(fid.clone());
        let (namespaces_in, namespaces_not_in) = selector(namespaces, &[]);
        let joined: Vec<String> = names.iter().map(|n| k8s_name(n)).collect();
        let name = object_name(format!("psp-any-of-{}", joined.join("--")));
        let source = format!(
            "PodSecurityPolicies {}",
            members
                .iter()
                .map(|p| format!("`{}`", p.name))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let view = PolicyView {
            kind: "ClusterAdmissionPolicyGroup",
            name: name.clone(),
            source: source.clone(),
            scope: Some(format!(
                "rbac: {}: any of {} admits the pod (none of them admits all the others do)",
                namespaces.describe(),
                names.join(", ")
            )),
            mode,
            module: String::new(),
            mutating: false,
            settings: vec![],
            match_conditions: vec![],
            rules: vec![RuleView {
                api_group: "",
                resources: vec!["pods"],
            }],
            namespaces_in,
            namespaces_not_in,
            members: member_views,
            expression: alternatives.join(" || "),
            message: format!(
                "no PodSecurityPolicy usable in this namespace admits the pod ({})",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let header = fidelity_comment(&[scope_fid.clone(), fid].concat(), "# ");
        let content = render(&env, &source, &header, &notes, &[view])?;
        emitted.files.push(OutputFile {
            name: format!("kubewarden/{name}.yaml"),
            content: content.clone(),
        });
        stdout.push_str(&content);
    }
    super::skipped_notes(&plan, &mut stdout, &mut emitted.fidelity);
    emitted.stdout = stdout;
    Ok(emitted)
}

fn render(
    env: &minijinja::Environment<'_>,
    source: &str,
    header: &str,
    notes: &[String],
    policies: &[PolicyView],
) -> Result<String, crate::Error> {
    crate::render::render(
        env,
        "kubewarden/policies.yaml.j2",
        minijinja::context! {
            source => super::single_line(source),
            checked => CHECKED,
            fidelity => header,
            notes => notes,
            policies => policies,
        },
    )
}

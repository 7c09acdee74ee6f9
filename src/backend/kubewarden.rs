//! `--to kubewarden` (issue #21): Kubewarden `ClusterAdmissionPolicy` resources
//! (`policies.kubewarden.io/v1`) for Kubewarden's PodSecurityPolicy replacement policies and its
//! `cel-policy`, one per policy module a PSP needs, with the module pinned to a version listed in
//! [`MODULES`].
//!
//! Each IR constraint is mapped onto the settings of one module here (read from the module's
//! source at the pinned version: settings validation, validation and mutation code); the
//! template (`templates/kubewarden/policies.yaml.j2`) only lays out the documents from the view
//! model ([`PolicyView`]).
//!
//! - Validation: a PSP module where it judges exactly what PSP judged (`pod-privileged`,
//!   `host-namespaces-psp`, `volumes-psp`, `flexvolume-drivers-psp`,
//!   `allowed-proc-mount-types-psp`); every other rule becomes a validation of one `cel-policy`
//!   per PSP, with the expressions `--to vap` writes (`super::cel_expr::rule_expression`: the same
//!   semantics as `crate::eval`). The other PSP modules read less than PSP did (no ephemeral
//!   containers, annotations only, no "must be set"), see `docs/kubewarden.md`.
//! - Defaulting: the mutating modules (`capabilities-psp`, `allowed-fsgroups-psp`,
//!   `allow-privilege-escalation-psp`, `selinux-psp`, `user-group-psp` once per field,
//!   `pod-runtime`), `mutating: true`, each with `matchConditions` that call it only on the pods
//!   where PSP would have defaulted the field and where the module changes nothing else (two
//!   modules replace parts of the pod they did not change: see [`default_action`]). What no
//!   module can default (`readOnlyRootFilesystem`, seccomp and AppArmor profiles, and the pods
//!   the conditions leave out) is reported approximated: pods must carry the value.
//! - Names carry a two-digit step (`psp-<name>-01-capabilities-psp`): Kubernetes calls mutating
//!   webhooks in the order of their configuration names (`clusterwide-<policy name>`).
//! - Where several PSPs are usable in a namespace and none admits all the others do
//!   ([`Union::AnyOf`]), one `ClusterAdmissionPolicyGroup` admits a pod when every member policy
//!   of any one PSP accepts it: its `expression` joins each PSP's members with `&&` and the PSPs
//!   with `||`, which is PSP's own rule. Group members cannot mutate, so the PSPs' defaulting is
//!   not written there and reported as approximated.

use super::cel_expr::tree::{Expr, and, call, ident, or, str_list};
use super::cel_expr::{has_path, set_and};
use super::{Emitted, Fidelity, FidelityEntry, Input, OutputFile, fidelity_comment, k8s_name};
use crate::ir::{
    Constraint, DefaultAction, GroupField, HostNamespace, IdRange, NameSet, Origin, Policy, Rule,
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
    Module {
        name: "pod-runtime",
        version: "1.0.12",
        step: 16,
        workloads: true,
    },
    Module {
        name: "cel-policy",
        version: "1.6.3",
        step: 17,
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
    match_conditions: Vec<(String, String)>,
}

impl Built {
    fn set(&mut self, key: &str, value: Value) {
        match self.settings.iter_mut().find(|e| e.key == key) {
            Some(e) => e.value = value,
            None => self.settings.push(entry(key, value)),
        }
    }
}

/// One module with its settings, for one policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleUse {
    pub module: &'static Module,
    /// Tells apart several uses of one module in one policy (`user-group-psp` once per field,
    /// each with its own `matchConditions`); part of the policy name.
    pub part: Option<&'static str>,
    pub settings: Vec<Entry>,
    pub mutating: bool,
    /// `spec.matchConditions` (name, CEL expression): the module is only called on pods they
    /// all accept.
    pub match_conditions: Vec<(String, String)>,
}

impl ModuleUse {
    /// `<step>-<module>[-<part>]`, the tail of the policy name.
    pub fn suffix(&self) -> String {
        match self.part {
            Some(part) => format!("{:02}-{}-{part}", self.module.step, self.module.name),
            None => format!("{:02}-{}", self.module.step, self.module.name),
        }
    }
}

/// What one policy becomes.
#[derive(Debug, Clone, Default)]
pub struct Translation {
    pub modules: Vec<ModuleUse>,
    pub fidelity: Vec<FidelityEntry>,
}

type Key = (&'static str, Option<&'static str>);

/// The modules of one policy being built, and its `cel-policy` validations.
#[derive(Default)]
struct Plan {
    built: BTreeMap<Key, Built>,
    /// (expression, message) of the `cel-policy` validations, in rule order.
    cel: Vec<(String, String)>,
}

impl Plan {
    fn get(&mut self, name: &'static str) -> &mut Built {
        self.part(name, None)
    }

    fn part(&mut self, name: &'static str, part: Option<&'static str>) -> &mut Built {
        self.built.entry((module(name).name, part)).or_default()
    }
}

/// Translates one policy. `in_group`: the modules run as members of a policy group, where
/// Kubewarden lets no policy mutate: PSP's defaulting is then not written at all (the
/// validations still require what the defaulting would have set).
pub fn translate(p: &Policy, in_group: bool) -> Translation {
    let mut plan = Plan::default();
    let mut fid: Vec<FidelityEntry> = Vec::new();
    let mut note = |field: &str, f: Fidelity, text: String| {
        fid.push(FidelityEntry {
            policy: p.name.clone(),
            field: field.to_string(),
            fidelity: f,
            note: text,
        })
    };
    for d in &p.defaults {
        let (f, text) = if in_group {
            (
                Fidelity::Approximated,
                "a policy group's members cannot mutate: PSP's default is not written, so pods must carry what it would have set".to_string(),
            )
        } else {
            default_action(&mut plan, p, &d.action)
        };
        note(d.provenance.field.as_str(), f, text);
        // PSP added the required drops and then checked them: the check stays.
        if let DefaultAction::DropCapabilities { capabilities } = &d.action {
            let c = Constraint::DropCapabilities {
                required: capabilities.clone(),
            };
            if let Some(e) = super::cel_expr::constraint_expression(&c) {
                plan.cel.push((
                    e.render_bool(),
                    cel_message(p, &d.provenance.field, c.kind_name()),
                ));
            }
        }
    }
    for r in &p.rules {
        let (f, text) = rule(&mut plan, p, r);
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
    let Plan { built, cel } = plan;
    let mut modules: Vec<ModuleUse> = built
        .into_iter()
        .map(|((name, part), b)| ModuleUse {
            module: module(name),
            part,
            settings: b.settings,
            mutating: b.mutating && !in_group,
            match_conditions: b.match_conditions,
        })
        .collect();
    if !cel.is_empty() {
        let variables = super::cel_expr::variables(false)
            .into_iter()
            .map(|v| {
                Value::Map(vec![
                    entry("name", Value::Str(v.name)),
                    entry("expression", Value::Str(v.expression)),
                ])
            })
            .collect();
        let validations = cel
            .into_iter()
            .map(|(e, m)| {
                Value::Map(vec![
                    entry("expression", Value::Str(e)),
                    entry("message", Value::Str(m)),
                ])
            })
            .collect();
        modules.push(ModuleUse {
            module: module("cel-policy"),
            part: None,
            settings: vec![
                entry("variables", Value::List(variables)),
                entry("validations", Value::List(validations)),
            ],
            mutating: false,
            match_conditions: vec![],
        });
    }
    modules.sort_by_key(|m| (m.module.step, m.part));
    Translation {
        modules,
        fidelity: fid,
    }
}

/// The message of a `cel-policy` validation: `<source> <field>: pod violates <kind>`.
fn cel_message(p: &Policy, field: &str, kind: &str) -> String {
    format!("{} {field}: pod violates {kind}", source_name(p))
}

/// The pod spec as the module reads it, as CEL: of the object, or of the pod template of a
/// workload when the module judges workload resources.
fn spec_of(m: &Module) -> Expr {
    super::cel_expr::pod_meta_spec(m.workloads).1
}

/// True when some container or init container (`c`) satisfies `pred` (ephemeral containers
/// are read by none of the mutating modules).
fn some_container(spec: &Expr, pred: Expr) -> Expr {
    let init = spec.clone().field("initContainers");
    or(vec![
        spec.clone().field("containers").exists("c", pred.clone()),
        and(vec![init.clone().has(), init.exists("c", pred)]),
    ])
}

/// True when every container and init container (`c`) satisfies `pred`.
fn every_container(spec: &Expr, pred: Expr) -> Expr {
    let init = spec.clone().field("initContainers");
    and(vec![
        spec.clone().field("containers").all("c", pred.clone()),
        or(vec![init.clone().has().not(), init.all("c", pred)]),
    ])
}

/// True when the container `c` has no effective value of the securityContext field (neither
/// its own nor the pod's).
fn unset_effective(spec: &Expr, field: &str) -> Expr {
    and(vec![
        has_path(&ident("c"), &["securityContext", field]).not(),
        has_path(spec, &["securityContext", field]).not(),
    ])
}

/// Maps one defaulting action onto a mutating module; returns its fidelity.
fn default_action(plan: &mut Plan, p: &Policy, a: &DefaultAction) -> (Fidelity, String) {
    let has_rule = |f: &dyn Fn(&Constraint) -> bool| p.rules.iter().any(|r| f(&r.constraint));
    match a {
        DefaultAction::AddCapabilities { .. } | DefaultAction::DropCapabilities { .. } => {
            // One capabilities-psp for both defaults, written once.
            if plan.built.contains_key(&("capabilities-psp", None)) {
                return (
                    Fidelity::Approximated,
                    "capabilities-psp (see the other capability default)".into(),
                );
            }
            let add: Vec<String> = p
                .defaults
                .iter()
                .flat_map(|d| match &d.action {
                    DefaultAction::AddCapabilities { capabilities } => capabilities.clone(),
                    _ => vec![],
                })
                .collect();
            let drop: Vec<String> = p
                .defaults
                .iter()
                .flat_map(|d| match &d.action {
                    DefaultAction::DropCapabilities { capabilities } => capabilities.clone(),
                    _ => vec![],
                })
                .collect();
            let m = module("capabilities-psp");
            let spec = spec_of(m);
            let holds: Vec<Expr> = [("add", &add), ("drop", &drop)]
                .iter()
                .filter(|(_, caps)| !caps.is_empty())
                .map(|(key, caps)| {
                    let path = ["securityContext", "capabilities", key];
                    and(vec![
                        has_path(&ident("c"), &path),
                        str_list(caps).all("x", ident("x").in_(ident("c").path(&path))),
                    ])
                })
                .collect();
            let needs = and(holds).not();
            let b = plan.get("capabilities-psp");
            // Validation stays with cel-policy: every capability passes here.
            b.set("allowed_capabilities", strs(["*"]));
            b.set("required_drop_capabilities", strs(drop.clone()));
            b.set("default_add_capabilities", strs(add.clone()));
            b.mutating = true;
            b.match_conditions.push((
                "every-container-needs-the-default".into(),
                every_container(&spec, needs).render_bool(),
            ));
            (
                Fidelity::Approximated,
                "capabilities-psp (mutating) adds the capabilities to `add`/`drop` of containers and init containers; when it changes one container it sets the `securityContext` of every container it leaves unchanged to none (src/mutate.rs `patch_object`), so it is only called on pods where every container needs the change (`matchConditions`); other pods, and ephemeral containers, must carry the capabilities themselves".into(),
            )
        }
        DefaultAction::AllowPrivilegeEscalation { value } => {
            if *value {
                return (
                    Fidelity::Exact,
                    "unset already means allowed: nothing to default".into(),
                );
            }
            let m = module("allow-privilege-escalation-psp");
            let forbidden = has_rule(&|c| *c == Constraint::NoPrivilegeEscalation);
            let b = plan.get("allow-privilege-escalation-psp");
            b.set("default_allow_privilege_escalation", Value::Bool(false));
            b.mutating = true;
            if forbidden {
                return (
                    Fidelity::Approximated,
                    "allow-privilege-escalation-psp `default_allow_privilege_escalation: false` (mutating; containers and init containers: ephemeral containers must set it themselves)".into(),
                );
            }
            // The module rejects `true`, which this PSP allows: it is not called on such pods.
            let escalates = set_and(
                &ident("c"),
                &["securityContext", "allowPrivilegeEscalation"],
                |v| v.eq(true),
            );
            b.match_conditions.push((
                "no-container-allows-escalation".into(),
                some_container(&spec_of(m), escalates).not().render_bool(),
            ));
            (
                Fidelity::Approximated,
                "allow-privilege-escalation-psp `default_allow_privilege_escalation: false` (mutating): it rejects `allowPrivilegeEscalation: true`, which this PSP allows, so it is not called on pods where a container sets `true` (`matchConditions`); their other containers keep the unset value (escalation allowed)".into(),
            )
        }
        DefaultAction::ReadOnlyRootFilesystem => (
            Fidelity::Approximated,
            "no Kubewarden policy defaults `readOnlyRootFilesystem` (readonly-root-filesystem-psp only validates, src/lib.rs): pods must set it themselves".into(),
        ),
        DefaultAction::RunAsNonRoot => {
            let m = module("user-group-psp");
            let spec = spec_of(m);
            let b = plan.part("user-group-psp", Some("run-as-user"));
            b.set(
                "run_as_user",
                Value::Map(vec![entry("rule", Value::Str("MustRunAsNonRoot".into()))]),
            );
            b.mutating = true;
            b.match_conditions.push((
                "a-container-has-no-user".into(),
                some_container(
                    &spec,
                    and(vec![
                        unset_effective(&spec, "runAsNonRoot"),
                        unset_effective(&spec, "runAsUser"),
                    ]),
                )
                .render_bool(),
            ));
            (
                Fidelity::Approximated,
                "user-group-psp `run_as_user: MustRunAsNonRoot` (mutating) sets `runAsNonRoot: true`; it is only called on pods with a container (or init container) that sets neither `runAsNonRoot` nor `runAsUser` (`matchConditions`: it judges the pod's own values whenever it changed a container); ephemeral containers must set it themselves".into(),
            )
        }
        DefaultAction::RunAsUser { .. } | DefaultAction::GroupId { .. } => {
            let (field, key, part, ranges_of) = match a {
                DefaultAction::RunAsUser { .. } => {
                    ("runAsUser", "run_as_user", "run-as-user", None)
                }
                DefaultAction::GroupId { field, .. } => match field {
                    GroupField::RunAsGroup => {
                        ("runAsGroup", "run_as_group", "run-as-group", Some(*field))
                    }
                    GroupField::SupplementalGroups => (
                        "supplementalGroups",
                        "supplemental_groups",
                        "supplemental-groups",
                        Some(*field),
                    ),
                    GroupField::FsGroup => return fs_group_default(plan, p),
                },
                _ => unreachable!(),
            };
            let r: Vec<IdRange> = p
                .rules
                .iter()
                .find_map(|r| match (&r.constraint, ranges_of) {
                    (Constraint::RunAsUser { ranges, .. }, None) => Some(ranges.clone()),
                    (Constraint::GroupIds { field, ranges, .. }, Some(f)) if *field == f => {
                        Some(ranges.clone())
                    }
                    _ => None,
                })
                .unwrap_or_default();
            if r.is_empty() {
                return (
                    Fidelity::Unsupported,
                    format!("user-group-psp needs the ranges of `{field}`: the default is not written"),
                );
            }
            let m = module("user-group-psp");
            let spec = spec_of(m);
            let condition = if field == "supplementalGroups" {
                has_path(&spec, &["securityContext", "supplementalGroups"]).not()
            } else {
                some_container(&spec, unset_effective(&spec, field))
            };
            let b = plan.part("user-group-psp", Some(part));
            b.set(
                key,
                Value::Map(vec![
                    entry("rule", Value::Str("MustRunAs".into())),
                    entry("ranges", ranges(&r)),
                ]),
            );
            b.mutating = true;
            b.match_conditions
                .push((format!("{part}-unset"), condition.render_bool()));
            if field == "supplementalGroups" {
                return (Fidelity::Exact, format!(
                    "user-group-psp `{key}: MustRunAs` (mutating) sets `[min]` of the first range; it is only called on pods without `supplementalGroups` (`matchConditions`)"
                ));
            }
            let text = format!(
                    "user-group-psp `{key}: MustRunAs` (mutating) sets the first range's `min`; it is only called on pods where a container (or init container) has no `{field}` of its own or from the pod (`matchConditions`: it sets the value even on containers that inherit the pod's); ephemeral containers must set it themselves"
            );
            (Fidelity::Approximated, text)
        }
        DefaultAction::SeLinuxOptions { .. } => {
            let Some(rule) = p.rules.iter().find_map(|r| match &r.constraint {
                Constraint::SeLinux {
                    user,
                    role,
                    type_,
                    level,
                    ..
                } => Some([("user", user), ("role", role), ("type", type_), ("level", level)]),
                _ => None,
            }) else {
                return (Fidelity::Unsupported, "no seLinux rule to default".into());
            };
            let one = |v: &Option<Vec<String>>| match v {
                Some(v) if v.len() == 1 => Some(v[0].clone()),
                _ => None,
            };
            if rule.iter().any(|(_, v)| one(v).is_none()) {
                return (
                    Fidelity::Unsupported,
                    "selinux-psp takes one value per option: the default is not written".into(),
                );
            }
            if rule.iter().all(|(_, v)| one(v).as_deref() == Some("")) {
                return (
                    Fidelity::Exact,
                    "the default options are empty: nothing to default".into(),
                );
            }
            let b = plan.get("selinux-psp");
            b.set("rule", Value::Str("MustRunAs".into()));
            for (k, v) in rule {
                let v = one(v).unwrap_or_default();
                if !v.is_empty() {
                    b.set(k, Value::Str(v));
                }
            }
            b.mutating = true;
            (
                Fidelity::Exact,
                "selinux-psp `MustRunAs` (mutating) sets the options on the pod and on each container without them; it rejects only options PSP rejects too (`level` compared when both sides set one), the exact check is cel-policy's".into(),
            )
        }
        DefaultAction::SeccompProfile { .. } => (
            Fidelity::Approximated,
            "no Kubewarden policy defaults a seccomp profile (seccomp-psp only validates, src/lib.rs): pods must set it themselves".into(),
        ),
        DefaultAction::AppArmorProfile { .. } => (
            Fidelity::Approximated,
            "no Kubewarden policy defaults an AppArmor profile (apparmor-psp only validates, src/lib.rs): pods must set it themselves".into(),
        ),
        DefaultAction::RuntimeClass { name } => {
            let m = module("pod-runtime");
            let spec = spec_of(m);
            let b = plan.get("pod-runtime");
            b.set("fallbackRuntime", Value::Str(name.clone()));
            b.mutating = true;
            b.match_conditions.push((
                "runtime-class-unset".into(),
                spec.field("runtimeClassName").has().not().render_bool(),
            ));
            (
                Fidelity::Exact,
                "pod-runtime `fallbackRuntime` (mutating), called only on pods without `runtimeClassName` (`matchConditions`: the module would override any class)".into(),
            )
        }
    }
}

/// `fsGroup: MustRunAs` defaulting.
fn fs_group_default(plan: &mut Plan, p: &Policy) -> (Fidelity, String) {
    let Some(r) = p.rules.iter().find_map(|r| match &r.constraint {
        Constraint::GroupIds {
            field: GroupField::FsGroup,
            ranges,
            ..
        } => Some(ranges.clone()),
        _ => None,
    }) else {
        return (Fidelity::Unsupported, "no fsGroup ranges".into());
    };
    let b = plan.get("allowed-fsgroups-psp");
    b.set("rule", Value::Str("MustRunAs".into()));
    b.set("ranges", ranges(&r));
    b.mutating = true;
    b.match_conditions
        .push(("pod-security-context-empty".into(), {
            let sc = ident("object").path(&["spec", "securityContext"]);
            or(vec![sc.clone().has().not(), call("size", vec![sc]).eq(0)]).render_bool()
        }));
    (
        Fidelity::Approximated,
        "allowed-fsgroups-psp defaults `fsGroup` by replacing the pod's whole `securityContext` with `{fsGroup: min}` (src/lib.rs `do_validate`), so it is only called on pods without pod-level security settings (`matchConditions`); other pods must set `fsGroup` themselves".into(),
    )
}

/// Maps one validating rule: onto a PSP module where the module judges exactly what PSP
/// judged, else onto a `cel-policy` validation; returns its fidelity.
fn rule(plan: &mut Plan, p: &Policy, r: &Rule) -> (Fidelity, String) {
    let exact = |s: &str| (Fidelity::Exact, s.to_string());
    if r.unless.is_empty() {
        match &r.constraint {
            Constraint::Privileged { allowed: false } => {
                plan.get("pod-privileged");
                return exact("pod-privileged (containers, init and ephemeral containers)");
            }
            Constraint::HostNamespace { namespace, allowed } => {
                let key = match namespace {
                    HostNamespace::Network => "allow_host_network",
                    HostNamespace::Pid => "allow_host_pid",
                    HostNamespace::Ipc => "allow_host_ipc",
                };
                plan.get("host-namespaces-psp")
                    .set(key, Value::Bool(*allowed));
                return exact(&format!("host-namespaces-psp `{key}`"));
            }
            Constraint::HostPorts { allowed } => {
                plan.get("host-namespaces-psp")
                    .set("allow_host_ports", ranges(allowed));
                return exact(
                    "host-namespaces-psp `allow_host_ports` (containers and init containers; ephemeral containers have no ports)",
                );
            }
            Constraint::FlexVolumeDrivers { allowed } if !allowed.is_empty() => {
                let v = Value::List(
                    allowed
                        .iter()
                        .map(|d| Value::Map(vec![entry("driver", Value::Str(d.clone()))]))
                        .collect(),
                );
                plan.get("flexvolume-drivers-psp")
                    .set("allowedFlexVolumes", v);
                return exact("flexvolume-drivers-psp `allowedFlexVolumes`; Pods only");
            }
            Constraint::Volumes { allowed } if volumes_exact(allowed) => {
                let types: Vec<String> = match allowed {
                    NameSet::Only(v) if v.is_empty() => vec![NO_VOLUME_TYPE.to_string()],
                    NameSet::Only(v) => v.iter().map(|t| volume_key(t)).collect(),
                    _ => vec![],
                };
                plan.get("volumes-psp").set("allowedTypes", strs(types));
                return exact(
                    "volumes-psp `allowedTypes` (`cephFS` as the pod's `cephfs` key); Pods only",
                );
            }
            Constraint::ProcMount { allowed } if !allowed.contains("Unmasked") => {
                plan.get("allowed-proc-mount-types-psp")
                    .set("allow_unmasked_proc_mount_type", Value::Bool(false));
                return exact(
                    "allowed-proc-mount-types-psp (containers, init and ephemeral containers); Pods only",
                );
            }
            _ => {}
        }
    }
    match super::cel_expr::rule_expression(r) {
        None => exact("every pod satisfies it: no policy"),
        Some(e) => {
            plan.cel.push((
                e.render_bool(),
                cel_message(p, &r.provenance.field, r.constraint.kind_name()),
            ));
            exact("cel-policy validation (the same CEL expression as `--to vap`); Pods only")
        }
    }
}

/// Whether volumes-psp's `allowedTypes` says what the PSP's `volumes` says: not when `secret`
/// is allowed without `projected` (PSP let `secret` cover the projected service-account token
/// volume, which volumes-psp cannot tell from other projected volumes), nor for `*` with
/// exceptions (written as cel-policy).
fn volumes_exact(allowed: &NameSet) -> bool {
    match allowed {
        NameSet::Only(v) => !v.iter().any(|t| t == "secret") || v.iter().any(|t| t == "projected"),
        _ => false,
    }
}

/// A PSP `volumes` name as the pod's volume source key.
fn volume_key(t: &str) -> String {
    crate::k8s::pod_volume_key(t).to_string()
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
    let scope_fid = super::ScopeFidelity::new(input.scope, &plan, ENGINE_RULE);
    let mode = mode_name(args.mode);
    let mut emitted = Emitted::default();
    emitted.fidelity.extend(scope_fid.all());
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
                name: object_name(format!("{base}-{}", m.suffix())),
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
        let header = fidelity_comment(&[scope_fid.for_policy(&p.name), t.fidelity].concat(), "# ");
        let content = render(&env, &source_name(p), &header, &notes, &views)?;
        emitted.push_document(
            input,
            &mut stdout,
            "",
            OutputFile {
                name: format!("kubewarden/{base}.yaml"),
                content,
            },
        )?;
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
            let calls: Vec<Expr> = t
                .modules
                .iter()
                .map(|m| {
                    let name = format!("psp{i}_{}", m.suffix().replace('-', "_"));
                    member_views.push(MemberView {
                        name: name.clone(),
                        module: m.module.reference(),
                        settings: m.settings.clone(),
                    });
                    call(&name, vec![])
                })
                .collect();
            alternatives.push(and(calls));
        }
        emitted.fidelity.extend(fid.clone());
        let (namespaces_in, namespaces_not_in) = selector(namespaces, &[]);
        let joined: Vec<String> = names.iter().map(|n| k8s_name(n)).collect();
        let name = object_name(format!("psp-any-of-{}", joined.join("--")));
        let source = super::group_source(&members);
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
            expression: or(alternatives).render(),
            message: format!(
                "no PodSecurityPolicy usable in this namespace admits the pod ({})",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let member_names: Vec<&str> = names.iter().map(String::as_str).collect();
        let header = fidelity_comment(&[scope_fid.for_policies(&member_names), fid].concat(), "# ");
        let content = render(&env, &source, &header, &notes, &[view])?;
        emitted.push_document(
            input,
            &mut stdout,
            "",
            OutputFile {
                name: format!("kubewarden/{name}.yaml"),
                content,
            },
        )?;
    }
    super::skipped_notes(&plan, &mut stdout, &mut emitted.fidelity);
    emitted.stdout = scope_fid.general_comment() + &stdout;
    if let Some(f) = scope_fid.notes_file(&env, "kubewarden")? {
        emitted.push_file(input, f)?;
    }
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

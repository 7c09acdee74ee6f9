//! `--to vap` and `--to kyverno-cel`: CEL admission policies from the IR (issue #9).
//!
//! One expression builder ([`validations`], [`variables`]) turns each validating [`Rule`] into a
//! CEL expression that is true when the pod satisfies the rule, with the same semantics as
//! [`crate::eval`] (init, regular and ephemeral containers, [`Scope`], [`Exemption`]s, absent
//! fields guarded with `has()`). Both outputs use it:
//!
//! - `vap`: `admissionregistration.k8s.io/v1` `ValidatingAdmissionPolicy` and
//!   `ValidatingAdmissionPolicyBinding` per policy;
//! - `kyverno-cel`: Kyverno `policies.kyverno.io/v1` `ValidatingPolicy` per policy.
//!
//! CEL validation cannot mutate, so PSP defaulting ([`crate::ir::Defaulting`]) is reported as
//! approximated: pods that PSP admission would have changed must now carry the values.
//!
//! Expressions only use core CEL that Kubernetes and the `cel-interpreter` crate agree on: no
//! optional syntax (`?.`), no string extension functions, `has()` on every optional field before
//! reading it, and integer literals only (pod JSON numbers are `int` in Kubernetes).

use super::{Emitted, Fidelity, FidelityEntry, Input, OutputFile, fidelity_comment, k8s_name};
use crate::ir::{
    Constraint, DefaultAction, Exemption, GroupField, HostNamespace, HostPathRule, IdRange,
    NameSet, Origin, Policy, ProfileSource, Rule, Scope,
};
use crate::scope::{Namespaces, Union};
use serde::Serialize;

/// Options of this backend.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// What a violation does (`validationActions`).
    pub mode: super::Mode,
    /// Also match pod controllers (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob,
    /// ReplicationController) and judge their pod templates.
    pub workloads: bool,
    /// The Kyverno release `--to kyverno-cel` is for: picks the `ValidatingPolicy` apiVersion
    /// (`v1alpha1` in 1.14–1.15, `v1beta1` in 1.16, `v1` from 1.17).
    pub kyverno_version: super::KyvernoVersion,
}

fn action(mode: super::Mode) -> &'static str {
    match mode {
        super::Mode::Enforce => "Deny",
        super::Mode::Warn => "Warn",
        super::Mode::Audit => "Audit",
    }
}

/// Golden files of this backend (see [`super::golden_files`]).
pub const GOLDEN_FILES_VAP: &[(&str, &[&str])] = &[("vap.yaml", &["--to", "vap"])];
/// Golden files of `--to kyverno-cel`.
pub const GOLDEN_FILES_KYVERNO_CEL: &[(&str, &[&str])] =
    &[("kyverno-cel.yaml", &["--to", "kyverno-cel"])];

/// A named CEL variable (`variables.<name>`), evaluated in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variable {
    pub name: String,
    pub expression: String,
}

/// One CEL validation from one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Validation {
    /// The constraint kind (`privileged`, `host-ports`, …).
    pub kind: String,
    /// The provenance: PSP field or PSS check id.
    pub field: String,
    /// True when the pod satisfies the rule.
    pub expression: String,
    /// A CEL string expression naming the policy and field.
    pub message_expression: String,
}

const SECCOMP_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER: &str = "container.seccomp.security.alpha.kubernetes.io/";
const APPARMOR_CONTAINER: &str = "container.apparmor.security.beta.kubernetes.io/";

const SPEC: &str = "variables.podSpec";
const META: &str = "variables.podMeta";
const CONTAINERS: &str = "variables.containers";
const VOLUMES: &str = "variables.volumes";

/// The variables every expression relies on: `podMeta`, `podSpec` (the pod's, or with
/// `workloads` the pod template's), `containers` (init, regular, ephemeral) and `volumes`.
pub fn variables(workloads: bool) -> Vec<Variable> {
    variables_for(workloads, &[])
}

/// Whether a container's image matches one of `patterns` (`*` suffix: prefix), as CEL over `c`.
fn image_matches(patterns: &[String]) -> String {
    let alts: Vec<String> = patterns
        .iter()
        .map(|p| match p.strip_suffix('*') {
            Some(prefix) => format!("c.image.startsWith({})", cel_string(prefix)),
            None => format!("c.image == {}", cel_string(p)),
        })
        .collect();
    format!("has(c.image) && ({})", alts.join(" || "))
}

/// The variables, with containers running an image in `exempt_images` left out of
/// `variables.containers` (they are not judged; pod-level checks still apply).
pub fn variables_for(workloads: bool, exempt_images: &[String]) -> Vec<Variable> {
    let (meta, spec) = if workloads {
        (
            "object.kind == 'Pod' ? object.metadata : object.kind == 'CronJob' ? \
             object.spec.jobTemplate.spec.template.metadata : object.spec.template.metadata",
            "object.kind == 'Pod' ? object.spec : object.kind == 'CronJob' ? \
             object.spec.jobTemplate.spec.template.spec : object.spec.template.spec",
        )
    } else {
        ("object.metadata", "object.spec")
    };
    let v = |n: &str, e: &str| Variable {
        name: n.into(),
        expression: e.into(),
    };
    vec![
        v("podMeta", meta),
        v("podSpec", spec),
        v("containers", &{
            let all = format!(
                "(has({SPEC}.initContainers) ? {SPEC}.initContainers : []) + \
                 (has({SPEC}.containers) ? {SPEC}.containers : []) + \
                 (has({SPEC}.ephemeralContainers) ? {SPEC}.ephemeralContainers : [])"
            );
            if exempt_images.is_empty() {
                all
            } else {
                format!("({all}).filter(c, !({}))", image_matches(exempt_images))
            }
        }),
        v(
            "volumes",
            &format!("has({SPEC}.volumes) ? {SPEC}.volumes : []"),
        ),
    ]
}

/// A CEL string literal (single-quoted; quotes, backslashes and control characters escaped).
pub fn cel_string(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn cel_list<S: AsRef<str>>(items: &[S]) -> String {
    let v: Vec<String> = items.iter().map(|s| cel_string(s.as_ref())).collect();
    format!("[{}]", v.join(", "))
}

/// `has(root.a) && has(root.a.b) && …` for the path below `root`.
fn has_path(root: &str, path: &[&str]) -> String {
    let mut parts = Vec::new();
    let mut cur = root.to_string();
    for p in path {
        cur = format!("{cur}.{p}");
        parts.push(format!("has({cur})"));
    }
    parts.join(" && ")
}

fn path(root: &str, path: &[&str]) -> String {
    let mut cur = root.to_string();
    for p in path {
        cur = format!("{cur}.{p}");
    }
    cur
}

/// True when the optional field is set and `pred` holds for its value.
fn set_and(root: &str, p: &[&str], pred: impl Fn(&str) -> String) -> String {
    format!("({} && {})", has_path(root, p), pred(&path(root, p)))
}

/// The value's truth: `pred(value)` if set, else `unset`.
fn if_set(root: &str, p: &[&str], pred: impl Fn(&str) -> String, unset: &str) -> String {
    format!(
        "({} ? {} : {unset})",
        has_path(root, p),
        pred(&path(root, p))
    )
}

/// The first set value among `candidates` decides (`pred`), else `unset`.
fn first_set(
    candidates: &[(String, String)],
    pred: &dyn Fn(&str) -> String,
    unset: &str,
) -> String {
    if unset == "true" && candidates.iter().all(|(_, v)| pred(v) == "true") {
        return "true".into();
    }
    let mut out = unset.to_string();
    for (cond, value) in candidates.iter().rev() {
        out = format!("({cond} ? {} : {out})", pred(value));
    }
    out
}

/// How loosely a CEL expression binds: the operator of lowest precedence at its top level
/// (outside parentheses, brackets and string literals). Composition helpers ([`not`],
/// [`and_all`], [`or_all`]) parenthesise an operand that binds more loosely than the operator
/// they apply, so every composed expression parses as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Binding {
    /// `a ? b : c`.
    Conditional,
    /// `a || b`.
    Or,
    /// `a && b`.
    And,
    /// Relations and arithmetic: `==`, `!=`, `<`, `in`, `+`, ….
    Relation,
    /// A literal, identifier, selection, call, index or parenthesised group, possibly negated.
    Primary,
}

fn binding(e: &str) -> Binding {
    let b = e.as_bytes();
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let mut loosest = Binding::Primary;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == b'\\' {
                i += 1;
            } else if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        let next = b.get(i + 1).copied();
        let found = match c {
            b'\'' | b'"' => {
                quote = Some(c);
                None
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                None
            }
            b')' | b']' | b'}' => {
                depth -= 1;
                None
            }
            _ if depth > 0 => None,
            b'?' | b':' => Some(Binding::Conditional),
            b'|' if next == Some(b'|') => Some(Binding::Or),
            b'&' if next == Some(b'&') => Some(Binding::And),
            b'=' | b'<' | b'>' | b'+' | b'-' | b'*' | b'/' | b'%' => Some(Binding::Relation),
            b'!' if next == Some(b'=') => Some(Binding::Relation),
            b' ' if e[i..].starts_with(" in ") => Some(Binding::Relation),
            _ => None,
        };
        if let Some(f) = found {
            loosest = loosest.min(f);
        }
        i += 1;
    }
    loosest
}

/// `e` as an operand of an operator that binds as tightly as `at`: parenthesised if looser.
fn operand(e: String, at: Binding) -> String {
    if binding(&e) < at {
        format!("({e})")
    } else {
        e
    }
}

/// The negation of `e`, parenthesised unless `e` is a primary (`!has(x)`, `!(a == b)`).
fn not(e: &str) -> String {
    match e {
        "true" => "false".into(),
        "false" => "true".into(),
        _ => format!("!{}", operand(e.to_string(), Binding::Primary)),
    }
}

fn or_all(parts: Vec<String>) -> String {
    match parts.len() {
        0 => "false".into(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => {
            let parts: Vec<String> = parts.into_iter().map(|p| operand(p, Binding::Or)).collect();
            format!("({})", parts.join(" || "))
        }
    }
}

fn and_all(parts: Vec<String>) -> String {
    let parts: Vec<String> = parts.into_iter().filter(|p| p != "true").collect();
    match parts.len() {
        0 => "true".into(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => parts
            .into_iter()
            .map(|p| operand(p, Binding::And))
            .collect::<Vec<_>>()
            .join(" && "),
    }
}

fn in_ranges(v: &str, ranges: &[IdRange]) -> String {
    or_all(
        ranges
            .iter()
            .map(|r| {
                if r.min == r.max {
                    format!("{v} == {}", r.min)
                } else {
                    format!("({v} >= {} && {v} <= {})", r.min, r.max)
                }
            })
            .collect(),
    )
}

/// Whether the string expression `v` is in the set (`prefix*` entries by prefix).
fn in_set(v: &str, set: &NameSet) -> String {
    let matches = |names: &[String]| {
        let literal: Vec<&String> = names.iter().filter(|n| !n.ends_with('*')).collect();
        let mut parts = Vec::new();
        match literal.len() {
            0 => {}
            1 => parts.push(format!("{v} == {}", cel_string(literal[0]))),
            _ => parts.push(format!("{v} in {}", cel_list(&literal))),
        }
        for n in names {
            if let Some(prefix) = n.strip_suffix('*') {
                parts.push(format!("{v}.startsWith({})", cel_string(prefix)));
            }
        }
        or_all(parts)
    };
    match set {
        NameSet::Any => "true".into(),
        NameSet::Only(names) => matches(names),
        NameSet::AnyExcept(names) => not(&matches(names)),
    }
}

fn all_containers(pred: String) -> String {
    if pred == "true" {
        return pred;
    }
    format!("{CONTAINERS}.all(c, {pred})")
}

/// A seccomp/AppArmor profile object's PSP annotation form.
fn profile_form(p: &str) -> String {
    let ty = format!("(has({p}.type) ? {p}.type : '')");
    format!(
        "({ty} == 'RuntimeDefault' ? 'runtime/default' : {ty} == 'Unconfined' ? 'unconfined' : \
         {ty} == 'Localhost' ? 'localhost/' + (has({p}.localhostProfile) ? {p}.localhostProfile : '') : {ty})"
    )
}

fn annotation_set(key: &str) -> String {
    format!("(has({META}.annotations) && {key} in {META}.annotations)")
}

fn annotation(key: &str) -> String {
    format!("{META}.annotations[{key}]")
}

/// PSP's host path prefix match by whole components (see `eval::path_has_prefix`).
fn host_path_match(v: &str, rule: &HostPathRule) -> String {
    let pre = rule.path_prefix.trim_end_matches('/');
    if pre.is_empty() {
        if rule.path_prefix.is_empty() {
            return "true".into();
        }
        return format!("{v}.startsWith('/')");
    }
    format!(
        "({v} == {} || {v}.startsWith({}))",
        cel_string(pre),
        cel_string(&format!("{pre}/"))
    )
}

/// Every volume source key the core/v1 API knows, with PSP's `volumes` spelling.
fn volume_key(psp_name: &str) -> Option<&'static str> {
    let key = crate::k8s::pod_volume_key(psp_name);
    crate::k8s::VOLUME_SOURCES
        .iter()
        .copied()
        .find(|k| *k == key)
}

/// The expression for one constraint: true when the pod satisfies it. `None` when the
/// constraint admits every pod (nothing to check).
pub fn constraint_expression(constraint: &Constraint) -> Option<String> {
    fn pod_sc(p: &[&'static str]) -> Vec<&'static str> {
        let mut v = vec!["securityContext"];
        v.extend_from_slice(p);
        v
    }
    let expr = match constraint {
        Constraint::Privileged { allowed: true }
        | Constraint::HostNamespace { allowed: true, .. }
        | Constraint::HostProcess { allowed: true }
        | Constraint::ProbeHost { allowed: true } => return None,
        Constraint::Privileged { allowed: false } => all_containers(not(&set_and(
            "c",
            &["securityContext", "privileged"],
            |v| format!("{v} == true"),
        ))),
        Constraint::HostNamespace { namespace, .. } => {
            let f = match namespace {
                HostNamespace::Network => "hostNetwork",
                HostNamespace::Pid => "hostPID",
                HostNamespace::Ipc => "hostIPC",
            };
            not(&set_and(SPEC, &[f], |v| format!("{v} == true")))
        }
        Constraint::HostPorts { allowed } => {
            let ok = or_all(vec![
                format!("!has(p.hostPort)"),
                "p.hostPort == 0".into(),
                in_ranges("p.hostPort", allowed),
            ]);
            all_containers(format!("!has(c.ports) || c.ports.all(p, {ok})"))
        }
        Constraint::HostProcess { allowed: false } => {
            let hp = |root: &str| {
                set_and(
                    root,
                    &["securityContext", "windowsOptions", "hostProcess"],
                    |v| format!("{v} == true"),
                )
            };
            and_all(vec![not(&hp(SPEC)), all_containers(not(&hp("c")))])
        }
        Constraint::ProbeHost { allowed: false } => {
            let handler = |h: &[&str]| {
                let mut checks = Vec::new();
                for kind in ["httpGet", "tcpSocket"] {
                    let mut p = h.to_vec();
                    p.push(kind);
                    p.push("host");
                    checks.push(not(&set_and("c", &p, |v| format!("{v} != ''"))));
                }
                and_all(checks)
            };
            let mut parts = Vec::new();
            for h in [
                &["livenessProbe"][..],
                &["readinessProbe"],
                &["startupProbe"],
                &["lifecycle", "postStart"],
                &["lifecycle", "preStop"],
            ] {
                parts.push(handler(h));
            }
            all_containers(format!("({})", and_all(parts)))
        }
        Constraint::Volumes { allowed } => {
            let keys = |names: &[String]| -> Vec<String> {
                let mut k: Vec<String> = names
                    .iter()
                    .filter_map(|n| volume_key(n))
                    .map(|k| format!("has(v.{k})"))
                    .collect();
                k.sort();
                k.dedup();
                k
            };
            let ok = match allowed {
                NameSet::Any => return None,
                NameSet::Only(names) => or_all(keys(names)),
                NameSet::AnyExcept(names) => not(&or_all(keys(names))),
            };
            format!("{VOLUMES}.all(v, {ok})")
        }
        Constraint::HostPaths { allowed } => {
            let p = "v.hostPath.path";
            let any = or_all(allowed.iter().map(|a| host_path_match(p, a)).collect());
            let writable = or_all(
                allowed
                    .iter()
                    .filter(|a| !a.read_only)
                    .map(|a| host_path_match(p, a))
                    .collect(),
            );
            let mounts_ro = all_containers(
                "!has(c.volumeMounts) || c.volumeMounts.all(m, m.name != v.name || \
                 (has(m.readOnly) && m.readOnly == true))"
                    .into(),
            );
            let under = format!("(has(v.hostPath.path) ? {any} : false)");
            let rw = format!("(has(v.hostPath.path) && {writable})");
            format!("{VOLUMES}.all(v, !has(v.hostPath) || ({under} && ({rw} || {mounts_ro})))")
        }
        Constraint::FlexVolumeDrivers { allowed } => format!(
            "{VOLUMES}.all(v, !has(v.flexVolume) || (has(v.flexVolume.driver) && v.flexVolume.driver in {}))",
            cel_list(allowed)
        ),
        Constraint::CsiDrivers { allowed } => format!(
            "{VOLUMES}.all(v, !has(v.csi) || (has(v.csi.driver) && v.csi.driver in {}))",
            cel_list(allowed)
        ),
        Constraint::AddCapabilities { allowed } => {
            let ok = in_set("a", allowed);
            if ok == "true" {
                return None;
            }
            all_containers(format!(
                "(!({}) || c.securityContext.capabilities.add.all(a, {ok}))",
                has_path("c", &["securityContext", "capabilities", "add"])
            ))
        }
        Constraint::DropCapabilities { required } => {
            if required.is_empty() {
                return None;
            }
            let d = "c.securityContext.capabilities.drop";
            let all: Vec<String> = required
                .iter()
                .map(|r| format!("{} in {d}", cel_string(r)))
                .collect();
            all_containers(format!(
                "({} && {})",
                has_path("c", &["securityContext", "capabilities", "drop"]),
                and_all(all)
            ))
        }
        Constraint::RunAsUser {
            ranges,
            required,
            scope,
        } => {
            let ok = |v: &str| in_ranges(v, ranges);
            match scope {
                Scope::EveryValue => and_all(vec![
                    if_set(SPEC, &pod_sc(&["runAsUser"]), ok, "true"),
                    all_containers(if_set("c", &["securityContext", "runAsUser"], ok, "true")),
                ]),
                Scope::Effective => all_containers(first_set(
                    &effective("runAsUser"),
                    &ok,
                    if *required { "false" } else { "true" },
                )),
            }
        }
        Constraint::RunAsNonRoot {
            nonzero_uid_suffices,
            scope,
        } => match scope {
            Scope::EveryValue => {
                let pod_nr = has_path(SPEC, &pod_sc(&["runAsNonRoot"]));
                let pod_true = format!("({pod_nr} && {SPEC}.securityContext.runAsNonRoot == true)");
                let pod_false =
                    format!("({pod_nr} && {SPEC}.securityContext.runAsNonRoot == false)");
                let uid_ok = if *nonzero_uid_suffices {
                    first_set(&effective("runAsUser"), &|v| format!("{v} != 0"), "false")
                } else {
                    "false".into()
                };
                and_all(vec![
                    not(&pod_false),
                    all_containers(if_set(
                        "c",
                        &["securityContext", "runAsNonRoot"],
                        |v| format!("{v} == true"),
                        &format!("({pod_true} || {uid_ok})"),
                    )),
                ])
            }
            Scope::Effective => {
                let nr = effective("runAsNonRoot");
                let uid = effective("runAsUser");
                let not_false = first_set(&nr, &|v| format!("{v} != false"), "true");
                let not_root = first_set(&uid, &|v| format!("{v} != 0"), "true");
                let is_true = first_set(&nr, &|v| format!("{v} == true"), "false");
                let third = if *nonzero_uid_suffices {
                    format!(
                        "({is_true} || {})",
                        first_set(&uid, &|v| format!("{v} != 0"), "false")
                    )
                } else {
                    is_true
                };
                all_containers(format!("({not_false} && {not_root} && {third})"))
            }
        },
        Constraint::GroupIds {
            field,
            ranges,
            required,
        } => {
            let ok = |v: &str| in_ranges(v, ranges);
            let unset = if *required { "false" } else { "true" };
            match field {
                // PSP judges each container's effective runAsGroup (its own, else the pod's);
                // a pod-level value every container overrides is not judged.
                GroupField::RunAsGroup => all_containers(if_set(
                    "c",
                    &["securityContext", "runAsGroup"],
                    ok,
                    &if_set(SPEC, &pod_sc(&["runAsGroup"]), ok, unset),
                )),
                GroupField::FsGroup => if_set(SPEC, &pod_sc(&["fsGroup"]), ok, unset),
                GroupField::SupplementalGroups => {
                    let g = format!("{SPEC}.securityContext.supplementalGroups");
                    let has = has_path(SPEC, &pod_sc(&["supplementalGroups"]));
                    let req = if *required {
                        format!("({has} && size({g}) > 0)")
                    } else {
                        "true".into()
                    };
                    and_all(vec![req, format!("(!({has}) || {g}.all(x, {}))", ok("x"))])
                }
            }
        }
        Constraint::ReadOnlyRootFilesystem => all_containers(set_and(
            "c",
            &["securityContext", "readOnlyRootFilesystem"],
            |v| format!("{v} == true"),
        )),
        Constraint::NoPrivilegeEscalation => all_containers(set_and(
            "c",
            &["securityContext", "allowPrivilegeEscalation"],
            |v| format!("{v} == false"),
        )),
        Constraint::ProcMount { allowed } => {
            if matches!(allowed, NameSet::Any) {
                return None;
            }
            all_containers(if_set(
                "c",
                &["securityContext", "procMount"],
                |v| in_set(v, allowed),
                "true",
            ))
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
            let judge = |o: &str| {
                and_all(
                    parts
                        .iter()
                        .filter_map(|(n, l)| {
                            l.as_ref().map(|l| {
                                format!("(has({o}.{n}) ? {o}.{n} : '') in {}", cel_list(l))
                            })
                        })
                        .collect(),
                )
            };
            let empty_ok = parts
                .iter()
                .all(|(_, l)| l.as_ref().is_none_or(|l| l.iter().any(String::is_empty)));
            let empty_ok = if empty_ok { "true" } else { "false" };
            if judge("o") == "true" {
                return None;
            }
            match scope {
                Scope::EveryValue => and_all(vec![
                    if_set(SPEC, &pod_sc(&["seLinuxOptions"]), judge, "true"),
                    all_containers(if_set(
                        "c",
                        &["securityContext", "seLinuxOptions"],
                        judge,
                        "true",
                    )),
                ]),
                Scope::Effective => {
                    all_containers(first_set(&effective("seLinuxOptions"), &judge, empty_ok))
                }
            }
        }
        Constraint::Seccomp {
            allowed,
            unset_allowed,
            source,
            scope,
        } => {
            if matches!(allowed, NameSet::Any) && *unset_allowed {
                return None;
            }
            seccomp(allowed, *unset_allowed, *source, *scope)
        }
        Constraint::AppArmor {
            allowed,
            unset_allowed,
            scope,
        } => {
            if matches!(allowed, NameSet::Any) && *unset_allowed {
                return None;
            }
            apparmor(allowed, *unset_allowed, *scope)
        }
        Constraint::Sysctls { allowed, forbidden } => {
            let mut ok = vec![in_set("s.name", allowed)];
            if !forbidden.is_empty() {
                ok.push(not(&in_set("s.name", &NameSet::Only(forbidden.clone()))));
            }
            let ok = and_all(ok);
            if ok == "true" {
                return None;
            }
            format!(
                "!({}) || {SPEC}.securityContext.sysctls.all(s, {ok})",
                has_path(SPEC, &pod_sc(&["sysctls"]))
            )
        }
        Constraint::RuntimeClass { allowed } => {
            if matches!(allowed, NameSet::Any) {
                return None;
            }
            format!(
                "!has({SPEC}.runtimeClassName) || {}",
                in_set(&format!("{SPEC}.runtimeClassName"), allowed)
            )
        }
    };
    Some(expr)
}

/// The container's value, else the pod's: `(presence, value)` candidates for [`first_set`].
fn effective(field: &str) -> Vec<(String, String)> {
    vec![
        (
            has_path("c", &["securityContext", field]),
            format!("c.securityContext.{field}"),
        ),
        (
            has_path(SPEC, &["securityContext", field]),
            format!("{SPEC}.securityContext.{field}"),
        ),
    ]
}

fn seccomp(allowed: &NameSet, unset_allowed: bool, source: ProfileSource, scope: Scope) -> String {
    let ok = |v: &str| in_set(v, allowed);
    let unset = if unset_allowed { "true" } else { "false" };
    let pod_key = cel_string(SECCOMP_POD);
    let c_key = format!("{} + c.name", cel_string(SECCOMP_CONTAINER));
    let c_field = has_path("c", &["securityContext", "seccompProfile"]);
    let pod_field = has_path(SPEC, &["securityContext", "seccompProfile"]);
    let c_form = profile_form("c.securityContext.seccompProfile");
    let pod_form = profile_form(&format!("{SPEC}.securityContext.seccompProfile"));
    match (source, scope) {
        (ProfileSource::Annotations, Scope::EveryValue) => and_all(vec![
            format!(
                "(!{} || {})",
                annotation_set(&pod_key),
                ok(&annotation(&pod_key))
            ),
            all_containers(format!(
                "({} ? {} : ({unset} || {}))",
                annotation_set(&c_key),
                ok(&annotation(&c_key)),
                annotation_set(&pod_key)
            )),
        ]),
        (_, Scope::EveryValue) => and_all(vec![
            format!("(!({pod_field}) || {})", ok(&pod_form)),
            all_containers(format!(
                "(({c_field}) ? {} : ({unset} || ({pod_field})))",
                ok(&c_form)
            )),
        ]),
        (source, Scope::Effective) => {
            let fields = source != ProfileSource::Annotations;
            let anns = source != ProfileSource::Fields;
            let mut c = Vec::new();
            let mut pod = Vec::new();
            if fields {
                c.push((c_field.clone(), c_form.clone()));
            }
            if anns {
                c.push((annotation_set(&c_key), annotation(&c_key)));
            }
            if fields {
                c.push((pod_field.clone(), pod_form.clone()));
                pod.push((pod_field, pod_form));
            }
            if anns {
                c.push((annotation_set(&pod_key), annotation(&pod_key)));
                pod.push((annotation_set(&pod_key), annotation(&pod_key)));
            }
            and_all(vec![
                first_set(&pod, &ok, unset),
                all_containers(first_set(&c, &ok, unset)),
            ])
        }
    }
}

fn apparmor(allowed: &NameSet, unset_allowed: bool, scope: Scope) -> String {
    let ok = |v: &str| in_set(v, allowed);
    let unset = if unset_allowed { "true" } else { "false" };
    let c_field = has_path("c", &["securityContext", "appArmorProfile"]);
    let pod_field = has_path(SPEC, &["securityContext", "appArmorProfile"]);
    let c_form = profile_form("c.securityContext.appArmorProfile");
    let pod_form = profile_form(&format!("{SPEC}.securityContext.appArmorProfile"));
    match scope {
        Scope::EveryValue => and_all(vec![
            format!("(!({pod_field}) || {})", ok(&pod_form)),
            all_containers(format!("(!({c_field}) || {})", ok(&c_form))),
            format!(
                "(!has({META}.annotations) || {META}.annotations.all(k, !k.startsWith({}) || {}))",
                cel_string(APPARMOR_CONTAINER),
                ok(&format!("{META}.annotations[k]"))
            ),
        ]),
        Scope::Effective => {
            let c_key = format!("{} + c.name", cel_string(APPARMOR_CONTAINER));
            let judge = |v: &str| format!("({v} == '' ? {unset} : {})", ok(v));
            all_containers(first_set(
                &[
                    (c_field, c_form),
                    (pod_field, pod_form),
                    (annotation_set(&c_key), annotation(&c_key)),
                ],
                &judge,
                unset,
            ))
        }
    }
}

/// The expression for a rule, with its exemptions.
pub fn rule_expression(rule: &Rule) -> Option<String> {
    let expr = constraint_expression(&rule.constraint).filter(|e| e != "true")?;
    let mut exempt = Vec::new();
    for e in &rule.unless {
        exempt.push(match e {
            Exemption::WindowsPod => {
                format!(
                    "({} && {SPEC}.os.name == 'windows')",
                    has_path(SPEC, &["os", "name"])
                )
            }
            Exemption::UserNamespacePod => {
                format!(
                    "({} && {SPEC}.hostUsers == false)",
                    has_path(SPEC, &["hostUsers"])
                )
            }
        });
    }
    Some(if exempt.is_empty() {
        expr
    } else {
        format!("{} || ({expr})", exempt.join(" || "))
    })
}

fn source_name(policy: &Policy) -> String {
    match &policy.origin {
        Origin::Psp { .. } => format!("PodSecurityPolicy `{}`", policy.name),
        Origin::Level { level, version } => format!("Pod Security Standards {level} {version}"),
    }
}

/// Every validation of a policy, in rule order, then one per required capability drop: PSP
/// added `requiredDropCapabilities` to every container and then checked them; a validating
/// policy cannot add them, so it requires pods to drop them themselves.
pub fn validations(policy: &Policy) -> Vec<Validation> {
    let mut out = rule_validations(policy);
    for d in &policy.defaults {
        if let DefaultAction::DropCapabilities { capabilities } = &d.action {
            let required = Constraint::DropCapabilities {
                required: capabilities.clone(),
            };
            let Some(expression) = constraint_expression(&required) else {
                continue;
            };
            let message = format!(
                "{} {}: every container must drop {}",
                source_name(policy),
                d.provenance.field,
                capabilities.join(", ")
            );
            out.push(Validation {
                kind: d.action.kind_name().to_string(),
                field: d.provenance.field.clone(),
                expression,
                message_expression: cel_string(&message),
            });
        }
    }
    out
}

fn rule_validations(policy: &Policy) -> Vec<Validation> {
    policy
        .rules
        .iter()
        .filter_map(|rule| {
            let expression = rule_expression(rule)?;
            let what = rule
                .provenance
                .check
                .as_deref()
                .map(|c| format!("check {c}"))
                .unwrap_or_else(|| rule.provenance.field.clone());
            let message = format!(
                "{} {what}: pod violates {}",
                source_name(policy),
                rule.constraint.kind_name()
            );
            Some(Validation {
                kind: rule.constraint.kind_name().to_string(),
                field: rule.provenance.field.clone(),
                expression,
                message_expression: cel_string(&message),
            })
        })
        .collect()
}

/// Whether a validation backs up what the defaulting set: pods that leave the value unset are
/// rejected, so "pods must now carry it themselves" holds.
fn default_checked(policy: &Policy, action: &DefaultAction) -> bool {
    let has = |f: &dyn Fn(&Constraint) -> bool| policy.rules.iter().any(|r| f(&r.constraint));
    match action {
        // Checked by the validation `validations` adds for it.
        DefaultAction::DropCapabilities { .. } => true,
        DefaultAction::AddCapabilities { .. } => false,
        // Unset already means allowed (see `default_note`).
        DefaultAction::AllowPrivilegeEscalation { value: true } => true,
        DefaultAction::AllowPrivilegeEscalation { value: false } => {
            has(&|c| matches!(c, Constraint::NoPrivilegeEscalation))
        }
        DefaultAction::ReadOnlyRootFilesystem => {
            has(&|c| matches!(c, Constraint::ReadOnlyRootFilesystem))
        }
        DefaultAction::RunAsNonRoot => has(&|c| matches!(c, Constraint::RunAsNonRoot { .. })),
        DefaultAction::RunAsUser { .. } => {
            has(&|c| matches!(c, Constraint::RunAsUser { required: true, .. }))
        }
        DefaultAction::GroupId { field, .. } => has(
            &|c| matches!(c, Constraint::GroupIds { field: f, required: true, .. } if f == field),
        ),
        DefaultAction::SeLinuxOptions { .. } => has(&|c| match c {
            Constraint::SeLinux {
                user,
                role,
                type_,
                level,
                ..
            } => ![user, role, type_, level]
                .iter()
                .all(|l| l.as_ref().is_none_or(|l| l.iter().any(String::is_empty))),
            _ => false,
        }),
        DefaultAction::SeccompProfile { .. } => has(&|c| {
            matches!(
                c,
                Constraint::Seccomp {
                    unset_allowed: false,
                    ..
                }
            )
        }),
        DefaultAction::AppArmorProfile { .. } => has(&|c| {
            matches!(
                c,
                Constraint::AppArmor {
                    unset_allowed: false,
                    ..
                }
            )
        }),
        DefaultAction::RuntimeClass { .. } => {
            has(&|c| matches!(c, Constraint::RuntimeClass { allowed } if !allowed.contains("")))
        }
    }
}

fn default_note(policy: &Policy, action: &DefaultAction) -> String {
    let what = match action {
        DefaultAction::AddCapabilities { capabilities } => {
            format!("capabilities.add {}", capabilities.join(", "))
        }
        DefaultAction::DropCapabilities { capabilities } => {
            format!("capabilities.drop {}", capabilities.join(", "))
        }
        DefaultAction::AllowPrivilegeEscalation { value } => {
            format!("allowPrivilegeEscalation={value} on containers that leave it unset")
        }
        DefaultAction::ReadOnlyRootFilesystem => {
            "readOnlyRootFilesystem=true on containers that leave it unset".into()
        }
        DefaultAction::RunAsNonRoot => "runAsNonRoot=true when no user is set".into(),
        DefaultAction::RunAsUser { value } => format!("runAsUser={value} when unset"),
        DefaultAction::GroupId { field, value } => format!("{}={value} when unset", field.as_str()),
        DefaultAction::SeLinuxOptions { .. } => "the pod's seLinuxOptions when unset".into(),
        DefaultAction::SeccompProfile { profile } => {
            format!("seccomp profile {profile} when none is set")
        }
        DefaultAction::AppArmorProfile { profile } => {
            format!("AppArmor profile {profile} when none is set")
        }
        DefaultAction::RuntimeClass { name } => format!("runtimeClassName {name} when unset"),
    };
    if matches!(
        action,
        DefaultAction::AllowPrivilegeEscalation { value: true }
    ) {
        format!("CEL validation cannot mutate: PSP set {what}; unset already means allowed")
    } else if default_checked(policy, action) {
        format!("CEL validation cannot mutate: PSP set {what}; pods must now carry it themselves")
    } else {
        format!(
            "CEL validation cannot mutate: PSP set {what}; pods that leave it unset are admitted without it"
        )
    }
}

/// One fidelity entry per policy × field (the worst of its constraints).
pub fn fidelity(policy: &Policy, workloads: bool) -> Vec<FidelityEntry> {
    let mut out: Vec<FidelityEntry> = Vec::new();
    let mut push = |field: &str, fidelity: Fidelity, note: String| {
        if let Some(e) = out.iter_mut().find(|e| e.field == field) {
            if fidelity > e.fidelity {
                e.fidelity = fidelity;
                e.note = note;
            }
            return;
        }
        out.push(FidelityEntry {
            policy: policy.name.clone(),
            field: field.to_string(),
            fidelity,
            note,
        });
    };
    for rule in &policy.rules {
        let note = if workloads {
            "CEL expression; pod templates of workloads are judged as pods (no API defaulting)"
        } else {
            "CEL expression"
        };
        push(&rule.provenance.field, Fidelity::Exact, note.into());
    }
    for d in &policy.defaults {
        push(
            &d.provenance.field,
            Fidelity::Approximated,
            default_note(policy, &d.action),
        );
    }
    if !policy.images.is_empty() {
        push(
            "metadata.annotations[falco-rules-psp-images]",
            Fidelity::Approximated,
            "image scoping is not translated: the rules apply to every container".into(),
        );
    }
    out
}

#[derive(Serialize)]
struct PolicyCtx {
    /// `Some`: only these namespaces (RBAC).
    namespaces_in: Option<Vec<String>>,
    /// Namespaces left out: RBAC (another policy decides there) and exemptions.
    namespaces_not_in: Vec<String>,
    name: String,
    source: String,
    /// The `polytrans.dev/scope` annotation (RBAC), if any.
    scope: Option<String>,
    header: String,
    variables: Vec<Variable>,
    validations: Vec<Validation>,
}

#[derive(Serialize)]
struct Ctx<'a> {
    policies: Vec<PolicyCtx>,
    action: &'a str,
    /// `apiVersion` of Kyverno's `ValidatingPolicy` (`--kyverno-version`).
    kyverno_api_version: &'a str,
    workloads: bool,
    /// A note on how the policies combine, for the header.
    note: Option<&'a str>,
}

/// Which target of the two this backend writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `ValidatingAdmissionPolicy` + binding.
    Vap,
    /// Kyverno `ValidatingPolicy`.
    KyvernoCel,
}

impl Flavor {
    fn template(self) -> &'static str {
        match self {
            Flavor::Vap => "cel/vap.yaml.j2",
            Flavor::KyvernoCel => "cel/kyverno-cel.yaml.j2",
        }
    }

    fn target(self) -> &'static str {
        match self {
            Flavor::Vap => "vap",
            Flavor::KyvernoCel => "kyverno-cel",
        }
    }
}

/// The name of the policy that admits a pod when any of `psps` does.
fn any_of_name(psps: &[String]) -> String {
    let joined: Vec<String> = psps.iter().map(|p| k8s_name(p)).collect();
    let mut n = format!("psp-any-of-{}", joined.join("--"));
    // Object names are DNS subdomains (253 characters); keep well inside.
    if n.len() > 200 {
        n.truncate(200);
        n = n.trim_end_matches('-').to_string();
    }
    n
}

/// One policy that admits a pod when any of `members` admits it: each member's validations
/// become one variable (their conjunction), the validation is the disjunction, and the message
/// names, per member, the fields that reject the pod.
fn any_of_ctx(members: &[&Policy], workloads: bool) -> (Vec<Variable>, Validation) {
    let mut vars = variables_for(workloads, &[]);
    let mut alternatives = Vec::new();
    let mut message = vec![cel_string(&format!(
        "no PodSecurityPolicy usable in this namespace admits the pod ({}):",
        members
            .iter()
            .map(|p| format!("`{}`", p.name))
            .collect::<Vec<_>>()
            .join(", ")
    ))];
    for (i, p) in members.iter().enumerate() {
        let vs = validations(p);
        let var = format!("psp{i}");
        let conj = if vs.is_empty() {
            "true".to_string()
        } else {
            vs.iter()
                .map(|v| format!("({})", v.expression))
                .collect::<Vec<_>>()
                .join(" && ")
        };
        vars.push(Variable {
            name: var.clone(),
            expression: conj,
        });
        alternatives.push(format!("variables.{var}"));
        let mut failing = vec![cel_string(&format!(" `{}` rejects", p.name))];
        for v in &vs {
            failing.push(format!(
                "(({}) ? '' : {})",
                v.expression,
                cel_string(&format!(" {}", v.field))
            ));
        }
        message.push(format!("(variables.{var} ? '' : {})", failing.join(" + ")));
    }
    let validation = Validation {
        kind: "any-of".into(),
        field: "rbac".into(),
        expression: alternatives.join(" || "),
        message_expression: message.join(" + "),
    };
    (vars, validation)
}

pub fn emit(input: &Input<'_>, args: &Options, flavor: Flavor) -> Result<Emitted, crate::Error> {
    if flavor == Flavor::KyvernoCel
        && args.kyverno_version < super::KyvernoVersion::VALIDATING_POLICY
    {
        return Err(crate::Error::Usage(format!(
            "--kyverno-version {}: Kyverno's ValidatingPolicy arrived in {}\nhelp: upgrade Kyverno, or use `--to kyverno` (ClusterPolicy) for this release",
            args.kyverno_version,
            super::KyvernoVersion::VALIDATING_POLICY
        )));
    }
    let env = crate::render::environment(input.common.templates.as_deref());
    let workloads = args.workloads;
    let mut emitted = Emitted::default();
    let mut stdout = String::new();
    let plan = input.scope.plan(input.policies, Union::AnyOf);
    let scope_fid = super::scope_fidelity(input.scope, &plan, "");
    emitted.fidelity.extend(scope_fid.clone());
    let note = if input.scope.from_rbac {
        Some(
            "note: bound by RBAC (see the polytrans.dev/scope annotation): where several PSPs are\n# usable, the one that admits all the others admit decides, or one policy admits a pod\n# any of them admits, as PSP admission did.",
        )
    } else if input.policies.len() > 1 {
        Some(
            "note: each policy below is enforced on its own (all must pass); PSP admitted a pod when any\n# usable PSP did. Bind each policy only to the namespaces whose service accounts used the PSP.",
        )
    } else {
        None
    };
    let selector = |namespaces: &Namespaces, exempt: &[String]| {
        super::namespace_selector(input.scope, namespaces, exempt)
    };
    let mut ctxs = Vec::new();
    for policy in input.policies {
        let fid = fidelity(policy, workloads);
        emitted.fidelity.extend(fid.clone());
        let Some(place) = plan.placements.get(&policy.name) else {
            continue;
        };
        let (namespaces_in, namespaces_not_in) =
            selector(&place.namespaces, &policy.exempt_namespaces);
        ctxs.push(PolicyCtx {
            namespaces_in,
            namespaces_not_in,
            name: format!("psp-{}", k8s_name(&policy.name)),
            source: source_name(policy),
            scope: input.scope.from_rbac.then(|| place.why.clone()),
            header: fidelity_comment(&[scope_fid.clone(), fid].concat(), "# "),
            variables: variables_for(workloads, &policy.exempt_images),
            validations: validations(policy),
        });
    }
    for (namespaces, names) in &plan.any_of {
        let members: Vec<&Policy> = names
            .iter()
            .filter_map(|n| input.policies.iter().find(|p| &p.name == n))
            .collect();
        let fid: Vec<FidelityEntry> = members
            .iter()
            .flat_map(|p| fidelity(p, workloads))
            .collect();
        let (variables, validation) = any_of_ctx(&members, workloads);
        let (namespaces_in, namespaces_not_in) = selector(namespaces, &[]);
        ctxs.push(PolicyCtx {
            namespaces_in,
            namespaces_not_in,
            name: any_of_name(names),
            source: format!(
                "PodSecurityPolicies {}",
                members
                    .iter()
                    .map(|p| format!("`{}`", p.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            scope: Some(format!(
                "rbac: {}: any of {} admits the pod (none of them admits all the others do)",
                namespaces.describe(),
                names.join(", ")
            )),
            header: fidelity_comment(&[scope_fid.clone(), fid].concat(), "# "),
            variables,
            validations: vec![validation],
        });
    }
    for p in ctxs {
        let ctx = Ctx {
            policies: vec![p],
            action: action(args.mode),
            kyverno_api_version: args.kyverno_version.cel_api_version(),
            workloads,
            note,
        };
        let content = crate::render::render(&env, flavor.template(), &ctx)?;
        emitted.files.push(OutputFile {
            name: format!("{}/{}.yaml", flavor.target(), ctx.policies[0].name),
            content: content.clone(),
        });
        stdout.push_str(&content);
    }
    super::skipped_notes(&plan, &mut stdout, &mut emitted.fidelity);
    emitted.stdout = stdout;
    Ok(emitted)
}

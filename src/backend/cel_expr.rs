//! CEL expressions from the IR, shared by the backends that speak CEL: `--to vap` and
//! `--to kyverno-cel` (validating and mutating policies, `cel/`) and the `cel-policy`
//! validations of `--to kubewarden`. Not a target: it holds no output layout.
//!
//! [`rule_expression`] turns each validating [`Rule`] into a CEL expression that is true when
//! the pod satisfies the rule, with the same semantics as [`crate::eval`] (init, regular and
//! ephemeral containers, [`Scope`], [`Exemption`]s, absent fields guarded with `has()`), over
//! the [`variables`] every expression relies on.
//!
//! Expressions are built as typed trees ([`tree::Expr`]), parenthesised by construction and
//! type-checked in debug builds, and only rendered to text where they are written out.
//!
//! Expressions only use core CEL that Kubernetes and the `cel-interpreter` crate agree on: no
//! optional syntax (`?.`), no string extension functions, `has()` on every optional field before
//! reading it, and integer literals only (pod JSON numbers are `int` in Kubernetes).

use crate::ir::{
    Constraint, Exemption, GroupField, HostNamespace, HostPathRule, IdRange, NameSet,
    ProfileSource, Rule, Scope,
};
use serde::Serialize;

pub mod tree;

pub use tree::{Expr, Ty, TypeError};
use tree::{and, cond, ident, or, str_list, str_lit, sum};

/// A named CEL variable (`variables.<name>`), evaluated in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variable {
    pub name: String,
    pub expression: String,
}

impl Variable {
    /// A variable holding `e`.
    pub fn new(name: &str, e: &Expr) -> Variable {
        Variable {
            name: name.to_string(),
            expression: e.render(),
        }
    }
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
    /// [`Validation::expression`] as a tree.
    #[serde(skip)]
    pub tree: Expr,
}

impl Validation {
    pub fn new(kind: &str, field: &str, tree: Expr, message: &Expr) -> Validation {
        Validation {
            kind: kind.to_string(),
            field: field.to_string(),
            expression: tree.render_bool(),
            message_expression: message.render(),
            tree,
        }
    }
}

pub(crate) const SECCOMP_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";
pub(crate) const SECCOMP_CONTAINER: &str = "container.seccomp.security.alpha.kubernetes.io/";
pub(crate) const APPARMOR_CONTAINER: &str = "container.apparmor.security.beta.kubernetes.io/";

/// `variables.<name>`.
pub(crate) fn var(name: &str) -> Expr {
    ident("variables").field(name)
}

/// `variables.podSpec`.
pub(crate) fn spec() -> Expr {
    var("podSpec")
}

/// `variables.podMeta`.
pub(crate) fn meta() -> Expr {
    var("podMeta")
}

/// `c`, the container of `variables.containers.all(c, …)`.
fn c() -> Expr {
    ident("c")
}

/// The variables every expression relies on: `podMeta`, `podSpec` (the pod's, or with
/// `workloads` the pod template's), `containers` (init, regular, ephemeral) and `volumes`.
pub fn variables(workloads: bool) -> Vec<Variable> {
    variables_for(workloads, &[])
}

/// Whether a container's image matches one of `patterns` (`*` suffix: prefix), over `c`.
pub(crate) fn image_matches(patterns: &[String]) -> Expr {
    let image = || c().field("image");
    let alts = patterns
        .iter()
        .map(|p| match p.strip_suffix('*') {
            Some(prefix) => image().starts_with(str_lit(prefix)),
            None => image().eq(str_lit(p)),
        })
        .collect();
    and(vec![image().has(), or(alts)])
}

/// `has(list) ? list : []`.
pub(crate) fn or_empty(list: Expr) -> Expr {
    cond(list.clone().has(), list, Expr::List(vec![]))
}

/// The pod's metadata and spec: of the object, or with `workloads` of the pod template of
/// a workload (`object.kind` decides).
pub(crate) fn pod_meta_spec(workloads: bool) -> (Expr, Expr) {
    let o = || ident("object");
    if !workloads {
        return (o().field("metadata"), o().field("spec"));
    }
    let pick = |leaf: &str| {
        cond(
            o().field("kind").eq(str_lit("Pod")),
            o().field(leaf),
            cond(
                o().field("kind").eq(str_lit("CronJob")),
                o().path(&["spec", "jobTemplate", "spec", "template", leaf]),
                o().path(&["spec", "template", leaf]),
            ),
        )
    };
    (pick("metadata"), pick("spec"))
}

/// The variables as trees: `(name, expression)`.
pub(crate) fn variable_exprs(workloads: bool, exempt_images: &[String]) -> Vec<(String, Expr)> {
    let (meta, spec_e) = pod_meta_spec(workloads);
    let all = sum(["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .map(|k| or_empty(spec().field(k)))
        .collect());
    let containers = if exempt_images.is_empty() {
        all
    } else {
        all.filter("c", image_matches(exempt_images).not())
    };
    vec![
        ("podMeta".into(), meta),
        ("podSpec".into(), spec_e),
        ("containers".into(), containers),
        ("volumes".into(), or_empty(spec().field("volumes"))),
    ]
}

/// The variables, with containers running an image in `exempt_images` left out of
/// `variables.containers` (they are not judged; pod-level checks still apply).
pub fn variables_for(workloads: bool, exempt_images: &[String]) -> Vec<Variable> {
    variable_exprs(workloads, exempt_images)
        .iter()
        .map(|(n, e)| Variable::new(n, e))
        .collect()
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

/// `has(root.a) && has(root.a.b) && …` for the path below `root`.
pub(crate) fn has_path(root: &Expr, path: &[&str]) -> Expr {
    let mut parts = Vec::new();
    let mut cur = root.clone();
    for p in path {
        cur = cur.field(p);
        parts.push(cur.clone().has());
    }
    and(parts)
}

/// True when the optional field is set and `pred` holds for its value.
pub(crate) fn set_and(root: &Expr, p: &[&str], pred: impl Fn(Expr) -> Expr) -> Expr {
    and(vec![has_path(root, p), pred(root.clone().path(p))])
}

/// The value's truth: `pred(value)` if set, else `unset`.
pub(crate) fn if_set(root: &Expr, p: &[&str], pred: impl Fn(Expr) -> Expr, unset: Expr) -> Expr {
    cond(has_path(root, p), pred(root.clone().path(p)), unset)
}

/// The first set value among `candidates` (`(presence, value)`) decides (`pred`), else
/// `unset`.
pub(crate) fn first_set(
    candidates: &[(Expr, Expr)],
    pred: &dyn Fn(Expr) -> Expr,
    unset: Expr,
) -> Expr {
    let t = Expr::Bool(true);
    if unset == t && candidates.iter().all(|(_, v)| pred(v.clone()) == t) {
        return t;
    }
    let mut out = unset;
    for (presence, value) in candidates.iter().rev() {
        out = cond(presence.clone(), pred(value.clone()), out);
    }
    out
}

pub(crate) fn in_ranges(v: &Expr, ranges: &[IdRange]) -> Expr {
    or(ranges
        .iter()
        .map(|r| {
            if r.min == r.max {
                v.clone().eq(r.min)
            } else {
                and(vec![v.clone().ge(r.min), v.clone().le(r.max)])
            }
        })
        .collect())
}

/// Whether the string expression `v` is in the set (`prefix*` entries by prefix).
pub(crate) fn in_set(v: &Expr, set: &NameSet) -> Expr {
    let matches = |names: &[String]| {
        let literal: Vec<&String> = names.iter().filter(|n| !n.ends_with('*')).collect();
        let mut parts = Vec::new();
        match literal.len() {
            0 => {}
            1 => parts.push(v.clone().eq(str_lit(literal[0]))),
            _ => parts.push(v.clone().in_(str_list(&literal))),
        }
        for n in names {
            if let Some(prefix) = n.strip_suffix('*') {
                parts.push(v.clone().starts_with(str_lit(prefix)));
            }
        }
        or(parts)
    };
    match set {
        NameSet::Any => true.into(),
        NameSet::Only(names) => matches(names),
        NameSet::AnyExcept(names) => matches(names).not(),
    }
}

/// `variables.containers.all(c, pred)` (`true` when `pred` is).
pub(crate) fn all_containers(pred: Expr) -> Expr {
    if pred == Expr::Bool(true) {
        return pred;
    }
    var("containers").all("c", pred)
}

/// A seccomp/AppArmor profile object's PSP annotation form.
pub(crate) fn profile_form(p: &Expr) -> Expr {
    let ty = cond(
        p.clone().field("type").has(),
        p.clone().field("type"),
        str_lit(""),
    );
    cond(
        ty.clone().eq(str_lit("RuntimeDefault")),
        str_lit("runtime/default"),
        cond(
            ty.clone().eq(str_lit("Unconfined")),
            str_lit("unconfined"),
            cond(
                ty.clone().eq(str_lit("Localhost")),
                str_lit("localhost/")
                    .add(or_default(p.clone().field("localhostProfile"), str_lit(""))),
                ty,
            ),
        ),
    )
}

/// `has(f) ? f : default`.
pub(crate) fn or_default(f: Expr, default: Expr) -> Expr {
    cond(f.clone().has(), f, default)
}

pub(crate) fn annotation_set(key: &Expr) -> Expr {
    and(vec![
        meta().field("annotations").has(),
        key.clone().in_(meta().field("annotations")),
    ])
}

pub(crate) fn annotation(key: &Expr) -> Expr {
    meta().field("annotations").index(key.clone())
}

/// Every spelling of the allowed SELinux levels PSP accepts: selinux/mustrunas.go
/// `equalLevels` compares the categories after the sensitivity as a set (`s0:c1,c2` equals
/// `s0:c2,c1`), which core CEL cannot do without splitting strings, so each level is listed in
/// every order of its categories (up to 6 categories, 720 orders; beyond that only as written).
pub(crate) fn level_spellings(levels: &[String]) -> Vec<String> {
    fn orders(items: &[&str]) -> Vec<Vec<String>> {
        if items.len() <= 1 {
            return vec![items.iter().map(|s| s.to_string()).collect()];
        }
        let mut out = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.to_vec();
            let first = rest.remove(i);
            for mut tail in orders(&rest) {
                tail.insert(0, first.to_string());
                out.push(tail);
            }
        }
        out
    }
    let mut out = Vec::new();
    for l in levels {
        match l.split_once(':') {
            Some((sensitivity, cats)) if cats.split(',').count() <= 6 => {
                let cats: Vec<&str> = cats.split(',').collect();
                out.extend(
                    orders(&cats)
                        .into_iter()
                        .map(|o| format!("{sensitivity}:{}", o.join(","))),
                );
            }
            _ => out.push(l.clone()),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|l| seen.insert(l.clone()));
    out
}

/// Whether volume `v` is a `projected` volume made only of what the ServiceAccount admission
/// plugin injects (Kubernetes `IsOnlyServiceAccountTokenSources`; see
/// [`crate::pod::Volume::is_service_account_token_projection`]): a token at path `token`
/// without audience, the `kube-root-ca.crt` config map, the namespace through the downward API.
pub(crate) fn service_account_token_projection(v: &Expr) -> Expr {
    let s = || ident("s");
    let i = || ident("i");
    let sat = || s().field("serviceAccountToken");
    let token = or(vec![
        sat().has().not(),
        and(vec![
            sat().field("path").has(),
            sat().field("path").eq(str_lit("token")),
            or(vec![
                sat().field("audience").has().not(),
                sat().field("audience").eq(str_lit("")),
            ]),
        ]),
    ]);
    let cm = || s().field("configMap");
    let config_map = or(vec![
        cm().has().not(),
        and(vec![
            cm().field("name").has(),
            cm().field("name").eq(str_lit("kube-root-ca.crt")),
        ]),
    ]);
    let fr = || i().field("fieldRef");
    let item = and(vec![
        i().field("path").has(),
        i().field("path").eq(str_lit("namespace")),
        fr().has(),
        or(vec![
            fr().field("apiVersion").has().not(),
            fr().field("apiVersion").eq(str_lit("v1")),
        ]),
        fr().field("fieldPath").has(),
        fr().field("fieldPath").eq(str_lit("metadata.namespace")),
    ]);
    let d = || s().field("downwardAPI");
    let downward = or(vec![
        d().has().not(),
        d().field("items").has().not(),
        d().field("items").all("i", item),
    ]);
    let projected = || v.clone().field("projected");
    and(vec![
        projected().has(),
        or(vec![
            projected().field("sources").has().not(),
            projected().field("sources").all(
                "s",
                and(vec![
                    or(vec![sat().has(), cm().has(), d().has()]),
                    token,
                    config_map,
                    downward,
                ]),
            ),
        ]),
    ])
}

pub(crate) fn host_path_match(v: &Expr, rule: &HostPathRule) -> Expr {
    let pre = rule.path_prefix.trim_end_matches('/');
    if pre.is_empty() {
        if rule.path_prefix.is_empty() {
            return true.into();
        }
        return v.clone().starts_with(str_lit("/"));
    }
    or(vec![
        v.clone().eq(str_lit(pre)),
        v.clone().starts_with(str_lit(&format!("{pre}/"))),
    ])
}

/// Every volume source key the core/v1 API knows, with PSP's `volumes` spelling.
pub(crate) fn volume_key(psp_name: &str) -> Option<&'static str> {
    let key = crate::k8s::pod_volume_key(psp_name);
    crate::k8s::VOLUME_SOURCES
        .iter()
        .copied()
        .find(|k| *k == key)
}

fn pod_sc(p: &[&'static str]) -> Vec<&'static str> {
    let mut v = vec!["securityContext"];
    v.extend_from_slice(p);
    v
}

/// The expression for one constraint: true when the pod satisfies it. `None` when the
/// constraint admits every pod (nothing to check).
pub fn constraint_expression(constraint: &Constraint) -> Option<Expr> {
    let t = || Expr::Bool(true);
    let is_true = |v: Expr| v.eq(true);
    let expr = match constraint {
        Constraint::Privileged { allowed: true }
        | Constraint::HostNamespace { allowed: true, .. }
        | Constraint::HostProcess { allowed: true }
        | Constraint::ProbeHost { allowed: true } => return None,
        Constraint::Privileged { allowed: false } => {
            all_containers(set_and(&c(), &["securityContext", "privileged"], is_true).not())
        }
        Constraint::HostNamespace { namespace, .. } => {
            let f = match namespace {
                HostNamespace::Network => "hostNetwork",
                HostNamespace::Pid => "hostPID",
                HostNamespace::Ipc => "hostIPC",
            };
            set_and(&spec(), &[f], is_true).not()
        }
        Constraint::HostPorts { allowed } => {
            let p = || ident("p");
            let ok = or(vec![
                p().field("hostPort").has().not(),
                p().field("hostPort").eq(0),
                in_ranges(&p().field("hostPort"), allowed),
            ]);
            all_containers(or(vec![
                c().field("ports").has().not(),
                c().field("ports").all("p", ok),
            ]))
        }
        Constraint::HostProcess { allowed: false } => {
            let hp = |root: &Expr| {
                set_and(
                    root,
                    &["securityContext", "windowsOptions", "hostProcess"],
                    is_true,
                )
            };
            and(vec![hp(&spec()).not(), all_containers(hp(&c()).not())])
        }
        Constraint::ProbeHost { allowed: false } => {
            let handler = |h: &[&str]| {
                let mut checks = Vec::new();
                for kind in ["httpGet", "tcpSocket"] {
                    let mut p = h.to_vec();
                    p.push(kind);
                    p.push("host");
                    checks.push(set_and(&c(), &p, |v| v.ne(str_lit(""))).not());
                }
                and(checks)
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
            all_containers(and(parts))
        }
        Constraint::Volumes { allowed } => {
            let keys = |names: &[String]| -> Vec<Expr> {
                let mut k: Vec<&str> = names.iter().filter_map(|n| volume_key(n)).collect();
                k.sort();
                k.dedup();
                k.into_iter().map(|k| ident("v").field(k).has()).collect()
            };
            let ok = match allowed {
                NameSet::Any => return None,
                // PSP (provider.go `allowsVolumeType`): `secret` also covers the projected
                // service-account token volume.
                NameSet::Only(names)
                    if names.iter().any(|n| n == "secret")
                        && !names.iter().any(|n| n == "projected") =>
                {
                    or([
                        keys(names),
                        vec![service_account_token_projection(&ident("v"))],
                    ]
                    .concat())
                }
                NameSet::Only(names) => or(keys(names)),
                NameSet::AnyExcept(names) => or(keys(names)).not(),
            };
            var("volumes").all("v", ok)
        }
        Constraint::HostPaths { allowed } => {
            let v = || ident("v");
            let p = v().path(&["hostPath", "path"]);
            let any = or(allowed.iter().map(|a| host_path_match(&p, a)).collect());
            let writable = or(allowed
                .iter()
                .filter(|a| !a.read_only)
                .map(|a| host_path_match(&p, a))
                .collect());
            let m = || ident("m");
            let mounts_ro = all_containers(or(vec![
                c().field("volumeMounts").has().not(),
                c().field("volumeMounts").all(
                    "m",
                    or(vec![
                        m().field("name").ne(v().field("name")),
                        and(vec![
                            m().field("readOnly").has(),
                            m().field("readOnly").eq(true),
                        ]),
                    ]),
                ),
            ]));
            let under = cond(p.clone().has(), any, false.into());
            let rw = and(vec![p.clone().has(), writable]);
            var("volumes").all(
                "v",
                or(vec![
                    v().field("hostPath").has().not(),
                    and(vec![under, or(vec![rw, mounts_ro])]),
                ]),
            )
        }
        Constraint::FlexVolumeDrivers { allowed } => driver_in("flexVolume", allowed),
        Constraint::CsiDrivers { allowed } => driver_in("csi", allowed),
        Constraint::AddCapabilities { allowed } => {
            let ok = in_set(&ident("a"), allowed);
            if ok == t() {
                return None;
            }
            let caps = &["securityContext", "capabilities", "add"];
            all_containers(or(vec![
                has_path(&c(), caps).not(),
                c().path(caps).all("a", ok),
            ]))
        }
        Constraint::DropCapabilities { required } => {
            if required.is_empty() {
                return None;
            }
            let caps = &["securityContext", "capabilities", "drop"];
            let all: Vec<Expr> = required
                .iter()
                .map(|r| str_lit(r).in_(c().path(caps)))
                .collect();
            all_containers(and(vec![has_path(&c(), caps), and(all)]))
        }
        Constraint::RunAsUser {
            ranges,
            required,
            scope,
        } => {
            let ok = |v: Expr| in_ranges(&v, ranges);
            match scope {
                Scope::EveryValue => and(vec![
                    if_set(&spec(), &pod_sc(&["runAsUser"]), ok, t()),
                    all_containers(if_set(&c(), &["securityContext", "runAsUser"], ok, t())),
                ]),
                Scope::Effective => {
                    all_containers(first_set(&effective("runAsUser"), &ok, (!*required).into()))
                }
            }
        }
        Constraint::RunAsNonRoot {
            nonzero_uid_suffices,
            scope,
        } => match scope {
            Scope::EveryValue => {
                let pod_nr = has_path(&spec(), &pod_sc(&["runAsNonRoot"]));
                let value = || spec().path(&pod_sc(&["runAsNonRoot"]));
                let pod_true = and(vec![pod_nr.clone(), value().eq(true)]);
                let pod_false = and(vec![pod_nr, value().eq(false)]);
                let uid_ok = if *nonzero_uid_suffices {
                    first_set(&effective("runAsUser"), &|v| v.ne(0), false.into())
                } else {
                    false.into()
                };
                and(vec![
                    pod_false.not(),
                    all_containers(if_set(
                        &c(),
                        &["securityContext", "runAsNonRoot"],
                        is_true,
                        or(vec![pod_true, uid_ok]),
                    )),
                ])
            }
            Scope::Effective => {
                let nr = effective("runAsNonRoot");
                let uid = effective("runAsUser");
                let not_false = first_set(&nr, &|v| v.ne(false), t());
                let not_root = first_set(&uid, &|v| v.ne(0), t());
                let is_true = first_set(&nr, &|v| v.eq(true), false.into());
                let third = if *nonzero_uid_suffices {
                    or(vec![is_true, first_set(&uid, &|v| v.ne(0), false.into())])
                } else {
                    is_true
                };
                all_containers(and(vec![not_false, not_root, third]))
            }
        },
        Constraint::GroupIds {
            field,
            ranges,
            required,
        } => {
            let ok = |v: Expr| in_ranges(&v, ranges);
            let unset = Expr::Bool(!*required);
            match field {
                // PSP judges each container's effective runAsGroup (its own, else the pod's);
                // a pod-level value every container overrides is not judged.
                GroupField::RunAsGroup => all_containers(if_set(
                    &c(),
                    &["securityContext", "runAsGroup"],
                    ok,
                    if_set(&spec(), &pod_sc(&["runAsGroup"]), ok, unset),
                )),
                GroupField::FsGroup => if_set(&spec(), &pod_sc(&["fsGroup"]), ok, unset),
                GroupField::SupplementalGroups => {
                    let g = spec().path(&pod_sc(&["supplementalGroups"]));
                    let has = has_path(&spec(), &pod_sc(&["supplementalGroups"]));
                    let req = if *required {
                        and(vec![has.clone(), tree::call("size", vec![g.clone()]).gt(0)])
                    } else {
                        t()
                    };
                    and(vec![req, or(vec![has.not(), g.all("x", ok(ident("x")))])])
                }
            }
        }
        Constraint::ReadOnlyRootFilesystem => all_containers(set_and(
            &c(),
            &["securityContext", "readOnlyRootFilesystem"],
            is_true,
        )),
        Constraint::NoPrivilegeEscalation => all_containers(set_and(
            &c(),
            &["securityContext", "allowPrivilegeEscalation"],
            |v| v.eq(false),
        )),
        Constraint::ProcMount { allowed } => {
            if matches!(allowed, NameSet::Any) {
                return None;
            }
            all_containers(if_set(
                &c(),
                &["securityContext", "procMount"],
                |v| in_set(&v, allowed),
                t(),
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
            let judge = |o: Expr| {
                and(parts
                    .iter()
                    .filter_map(|(n, l)| {
                        l.as_ref().map(|l| {
                            let l = if *n == "level" {
                                level_spellings(l)
                            } else {
                                l.clone()
                            };
                            or_default(o.clone().field(n), str_lit("")).in_(str_list(&l))
                        })
                    })
                    .collect())
            };
            let empty_ok = parts
                .iter()
                .all(|(_, l)| l.as_ref().is_none_or(|l| l.iter().any(String::is_empty)));
            if judge(ident("o")) == t() {
                return None;
            }
            match scope {
                Scope::EveryValue => and(vec![
                    if_set(&spec(), &pod_sc(&["seLinuxOptions"]), judge, t()),
                    all_containers(if_set(
                        &c(),
                        &["securityContext", "seLinuxOptions"],
                        judge,
                        t(),
                    )),
                ]),
                // selinux/mustrunas.go: PSP also validated the pod's own options when set
                // (`ValidatePod`), even where every container overrides them.
                Scope::Effective => and(vec![
                    if_set(&spec(), &pod_sc(&["seLinuxOptions"]), judge, t()),
                    all_containers(first_set(
                        &effective("seLinuxOptions"),
                        &judge,
                        empty_ok.into(),
                    )),
                ]),
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
            let name = ident("s").field("name");
            let mut ok = vec![in_set(&name, allowed)];
            if !forbidden.is_empty() {
                ok.push(in_set(&name, &NameSet::Only(forbidden.clone())).not());
            }
            let ok = and(ok);
            if ok == t() {
                return None;
            }
            let sysctls = pod_sc(&["sysctls"]);
            or(vec![
                has_path(&spec(), &sysctls).not(),
                spec().path(&sysctls).all("s", ok),
            ])
        }
        Constraint::RuntimeClass { allowed } => {
            if matches!(allowed, NameSet::Any) {
                return None;
            }
            let class = spec().field("runtimeClassName");
            or(vec![class.clone().has().not(), in_set(&class, allowed)])
        }
    };
    Some(expr)
}

/// Every volume with the source `key` names a driver in `allowed`.
fn driver_in(key: &str, allowed: &[String]) -> Expr {
    let src = || ident("v").field(key);
    var("volumes").all(
        "v",
        or(vec![
            src().has().not(),
            and(vec![
                src().field("driver").has(),
                src().field("driver").in_(str_list(allowed)),
            ]),
        ]),
    )
}

/// The container's value, else the pod's: `(presence, value)` candidates for [`first_set`].
pub(crate) fn effective(field: &str) -> Vec<(Expr, Expr)> {
    let sc = ["securityContext", field];
    vec![
        (has_path(&c(), &sc), c().path(&sc)),
        (has_path(&spec(), &sc), spec().path(&sc)),
    ]
}

pub(crate) fn seccomp(
    allowed: &NameSet,
    unset_allowed: bool,
    source: ProfileSource,
    scope: Scope,
) -> Expr {
    let ok = |v: Expr| in_set(&v, allowed);
    let unset = Expr::Bool(unset_allowed);
    let pod_key = str_lit(SECCOMP_POD);
    let c_key = str_lit(SECCOMP_CONTAINER).add(c().field("name"));
    let profile = ["securityContext", "seccompProfile"];
    let c_field = has_path(&c(), &profile);
    let pod_field = has_path(&spec(), &profile);
    let c_form = profile_form(&c().path(&profile));
    let pod_form = profile_form(&spec().path(&profile));
    match (source, scope) {
        (ProfileSource::Annotations, Scope::EveryValue) => and(vec![
            or(vec![
                annotation_set(&pod_key).not(),
                ok(annotation(&pod_key)),
            ]),
            all_containers(cond(
                annotation_set(&c_key),
                ok(annotation(&c_key)),
                or(vec![unset, annotation_set(&pod_key)]),
            )),
        ]),
        (_, Scope::EveryValue) => and(vec![
            or(vec![pod_field.clone().not(), ok(pod_form)]),
            all_containers(cond(c_field, ok(c_form), or(vec![unset, pod_field]))),
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
            and(vec![
                first_set(&pod, &ok, unset.clone()),
                all_containers(first_set(&c, &ok, unset)),
            ])
        }
    }
}

pub(crate) fn apparmor(allowed: &NameSet, unset_allowed: bool, scope: Scope) -> Expr {
    let ok = |v: Expr| in_set(&v, allowed);
    let unset = Expr::Bool(unset_allowed);
    let profile = ["securityContext", "appArmorProfile"];
    let c_field = has_path(&c(), &profile);
    let pod_field = has_path(&spec(), &profile);
    let c_form = profile_form(&c().path(&profile));
    let pod_form = profile_form(&spec().path(&profile));
    match scope {
        Scope::EveryValue => {
            let anns = || meta().field("annotations");
            let k = || ident("k");
            and(vec![
                or(vec![pod_field.not(), ok(pod_form)]),
                all_containers(or(vec![c_field.not(), ok(c_form)])),
                or(vec![
                    anns().has().not(),
                    anns().all(
                        "k",
                        or(vec![
                            k().starts_with(str_lit(APPARMOR_CONTAINER)).not(),
                            ok(anns().index(k())),
                        ]),
                    ),
                ]),
            ])
        }
        Scope::Effective => {
            let c_key = str_lit(APPARMOR_CONTAINER).add(c().field("name"));
            let judge = |v: Expr| cond(v.clone().eq(str_lit("")), unset.clone(), ok(v));
            all_containers(first_set(
                &[
                    (c_field, c_form),
                    (pod_field, pod_form),
                    (annotation_set(&c_key), annotation(&c_key)),
                ],
                &judge,
                unset.clone(),
            ))
        }
    }
}

/// The expression for a rule, with its exemptions.
pub fn rule_expression(rule: &Rule) -> Option<Expr> {
    let expr = constraint_expression(&rule.constraint).filter(|e| *e != Expr::Bool(true))?;
    let mut exempt = Vec::new();
    for e in &rule.unless {
        exempt.push(match e {
            Exemption::WindowsPod => {
                let name = spec().path(&["os", "name"]);
                and(vec![
                    has_path(&spec(), &["os", "name"]),
                    name.eq(str_lit("windows")),
                ])
            }
            Exemption::UserNamespacePod => and(vec![
                has_path(&spec(), &["hostUsers"]),
                spec().field("hostUsers").eq(false),
            ]),
        });
    }
    exempt.push(expr);
    Some(or(exempt))
}

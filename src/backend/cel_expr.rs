//! CEL expressions from the IR, shared by the backends that speak CEL: `--to vap` and
//! `--to kyverno-cel` (validating and mutating policies, `cel/`) and the `cel-policy`
//! validations of `--to kubewarden`. Not a target: it holds no output layout.
//!
//! [`rule_expression`] turns each validating [`Rule`] into a CEL expression that is true when
//! the pod satisfies the rule, with the same semantics as [`crate::eval`] (init, regular and
//! ephemeral containers, [`Scope`], [`Exemption`]s, absent fields guarded with `has()`), over
//! the [`variables`] every expression relies on.
//!
//! Expressions only use core CEL that Kubernetes and the `cel-interpreter` crate agree on: no
//! optional syntax (`?.`), no string extension functions, `has()` on every optional field before
//! reading it, and integer literals only (pod JSON numbers are `int` in Kubernetes).

use crate::ir::{
    Constraint, Exemption, GroupField, HostNamespace, HostPathRule, IdRange, NameSet,
    ProfileSource, Rule, Scope,
};
use serde::Serialize;

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

pub(crate) const SECCOMP_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";
pub(crate) const SECCOMP_CONTAINER: &str = "container.seccomp.security.alpha.kubernetes.io/";
pub(crate) const APPARMOR_CONTAINER: &str = "container.apparmor.security.beta.kubernetes.io/";

pub(crate) const SPEC: &str = "variables.podSpec";
pub(crate) const META: &str = "variables.podMeta";
pub(crate) const CONTAINERS: &str = "variables.containers";
pub(crate) const VOLUMES: &str = "variables.volumes";

/// The variables every expression relies on: `podMeta`, `podSpec` (the pod's, or with
/// `workloads` the pod template's), `containers` (init, regular, ephemeral) and `volumes`.
pub fn variables(workloads: bool) -> Vec<Variable> {
    variables_for(workloads, &[])
}

/// Whether a container's image matches one of `patterns` (`*` suffix: prefix), as CEL over `c`.
pub(crate) fn image_matches(patterns: &[String]) -> String {
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

pub(crate) fn cel_list<S: AsRef<str>>(items: &[S]) -> String {
    let v: Vec<String> = items.iter().map(|s| cel_string(s.as_ref())).collect();
    format!("[{}]", v.join(", "))
}

/// `has(root.a) && has(root.a.b) && …` for the path below `root`.
pub(crate) fn has_path(root: &str, path: &[&str]) -> String {
    let mut parts = Vec::new();
    let mut cur = root.to_string();
    for p in path {
        cur = format!("{cur}.{p}");
        parts.push(format!("has({cur})"));
    }
    parts.join(" && ")
}

pub(crate) fn path(root: &str, path: &[&str]) -> String {
    let mut cur = root.to_string();
    for p in path {
        cur = format!("{cur}.{p}");
    }
    cur
}

/// True when the optional field is set and `pred` holds for its value.
pub(crate) fn set_and(root: &str, p: &[&str], pred: impl Fn(&str) -> String) -> String {
    format!("({} && {})", has_path(root, p), pred(&path(root, p)))
}

/// The value's truth: `pred(value)` if set, else `unset`.
pub(crate) fn if_set(root: &str, p: &[&str], pred: impl Fn(&str) -> String, unset: &str) -> String {
    format!(
        "({} ? {} : {unset})",
        has_path(root, p),
        pred(&path(root, p))
    )
}

/// The first set value among `candidates` decides (`pred`), else `unset`.
pub(crate) fn first_set(
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
pub(crate) enum Binding {
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

pub(crate) fn binding(e: &str) -> Binding {
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
pub(crate) fn operand(e: String, at: Binding) -> String {
    if binding(&e) < at {
        format!("({e})")
    } else {
        e
    }
}

/// The negation of `e`, parenthesised unless `e` is a primary (`!has(x)`, `!(a == b)`).
pub(crate) fn not(e: &str) -> String {
    match e {
        "true" => "false".into(),
        "false" => "true".into(),
        _ => format!("!{}", operand(e.to_string(), Binding::Primary)),
    }
}

pub(crate) fn or_all(parts: Vec<String>) -> String {
    match parts.len() {
        0 => "false".into(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => {
            let parts: Vec<String> = parts.into_iter().map(|p| operand(p, Binding::Or)).collect();
            format!("({})", parts.join(" || "))
        }
    }
}

pub(crate) fn and_all(parts: Vec<String>) -> String {
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

pub(crate) fn in_ranges(v: &str, ranges: &[IdRange]) -> String {
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
pub(crate) fn in_set(v: &str, set: &NameSet) -> String {
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

pub(crate) fn all_containers(pred: String) -> String {
    if pred == "true" {
        return pred;
    }
    format!("{CONTAINERS}.all(c, {pred})")
}

/// A seccomp/AppArmor profile object's PSP annotation form.
pub(crate) fn profile_form(p: &str) -> String {
    let ty = format!("(has({p}.type) ? {p}.type : '')");
    format!(
        "({ty} == 'RuntimeDefault' ? 'runtime/default' : {ty} == 'Unconfined' ? 'unconfined' : \
         {ty} == 'Localhost' ? 'localhost/' + (has({p}.localhostProfile) ? {p}.localhostProfile : '') : {ty})"
    )
}

pub(crate) fn annotation_set(key: &str) -> String {
    format!("(has({META}.annotations) && {key} in {META}.annotations)")
}

pub(crate) fn annotation(key: &str) -> String {
    format!("{META}.annotations[{key}]")
}

/// PSP's host path prefix match by whole components (see `eval::path_has_prefix`).
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
pub(crate) fn service_account_token_projection(v: &str) -> String {
    let token = "(!has(s.serviceAccountToken) || (has(s.serviceAccountToken.path) && s.serviceAccountToken.path == 'token' && (!has(s.serviceAccountToken.audience) || s.serviceAccountToken.audience == '')))";
    let config_map =
        "(!has(s.configMap) || (has(s.configMap.name) && s.configMap.name == 'kube-root-ca.crt'))";
    let item = "has(i.path) && i.path == 'namespace' && has(i.fieldRef) && (!has(i.fieldRef.apiVersion) || i.fieldRef.apiVersion == 'v1') && has(i.fieldRef.fieldPath) && i.fieldRef.fieldPath == 'metadata.namespace'";
    let downward = format!(
        "(!has(s.downwardAPI) || !has(s.downwardAPI.items) || s.downwardAPI.items.all(i, {item}))"
    );
    format!(
        "(has({v}.projected) && (!has({v}.projected.sources) || {v}.projected.sources.all(s, (has(s.serviceAccountToken) || has(s.configMap) || has(s.downwardAPI)) && {token} && {config_map} && {downward})))"
    )
}

pub(crate) fn host_path_match(v: &str, rule: &HostPathRule) -> String {
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
pub(crate) fn volume_key(psp_name: &str) -> Option<&'static str> {
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
                // PSP (provider.go `allowsVolumeType`): `secret` also covers the projected
                // service-account token volume.
                NameSet::Only(names)
                    if names.iter().any(|n| n == "secret")
                        && !names.iter().any(|n| n == "projected") =>
                {
                    or_all([keys(names), vec![service_account_token_projection("v")]].concat())
                }
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
                                let l = if *n == "level" {
                                    level_spellings(l)
                                } else {
                                    l.clone()
                                };
                                format!("(has({o}.{n}) ? {o}.{n} : '') in {}", cel_list(&l))
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
                // selinux/mustrunas.go: PSP also validated the pod's own options when set
                // (`ValidatePod`), even where every container overrides them.
                Scope::Effective => and_all(vec![
                    if_set(SPEC, &pod_sc(&["seLinuxOptions"]), judge, "true"),
                    all_containers(first_set(&effective("seLinuxOptions"), &judge, empty_ok)),
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
pub(crate) fn effective(field: &str) -> Vec<(String, String)> {
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

pub(crate) fn seccomp(
    allowed: &NameSet,
    unset_allowed: bool,
    source: ProfileSource,
    scope: Scope,
) -> String {
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

pub(crate) fn apparmor(allowed: &NameSet, unset_allowed: bool, scope: Scope) -> String {
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

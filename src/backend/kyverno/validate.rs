//! Validate rules: one per PSP field (patterns, deny conditions, foreach), with their fidelity.

use super::*;

/// Pattern text for a union of ranges: `"1-10 | 20"`.
pub(super) fn ranges_pattern(ranges: &[IdRange]) -> String {
    ranges
        .iter()
        .map(|r| {
            if r.min == r.max {
                r.min.to_string()
            } else {
                r.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// `=(list): [ {=(securityContext): inner} ]` for every container list (`securityContext`
/// without the anchor when `sc_required`: a container without one fails, in every list).
pub(super) fn every_container(inner: Value, sc_required: bool) -> Value {
    let mut spec = Map::new();
    for list in CONTAINER_LISTS {
        let sc_key = if sc_required {
            "securityContext"
        } else {
            "=(securityContext)"
        };
        let key = if list == "containers" {
            list.to_string()
        } else {
            format!("=({list})")
        };
        spec.insert(key, json!([{ sc_key: inner.clone() }]));
    }
    Value::Object(spec)
}

pub(super) fn pattern(spec: Value) -> Validate {
    Validate::pattern(json!({ "spec": spec }))
}

/// A `deny` over a JMESPath list of values: deny when any value is (not) in `values`.
pub(super) fn deny_list(key: &str, op: &'static str, values: &[String]) -> Validate {
    Validate::deny(Conditions::any(vec![Condition::new(
        format!("{{{{ {key} || `[]` }}}}"),
        op,
        escape_all(values),
    )]))
}

/// A `foreach` entry over every container, denying when `conditions` hold.
pub(super) fn deny_each(conditions: Conditions) -> ValidateForeach {
    ValidateForeach {
        list: ALL_CONTAINERS.into(),
        pattern: None,
        deny: Some(conditions),
    }
}

pub(super) fn set_names(set: &NameSet) -> Option<(&'static str, Vec<String>)> {
    match set {
        NameSet::Any => None,
        NameSet::Only(v) => Some(("AnyNotIn", v.clone())),
        NameSet::AnyExcept(v) => Some(("AnyIn", v.clone())),
    }
}

/// Alternatives `a | b` for a pattern; `None` when an entry cannot be written safely.
pub(super) fn alternatives(names: &[String]) -> Option<String> {
    if names.is_empty()
        || names.iter().any(|n| {
            n.is_empty() || n.contains(['|', '&', '!', '<', '>', '?', '*']) && !n.ends_with("/*")
        })
    {
        return None;
    }
    Some(escape(&names.join(" | ")))
}

pub(super) fn validation(r: &Rule) -> Option<(Validate, Fidelity, String)> {
    use Fidelity::*;
    let exact = |v: Validate| Some((v, Exact, String::new()));
    match &r.constraint {
        Constraint::Privileged { allowed: true }
        | Constraint::HostNamespace { allowed: true, .. }
        | Constraint::HostProcess { allowed: true }
        | Constraint::ProbeHost { allowed: true } => None,
        Constraint::Privileged { allowed: false } => exact(pattern(every_container(
            json!({"=(privileged)": "false"}),
            false,
        ))),
        Constraint::HostNamespace { namespace, .. } => {
            let f = match namespace {
                HostNamespace::Network => "=(hostNetwork)",
                HostNamespace::Pid => "=(hostPID)",
                HostNamespace::Ipc => "=(hostIPC)",
            };
            exact(pattern(json!({ f: "false" })))
        }
        Constraint::HostPorts { allowed } => {
            let mut alts = vec![IdRange { min: 0, max: 0 }];
            alts.extend(allowed.iter().copied());
            let pat = ranges_pattern(&alts);
            let mut spec = Map::new();
            for list in CONTAINER_LISTS {
                let key = if list == "containers" {
                    list.to_string()
                } else {
                    format!("=({list})")
                };
                spec.insert(key, json!([{"=(ports)": [{"=(hostPort)": pat}]}]));
            }
            exact(pattern(Value::Object(spec)))
        }
        Constraint::HostProcess { allowed: false } => exact(pattern(every_container(
            json!({"=(windowsOptions)": {"=(hostProcess)": "false"}}),
            false,
        ))),
        Constraint::ProbeHost { .. } => None,
        Constraint::Volumes { allowed } => {
            let (op, names) = set_names(allowed)?;
            // PSP (`allowsVolumeType`): `secret` also covers a projected volume made only of
            // the service-account token sources (`IsOnlyServiceAccountTokenSources`).
            let token_as_secret = op == "AnyNotIn"
                && names.iter().any(|n| n == "secret")
                && !names.iter().any(|n| n == "projected");
            let mut names: Vec<String> = names.iter().map(|n| volume_key(n)).collect();
            if op == "AnyNotIn" {
                names.push("name".into());
                names.sort();
            }
            let volumes = if token_as_secret {
                format!("request.object.spec.volumes[?!({SA_TOKEN_PROJECTION})]")
            } else {
                "request.object.spec.volumes[]".to_string()
            };
            Some((
                deny_list(&format!("{volumes}.keys(@)[]"), op, &names),
                Exact,
                String::new(),
            ))
        }
        Constraint::HostPaths { allowed } => host_paths(allowed),
        Constraint::FlexVolumeDrivers { allowed } => driver_rule("flexVolume", allowed),
        Constraint::CsiDrivers { allowed } => driver_rule("csi", allowed),
        Constraint::AddCapabilities { allowed } => {
            let (op, names) = set_names(allowed)?;
            Some((
                deny_list(
                    &format!("{ALL_CONTAINERS}.securityContext.capabilities.add[]"),
                    op,
                    &names,
                ),
                Exact,
                String::new(),
            ))
        }
        Constraint::DropCapabilities { required } => Some((
            Validate::foreach(vec![deny_each(Conditions::all(vec![Condition::new(
                escape_all(required),
                "AnyNotIn",
                "{{ element.securityContext.capabilities.drop[] || `[]` }}",
            )]))]),
            Exact,
            String::new(),
        )),
        Constraint::RunAsUser {
            ranges,
            required,
            scope,
        } => id_rule("runAsUser", ranges, *required, *scope),
        // PSP's RunAsGroupStrategy judges each container's effective value.
        Constraint::GroupIds {
            field: GroupField::RunAsGroup,
            ranges,
            required,
        } => id_rule("runAsGroup", ranges, *required, Scope::Effective),
        Constraint::GroupIds {
            field: GroupField::FsGroup,
            ranges,
            required,
        } => {
            let pat = ranges_pattern(ranges);
            let spec = if *required {
                json!({"securityContext": {"fsGroup": pat}})
            } else {
                json!({"=(securityContext)": {"=(fsGroup)": pat}})
            };
            exact(pattern(spec))
        }
        Constraint::GroupIds {
            field: GroupField::SupplementalGroups,
            ranges,
            required,
        } => {
            let pat = ranges_pattern(ranges);
            let spec = if *required {
                json!({"securityContext": {"supplementalGroups": [pat]}})
            } else {
                json!({"=(securityContext)": {"=(supplementalGroups)": [pat]}})
            };
            Some((
                pattern(spec),
                if *required { Approximated } else { Exact },
                if *required {
                    "an explicitly empty supplementalGroups list is not rejected".into()
                } else {
                    String::new()
                },
            ))
        }
        Constraint::RunAsNonRoot {
            nonzero_uid_suffices: true,
            scope: Scope::Effective,
        } => {
            // PSP's MustRunAsNonRoot judges each container's effective values (the container's,
            // else the pod's): `runAsNonRoot: false` or `runAsUser: 0` is rejected, and one of
            // `runAsNonRoot: true` or a (non-zero) `runAsUser` must be in effect. `to_string`
            // tells an unset value (`null`) from `false` and `0`.
            let c_nr = "{{ to_string(element.securityContext.runAsNonRoot) }}";
            let p_nr = "{{ to_string(request.object.spec.securityContext.runAsNonRoot) }}";
            let c_uid = "{{ to_string(element.securityContext.runAsUser) }}";
            let p_uid = "{{ to_string(request.object.spec.securityContext.runAsUser) }}";
            let is = |k: &str, v: &str| Condition::new(k, "Equals", v);
            let is_not = |k: &str, v: &str| Condition::new(k, "NotEquals", v);
            exact(Validate::foreach(vec![
                deny_each(Conditions::any(vec![is(c_nr, "false"), is(c_uid, "0")])),
                deny_each(Conditions::all(vec![is(c_nr, "null"), is(p_nr, "false")])),
                deny_each(Conditions::all(vec![is(c_uid, "null"), is(p_uid, "0")])),
                deny_each(Conditions::all(vec![
                    is(c_nr, "null"),
                    is_not(p_nr, "true"),
                    is(c_uid, "null"),
                    is(p_uid, "null"),
                ])),
            ]))
        }
        Constraint::RunAsNonRoot {
            nonzero_uid_suffices,
            scope,
        } => {
            let pod_level = json!({
                "securityContext": {"runAsNonRoot": "true"},
            });
            let mut a = every_container(json!({"=(runAsNonRoot)": "true"}), false);
            a.as_object_mut()
                .unwrap()
                .extend(pod_level.as_object().unwrap().clone());
            let b = every_container(json!({"runAsNonRoot": "true"}), true);
            let mut alts = vec![json!({"spec": a}), json!({"spec": b})];
            let mut f = Exact;
            let mut note = String::new();
            if *nonzero_uid_suffices {
                let c = every_container(json!({"runAsUser": ">0"}), true);
                alts.push(json!({"spec": c}));
                f = Approximated;
                note = "a non-zero runAsUser is accepted only when every container sets it".into();
            }
            if *scope == Scope::Effective && !*nonzero_uid_suffices {
                note = "every runAsNonRoot written must be true".into();
                f = Approximated;
            }
            Some((Validate::any_pattern(alts), f, note))
        }
        Constraint::ReadOnlyRootFilesystem => exact(pattern(every_container(
            json!({"readOnlyRootFilesystem": "true"}),
            true,
        ))),
        Constraint::NoPrivilegeEscalation => exact(pattern(every_container(
            json!({"allowPrivilegeEscalation": "false"}),
            true,
        ))),
        Constraint::ProcMount { allowed } => {
            let NameSet::Only(v) = allowed else {
                return None;
            };
            let alt = alternatives(v)?;
            exact(pattern(every_container(
                json!({"=(procMount)": alt}),
                false,
            )))
        }
        Constraint::SeLinux {
            user,
            role,
            type_,
            level,
            scope,
        } => selinux_rule([user, role, type_, level], *scope),
        Constraint::Sysctls { allowed, forbidden } => {
            let key = "{{ request.object.spec.securityContext.sysctls[].name || `[]` }}";
            let mut any = Vec::new();
            if let Some((op, names)) = set_names(allowed) {
                any.push(Condition::new(key, op, escape_all(&names)));
            }
            if !forbidden.is_empty() {
                any.push(Condition::new(key, "AnyIn", escape_all(forbidden)));
            }
            if any.is_empty() {
                return None;
            }
            Some((Validate::deny(Conditions::any(any)), Exact, String::new()))
        }
        Constraint::RuntimeClass { allowed } => {
            let NameSet::Only(v) = allowed else {
                return None;
            };
            // PSP always allows an unset runtimeClassName (the provider: "An unset
            // RuntimeClassName is always allowed"), hence the conditional anchor.
            let names: Vec<String> = v.iter().filter(|s| !s.is_empty()).cloned().collect();
            if names.is_empty() {
                return exact(pattern(json!({"X(runtimeClassName)": "null"})));
            }
            let alt = alternatives(&names)?;
            exact(pattern(json!({ "=(runtimeClassName)": alt })))
        }
        Constraint::Seccomp {
            allowed,
            unset_allowed,
            source,
            scope,
        } => match (scope, allowed) {
            (Scope::Effective, NameSet::Any | NameSet::Only(_)) => {
                effective_profiles(Profiles::Seccomp(*source), allowed, *unset_allowed)
            }
            _ => profiles(
                "seccomp",
                allowed,
                *unset_allowed,
                *source != ProfileSource::Fields,
                *scope,
            ),
        },
        Constraint::AppArmor {
            allowed,
            unset_allowed,
            scope,
        } => match (scope, allowed) {
            (Scope::Effective, NameSet::Any | NameSet::Only(_)) => {
                effective_profiles(Profiles::AppArmor, allowed, *unset_allowed)
            }
            _ => profiles("apparmor", allowed, *unset_allowed, true, *scope),
        },
    }
}

/// The most category permutations a level is written with (`s0:c1,c2,c3,c4,c5`: 120).
const MAX_LEVEL_PERMUTATIONS: usize = 120;

/// A level as PSP's `equalLevels` compares it: the sensitivity, and the categories in every
/// order (`s0:c1,c2` and `s0:c2,c1` are one level); `None` when there are too many orders to
/// list.
pub(super) fn level_spellings(level: &str) -> Option<Vec<String>> {
    let Some((sensitivity, categories)) = level.split_once(':') else {
        return Some(vec![level.to_string()]);
    };
    let mut cats: Vec<&str> = categories.split(',').collect();
    cats.sort_unstable();
    let mut out = Vec::new();
    // Distinct permutations in lexicographic order (next permutation).
    loop {
        if out.len() >= MAX_LEVEL_PERMUTATIONS {
            return None;
        }
        out.push(format!("{sensitivity}:{}", cats.join(",")));
        let Some(i) = (1..cats.len()).rev().find(|&i| cats[i - 1] < cats[i]) else {
            break;
        };
        let j = (i..cats.len())
            .rev()
            .find(|&j| cats[j] > cats[i - 1])
            .unwrap();
        cats.swap(i - 1, j);
        cats[i..].reverse();
    }
    // The level as written first.
    if let Some(k) = out.iter().position(|l| l == level) {
        let l = out.remove(k);
        out.insert(0, l);
    }
    Some(out)
}

/// SELinux options: each listed part must be one of its values (`""`: unset). With
/// [`Scope::Effective`] (PSP) the pod-level options, when set, and each container's effective
/// options (its own, else the pod's, else none) are judged as whole objects; with
/// [`Scope::EveryValue`] (PSS) every options object written.
pub(super) fn selinux_rule(
    parts: [&Option<Vec<String>>; 4],
    scope: Scope,
) -> Option<(Validate, Fidelity, String)> {
    let mut opts = Map::new();
    let mut accepts_empty = true;
    let mut fidelity = Fidelity::Exact;
    let mut note = String::new();
    for (k, v) in ["user", "role", "type", "level"].into_iter().zip(parts) {
        let Some(v) = v else { continue };
        let mut set: Vec<String> = Vec::new();
        for value in v.iter().filter(|s| !s.is_empty()) {
            if k != "level" {
                set.push(value.clone());
                continue;
            }
            match level_spellings(value) {
                Some(spellings) => set.extend(spellings),
                None => {
                    set.push(value.clone());
                    fidelity = Fidelity::Approximated;
                    note = format!(
                        "level `{value}` has too many categories to list every order: only the order written is accepted"
                    );
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        set.retain(|x| seen.insert(x.clone()));
        let unset_ok = v.iter().any(String::is_empty);
        accepts_empty &= unset_ok;
        if set.is_empty() {
            // Only "unset" is allowed.
            opts.insert(format!("X({k})"), json!("null"));
        } else if unset_ok {
            opts.insert(format!("=({k})"), json!(alternatives(&set)?));
        } else {
            opts.insert(k.to_string(), json!(alternatives(&set)?));
        }
    }
    if opts.is_empty() {
        return None;
    }
    let w = Value::Object(opts);
    let optional = |w: &Value| json!({"=(securityContext)": {"=(seLinuxOptions)": w}});
    let mut written = every_container(json!({"=(seLinuxOptions)": w.clone()}), false);
    if scope == Scope::EveryValue || accepts_empty {
        written
            .as_object_mut()
            .unwrap()
            .extend(optional(&w).as_object().unwrap().clone());
        return Some((pattern(written), fidelity, note));
    }
    // Effective, and an unset option is not allowed: either the pod sets allowed options (the
    // containers without their own inherit them), or every container sets its own.
    written.as_object_mut().unwrap().insert(
        "securityContext".into(),
        json!({"seLinuxOptions": w.clone()}),
    );
    let mut each = every_container(json!({"seLinuxOptions": w.clone()}), true);
    each.as_object_mut()
        .unwrap()
        .extend(optional(&w).as_object().unwrap().clone());
    Some((
        Validate::any_pattern(vec![json!({ "spec": written }), json!({ "spec": each })]),
        fidelity,
        note,
    ))
}

pub(super) fn driver_rule(
    volume: &str,
    allowed: &[String],
) -> Option<(Validate, Fidelity, String)> {
    let inner = if allowed.is_empty() {
        json!({ format!("X({volume})"): "null" })
    } else {
        json!({ format!("=({volume})"): {"driver": alternatives(allowed)?} })
    };
    Some((
        pattern(json!({"=(volumes)": [inner]})),
        Fidelity::Exact,
        String::new(),
    ))
}

pub(super) fn id_rule(
    field: &str,
    ranges: &[IdRange],
    required: bool,
    scope: Scope,
) -> Option<(Validate, Fidelity, String)> {
    if ranges.is_empty() {
        return None;
    }
    let pat = ranges_pattern(ranges);
    let opt = format!("=({field})");
    // Every container value written must be in range.
    let mut pod_sets = every_container(json!({ opt.clone(): pat }), false);
    if scope == Scope::EveryValue {
        // PSS: every value written, the pod's too, even one every container overrides (and,
        // when required, a value in effect for each container).
        let pod_opt = json!({ opt.clone(): pat });
        if !required {
            pod_sets
                .as_object_mut()
                .unwrap()
                .insert("=(securityContext)".into(), pod_opt);
            return Some((pattern(pod_sets), Fidelity::Exact, String::new()));
        }
        pod_sets
            .as_object_mut()
            .unwrap()
            .insert("securityContext".into(), json!({ field: pat }));
        let mut each = every_container(json!({ field: pat }), true);
        each.as_object_mut()
            .unwrap()
            .insert("=(securityContext)".into(), pod_opt);
        return Some((
            Validate::any_pattern(vec![json!({ "spec": pod_sets }), json!({ "spec": each })]),
            Fidelity::Exact,
            String::new(),
        ));
    }
    // PSP: each container's effective value (its own, else the pod's; `-1` when neither is
    // set) is judged, and the pod's value only through the containers that inherit it. A
    // condition, not a pattern: a pattern reads an absent value as 0, which a range from 0
    // would accept.
    let key = format!(
        "{{{{ element.securityContext.{field} || request.object.spec.securityContext.{field} || `-1` }}}}"
    );
    let mut all = Vec::new();
    if !required {
        all.push(Condition::new(key.clone(), "NotEquals", -1));
    }
    for r in ranges {
        all.push(Condition::new(
            key.clone(),
            "AnyNotIn",
            format!("{}-{}", r.min, r.max),
        ));
    }
    Some((
        Validate::foreach(vec![deny_each(Conditions::all(all))]),
        Fidelity::Exact,
        "each container's effective value (its own, else the pod's)".into(),
    ))
}

pub(super) fn note_unsupported(c: &Constraint) -> String {
    match c {
        Constraint::Seccomp { .. } | Constraint::AppArmor { .. } => {
            "these profiles cannot be written as Kyverno conditions".into()
        }
        Constraint::ProbeHost { .. } => "probe and lifecycle hosts are not translated".into(),
        Constraint::HostProcess { allowed: true }
        | Constraint::Privileged { allowed: true }
        | Constraint::HostNamespace { allowed: true, .. } => "allowed: no rule needed".into(),
        _ => "this constraint has no Kyverno rule (values cannot be written as a pattern)".into(),
    }
}

pub(super) fn profile_list(s: &NameSet) -> String {
    match s {
        NameSet::Any => "any".into(),
        NameSet::Only(v) if v.is_empty() => "none".into(),
        NameSet::Only(v) => v
            .iter()
            .map(|s| if s.is_empty() { "unset" } else { s.as_str() })
            .collect::<Vec<_>>()
            .join(", "),
        NameSet::AnyExcept(v) => format!("any but {}", v.join(", ")),
    }
}

pub(super) fn message(c: &Constraint) -> String {
    match c {
        Constraint::Privileged { .. } => {
            "containers must not set securityContext.privileged=true".into()
        }
        Constraint::HostNamespace { namespace, .. } => {
            format!("spec.{} must be unset or false", namespace.pod_field())
        }
        Constraint::HostPorts { .. } => {
            "container hostPort values must be in the allowed ranges".into()
        }
        Constraint::Volumes { .. } => "use only the volume types the policy allows".into(),
        Constraint::HostPaths { .. } => {
            "hostPath volumes must be under an allowed path prefix".into()
        }
        Constraint::FlexVolumeDrivers { .. } => "flexVolume drivers must be allowed".into(),
        Constraint::CsiDrivers { .. } => "inline CSI drivers must be allowed".into(),
        Constraint::AddCapabilities { .. } => {
            "remove capabilities that are not allowed from capabilities.add".into()
        }
        Constraint::DropCapabilities { required } => {
            format!("every container must drop {}", required.join(", "))
        }
        Constraint::RunAsUser { .. } => "set runAsUser within the allowed ranges".into(),
        Constraint::RunAsNonRoot { .. } => "set runAsNonRoot=true (or a non-zero runAsUser)".into(),
        Constraint::GroupIds { field, .. } => {
            format!("set {} within the allowed ranges", field.as_str())
        }
        Constraint::ReadOnlyRootFilesystem => {
            "set readOnlyRootFilesystem=true on every container".into()
        }
        Constraint::NoPrivilegeEscalation => {
            "set allowPrivilegeEscalation=false on every container".into()
        }
        Constraint::ProcMount { .. } => "use an allowed procMount".into(),
        Constraint::SeLinux { .. } => "use allowed seLinuxOptions".into(),
        Constraint::Sysctls { .. } => "use only allowed sysctls".into(),
        Constraint::RuntimeClass { .. } => "use an allowed runtimeClassName".into(),
        Constraint::Seccomp {
            allowed,
            unset_allowed,
            scope,
            ..
        } => {
            format!(
                "use an allowed seccomp profile ({}){}",
                profile_list(allowed),
                match (unset_allowed, scope) {
                    (true, _) => "",
                    // PSP's `ValidatePod`: the pod's own profile; containers inherit it.
                    (false, Scope::Effective) => "; the pod needs one",
                    (false, Scope::EveryValue) => "; every container needs one",
                }
            )
        }
        Constraint::AppArmor {
            allowed,
            unset_allowed,
            ..
        } => {
            format!(
                "use an allowed AppArmor profile ({}){}",
                profile_list(allowed),
                if *unset_allowed {
                    ""
                } else {
                    "; every container needs one"
                }
            )
        }
        Constraint::HostProcess { .. } => {
            "containers must not set windowsOptions.hostProcess=true".into()
        }
        Constraint::ProbeHost { .. } => "probes and lifecycle handlers must not set host".into(),
    }
}

/// JMESPath over a volume: a `projected` volume made only of the sources the ServiceAccount
/// admission plugin injects (Kubernetes `IsOnlyServiceAccountTokenSources`: a token at `token`
/// without audience, the `kube-root-ca.crt` config map, the namespace through the downward API;
/// a projected volume without sources too).
const SA_TOKEN_PROJECTION: &str = "projected != `null` && length((projected.sources || `[]`)[?\
(serviceAccountToken == `null` && configMap == `null` && downwardAPI == `null`) \
|| (serviceAccountToken != `null` && (serviceAccountToken.path != 'token' || (serviceAccountToken.audience || '') != '')) \
|| (configMap != `null` && configMap.name != 'kube-root-ca.crt') \
|| (downwardAPI != `null` && length((downwardAPI.items || `[]`)[?path != 'namespace' || fieldRef == `null` || fieldRef.apiVersion != 'v1' || fieldRef.fieldPath != 'metadata.namespace']) > `0`)\
]) == `0`";

/// The volume source key of a PSP `volumes` entry (PSP spells `cephfs` as `cephFS`).
pub(super) fn volume_key(name: &str) -> String {
    crate::k8s::pod_volume_key(name).to_string()
}

/// JMESPath: a `hostPath` volume under `prefix` (by path components).
pub(super) fn host_path_under(prefix: &str) -> String {
    let p = prefix.trim_end_matches('/');
    if p.is_empty() {
        "starts_with(hostPath.path, '/')".into()
    } else {
        format!("(hostPath.path == '{p}' || starts_with(hostPath.path, '{p}/'))")
    }
}

pub(super) fn host_paths(
    allowed: &[crate::ir::HostPathRule],
) -> Option<(Validate, Fidelity, String)> {
    if allowed.is_empty()
        || allowed
            .iter()
            .any(|h| h.path_prefix.contains(['*', '?', '|', '&', '!', '<', '>']))
    {
        return None;
    }
    let prefixes: Vec<String> = allowed
        .iter()
        .flat_map(|h| {
            let p = h.path_prefix.trim_end_matches('/').to_string();
            if p.is_empty() {
                vec!["/*".to_string()]
            } else {
                vec![p.clone(), format!("{p}/*")]
            }
        })
        .collect();
    let alt = alternatives(&prefixes)?;
    let mut each = vec![ValidateForeach {
        list: "request.object.spec.volumes[?hostPath] || `[]`".into(),
        pattern: Some(json!({"hostPath": {"path": alt}})),
        deny: None,
    }];
    let ro: Vec<&str> = allowed
        .iter()
        .filter(|h| h.read_only)
        .map(|h| h.path_prefix.as_str())
        .collect();
    let rw: Vec<&str> = allowed
        .iter()
        .filter(|h| !h.read_only)
        .map(|h| h.path_prefix.as_str())
        .collect();
    let (f, note) = if ro.is_empty() {
        (
            Fidelity::Exact,
            "paths are matched by component with Kyverno wildcards".to_string(),
        )
    } else if ro.iter().chain(&rw).all(|p| jmes_safe(p)) {
        // PSP: a volume must be mounted read-only when every prefix it is under says so.
        let under = |v: &[&str]| {
            v.iter()
                .map(|p| host_path_under(p))
                .collect::<Vec<_>>()
                .join(" || ")
        };
        let mut filter = format!("hostPath && ({})", under(&ro));
        if !rw.is_empty() {
            filter.push_str(&format!(" && !({})", under(&rw)));
        }
        each.push(deny_each(Conditions::any(vec![Condition::new(
            "{{ element.volumeMounts[?readOnly != `true`].name || `[]` }}",
            "AnyIn",
            format!("{{{{ request.object.spec.volumes[?{filter}].name || `[]` }}}}"),
        )])));
        (
            Fidelity::Exact,
            "paths are matched by component; mounts of volumes under `readOnly` prefixes must set `readOnly: true`".to_string(),
        )
    } else {
        (
            Fidelity::Approximated,
            "`readOnly` is not enforced: a path holds characters polytrans does not write into a JMESPath expression".to_string(),
        )
    };
    Some((Validate::foreach(each), f, note))
}

/// The Kubernetes profile `type` of an annotation-form profile.
pub(super) fn profile_type(p: &str) -> Option<&'static str> {
    match p {
        "runtime/default" | "docker/default" => Some("RuntimeDefault"),
        "unconfined" => Some("Unconfined"),
        _ if p.starts_with("localhost/") => Some("Localhost"),
        _ => None,
    }
}

/// Which profiles [`effective_profiles`] judges.
#[derive(Debug, Clone, Copy)]
pub(super) enum Profiles {
    /// Seccomp, read from these sources.
    Seccomp(ProfileSource),
    /// AppArmor: container annotations and `appArmorProfile` fields.
    AppArmor,
}

/// Conditions that a profile field (`f`, a JMESPath to a `seccompProfile` or `appArmorProfile`
/// object) holds a profile outside `allowed` (unset passes).
fn field_outside(f: &str, allowed: &[String]) -> Vec<Condition> {
    let mut types: Vec<&str> = allowed.iter().filter_map(|p| profile_type(p)).collect();
    types.push("");
    types.sort();
    types.dedup();
    let mut out = vec![];
    let locals: Vec<String> = allowed
        .iter()
        .filter_map(|p| p.strip_prefix("localhost/"))
        .map(str::to_string)
        .chain([String::new()])
        .collect();
    let localhost = types.contains(&"Localhost");
    out.push(Condition::new(
        format!("{{{{ {f}.type || '' }}}}"),
        "AnyNotIn",
        types,
    ));
    if localhost {
        out.push(Condition::new(
            format!("{{{{ {f}.type == 'Localhost' && {f}.localhostProfile || '' }}}}"),
            "AnyNotIn",
            escape_all(&locals),
        ));
    }
    out
}

/// PSP's reading of seccomp and AppArmor profiles ([`Scope::Effective`]), exactly:
/// - seccomp (`seccomp/strategy.go`): the pod's profile (annotation, else field) must be
///   allowed, and set unless unset is allowed (`ValidatePod`); each container's own profile
///   (field, else its annotation, else the pod's) must be allowed (`ValidateContainer`);
/// - AppArmor (`apparmor/strategy.go`): each container's profile (its annotation; on
///   Kubernetes 1.30+ also its `appArmorProfile` field, else the pod's) must be allowed, and
///   set unless unset is allowed.
///
/// A container's annotation is read by its name (`{{element.name}}`, a nested variable).
pub(super) fn effective_profiles(
    what: Profiles,
    allowed: &NameSet,
    unset_allowed: bool,
) -> Option<(Validate, Fidelity, String)> {
    let (field, elem_ann, pod_ann, use_fields, use_ann) = match what {
        Profiles::Seccomp(source) => (
            "seccompProfile",
            "container.seccomp.security.alpha.kubernetes.io/",
            Some("seccomp.security.alpha.kubernetes.io/pod"),
            source != ProfileSource::Annotations,
            source != ProfileSource::Fields,
        ),
        Profiles::AppArmor => (
            "appArmorProfile",
            "container.apparmor.security.beta.kubernetes.io/",
            None,
            true,
            true,
        ),
    };
    let elem_field = format!("element.securityContext.{field}");
    let pod_field = format!("request.object.spec.securityContext.{field}");
    let ann = |key: &str| format!("request.object.metadata.annotations.\"{key}\"");
    let elem_ann = ann(&format!("{elem_ann}{{{{element.name}}}}"));
    let unset = |path: &str, suffix: &str| {
        Condition::new(format!("{{{{ {path}{suffix} || '' }}}}"), "Equals", "")
    };
    let mut each = Vec::new();
    let (mut fidelity, mut note) = (Fidelity::Exact, String::new());
    if let NameSet::Only(v) = allowed {
        if v.iter().any(|p| p.contains(['*', '?'])) {
            fidelity = Fidelity::Approximated;
            note = "a `*` or `?` in a profile name is read as a Kyverno wildcard (PSP compared names literally)".into();
        }
        let mut names = escape_all(v);
        names.push(String::new());
        let ann_outside =
            |a: &str| Condition::new(format!("{{{{ {a} || '' }}}}"), "AnyNotIn", names.clone());
        match what {
            Profiles::Seccomp(_) => {
                let mut any = Vec::new();
                if use_fields {
                    any.extend(field_outside(&elem_field, v));
                    any.extend(field_outside(&pod_field, v));
                }
                if use_ann {
                    any.push(ann_outside(&elem_ann));
                    any.push(ann_outside(&ann(pod_ann.unwrap())));
                }
                each.push(deny_each(Conditions::any(any)));
            }
            Profiles::AppArmor => {
                // The container's annotation, else its field, else the pod's field.
                let mut any = vec![ann_outside(&elem_ann)];
                any.extend(field_outside(&elem_field, v));
                each.push(deny_each(Conditions::any(any)));
                for c in field_outside(&pod_field, v) {
                    each.push(deny_each(Conditions::all(vec![
                        unset(&elem_ann, ""),
                        unset(&elem_field, ".type"),
                        c,
                    ])));
                }
            }
        }
    }
    if !unset_allowed {
        let mut all = Vec::new();
        match what {
            Profiles::Seccomp(_) => {
                // The pod's own profile must be set; containers inherit it.
                if use_fields {
                    all.push(unset(&pod_field, ".type"));
                }
                if use_ann {
                    all.push(unset(&ann(pod_ann.unwrap()), ""));
                }
            }
            Profiles::AppArmor => {
                all.push(unset(&elem_ann, ""));
                all.push(unset(&elem_field, ".type"));
                all.push(unset(&pod_field, ".type"));
            }
        }
        each.push(deny_each(Conditions::all(all)));
    }
    if each.is_empty() {
        return None;
    }
    Some((Validate::foreach(each), fidelity, note))
}

/// Validation of seccomp or AppArmor profiles, fields and annotations.
pub(super) fn profiles(
    what: &str,
    allowed: &NameSet,
    unset_allowed: bool,
    annotations: bool,
    scope: Scope,
) -> Option<(Validate, Fidelity, String)> {
    let (field, pod_ann, ann_prefixes): (&str, Option<&str>, Vec<&str>) = if what == "seccomp" {
        (
            "seccompProfile",
            Some("seccomp.security.alpha.kubernetes.io/pod"),
            vec![
                "seccomp.security.alpha.kubernetes.io/pod",
                "container.seccomp.security.alpha.kubernetes.io/",
            ],
        )
    } else {
        (
            "appArmorProfile",
            None,
            vec!["container.apparmor.security.beta.kubernetes.io/"],
        )
    };
    let profiles = format!(
        "request.object.spec.[securityContext.{field}, [ephemeralContainers, initContainers, containers][].securityContext.{field}][]"
    );
    let types_key = format!("{{{{ {profiles}.type || `[]` }}}}");
    let local_key = format!("{{{{ {profiles}[?type == 'Localhost'].localhostProfile || `[]` }}}}");
    let ann_filter = ann_prefixes
        .iter()
        .map(|p| format!("starts_with(key, '{p}')"))
        .collect::<Vec<_>>()
        .join(" || ");
    let ann_key = format!(
        "{{{{ items(request.object.metadata.annotations || `{{}}`, 'key', 'value')[?{ann_filter}].value || `[]` }}}}"
    );
    let mut any = Vec::new();
    let mut notes = Vec::new();
    let mut f = Fidelity::Exact;
    match allowed {
        NameSet::Any => {}
        NameSet::Only(v) => {
            let mut types: Vec<&str> = v.iter().filter_map(|p| profile_type(p)).collect();
            types.sort();
            types.dedup();
            any.push(Condition::new(types_key.clone(), "AnyNotIn", types));
            let locals: Vec<String> = v
                .iter()
                .filter_map(|p| p.strip_prefix("localhost/"))
                .map(str::to_string)
                .collect();
            if !locals.is_empty() && !locals.iter().any(|l| l == "*") {
                any.push(Condition::new(
                    local_key.clone(),
                    "AnyNotIn",
                    escape_all(&locals),
                ));
            }
            if annotations {
                any.push(Condition::new(ann_key.clone(), "AnyNotIn", escape_all(v)));
            }
        }
        NameSet::AnyExcept(v) => {
            let types: Vec<&str> = v
                .iter()
                .filter(|p| !p.starts_with("localhost/"))
                .filter_map(|p| profile_type(p))
                .collect();
            if !types.is_empty() {
                any.push(Condition::new(types_key.clone(), "AnyIn", types));
            }
            let locals: Vec<String> = v
                .iter()
                .filter_map(|p| p.strip_prefix("localhost/"))
                .map(str::to_string)
                .collect();
            if !locals.is_empty() {
                any.push(Condition::new(
                    local_key.clone(),
                    "AnyIn",
                    escape_all(&locals),
                ));
            }
            if annotations {
                any.push(Condition::new(ann_key.clone(), "AnyIn", escape_all(v)));
            }
        }
    }
    let mut each = Vec::new();
    if !any.is_empty() {
        each.push(deny_each(Conditions::any(any)));
    }
    if scope == Scope::Effective {
        f = Fidelity::Approximated;
        notes.push(
            "every profile written is judged, even a pod-level one that every container overrides",
        );
    }
    if !unset_allowed {
        let mut all = vec![
            Condition::new(
                format!("{{{{ element.securityContext.{field}.type || '' }}}}"),
                "Equals",
                "",
            ),
            Condition::new(
                format!("{{{{ request.object.spec.securityContext.{field}.type || '' }}}}"),
                "Equals",
                "",
            ),
        ];
        if annotations {
            if let Some(pa) = pod_ann {
                all.push(Condition::new(
                    format!("{{{{ request.object.metadata.annotations.\"{pa}\" || '' }}}}"),
                    "Equals",
                    "",
                ));
            }
            all.push(Condition::new(
                format!("{{{{ length(items(request.object.metadata.annotations || `{{}}`, 'key', 'value')[?starts_with(key, '{}')]) }}}}", ann_prefixes.last().unwrap()),
                "LessThan",
                "{{ length(request.object.spec.[ephemeralContainers, initContainers, containers][]) }}",
            ));
            f = Fidelity::Approximated;
            notes.push("a required profile set only by container annotations counts when there are as many such annotations as containers");
        }
        each.push(deny_each(Conditions::all(all)));
    }
    if each.is_empty() {
        return None;
    }
    Some((Validate::foreach(each), f, notes.join("; ")))
}

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
            let mut names: Vec<String> = names.iter().map(|n| volume_key(n)).collect();
            if op == "AnyNotIn" {
                names.push("name".into());
                names.sort();
            }
            Some((
                deny_list("request.object.spec.volumes[].keys(@)[]", op, &names),
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
            ranges, required, ..
        } => id_rule("runAsUser", ranges, *required),
        Constraint::GroupIds {
            field: GroupField::RunAsGroup,
            ranges,
            required,
        } => id_rule("runAsGroup", ranges, *required),
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
            ..
        } => {
            let mut opts = Map::new();
            for (k, v) in [
                ("user", user),
                ("role", role),
                ("type", type_),
                ("level", level),
            ] {
                if let Some(v) = v {
                    let set: Vec<String> = v.iter().filter(|s| !s.is_empty()).cloned().collect();
                    if set.is_empty() {
                        // Only "unset" is allowed.
                        opts.insert(format!("X({k})"), json!("null"));
                    } else {
                        let alt = alternatives(&set)?;
                        opts.insert(format!("=({k})"), json!(alt));
                    }
                }
            }
            if opts.is_empty() {
                return None;
            }
            let opts = Value::Object(opts);
            let mut spec = every_container(json!({"=(seLinuxOptions)": opts.clone()}), false);
            spec.as_object_mut().unwrap().insert(
                "=(securityContext)".into(),
                json!({"=(seLinuxOptions)": opts}),
            );
            Some((
                pattern(spec),
                Approximated,
                "each option written must be listed; an unset option is not required".into(),
            ))
        }
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
        } => profiles(
            "seccomp",
            allowed,
            *unset_allowed,
            *source != ProfileSource::Fields,
            *scope,
        ),
        Constraint::AppArmor {
            allowed,
            unset_allowed,
            scope,
        } => profiles("apparmor", allowed, *unset_allowed, true, *scope),
    }
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
) -> Option<(Validate, Fidelity, String)> {
    if ranges.is_empty() {
        return None;
    }
    let pat = ranges_pattern(ranges);
    let opt = format!("=({field})");
    let mut any = every_container(json!({ opt.clone(): pat }), false);
    let note =
        "every value written must be in range, even a pod-level one that every container overrides"
            .to_string();
    if !required {
        any.as_object_mut()
            .unwrap()
            .insert("=(securityContext)".into(), json!({ opt: pat }));
        return Some((pattern(any), Fidelity::Approximated, note));
    }
    any.as_object_mut()
        .unwrap()
        .insert("securityContext".into(), json!({ field: pat }));
    let mut each = every_container(json!({ field: pat }), true);
    each.as_object_mut()
        .unwrap()
        .insert("=(securityContext)".into(), json!({ opt: pat }));
    Some((
        Validate::any_pattern(vec![json!({ "spec": any }), json!({ "spec": each })]),
        Fidelity::Approximated,
        format!(
            "{note}; init and ephemeral containers may leave it unset when the pod does not set it"
        ),
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
            ..
        } => {
            format!(
                "use an allowed seccomp profile ({}){}",
                profile_list(allowed),
                if *unset_allowed {
                    ""
                } else {
                    "; every container needs one"
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
        "runtime/default" => Some("RuntimeDefault"),
        "unconfined" => Some("Unconfined"),
        _ if p.starts_with("localhost/") => Some("Localhost"),
        _ => None,
    }
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

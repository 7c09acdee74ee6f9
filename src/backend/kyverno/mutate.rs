//! Mutate rules: PSP's defaulting as `foreach` mutations over every container list.

use super::*;

/// A `foreach` mutation over every container list: `inner` is merged into each container
/// (matched by name), with its own preconditions. `inner` holds no anchor: Kyverno's
/// strategic-merge preprocessing decides an anchor in a list element on the list's first
/// element and applies that decision to every element, whatever the patch's `name`
/// (`strategicPreprocessing.go`), so "only where unset" is a per-element precondition.
pub(super) fn foreach_containers(inner: Value, preconditions: Option<Conditions>) -> Mutate {
    let foreach = ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .map(|list| {
            let mut c = json!({"name": "{{ element.name }}"});
            if let (Value::Object(c), Value::Object(i)) = (&mut c, &inner) {
                c.extend(i.clone());
            }
            MutateForeach {
                list: format!("request.object.spec.{list} || `[]`"),
                patch_strategic_merge: json!({"spec": {*list: [c]}}),
                preconditions: preconditions.clone(),
            }
        })
        .collect();
    Mutate {
        patch_strategic_merge: None,
        foreach,
    }
}

/// A precondition: the container leaves `securityContext.<field>` unset.
fn unset(field: &str) -> Condition {
    Condition::new(
        format!("{{{{ to_string(element.securityContext.{field}) }}}}"),
        "Equals",
        "null",
    )
}

pub(super) fn psm(patch: Value) -> Mutate {
    Mutate {
        patch_strategic_merge: Some(patch),
        foreach: vec![],
    }
}

/// Capability names that can be written into a JMESPath literal.
pub(super) fn cap_literal(caps: &[String]) -> Option<String> {
    if caps.is_empty()
        || !caps
            .iter()
            .all(|c| c.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return None;
    }
    serde_json::to_string(caps).ok()
}

/// Preconditions of a defaulting field's mutate rule: PSP's seccomp strategy keeps the pod's
/// annotation when it is set (`Generate`: the annotation, else the field, else the default), so
/// the field is written only on pods without the annotation.
pub(super) fn mutation_preconditions(a: &DefaultAction) -> Option<Conditions> {
    match a {
        DefaultAction::SeccompProfile { .. } => Some(Conditions::all(vec![Condition::new(
            "{{ request.object.metadata.annotations.\"seccomp.security.alpha.kubernetes.io/pod\" || '' }}",
            "Equals",
            "",
        )])),
        _ => None,
    }
}

/// The mutate rule of a defaulting field, its fidelity and a note.
pub(super) fn mutation(a: &DefaultAction) -> Option<(Mutate, Fidelity, &'static str)> {
    use Fidelity::*;
    match a {
        DefaultAction::AllowPrivilegeEscalation { value } => Some((
            foreach_containers(
                json!({"securityContext": {"allowPrivilegeEscalation": value}}),
                Some(Conditions::all(vec![unset("allowPrivilegeEscalation")])),
            ),
            Exact,
            "set on every container that leaves it unset",
        )),
        DefaultAction::ReadOnlyRootFilesystem => Some((
            foreach_containers(
                json!({"securityContext": {"readOnlyRootFilesystem": true}}),
                Some(Conditions::all(vec![unset("readOnlyRootFilesystem")])),
            ),
            Exact,
            "set on every container that leaves it unset",
        )),
        DefaultAction::RunAsNonRoot => Some((
            foreach_containers(
                json!({"securityContext": {"runAsNonRoot": true}}),
                Some(Conditions::all(
                    [
                        "{{ to_string(element.securityContext.runAsNonRoot) }}",
                        "{{ to_string(request.object.spec.securityContext.runAsNonRoot) }}",
                        "{{ to_string(element.securityContext.runAsUser) }}",
                        "{{ to_string(request.object.spec.securityContext.runAsUser) }}",
                    ]
                    .into_iter()
                    .map(|key| Condition::new(key, "Equals", "null"))
                    .collect(),
                )),
            ),
            Exact,
            "set on containers with neither runAsNonRoot nor runAsUser in effect",
        )),
        DefaultAction::RunAsUser { value } => Some((
            psm(json!({"spec": {"securityContext": {"+(runAsUser)": value}}})),
            Exact,
            "set at pod level when unset: every container without its own value inherits it",
        )),
        DefaultAction::GroupId { field, value } => {
            let v = match field {
                GroupField::SupplementalGroups => json!([value]),
                _ => json!(value),
            };
            Some((
                psm(json!({"spec": {"securityContext": { format!("+({})", field.as_str()): v }}})),
                Exact,
                "",
            ))
        }
        DefaultAction::RuntimeClass { name } => Some((
            psm(json!({"spec": {"+(runtimeClassName)": escape(name)}})),
            Exact,
            "",
        )),
        DefaultAction::SeLinuxOptions {
            user,
            role,
            type_,
            level,
        } => {
            let mut o = Map::new();
            for (k, v) in [
                ("user", user),
                ("role", role),
                ("type", type_),
                ("level", level),
            ] {
                if !v.is_empty() {
                    o.insert(k.into(), json!(escape(v)));
                }
            }
            Some((
                psm(json!({"spec": {"securityContext": {"+(seLinuxOptions)": Value::Object(o)}}})),
                Exact,
                "",
            ))
        }
        DefaultAction::SeccompProfile { profile } => {
            let sp = if profile == "runtime/default" || profile == "docker/default" {
                json!({"type": "RuntimeDefault"})
            } else if let Some(p) = profile.strip_prefix("localhost/") {
                json!({"type": "Localhost", "localhostProfile": escape(p)})
            } else if profile == "unconfined" {
                json!({"type": "Unconfined"})
            } else {
                return None;
            };
            Some((
                psm(json!({"spec": {"securityContext": {"+(seccompProfile)": sp}}})),
                Approximated,
                "written as the pod's seccompProfile field, not the deprecated annotation",
            ))
        }
        DefaultAction::AppArmorProfile { profile } => {
            let ap = if profile == "runtime/default" {
                json!({"type": "RuntimeDefault"})
            } else if let Some(p) = profile.strip_prefix("localhost/") {
                json!({"type": "Localhost", "localhostProfile": escape(p)})
            } else if profile == "unconfined" {
                json!({"type": "Unconfined"})
            } else {
                return None;
            };
            Some((
                foreach_containers(
                    json!({"securityContext": {"appArmorProfile": ap}}),
                    Some(Conditions::all(vec![
                        unset("appArmorProfile"),
                        Condition::new(
                            "{{ request.object.metadata.annotations.\"container.apparmor.security.beta.kubernetes.io/{{element.name}}\" || '' }}",
                            "Equals",
                            "",
                        ),
                    ])),
                ),
                Approximated,
                "written as each container's appArmorProfile field (Kubernetes 1.30+), not the deprecated annotation",
            ))
        }
        DefaultAction::AddCapabilities { capabilities } => append_capabilities(
            "add",
            capabilities,
            "appended to each container's capabilities.add, also where the container already adds it (listed twice) or drops it (PSP left those alone)",
        ),
        DefaultAction::DropCapabilities { capabilities } => append_capabilities(
            "drop",
            capabilities,
            "appended to each container's capabilities.drop; a capability the container already drops is listed twice",
        ),
    }
}

/// A `foreach` mutation appending `capabilities` to each container's `capabilities.<list>`.
pub(super) fn append_capabilities(
    list: &str,
    capabilities: &[String],
    note: &'static str,
) -> Option<(Mutate, Fidelity, &'static str)> {
    let lit = cap_literal(capabilities)?;
    Some((
        foreach_containers(
            json!({"securityContext": {"capabilities": {
                list: format!("{{{{ [element.securityContext.capabilities.{list} || `[]`, `{lit}`][] }}}}"),
            }}}),
            None,
        ),
        Fidelity::Approximated,
        note,
    ))
}

//! PSP's defaulting as CEL mutations: the `mutations` of a `MutatingAdmissionPolicy`
//! (`--to vap`) or a Kyverno `MutatingPolicy` (`--to kyverno-cel`), issue #17 §3.
//!
//! Each [`DefaultAction`] becomes one mutation that does what PSP 1.24's `MutatePod` /
//! `mutateContainer` did (`pkg/security/podsecuritypolicy/provider.go` and the strategies), and
//! nothing when PSP would not have changed the pod:
//!
//! - scalars and maps by `ApplyConfiguration` (server-side-apply merge: containers are merged by
//!   `name`, unmentioned fields are kept); each expression only names the containers whose value
//!   is unset, so a set value is never overwritten;
//! - atomic lists (`capabilities.add`/`drop`, `supplementalGroups`) and annotation keys built
//!   from container names by `JSONPatch`, since an apply configuration may not set an atomic
//!   list and CEL cannot build a map with computed keys.
//!
//! Every expression reads `object` (the object as the previous mutations left it), never
//! `variables` (evaluated once per policy invocation).

use super::super::cel_expr::{SECCOMP_POD, cel_list, cel_string, has_path, image_matches};
use crate::ir::{DefaultAction, GroupField, Policy};
use serde::Serialize;

/// One mutation of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mutation {
    /// The PSP field whose defaulting this is.
    pub field: String,
    /// What it sets ([`describe`]).
    pub what: String,
    /// `ApplyConfiguration` or `JSONPatch`.
    pub patch_type: &'static str,
    pub expression: String,
}

const APPARMOR_CONTAINER: &str = "container.apparmor.security.beta.kubernetes.io/";

/// The container lists PSP visited, in its order (`podutil.VisitContainers`).
const KINDS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

const NOTHING: &str = "Object{}";

/// `has(c.securityContext) && has(c.securityContext.<field>)`.
fn c_has(field: &str) -> String {
    has_path("c", &["securityContext", field])
}

/// `has(object.spec.securityContext) && has(object.spec.securityContext.<field>)`.
fn pod_has(field: &str) -> String {
    has_path("object.spec", &["securityContext", field])
}

/// The container's own value or the pod's is set (PSP's effective value, `accessors.go`).
fn effective_has(field: &str) -> String {
    format!("({} || {})", c_has(field), pod_has(field))
}

/// `cond` for containers PSP judged: those running an exempt image are left alone.
fn judged(cond: String, exempt_images: &[String]) -> String {
    if exempt_images.is_empty() {
        cond
    } else {
        format!("{cond} && !({})", image_matches(exempt_images))
    }
}

/// An apply configuration setting `securityContext.<field>: <value>` on every container of
/// every list for which `cond` (over `c`) holds.
fn per_container(field: &str, value: &str, cond: &str) -> Vec<String> {
    KINDS
        .iter()
        .map(|k| {
            let list = format!("object.spec.{k}");
            format!(
                "has({list}) && {list}.exists(c, {cond}) ? Object{{spec: Object.spec{{{k}: \
                 {list}.filter(c, {cond}).map(c, Object.spec.{k}{{name: c.name, securityContext: \
                 Object.spec.{k}.securityContext{{{field}: {value}}}}})}}}} : {NOTHING}"
            )
        })
        .collect()
}

/// An apply configuration setting the pod's `securityContext.<field>` when unset.
fn pod_security_context(field: &str, value: &str) -> String {
    format!(
        "{} ? {NOTHING} : Object{{spec: Object.spec{{securityContext: \
         Object.spec.securityContext{{{field}: {value}}}}}}}",
        pod_has(field)
    )
}

/// Whether the capability list `which` (`add`/`drop`) of container `c` holds `x`.
fn cap_listed(which: &str, x: &str) -> String {
    format!(
        "({} && {x} in c.securityContext.capabilities.{which})",
        has_path("c", &["securityContext", "capabilities", which])
    )
}

/// JSON patches adding `missing` (a list expression over `c`) to each container's capability
/// list `which`, creating `securityContext` and `capabilities` as needed
/// (capabilities/mustrunas.go `Generate`).
fn capabilities(which: &str, missing: &str, exempt_images: &[String]) -> String {
    let lists: Vec<String> = KINDS
        .iter()
        .map(|k| {
            let list = format!("object.spec.{k}");
            let at = format!("'/spec/{k}/' + string({list}.indexOf(c)) + '/securityContext'");
            let caps_ty = format!("Object.spec.{k}.securityContext.capabilities");
            let current = format!(
                "({} ? c.securityContext.capabilities.{which} : [])",
                has_path("c", &["securityContext", "capabilities", which])
            );
            let patch = format!(
                "!has(c.securityContext) ? JSONPatch{{op: 'add', path: {at}, value: \
                 Object.spec.{k}.securityContext{{capabilities: {caps_ty}{{{which}: {missing}}}}}}} : \
                 !has(c.securityContext.capabilities) ? JSONPatch{{op: 'add', path: {at} + \
                 '/capabilities', value: {caps_ty}{{{which}: {missing}}}}} : JSONPatch{{op: 'add', \
                 path: {at} + '/capabilities/{which}', value: {current} + {missing}}}"
            );
            let cond = judged(format!("size({missing}) > 0"), exempt_images);
            format!("(has({list}) ? {list}.filter(c, {cond}).map(c, {patch}) : [])")
        })
        .collect();
    lists.join(" + ")
}

/// Every container (init, regular, ephemeral), for expressions that do not patch by index.
fn all_containers() -> String {
    KINDS
        .iter()
        .map(|k| format!("(has(object.spec.{k}) ? object.spec.{k} : [])"))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// `podutil.SeccompAnnotationForField`: a `seccompProfile` object's annotation form (`''` when
/// it has none).
fn seccomp_form(p: &str) -> String {
    format!(
        "(has({p}.type) && {p}.type == 'RuntimeDefault' ? 'runtime/default' : \
         has({p}.type) && {p}.type == 'Unconfined' ? 'unconfined' : \
         has({p}.type) && {p}.type == 'Localhost' && has({p}.localhostProfile) ? \
         'localhost/' + {p}.localhostProfile : '')"
    )
}

/// The mutations for one defaulting action (several for per-container-list actions).
fn action_mutations(
    action: &DefaultAction,
    exempt_images: &[String],
) -> Vec<(String, &'static str)> {
    let apply = |v: Vec<String>| -> Vec<(String, &'static str)> {
        v.into_iter().map(|e| (e, "ApplyConfiguration")).collect()
    };
    let j = |c: String| judged(c, exempt_images);
    match action {
        DefaultAction::AddCapabilities { capabilities: caps } => {
            // Default adds the container neither adds nor drops.
            let missing = format!(
                "{}.filter(x, !{} && !{})",
                cel_list(caps),
                cap_listed("add", "x"),
                cap_listed("drop", "x")
            );
            vec![(capabilities("add", &missing, exempt_images), "JSONPatch")]
        }
        DefaultAction::DropCapabilities { capabilities: caps } => {
            let missing = format!("{}.filter(x, !{})", cel_list(caps), cap_listed("drop", "x"));
            vec![(capabilities("drop", &missing, exempt_images), "JSONPatch")]
        }
        DefaultAction::AllowPrivilegeEscalation { value } => apply(per_container(
            "allowPrivilegeEscalation",
            &value.to_string(),
            &j(format!("!({})", c_has("allowPrivilegeEscalation"))),
        )),
        DefaultAction::ReadOnlyRootFilesystem => apply(per_container(
            "readOnlyRootFilesystem",
            "true",
            &j(format!("!({})", c_has("readOnlyRootFilesystem"))),
        )),
        DefaultAction::RunAsNonRoot => apply(per_container(
            "runAsNonRoot",
            "true",
            &j(format!(
                "!{} && !{}",
                effective_has("runAsNonRoot"),
                effective_has("runAsUser")
            )),
        )),
        DefaultAction::RunAsUser { value } => apply(per_container(
            "runAsUser",
            &value.to_string(),
            &j(format!("!{}", effective_has("runAsUser"))),
        )),
        // group/mustrunas.go: runAsGroup is generated per container (when neither the container
        // nor the pod sets one); fsGroup and supplementalGroups on the pod.
        DefaultAction::GroupId {
            field: GroupField::RunAsGroup,
            value,
        } => apply(per_container(
            "runAsGroup",
            &value.to_string(),
            &j(format!("!{}", effective_has("runAsGroup"))),
        )),
        DefaultAction::GroupId {
            field: GroupField::FsGroup,
            value,
        } => apply(vec![pod_security_context("fsGroup", &value.to_string())]),
        DefaultAction::GroupId {
            field: GroupField::SupplementalGroups,
            value,
        } => {
            // An explicit empty list is not nil in Go: PSP generated nothing for it.
            let e = format!(
                "!has(object.spec.securityContext) ? [JSONPatch{{op: 'add', path: \
                 '/spec/securityContext', value: Object.spec.securityContext{{supplementalGroups: \
                 [{value}]}}}}] : has(object.spec.securityContext.supplementalGroups) ? [] : \
                 [JSONPatch{{op: 'add', path: '/spec/securityContext/supplementalGroups', value: \
                 [{value}]}}]"
            );
            vec![(e, "JSONPatch")]
        }
        DefaultAction::SeLinuxOptions {
            user,
            role,
            type_,
            level,
        } => {
            // selinux/mustrunas.go: the pod's options when the pod sets none; containers then
            // inherit them, so PSP never set a container's.
            let fields: Vec<String> = [
                ("user", user),
                ("role", role),
                ("type", type_),
                ("level", level),
            ]
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}: {}", cel_string(v)))
            .collect();
            apply(vec![pod_security_context(
                "seLinuxOptions",
                &format!(
                    "Object.spec.securityContext.seLinuxOptions{{{}}}",
                    fields.join(", ")
                ),
            )])
        }
        DefaultAction::SeccompProfile { profile } => {
            // seccomp/strategy.go `Generate`: the pod annotation when set, else the pod field's
            // annotation form, else the default; written as the pod annotation when not empty.
            let key = cel_string(SECCOMP_POD);
            let set = format!(
                "has(object.metadata.annotations) && {key} in object.metadata.annotations && \
                 object.metadata.annotations[{key}] != ''"
            );
            let field = "object.spec.securityContext.seccompProfile";
            let form = seccomp_form(field);
            let write = |v: &str| {
                format!("Object{{metadata: Object.metadata{{annotations: {{{key}: {v}}}}}}}")
            };
            let e = format!(
                "{set} ? {NOTHING} : {} ? ({form} == '' ? {NOTHING} : {}) : {}",
                pod_has("seccompProfile"),
                write(&form),
                write(&cel_string(profile))
            );
            apply(vec![e])
        }
        DefaultAction::AppArmorProfile { profile } => {
            // apparmor/strategy.go `Generate`: each container without a profile annotation (or
            // with an empty one) gets the default.
            let key = format!("{} + c.name", cel_string(APPARMOR_CONTAINER));
            let needs = j(format!(
                "!(has(object.metadata.annotations) && {key} in object.metadata.annotations && \
                 object.metadata.annotations[{key}] != '')"
            ));
            let all = all_containers();
            let e = format!(
                "({all}).exists(c, {needs}) ? (has(object.metadata.annotations) ? [] : \
                 [JSONPatch{{op: 'add', path: '/metadata/annotations', value: {{}}}}]) + \
                 ({all}).filter(c, {needs}).map(c, JSONPatch{{op: 'add', path: \
                 '/metadata/annotations/' + jsonpatch.escapeKey({key}), value: {}}}) : []",
                cel_string(profile)
            );
            vec![(e, "JSONPatch")]
        }
        DefaultAction::RuntimeClass { name } => apply(vec![format!(
            "has(object.spec.runtimeClassName) ? {NOTHING} : \
             Object{{spec: Object.spec{{runtimeClassName: {}}}}}",
            cel_string(name)
        )]),
    }
}

/// The order PSP mutated in: the pod (`MutatePod`: supplemental groups, fsGroup, SELinux,
/// seccomp, runtime class), then each container (`mutateContainer`: runAsUser, runAsGroup,
/// AppArmor, runAsNonRoot, capabilities, readOnlyRootFilesystem, allowPrivilegeEscalation).
fn order(a: &DefaultAction) -> u8 {
    match a {
        DefaultAction::GroupId {
            field: GroupField::SupplementalGroups,
            ..
        } => 0,
        DefaultAction::GroupId {
            field: GroupField::FsGroup,
            ..
        } => 1,
        DefaultAction::SeLinuxOptions { .. } => 2,
        DefaultAction::SeccompProfile { .. } => 3,
        DefaultAction::RuntimeClass { .. } => 4,
        DefaultAction::RunAsUser { .. } => 5,
        DefaultAction::GroupId {
            field: GroupField::RunAsGroup,
            ..
        } => 6,
        DefaultAction::AppArmorProfile { .. } => 7,
        DefaultAction::RunAsNonRoot => 8,
        DefaultAction::AddCapabilities { .. } => 9,
        DefaultAction::DropCapabilities { .. } => 10,
        DefaultAction::ReadOnlyRootFilesystem => 11,
        DefaultAction::AllowPrivilegeEscalation { .. } => 12,
    }
}

/// Every mutation of a policy, in PSP's order.
pub fn mutations(policy: &Policy) -> Vec<Mutation> {
    let mut defaults: Vec<_> = policy.defaults.iter().collect();
    defaults.sort_by_key(|d| order(&d.action));
    defaults
        .into_iter()
        .flat_map(|d| {
            action_mutations(&d.action, &policy.exempt_images)
                .into_iter()
                .map(|(expression, patch_type)| Mutation {
                    field: d.provenance.field.clone(),
                    what: super::super::single_line(&describe(&d.action)),
                    patch_type,
                    expression,
                })
        })
        .collect()
}

/// What the mutation sets, for the header.
pub fn describe(action: &DefaultAction) -> String {
    match action {
        DefaultAction::AddCapabilities { capabilities } => {
            format!("adds {} to capabilities.add", capabilities.join(", "))
        }
        DefaultAction::DropCapabilities { capabilities } => {
            format!("adds {} to capabilities.drop", capabilities.join(", "))
        }
        DefaultAction::AllowPrivilegeEscalation { value } => {
            format!("sets allowPrivilegeEscalation={value} on containers that leave it unset")
        }
        DefaultAction::ReadOnlyRootFilesystem => {
            "sets readOnlyRootFilesystem=true on containers that leave it unset".into()
        }
        DefaultAction::RunAsNonRoot => {
            "sets runAsNonRoot=true on containers with no runAsNonRoot or runAsUser in effect"
                .into()
        }
        DefaultAction::RunAsUser { value } => {
            format!("sets runAsUser={value} on containers with none in effect")
        }
        DefaultAction::GroupId {
            field: GroupField::RunAsGroup,
            value,
        } => format!("sets runAsGroup={value} on containers with none in effect"),
        DefaultAction::GroupId { field, value } => {
            format!("sets the pod's {}={value} when unset", field.as_str())
        }
        DefaultAction::SeLinuxOptions { .. } => "sets the pod's seLinuxOptions when unset".into(),
        DefaultAction::SeccompProfile { profile } => format!(
            "sets the pod annotation {SECCOMP_POD} (to the seccompProfile field's form, else {profile}) when unset"
        ),
        DefaultAction::AppArmorProfile { profile } => format!(
            "sets each container's {APPARMOR_CONTAINER}<name> annotation to {profile} when unset"
        ),
        DefaultAction::RuntimeClass { name } => format!("sets runtimeClassName {name} when unset"),
    }
}

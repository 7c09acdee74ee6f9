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

use super::super::cel_expr::tree::{
    Expr, and, call, cond, ident, object, or, str_list, str_lit, sum,
};
use super::super::cel_expr::{APPARMOR_CONTAINER, SECCOMP_POD, has_path, image_matches, or_empty};
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

/// The container lists PSP visited, in its order (`podutil.VisitContainers`).
const KINDS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

fn obj() -> Expr {
    ident("object")
}

fn c() -> Expr {
    ident("c")
}

/// `Object{}`: an apply configuration that changes nothing.
fn nothing() -> Expr {
    object("Object", vec![])
}

/// `has(c.securityContext) && has(c.securityContext.<field>)`.
fn c_has(field: &str) -> Expr {
    has_path(&c(), &["securityContext", field])
}

/// `has(object.spec.securityContext) && has(object.spec.securityContext.<field>)`.
fn pod_has(field: &str) -> Expr {
    has_path(&obj().field("spec"), &["securityContext", field])
}

/// The container's own value or the pod's is set (PSP's effective value, `accessors.go`).
fn effective_has(field: &str) -> Expr {
    or(vec![c_has(field), pod_has(field)])
}

/// `cond` for containers PSP judged: those running an exempt image are left alone.
fn judged(cond: Expr, exempt_images: &[String]) -> Expr {
    if exempt_images.is_empty() {
        cond
    } else {
        and(vec![cond, image_matches(exempt_images).not()])
    }
}

/// A JSON patch operation `add`.
fn json_add(path: Expr, value: Expr) -> Expr {
    object(
        "JSONPatch",
        vec![("op", str_lit("add")), ("path", path), ("value", value)],
    )
}

/// An apply configuration setting `securityContext.<field>: <value>` on every container of
/// every list for which `when` (over `c`) holds.
fn per_container(field: &str, value: Expr, when: &Expr) -> Vec<Expr> {
    KINDS
        .iter()
        .map(|k| {
            let list = obj().path(&["spec", k]);
            let ty = format!("Object.spec.{k}");
            let container = object(
                &ty,
                vec![
                    ("name", c().field("name")),
                    (
                        "securityContext",
                        object(
                            &format!("{ty}.securityContext"),
                            vec![(field, value.clone())],
                        ),
                    ),
                ],
            );
            cond(
                and(vec![
                    list.clone().has(),
                    list.clone().exists("c", when.clone()),
                ]),
                object(
                    "Object",
                    vec![(
                        "spec",
                        object(
                            "Object.spec",
                            vec![(k, list.filter("c", when.clone()).map("c", container))],
                        ),
                    )],
                ),
                nothing(),
            )
        })
        .collect()
}

/// An apply configuration setting the pod's `securityContext.<field>` when unset.
fn pod_security_context(field: &str, value: Expr) -> Expr {
    cond(
        pod_has(field),
        nothing(),
        object(
            "Object",
            vec![(
                "spec",
                object(
                    "Object.spec",
                    vec![(
                        "securityContext",
                        object("Object.spec.securityContext", vec![(field, value)]),
                    )],
                ),
            )],
        ),
    )
}

/// Whether the capability list `which` (`add`/`drop`) of container `c` holds `x`.
fn cap_listed(which: &str, x: Expr) -> Expr {
    let path = ["securityContext", "capabilities", which];
    and(vec![has_path(&c(), &path), x.in_(c().path(&path))])
}

/// JSON patches adding `missing` (a list expression over `c`) to each container's capability
/// list `which`, creating `securityContext` and `capabilities` as needed
/// (capabilities/mustrunas.go `Generate`).
fn capabilities(which: &str, missing: &Expr, exempt_images: &[String]) -> Expr {
    let lists: Vec<Expr> = KINDS
        .iter()
        .map(|k| {
            let list = obj().path(&["spec", k]);
            let at = || {
                str_lit(&format!("/spec/{k}/"))
                    .add(call(
                        "string",
                        vec![list.clone().method("indexOf", vec![c()])],
                    ))
                    .add(str_lit("/securityContext"))
            };
            let caps_ty = format!("Object.spec.{k}.securityContext.capabilities");
            let caps = || object(&caps_ty, vec![(which, missing.clone())]);
            let path = ["securityContext", "capabilities", which];
            let current = cond(has_path(&c(), &path), c().path(&path), Expr::List(vec![]));
            let patch = cond(
                c().field("securityContext").has().not(),
                json_add(
                    at(),
                    object(
                        &format!("Object.spec.{k}.securityContext"),
                        vec![("capabilities", caps())],
                    ),
                ),
                cond(
                    c().path(&["securityContext", "capabilities"]).has().not(),
                    json_add(at().add(str_lit("/capabilities")), caps()),
                    json_add(
                        at().add(str_lit(&format!("/capabilities/{which}"))),
                        current.add(missing.clone()),
                    ),
                ),
            );
            let when = judged(call("size", vec![missing.clone()]).gt(0), exempt_images);
            cond(
                list.clone().has(),
                list.filter("c", when).map("c", patch),
                Expr::List(vec![]),
            )
        })
        .collect();
    sum(lists)
}

/// Every container (init, regular, ephemeral), for expressions that do not patch by index.
fn all_containers() -> Expr {
    sum(KINDS
        .iter()
        .map(|k| or_empty(obj().path(&["spec", k])))
        .collect())
}

/// `podutil.SeccompAnnotationForField`: a `seccompProfile` object's annotation form (`''` when
/// it has none).
fn seccomp_form(p: &Expr) -> Expr {
    let ty = || p.clone().field("type");
    let is = |t: &str| and(vec![ty().has(), ty().eq(str_lit(t))]);
    cond(
        is("RuntimeDefault"),
        str_lit("runtime/default"),
        cond(
            is("Unconfined"),
            str_lit("unconfined"),
            cond(
                and(vec![
                    is("Localhost"),
                    p.clone().field("localhostProfile").has(),
                ]),
                str_lit("localhost/").add(p.clone().field("localhostProfile")),
                str_lit(""),
            ),
        ),
    )
}

/// The mutations for one defaulting action (several for per-container-list actions).
fn action_mutations(action: &DefaultAction, exempt_images: &[String]) -> Vec<(Expr, &'static str)> {
    let apply = |v: Vec<Expr>| -> Vec<(Expr, &'static str)> {
        v.into_iter().map(|e| (e, "ApplyConfiguration")).collect()
    };
    let j = |c: Expr| judged(c, exempt_images);
    let x = || ident("x");
    match action {
        DefaultAction::AddCapabilities { capabilities: caps } => {
            // Default adds the container neither adds nor drops.
            let missing = str_list(caps).filter(
                "x",
                and(vec![
                    cap_listed("add", x()).not(),
                    cap_listed("drop", x()).not(),
                ]),
            );
            vec![(capabilities("add", &missing, exempt_images), "JSONPatch")]
        }
        DefaultAction::DropCapabilities { capabilities: caps } => {
            let missing = str_list(caps).filter("x", cap_listed("drop", x()).not());
            vec![(capabilities("drop", &missing, exempt_images), "JSONPatch")]
        }
        DefaultAction::AllowPrivilegeEscalation { value } => apply(per_container(
            "allowPrivilegeEscalation",
            (*value).into(),
            &j(c_has("allowPrivilegeEscalation").not()),
        )),
        DefaultAction::ReadOnlyRootFilesystem => apply(per_container(
            "readOnlyRootFilesystem",
            true.into(),
            &j(c_has("readOnlyRootFilesystem").not()),
        )),
        DefaultAction::RunAsNonRoot => apply(per_container(
            "runAsNonRoot",
            true.into(),
            &j(and(vec![
                effective_has("runAsNonRoot").not(),
                effective_has("runAsUser").not(),
            ])),
        )),
        DefaultAction::RunAsUser { value } => apply(per_container(
            "runAsUser",
            (*value).into(),
            &j(effective_has("runAsUser").not()),
        )),
        // group/mustrunas.go: runAsGroup is generated per container (when neither the container
        // nor the pod sets one); fsGroup and supplementalGroups on the pod.
        DefaultAction::GroupId {
            field: GroupField::RunAsGroup,
            value,
        } => apply(per_container(
            "runAsGroup",
            (*value).into(),
            &j(effective_has("runAsGroup").not()),
        )),
        DefaultAction::GroupId {
            field: GroupField::FsGroup,
            value,
        } => apply(vec![pod_security_context("fsGroup", (*value).into())]),
        DefaultAction::GroupId {
            field: GroupField::SupplementalGroups,
            value,
        } => {
            // An explicit empty list is not nil in Go: PSP generated nothing for it.
            let groups = || Expr::List(vec![(*value).into()]);
            let sc = || obj().path(&["spec", "securityContext"]);
            let e = cond(
                sc().has().not(),
                Expr::List(vec![json_add(
                    str_lit("/spec/securityContext"),
                    object(
                        "Object.spec.securityContext",
                        vec![("supplementalGroups", groups())],
                    ),
                )]),
                cond(
                    sc().field("supplementalGroups").has(),
                    Expr::List(vec![]),
                    Expr::List(vec![json_add(
                        str_lit("/spec/securityContext/supplementalGroups"),
                        groups(),
                    )]),
                ),
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
            let fields: Vec<(&str, Expr)> = [
                ("user", user),
                ("role", role),
                ("type", type_),
                ("level", level),
            ]
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, str_lit(v)))
            .collect();
            apply(vec![pod_security_context(
                "seLinuxOptions",
                object("Object.spec.securityContext.seLinuxOptions", fields),
            )])
        }
        DefaultAction::SeccompProfile { profile } => {
            // seccomp/strategy.go `Generate`: the pod annotation when set, else the pod field's
            // annotation form, else the default; written as the pod annotation when not empty.
            let key = || str_lit(SECCOMP_POD);
            let anns = || obj().path(&["metadata", "annotations"]);
            let set = and(vec![
                anns().has(),
                key().in_(anns()),
                anns().index(key()).ne(str_lit("")),
            ]);
            let form = seccomp_form(&obj().path(&["spec", "securityContext", "seccompProfile"]));
            let write = |v: Expr| {
                object(
                    "Object",
                    vec![(
                        "metadata",
                        object(
                            "Object.metadata",
                            vec![("annotations", Expr::Map(vec![(key(), v)]))],
                        ),
                    )],
                )
            };
            let e = cond(
                set,
                nothing(),
                cond(
                    pod_has("seccompProfile"),
                    cond(form.clone().eq(str_lit("")), nothing(), write(form)),
                    write(str_lit(profile)),
                ),
            );
            apply(vec![e])
        }
        DefaultAction::AppArmorProfile { profile } => {
            // apparmor/strategy.go `Generate`: each container without a profile annotation (or
            // with an empty one) gets the default.
            let key = || str_lit(APPARMOR_CONTAINER).add(c().field("name"));
            let anns = || obj().path(&["metadata", "annotations"]);
            let needs = j(and(vec![
                anns().has(),
                key().in_(anns()),
                anns().index(key()).ne(str_lit("")),
            ])
            .not());
            let all = all_containers();
            let e = cond(
                all.clone().exists("c", needs.clone()),
                cond(
                    anns().has(),
                    Expr::List(vec![]),
                    Expr::List(vec![json_add(
                        str_lit("/metadata/annotations"),
                        Expr::Map(vec![]),
                    )]),
                )
                .add(
                    all.filter("c", needs).map(
                        "c",
                        json_add(
                            str_lit("/metadata/annotations/")
                                .add(call("jsonpatch.escapeKey", vec![key()])),
                            str_lit(profile),
                        ),
                    ),
                ),
                Expr::List(vec![]),
            );
            vec![(e, "JSONPatch")]
        }
        DefaultAction::RuntimeClass { name } => apply(vec![cond(
            obj().path(&["spec", "runtimeClassName"]).has(),
            nothing(),
            object(
                "Object",
                vec![(
                    "spec",
                    object("Object.spec", vec![("runtimeClassName", str_lit(name))]),
                )],
            ),
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
                    expression: expression.render(),
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

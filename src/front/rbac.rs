//! RBAC, Namespaces and workloads → plain facts for the scoping pass ([`crate::scope`]).
//!
//! PSP admission lets a pod use a PSP when the pod's service account, or the user creating the
//! pod, may `use` it: a ClusterRole or Role rule with verb `use` (or `*`) on resource
//! `podsecuritypolicies` (or `*`) in API group `policy`, `extensions` (or `*`), for the PSP's
//! name (`resourceNames`) or for all. A ClusterRoleBinding grants it in every namespace, a
//! RoleBinding only for pods in its own namespace. This module only reads the objects; what the
//! grants mean for each namespace is decided once, in [`crate::scope`].

use crate::load::{Node, Object};
use std::collections::{BTreeMap, BTreeSet};

/// Which PSPs a role lets its subjects use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PspGrant {
    All,
    Names(BTreeSet<String>),
}

/// Who a binding grants to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    ServiceAccount { namespace: String, name: String },
    Group(String),
    User(String),
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::ServiceAccount { namespace, name } => {
                write!(f, "ServiceAccount/{namespace}/{name}")
            }
            Subject::Group(g) => write!(f, "Group/{g}"),
            Subject::User(u) => write!(f, "User/{u}"),
        }
    }
}

/// One binding subject's `use` grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub psps: PspGrant,
    /// `ClusterRoleBinding/name` or `RoleBinding/namespace/name`.
    pub binding: String,
    /// The RoleBinding's namespace; `None` for a ClusterRoleBinding (every namespace).
    pub namespace: Option<String>,
    pub subject: Subject,
}

/// What the input says about the cluster, beside the PSPs.
#[derive(Debug, Clone, Default)]
pub struct ClusterFacts {
    /// `None`: the input holds no RBAC object.
    pub grants: Option<Vec<Grant>>,
    /// Namespaces named by the input (Namespace objects, namespaced RBAC, pods), with their
    /// `pod-security.kubernetes.io/*` labels.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// Pods and workloads given, to judge.
    pub workloads: Vec<crate::pod::Workload>,
}

/// The kinds that make up RBAC input.
pub const RBAC_KINDS: &[&str] = &["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"];

fn strs(n: Option<&Node>) -> Vec<String> {
    n.and_then(Node::as_seq)
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The PSP grant of a ClusterRole or Role, if any.
pub fn role_grant(role: &Object) -> Option<PspGrant> {
    let mut names = BTreeSet::new();
    let mut all = false;
    for rule in role.node.get("rules").and_then(Node::as_seq).unwrap_or(&[]) {
        let groups = strs(rule.get("apiGroups"));
        let resources = strs(rule.get("resources"));
        let verbs = strs(rule.get("verbs"));
        let group_ok = groups
            .iter()
            .any(|g| g == "policy" || g == "extensions" || g == "*");
        let res_ok = resources
            .iter()
            .any(|r| r == "podsecuritypolicies" || r == "*");
        let verb_ok = verbs.iter().any(|v| v == "use" || v == "*");
        if !(group_ok && res_ok && verb_ok) {
            continue;
        }
        let rn = strs(rule.get("resourceNames"));
        if rn.is_empty() {
            all = true;
        } else {
            names.extend(rn);
        }
    }
    if all {
        Some(PspGrant::All)
    } else if names.is_empty() {
        None
    } else {
        Some(PspGrant::Names(names))
    }
}

/// Every `use` grant of a PSP that the bindings in `objects` make, in input order. `None` when
/// the input holds no RBAC object at all (then nothing is known about who may use what).
pub fn grants(objects: &[Object]) -> Option<Vec<Grant>> {
    if !objects
        .iter()
        .any(|o| RBAC_KINDS.contains(&o.kind.as_str()))
    {
        return None;
    }
    let mut cluster_roles = BTreeMap::new();
    let mut roles = BTreeMap::new();
    for o in objects {
        match o.kind.as_str() {
            "ClusterRole" => {
                if let Some(g) = role_grant(o) {
                    cluster_roles.insert(o.name.clone(), g);
                }
            }
            "Role" => {
                if let Some(g) = role_grant(o) {
                    roles.insert((o.namespace.clone().unwrap_or_default(), o.name.clone()), g);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for b in objects {
        let cluster = match b.kind.as_str() {
            "ClusterRoleBinding" => true,
            "RoleBinding" => false,
            _ => continue,
        };
        let Some(role_ref) = b.node.get("roleRef") else {
            continue;
        };
        let rkind = role_ref.get("kind").and_then(Node::as_str).unwrap_or("");
        let rname = role_ref.get("name").and_then(Node::as_str).unwrap_or("");
        let bns = b.namespace.clone().unwrap_or_default();
        let grant = match rkind {
            "ClusterRole" => cluster_roles.get(rname),
            "Role" if !cluster => roles.get(&(bns.clone(), rname.to_string())),
            _ => None,
        };
        let Some(grant) = grant else { continue };
        let binding = if cluster {
            format!("ClusterRoleBinding/{}", b.name)
        } else {
            format!("RoleBinding/{bns}/{}", b.name)
        };
        for s in b.node.get("subjects").and_then(Node::as_seq).unwrap_or(&[]) {
            let kind = s.get("kind").and_then(Node::as_str).unwrap_or("");
            let name = s
                .get("name")
                .and_then(Node::as_str)
                .unwrap_or("")
                .to_string();
            let subject = match kind {
                "ServiceAccount" => {
                    // A RoleBinding's service-account subject defaults to the binding's
                    // namespace.
                    let ns = s
                        .get("namespace")
                        .and_then(Node::as_str)
                        .map(str::to_string)
                        .or_else(|| (!cluster).then(|| bns.clone()))
                        .unwrap_or_default();
                    Subject::ServiceAccount {
                        namespace: ns,
                        name,
                    }
                }
                "Group" => Subject::Group(name),
                "User" => Subject::User(name),
                _ => continue,
            };
            out.push(Grant {
                psps: grant.clone(),
                binding: binding.clone(),
                namespace: (!cluster).then(|| bns.clone()),
                subject,
            });
        }
    }
    Some(out)
}

/// The facts the scoping pass and the labels backend need: RBAC grants, the namespaces the input
/// names (with their `pod-security.kubernetes.io/*` labels), and the pods and workloads given.
pub fn cluster_facts(objects: &[Object]) -> ClusterFacts {
    let mut facts = ClusterFacts {
        grants: grants(objects),
        ..ClusterFacts::default()
    };
    for o in objects {
        if o.kind == "Namespace" {
            let labels = o
                .node
                .path(&["metadata", "labels"])
                .and_then(|l| l.as_map())
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| k.starts_with("pod-security.kubernetes.io/"))
                        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            facts.namespaces.insert(o.name.clone(), labels);
        } else if let Some(ns) = &o.namespace {
            if matches!(o.kind.as_str(), "RoleBinding" | "ServiceAccount" | "Role") {
                facts.namespaces.entry(ns.clone()).or_default();
            }
        }
        if let Some(Ok(found)) = crate::pod::pod_of(o) {
            let ns = o.namespace.clone().unwrap_or_else(|| "default".into());
            facts.namespaces.entry(ns.clone()).or_default();
            let resource = if o.kind == "Pod" {
                "pods".to_string()
            } else {
                format!("{}s", o.kind.to_lowercase())
            };
            facts.workloads.push(crate::pod::Workload {
                namespace: ns,
                location: o.short_location(),
                what: format!("{resource} \"{}\"", o.name),
                found,
            });
        }
    }
    facts
}

//! RBAC → which PodSecurityPolicies each namespace's pods may use.
//!
//! PSP admission lets a pod use a PSP when the pod's service account, or the user creating the
//! pod, may `use` it: a ClusterRole or Role rule with verb `use` (or `*`) on resource
//! `podsecuritypolicies` (or `*`) in API group `policy`, `extensions` (or `*`), for the PSP's
//! name (`resourceNames`) or for all. A ClusterRoleBinding grants it in every namespace, a
//! RoleBinding only for pods in its own namespace. Subjects: service accounts, the groups
//! `system:serviceaccounts:<ns>`, `system:serviceaccounts` and `system:authenticated`, and other
//! users and groups (who may create pods directly). The `system:masters` group (cluster admins)
//! is not counted: it may use everything, everywhere, by design.

use crate::load::{Node, Object};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Which PSPs a role lets its subjects use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    All,
    Names(BTreeSet<String>),
}

/// Why a namespace may use a PSP.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Reason {
    /// `ClusterRoleBinding/default:restricted` or `RoleBinding/kube-system/default:privileged`.
    pub binding: String,
    /// `Group/system:authenticated`, `ServiceAccount/ns/name`, `User/alice`.
    pub subject: String,
}

/// The PSPs usable in one namespace, with the bindings that grant each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub psps: BTreeMap<String, BTreeSet<Reason>>,
}

/// The namespace key for grants that apply in every namespace.
pub const ALL_NAMESPACES: &str = "*";

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
pub fn role_grant(role: &Object) -> Option<Grant> {
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
        Some(Grant::All)
    } else if names.is_empty() {
        None
    } else {
        Some(Grant::Names(names))
    }
}

/// The namespaces a subject's pods can run in: `Some(ns)` for one, `None` for every namespace.
fn subject_scope(kind: &str, name: &str, ns: Option<&str>) -> Option<Option<String>> {
    match kind {
        "ServiceAccount" => Some(ns.map(str::to_string)),
        "Group" => {
            if let Some(n) = name.strip_prefix("system:serviceaccounts:") {
                Some(Some(n.to_string()))
            } else {
                // system:serviceaccounts, system:authenticated, and any other group or user can
                // create pods wherever they are allowed to: the binding decides.
                Some(None)
            }
        }
        "User" => Some(None),
        _ => None,
    }
}

/// Which PSPs each namespace may use. The key [`ALL_NAMESPACES`] holds grants that apply in
/// every namespace (cluster-wide bindings to groups, users and all service accounts).
pub fn usable_psps(objects: &[Object], psp_names: &[String]) -> BTreeMap<String, Usage> {
    let mut cluster_roles: BTreeMap<String, Grant> = BTreeMap::new();
    let mut roles: BTreeMap<(String, String), Grant> = BTreeMap::new();
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
    let known: BTreeSet<&String> = psp_names.iter().collect();
    let mut out: BTreeMap<String, Usage> = BTreeMap::new();
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
        let binding = format!(
            "{}/{}{}",
            b.kind,
            if cluster {
                String::new()
            } else {
                format!("{bns}/")
            },
            b.name
        );
        for s in b.node.get("subjects").and_then(Node::as_seq).unwrap_or(&[]) {
            let kind = s.get("kind").and_then(Node::as_str).unwrap_or("");
            let name = s.get("name").and_then(Node::as_str).unwrap_or("");
            let sns = s.get("namespace").and_then(Node::as_str).or(if cluster {
                None
            } else {
                Some(bns.as_str())
            });
            // Cluster admins (`cluster-admin` is bound to `system:masters` in every cluster) may
            // use every PSP everywhere; counting them would make every namespace privileged.
            // Their pods are the exception PSA exemptions (usernames) are for.
            if kind == "Group" && name == "system:masters" {
                continue;
            }
            let Some(scope) = subject_scope(kind, name, sns) else {
                continue;
            };
            let subject = match kind {
                "ServiceAccount" => format!("ServiceAccount/{}/{name}", sns.unwrap_or("")),
                _ => format!("{kind}/{name}"),
            };
            // A RoleBinding only grants for pods in its own namespace.
            let ns = if cluster {
                scope.unwrap_or_else(|| ALL_NAMESPACES.to_string())
            } else {
                match scope {
                    Some(n) if n != bns => continue,
                    _ => bns.clone(),
                }
            };
            let usage = out.entry(ns).or_default();
            let granted: Vec<&String> = match grant {
                Grant::All => psp_names.iter().collect(),
                Grant::Names(names) => names.iter().filter(|n| known.contains(n)).collect(),
            };
            for psp in granted {
                usage.psps.entry(psp.clone()).or_default().insert(Reason {
                    binding: binding.clone(),
                    subject: subject.clone(),
                });
            }
        }
    }
    out
}

/// The PSPs usable in `namespace`: its own grants plus those that apply everywhere.
pub fn usable_in(all: &BTreeMap<String, Usage>, namespace: &str) -> Usage {
    let mut u = all.get(namespace).cloned().unwrap_or_default();
    if let Some(everywhere) = all.get(ALL_NAMESPACES) {
        for (p, reasons) in &everywhere.psps {
            u.psps
                .entry(p.clone())
                .or_default()
                .extend(reasons.iter().cloned());
        }
    }
    u
}

/// Where a PSP's replacement should apply, for backends that scope their rules by namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceScope {
    /// No RBAC in the input, or RBAC grants `use` of the PSP in every namespace.
    Cluster,
    /// Only these namespaces (sorted; empty: no RBAC in the input grants `use` of the PSP).
    Only(Vec<String>),
}

/// The kinds that make up RBAC input.
pub const RBAC_KINDS: &[&str] = &["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"];

/// Which namespaces may use the PSP `psp`, from the RBAC objects in `objects`
/// ([`NamespaceScope::Cluster`] when the input holds no RBAC at all).
pub fn psp_scope(objects: &[Object], psp: &str) -> NamespaceScope {
    if !objects
        .iter()
        .any(|o| RBAC_KINDS.contains(&o.kind.as_str()))
    {
        return NamespaceScope::Cluster;
    }
    let usage = usable_psps(objects, &[psp.to_string()]);
    if usage
        .get(ALL_NAMESPACES)
        .is_some_and(|u| u.psps.contains_key(psp))
    {
        return NamespaceScope::Cluster;
    }
    NamespaceScope::Only(
        usage
            .iter()
            .filter(|(ns, u)| ns.as_str() != ALL_NAMESPACES && u.psps.contains_key(psp))
            .map(|(ns, _)| ns.clone())
            .collect(),
    )
}

//! The scoping pass: which PodSecurityPolicies apply in which namespace, decided once for every
//! backend.
//!
//! PSP admission admitted a pod when **any** PSP usable by it admitted it: the pod's service
//! account (or the user creating it) needed `use` on the PSP ([`crate::front::rbac`] reads the
//! grants). Admission engines (Gatekeeper, Kyverno, ValidatingAdmissionPolicy) require **every**
//! matching policy instead, so each backend must know, namespace by namespace, which PSPs are
//! usable there. This module groups namespaces by the set of PSPs usable in them ([`Group`]),
//! says which PSP decides in each group ([`Scope::plan`]: the one that admits everything the
//! others admit, or all of them together when none does), and reports the grants a namespace
//! selector cannot express ([`Note`]) so that every backend prints them the same way.
//!
//! Without RBAC in the input nothing is known about who may use what: every PSP is translated
//! on its own and applies in every namespace ([`Scope::unscoped`]).

use crate::front::rbac::{ClusterFacts, Grant, PspGrant, Subject};
use crate::ir::{Origin, Policy};
use crate::pod::Workload;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A set of namespaces, as a namespace selector expresses it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Namespaces {
    /// These namespaces (sorted, deduplicated).
    Only(Vec<String>),
    /// Every namespace except these (sorted, deduplicated).
    AllExcept(Vec<String>),
}

impl Namespaces {
    /// Every namespace.
    pub fn all() -> Self {
        Namespaces::AllExcept(vec![])
    }

    /// Whether `ns` is in the set.
    pub fn contains(&self, ns: &str) -> bool {
        match self {
            Namespaces::Only(v) => v.iter().any(|n| n == ns),
            Namespaces::AllExcept(v) => !v.iter().any(|n| n == ns),
        }
    }

    /// `namespace a`, `namespaces a, b`, `every namespace`, `every namespace except a`.
    pub fn describe(&self) -> String {
        match self {
            Namespaces::Only(v) if v.len() == 1 => format!("namespace {}", v[0]),
            Namespaces::Only(v) => format!("namespaces {}", v.join(", ")),
            Namespaces::AllExcept(v) if v.is_empty() => "every namespace".into(),
            Namespaces::AllExcept(v) => format!("every namespace except {}", v.join(", ")),
        }
    }

    /// The union of two sets.
    pub fn union(&self, other: &Namespaces) -> Namespaces {
        use Namespaces::*;
        match (self, other) {
            (Only(a), Only(b)) => Only(sorted(a.iter().chain(b).cloned())),
            (AllExcept(a), AllExcept(b)) => {
                AllExcept(sorted(a.iter().filter(|n| b.contains(n)).cloned()))
            }
            (Only(a), AllExcept(b)) | (AllExcept(b), Only(a)) => {
                AllExcept(sorted(b.iter().filter(|n| !a.contains(n)).cloned()))
            }
        }
    }
}

fn sorted(it: impl Iterator<Item = String>) -> Vec<String> {
    let s: BTreeSet<String> = it.collect();
    s.into_iter().collect()
}

/// Namespaces that share one set of usable PSPs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub namespaces: Namespaces,
    /// The PSPs usable there (by name), each with the grants that make it usable
    /// (`RoleBinding/ns/name (Group/system:serviceaccounts:ns)`).
    pub psps: BTreeMap<String, Vec<String>>,
}

/// Something about RBAC that namespaces alone cannot express. Every backend reports each note the
/// same way (a fidelity entry with field `rbac`), so `--strict` fails on it everywhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Note {
    /// Where: `namespace kube-system`, `every namespace`.
    pub place: String,
    pub text: String,
    /// The PSP the note is about, if it is about one (a file of that PSP's output repeats it).
    pub psp: Option<String>,
}

/// Who decides in one group of namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decides {
    /// No PSP is usable there.
    Nobody,
    /// This PSP admits everything every other PSP usable there admits: its policy alone decides.
    One(String),
    /// No usable PSP admits everything the others do: a pod is admitted when any of them admits
    /// it (sorted by name).
    AnyOf(Vec<String>),
}

/// Where one policy's own constraints apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub namespaces: Namespaces,
    /// Why, for an annotation: the grants, or "no RBAC in the input".
    pub why: String,
}

/// What a backend does with the scope: its [`Scope::plan`].
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Each policy's own constraints and where they apply (policies absent here apply nowhere).
    pub placements: BTreeMap<String, Placement>,
    /// Groups where any of several PSPs may admit a pod, for engines that can express "any of"
    /// in one policy (with [`Union::AnyOf`]).
    pub any_of: Vec<(Namespaces, Vec<String>)>,
    /// Policies with no placement, and why.
    pub skipped: Vec<(String, String)>,
    /// Groups where several PSPs are usable, none admits all the others do, and the engine
    /// requires every policy ([`Union::AllMustPass`]): each PSP's constraints apply there, so the
    /// output is stricter than PSP was.
    pub stricter: Vec<(Namespaces, Vec<String>)>,
}

/// How an engine combines the policies that match a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Union {
    /// Every matching policy must admit the pod (Gatekeeper, Kyverno ClusterPolicy).
    AllMustPass,
    /// The backend can write one policy that admits a pod when any of several PSPs does (CEL).
    AnyOf,
}

/// The result of the scoping pass.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Whether the input held RBAC. Without it every policy applies in every namespace, on its
    /// own.
    pub from_rbac: bool,
    /// Namespace groups, namespaces named by a grant first (sorted), then every other namespace.
    pub groups: Vec<Group>,
    /// What namespaces cannot express (see [`Note`]).
    pub notes: Vec<Note>,
    /// PSPs no grant lets anyone use, with why.
    pub unused: Vec<(String, String)>,
    /// Namespaces the input names, with their `pod-security.kubernetes.io/*` labels.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// Pods and workloads given as input.
    pub workloads: Vec<Workload>,
}

/// How a grant reaches pods.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Reach {
    /// Every pod in the namespace(s).
    AllPods,
    /// Only pods running as this service account: applied to the whole namespace.
    ServiceAccount(String),
    /// Only pods this user or group creates directly: not applied.
    Creator(String),
}

impl Scope {
    /// The scope when the input holds no RBAC: each policy applies everywhere, on its own.
    pub fn unscoped(policies: &[Policy]) -> Scope {
        Scope {
            from_rbac: false,
            groups: vec![Group {
                namespaces: Namespaces::all(),
                psps: policies.iter().map(|p| (p.name.clone(), vec![])).collect(),
            }],
            ..Scope::default()
        }
    }

    /// The scoping pass over the facts the front end read.
    pub fn compute(policies: &[Policy], facts: ClusterFacts) -> Scope {
        let Some(grants) = &facts.grants else {
            return Scope {
                namespaces: facts.namespaces,
                workloads: facts.workloads,
                ..Scope::unscoped(policies)
            };
        };
        let psps: Vec<&str> = policies
            .iter()
            .filter(|p| matches!(p.origin, Origin::Psp { .. }))
            .map(|p| p.name.as_str())
            .collect();
        // Levels (`polytrans pss`) are not granted by RBAC: they apply everywhere.
        let levels: Vec<&str> = policies
            .iter()
            .filter(|p| !matches!(p.origin, Origin::Psp { .. }))
            .map(|p| p.name.as_str())
            .collect();
        // place (None: every namespace) → psp → grants (reason, reach)
        type Grants = BTreeMap<String, BTreeSet<(String, Reach)>>;
        let mut by_place: BTreeMap<Option<String>, Grants> = BTreeMap::new();
        for g in grants {
            let Some((place, reach)) = reach_of(g) else {
                continue;
            };
            let granted: Vec<&str> = match &g.psps {
                PspGrant::All => psps.clone(),
                PspGrant::Names(n) => psps.iter().copied().filter(|p| n.contains(*p)).collect(),
            };
            for psp in granted {
                by_place
                    .entry(place.clone())
                    .or_default()
                    .entry(psp.to_string())
                    .or_default()
                    .insert((format!("{} ({})", g.binding, g.subject), reach.clone()));
            }
        }
        let mut notes = BTreeSet::new();
        // What applies in a place: grants that reach all pods or a service account's pods.
        let applied = |place: &Option<String>, grants: &Grants, notes: &mut BTreeSet<Note>| {
            let where_ = match place {
                Some(ns) => format!("namespace {ns}"),
                None => "every namespace".to_string(),
            };
            let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (psp, gs) in grants {
                let all_pods = gs.iter().any(|(_, r)| *r == Reach::AllPods);
                let accounts: Vec<&str> = gs
                    .iter()
                    .filter_map(|(_, r)| match r {
                        Reach::ServiceAccount(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect();
                let creators: Vec<&str> = gs
                    .iter()
                    .filter_map(|(_, r)| match r {
                        Reach::Creator(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect();
                if !all_pods && !accounts.is_empty() {
                    notes.insert(Note {
                        place: where_.clone(),
                        text: format!(
                            "PSP `{psp}` is usable there only by pods running as {}; a namespace selector cannot express that, so it applies to every pod there",
                            accounts.join(", ")
                        ),
                        psp: Some(psp.clone()),
                    });
                }
                if !all_pods && accounts.is_empty() {
                    notes.insert(Note {
                        place: where_.clone(),
                        text: format!(
                            "PSP `{psp}` is usable there only by pods that {} create(s) directly; a namespace selector cannot express that, so it is not applied (exempt that creator in the engine if it creates pods directly)",
                            creators.join(", ")
                        ),
                        psp: Some(psp.clone()),
                    });
                    continue;
                }
                out.insert(
                    psp.clone(),
                    gs.iter()
                        .filter(|(_, r)| !matches!(r, Reach::Creator(_)))
                        .map(|(why, _)| why.clone())
                        .collect(),
                );
            }
            out
        };
        let everywhere = applied(
            &None,
            &by_place.get(&None).cloned().unwrap_or_default(),
            &mut notes,
        );
        // Each named namespace: its own grants plus the cluster-wide ones.
        let mut per_ns: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        for (place, grants) in &by_place {
            let Some(ns) = place else { continue };
            let mut usable = everywhere.clone();
            for (psp, why) in applied(place, grants, &mut notes) {
                let e = usable.entry(psp).or_default();
                e.extend(why);
                e.sort();
                e.dedup();
            }
            per_ns.insert(ns.clone(), usable);
        }
        let with_levels = |mut m: BTreeMap<String, Vec<String>>| {
            for l in &levels {
                m.insert(l.to_string(), vec![]);
            }
            m
        };
        // Group namespaces whose usable set differs from the cluster-wide one.
        let key = |m: &BTreeMap<String, Vec<String>>| m.keys().cloned().collect::<Vec<_>>();
        let everywhere_key = key(&everywhere);
        // usable PSP names → (namespaces, usable PSPs with their grants)
        type Usable = BTreeMap<String, Vec<String>>;
        let mut groups: BTreeMap<Vec<String>, (Vec<String>, Usable)> = BTreeMap::new();
        let mut listed = Vec::new();
        for (ns, usable) in per_ns {
            let k = key(&usable);
            if k == everywhere_key {
                continue;
            }
            listed.push(ns.clone());
            let g = groups.entry(k).or_insert_with(|| (vec![], BTreeMap::new()));
            g.0.push(ns);
            for (psp, why) in usable {
                g.1.entry(psp).or_default().extend(why);
            }
        }
        let mut out: Vec<Group> = groups
            .into_values()
            .map(|(nss, mut psps)| {
                for why in psps.values_mut() {
                    why.sort();
                    why.dedup();
                }
                Group {
                    namespaces: Namespaces::Only(nss),
                    psps: with_levels(psps),
                }
            })
            .collect();
        out.sort_by(|a, b| a.namespaces.cmp(&b.namespaces));
        listed.sort();
        out.push(Group {
            namespaces: Namespaces::AllExcept(listed),
            psps: with_levels(everywhere),
        });
        for g in &out {
            if g.psps.is_empty() {
                notes.insert(Note {
                    place: g.namespaces.describe(),
                    text: "no PSP is usable there, so PSP admission rejected every pod; no policy is generated for that (restrict pod creation there another way, e.g. PSA `restricted`)".into(),
                    psp: None,
                });
            }
        }
        let unused = psps
            .iter()
            .filter(|p| !out.iter().any(|g| g.psps.contains_key(**p)))
            .map(|p| {
                let granted = by_place.values().any(|g| g.contains_key(*p));
                (
                    p.to_string(),
                    if granted {
                        "only users and groups that create pods directly may use it".to_string()
                    } else {
                        "no RBAC binding lets a service account or user use it".to_string()
                    },
                )
            })
            .collect();
        Scope {
            from_rbac: true,
            groups: out,
            notes: notes.into_iter().collect(),
            unused,
            namespaces: facts.namespaces,
            workloads: facts.workloads,
        }
    }

    /// The group `ns` belongs to.
    pub fn group_of(&self, ns: &str) -> &Group {
        self.groups
            .iter()
            .find(|g| g.namespaces.contains(ns))
            .expect("the last group holds every other namespace")
    }

    /// Who decides in each group (see [`Decides`]); `covers(a, b)`: whether policy `a` admits
    /// every pod `b` admits.
    pub fn decides(&self, policies: &[Policy]) -> Vec<(&Group, Decides)> {
        let by_name: BTreeMap<&str, &Policy> =
            policies.iter().map(|p| (p.name.as_str(), p)).collect();
        self.groups
            .iter()
            .map(|g| {
                let usable: Vec<&str> = g
                    .psps
                    .keys()
                    .map(String::as_str)
                    .filter(|n| by_name.contains_key(n))
                    .collect();
                let d = if usable.is_empty() {
                    Decides::Nobody
                } else if let Some(one) = usable.iter().find(|a| {
                    usable.iter().all(|b| {
                        a == &b || crate::compare::policy_covers(by_name[**a], by_name[*b])
                    })
                }) {
                    Decides::One(one.to_string())
                } else {
                    // Only the PSPs no other usable one covers matter for the union (of two that
                    // cover each other, the first by name stays).
                    let covers =
                        |a: &str, b: &str| crate::compare::policy_covers(by_name[a], by_name[b]);
                    let maximal = usable
                        .iter()
                        .enumerate()
                        .filter(|(i, a)| {
                            !usable
                                .iter()
                                .enumerate()
                                .any(|(j, b)| j != *i && covers(b, a) && (!covers(a, b) || j < *i))
                        })
                        .map(|(_, a)| a.to_string())
                        .collect();
                    Decides::AnyOf(maximal)
                };
                (g, d)
            })
            .collect()
    }

    /// Where each policy applies for an engine that combines policies as `union` says.
    pub fn plan(&self, policies: &[Policy], union: Union) -> Plan {
        let mut plan = Plan::default();
        if !self.from_rbac {
            for p in policies {
                plan.placements.insert(
                    p.name.clone(),
                    Placement {
                        namespaces: Namespaces::all(),
                        why: "cluster-wide: the input holds no RBAC, so every namespace is matched (PSP applied to every pod whose creator or service account could `use` it)".into(),
                    },
                );
            }
            return plan;
        }
        let mut at: BTreeMap<String, Namespaces> = BTreeMap::new();
        let mut add = |psp: &str, ns: &Namespaces| {
            let n = at
                .get(psp)
                .map_or_else(|| ns.clone(), |prev| prev.union(ns));
            at.insert(psp.to_string(), n);
        };
        for (g, d) in self.decides(policies) {
            match d {
                Decides::Nobody => {}
                Decides::One(p) => add(&p, &g.namespaces),
                Decides::AnyOf(ps) => match union {
                    Union::AnyOf => plan.any_of.push((g.namespaces.clone(), ps)),
                    Union::AllMustPass => {
                        for p in &ps {
                            add(p, &g.namespaces);
                        }
                        plan.stricter.push((g.namespaces.clone(), ps));
                    }
                },
            }
        }
        for p in policies {
            match at.remove(&p.name) {
                Some(namespaces) => {
                    let why = self.why(&p.name, &namespaces);
                    plan.placements
                        .insert(p.name.clone(), Placement { namespaces, why });
                }
                None => {
                    let why = self
                        .unused
                        .iter()
                        .find(|(n, _)| *n == p.name)
                        .map(|(_, w)| w.clone())
                        .unwrap_or_else(|| {
                            "wherever it is usable, another usable PSP admits everything it admits"
                                .into()
                        });
                    plan.skipped.push((p.name.clone(), why));
                }
            }
        }
        plan
    }

    /// The grants behind a placement, for an annotation.
    fn why(&self, psp: &str, at: &Namespaces) -> String {
        let mut grants = BTreeSet::new();
        for g in &self.groups {
            let overlaps = match (&g.namespaces, at) {
                (Namespaces::Only(v), _) => v.iter().any(|n| at.contains(n)),
                (Namespaces::AllExcept(_), Namespaces::AllExcept(_)) => true,
                (Namespaces::AllExcept(_), Namespaces::Only(_)) => false,
            };
            if overlaps {
                grants.extend(g.psps.get(psp).into_iter().flatten().cloned());
            }
        }
        let mut why = format!("rbac: applies in {}", at.describe());
        if !grants.is_empty() {
            why.push_str("; granted by ");
            why.push_str(&grants.into_iter().collect::<Vec<_>>().join(", "));
        }
        why.replace(['\n', '\r'], " ")
    }
}

/// Where a grant applies and which pods it reaches; `None` when it reaches no pod.
fn reach_of(g: &Grant) -> Option<(Option<String>, Reach)> {
    let bound = g.namespace.clone();
    match &g.subject {
        Subject::ServiceAccount { namespace, name } => {
            // A pod runs as a service account of its own namespace; a RoleBinding grants only
            // in its namespace.
            if bound.as_ref().is_some_and(|b| b != namespace) {
                return None;
            }
            Some((
                Some(namespace.clone()),
                Reach::ServiceAccount(format!("ServiceAccount/{namespace}/{name}")),
            ))
        }
        // Cluster admins may use every PSP everywhere by design; counting them would make every
        // namespace privileged. Their pods are what PSA's username exemptions are for.
        Subject::Group(g) if g == "system:masters" => None,
        Subject::Group(g) if g.starts_with("system:serviceaccounts:") => {
            let ns = g.trim_start_matches("system:serviceaccounts:").to_string();
            if bound.as_ref().is_some_and(|b| *b != ns) {
                return None;
            }
            Some((Some(ns), Reach::AllPods))
        }
        Subject::Group(g) if g == "system:serviceaccounts" || g == "system:authenticated" => {
            Some((bound, Reach::AllPods))
        }
        other => Some((bound, Reach::Creator(other.to_string()))),
    }
}

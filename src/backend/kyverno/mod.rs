//! `--to kyverno`: one Kyverno `ClusterPolicy` (kyverno.io/v1) per PSP or level (issue #11).
//!
//! Defaulting constraints become `mutate` rules (`patchStrategicMerge` with `+()` anchors on the
//! pod; where PSP defaulted containers, a `foreach` over every container list whose entries
//! patch one container by name, guarded by a per-element precondition that the field is unset:
//! an anchor in a list element would be decided on the first container for all of them).
//! Validating constraints
//! become either
//! - Kyverno's `podSecurity` subrule (a PSS level at a pinned version, with `exclude` entries for
//!   the checks the source relaxes), when the source is exactly such a level (`--kyverno-style
//!   auto`, the default, or `pod-security`), or
//! - one `validate` rule per PSP field, named `psp-<name>-<field>` (`--kyverno-style rules`, or
//!   `auto` when the PSP is not a level with expressible exclusions).
//!
//! Where the input holds RBAC, each policy matches the namespaces whose pods may use the PSP
//! (from the scoping pass, [`crate::scope`]); otherwise it is cluster-wide and says so in the
//! `polytrans.dev/scope` annotation. Strings from the input are escaped for Kyverno's variable
//! substitution (`{{` → `\{{`, `$(` → `\$(`) here, and for YAML by the template's `to_yaml`
//! filter. Each policy is computed as a typed view ([`view::PolicyView`]: metadata, rules,
//! conditions, validations, mutations) and laid out by `templates/kyverno/clusterpolicy.yaml.j2`,
//! so `--templates DIR` can reshape it.

use super::{Emitted, Fidelity, FidelityEntry, Input, OutputFile, fidelity_comment, k8s_name};
use crate::ir::{
    Constraint, DefaultAction, Exemption, GroupField, HostNamespace, IdRange, Level, NameSet,
    Origin, Policy, ProfileSource, Rule, Scope,
};
use crate::k8s::CheckId;
use crate::pss::{Exception, Version};
use serde_json::{Map, Value, json};

mod mutate;
mod pod_security;
mod validate;
pub mod view;

use mutate::*;
use pod_security::*;
pub use pod_security::{PodSecurityPlan, plan_pod_security};
use validate::*;
use view::*;

/// How validating rules are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Style {
    /// `podSecurity` when the source is a PSS level, or a level with exclusions Kyverno's
    /// `exclude` can express; rules otherwise.
    #[default]
    Auto,
    /// One validate rule per PSP field (per check for levels).
    Rules,
    /// Kyverno's `podSecurity` subrule; for a PSP that is not exactly a level, the most
    /// restrictive level admitting every pod it admits, with the controls PSP cannot express
    /// excluded (approximated).
    PodSecurity,
}

impl Style {
    /// The names `--kyverno-style` takes.
    pub const NAMES: &[&str] = &["auto", "rules", "pod-security"];

    /// Parses one of [`Style::NAMES`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Style::Auto),
            "rules" => Some(Style::Rules),
            "pod-security" => Some(Style::PodSecurity),
            _ => None,
        }
    }
}

/// Whether `--to kyverno` can target Kyverno `version`.
fn check_version(version: super::KyvernoVersion) -> Result<(), crate::Error> {
    use super::KyvernoVersion as V;
    if version < V::RULE_FAILURE_ACTION {
        return Err(crate::Error::Usage(format!(
            "--kyverno-version {version}: the ClusterPolicy output sets `failureAction` on each validate rule, which Kyverno reads from {} on\nhelp: upgrade Kyverno to {} or later (1.{} and older are out of support)",
            V::RULE_FAILURE_ACTION,
            V::RULE_FAILURE_ACTION,
            V::RULE_FAILURE_ACTION.minor - 1
        )));
    }
    if version >= V::CLUSTER_POLICY_REMOVED {
        return Err(crate::Error::Usage(format!(
            "--kyverno-version {version}: Kyverno plans to refuse creating or updating ClusterPolicy from {} on (deprecated since {})\nhelp: use `--to kyverno-cel` (Kyverno ValidatingPolicy, the replacement), or pass --kyverno-version {}",
            V::CLUSTER_POLICY_REMOVED,
            V::CLUSTER_POLICY_DEPRECATED,
            V::NEWEST
        )));
    }
    Ok(())
}

/// The header lines about the targeted Kyverno release.
fn version_notes(version: super::KyvernoVersion) -> Vec<String> {
    use super::KyvernoVersion as V;
    let mut out = vec![format!("# For Kyverno {version} (--kyverno-version).")];
    if version >= V::CLUSTER_POLICY_DEPRECATED {
        out.push(format!(
            "# ClusterPolicy is deprecated since Kyverno {} and Kyverno plans to refuse it from {}:\n# `--to kyverno-cel` emits its replacement (ValidatingPolicy).",
            V::CLUSTER_POLICY_DEPRECATED,
            V::CLUSTER_POLICY_REMOVED
        ));
    }
    out
}

/// Options of this backend.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// How validating rules are written.
    pub style: Style,
    /// What a failing rule does: `failureAction` of every validate rule; `warn` audits and
    /// sends the client a warning (`emitWarning`).
    pub mode: super::Mode,
    /// Also scan existing resources (`spec.background: true`).
    pub background: bool,
    /// Do not generate rules for pod controllers (`pod-policies.kyverno.io/autogen-controllers:
    /// none`).
    pub no_autogen: bool,
    /// The Kyverno release the output is for (1.13 to 1.19; from 1.17 on the header says that
    /// `ClusterPolicy` is deprecated).
    pub version: super::KyvernoVersion,
}

/// Golden files of this backend (see [`super::golden_files`]). The style variants are checked
/// only in the cases that hold them.
pub const GOLDEN_FILES: &[(&str, &[&str])] = &[
    ("kyverno.yaml", &["--to", "kyverno"]),
    (
        "kyverno-rules.yaml",
        &["--to", "kyverno", "--kyverno-style", "rules"],
    ),
    (
        "kyverno-pod-security.yaml",
        &["--to", "kyverno", "--kyverno-style", "pod-security"],
    ),
];

/// The oldest and newest `podSecurity.version` the ClusterPolicy schema accepts (`v1.19` …
/// `v1.32`, besides `latest`, which moves with Kyverno and is never written).
pub const KYVERNO_MIN_MINOR: u32 = 19;
pub const KYVERNO_MAX_MINOR: u32 = 32;

/// The pod controllers Kyverno's autogen extends Pod rules to.
const AUTOGEN_CONTROLLERS: &str =
    "DaemonSet,Deployment,Job,StatefulSet,ReplicaSet,ReplicationController,CronJob";

/// The container lists of a pod spec, in Kyverno's usual order.
const CONTAINER_LISTS: [&str; 3] = ["ephemeralContainers", "initContainers", "containers"];
/// JMESPath over every container.
const ALL_CONTAINERS: &str =
    "request.object.spec.[ephemeralContainers, initContainers, containers][]";

/// Escapes a string from the input for Kyverno's variable substitution: `{{` and `$(` would
/// otherwise start a variable or a reference.
pub fn escape(s: &str) -> String {
    s.replace("{{", "\\{{").replace("$(", "\\$(")
}

fn escape_all(v: &[String]) -> Vec<String> {
    v.iter().map(|s| escape(s)).collect()
}

/// Whether a string can be written inside a JMESPath raw-string literal of a generated
/// expression without any escaping (the expression itself is not escaped).
fn jmes_safe(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:+@=~".contains(c))
}

/// Where one policy applies.
#[derive(Debug, Clone, Default)]
struct Where {
    /// `None`: every namespace.
    namespaces: Option<Vec<String>>,
    /// Namespaces left out (exemptions, and RBAC: where another usable PSP decides).
    excluded: Vec<String>,
    /// The `polytrans.dev/scope` annotation.
    why: String,
}

pub fn emit(input: &Input<'_>, args: &Options) -> Result<Emitted, crate::Error> {
    check_version(args.version)?;
    let env = crate::render::environment(input.common.templates.as_deref());
    let mut out = Emitted::default();
    let mut docs = String::new();
    let plan = input
        .scope
        .plan(input.policies, crate::scope::Union::AllMustPass);
    let scope_fidelity =
        super::ScopeFidelity::new(input.scope, &plan, "Kyverno requires every policy");
    out.fidelity = scope_fidelity.all();
    for p in input.policies {
        let is_psp = matches!(p.origin, Origin::Psp { .. });
        let mut place = Where {
            why: "cluster-wide: the input holds no RBAC, so every namespace is matched (PSP applied to every pod whose creator or service account could `use` it)".into(),
            ..Where::default()
        };
        if let Some((_, reason)) = plan.skipped.iter().find(|(n, _)| n == &p.name) {
            let note = format!("no ClusterPolicy generated: {}", super::single_line(reason));
            super::append_document(
                &mut docs,
                "---\n",
                &format!(
                    "# PodSecurityPolicy {}: {note}\n",
                    super::single_line(&p.name)
                ),
            );
            out.fidelity.push(FidelityEntry {
                policy: p.name.clone(),
                field: "rbac".into(),
                fidelity: Fidelity::Exact,
                note,
            });
            continue;
        }
        if let (Some(s), true) = (plan.placements.get(&p.name), input.scope.from_rbac) {
            match &s.namespaces {
                crate::scope::Namespaces::Only(v) => place.namespaces = Some(v.clone()),
                crate::scope::Namespaces::AllExcept(v) => place.excluded = v.clone(),
            }
            place.why = s.why.clone();
        }
        if !is_psp {
            place.why = "cluster-wide: a Pod Security Standards level".into();
        }
        place.excluded.extend(p.exempt_namespaces.iter().cloned());
        place.excluded.sort();
        place.excluded.dedup();
        let (policy, fidelity) = policy_for(p, input, args, &place);
        let comment = fidelity_comment(
            &[scope_fidelity.for_policy(&p.name), fidelity.clone()].concat(),
            "# ",
        );
        let fid_lines: Vec<&str> = comment.lines().collect();
        // The template receives `source` (for the header), `notes` (header comment lines on
        // the targeted Kyverno release), `fidelity` (header comment lines) and `policy` (a
        // `PolicyView`).
        let text = crate::render::render(
            &env,
            "kyverno/clusterpolicy.yaml.j2",
            minijinja::context! {
                source => source_name(p),
                notes => version_notes(args.version),
                fidelity => fid_lines,
                policy => policy,
            },
        )?;
        out.push_document(
            input,
            &mut docs,
            "---\n",
            OutputFile {
                name: format!("kyverno/{}.yaml", policy_name(p)),
                content: text,
            },
        )?;
        out.fidelity.extend(fidelity);
    }
    out.stdout = scope_fidelity.general_comment() + &docs;
    if let Some(f) = scope_fidelity.notes_file(&env, "kyverno")? {
        out.push_file(input, f)?;
    }
    Ok(out)
}

/// The source as messages name it: PodSecurityPolicy `name`.
fn source_label(p: &Policy) -> String {
    match &p.origin {
        Origin::Psp { .. } => format!("PodSecurityPolicy `{}`", super::single_line(&p.name)),
        Origin::Level { .. } => format!("Pod Security Standards `{}`", super::single_line(&p.name)),
    }
}

fn source_name(p: &Policy) -> String {
    match &p.origin {
        Origin::Psp { .. } => format!("PodSecurityPolicy {}", super::single_line(&p.name)),
        Origin::Level { .. } => format!("Pod Security Standards {}", super::single_line(&p.name)),
    }
}

/// `psp-<name>` for a PSP, `pss-<level>-<version>[-except-…]` for a level.
pub fn policy_name(p: &Policy) -> String {
    let n = match &p.origin {
        Origin::Psp { .. } => format!("psp-{}", k8s_name(&p.name)),
        Origin::Level { .. } => format!("pss-{}", k8s_name(&p.name)),
    };
    truncate_name(n)
}

fn truncate_name(mut n: String) -> String {
    // Kyverno policy and rule names are at most 63 characters.
    if n.len() > 63 {
        n.truncate(63);
        n = n.trim_end_matches('-').to_string();
    }
    n
}

/// `<prefix>-<kind>`, the prefix shortened so that the kind stays whole.
fn rule_name(prefix: &str, kind: &str) -> String {
    let room = 63usize.saturating_sub(kind.len() + 1);
    let mut p = prefix.to_string();
    if p.len() > room {
        p.truncate(room);
    }
    format!("{}-{kind}", p.trim_end_matches('-'))
}

/// The prefix of rule names: `psp-<name>` for a PSP, `pss-<level>` for a level.
fn rule_prefix(p: &Policy) -> String {
    match &p.origin {
        Origin::Psp { .. } => format!("psp-{}", k8s_name(&p.name)),
        Origin::Level { level, .. } => format!("pss-{level}"),
    }
}

fn action(args: &Options) -> &'static str {
    match args.mode {
        super::Mode::Audit | super::Mode::Warn => "Audit",
        super::Mode::Enforce => "Enforce",
    }
}

struct Fid<'a> {
    policy: &'a str,
    entries: Vec<FidelityEntry>,
}

impl Fid<'_> {
    fn push(&mut self, field: &str, f: Fidelity, note: impl Into<String>) {
        self.entries.push(FidelityEntry {
            policy: self.policy.to_string(),
            field: field.to_string(),
            fidelity: f,
            note: note.into(),
        })
    }
}

fn policy_for(
    p: &Policy,
    input: &Input<'_>,
    args: &Options,
    place: &Where,
) -> (PolicyView, Vec<FidelityEntry>) {
    let name = rule_prefix(p);
    let mut fid = Fid {
        policy: &p.name,
        entries: Vec::new(),
    };
    let mut rules = Vec::new();
    let action = action(args);
    if !p.images.is_empty() {
        fid.push(
            "metadata.annotations[falco-rules-psp-images]",
            Fidelity::Unsupported,
            "per-image scoping is not translated; the rules apply to every container",
        );
    }
    // Mutations first: Kyverno applies mutate rules before validate rules, as PSP did.
    for d in &p.defaults {
        let field = d.provenance.field.as_str();
        match mutation(&d.action) {
            Some((m, f, note)) => {
                fid.push(field, f, note);
                rules.push(RuleView {
                    name: rule_name(&name, d.action.kind_name()),
                    preconditions: mutation_preconditions(&d.action),
                    validate: None,
                    mutate: Some(m),
                });
            }
            None => fid.push(
                field,
                Fidelity::Unsupported,
                "no mutation can be written for these values",
            ),
        }
    }
    let version = match &p.origin {
        Origin::Level { version, .. } => Version::parse(version).unwrap_or_default(),
        Origin::Psp { .. } => input.common.pss_version,
    };
    let plan = match args.style {
        Style::Rules => None,
        Style::Auto => match plan_pod_security(p, version) {
            Ok(plan) => Some(plan),
            Err(why) => {
                fid.push(
                    "podSecurity",
                    Fidelity::Exact,
                    format!("validate rules, not `podSecurity`: not exactly a level with exclusions ({why})"),
                );
                None
            }
        },
        Style::PodSecurity => Some(
            plan_pod_security(p, version).unwrap_or_else(|why| safe_level_plan(p, version, &why)),
        ),
    };
    match plan {
        Some(plan) => {
            for (field, f, note) in &plan.fidelity {
                fid.push(field, *f, note.clone());
            }
            rules.push(RuleView {
                name: rule_name(&name, "pod-security"),
                preconditions: None,
                validate: Some(Validate {
                    failure_action: action,
                    message: escape(&format!(
                        "{} is replaced by the Pod Security Standards `{}` level at v1.{}{}: change the pod to meet that level",
                        source_label(p),
                        plan.level,
                        plan.minor,
                        if plan.exclude.is_empty() { "" } else { " (with the exclusions listed in the rule)" }
                    )),
                    pod_security: Some(PodSecurity {
                        level: plan.level.as_str().to_string(),
                        version: format!("v1.{}", plan.minor),
                        exclude: plan.exclude.clone(),
                    }),
                    ..Validate::default()
                }),
                mutate: None,
            });
        }
        None => {
            if !p.exempt_images.is_empty() {
                fid.push(
                    "exemptImages",
                    Fidelity::Unsupported,
                    "image exemptions are written only in `podSecurity` exclusions; these rules judge every container",
                );
            }
            for r in &p.rules {
                let field = r.provenance.field.as_str();
                if crate::compare::is_trivial(&r.constraint) {
                    fid.push(field, Fidelity::Exact, "allows every value: no rule needed");
                    continue;
                }
                match validation(r) {
                    Some((v, f, note)) => {
                        fid.push(field, f, note);
                        rules.push(RuleView {
                            name: rule_name(&name, r.constraint.kind_name()),
                            preconditions: exemption_preconditions(&r.unless),
                            validate: Some(Validate {
                                failure_action: action,
                                message: escape(&format!(
                                    "{} field `{}`: {}",
                                    source_label(p),
                                    super::single_line(field),
                                    message(&r.constraint)
                                )),
                                ..v
                            }),
                            mutate: None,
                        });
                    }
                    None => fid.push(
                        field,
                        Fidelity::Unsupported,
                        note_unsupported(&r.constraint),
                    ),
                }
            }
        }
    }
    // Rule names must be unique within a policy (two rules of one kind, e.g. from
    // `--at-least`): number the repeats.
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for r in rules.iter_mut() {
        let c = seen.entry(r.name.clone()).or_insert(0);
        *c += 1;
        if *c > 1 {
            let suffix = format!("-{c}");
            let mut base = r.name.clone();
            base.truncate(63 - suffix.len());
            r.name = format!("{}{suffix}", base.trim_end_matches('-'));
        }
    }
    let policy = PolicyView {
        name: policy_name(p),
        title: escape(&super::single_line(&source_name(p))),
        description: escape(&format!(
            "Generated by polytrans from {}.",
            super::single_line(&source_name(p))
        )),
        scope: escape(&place.why),
        autogen_controllers: if args.no_autogen {
            "none"
        } else {
            AUTOGEN_CONTROLLERS
        },
        background: args.background,
        // Audit, and tell the client (Kyverno 1.11+).
        emit_warning: args.mode == super::Mode::Warn,
        match_: MatchView {
            namespaces: place.namespaces.as_deref().map(escape_all),
            excluded_namespaces: escape_all(&place.excluded),
        },
        rules,
    };
    (policy, fid.entries)
}

/// Preconditions that skip pods a PSS rule does not apply to (Windows pods, user-namespaced
/// pods).
fn exemption_preconditions(unless: &[Exemption]) -> Option<Conditions> {
    if unless.is_empty() {
        return None;
    }
    let all = unless
        .iter()
        .map(|e| match e {
            Exemption::WindowsPod => Condition::new(
                "{{ request.object.spec.os.name || '' }}",
                "NotEquals",
                "windows",
            ),
            Exemption::UserNamespacePod => Condition::new(
                "{{ to_string(request.object.spec.hostUsers) }}",
                "NotEquals",
                "false",
            ),
        })
        .collect();
    Some(Conditions::all(all))
}

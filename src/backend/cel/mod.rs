//! `--to vap` and `--to kyverno-cel`: CEL admission policies from the IR (issue #9).
//!
//! One expression builder ([`validations`], [`variables`]) turns each validating [`Rule`] into a
//! CEL expression that is true when the pod satisfies the rule, with the same semantics as
//! [`crate::eval`] (init, regular and ephemeral containers, [`Scope`], [`Exemption`]s, absent
//! fields guarded with `has()`). Both outputs use it:
//!
//! - `vap`: `admissionregistration.k8s.io/v1` `ValidatingAdmissionPolicy` and
//!   `ValidatingAdmissionPolicyBinding` per policy;
//! - `kyverno-cel`: Kyverno `policies.kyverno.io/v1` `ValidatingPolicy` per policy.
//!
//! PSP's defaulting ([`crate::ir::Defaulting`]) is done by a mutating policy beside each
//! validating one ([`mutation`]): a `MutatingAdmissionPolicy` + binding for `vap`, a Kyverno
//! `MutatingPolicy` for `kyverno-cel`. With [`Options::no_mutation`] only the validating policies
//! are written and the defaulting is reported as approximated (pods that PSP admission would
//! have changed must now carry the values).
//!
//! Expressions only use core CEL that Kubernetes and the `cel-interpreter` crate agree on: no
//! optional syntax (`?.`), no string extension functions, `has()` on every optional field before
//! reading it, and integer literals only (pod JSON numbers are `int` in Kubernetes).

use super::{Emitted, Fidelity, FidelityEntry, Input, OutputFile, fidelity_comment, k8s_name};
use crate::ir::{Constraint, DefaultAction, Origin, Policy};
use crate::scope::{Namespaces, Union};
use serde::Serialize;

pub mod mutation;

use super::cel_expr::tree::{self, and, or, str_lit, sum};
use super::cel_expr::{Expr, var, variable_exprs};
pub use super::cel_expr::{
    Validation, Variable, cel_string, constraint_expression, rule_expression, variables,
    variables_for,
};

/// The `admissionregistration.k8s.io` version of the `MutatingAdmissionPolicy` (`--cel-api`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CelApi {
    /// `v1`: GA in Kubernetes 1.36.
    #[default]
    V1,
    /// `v1beta1`: Kubernetes 1.34 and 1.35 (feature gate `MutatingAdmissionPolicy` and
    /// `--runtime-config=admissionregistration.k8s.io/v1beta1=true`).
    V1beta1,
}

impl CelApi {
    /// The names `--cel-api` accepts.
    pub const NAMES: &'static [&'static str] = &["v1", "v1beta1"];

    pub fn parse(s: &str) -> Option<CelApi> {
        match s {
            "v1" => Some(CelApi::V1),
            "v1beta1" => Some(CelApi::V1beta1),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CelApi::V1 => "v1",
            CelApi::V1beta1 => "v1beta1",
        }
    }
}

/// Options of this backend.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// What a violation does (`validationActions`).
    pub mode: super::Mode,
    /// Also match pod controllers (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob,
    /// ReplicationController) and judge their pod templates.
    pub workloads: bool,
    /// Write only the validating policies (no `MutatingAdmissionPolicy` / `MutatingPolicy`):
    /// PSP's defaulting is then left to the pods.
    pub no_mutation: bool,
    /// The API version of the `MutatingAdmissionPolicy` and its binding.
    pub cel_api: CelApi,
    /// The Kyverno release `--to kyverno-cel` is for: picks the `ValidatingPolicy` apiVersion
    /// (`v1alpha1` in 1.14–1.15, `v1beta1` in 1.16, `v1` from 1.17).
    pub kyverno_version: super::KyvernoVersion,
}

fn action(mode: super::Mode) -> &'static str {
    match mode {
        super::Mode::Enforce => "Deny",
        super::Mode::Warn => "Warn",
        super::Mode::Audit => "Audit",
    }
}

/// Golden files of this backend (see [`super::golden_files`]).
pub const GOLDEN_FILES_VAP: &[(&str, &[&str])] = &[("vap.yaml", &["--to", "vap"])];
/// Golden files of `--to kyverno-cel`.
pub const GOLDEN_FILES_KYVERNO_CEL: &[(&str, &[&str])] =
    &[("kyverno-cel.yaml", &["--to", "kyverno-cel"])];

fn source_name(policy: &Policy) -> String {
    match &policy.origin {
        Origin::Psp { .. } => format!("PodSecurityPolicy `{}`", policy.name),
        Origin::Level { level, version } => format!("Pod Security Standards {level} {version}"),
    }
}

/// Every validation of a policy, in rule order, then one per required capability drop: PSP
/// added `requiredDropCapabilities` to every container and then checked them; a validating
/// policy cannot add them, so it requires pods to drop them themselves.
pub fn validations(policy: &Policy) -> Vec<Validation> {
    let mut out = rule_validations(policy);
    for d in &policy.defaults {
        if let DefaultAction::DropCapabilities { capabilities } = &d.action {
            let required = Constraint::DropCapabilities {
                required: capabilities.clone(),
            };
            let Some(expression) = constraint_expression(&required) else {
                continue;
            };
            let message = format!(
                "{} {}: every container must drop {}",
                source_name(policy),
                d.provenance.field,
                capabilities.join(", ")
            );
            out.push(Validation::new(
                d.action.kind_name(),
                &d.provenance.field,
                expression,
                &str_lit(&message),
            ));
        }
    }
    out
}

fn rule_validations(policy: &Policy) -> Vec<Validation> {
    policy
        .rules
        .iter()
        .filter_map(|rule| {
            let expression = rule_expression(rule)?;
            let what = rule
                .provenance
                .check
                .as_deref()
                .map(|c| format!("check {c}"))
                .unwrap_or_else(|| rule.provenance.field.clone());
            let message = format!(
                "{} {what}: pod violates {}",
                source_name(policy),
                rule.constraint.kind_name()
            );
            Some(Validation::new(
                rule.constraint.kind_name(),
                &rule.provenance.field,
                expression,
                &str_lit(&message),
            ))
        })
        .collect()
}

/// Whether a validation backs up what the defaulting set: pods that leave the value unset are
/// rejected, so "pods must now carry it themselves" holds.
fn default_checked(policy: &Policy, action: &DefaultAction) -> bool {
    let has = |f: &dyn Fn(&Constraint) -> bool| policy.rules.iter().any(|r| f(&r.constraint));
    match action {
        // Checked by the validation `validations` adds for it.
        DefaultAction::DropCapabilities { .. } => true,
        DefaultAction::AddCapabilities { .. } => false,
        // Unset already means allowed (see `default_note`).
        DefaultAction::AllowPrivilegeEscalation { value: true } => true,
        DefaultAction::AllowPrivilegeEscalation { value: false } => {
            has(&|c| matches!(c, Constraint::NoPrivilegeEscalation))
        }
        DefaultAction::ReadOnlyRootFilesystem => {
            has(&|c| matches!(c, Constraint::ReadOnlyRootFilesystem))
        }
        DefaultAction::RunAsNonRoot => has(&|c| matches!(c, Constraint::RunAsNonRoot { .. })),
        DefaultAction::RunAsUser { .. } => {
            has(&|c| matches!(c, Constraint::RunAsUser { required: true, .. }))
        }
        DefaultAction::GroupId { field, .. } => has(
            &|c| matches!(c, Constraint::GroupIds { field: f, required: true, .. } if f == field),
        ),
        DefaultAction::SeLinuxOptions { .. } => has(&|c| match c {
            Constraint::SeLinux {
                user,
                role,
                type_,
                level,
                ..
            } => ![user, role, type_, level]
                .iter()
                .all(|l| l.as_ref().is_none_or(|l| l.iter().any(String::is_empty))),
            _ => false,
        }),
        DefaultAction::SeccompProfile { .. } => has(&|c| {
            matches!(
                c,
                Constraint::Seccomp {
                    unset_allowed: false,
                    ..
                }
            )
        }),
        DefaultAction::AppArmorProfile { .. } => has(&|c| {
            matches!(
                c,
                Constraint::AppArmor {
                    unset_allowed: false,
                    ..
                }
            )
        }),
        DefaultAction::RuntimeClass { .. } => {
            has(&|c| matches!(c, Constraint::RuntimeClass { allowed } if !allowed.contains("")))
        }
    }
}

fn default_note(policy: &Policy, action: &DefaultAction) -> String {
    let what = match action {
        DefaultAction::AddCapabilities { capabilities } => {
            format!("capabilities.add {}", capabilities.join(", "))
        }
        DefaultAction::DropCapabilities { capabilities } => {
            format!("capabilities.drop {}", capabilities.join(", "))
        }
        DefaultAction::AllowPrivilegeEscalation { value } => {
            format!("allowPrivilegeEscalation={value} on containers that leave it unset")
        }
        DefaultAction::ReadOnlyRootFilesystem => {
            "readOnlyRootFilesystem=true on containers that leave it unset".into()
        }
        DefaultAction::RunAsNonRoot => "runAsNonRoot=true when no user is set".into(),
        DefaultAction::RunAsUser { value } => format!("runAsUser={value} when unset"),
        DefaultAction::GroupId { field, value } => format!("{}={value} when unset", field.as_str()),
        DefaultAction::SeLinuxOptions { .. } => "the pod's seLinuxOptions when unset".into(),
        DefaultAction::SeccompProfile { profile } => {
            format!("seccomp profile {profile} when none is set")
        }
        DefaultAction::AppArmorProfile { profile } => {
            format!("AppArmor profile {profile} when none is set")
        }
        DefaultAction::RuntimeClass { name } => format!("runtimeClassName {name} when unset"),
    };
    if matches!(
        action,
        DefaultAction::AllowPrivilegeEscalation { value: true }
    ) {
        format!("--no-mutation: PSP set {what}; unset already means allowed")
    } else if default_checked(policy, action) {
        format!("--no-mutation: PSP set {what}; pods must now carry it themselves")
    } else {
        format!("--no-mutation: PSP set {what}; pods that leave it unset are admitted without it")
    }
}

/// How the output does PSP's defaulting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defaulting {
    /// Not at all (`--no-mutation`): the validating policies only.
    None,
    /// By a mutating policy of this kind (`MutatingAdmissionPolicy`, `MutatingPolicy`).
    By(&'static str),
}

/// One fidelity entry per policy × field (the worst of its constraints).
pub fn fidelity(policy: &Policy, workloads: bool) -> Vec<FidelityEntry> {
    fidelity_with(policy, workloads, Defaulting::None)
}

/// [`fidelity`], with the defaulting done as `defaulting` says.
pub fn fidelity_with(
    policy: &Policy,
    workloads: bool,
    defaulting: Defaulting,
) -> Vec<FidelityEntry> {
    let mut out: Vec<FidelityEntry> = Vec::new();
    let mut push = |field: &str, fidelity: Fidelity, note: String| {
        if let Some(e) = out.iter_mut().find(|e| e.field == field) {
            if fidelity > e.fidelity {
                e.fidelity = fidelity;
                e.note = note;
            }
            return;
        }
        out.push(FidelityEntry {
            policy: policy.name.clone(),
            field: field.to_string(),
            fidelity,
            note,
        });
    };
    for rule in &policy.rules {
        let note = if workloads {
            "CEL expression; pod templates of workloads are judged as pods (no API defaulting)"
        } else {
            "CEL expression"
        };
        push(&rule.provenance.field, Fidelity::Exact, note.into());
    }
    for d in &policy.defaults {
        match defaulting {
            Defaulting::None => push(
                &d.provenance.field,
                Fidelity::Approximated,
                default_note(policy, &d.action),
            ),
            Defaulting::By(kind) if workloads => push(
                &d.provenance.field,
                Fidelity::Approximated,
                format!(
                    "the {kind} {} on pods, as PSP did; pod templates of workloads are judged without it",
                    mutation::describe(&d.action)
                ),
            ),
            Defaulting::By(kind) => push(
                &d.provenance.field,
                Fidelity::Exact,
                format!("the {kind} {}, as PSP did", mutation::describe(&d.action)),
            ),
        }
    }
    if !policy.images.is_empty() {
        push(
            "metadata.annotations[falco-rules-psp-images]",
            Fidelity::Approximated,
            "image scoping is not translated: the rules apply to every container".into(),
        );
    }
    out
}

#[derive(Serialize)]
struct PolicyCtx {
    /// `Some`: only these namespaces (RBAC).
    namespaces_in: Option<Vec<String>>,
    /// Namespaces left out: RBAC (another policy decides there) and exemptions.
    namespaces_not_in: Vec<String>,
    name: String,
    source: String,
    /// The `polytrans.dev/scope` annotation (RBAC), if any.
    scope: Option<String>,
    header: String,
    variables: Vec<Variable>,
    validations: Vec<Validation>,
    /// PSP's defaulting (empty with `--no-mutation` or when the policy defaults nothing).
    mutations: Vec<mutation::Mutation>,
    /// The mutating policy's `matchConditions` (any-of groups: no member admits the pod as
    /// written).
    mutation_conditions: Vec<Variable>,
    /// What the mutating policy does, for its header.
    mutation_header: String,
}

#[derive(Serialize)]
struct Ctx<'a> {
    policies: Vec<PolicyCtx>,
    action: &'a str,
    /// `apiVersion` of Kyverno's `ValidatingPolicy` (`--kyverno-version`).
    kyverno_api_version: &'a str,
    workloads: bool,
    /// A note on how the policies combine, for the header.
    note: Option<&'a str>,
    /// `admissionregistration.k8s.io/<version>` of the `MutatingAdmissionPolicy`.
    mutating_api: &'a str,
}

/// Which target of the two this backend writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `ValidatingAdmissionPolicy` + binding.
    Vap,
    /// Kyverno `ValidatingPolicy`.
    KyvernoCel,
}

impl Flavor {
    /// The kind of the mutating policy.
    fn mutating_kind(self) -> &'static str {
        match self {
            Flavor::Vap => "MutatingAdmissionPolicy",
            Flavor::KyvernoCel => "MutatingPolicy",
        }
    }

    fn template(self) -> &'static str {
        match self {
            Flavor::Vap => "cel/vap.yaml.j2",
            Flavor::KyvernoCel => "cel/kyverno-cel.yaml.j2",
        }
    }

    fn target(self) -> &'static str {
        match self {
            Flavor::Vap => "vap",
            Flavor::KyvernoCel => "kyverno-cel",
        }
    }
}

/// The name of the policy that admits a pod when any of `psps` does.
fn any_of_name(psps: &[String]) -> String {
    let joined: Vec<String> = psps.iter().map(|p| k8s_name(p)).collect();
    let mut n = format!("psp-any-of-{}", joined.join("--"));
    // Object names are DNS subdomains (253 characters); keep well inside.
    if n.len() > 200 {
        n.truncate(200);
        n = n.trim_end_matches('-').to_string();
    }
    n
}

/// One policy that admits a pod when any of `members` admits it: each member's validations
/// become one variable (their conjunction), the validation is the disjunction, and the message
/// names, per member, the fields that reject the pod.
fn any_of_ctx(members: &[&Policy], workloads: bool) -> (Vec<Variable>, Validation) {
    let mut vars = variables_for(workloads, &[]);
    let mut alternatives = Vec::new();
    let mut message = vec![str_lit(&format!(
        "no PodSecurityPolicy usable in this namespace admits the pod ({}):",
        members
            .iter()
            .map(|p| format!("`{}`", p.name))
            .collect::<Vec<_>>()
            .join(", ")
    ))];
    for (i, p) in members.iter().enumerate() {
        let vs = validations(p);
        let name = format!("psp{i}");
        vars.push(Variable::new(
            &name,
            &and(vs.iter().map(|v| v.tree.clone()).collect()),
        ));
        alternatives.push(var(&name));
        let mut failing = vec![str_lit(&format!(" `{}` rejects", p.name))];
        for v in &vs {
            failing.push(tree::cond(
                v.tree.clone(),
                str_lit(""),
                str_lit(&format!(" {}", v.field)),
            ));
        }
        message.push(tree::cond(var(&name), str_lit(""), sum(failing)));
    }
    let validation = Validation::new("any-of", "rbac", or(alternatives), &sum(message));
    (vars, validation)
}

/// A validation expression with the variables written out over `object` (a pod), for a
/// mutating policy's `matchConditions`, which cannot read `variables`.
fn inline_variables(expr: &Expr) -> Expr {
    let mut e = expr.clone();
    let vars = variable_exprs(false, &[]);
    // `containers` and `volumes` read `podSpec`: they go first.
    for (name, value) in vars.iter().rev() {
        e = e.replace(&var(name), value);
    }
    e
}

/// True when no member's validations admit the pod as written.
fn not_any_admits_as_written(members: &[&Policy]) -> Expr {
    let alts: Vec<Expr> = members
        .iter()
        .map(|p| {
            let vs = validations(p);
            and(vs.iter().map(|v| inline_variables(&v.tree)).collect())
        })
        .collect();
    or(alts).not()
}

pub fn emit(input: &Input<'_>, args: &Options, flavor: Flavor) -> Result<Emitted, crate::Error> {
    if flavor == Flavor::KyvernoCel
        && args.kyverno_version < super::KyvernoVersion::VALIDATING_POLICY
    {
        return Err(crate::Error::Usage(format!(
            "--kyverno-version {}: Kyverno's ValidatingPolicy arrived in {}\nhelp: upgrade Kyverno, or use `--to kyverno` (ClusterPolicy) for this release",
            args.kyverno_version,
            super::KyvernoVersion::VALIDATING_POLICY
        )));
    }
    if flavor == Flavor::KyvernoCel
        && !args.no_mutation
        && args.kyverno_version < super::KyvernoVersion::MUTATING_POLICY
        && input
            .policies
            .iter()
            .any(|p| !mutation::mutations(p).is_empty())
    {
        return Err(crate::Error::Usage(format!(
            "--kyverno-version {}: Kyverno's MutatingPolicy (PSP's defaulting) arrived in {}\nhelp: upgrade Kyverno, or pass --no-mutation (validation only: pods must then carry PSP's defaults themselves)",
            args.kyverno_version,
            super::KyvernoVersion::MUTATING_POLICY
        )));
    }
    let env = crate::render::environment(input.common.templates.as_deref());
    let workloads = args.workloads;
    let mut emitted = Emitted::default();
    let mut stdout = String::new();
    let plan = input.scope.plan(input.policies, Union::AnyOf);
    let scope_fid = super::ScopeFidelity::new(input.scope, &plan, "");
    emitted.fidelity.extend(scope_fid.all());
    let note = if input.scope.from_rbac {
        Some(
            "note: bound by RBAC (see the polytrans.dev/scope annotation): where several PSPs are\n# usable, the one that admits all the others admit decides, or one policy admits a pod\n# any of them admits, as PSP admission did.",
        )
    } else if input.policies.len() > 1 {
        Some(
            "note: each policy below is enforced on its own (all must pass); PSP admitted a pod when any\n# usable PSP did. Bind each policy only to the namespaces whose service accounts used the PSP.",
        )
    } else {
        None
    };
    let selector = |namespaces: &Namespaces, exempt: &[String]| {
        super::namespace_selector(input.scope, namespaces, exempt)
    };
    let defaulting = if args.no_mutation {
        Defaulting::None
    } else {
        Defaulting::By(flavor.mutating_kind())
    };
    let kind = flavor.mutating_kind();
    let mutating_api = format!("admissionregistration.k8s.io/{}", args.cel_api.as_str());
    stdout.push_str(&scope_fid.general_comment());
    // Each policy is rendered (and, with `-o DIR/`, handed to the sink) as soon as it is built.
    let render_one =
        |p: PolicyCtx, stdout: &mut String, emitted: &mut Emitted| -> Result<(), crate::Error> {
            let ctx = Ctx {
                policies: vec![p],
                action: action(args.mode),
                kyverno_api_version: args.kyverno_version.cel_api_version(),
                workloads,
                note,
                mutating_api: &mutating_api,
            };
            let content = crate::render::render(&env, flavor.template(), &ctx)?;
            emitted.push_document(
                input,
                stdout,
                "",
                OutputFile {
                    name: format!("{}/{}.yaml", flavor.target(), ctx.policies[0].name),
                    content,
                },
            )
        };
    for policy in input.policies {
        let fid = fidelity_with(policy, workloads, defaulting);
        emitted.fidelity.extend(fid.clone());
        let Some(place) = plan.placements.get(&policy.name) else {
            continue;
        };
        let (namespaces_in, namespaces_not_in) =
            selector(&place.namespaces, &policy.exempt_namespaces);
        let mutations = if args.no_mutation {
            vec![]
        } else {
            mutation::mutations(policy)
        };
        render_one(
            PolicyCtx {
                namespaces_in,
                namespaces_not_in,
                name: format!("psp-{}", k8s_name(&policy.name)),
                source: source_name(policy),
                scope: input.scope.from_rbac.then(|| place.why.clone()),
                header: fidelity_comment(&[scope_fid.for_policy(&policy.name), fid].concat(), "# "),
                variables: variables_for(workloads, &policy.exempt_images),
                validations: validations(policy),
                mutations,
                mutation_conditions: vec![],
                mutation_header: format!(
                    "{kind}: PSP's defaulting, as PSP admission did before validating (it runs before the\n# validating policy)."
                ),
            },
            &mut stdout,
            &mut emitted,
        )?;
    }
    for (namespaces, names) in &plan.any_of {
        let mut members: Vec<&Policy> = names
            .iter()
            .filter_map(|n| input.policies.iter().find(|p| &p.name == n))
            .collect();
        members.sort_by(|a, b| a.name.cmp(&b.name));
        let mut fid: Vec<FidelityEntry> = members
            .iter()
            .flat_map(|p| fidelity_with(p, workloads, defaulting))
            .collect();
        let (variables, validation) = any_of_ctx(&members, workloads);
        let (namespaces_in, namespaces_not_in) = selector(namespaces, &[]);
        let first = members.first().map(|p| p.name.clone()).unwrap_or_default();
        let mut mutations = vec![];
        let mut mutation_conditions = vec![];
        if let (Defaulting::By(_), Some(first_policy)) = (defaulting, members.first()) {
            mutations = mutation::mutations(first_policy);
            if !mutations.is_empty() {
                mutation_conditions.push(Variable::new(
                    "no-psp-admits-as-written",
                    &not_any_admits_as_written(&members),
                ));
                let entry = FidelityEntry {
                    policy: first.clone(),
                    field: "rbac (defaulting)".into(),
                    fidelity: Fidelity::Approximated,
                    note: format!(
                        "where any of {} may admit a pod, the {kind} does nothing when one of them admits the pod as written, else applies the defaulting of `{first}` (the first by name); PSP took the first PSP (by name) that admits the pod unchanged, else the first that admits it after its own defaulting",
                        names.join(", ")
                    ),
                };
                emitted.fidelity.push(entry.clone());
                fid.push(entry);
            }
        }
        render_one(
            PolicyCtx {
                namespaces_in,
                namespaces_not_in,
                name: any_of_name(names),
                source: super::group_source(&members),
                scope: Some(format!(
                    "rbac: {}: any of {} admits the pod (none of them admits all the others do)",
                    namespaces.describe(),
                    names.join(", ")
                )),
                header: fidelity_comment(
                    &[
                        scope_fid
                            .for_policies(&names.iter().map(String::as_str).collect::<Vec<_>>()),
                        fid,
                    ]
                    .concat(),
                    "# ",
                ),
                variables,
                validations: vec![validation],
                mutations,
                mutation_conditions,
                mutation_header: format!(
                    "{kind}: when no PSP of the group admits the pod as written, the defaulting of `{first}`\n# (the first by name); see the rbac (defaulting) entry above."
                ),
            },
            &mut stdout,
            &mut emitted,
        )?;
    }
    super::skipped_notes(&plan, &mut stdout, &mut emitted.fidelity);
    emitted.stdout = stdout;
    if let Some(f) = scope_fid.notes_file(&env, flavor.target())? {
        emitted.push_file(input, f)?;
    }
    Ok(emitted)
}

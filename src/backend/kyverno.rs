//! `--to kyverno`: one Kyverno `ClusterPolicy` (kyverno.io/v1) per PSP or level (issue #11).
//!
//! Defaulting constraints become `mutate` rules (`patchStrategicMerge` with `+()` anchors, in a
//! `foreach` over every container list where PSP defaulted containers). Validating constraints
//! become either
//! - Kyverno's `podSecurity` subrule (a PSS level at a pinned version, with `exclude` entries for
//!   the checks the source relaxes), when the source is exactly such a level (`--kyverno-style
//!   auto`, the default, or `pod-security`), or
//! - one `validate` rule per PSP field, named `psp-<name>-<field>` (`--kyverno-style rules`, or
//!   `auto` when the PSP is not a level with expressible exclusions).
//!
//! Where the input holds RBAC, each policy matches the namespaces whose pods may use the PSP
//! (see [`super::gatekeeper::rbac_scopes`]); otherwise it is cluster-wide and says so in the
//! `polytrans.dev/scope` annotation. Strings from the input are escaped for Kyverno's variable
//! substitution (`{{` → `\{{`, `$(` → `\$(`); the YAML itself is written by serde. The policy
//! body is computed here as JSON and laid out by `templates/kyverno/clusterpolicy.yaml.j2`.

use super::{Emitted, Fidelity, FidelityEntry, Input, OutputFile, fidelity_comment, k8s_name};
use crate::ir::{
    Constraint, DefaultAction, Exemption, GroupField, HostNamespace, IdRange, Level, NameSet,
    Origin, Policy, ProfileSource, Rule, Scope,
};
use crate::k8s::CheckId;
use crate::pss::{Exception, Version};
use serde_json::{Map, Value, json};

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

/// Options of this backend.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// How validating rules are written.
    pub style: Style,
    /// What a failing rule does: `failureAction` of every validate rule (and the policy-level
    /// `validationFailureAction`); `warn` audits and sends the client a warning (`emitWarning`).
    pub mode: super::Mode,
    /// Also scan existing resources (`spec.background: true`).
    pub background: bool,
    /// Do not generate rules for pod controllers (`pod-policies.kyverno.io/autogen-controllers:
    /// none`).
    pub no_autogen: bool,
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
    let env = crate::render::environment(input.common.templates.as_deref());
    let mut out = Emitted::default();
    let mut docs = Vec::new();
    let plan = input
        .scope
        .plan(input.policies, crate::scope::Union::AllMustPass);
    out.fidelity = super::scope_fidelity(input.scope, &plan, "Kyverno requires every policy");
    let scope_fidelity = out.fidelity.clone();
    for p in input.policies {
        let is_psp = matches!(p.origin, Origin::Psp { .. });
        let mut place = Where {
            why: "cluster-wide: the input holds no RBAC, so every namespace is matched (PSP applied to every pod whose creator or service account could `use` it)".into(),
            ..Where::default()
        };
        if let Some((_, reason)) = plan.skipped.iter().find(|(n, _)| n == &p.name) {
            let note = format!("no ClusterPolicy generated: {}", super::single_line(reason));
            docs.push(format!(
                "# PodSecurityPolicy {}: {note}\n",
                super::single_line(&p.name)
            ));
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
        let body = crate::render::to_yaml(&policy);
        let comment = fidelity_comment(&[scope_fidelity.clone(), fidelity.clone()].concat(), "# ");
        let fid_lines: Vec<&str> = comment.lines().collect();
        let text = crate::render::render(
            &env,
            "kyverno/clusterpolicy.yaml.j2",
            minijinja::context! {
                source => source_name(p),
                fidelity => fid_lines,
                body => body.trim_end(),
            },
        )?;
        out.files.push(OutputFile {
            name: format!("kyverno/{}.yaml", policy_name(p)),
            content: text.clone(),
        });
        docs.push(text);
        out.fidelity.extend(fidelity);
    }
    out.stdout = docs.join("---\n");
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

fn match_pods(place: &Where) -> Value {
    let mut res = json!({"kinds": ["Pod"]});
    if let Some(ns) = &place.namespaces {
        res["namespaces"] = json!(escape_all(ns));
    }
    json!({"any": [{"resources": res}]})
}

/// Adds `match` (and `exclude`) to a rule.
fn scoped(rule: Value, place: &Where) -> Value {
    let Value::Object(body) = rule else {
        return rule;
    };
    let mut out = Map::new();
    if let Some(n) = body.get("name") {
        out.insert("name".into(), n.clone());
    }
    out.insert("match".into(), match_pods(place));
    if !place.excluded.is_empty() {
        out.insert(
            "exclude".into(),
            json!({"any": [{"resources": {"namespaces": escape_all(&place.excluded)}}]}),
        );
    }
    for (k, v) in body {
        if k != "name" {
            out.insert(k, v);
        }
    }
    Value::Object(out)
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
) -> (Value, Vec<FidelityEntry>) {
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
                rules.push(scoped(
                    json!({"name": rule_name(&name, d.action.kind_name()), "mutate": m}),
                    place,
                ));
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
            let mut ps =
                json!({"level": plan.level.as_str(), "version": format!("v1.{}", plan.minor)});
            if !plan.exclude.is_empty() {
                ps["exclude"] = Value::Array(plan.exclude.clone());
            }
            rules.push(scoped(
                json!({
                    "name": rule_name(&name, "pod-security"),
                    "validate": {
                        "failureAction": action,
                        "message": escape(&format!(
                            "{} is replaced by the Pod Security Standards `{}` level at v1.{}{}: change the pod to meet that level",
                            source_label(p),
                            plan.level,
                            plan.minor,
                            if plan.exclude.is_empty() { "" } else { " (with the exclusions listed in the rule)" }
                        )),
                        "podSecurity": ps,
                    },
                }),
                place,
            ));
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
                        let mut validate = Map::new();
                        validate.insert("failureAction".into(), json!(action));
                        validate.insert(
                            "message".into(),
                            json!(escape(&format!(
                                "{} field `{}`: {}",
                                source_label(p),
                                super::single_line(field),
                                message(&r.constraint)
                            ))),
                        );
                        if let Value::Object(m) = v {
                            validate.extend(m);
                        }
                        let mut rule = Map::new();
                        rule.insert(
                            "name".into(),
                            json!(rule_name(&name, r.constraint.kind_name())),
                        );
                        if let Some(pre) = exemption_preconditions(&r.unless) {
                            rule.insert("preconditions".into(), pre);
                        }
                        rule.insert("validate".into(), Value::Object(validate));
                        rules.push(scoped(Value::Object(rule), place));
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
        let n = r["name"].as_str().unwrap_or_default().to_string();
        let c = seen.entry(n.clone()).or_insert(0);
        *c += 1;
        if *c > 1 {
            let suffix = format!("-{c}");
            let mut base = n.clone();
            base.truncate(63 - suffix.len());
            r["name"] = json!(format!("{}{suffix}", base.trim_end_matches('-')));
        }
    }
    let mut annotations = Map::new();
    annotations.insert(
        "policies.kyverno.io/title".into(),
        json!(escape(&super::single_line(&source_name(p)))),
    );
    annotations.insert("policies.kyverno.io/category".into(), json!("Pod Security"));
    annotations.insert(
        "policies.kyverno.io/description".into(),
        json!(escape(&format!(
            "Generated by polytrans from {}.",
            super::single_line(&source_name(p))
        ))),
    );
    annotations.insert("polytrans.dev/scope".into(), json!(escape(&place.why)));
    annotations.insert(
        "pod-policies.kyverno.io/autogen-controllers".into(),
        json!(if args.no_autogen {
            "none"
        } else {
            AUTOGEN_CONTROLLERS
        }),
    );
    let mut policy = json!({
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": policy_name(p), "annotations": Value::Object(annotations)},
        "spec": {
            "validationFailureAction": action,
            "background": args.background,
            "rules": rules,
        },
    });
    if args.mode == super::Mode::Warn {
        // Audit, and tell the client (Kyverno 1.11+).
        policy["spec"]["emitWarning"] = json!(true);
    }
    (policy, fid.entries)
}

/// Preconditions that skip pods a PSS rule does not apply to (Windows pods, user-namespaced
/// pods).
fn exemption_preconditions(unless: &[Exemption]) -> Option<Value> {
    if unless.is_empty() {
        return None;
    }
    let all: Vec<Value> = unless
        .iter()
        .map(|e| match e {
            Exemption::WindowsPod => json!({
                "key": "{{ request.object.spec.os.name || '' }}",
                "operator": "NotEquals",
                "value": "windows",
            }),
            Exemption::UserNamespacePod => json!({
                "key": "{{ to_string(request.object.spec.hostUsers) }}",
                "operator": "NotEquals",
                "value": "false",
            }),
        })
        .collect();
    Some(json!({"all": all}))
}

/// A `podSecurity` subrule and what it costs.
#[derive(Debug, Clone)]
pub struct PodSecurityPlan {
    pub level: Level,
    /// The pinned minor version (`v1.<minor>`), within the schema's range.
    pub minor: u32,
    /// `exclude` entries.
    pub exclude: Vec<Value>,
    /// The level's exceptions the entries express.
    pub exceptions: Vec<Exception>,
    /// (field, fidelity, note) per source field.
    pub fidelity: Vec<(String, Fidelity, String)>,
}

/// The Kyverno control of a PSS check, and where its restricted fields are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ControlKind {
    Pod,
    Container,
    Both,
}

fn control(check: CheckId) -> Option<(&'static str, ControlKind)> {
    use ControlKind::*;
    Some(match check {
        CheckId::AppArmorProfile => ("AppArmor", Both),
        CheckId::CapabilitiesBaseline | CheckId::CapabilitiesRestricted => {
            ("Capabilities", Container)
        }
        CheckId::HostNamespaces => ("Host Namespaces", Pod),
        CheckId::HostPathVolumes => ("HostPath Volumes", Pod),
        CheckId::HostPorts => ("Host Ports", Container),
        CheckId::Privileged => ("Privileged Containers", Container),
        CheckId::ProcMount => ("/proc Mount Type", Container),
        CheckId::SeLinuxOptions => ("SELinux", Both),
        CheckId::SeccompProfileBaseline | CheckId::SeccompProfileRestricted => ("Seccomp", Both),
        CheckId::Sysctls => ("Sysctls", Pod),
        CheckId::WindowsHostProcess => ("HostProcess", Both),
        CheckId::AllowPrivilegeEscalation => ("Privilege Escalation", Container),
        CheckId::RestrictedVolumes => ("Volume Types", Pod),
        CheckId::RunAsNonRoot => ("Running as Non-root", Both),
        CheckId::RunAsUser => ("Running as Non-root user", Both),
        // `Host Probes / Lifecycle Hooks` (v1.34) and the v1.35 procMount revision are beyond
        // the versions the schema accepts, and not in its `controlName` enum.
        _ => return None,
    })
}

/// `exclude` entries for one restricted field under every container list.
fn container_fields(
    control: &str,
    suffix: &str,
    images: &[String],
    values: &[String],
) -> Vec<Value> {
    ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .map(|list| {
            let mut e = json!({
                "controlName": control,
                "images": escape_all(images),
                "restrictedField": format!("spec.{list}[*].{suffix}"),
            });
            if !values.is_empty() {
                e["values"] = json!(escape_all(values));
            }
            e
        })
        .collect()
}

fn pod_field(control: &str, field: &str, values: &[String]) -> Value {
    json!({"controlName": control, "restrictedField": field, "values": escape_all(values)})
}

/// Expands port ranges into single ports (Kyverno compares values one by one); `None` above a
/// size that would make the exclusion unreadable.
fn port_values(ranges: &[IdRange]) -> Option<Vec<String>> {
    let n: i64 = ranges.iter().map(|r| r.max - r.min + 1).sum();
    if n > 32 {
        return None;
    }
    Some(
        ranges
            .iter()
            .flat_map(|r| (r.min..=r.max).map(|p| p.to_string()))
            .collect(),
    )
}

/// The `exclude` entries expressing one exception, or why they cannot.
fn exclude_entries(ex: &Exception, lp: &Policy) -> Result<Vec<Value>, String> {
    let (name, kind) = CheckId::parse(&ex.check)
        .and_then(control)
        .ok_or_else(|| format!("check `{}` has no Kyverno control", ex.check))?;
    let all = vec!["*".to_string()];
    if ex.values.is_empty() {
        return Ok(match kind {
            ControlKind::Pod => vec![json!({"controlName": name})],
            ControlKind::Container => vec![json!({"controlName": name, "images": all})],
            ControlKind::Both => vec![
                json!({"controlName": name}),
                json!({"controlName": name, "images": all}),
            ],
        });
    }
    let v = &ex.values;
    Ok(match ex.check.as_str() {
        "capabilities_baseline" | "capabilities_restricted" => {
            container_fields(name, "securityContext.capabilities.add", &all, v)
        }
        "hostPorts" => {
            let mut ports = Vec::new();
            for x in v {
                let (a, b) = x.split_once('-').unwrap_or((x, x));
                let (a, b) = (
                    a.parse::<i64>()
                        .map_err(|_| format!("`{x}` is not a port"))?,
                    b.parse::<i64>()
                        .map_err(|_| format!("`{x}` is not a port"))?,
                );
                ports.push(IdRange {
                    min: a.min(b),
                    max: a.max(b),
                });
            }
            let ports = port_values(&crate::ir::normalise_ranges(ports))
                .ok_or("host port ranges too wide to list as values")?;
            container_fields(name, "ports[*].hostPort", &all, &ports)
        }
        "hostNamespaces" => v
            .iter()
            .map(|ns| pod_field(name, &format!("spec.{ns}"), &["true".to_string()]))
            .collect(),
        "sysctls" => vec![pod_field(name, "spec.securityContext.sysctls[*].name", v)],
        "procMount" => container_fields(name, "securityContext.procMount", &all, v),
        "seLinuxOptions" => {
            let mut e = vec![pod_field(
                name,
                "spec.securityContext.seLinuxOptions.type",
                v,
            )];
            e.extend(container_fields(
                name,
                "securityContext.seLinuxOptions.type",
                &all,
                v,
            ));
            e
        }
        _ => {
            let _ = lp;
            return Err(format!(
                "values of check `{}` have no Kyverno restricted field polytrans writes",
                ex.check
            ));
        }
    })
}

/// Values by which `wide` allows more than `narrow` (same kind), as exception values; `None`
/// when they cannot be listed.
fn extra_values(wide: &Constraint, narrow: &Constraint) -> Option<Vec<String>> {
    use Constraint::*;
    let only = |a: &NameSet, b: &NameSet| -> Option<Vec<String>> {
        match (a, b) {
            (NameSet::Only(a), NameSet::Only(b)) => Some(
                a.iter()
                    .filter(|x| !b.contains(x) && !x.ends_with('*'))
                    .cloned()
                    .collect(),
            ),
            _ => None,
        }
    };
    match (wide, narrow) {
        (AddCapabilities { allowed: a }, AddCapabilities { allowed: b })
        | (ProcMount { allowed: a }, ProcMount { allowed: b }) => only(a, b),
        (
            Sysctls {
                allowed: a,
                forbidden: fa,
            },
            Sysctls { allowed: b, .. },
        ) if fa.is_empty() => only(a, b),
        (
            HostNamespace {
                namespace,
                allowed: true,
            },
            HostNamespace { allowed: false, .. },
        ) => Some(vec![namespace.pod_field().to_string()]),
        (HostPorts { allowed: a }, HostPorts { allowed: b }) if b.is_empty() => Some(
            a.iter()
                .map(|r| {
                    if r.min == r.max {
                        r.min.to_string()
                    } else {
                        r.to_string()
                    }
                })
                .collect(),
        ),
        (
            SeLinux {
                type_: Some(a),
                user: ua,
                role: ra,
                level: la,
                ..
            },
            SeLinux {
                type_: Some(b),
                user: ub,
                role: rb,
                level: lb,
                ..
            },
        ) if ua == ub && ra == rb && la == lb => {
            Some(a.iter().filter(|x| !b.contains(x)).cloned().collect())
        }
        _ => None,
    }
}

fn same(a: Option<&Constraint>, b: Option<&Constraint>) -> bool {
    let source_ok = match (a, b) {
        (
            Some(Constraint::Seccomp { source: x, .. }),
            Some(Constraint::Seccomp { source: y, .. }),
        ) => x == y,
        _ => true,
    };
    source_ok && crate::compare::covers(a, b) && crate::compare::covers(b, a)
}

/// The kinds of rule in either policy.
fn kinds<'a>(a: &'a Policy, b: &'a Policy) -> std::collections::BTreeSet<&'static str> {
    a.rules
        .iter()
        .chain(&b.rules)
        .map(|r| r.constraint.kind_name())
        .collect()
}

fn rule_of<'a>(p: &'a Policy, kind: &str) -> Option<&'a Rule> {
    p.rules.iter().find(|r| r.constraint.kind_name() == kind)
}

/// Whether the policy is exactly `level` at `minor` with Kyverno-expressible exceptions, and
/// which: the `podSecurity` subrule then enforces exactly what the policy enforces.
pub fn plan_pod_security(p: &Policy, version: Version) -> Result<PodSecurityPlan, String> {
    let requested = version.effective_minor();
    let minor = requested.clamp(KYVERNO_MIN_MINOR, KYVERNO_MAX_MINOR);
    let levels: Vec<Level> = match &p.origin {
        Origin::Level { level, .. } => vec![*level],
        Origin::Psp { .. } => vec![Level::Restricted, Level::Baseline, Level::Privileged],
    };
    let mut why = Vec::new();
    let compare = match p.origin {
        Origin::Level { .. } => requested,
        Origin::Psp { .. } => minor,
    };
    for level in levels {
        match plan_at(p, level, compare, minor) {
            Ok(mut plan) => {
                if let Origin::Level { .. } = p.origin {
                    if minor != requested {
                        // Checks that differ between the requested version and the pinned one.
                        let want = crate::pss::level_policy(level, Version::Minor(requested));
                        let got = crate::pss::level_policy(level, Version::Minor(minor));
                        let mut checks: Vec<&str> = want
                            .rules
                            .iter()
                            .chain(&got.rules)
                            .filter_map(|r| r.provenance.check.as_deref())
                            .collect();
                        checks.sort();
                        checks.dedup();
                        for c in checks {
                            let of = |q: &Policy| -> Vec<(Constraint, Vec<Exemption>)> {
                                q.rules
                                    .iter()
                                    .filter(|r| r.provenance.check.as_deref() == Some(c))
                                    .map(|r| (r.constraint.clone(), r.unless.clone()))
                                    .collect()
                            };
                            if of(&want) != of(&got) {
                                plan.fidelity.retain(|(f, _, _)| f != c);
                                plan.fidelity.push((
                                    c.to_string(),
                                    Fidelity::Approximated,
                                    format!(
                                        "`podSecurity.version` is pinned to v1.{minor} (the ClusterPolicy schema allows v1.{KYVERNO_MIN_MINOR} to v1.{KYVERNO_MAX_MINOR}); this check differs at v1.{requested}"
                                    ),
                                ));
                            }
                        }
                    }
                }
                return Ok(plan);
            }
            Err(e) => why.push(format!("{level}: {e}")),
        }
    }
    Err(why.join("; "))
}

/// `compare` is the version the policy is compared with (a level's own), `minor` the one
/// written.
fn plan_at(p: &Policy, level: Level, compare: u32, minor: u32) -> Result<PodSecurityPlan, String> {
    let lp = crate::pss::level_policy(level, Version::Minor(compare));
    // For a level, its exceptions were applied to the policy's rules: derive them again by
    // comparing with the plain level, check by check.
    let mut exceptions: Vec<Exception> = Vec::new();
    for info in crate::pss::checks_at(level, compare) {
        let lrules: Vec<&Rule> = lp
            .rules
            .iter()
            .filter(|r| r.provenance.check.as_deref() == Some(info.id.as_str()))
            .collect();
        let mut drop = true;
        let mut all_open = true;
        let mut values: Vec<String> = Vec::new();
        let mut equal = true;
        for lr in &lrules {
            let k = lr.constraint.kind_name();
            let pr = rule_of(p, k).map(|r| &r.constraint);
            all_open &= pr.is_none_or(crate::compare::is_trivial);
            if same(pr, Some(&lr.constraint)) {
                drop = false;
                continue;
            }
            equal = false;
            if !crate::compare::covers(pr, Some(&lr.constraint)) {
                return Err(format!("stricter than check `{}`", info.id));
            }
            match pr.map(|c| (c, extra_values(c, &lr.constraint))) {
                None => {}
                // Values first: `hostNetwork` allowed is trivial for its rule, but the check
                // (all three host namespaces) is only widened by it.
                Some((_, Some(v))) if !v.is_empty() => {
                    drop = false;
                    values.extend(v);
                }
                Some((c, _)) if crate::compare::is_trivial(c) => {}
                Some(_) => {
                    return Err(format!(
                        "looser than check `{}` in a way no exclusion lists",
                        info.id
                    ));
                }
            }
        }
        if equal {
            continue;
        }
        values.sort();
        values.dedup();
        // Every rule of the check open: the whole control, not its values.
        let drop = drop || all_open;
        if drop || !values.is_empty() {
            exceptions.push(Exception {
                check: info.id.to_string(),
                values: if drop { vec![] } else { values },
            });
        }
    }
    // The level with those exceptions must be the policy, rule kind by rule kind.
    let mut widened = lp.clone();
    crate::pss::apply_exceptions(&mut widened, &exceptions)?;
    for k in kinds(p, &widened) {
        let (a, b) = (rule_of(p, k), rule_of(&widened, k));
        if !same(a.map(|r| &r.constraint), b.map(|r| &r.constraint)) {
            return Err(format!("`{k}` differs from the level"));
        }
    }
    let mut exclude = Vec::new();
    for ex in &exceptions {
        exclude.extend(exclude_entries(ex, &lp)?);
    }
    let mut fidelity = Vec::new();
    if !p.exempt_images.is_empty() {
        for info in crate::pss::checks_at(level, minor) {
            if let Some((name, kind)) = control(info.id) {
                if kind != ControlKind::Pod {
                    let e = json!({"controlName": name, "images": escape_all(&p.exempt_images)});
                    if !exclude.contains(&e) {
                        exclude.push(e);
                    }
                }
            }
        }
        let wild = p
            .exempt_images
            .iter()
            .any(|i| i.contains('?') || i.trim_end_matches('*').contains('*'));
        fidelity.push((
            "exemptImages".to_string(),
            if wild { Fidelity::Approximated } else { Fidelity::Exact },
            if wild {
                "`exclude.images`: Kyverno reads `*` and `?` anywhere as wildcards; polytrans only a trailing `*`".to_string()
            } else {
                "`exclude.images` on every container-level control".to_string()
            },
        ));
    }
    if !p.exempt_namespaces.is_empty() {
        fidelity.push((
            "exemptNamespaces".to_string(),
            Fidelity::Exact,
            "rule `exclude` by namespace".to_string(),
        ));
    }
    for r in &p.rules {
        let k = r.constraint.kind_name();
        let lr = rule_of(&widened, k);
        let f = &r.provenance.field;
        if fidelity.iter().any(|(x, _, _)| x == f) {
            continue;
        }
        // PSS exempts some pods (Windows, user namespaces) from checks a PSP applies to all.
        let differs = lr.is_some_and(|lr| lr.unless != r.unless);
        fidelity.push(if differs {
            (
                f.clone(),
                Fidelity::Approximated,
                format!("enforced by `podSecurity` level `{level}` v1.{minor}, which exempts Windows or user-namespaced pods from this check"),
            )
        } else {
            (
                f.clone(),
                Fidelity::Exact,
                format!("`podSecurity` level `{level}` v1.{minor}"),
            )
        });
    }
    Ok(PodSecurityPlan {
        level,
        minor,
        exclude,
        exceptions,
        fidelity,
    })
}

/// `--kyverno-style pod-security` for a PSP that is not exactly a level: its safe level, which
/// admits pods the PSP rejected where the PSP is stricter.
fn safe_level_plan(p: &Policy, version: Version, why: &str) -> PodSecurityPlan {
    let minor = version
        .effective_minor()
        .clamp(KYVERNO_MIN_MINOR, KYVERNO_MAX_MINOR);
    // The most restrictive level that admits every pod the PSP admits once its defaulting is
    // kept (by the mutate rules), with the controls PSP cannot express excluded: the
    // `podSecurity` rule never rejects a pod the PSP admitted, and admits more where the PSP is
    // stricter.
    let report = crate::fit::fit(p, Version::Minor(minor));
    let level = report.safe_level_with_defaulting_kept;
    let mut exclude = Vec::new();
    let mut exceptions = Vec::new();
    for c in &report.checks {
        let active = crate::pss::checks_at(level, minor)
            .iter()
            .any(|i| c.check == i.id);
        if active && c.relation == crate::fit::Relation::NotExpressible {
            let ex = Exception {
                check: c.check.clone(),
                values: vec![],
            };
            if let Ok(e) = exclude_entries(&ex, p) {
                for x in e {
                    if !exclude.contains(&x) {
                        exclude.push(x);
                    }
                }
                exceptions.push(ex);
            }
        }
    }
    let fidelity = p
        .rules
        .iter()
        .map(|r| {
            (
                r.provenance.field.clone(),
                Fidelity::Approximated,
                format!(
                    "enforced as PSS level `{level}` v1.{minor} (`podSecurity`, controls PSP cannot express excluded), which admits pods this policy rejects where it is stricter ({})",
                    super::single_line(why)
                ),
            )
        })
        .collect();
    PodSecurityPlan {
        level,
        minor,
        exclude,
        exceptions,
        fidelity,
    }
}

/// Pattern text for a union of ranges: `"1-10 | 20"`.
fn ranges_pattern(ranges: &[IdRange]) -> String {
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
fn every_container(inner: Value, sc_required: bool) -> Value {
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

fn pattern(spec: Value) -> Value {
    json!({"pattern": {"spec": spec}})
}

/// A `deny` over a JMESPath list of values: deny when any value is (not) in `values`.
fn deny_list(key: &str, op: &str, values: &[String]) -> Value {
    json!({"deny": {"conditions": {"any": [{
        "key": format!("{{{{ {key} || `[]` }}}}"),
        "operator": op,
        "value": escape_all(values),
    }]}}})
}

fn set_names(set: &NameSet) -> Option<(&'static str, Vec<String>)> {
    match set {
        NameSet::Any => None,
        NameSet::Only(v) => Some(("AnyNotIn", v.clone())),
        NameSet::AnyExcept(v) => Some(("AnyIn", v.clone())),
    }
}

/// Alternatives `a | b` for a pattern; `None` when an entry cannot be written safely.
fn alternatives(names: &[String]) -> Option<String> {
    if names.is_empty()
        || names.iter().any(|n| {
            n.is_empty() || n.contains(['|', '&', '!', '<', '>', '?', '*']) && !n.ends_with("/*")
        })
    {
        return None;
    }
    Some(escape(&names.join(" | ")))
}

fn validation(r: &Rule) -> Option<(Value, Fidelity, String)> {
    use Fidelity::*;
    let exact = |v: Value| Some((v, Exact, String::new()));
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
            json!({"foreach": [{
                "list": ALL_CONTAINERS,
                "deny": {"conditions": {"all": [{
                    "key": escape_all(required),
                    "operator": "AnyNotIn",
                    "value": "{{ element.securityContext.capabilities.drop[] || `[]` }}",
                }]}},
            }]}),
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
            let is = |k: &str, v: &str| json!({"key": k, "operator": "Equals", "value": v});
            let is_not = |k: &str, v: &str| json!({"key": k, "operator": "NotEquals", "value": v});
            let each = |conditions: Value| json!({"list": ALL_CONTAINERS, "deny": {"conditions": conditions}});
            exact(json!({"foreach": [
                each(json!({"any": [is(c_nr, "false"), is(c_uid, "0")]})),
                each(json!({"all": [is(c_nr, "null"), is(p_nr, "false")]})),
                each(json!({"all": [is(c_uid, "null"), is(p_uid, "0")]})),
                each(json!({"all": [
                    is(c_nr, "null"),
                    is_not(p_nr, "true"),
                    is(c_uid, "null"),
                    is(p_uid, "null"),
                ]})),
            ]}))
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
            Some((json!({"anyPattern": alts}), f, note))
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
            let mut any = Vec::new();
            if let Some((op, names)) = set_names(allowed) {
                any.push(json!({
                    "key": "{{ request.object.spec.securityContext.sysctls[].name || `[]` }}",
                    "operator": op,
                    "value": escape_all(&names),
                }));
            }
            if !forbidden.is_empty() {
                any.push(json!({
                    "key": "{{ request.object.spec.securityContext.sysctls[].name || `[]` }}",
                    "operator": "AnyIn",
                    "value": escape_all(forbidden),
                }));
            }
            if any.is_empty() {
                return None;
            }
            Some((
                json!({"deny": {"conditions": {"any": any}}}),
                Exact,
                String::new(),
            ))
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

fn driver_rule(volume: &str, allowed: &[String]) -> Option<(Value, Fidelity, String)> {
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

fn id_rule(field: &str, ranges: &[IdRange], required: bool) -> Option<(Value, Fidelity, String)> {
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
        json!({"anyPattern": [{"spec": any}, {"spec": each}]}),
        Fidelity::Approximated,
        format!(
            "{note}; init and ephemeral containers may leave it unset when the pod does not set it"
        ),
    ))
}

fn note_unsupported(c: &Constraint) -> String {
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

fn profile_list(s: &NameSet) -> String {
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

fn message(c: &Constraint) -> String {
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
fn volume_key(name: &str) -> String {
    crate::k8s::pod_volume_key(name).to_string()
}

/// JMESPath: a `hostPath` volume under `prefix` (by path components).
fn host_path_under(prefix: &str) -> String {
    let p = prefix.trim_end_matches('/');
    if p.is_empty() {
        "starts_with(hostPath.path, '/')".into()
    } else {
        format!("(hostPath.path == '{p}' || starts_with(hostPath.path, '{p}/'))")
    }
}

fn host_paths(allowed: &[crate::ir::HostPathRule]) -> Option<(Value, Fidelity, String)> {
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
    let mut each = vec![json!({
        "list": "request.object.spec.volumes[?hostPath] || `[]`",
        "pattern": {"hostPath": {"path": alt}},
    })];
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
        each.push(json!({
            "list": ALL_CONTAINERS,
            "deny": {"conditions": {"any": [{
                "key": "{{ element.volumeMounts[?readOnly != `true`].name || `[]` }}",
                "operator": "AnyIn",
                "value": format!("{{{{ request.object.spec.volumes[?{filter}].name || `[]` }}}}"),
            }]}},
        }));
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
    Some((json!({"foreach": each}), f, note))
}

/// The Kubernetes profile `type` of an annotation-form profile.
fn profile_type(p: &str) -> Option<&'static str> {
    match p {
        "runtime/default" => Some("RuntimeDefault"),
        "unconfined" => Some("Unconfined"),
        _ if p.starts_with("localhost/") => Some("Localhost"),
        _ => None,
    }
}

/// Validation of seccomp or AppArmor profiles, fields and annotations.
fn profiles(
    what: &str,
    allowed: &NameSet,
    unset_allowed: bool,
    annotations: bool,
    scope: Scope,
) -> Option<(Value, Fidelity, String)> {
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
            any.push(json!({"key": types_key, "operator": "AnyNotIn", "value": types}));
            let locals: Vec<String> = v
                .iter()
                .filter_map(|p| p.strip_prefix("localhost/"))
                .map(str::to_string)
                .collect();
            if !locals.is_empty() && !locals.iter().any(|l| l == "*") {
                any.push(
                    json!({"key": local_key, "operator": "AnyNotIn", "value": escape_all(&locals)}),
                );
            }
            if annotations {
                any.push(json!({"key": ann_key, "operator": "AnyNotIn", "value": escape_all(v)}));
            }
        }
        NameSet::AnyExcept(v) => {
            let types: Vec<&str> = v
                .iter()
                .filter(|p| !p.starts_with("localhost/"))
                .filter_map(|p| profile_type(p))
                .collect();
            if !types.is_empty() {
                any.push(json!({"key": types_key, "operator": "AnyIn", "value": types}));
            }
            let locals: Vec<String> = v
                .iter()
                .filter_map(|p| p.strip_prefix("localhost/"))
                .map(str::to_string)
                .collect();
            if !locals.is_empty() {
                any.push(
                    json!({"key": local_key, "operator": "AnyIn", "value": escape_all(&locals)}),
                );
            }
            if annotations {
                any.push(json!({"key": ann_key, "operator": "AnyIn", "value": escape_all(v)}));
            }
        }
    }
    let mut each = Vec::new();
    if !any.is_empty() {
        each.push(json!({"list": ALL_CONTAINERS, "deny": {"conditions": {"any": any}}}));
    }
    if scope == Scope::Effective {
        f = Fidelity::Approximated;
        notes.push(
            "every profile written is judged, even a pod-level one that every container overrides",
        );
    }
    if !unset_allowed {
        let mut all = vec![
            json!({"key": format!("{{{{ element.securityContext.{field}.type || '' }}}}"), "operator": "Equals", "value": ""}),
            json!({"key": format!("{{{{ request.object.spec.securityContext.{field}.type || '' }}}}"), "operator": "Equals", "value": ""}),
        ];
        if annotations {
            if let Some(pa) = pod_ann {
                all.push(json!({
                    "key": format!("{{{{ request.object.metadata.annotations.\"{pa}\" || '' }}}}"),
                    "operator": "Equals",
                    "value": "",
                }));
            }
            all.push(json!({
                "key": format!("{{{{ length(items(request.object.metadata.annotations || `{{}}`, 'key', 'value')[?starts_with(key, '{}')]) }}}}", ann_prefixes.last().unwrap()),
                "operator": "LessThan",
                "value": "{{ length(request.object.spec.[ephemeralContainers, initContainers, containers][]) }}",
            }));
            f = Fidelity::Approximated;
            notes.push("a required profile set only by container annotations counts when there are as many such annotations as containers");
        }
        each.push(json!({"list": ALL_CONTAINERS, "deny": {"conditions": {"all": all}}}));
    }
    if each.is_empty() {
        return None;
    }
    Some((json!({"foreach": each}), f, notes.join("; ")))
}

/// A `foreach` mutation over every container list: `inner` is merged into each container
/// (matched by name), with its own preconditions.
fn foreach_containers(inner: Value, preconditions: Option<Value>) -> Value {
    let each: Vec<Value> = ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .map(|list| {
            let mut c = json!({"name": "{{ element.name }}"});
            if let (Value::Object(c), Value::Object(i)) = (&mut c, &inner) {
                c.extend(i.clone());
            }
            let mut e = json!({
                "list": format!("request.object.spec.{list} || `[]`"),
                "patchStrategicMerge": {"spec": {*list: [c]}},
            });
            if let Some(p) = &preconditions {
                e["preconditions"] = p.clone();
            }
            e
        })
        .collect();
    json!({"foreach": each})
}

fn psm(patch: Value) -> Value {
    json!({"patchStrategicMerge": patch})
}

/// Capability names that can be written into a JMESPath literal.
fn cap_literal(caps: &[String]) -> Option<String> {
    if caps.is_empty()
        || !caps
            .iter()
            .all(|c| c.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return None;
    }
    serde_json::to_string(caps).ok()
}

/// The mutate rule of a defaulting field, its fidelity and a note.
fn mutation(a: &DefaultAction) -> Option<(Value, Fidelity, &'static str)> {
    use Fidelity::*;
    match a {
        DefaultAction::AllowPrivilegeEscalation { value } => Some((
            foreach_containers(
                json!({"securityContext": {"+(allowPrivilegeEscalation)": value}}),
                None,
            ),
            Exact,
            "set on every container that leaves it unset",
        )),
        DefaultAction::ReadOnlyRootFilesystem => Some((
            foreach_containers(
                json!({"securityContext": {"+(readOnlyRootFilesystem)": true}}),
                None,
            ),
            Exact,
            "set on every container that leaves it unset",
        )),
        DefaultAction::RunAsNonRoot => Some((
            foreach_containers(
                json!({"securityContext": {"runAsNonRoot": true}}),
                Some(json!({"all": [
                    {"key": "{{ to_string(element.securityContext.runAsNonRoot) }}", "operator": "Equals", "value": "null"},
                    {"key": "{{ to_string(request.object.spec.securityContext.runAsNonRoot) }}", "operator": "Equals", "value": "null"},
                    {"key": "{{ to_string(element.securityContext.runAsUser) }}", "operator": "Equals", "value": "null"},
                    {"key": "{{ to_string(request.object.spec.securityContext.runAsUser) }}", "operator": "Equals", "value": "null"},
                ]})),
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
                "written as the pod's seccompProfile field, not the deprecated annotation; a pod annotation alone no longer suppresses it",
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
                    json!({"securityContext": {"+(appArmorProfile)": ap}}),
                    Some(json!({"all": [{
                        "key": "{{ request.object.metadata.annotations.\"container.apparmor.security.beta.kubernetes.io/{{element.name}}\" || '' }}",
                        "operator": "Equals",
                        "value": "",
                    }]})),
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
fn append_capabilities(
    list: &str,
    capabilities: &[String],
    note: &'static str,
) -> Option<(Value, Fidelity, &'static str)> {
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

//! `--to kyverno`: one Kyverno `ClusterPolicy` (kyverno.io/v1) per PSP (issue #11).
//!
//! Validating constraints become `validate` rules (patterns with Kyverno anchors, or `deny`
//! conditions over JMESPath lists), defaulting constraints become `mutate.patchStrategicMerge`
//! rules with `+()` anchors. With `--kyverno-style pod-security` the validating part is a single
//! `podSecurity` subrule at the PSP's safe level. The policy body is computed here as JSON and
//! laid out by `templates/kyverno/clusterpolicy.yaml.j2`.

use super::{Emitted, Fidelity, FidelityEntry, Input, OutputFile, fidelity_comment, k8s_name};
use crate::ir::{
    Constraint, DefaultAction, GroupField, HostNamespace, IdRange, NameSet, Origin, Policy, Rule,
    Scope,
};
use serde_json::{Map, Value, json};

/// How validating rules are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Style {
    /// Hand-written rules (the PSP is not exactly a level; see docs/kyverno.md).
    #[default]
    Auto,
    /// One validate rule per PSP field.
    Rules,
    /// Kyverno's `podSecurity` subrule at the PSP's safe level.
    PodSecurity,
}

/// What a failing rule does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Report only.
    #[default]
    Audit,
    /// Reject.
    Enforce,
}

/// Options of this backend.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Kyverno options")]
pub struct KyvernoArgs {
    /// How validating rules are written.
    #[arg(long = "kyverno-style", value_enum, default_value_t = Style::Auto)]
    pub kyverno_style: Style,
    /// `failureAction` of every validate rule.
    #[arg(long = "kyverno-mode", value_enum, default_value_t = Mode::Audit)]
    pub kyverno_mode: Mode,
    /// Also scan existing resources (`spec.background: true`).
    #[arg(long = "kyverno-background")]
    pub kyverno_background: bool,
    /// Do not generate rules for pod controllers (`pod-policies.kyverno.io/autogen-controllers: none`).
    #[arg(long = "kyverno-no-autogen")]
    pub kyverno_no_autogen: bool,
}

/// Golden files of this backend (see [`super::golden_files`]).
pub const GOLDEN_FILES: &[(&str, &[&str])] = &[("kyverno.yaml", &["--to", "kyverno"])];

/// The container lists of a pod spec, in Kyverno's usual order.
const CONTAINER_LISTS: [&str; 3] = ["ephemeralContainers", "initContainers", "containers"];
/// JMESPath over every container.
const ALL_CONTAINERS: &str =
    "request.object.spec.[ephemeralContainers, initContainers, containers][]";

pub fn emit(input: &Input<'_>, args: &KyvernoArgs) -> Result<Emitted, crate::Error> {
    let env = crate::render::environment(input.common.templates.as_deref());
    let mut out = Emitted::default();
    let mut docs = Vec::new();
    for p in input.policies {
        let (policy, fidelity) = policy_for(p, input, args);
        let body = crate::load::to_yaml(&policy);
        let comment = fidelity_comment(&fidelity, "# ");
        let fid_lines: Vec<&str> = comment.lines().collect();
        let text = crate::render::render(
            &env,
            "kyverno/clusterpolicy.yaml.j2",
            minijinja::context! {
                source => super::single_line(&p.name),
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

fn policy_name(p: &Policy) -> String {
    format!("psp-{}", k8s_name(&p.name))
}

fn policy_for(p: &Policy, input: &Input<'_>, args: &KyvernoArgs) -> (Value, Vec<FidelityEntry>) {
    let name = policy_name(p);
    let mut fidelity = Vec::new();
    let mut rules = Vec::new();
    let action = match args.kyverno_mode {
        Mode::Audit => "Audit",
        Mode::Enforce => "Enforce",
    };
    let mut fid = |field: &str, f: Fidelity, note: &str| {
        fidelity.push(FidelityEntry {
            policy: p.name.clone(),
            field: field.to_string(),
            fidelity: f,
            note: note.to_string(),
        })
    };
    if p.images.is_empty() {
    } else {
        fid(
            "metadata.annotations[falco-rules-psp-images]",
            Fidelity::Unsupported,
            "per-image scoping is not translated; the rules apply to every container",
        );
    }
    // Mutations first: Kyverno applies mutate rules before validate rules, as PSP did.
    for d in &p.defaults {
        let field = d.provenance.field.as_str();
        match mutation(&d.action) {
            Some((patch, f, note)) => {
                fid(field, f, note);
                rules.push(json!({
                    "name": rule_name(&name, d.action.kind_name()),
                    "match": match_pods(),
                    "mutate": {"patchStrategicMerge": patch},
                }));
            }
            None => fid(
                field,
                Fidelity::Unsupported,
                "no mutation is generated for this defaulting field",
            ),
        }
    }
    let style = args.kyverno_style;
    if style == Style::PodSecurity && matches!(p.origin, Origin::Psp { .. }) {
        let report = crate::fit::fit(p, input.common.pss_version);
        let level = report.safe_level;
        let version = format!("v1.{}", pss_minor(input));
        for r in &p.rules {
            fid(
                &r.provenance.field,
                Fidelity::Approximated,
                &format!(
                    "enforced as PSS level `{level}` (`podSecurity`), which admits pods the PSP rejected where the PSP is stricter"
                ),
            );
        }
        rules.push(json!({
            "name": rule_name(&name, "pod-security"),
            "match": match_pods(),
            "validate": {
                "failureAction": action,
                "message": format!("pods must meet the Pod Security Standards `{level}` level (replaces PodSecurityPolicy `{}`)", p.name),
                "podSecurity": {"level": level.as_str(), "version": version},
            },
        }));
    } else {
        for r in &p.rules {
            let field = r.provenance.field.as_str();
            match validation(r) {
                Some((v, f, note)) => {
                    fid(field, f, &note);
                    let mut validate = Map::new();
                    validate.insert("failureAction".into(), json!(action));
                    validate.insert(
                        "message".into(),
                        json!(format!(
                            "PodSecurityPolicy `{}` field `{}`: {}",
                            p.name,
                            field,
                            message(&r.constraint)
                        )),
                    );
                    if let Value::Object(m) = v {
                        validate.extend(m);
                    }
                    rules.push(json!({
                        "name": rule_name(&name, r.constraint.kind_name()),
                        "match": match_pods(),
                        "validate": Value::Object(validate),
                    }));
                }
                None => fid(
                    field,
                    Fidelity::Unsupported,
                    &note_unsupported(&r.constraint),
                ),
            }
        }
    }
    let mut annotations = Map::new();
    annotations.insert(
        "policies.kyverno.io/title".into(),
        json!(format!("PodSecurityPolicy {}", p.name)),
    );
    annotations.insert(
        "policies.kyverno.io/description".into(),
        json!(format!(
            "Generated by polytrans from PodSecurityPolicy `{}`. Applies cluster-wide: no RBAC scoping was derived (the PSP applied to every pod whose creator or service account could `use` it).",
            p.name
        )),
    );
    annotations.insert("polytrans.dev/scope".into(), json!("cluster-wide"));
    if args.kyverno_no_autogen {
        annotations.insert(
            "pod-policies.kyverno.io/autogen-controllers".into(),
            json!("none"),
        );
    }
    let policy = json!({
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": name, "annotations": Value::Object(annotations)},
        "spec": {
            "validationFailureAction": action,
            "background": args.kyverno_background,
            "rules": rules,
        },
    });
    (policy, fidelity)
}

fn pss_minor(input: &Input<'_>) -> u32 {
    let v = format!("{:?}", input.common.pss_version);
    v.chars()
        .filter(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .ok()
        .filter(|m: &u32| *m > 0 && *m <= 32)
        .unwrap_or(32)
}

fn rule_name(policy: &str, kind: &str) -> String {
    // Kyverno rule names are at most 63 characters.
    let mut n = format!("{policy}-{kind}");
    if n.len() > 63 {
        n.truncate(63);
        n = n.trim_end_matches('-').to_string();
    }
    n
}

fn match_pods() -> Value {
    json!({"any": [{"resources": {"kinds": ["Pod"]}}]})
}

/// Pattern text for a union of ranges: `"1-10 | 20"`.
fn ranges_pattern(ranges: &[IdRange]) -> String {
    ranges
        .iter()
        .map(|r| {
            if r.min == r.max {
                r.min.to_string()
            } else {
                format!("{}-{}", r.min, r.max)
            }
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// `=(list): [ {=(securityContext): inner} ]` for every container list.
fn every_container(inner: Value, sc_required: bool) -> Value {
    let mut spec = Map::new();
    for list in CONTAINER_LISTS {
        let sc_key = if sc_required && list == "containers" {
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
        "value": values,
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
        || names
            .iter()
            .any(|n| n.is_empty() || n.contains(['|', '&', '!', '<', '>', '?']))
    {
        return None;
    }
    Some(names.join(" | "))
}

fn validation(r: &Rule) -> Option<(Value, Fidelity, String)> {
    use Fidelity::*;
    let exact = |v: Value| Some((v, Exact, String::new()));
    if !r.unless.is_empty() {
        return None;
    }
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
            let (op, mut names) = set_names(allowed)?;
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
        Constraint::HostPaths { allowed } => {
            if allowed.is_empty() {
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
            let ro = allowed.iter().any(|h| h.read_only);
            let note = if ro {
                "paths are matched by component; `readOnly` prefixes are not enforced on volume mounts".to_string()
            } else {
                "paths are matched by component with Kyverno wildcards".to_string()
            };
            Some((
                pattern(json!({"=(volumes)": [{"=(hostPath)": {"path": alt}}]})),
                if ro { Approximated } else { Exact },
                note,
            ))
        }
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
                    "key": required,
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
                    let alt = alternatives(&set)?;
                    opts.insert(format!("=({k})"), json!(alt));
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
                    "value": names,
                }));
            }
            if !forbidden.is_empty() {
                any.push(json!({
                    "key": "{{ request.object.spec.securityContext.sysctls[].name || `[]` }}",
                    "operator": "AnyIn",
                    "value": forbidden,
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
            let unset_ok = v.iter().any(|s| s.is_empty());
            let names: Vec<String> = v.iter().filter(|s| !s.is_empty()).cloned().collect();
            if names.is_empty() {
                return exact(pattern(json!({"X(runtimeClassName)": "null"})));
            }
            let alt = alternatives(&names)?;
            let key = if unset_ok {
                "=(runtimeClassName)"
            } else {
                "runtimeClassName"
            };
            exact(pattern(json!({ key: alt })))
        }
        Constraint::Seccomp { .. } | Constraint::AppArmor { .. } => None,
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
        Constraint::Seccomp { .. } => {
            "seccomp profiles (annotations and fields) are not translated yet".into()
        }
        Constraint::AppArmor { .. } => "AppArmor profiles are not translated yet".into(),
        Constraint::ProbeHost { .. } => "probe and lifecycle hosts are not translated".into(),
        Constraint::HostProcess { allowed: true }
        | Constraint::Privileged { allowed: true }
        | Constraint::HostNamespace { allowed: true, .. } => "allowed: no rule needed".into(),
        _ => "this constraint has no Kyverno rule (values cannot be written as a pattern)".into(),
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
        c => format!("{} is not allowed", c.kind_name()),
    }
}

fn mutation(a: &DefaultAction) -> Option<(Value, Fidelity, &'static str)> {
    use Fidelity::*;
    // Only regular containers: a conditional `(name)` anchor on an absent init or ephemeral
    // container list is not portable across Kyverno versions.
    let containers =
        |inner: Value| json!({"spec": {"containers": [{"(name)": "*", "securityContext": inner}]}});
    match a {
        DefaultAction::AllowPrivilegeEscalation { value } => Some((
            containers(json!({"+(allowPrivilegeEscalation)": value})),
            Approximated,
            "init and ephemeral containers are not defaulted",
        )),
        DefaultAction::ReadOnlyRootFilesystem => Some((
            containers(json!({"+(readOnlyRootFilesystem)": true})),
            Approximated,
            "init and ephemeral containers are not defaulted",
        )),
        DefaultAction::RunAsNonRoot => Some((
            json!({"spec": {"securityContext": {"+(runAsNonRoot)": true}}}),
            Approximated,
            "set at pod level; a container-level runAsUser no longer suppresses it",
        )),
        DefaultAction::RunAsUser { value } => Some((
            json!({"spec": {"securityContext": {"+(runAsUser)": value}}}),
            Exact,
            "",
        )),
        DefaultAction::GroupId { field, value } => {
            let v = match field {
                GroupField::SupplementalGroups => json!([value]),
                _ => json!(value),
            };
            Some((
                json!({"spec": {"securityContext": { format!("+({})", field.as_str()): v }}}),
                Exact,
                "",
            ))
        }
        DefaultAction::RuntimeClass { name } => {
            Some((json!({"spec": {"+(runtimeClassName)": name}}), Exact, ""))
        }
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
                    o.insert(k.into(), json!(v));
                }
            }
            Some((
                json!({"spec": {"securityContext": {"+(seLinuxOptions)": Value::Object(o)}}}),
                Exact,
                "",
            ))
        }
        DefaultAction::SeccompProfile { profile } => {
            let sp = if profile == "runtime/default" || profile == "docker/default" {
                json!({"type": "RuntimeDefault"})
            } else if let Some(p) = profile.strip_prefix("localhost/") {
                json!({"type": "Localhost", "localhostProfile": p})
            } else if profile == "unconfined" {
                json!({"type": "Unconfined"})
            } else {
                return None;
            };
            Some((
                json!({"spec": {"securityContext": {"+(seccompProfile)": sp}}}),
                Approximated,
                "written as the pod's seccompProfile field, not the deprecated annotation",
            ))
        }
        DefaultAction::AddCapabilities { .. }
        | DefaultAction::DropCapabilities { .. }
        | DefaultAction::AppArmorProfile { .. } => None,
    }
}

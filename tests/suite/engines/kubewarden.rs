//! A test-only Kubewarden: the PSP policy modules polytrans writes settings for, each evaluated
//! as its source at the pinned version does (kubewarden/policies, `policies/<module>-policy/`;
//! read, not copied), and the policy server's handling of their answers:
//!
//! - a policy returns accept, reject, or a mutated object; a mutation whose JSON Patch is empty
//!   is no mutation (`policy-evaluator/src/admission_response.rs`);
//! - `mode: monitor` accepts and drops patches; `mutating: false` in protect mode turns a
//!   mutation into a rejection (`admission_response_handler.rs`, `apply_mutation_constraint`);
//! - mutating policies run first, in the order of their webhook configuration names
//!   (`clusterwide-<name>`, as the API server orders webhooks), each on the previous one's
//!   output; then validating policies and groups on the final object;
//! - group members never mutate (`evaluation_environment.rs`: `allowed_to_mutate: false`), so a
//!   member that would mutate counts as rejecting; the group's expression is evaluated over the
//!   members' verdicts (only the `||`/`&&`/`()`/`true` form polytrans writes is parsed).
//!
//! Objects are JSON values as the API server sends them (Go's `omitempty` drops a `hostPort` of
//! 0, so 0 is read as absent).

use serde_json::{Value, json};
use std::collections::BTreeSet;

/// What a module answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Accept,
    Reject(String),
    /// The whole object after mutation (may equal the input: then there is no patch).
    Mutate(Value),
}

/// One `ClusterAdmissionPolicy`.
#[derive(Clone)]
pub struct AdmissionPolicy {
    pub name: String,
    /// The module name (`pod-privileged`, …).
    pub module: String,
    pub settings: Value,
    pub mutating: bool,
    pub monitor: bool,
    pub resources: BTreeSet<String>,
    pub selector: Value,
    /// `spec.matchConditions` expressions (CEL, run with `cel-interpreter`), compiled.
    pub match_conditions: Vec<std::rc::Rc<crate::engines::cel::Program>>,
    /// cel-policy settings, compiled once.
    pub cel: Option<std::rc::Rc<crate::engines::cel::Compiled>>,
}

/// One `ClusterAdmissionPolicyGroup`.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub members: Vec<(String, String, Value)>,
    pub expression: String,
    pub monitor: bool,
    pub resources: BTreeSet<String>,
    pub selector: Value,
}

/// Everything one output holds.
#[derive(Clone, Default)]
pub struct Output {
    pub policies: Vec<AdmissionPolicy>,
    pub groups: Vec<Group>,
}

fn module_name(reference: &str) -> String {
    // registry://ghcr.io/kubewarden/policies/<name>:v<version>
    let last = reference.rsplit('/').next().unwrap_or_default();
    last.split(':').next().unwrap_or_default().to_string()
}

fn resources(spec: &Value) -> BTreeSet<String> {
    spec["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["resources"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r.as_str().map(String::from))
        .collect()
}

impl Output {
    pub fn from_text(text: &str) -> Output {
        let mut out = Output::default();
        for d in polytrans::load::yaml_documents(text).unwrap_or_else(|e| panic!("{e}\n{text}")) {
            let spec = &d["spec"];
            let name = d["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let monitor = spec["mode"].as_str() == Some("monitor");
            match d["kind"].as_str() {
                Some("ClusterAdmissionPolicy") => out.policies.push(AdmissionPolicy {
                    name,
                    cel: (module_name(spec["module"].as_str().unwrap_or_default()) == "cel-policy")
                        .then(|| compile_cel_policy(&spec["settings"])),
                    module: module_name(spec["module"].as_str().unwrap_or_default()),
                    settings: spec["settings"].clone(),
                    mutating: spec["mutating"].as_bool().unwrap_or(false),
                    monitor,
                    resources: resources(spec),
                    selector: spec["namespaceSelector"].clone(),
                    match_conditions: spec["matchConditions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c["expression"].as_str())
                        .map(program)
                        .collect(),
                }),
                Some("ClusterAdmissionPolicyGroup") => out.groups.push(Group {
                    name,
                    members: spec["policies"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                module_name(v["module"].as_str().unwrap_or_default()),
                                v["settings"].clone(),
                            )
                        })
                        .collect(),
                    expression: spec["expression"].as_str().unwrap_or_default().to_string(),
                    monitor,
                    resources: resources(spec),
                    selector: spec["namespaceSelector"].clone(),
                }),
                _ => {}
            }
        }
        out
    }

    /// Whether the object is admitted (after the mutating policies), with the final object.
    pub fn review(&self, obj: &Value) -> (bool, Value, Vec<String>) {
        let mut obj = obj.clone();
        let mut why = Vec::new();
        let resource = resource_of(&obj);
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let applies = |res: &BTreeSet<String>, sel: &Value| {
            res.contains(&resource) && selector_matches(sel, &ns)
        };
        let conditions = |p: &AdmissionPolicy, obj: &Value| {
            p.match_conditions.iter().all(|e| match_condition(e, obj))
        };
        let evaluate_policy = |p: &AdmissionPolicy, obj: &Value| match &p.cel {
            Some(c) => run_cel_policy(c, obj),
            None => evaluate(&p.module, &p.settings, obj),
        };
        let mut mutating: Vec<&AdmissionPolicy> = self
            .policies
            .iter()
            .filter(|p| p.mutating && applies(&p.resources, &p.selector))
            .collect();
        mutating.sort_by(|a, b| a.name.cmp(&b.name));
        for p in mutating {
            // The API server evaluates each webhook's match conditions on the object as the
            // previous webhooks left it.
            if !conditions(p, &obj) {
                continue;
            }
            match evaluate_policy(p, &obj) {
                _ if p.monitor => {}
                Response::Accept => {}
                Response::Reject(m) => why.push(format!("{}: {m}", p.name)),
                Response::Mutate(m) => obj = m,
            }
            if !why.is_empty() {
                return (false, obj, why);
            }
        }
        for p in self
            .policies
            .iter()
            .filter(|p| !p.mutating && applies(&p.resources, &p.selector) && conditions(p, &obj))
        {
            if p.monitor {
                continue;
            }
            match evaluate_policy(p, &obj) {
                Response::Accept => {}
                // One reason a line (cel-policy: one a failed validation).
                Response::Reject(m) => why.extend(m.lines().map(|l| format!("{}: {l}", p.name))),
                Response::Mutate(m) if m != obj => {
                    why.push(format!("{}: not allowed to mutate", p.name))
                }
                Response::Mutate(_) => {}
            }
        }
        for g in self
            .groups
            .iter()
            .filter(|g| applies(&g.resources, &g.selector))
        {
            let verdicts: Vec<(String, bool)> = g
                .members
                .iter()
                .map(|(n, m, s)| {
                    let ok = match evaluate(m, s, &obj) {
                        Response::Accept => true,
                        Response::Reject(_) => false,
                        Response::Mutate(x) => x == obj,
                    };
                    (n.clone(), ok)
                })
                .collect();
            if !g.monitor && !expression(&g.expression, &verdicts) {
                why.push(format!("{}: group expression false", g.name));
            }
        }
        (why.is_empty(), obj, why)
    }

    pub fn admits(&self, obj: &Value) -> bool {
        self.review(obj).0
    }
}

/// A `matchConditions` expression on the object (the API server evaluates them before calling
/// the webhook; Kubewarden passes them on to the webhook configuration).
fn match_condition(program: &crate::engines::cel::Program, obj: &Value) -> bool {
    let mut ctx = crate::engines::cel::context();
    ctx.add_variable_from_value("object", crate::engines::cel::to_cel(obj));
    match program.execute(&ctx) {
        Ok(cel_interpreter::Value::Bool(b)) => b,
        other => panic!("match condition: {other:?}"),
    }
}

fn program(expr: &str) -> std::rc::Rc<crate::engines::cel::Program> {
    std::rc::Rc::new(
        crate::engines::cel::Program::compile(expr).unwrap_or_else(|e| panic!("{expr}: {e:?}")),
    )
}

fn resource_of(obj: &Value) -> String {
    match obj["kind"].as_str().unwrap_or("Pod") {
        "Pod" => "pods",
        "Deployment" => "deployments",
        "ReplicaSet" => "replicasets",
        "StatefulSet" => "statefulsets",
        "DaemonSet" => "daemonsets",
        "Job" => "jobs",
        "CronJob" => "cronjobs",
        "ReplicationController" => "replicationcontrollers",
        other => panic!("unexpected kind {other}"),
    }
    .into()
}

/// `matchExpressions` with `In`/`NotIn` on `kubernetes.io/metadata.name` (what polytrans
/// writes); no selector matches everything.
pub fn selector_matches(sel: &Value, ns: &str) -> bool {
    sel["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            assert_eq!(e["key"], "kubernetes.io/metadata.name");
            let listed = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|v| v.as_str() == Some(ns));
            match e["operator"].as_str() {
                Some("In") => listed,
                Some("NotIn") => !listed,
                o => panic!("operator {o:?}"),
            }
        })
}

/// Evaluates `a() && b() || (c() && true)` over member verdicts.
pub fn expression(expr: &str, verdicts: &[(String, bool)]) -> bool {
    let tokens: Vec<String> = expr
        .replace('(', " ( ")
        .replace(')', " ) ")
        .split_whitespace()
        .map(String::from)
        .collect();
    let mut pos = 0;
    let v = parse_or(&tokens, &mut pos, verdicts);
    assert_eq!(pos, tokens.len(), "trailing tokens in `{expr}`");
    v
}

fn parse_or(t: &[String], pos: &mut usize, vs: &[(String, bool)]) -> bool {
    let mut v = parse_and(t, pos, vs);
    while t.get(*pos).map(String::as_str) == Some("||") {
        *pos += 1;
        let r = parse_and(t, pos, vs);
        v = v || r;
    }
    v
}

fn parse_and(t: &[String], pos: &mut usize, vs: &[(String, bool)]) -> bool {
    let mut v = parse_atom(t, pos, vs);
    while t.get(*pos).map(String::as_str) == Some("&&") {
        *pos += 1;
        let r = parse_atom(t, pos, vs);
        v = v && r;
    }
    v
}

fn parse_atom(t: &[String], pos: &mut usize, vs: &[(String, bool)]) -> bool {
    let tok = t[*pos].clone();
    *pos += 1;
    if tok == "(" {
        // `name ( )` is a call: the tokenizer split `name()` into `name`, `(`, `)`.
        let v = parse_or(t, pos, vs);
        assert_eq!(t[*pos], ")");
        *pos += 1;
        return v;
    }
    if tok == "true" {
        return true;
    }
    assert_eq!(t[*pos], "(", "call expected after `{tok}`");
    assert_eq!(t[*pos + 1], ")");
    *pos += 2;
    vs.iter()
        .find(|(n, _)| *n == tok)
        .unwrap_or_else(|| panic!("unknown member `{tok}`"))
        .1
}

// ---------------------------------------------------------------------------------------------
// The modules.

/// The pod spec of a Pod or a workload (the SDKs' `extract_pod_spec_from_object`), as a JSON
/// pointer.
fn pod_spec_pointer(obj: &Value) -> Option<&'static str> {
    match obj["kind"].as_str().unwrap_or("Pod") {
        "Pod" => Some("/spec"),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => Some("/spec/template/spec"),
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

/// Modules that deserialise the object as a `Pod`: any other kind fails to parse (a workload's
/// `spec` has no `containers`) and is accepted.
fn is_pod(obj: &Value) -> bool {
    obj["kind"].as_str().unwrap_or("Pod") == "Pod"
}

fn list<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    v[key]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn strset(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(String::from))
        .collect()
}

fn mutate_spec(obj: &Value, ptr: &str, spec: Value) -> Response {
    let mut o = obj.clone();
    *o.pointer_mut(ptr).unwrap() = spec;
    Response::Mutate(o)
}

/// Evaluates one module on an object.
pub fn evaluate(module: &str, settings: &Value, obj: &Value) -> Response {
    let s = if settings.is_null() {
        &Value::Null
    } else {
        settings
    };
    match module {
        "pod-privileged" => pod_privileged(s, obj),
        "allow-privilege-escalation-psp" => allow_privilege_escalation(s, obj),
        "host-namespaces-psp" => host_namespaces(s, obj),
        "capabilities-psp" => capabilities(s, obj),
        "user-group-psp" => user_group(s, obj),
        "allowed-fsgroups-psp" => fsgroups(s, obj),
        "selinux-psp" => selinux(s, obj),
        "volumes-psp" => volumes(s, obj),
        "hostpaths-psp" => hostpaths(s, obj),
        "flexvolume-drivers-psp" => flexvolume(s, obj),
        "readonly-root-filesystem-psp" => readonly_root(obj),
        "allowed-proc-mount-types-psp" => proc_mount(s, obj),
        "seccomp-psp" => seccomp(s, obj),
        "apparmor-psp" => apparmor(s, obj),
        "sysctl-psp" => sysctl(s, obj),
        "pod-runtime" => pod_runtime(s, obj),
        "cel-policy" => cel_policy(s, obj),
        other => panic!("no evaluator for module {other}"),
    }
}

/// pod-privileged `src/lib.rs` `validate_pod`.
fn pod_privileged(s: &Value, obj: &Value) -> Response {
    let Some(ptr) = pod_spec_pointer(obj) else {
        return Response::Accept;
    };
    let spec = obj.pointer(ptr).cloned().unwrap_or(Value::Null);
    let privileged = |c: &&Value| c["securityContext"]["privileged"].as_bool() == Some(true);
    if list(&spec, "containers").iter().any(privileged) {
        return Response::Reject("Privileged container is not allowed".into());
    }
    if s["skip_init_containers"].as_bool() != Some(true)
        && list(&spec, "initContainers").iter().any(privileged)
    {
        return Response::Reject("Privileged init container is not allowed".into());
    }
    if s["skip_ephemeral_containers"].as_bool() != Some(true)
        && list(&spec, "ephemeralContainers").iter().any(privileged)
    {
        return Response::Reject("Privileged ephemeral container is not allowed".into());
    }
    Response::Accept
}

/// allow-privilege-escalation-psp `src/lib.rs` `validate`, `patch_containers` (default
/// `default_allow_privilege_escalation: true`).
fn allow_privilege_escalation(s: &Value, obj: &Value) -> Response {
    let Some(ptr) = pod_spec_pointer(obj) else {
        return Response::Accept;
    };
    let mut spec = obj.pointer(ptr).cloned().unwrap_or(Value::Null);
    let default_allow = s["default_allow_privilege_escalation"]
        .as_bool()
        .unwrap_or(true);
    let escalates =
        |c: &Value| c["securityContext"]["allowPrivilegeEscalation"].as_bool() == Some(true);
    let mut errors = Vec::new();
    if list(&spec, "initContainers").iter().any(|c| escalates(c)) {
        errors.push("one of the init containers has privilege escalation enabled");
    }
    if list(&spec, "containers").iter().any(|c| escalates(c)) {
        errors.push("one of the containers has privilege escalation enabled");
    }
    if !errors.is_empty() {
        return Response::Reject(errors.join(", "));
    }
    if default_allow {
        return Response::Accept;
    }
    let mut changed = false;
    for key in ["initContainers", "containers"] {
        if let Some(cs) = spec[key].as_array_mut() {
            for c in cs {
                if c["securityContext"]["allowPrivilegeEscalation"].as_bool() != Some(false) {
                    changed = true;
                    if !c["securityContext"].is_object() {
                        c["securityContext"] = json!({});
                    }
                    c["securityContext"]["allowPrivilegeEscalation"] = json!(false);
                }
            }
        }
    }
    if changed {
        mutate_spec(obj, ptr, spec)
    } else {
        Response::Accept
    }
}

/// host-namespaces-psp `src/lib.rs` `validate_pod_spec`.
fn host_namespaces(s: &Value, obj: &Value) -> Response {
    let Some(ptr) = pod_spec_pointer(obj) else {
        return Response::Accept;
    };
    let spec = obj.pointer(ptr).cloned().unwrap_or(Value::Null);
    let allow = |k: &str| s[k].as_bool().unwrap_or(false);
    if spec["hostIPC"].as_bool() == Some(true) && !allow("allow_host_ipc") {
        return Response::Reject("Pod has IPC enabled, but this is not allowed".into());
    }
    if spec["hostNetwork"].as_bool() == Some(true) && !allow("allow_host_network") {
        return Response::Reject("Pod has host network enabled, but this is not allowed".into());
    }
    if spec["hostPID"].as_bool() == Some(true) && !allow("allow_host_pid") {
        return Response::Reject("Pod has host PID enabled, but this is not allowed".into());
    }
    let ranges: Vec<(i64, i64)> = list(s, "allow_host_ports")
        .iter()
        .map(|r| (r["min"].as_i64().unwrap(), r["max"].as_i64().unwrap()))
        .collect();
    let ok = |cs: Vec<&Value>| {
        cs.iter().all(|c| {
            list(c, "ports")
                .iter()
                .all(|p| match p["hostPort"].as_i64() {
                    Some(hp) if hp != 0 => ranges.iter().any(|(lo, hi)| *lo <= hp && hp <= *hi),
                    _ => true,
                })
        })
    };
    if !ok(list(&spec, "initContainers")) {
        return Response::Reject("Pod is using unallowed host ports in init containers".into());
    }
    if !ok(list(&spec, "containers")) {
        return Response::Reject("Pod is using unallowed host ports in containers".into());
    }
    Response::Accept
}

/// capabilities-psp `src/validate.rs` `validate_added_caps`, then `src/mutate.rs`
/// `patch_object` (a container it leaves unchanged gets no `securityContext`).
fn capabilities(s: &Value, obj: &Value) -> Response {
    let Some(ptr) = pod_spec_pointer(obj) else {
        return Response::Accept;
    };
    let mut spec = obj.pointer(ptr).cloned().unwrap_or(Value::Null);
    let allowed = strset(&s["allowed_capabilities"]);
    let drop = strset(&s["required_drop_capabilities"]);
    let default_add = strset(&s["default_add_capabilities"]);
    let mut added = BTreeSet::new();
    for key in ["containers", "initContainers"] {
        for c in list(&spec, key) {
            added.extend(strset(&c["securityContext"]["capabilities"]["add"]));
        }
    }
    if !allowed.contains("*") {
        let not_allowed: Vec<&String> = added.difference(&allowed).collect();
        if !not_allowed.is_empty() {
            return Response::Reject(format!(
                "PSP capabilities policies doesn't allow these capabilities to be added: {not_allowed:?}"
            ));
        }
    }
    let must_drop: Vec<&String> = added.intersection(&drop).collect();
    if !must_drop.is_empty() {
        return Response::Reject(format!(
            "PSP capabilities policies doesn't allow these capabilities to be added because they are on the `required_drop_capabilities` list: {must_drop:?}"
        ));
    }
    let mut changed = false;
    for key in ["containers", "initContainers"] {
        if let Some(cs) = spec[key].as_array_mut() {
            for c in cs {
                let mut sc = if c["securityContext"].is_object() {
                    c["securityContext"].clone()
                } else {
                    json!({"capabilities": {"add": [], "drop": []}})
                };
                if !sc["capabilities"].is_object() {
                    sc["capabilities"] = json!({});
                }
                let mut this = false;
                for (k, want) in [("add", &default_add), ("drop", &drop)] {
                    let mut cur: Vec<Value> = sc["capabilities"][k]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let have = strset(&Value::Array(cur.clone()));
                    for n in want.difference(&have) {
                        cur.push(json!(n));
                        this = true;
                    }
                    sc["capabilities"][k] = Value::Array(cur);
                }
                if this {
                    c["securityContext"] = sc;
                    changed = true;
                } else if let Some(o) = c.as_object_mut() {
                    o.remove("securityContext");
                }
            }
        }
    }
    if changed {
        mutate_spec(obj, ptr, spec)
    } else {
        Response::Accept
    }
}

fn in_ranges(rule: &Value, id: i64) -> bool {
    list(rule, "ranges")
        .iter()
        .any(|r| r["min"].as_i64().unwrap_or(0) <= id && id <= r["max"].as_i64().unwrap_or(0))
}

/// user-group-psp `enforce_run_as_user_rule` on one security context (container or pod):
/// `Ok(Some(new))` when it sets a value.
fn run_as_user_rule(s: &Value, sc: &Value) -> Result<Option<Value>, String> {
    let rule = &s["run_as_user"];
    let validate_only = s["validate_only"].as_bool().unwrap_or(false);
    let mut sc = if sc.is_object() {
        sc.clone()
    } else {
        json!({})
    };
    match rule["rule"].as_str() {
        Some("MustRunAs") => {
            let overwrite = rule["overwrite"].as_bool().unwrap_or(false);
            if overwrite || (sc["runAsUser"].is_null() && !validate_only) {
                sc["runAsUser"] = list(rule, "ranges")[0]["min"].clone();
                return Ok(Some(sc));
            }
            if let Some(u) = sc["runAsUser"].as_i64() {
                if !in_ranges(rule, u) {
                    return Err("User ID outside defined ranges".into());
                }
            }
            if validate_only {
                return Err("Missing user ID".into());
            }
        }
        Some("MustRunAsNonRoot") => {
            if sc["runAsNonRoot"].as_bool() == Some(false) {
                return Err("RunAsNonRoot should be set to true".into());
            }
            if sc["runAsUser"].as_i64() == Some(0) {
                return Err("Cannot use root user ID".into());
            }
            if validate_only {
                return Err("RunAsNonRoot should be set to true".into());
            }
            sc["runAsNonRoot"] = json!(true);
            return Ok(Some(sc));
        }
        _ => {}
    }
    Ok(None)
}

/// user-group-psp `enforce_run_as_group`.
fn run_as_group_rule(s: &Value, sc: &Value) -> Result<Option<Value>, String> {
    let rule = &s["run_as_group"];
    let validate_only = s["validate_only"].as_bool().unwrap_or(false);
    let mut sc = if sc.is_object() {
        sc.clone()
    } else {
        json!({})
    };
    match rule["rule"].as_str() {
        Some("MustRunAs") => {
            let overwrite = rule["overwrite"].as_bool().unwrap_or(false);
            if overwrite || (sc["runAsGroup"].is_null() && !validate_only) {
                sc["runAsGroup"] = list(rule, "ranges")[0]["min"].clone();
                return Ok(Some(sc));
            }
            if let Some(g) = sc["runAsGroup"].as_i64() {
                if !in_ranges(rule, g) {
                    return Err("Group ID outside defined ranges".into());
                }
            }
            if validate_only {
                return Err("Missing group ID".into());
            }
        }
        Some("MayRunAs") => {
            if let Some(g) = sc["runAsGroup"].as_i64() {
                if !in_ranges(rule, g) {
                    return Err("Group ID outside defined ranges".into());
                }
            }
        }
        _ => {}
    }
    Ok(None)
}

/// user-group-psp `validate`: init containers, containers, the pod (only when a container was
/// mutated), then supplemental groups.
fn user_group(s: &Value, obj: &Value) -> Response {
    let Some(ptr) = pod_spec_pointer(obj) else {
        return Response::Accept;
    };
    let mut spec = obj.pointer(ptr).cloned().unwrap_or(Value::Null);
    let mut mutated = false;
    let both = |sc: &mut Value, mutated: &mut bool| -> Result<(), String> {
        if let Some(n) = run_as_user_rule(s, sc)? {
            *sc = n;
            *mutated = true;
        }
        if let Some(n) = run_as_group_rule(s, sc)? {
            *sc = n;
            *mutated = true;
        }
        Ok(())
    };
    for key in ["initContainers", "containers"] {
        if let Some(cs) = spec[key].as_array_mut() {
            for c in cs {
                let mut sc = c["securityContext"].clone();
                let mut m = false;
                if let Err(e) = both(&mut sc, &mut m) {
                    return Response::Reject(e);
                }
                if m {
                    c["securityContext"] = sc;
                    mutated = true;
                }
            }
        }
    }
    if mutated {
        let mut sc = spec["securityContext"].clone();
        let mut m = false;
        if let Err(e) = both(&mut sc, &mut m) {
            return Response::Reject(e);
        }
        if m {
            spec["securityContext"] = sc;
        }
    }
    // enforce_supplemental_groups
    let rule = &s["supplemental_groups"];
    let validate_only = s["validate_only"].as_bool().unwrap_or(false);
    let groups = spec["securityContext"]["supplementalGroups"].clone();
    let check = |groups: &Value| -> Result<(), String> {
        for g in groups.as_array().into_iter().flatten() {
            if !in_ranges(rule, g.as_i64().unwrap_or(0)) {
                return Err("Group ID outside defined ranges".into());
            }
        }
        Ok(())
    };
    match rule["rule"].as_str() {
        Some("MustRunAs") => {
            let overwrite = rule["overwrite"].as_bool().unwrap_or(false);
            if overwrite || (groups.is_null() && !validate_only) {
                if !spec["securityContext"].is_object() {
                    spec["securityContext"] = json!({});
                }
                spec["securityContext"]["supplementalGroups"] =
                    json!([list(rule, "ranges")[0]["min"]]);
                mutated = true;
            } else {
                if let Err(e) = check(&groups) {
                    return Response::Reject(e);
                }
                if validate_only {
                    return Response::Reject("Missing supplemental group ID".into());
                }
            }
        }
        Some("MayRunAs") => {
            if let Err(e) = check(&groups) {
                return Response::Reject(e);
            }
        }
        _ => {}
    }
    if mutated {
        mutate_spec(obj, ptr, spec)
    } else {
        Response::Accept
    }
}

/// allowed-fsgroups-psp `src/lib.rs` `do_validate` (Pods only; the defaulting replaces the
/// pod's `securityContext` with `{fsGroup: min}`).
fn fsgroups(s: &Value, obj: &Value) -> Response {
    if !is_pod(obj) {
        return Response::Accept;
    }
    let fs = obj["spec"]["securityContext"]["fsGroup"].as_i64();
    let check = |g: i64| {
        if in_ranges(s, g) {
            Response::Accept
        } else {
            Response::Reject(format!("fsGroup {g} is not included in any range"))
        }
    };
    match s["rule"].as_str() {
        Some("MustRunAs") => match fs {
            Some(g) => check(g),
            None => {
                let mut o = obj.clone();
                o["spec"]["securityContext"] = json!({"fsGroup": list(s, "ranges")[0]["min"]});
                Response::Mutate(o)
            }
        },
        Some("MayRunAs") => fs.map_or(Response::Accept, check),
        _ => Response::Accept,
    }
}

/// selinux-psp `SELinuxLevel` equality: the same text, or the same sensitivity and category set.
fn level_eq(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let split = |l: &str| -> Option<(String, BTreeSet<String>)> {
        let parts: Vec<&str> = l.split(':').collect();
        if parts.len() != 2 {
            return None;
        }
        Some((
            parts[0].to_string(),
            parts[1].split(',').map(String::from).collect(),
        ))
    };
    match (split(a), split(b)) {
        (Some(x), Some(y)) => x == y,
        // Not `s:c` form: sensitivity and categories stay empty on both sides.
        (None, None) => true,
        _ => false,
    }
}

/// selinux-psp `is_selinux_compliant`.
fn selinux_compliant(opts: &Value, s: &Value) -> bool {
    if let (Some(want), Some(have)) = (s["level"].as_str(), opts["level"].as_str()) {
        if !level_eq(have, want) {
            return false;
        }
    }
    ["role", "type", "user"]
        .iter()
        .all(|k| opts[*k].as_str() == s[*k].as_str())
}

/// selinux-psp `src/lib.rs` `do_validate` (Pods only).
fn selinux(s: &Value, obj: &Value) -> Response {
    if !is_pod(obj) || s["rule"].as_str() != Some("MustRunAs") {
        return Response::Accept;
    }
    let mut expected = json!({});
    for k in ["level", "role", "type", "user"] {
        if let Some(v) = s[k].as_str() {
            expected[k] = json!(v);
        }
    }
    let mut spec = obj["spec"].clone();
    let reject = || Response::Reject("SELinux validation failed".into());
    if spec["securityContext"]["seLinuxOptions"].is_object() {
        if !selinux_compliant(&spec["securityContext"]["seLinuxOptions"], s) {
            return reject();
        }
    } else {
        if !spec["securityContext"].is_object() {
            spec["securityContext"] = json!({});
        }
        spec["securityContext"]["seLinuxOptions"] = expected.clone();
    }
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        if let Some(cs) = spec[key].as_array_mut() {
            for c in cs {
                if c["securityContext"]["seLinuxOptions"].is_object() {
                    if !selinux_compliant(&c["securityContext"]["seLinuxOptions"], s) {
                        return reject();
                    }
                } else {
                    if !c["securityContext"].is_object() {
                        c["securityContext"] = json!({});
                    }
                    c["securityContext"]["seLinuxOptions"] = expected.clone();
                }
            }
        }
    }
    mutate_spec(obj, "/spec", spec)
}

/// volumes-psp `validate.go` (reads `request.object.spec.volumes`: Pods only).
fn volumes(s: &Value, obj: &Value) -> Response {
    let allowed = strset(&s["allowedTypes"]);
    if allowed.is_empty() {
        return Response::Reject("No volume type is allowed".into());
    }
    if allowed.len() == 1 && allowed.contains("*") {
        return Response::Accept;
    }
    let Some(vols) = obj["spec"]["volumes"].as_array() else {
        return Response::Accept;
    };
    let mut errors = Vec::new();
    for v in vols {
        let name = v["name"].as_str().unwrap_or_default();
        // gjson ForEach: the last key other than `name` is the type.
        let ty = v
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| *k != "name")
            .map(|(k, _)| k.clone())
            .next_back()
            .unwrap_or_default();
        if !allowed.contains(&ty) {
            errors.push(format!(
                "volume '{name}' of type '{ty}' is not in the AllowedTypes list"
            ));
        }
    }
    if errors.is_empty() {
        Response::Accept
    } else {
        Response::Reject(errors.join("; "))
    }
}

fn has_path_prefix(path: &str, prefix: &str) -> bool {
    let t = |s: &str| {
        if s.ends_with('/') {
            s.to_string()
        } else {
            format!("{s}/")
        }
    };
    t(path).starts_with(&t(prefix))
}

/// hostpaths-psp `validate.go`.
fn hostpaths(s: &Value, obj: &Value) -> Response {
    let allowed: Vec<(String, bool)> = list(s, "allowedHostPaths")
        .iter()
        .map(|h| {
            (
                h["pathPrefix"].as_str().unwrap_or_default().to_string(),
                h["readOnly"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    if allowed.is_empty() {
        return Response::Accept;
    }
    let Some(ptr) = pod_spec_pointer(obj) else {
        return Response::Accept;
    };
    let spec = obj.pointer(ptr).cloned().unwrap_or(Value::Null);
    let mounts: Vec<&Value> = list(&spec, "initContainers")
        .into_iter()
        .chain(list(&spec, "containers"))
        .flat_map(|c| list(c, "volumeMounts"))
        .collect();
    let mut errors = Vec::new();
    for v in list(&spec, "volumes") {
        let Some(path) = v["hostPath"]["path"].as_str() else {
            continue;
        };
        let vname = v["name"].as_str().unwrap_or_default();
        for m in mounts.iter().filter(|m| m["name"].as_str() == Some(vname)) {
            let ro = m["readOnly"].as_bool().unwrap_or(false);
            let mut matched = false;
            let mut errs_mount: Vec<String> = Vec::new();
            let mut previous = String::new();
            for (prefix, want_ro) in &allowed {
                if has_path_prefix(path, prefix) && has_path_prefix(prefix, &previous) {
                    matched = true;
                    if ro == *want_ro {
                        errs_mount.clear();
                    } else {
                        errs_mount.push(format!(
                            "hostPath '{path}' mounted as '{vname}' should be readOnly '{want_ro}'"
                        ));
                    }
                    previous = prefix.clone();
                }
            }
            errors.extend(errs_mount);
            if !matched {
                errors.push(format!(
                    "hostPath '{path}' mounted as '{vname}' is not in the AllowedHostPaths list"
                ));
            }
        }
    }
    if errors.is_empty() {
        Response::Accept
    } else {
        Response::Reject(errors.join("; "))
    }
}

/// flexvolume-drivers-psp `src/lib.rs` (Pods only).
fn flexvolume(s: &Value, obj: &Value) -> Response {
    if !is_pod(obj) {
        return Response::Accept;
    }
    let allowed: BTreeSet<String> = list(s, "allowedFlexVolumes")
        .iter()
        .filter_map(|d| d["driver"].as_str().map(String::from))
        .collect();
    let bad = list(&obj["spec"], "volumes").iter().any(|v| {
        v["flexVolume"].is_object()
            && !allowed.contains(v["flexVolume"]["driver"].as_str().unwrap_or_default())
    });
    if bad {
        Response::Reject("Pod has at least one invalid flex volume driver".into())
    } else {
        Response::Accept
    }
}

/// readonly-root-filesystem-psp `src/lib.rs` `do_validate` (Pods only).
fn readonly_root(obj: &Value) -> Response {
    if !is_pod(obj) {
        return Response::Accept;
    }
    let not_ro = |cs: Vec<&Value>| {
        cs.iter()
            .any(|c| c["securityContext"]["readOnlyRootFilesystem"].as_bool() != Some(true))
    };
    let mut errors = Vec::new();
    if not_ro(list(&obj["spec"], "initContainers")) {
        errors.push("One of the init containers does not have readOnlyRootFilesystem enabled");
    }
    if not_ro(list(&obj["spec"], "containers")) {
        errors.push("One of the containers does not have readOnlyRootFilesystem enabled");
    }
    if errors.is_empty() {
        Response::Accept
    } else {
        Response::Reject(errors.join(", "))
    }
}

/// allowed-proc-mount-types-psp `src/lib.rs` (Pods only).
fn proc_mount(s: &Value, obj: &Value) -> Response {
    if !is_pod(obj) || s["allow_unmasked_proc_mount_type"].as_bool() == Some(true) {
        return Response::Accept;
    }
    let unmasked = ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| list(&obj["spec"], k))
        .any(|c| c["securityContext"]["procMount"].as_str() == Some("Unmasked"));
    if unmasked {
        Response::Reject("Pod has at least one container with Unmasked procMount".into())
    } else {
        Response::Accept
    }
}

/// seccomp-psp `src/lib.rs` `do_validate` (Pods only).
fn seccomp(s: &Value, obj: &Value) -> Response {
    if !is_pod(obj) {
        return Response::Accept;
    }
    let allowed = strset(&s["allowed_profiles"]);
    let types = strset(&s["profile_types"]);
    let localhost = strset(&s["localhost_profiles"]);
    let mut violations = Vec::new();
    let bad_annotations: Vec<String> = obj["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| {
            (k.starts_with("container.seccomp.security.alpha.kubernetes.io")
                || *k == "seccomp.security.alpha.kubernetes.io/pod")
                && !allowed.contains(v.as_str().unwrap_or_default())
        })
        .map(|(_, v)| v.as_str().unwrap_or_default().to_string())
        .collect();
    if !bad_annotations.is_empty() {
        violations.push(format!(
            "Seccomp profiles '{}' are not allowed.",
            bad_annotations.join(",")
        ));
    }
    let type_ok = |p: &Value| {
        let t = p["type"].as_str().unwrap_or_default();
        types.contains(t)
            || allowed.iter().any(|a| {
                (t == "RuntimeDefault" && (a == "runtime/default" || a == "docker/default"))
                    || (t == "Localhost" && a.starts_with("localhost/"))
                    || (t == "Unconfined" && a == "unconfined")
            })
    };
    let profile_ok = |name: &str| {
        localhost.contains(name)
            || allowed
                .iter()
                .any(|a| a.starts_with("localhost/") && a.ends_with(name))
    };
    let judge = |p: &Value, what: &str, violations: &mut Vec<String>| {
        if !p.is_object() {
            return;
        }
        if !type_ok(p) {
            violations.push(format!("Invalid {what} seccomp profile types"));
        }
        if p["type"].as_str() == Some("Localhost") {
            match p["localhostProfile"].as_str() {
                Some(n) if !profile_ok(n) => {
                    violations.push(format!("Invalid {what} seccomp profile: {n}"))
                }
                Some(_) => {}
                None => {
                    violations.push(format!("The {what} localhost seccomp profile must be set."))
                }
            }
        }
    };
    judge(
        &obj["spec"]["securityContext"]["seccompProfile"],
        "podspec",
        &mut violations,
    );
    for k in ["containers", "initContainers", "ephemeralContainers"] {
        for c in list(&obj["spec"], k) {
            judge(
                &c["securityContext"]["seccompProfile"],
                "container",
                &mut violations,
            );
        }
    }
    if violations.is_empty() {
        Response::Accept
    } else {
        Response::Reject(format!("Resource violations: {}", violations.join(". ")))
    }
}

/// apparmor-psp `src/lib.rs` (Pods only; annotations only).
fn apparmor(s: &Value, obj: &Value) -> Response {
    if !is_pod(obj) {
        return Response::Accept;
    }
    let allowed = strset(&s["allowed_profiles"]);
    let bad: Vec<String> = obj["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("container.apparmor.security.beta.kubernetes.io/"))
        .filter_map(|(_, v)| v.as_str().map(String::from))
        .filter(|v| !allowed.contains(v))
        .collect();
    if bad.is_empty() {
        Response::Accept
    } else {
        Response::Reject(format!("These AppArmor profiles are not allowed: {bad:?}"))
    }
}

/// sysctl-psp `validate.go` (reads `request.object.spec.securityContext.sysctls`: Pods only).
fn sysctl(s: &Value, obj: &Value) -> Response {
    let Some(sysctls) = obj["spec"]["securityContext"]["sysctls"].as_array() else {
        return Response::Accept;
    };
    let safe: BTreeSet<&str> = polytrans::backend::kubewarden::MODULE_SAFE_SYSCTLS
        .iter()
        .copied()
        .collect();
    let allowed = strset(&s["allowedUnsafeSysctls"]);
    let forbidden = strset(&s["forbiddenSysctls"]);
    let globs: Vec<String> = forbidden
        .iter()
        .filter_map(|f| f.strip_suffix('*').map(String::from))
        .collect();
    for x in sysctls {
        let name = x["name"].as_str().unwrap_or_default();
        if forbidden.contains(name) {
            return Response::Reject(format!("sysctl {name} is on the forbidden list"));
        }
        if globs.iter().any(|g| name.starts_with(g.as_str())) && !allowed.contains(name) {
            return Response::Reject(format!("sysctl {name} is on the forbidden list"));
        }
        if !safe.contains(name) && !allowed.contains(name) {
            return Response::Reject(format!(
                "sysctl {name} is not on safe list, nor is in the allowedUnsafeSysctls list"
            ));
        }
    }
    Response::Accept
}

/// pod-runtime-class-policy `src/lib.rs` `validate` (the `pod-runtime` module): a reserved
/// runtime class (or the default one, when reserved) is replaced by `fallbackRuntime` or
/// rejected; with a `fallbackRuntime` every other pod is mutated to it too.
fn pod_runtime(s: &Value, obj: &Value) -> Response {
    let Some(ptr) = pod_spec_pointer(obj) else {
        return Response::Accept;
    };
    let spec = obj.pointer(ptr).cloned().unwrap_or(Value::Null);
    let reserved = strset(&s["reservedRuntimes"]);
    let fallback = s["fallbackRuntime"].as_str();
    let mutate_or_reject = |msg: String| match fallback {
        Some(f) => {
            let mut spec = spec.clone();
            spec["runtimeClassName"] = json!(f);
            mutate_spec(obj, ptr, spec)
        }
        None => Response::Reject(msg),
    };
    if let Some(rc) = spec["runtimeClassName"].as_str() {
        if reserved.contains(rc) {
            return mutate_or_reject(format!("runtime '{rc}' is reserved"));
        }
    }
    if s["defaultRuntimeReserved"].as_bool() == Some(true) {
        return mutate_or_reject("Usage of the default runtime is reserved".into());
    }
    if let Some(f) = fallback {
        let mut spec = spec.clone();
        spec["runtimeClassName"] = json!(f);
        return mutate_spec(obj, ptr, spec);
    }
    Response::Accept
}

thread_local! {
    /// Compiled cel-policy settings of group members and fixtures, by their JSON text.
    static CEL_POLICIES: std::cell::RefCell<std::collections::HashMap<String, std::rc::Rc<crate::engines::cel::Compiled>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// The cel-policy settings' `variables` and `validations`, compiled.
fn compile_cel_policy(s: &Value) -> std::rc::Rc<crate::engines::cel::Compiled> {
    let pairs = |k: &str, name: &str| -> Vec<(String, String)> {
        list(s, k)
            .iter()
            .map(|v| {
                (
                    v[name].as_str().unwrap_or_default().to_string(),
                    v["expression"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let validations: Vec<(String, String, Option<String>)> = pairs("validations", "message")
        .into_iter()
        .map(|(m, e)| (m, e, None))
        .collect();
    std::rc::Rc::new(crate::engines::cel::Compiled::new(
        &[],
        &pairs("variables", "name"),
        &validations,
    ))
}

/// cel-policy `internal/validate/validate.go`: the `variables` (in order) and `validations`
/// over `object` (Kubernetes CEL, run here with `cel-interpreter` through the CEL engine);
/// rejected when a validation is false, with its `message` (one line each).
fn run_cel_policy(c: &crate::engines::cel::Compiled, obj: &Value) -> Response {
    match c.try_run(obj) {
        Ok(failed) if failed.is_empty() => Response::Accept,
        Ok(failed) => Response::Reject(failed.join("\n")),
        Err(e) => panic!("cel-policy evaluation error (a bug in the emitted policy): {e}"),
    }
}

fn cel_policy(s: &Value, obj: &Value) -> Response {
    let compiled = CEL_POLICIES.with(|c| {
        c.borrow_mut()
            .entry(s.to_string())
            .or_insert_with(|| compile_cel_policy(s))
            .clone()
    });
    run_cel_policy(&compiled, obj)
}

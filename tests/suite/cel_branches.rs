//! Every CEL expression in the golden outputs evaluates without an error on pods that reach
//! each of its branches (issue #17 §2.3).
//!
//! The expressions are collected from every golden `vap.yaml`, `kyverno-cel.yaml` and
//! `kubewarden.yaml`: `variables`, `validations` (`expression`, and `messageExpression` when the
//! validation fails, as Kubernetes evaluates it), `matchConditions` and the `mutations` of
//! MutatingAdmissionPolicies / MutatingPolicies, and the `cel-policy` settings of Kubewarden;
//! and from the `K8sNativeValidation` code of polytrans's own ConstraintTemplates in every golden
//! `gatekeeper.yaml` (bound as Gatekeeper binds it, with the parameters of the golden
//! constraints, none, and [`EXTRA_PARAMETERS`]; on pods whose profiles have a `type`, which the
//! API server requires). Each is parsed with `cel-parser` (the parser of the test CEL engine)
//! and instrumented before it is run by `cel-interpreter`:
//!
//! - a branch point is each arm of `?:`, each operand of a chain of `&&` or `||` (reached only
//!   when the operands before it did not decide), and the body of each macro (`all`,
//!   `exists`, `filter`, `map`: reached only on a non-empty list);
//! - `cel-interpreter` reads any value as a truth value where CEL wants a `bool`, which
//!   Kubernetes' type checker refuses: each operand of `!`, `&&`, `||` and each ternary
//!   condition is checked to be a `bool` when it is evaluated, and each expression's result to
//!   have the type its place wants (`bool`, `string` for messages, an object or a list of
//!   `JSONPatch` for mutations).
//!
//! The pods: a hand-made set (nothing optional set; every optional field set, in several
//! shapes; init and ephemeral containers; profile types and annotations) and pods from the
//! differential's generator (`psp_gen`), with the API server's defaulting, each also as the
//! template of a Deployment and a CronJob for policies that match workloads; validations also
//! run on each pod after the output's mutating policies. Any evaluation error fails the test;
//! every branch must be reached, or be listed in [`UNREACHABLE`] with the reason.

use crate::engines::{cel::to_cel, gatekeeper, map, psp_admission as model, psp_gen};
use cel_interpreter::{
    Context, ExecutionError, FunctionContext, Value as Cel,
    objects::{Key, Map},
};
use cel_parser::ast::{CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr, operators};
use cel_parser::reference::Val;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Branches no pod can reach, by a substring of their description, with the reason.
const UNREACHABLE: &[(&str, &str)] = &[
    (
        "`has(variables.podSpec.containers)` false",
        "the API server refuses a pod (or pod template) without containers",
    ),
    (
        "`has(object.spec.containers)` false",
        "the API server refuses a pod without containers",
    ),
    (
        "`has(variables.anyObject.spec.containers)` false",
        "the API server refuses a pod without containers",
    ),
    (
        "`has(c.name)` false",
        "the API server refuses a container without a name",
    ),
];

/// Seeded like the differential, but its own stream.
const SEED: u64 = 0x17_c3_1b;
const GENERATED_PSPS: usize = 150;
const PODS_PER_PSP: usize = 3;

/// What an expression's place wants it to evaluate to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Bool,
    String,
    Any,
    /// An apply configuration (an object).
    Apply,
    /// A list of `JSONPatch`.
    Patch,
}

struct Instrumented {
    /// Where it comes from (file, document, place).
    label: String,
    text: String,
    want: Want,
    program: IdedExpr,
}

/// The expressions that run together: one policy's variables, conditions, validations and
/// mutations.
struct Unit {
    label: String,
    workloads: bool,
    /// Indexes into [`Cover::exprs`]: variables (in order, with their names), then the rest,
    /// each with the message expression evaluated when it is false (as Kubernetes does).
    variables: Vec<(String, usize)>,
    exprs: Vec<(usize, Option<usize>)>,
    mutating: bool,
    /// A Gatekeeper `K8sNativeValidation` template: run once per parameters, with `request`,
    /// `variables.anyObject` and `variables.params` bound as Gatekeeper binds them.
    gatekeeper: Option<Vec<Value>>,
}

#[derive(Default)]
struct Cover {
    /// Branch descriptions, by id.
    branches: Vec<String>,
    /// The branch ids of the expression being instrumented, by the full text of the branch
    /// point and the arm: a subexpression written twice in one expression is one branch point
    /// (the second copy of `form in [...] || form.startsWith(...)` never sees what the first
    /// decided).
    keys: HashMap<String, i64>,
    exprs: Vec<Instrumented>,
    /// `(variables, text)` → index, so an expression shared by outputs is counted once.
    seen: HashMap<(String, String, &'static str), usize>,
}

fn node(expr: Expr) -> IdedExpr {
    IdedExpr { id: 0, expr }
}

fn call(func: &str, args: Vec<IdedExpr>) -> IdedExpr {
    node(Expr::Call(CallExpr {
        func_name: func.to_string(),
        target: None,
        args,
    }))
}

/// `__bool(id, e)`: `e` must be a `bool`; `id >= 0` records the branch as reached.
fn checked(id: i64, e: IdedExpr) -> IdedExpr {
    call("__bool", vec![node(Expr::Literal(Val::Int(id))), e])
}

/// `__hit(id, e)`: records the branch as reached, then evaluates to `e`.
fn hit(id: i64, e: IdedExpr) -> IdedExpr {
    call("__hit", vec![node(Expr::Literal(Val::Int(id))), e])
}

/// A short CEL-like rendering of a parsed expression, for branch descriptions.
fn show(e: &IdedExpr) -> String {
    let s = text(e);
    if s.chars().count() > 160 {
        let head: String = s.chars().take(157).collect();
        format!("{head}…")
    } else {
        s
    }
}

/// A CEL-like rendering of a parsed expression (comprehensions abbreviated by their range,
/// variable and step).
fn text(e: &IdedExpr) -> String {
    match &e.expr {
        Expr::Call(c) => {
            let args: Vec<String> = c.args.iter().map(text).collect();
            match (c.func_name.as_str(), args.as_slice()) {
                (operators::CONDITIONAL, [a, b, x]) => format!("({a} ? {b} : {x})"),
                (operators::LOGICAL_NOT, [a]) => format!("!{a}"),
                (operators::NEGATE, [a]) => format!("-{a}"),
                (operators::INDEX, [a, b]) => format!("{a}[{b}]"),
                (operators::IN, [a, b]) => format!("({a} in {b})"),
                (f, [a, b]) if f.starts_with('_') && f.ends_with('_') && f.len() > 2 => {
                    format!("({a} {} {b})", f.trim_matches('_'))
                }
                (f, _) => match &c.target {
                    Some(t) => format!("{}.{f}({})", text(t), args.join(", ")),
                    None => format!("{f}({})", args.join(", ")),
                },
            }
        }
        Expr::Comprehension(c) => format!(
            "{}.<macro>({}, {})",
            text(&c.iter_range),
            c.iter_var,
            text(&c.loop_step)
        ),
        Expr::Ident(i) => i.clone(),
        Expr::List(l) => format!(
            "[{}]",
            l.elements.iter().map(text).collect::<Vec<_>>().join(", ")
        ),
        Expr::Literal(v) => match v {
            Val::String(s) => format!("'{s}'"),
            Val::Int(i) => i.to_string(),
            Val::Boolean(b) => b.to_string(),
            v => format!("{v:?}"),
        },
        Expr::Map(_) => "{…}".into(),
        Expr::Select(s) if s.test => format!("has({}.{})", text(&s.operand), s.field),
        Expr::Select(s) => format!("{}.{}", text(&s.operand), s.field),
        Expr::Struct(s) => format!("{}{{…}}", s.type_name),
        Expr::Unspecified => "?".into(),
    }
}

impl Cover {
    /// The id of the branch `arm` of the branch point `e` (described by `desc`).
    fn branch(&mut self, e: &IdedExpr, arm: &str, desc: String) -> i64 {
        let key = format!("{arm} {}", text(e));
        if let Some(id) = self.keys.get(&key) {
            return *id;
        }
        self.branches.push(desc);
        let id = (self.branches.len() - 1) as i64;
        self.keys.insert(key, id);
        id
    }

    fn instrument(&mut self, e: &IdedExpr, at: &str) -> IdedExpr {
        match &e.expr {
            Expr::Call(c) if c.func_name == operators::CONDITIONAL && c.args.len() == 3 => {
                let cond = show(&c.args[0]);
                let t = self.branch(e, "true", format!("{at}: `{cond}` true"));
                let f = self.branch(e, "false", format!("{at}: `{cond}` false"));
                let args = vec![
                    checked(-1, self.instrument(&c.args[0], at)),
                    hit(t, self.instrument(&c.args[1], at)),
                    hit(f, self.instrument(&c.args[2], at)),
                ];
                call(operators::CONDITIONAL, args)
            }
            Expr::Call(c)
                if (c.func_name == operators::LOGICAL_AND
                    || c.func_name == operators::LOGICAL_OR)
                    && c.args.len() == 2 =>
            {
                let op = c.func_name.clone();
                self.chain(e, &op, at, &mut String::new())
            }
            Expr::Call(c) if c.func_name == operators::LOGICAL_NOT && c.args.len() == 1 => call(
                operators::LOGICAL_NOT,
                vec![checked(-1, self.instrument(&c.args[0], at))],
            ),
            Expr::Call(c) => node(Expr::Call(CallExpr {
                func_name: c.func_name.clone(),
                target: c.target.as_ref().map(|t| Box::new(self.instrument(t, at))),
                args: c.args.iter().map(|a| self.instrument(a, at)).collect(),
            })),
            Expr::Comprehension(c) => {
                let id = self.branch(
                    e,
                    "body",
                    format!(
                        "{at}: body of `{}.<macro>({}, …)`",
                        show(&c.iter_range),
                        c.iter_var
                    ),
                );
                let step = self.step(&c.loop_step, at);
                node(Expr::Comprehension(ComprehensionExpr {
                    iter_range: Box::new(self.instrument(&c.iter_range, at)),
                    loop_step: Box::new(hit(id, step)),
                    ..c.clone()
                }))
            }
            Expr::Select(s) => {
                let mut s = s.clone();
                s.operand = Box::new(self.instrument(&s.operand, at));
                node(Expr::Select(s))
            }
            Expr::List(l) => {
                let mut l = l.clone();
                l.elements = l.elements.iter().map(|x| self.instrument(x, at)).collect();
                node(Expr::List(l))
            }
            Expr::Map(m) => {
                let mut m = m.clone();
                for entry in &mut m.entries {
                    if let EntryExpr::MapEntry(me) = &mut entry.expr {
                        me.key = self.instrument(&me.key, at);
                        me.value = self.instrument(&me.value, at);
                    }
                }
                node(Expr::Map(m))
            }
            _ => e.clone(),
        }
    }

    /// A macro's loop step: its own operator (`accu && body`, `body ? accu + [x] : accu`) is
    /// no branch of the expression as written; the body inside is instrumented.
    fn step(&mut self, e: &IdedExpr, at: &str) -> IdedExpr {
        let Expr::Call(c) = &e.expr else {
            return self.instrument(e, at);
        };
        let mut args: Vec<IdedExpr> = c.args.iter().map(|a| self.instrument(a, at)).collect();
        match c.func_name.as_str() {
            operators::LOGICAL_AND | operators::LOGICAL_OR if args.len() == 2 => {
                let body = args.pop().unwrap();
                args.push(checked(-1, body));
            }
            operators::CONDITIONAL if args.len() == 3 => {
                let cond = args.remove(0);
                args.insert(0, checked(-1, cond));
            }
            _ => {}
        }
        node(Expr::Call(CallExpr {
            func_name: c.func_name.clone(),
            target: c.target.clone(),
            args,
        }))
    }

    /// The operands of a chain `a op b op c` (however the parser nests it): each a branch.
    fn chain(&mut self, e: &IdedExpr, op: &str, at: &str, prefix: &mut String) -> IdedExpr {
        match &e.expr {
            Expr::Call(c) if c.func_name == op && c.args.len() == 2 => {
                let a = self.chain(&c.args[0], op, at, prefix);
                let b = self.chain(&c.args[1], op, at, prefix);
                call(op, vec![a, b])
            }
            _ => {
                let sym = if op == operators::LOGICAL_AND {
                    "&&"
                } else {
                    "||"
                };
                // Keyed by the operand and what precedes it in its chain (`prefix`).
                let id = self.branch(
                    e,
                    &format!("{sym} after {prefix}"),
                    format!("{at}: {sym} operand `{}`", show(e)),
                );
                prefix.push_str(&text(e));
                prefix.push_str(sym);
                checked(id, self.instrument(e, at))
            }
        }
    }

    /// The index of the instrumented expression (`context`: the variables it sees).
    fn add(&mut self, context: &str, label: String, text: &str, want: Want) -> usize {
        let key = (context.to_string(), text.to_string(), want_name(want));
        if let Some(i) = self.seen.get(&key) {
            return *i;
        }
        let source = match want {
            Want::Apply | Want::Patch => {
                map::rewrite(text).unwrap_or_else(|e| panic!("{label}: {e}\n  {text}"))
            }
            _ => text.to_string(),
        };
        let parsed = cel_parser::Parser::default()
            .parse(&source)
            .unwrap_or_else(|e| panic!("{label}: does not parse: {e:?}\n  {text}"));
        let short: String = text.chars().take(60).collect();
        let at = format!("{label} `{short}…`");
        self.keys.clear();
        let program = self.instrument(&parsed, &at);
        self.exprs.push(Instrumented {
            label,
            text: text.to_string(),
            want,
            program,
        });
        self.seen.insert(key, self.exprs.len() - 1);
        self.exprs.len() - 1
    }
}

fn want_name(w: Want) -> &'static str {
    match w {
        Want::Bool => "bool",
        Want::String => "string",
        Want::Any => "any",
        Want::Apply => "apply",
        Want::Patch => "patch",
    }
}

fn expressions(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            Some((
                v["name"].as_str().unwrap_or_default().to_string(),
                v["expression"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// Every unit in a document: any map holding `validations`, `matchConditions` or `mutations`
/// (with its sibling `variables`).
fn units_in(cover: &mut Cover, label: &str, workloads: bool, v: &Value, out: &mut Vec<Unit>) {
    match v {
        Value::Object(m) => {
            let has_exprs = ["validations", "matchConditions", "mutations"]
                .iter()
                .any(|k| m.get(*k).is_some_and(Value::is_array));
            if has_exprs {
                let vars = expressions(&v["variables"]);
                let context: String = vars.iter().map(|(n, e)| format!("{n}={e};")).collect();
                let variables: Vec<(String, usize)> = vars
                    .iter()
                    .map(|(n, e)| {
                        let i = cover.add(&context, format!("{label} variable {n}"), e, Want::Any);
                        (n.clone(), i)
                    })
                    .collect();
                let mut exprs = Vec::new();
                for (n, e) in expressions(&v["matchConditions"]) {
                    exprs.push((
                        cover.add(
                            &context,
                            format!("{label} matchCondition {n}"),
                            e.as_str(),
                            Want::Bool,
                        ),
                        None,
                    ));
                }
                for (i, val) in v["validations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let message = val["messageExpression"].as_str().map(|e| {
                        cover.add(
                            &context,
                            format!("{label} messageExpression {i}"),
                            e,
                            Want::String,
                        )
                    });
                    if let Some(e) = val["expression"].as_str() {
                        let v =
                            cover.add(&context, format!("{label} validation {i}"), e, Want::Bool);
                        exprs.push((v, message));
                    }
                }
                let mut mutating = false;
                for (i, mu) in v["mutations"].as_array().into_iter().flatten().enumerate() {
                    mutating = true;
                    if let Some(e) = mu["applyConfiguration"]["expression"].as_str() {
                        exprs.push((
                            cover.add(&context, format!("{label} mutation {i}"), e, Want::Apply),
                            None,
                        ));
                    }
                    if let Some(e) = mu["jsonPatch"]["expression"].as_str() {
                        exprs.push((
                            cover.add(&context, format!("{label} mutation {i}"), e, Want::Patch),
                            None,
                        ));
                    }
                }
                out.push(Unit {
                    label: label.to_string(),
                    workloads,
                    variables,
                    exprs,
                    mutating,
                    gatekeeper: None,
                });
            }
            for (k, x) in m {
                if !matches!(
                    k.as_str(),
                    "validations" | "matchConditions" | "mutations" | "variables"
                ) {
                    units_in(cover, label, workloads, x, out);
                }
            }
        }
        Value::Array(a) => a
            .iter()
            .for_each(|x| units_in(cover, label, workloads, x, out)),
        _ => {}
    }
}

/// Parameters no golden constraint of the kind has: `*` in `allowedCapabilities` and required
/// drops for the capabilities template.
const EXTRA_PARAMETERS: &[(&str, &str)] = &[(
    "K8sPolytransPSPCapabilities",
    r#"{"allowedCapabilities": ["*"], "requiredDropCapabilities": ["ALL", "NET_RAW"]}"#,
)];

/// The parameters of every constraint of each kind in the golden `gatekeeper.yaml` files, plus
/// none (`{}`), all of them merged, the first with `exemptImages` (no golden constraint exempts
/// images) and [`EXTRA_PARAMETERS`].
fn gatekeeper_parameters(dirs: &[std::path::PathBuf]) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for dir in dirs {
        let Ok(text) = std::fs::read_to_string(dir.join("gatekeeper.yaml")) else {
            continue;
        };
        for d in polytrans::load::yaml_documents(&text).unwrap() {
            let (Some(kind), Some(_)) = (d["kind"].as_str(), d["spec"]["match"].as_object()) else {
                continue;
            };
            let p = match &d["spec"]["parameters"] {
                Value::Null => json!({}),
                p => p.clone(),
            };
            let list = out.entry(kind.to_string()).or_default();
            if !list.contains(&p) {
                list.push(p);
            }
        }
    }
    for (kind, list) in out.iter_mut() {
        let mut merged = json!({});
        for p in list.iter() {
            for (k, v) in p.as_object().into_iter().flatten() {
                merged[k] = v.clone();
            }
        }
        let mut exempt = list[0].clone();
        exempt["exemptImages"] = json!(["registry.example/app:1", "registry.example/side*"]);
        let mut more = vec![json!({}), merged, exempt];
        more.extend(
            EXTRA_PARAMETERS
                .iter()
                .filter(|(k, _)| k == kind)
                .map(|(_, p)| serde_json::from_str::<Value>(p).unwrap()),
        );
        for p in more {
            if !list.contains(&p) {
                list.push(p);
            }
        }
    }
    out
}

/// The CEL of polytrans's own Gatekeeper templates in a golden `gatekeeper.yaml`: one unit per
/// template, run with every parameters [`gatekeeper_parameters`] gives for its kind.
fn gatekeeper_units(
    cover: &mut Cover,
    case: &str,
    text: &str,
    parameters: &BTreeMap<String, Vec<Value>>,
    units: &mut Vec<Unit>,
) {
    let docs = polytrans::load::yaml_documents(text).unwrap();
    for (i, t) in docs.iter().enumerate() {
        if t["kind"] != "ConstraintTemplate" {
            continue;
        }
        let kind = t["spec"]["crd"]["spec"]["names"]["kind"]
            .as_str()
            .unwrap_or("?");
        let Some(source) = t["spec"]["targets"][0]["code"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["engine"] == "K8sNativeValidation")
            .map(|c| &c["source"])
        else {
            continue;
        };
        let Some(params) = parameters.get(kind) else {
            continue;
        };
        let label = format!("{case}/gatekeeper.yaml#{i} {kind}");
        let mut more = Vec::new();
        units_in(cover, &label, false, source, &mut more);
        for mut u in more {
            u.gatekeeper = Some(params.clone());
            units.push(u);
        }
    }
}

fn golden_units(cover: &mut Cover) -> (Vec<Unit>, usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let mut units = Vec::new();
    let mut files = 0;
    let parameters = gatekeeper_parameters(&dirs);
    for dir in dirs {
        if let Ok(text) = std::fs::read_to_string(dir.join("gatekeeper.yaml")) {
            let case = dir.file_name().unwrap().to_string_lossy().to_string();
            let before = units.len();
            gatekeeper_units(cover, &case, &text, &parameters, &mut units);
            files += usize::from(units.len() > before);
        }
        for name in ["vap.yaml", "kyverno-cel.yaml", "kubewarden.yaml"] {
            let path = dir.join(name);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            files += 1;
            let case = dir.file_name().unwrap().to_string_lossy().to_string();
            for (i, doc) in polytrans::load::yaml_documents(&text)
                .unwrap()
                .iter()
                .enumerate()
            {
                let kind = doc["kind"].as_str().unwrap_or("?");
                let label = format!("{case}/{name}#{i} {kind}");
                let workloads = doc.to_string().contains("\"deployments\"");
                units_in(cover, &label, workloads, doc, &mut units);
            }
        }
    }
    (units, files)
}

// ------------------------------------------------------------------------------------------
// Pods

fn container(name: &str, sc: Value, extra: Value) -> Value {
    let mut c = json!({"name": name, "image": format!("registry.example/{name}:1")});
    if !sc.is_null() {
        c["securityContext"] = sc;
    }
    if let Value::Object(m) = extra {
        for (k, v) in m {
            c[k] = v;
        }
    }
    c
}

fn pod(meta: Value, spec: Value) -> Value {
    let mut metadata = json!({"name": "p", "namespace": "default"});
    if let Value::Object(m) = meta {
        for (k, v) in m {
            metadata[k] = v;
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
}

/// Pods with no optional field, with every optional field set, and in between: every profile
/// type, annotations with and without values, every volume kind.
fn hand_made() -> Vec<Value> {
    let mut out = Vec::new();
    let bare = || json!({"containers": [container("app", Value::Null, json!({}))]});
    out.push(pod(json!({}), bare()));
    // Created with `generateName`: no name at admission.
    let mut generated = pod(json!({"generateName": "p-"}), bare());
    generated["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    out.push(generated);
    out.push(pod(
        json!({"annotations": {}}),
        json!({"containers": [container("app", json!({}), json!({}))], "securityContext": {}}),
    ));
    let profiles = [
        json!({}),
        json!({"type": "RuntimeDefault"}),
        json!({"type": "Unconfined"}),
        json!({"type": "Localhost", "localhostProfile": "p.json"}),
        json!({"type": "Localhost"}),
    ];
    let full_sc = |uid: i64, p: &Value, caps: Value| {
        json!({
            "privileged": uid == 0,
            "allowPrivilegeEscalation": uid == 0,
            "readOnlyRootFilesystem": uid != 0,
            "runAsUser": uid,
            "runAsGroup": uid,
            "runAsNonRoot": uid != 0,
            "procMount": if uid == 0 { "Unmasked" } else { "Default" },
            "capabilities": caps,
            "seLinuxOptions": {"user": "u", "role": "r", "type": "container_t", "level": "s0:c1,c2"},
            "seccompProfile": p,
            "appArmorProfile": p,
            "windowsOptions": {"hostProcess": uid == 0},
        })
    };
    let probe =
        json!({"httpGet": {"host": "h", "port": 80}, "tcpSocket": {"host": "", "port": 80}});
    let handlers = json!({
        "livenessProbe": probe, "readinessProbe": probe, "startupProbe": probe,
        "lifecycle": {"postStart": probe, "preStop": probe},
    });
    let volumes = json!([
        {"name": "h", "hostPath": {"path": "/var/log"}},
        {"name": "h2", "hostPath": {"path": "/etc"}},
        {"name": "h3", "hostPath": {}},
        {"name": "e", "emptyDir": {}},
        {"name": "s", "secret": {"secretName": "s"}},
        {"name": "f", "flexVolume": {"driver": "example/lvm"}},
        {"name": "f2", "flexVolume": {}},
        {"name": "csi", "csi": {"driver": "csi.example"}},
        {"name": "csi2", "csi": {}},
        {"name": "cm", "configMap": {"name": "c"}},
        {"name": "tok", "projected": {"sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ]}},
        {"name": "tok2", "projected": {"sources": [
            {"serviceAccountToken": {"path": "other", "audience": "a"}},
            {"configMap": {"name": "other"}},
            {"downwardAPI": {"items": [{"path": "x", "fieldRef": {"fieldPath": "metadata.name"}}, {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
            {"secret": {"name": "s"}},
        ]}},
        {"name": "tok3", "projected": {"sources": [{"serviceAccountToken": {}}, {"configMap": {}}, {"downwardAPI": {}}]}},
        {"name": "tok4", "projected": {}},
        {"name": "pvc", "persistentVolumeClaim": {"claimName": "c"}},
    ]);
    // One setting at a time on pods that set nothing else, so that what an expression checks
    // before it passes.
    let one = |meta: Value, pod_sc: Value, c_sc: Value| {
        pod(
            meta,
            json!({
                "securityContext": pod_sc,
                "initContainers": [container("init", c_sc.clone(), json!({}))],
                "containers": [container("app", c_sc, json!({}))],
            }),
        )
    };
    for p in &profiles {
        for pod_p in [json!({"type": "RuntimeDefault"}), p.clone()] {
            let sc = |p: &Value| json!({"seccompProfile": p, "appArmorProfile": p});
            out.push(one(json!({}), sc(&pod_p), sc(p)));
        }
    }
    for se in [
        json!({}),
        json!({"user": "u"}),
        json!({"level": "s0:c123,c456"}),
        json!({"user": "u", "role": "r", "type": "t", "level": "s0"}),
        json!({"level": "s0:c456,c123"}),
        json!({"level": "s0:c123,c457"}),
        json!({"level": "s1:c123,c456"}),
        json!({"level": "s0:c123"}),
    ] {
        out.push(one(json!({}), json!({"seLinuxOptions": se}), json!({})));
        out.push(one(json!({}), json!({}), json!({"seLinuxOptions": se})));
    }
    for a in ["", "runtime/default", "localhost/profiles/x", "unconfined"] {
        let meta = json!({"annotations": {
            "seccomp.security.alpha.kubernetes.io/pod": a,
            "container.seccomp.security.alpha.kubernetes.io/app": a,
            "container.seccomp.security.alpha.kubernetes.io/init": a,
            "container.apparmor.security.beta.kubernetes.io/app": a,
            "container.apparmor.security.beta.kubernetes.io/init": a,
        }});
        out.push(one(meta, json!({}), Value::Null));
    }
    // Each volume alone (`all` stops at the first volume that fails).
    for v in volumes.as_array().unwrap() {
        let mount =
            json!({"volumeMounts": [{"name": v["name"], "mountPath": "/m", "readOnly": true}]});
        out.push(pod(
            json!({}),
            json!({"containers": [container("app", Value::Null, mount)], "volumes": [v]}),
        ));
    }
    for (i, p) in profiles.iter().enumerate() {
        for uid in [0, 1000] {
            let caps = match (i % 3, uid) {
                (0, _) => json!({"add": ["NET_ADMIN", "CHOWN"], "drop": ["ALL"]}),
                (1, 0) => json!({"add": ["SYS_ADMIN"]}),
                (1, _) => json!({"drop": ["NET_RAW", "ALL"]}),
                _ => json!({}),
            };
            let mounts = json!({"volumeMounts": [
                {"name": "h", "mountPath": "/h", "readOnly": uid != 0},
                {"name": "h2", "mountPath": "/h2"},
                {"name": "e", "mountPath": "/e", "readOnly": false},
            ], "ports": [{"containerPort": 80, "hostPort": 80 + uid}, {"containerPort": 81, "hostPort": 0}, {"containerPort": 82}]});
            let mut app = container("app", full_sc(uid, p, caps.clone()), mounts);
            if let (Value::Object(a), Value::Object(h)) = (&mut app, &handlers) {
                for (k, v) in h {
                    a.insert(k.clone(), v.clone());
                }
            }
            let spec = json!({
                "hostNetwork": uid == 0, "hostPID": uid == 0, "hostIPC": uid == 0,
                "hostUsers": uid == 0,
                "os": {"name": if uid == 0 { "windows" } else { "linux" }},
                "runtimeClassName": if uid == 0 { "unsafe" } else { "gvisor" },
                "securityContext": {
                    "runAsUser": uid, "runAsGroup": uid, "runAsNonRoot": uid != 0, "fsGroup": uid,
                    "supplementalGroups": if uid == 0 { json!([]) } else { json!([uid, 2000]) },
                    "seLinuxOptions": {"user": "u", "role": "r", "type": "spc_t", "level": "s0:c2,c1"},
                    "seccompProfile": p, "appArmorProfile": p,
                    "sysctls": [{"name": "kernel.shm_rmid_forced", "value": "1"}, {"name": "kernel.msgmax", "value": "1"}],
                    "windowsOptions": {"hostProcess": uid == 0},
                },
                "initContainers": [container("init", full_sc(uid, p, json!({"drop": ["ALL"]})), json!({}))],
                "containers": [app, container("side", Value::Null, json!({"ports": [{"containerPort": 9}]}))],
                "ephemeralContainers": [container("debug", json!({"capabilities": {}}), json!({}))],
                "volumes": volumes,
            });
            let ann = |v: &str| {
                json!({"annotations": {
                    "seccomp.security.alpha.kubernetes.io/pod": v,
                    "container.seccomp.security.alpha.kubernetes.io/app": v,
                    "container.apparmor.security.beta.kubernetes.io/app": v,
                    "container.apparmor.security.beta.kubernetes.io/init": "",
                    "other": "x",
                }})
            };
            out.push(pod(json!({}), spec.clone()));
            out.push(pod(
                ann(if uid == 0 {
                    "unconfined"
                } else {
                    "runtime/default"
                }),
                spec.clone(),
            ));
            // The same with the pod's fields gone, so containers decide or annotations do.
            let mut lean = spec.clone();
            lean["securityContext"] = json!({});
            lean.as_object_mut().unwrap().remove("os");
            out.push(pod(ann("localhost/x"), lean.clone()));
            let mut no_container_sc = spec.clone();
            for list in ["initContainers", "containers", "ephemeralContainers"] {
                for c in no_container_sc[list].as_array_mut().unwrap() {
                    c.as_object_mut().unwrap().remove("securityContext");
                }
            }
            out.push(pod(ann("docker/default"), no_container_sc));
            lean.as_object_mut().unwrap().remove("securityContext");
            for list in ["initContainers", "containers", "ephemeralContainers"] {
                for c in lean[list].as_array_mut().unwrap() {
                    c["securityContext"] = json!({"capabilities": {"add": ["CHOWN"]}, "seccompProfile": {}, "appArmorProfile": {}, "seLinuxOptions": {}});
                }
            }
            out.push(pod(json!({}), lean));
        }
    }
    out
}

/// Pods from the differential's generator, with what the API server does before admission.
fn generated() -> Vec<Value> {
    let mut rng = psp_gen::Rng::new(SEED);
    let mut out = Vec::new();
    for _ in 0..GENERATED_PSPS {
        let psp = psp_gen::psp(&mut rng, "gen");
        for _ in 0..PODS_PER_PSP {
            let mut p = psp_gen::pod(&mut rng, &psp);
            model::api_server_defaults(&mut p);
            if model::validate_pod_object(&p).is_empty() {
                out.push(p);
            }
        }
    }
    out
}

/// The pod as the template of a Deployment and of a CronJob.
fn workloads_of(p: &Value) -> Vec<Value> {
    let template = json!({"metadata": p["metadata"], "spec": p["spec"]});
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
            "spec": {"selector": {}, "template": template}}),
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "j", "namespace": "default"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}}),
    ]
}

// ------------------------------------------------------------------------------------------
// Running

fn context(hits: &Arc<Mutex<Vec<bool>>>) -> Context<'static> {
    let mut ctx = map::context();
    gatekeeper::add_cel_functions(&mut ctx);
    let h = hits.clone();
    ctx.add_function(
        "__hit",
        move |id: i64, v: Cel| -> Result<Cel, ExecutionError> {
            h.lock().unwrap()[id as usize] = true;
            Ok(v)
        },
    );
    let h = hits.clone();
    ctx.add_function(
        "__bool",
        move |ftx: &FunctionContext, id: i64, v: Cel| -> Result<Cel, ExecutionError> {
            if id >= 0 {
                h.lock().unwrap()[id as usize] = true;
            }
            match v {
                Cel::Bool(_) => Ok(v),
                other => Err(ftx.error(format!("a bool is needed, got {other:?}"))),
            }
        },
    );
    ctx
}

fn vars_value(vars: &HashMap<Key, Cel>) -> Cel {
    Cel::Map(Map {
        map: Arc::new(vars.clone()),
    })
}

fn has_type(v: &Cel, want: Want) -> bool {
    match want {
        Want::Bool => matches!(v, Cel::Bool(_)),
        Want::String => matches!(v, Cel::String(_)),
        Want::Any => true,
        Want::Apply => matches!(v, Cel::Map(_)),
        Want::Patch => matches!(v, Cel::List(_)),
    }
}

/// Runs a unit on an object; each error as `label: error`.
fn run(
    cover: &Cover,
    unit: &Unit,
    hits: &Arc<Mutex<Vec<bool>>>,
    object: &Value,
    errors: &mut Vec<String>,
) {
    match &unit.gatekeeper {
        None => run_with(cover, unit, hits, object, None, errors),
        Some(_) if !profiles_valid(object) => {}
        Some(params) => {
            for p in params {
                run_with(cover, unit, hits, object, Some(p), errors);
            }
        }
    }
}

/// Whether the API server's validation lets the pod's profiles through (`type` is required): the
/// own Gatekeeper templates read `type` unguarded, as Gatekeeper judges only what the API server
/// accepted.
fn profiles_valid(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().all(|(k, x)| {
            if k == "seccompProfile" || k == "appArmorProfile" {
                x["type"].is_string()
            } else {
                profiles_valid(x)
            }
        }),
        Value::Array(a) => a.iter().all(profiles_valid),
        _ => true,
    }
}

/// [`run`], with Gatekeeper's bindings when `params` is given.
fn run_with(
    cover: &Cover,
    unit: &Unit,
    hits: &Arc<Mutex<Vec<bool>>>,
    object: &Value,
    params: Option<&Value>,
    errors: &mut Vec<String>,
) {
    let mut ctx = context(hits);
    ctx.add_variable_from_value("object", to_cel(object));
    let mut vars: HashMap<Key, Cel> = HashMap::new();
    if let Some(p) = params {
        ctx.add_variable_from_value("request", to_cel(&gatekeeper::review_of(object)));
        vars.insert(Key::String(Arc::new("anyObject".into())), to_cel(object));
        vars.insert(Key::String(Arc::new("params".into())), to_cel(p));
    }
    let mut fail = |e: &Instrumented, what: String| {
        errors.push(format!(
            "{}: {what}\n    {}\n    on {object}",
            e.label, e.text
        ));
    };
    for (name, i) in &unit.variables {
        ctx.add_variable_from_value("variables", vars_value(&vars));
        let e = &cover.exprs[*i];
        match Cel::resolve(&e.program, &ctx) {
            Ok(v) => {
                vars.insert(Key::String(Arc::new(name.clone())), v);
            }
            Err(err) => {
                fail(e, format!("{err:?}"));
                return;
            }
        }
    }
    ctx.add_variable_from_value("variables", vars_value(&vars));
    for (i, message) in &unit.exprs {
        let e = &cover.exprs[*i];
        match Cel::resolve(&e.program, &ctx) {
            Ok(Cel::Bool(false)) if message.is_some() => {
                let m = &cover.exprs[message.unwrap_or_default()];
                match Cel::resolve(&m.program, &ctx) {
                    Ok(Cel::String(_)) => {}
                    Ok(v) => fail(m, format!("evaluates to {v:?}, not a string")),
                    Err(err) => fail(m, format!("{err:?}")),
                }
            }
            Ok(v) if has_type(&v, e.want) => {}
            Ok(v) => fail(
                e,
                format!("evaluates to {v:?}, not a {}", want_name(e.want)),
            ),
            Err(err) => fail(e, format!("{err:?}")),
        }
    }
}

#[test]
fn golden_cel_reaches_every_branch_without_error() {
    let mut cover = Cover::default();
    let (units, files) = golden_units(&mut cover);
    assert!(files >= 20 && !units.is_empty(), "{files} golden CEL files");
    let hits = Arc::new(Mutex::new(vec![false; cover.branches.len()]));
    let mut pods = hand_made();
    pods.extend(generated());
    // The mutating units of each file, to run the validations on mutated pods as well.
    let mut mutating: BTreeMap<String, Vec<map::Policy>> = BTreeMap::new();
    for u in units.iter().filter(|u| u.mutating) {
        let file = u.label.split('#').next().unwrap().to_string();
        mutating.entry(file).or_insert_with(|| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("golden")
                .join(u.label.split('#').next().unwrap());
            map::Policy::all_from_text(&std::fs::read_to_string(path).unwrap())
        });
    }
    let mut errors = Vec::new();
    for unit in &units {
        let file = unit.label.split('#').next().unwrap();
        for p in &pods {
            run(&cover, unit, &hits, p, &mut errors);
            if !unit.mutating {
                if let Some(policies) = mutating.get(file) {
                    match map::mutate_all(policies, p) {
                        Ok(m) => run(&cover, unit, &hits, &m, &mut errors),
                        Err(e) => errors.push(format!("{file}: mutation: {e}\n    on {p}")),
                    }
                }
            }
            if unit.workloads {
                for w in workloads_of(p) {
                    run(&cover, unit, &hits, &w, &mut errors);
                }
            }
            if errors.len() > 20 {
                break;
            }
        }
    }
    let hits = hits.lock().unwrap();
    let allowed = |d: &str| UNREACHABLE.iter().any(|(s, _)| d.contains(s));
    let missed: Vec<&String> = cover
        .branches
        .iter()
        .zip(hits.iter())
        .filter(|(d, h)| !**h && !allowed(d))
        .map(|(d, _)| d)
        .collect();
    let reached = hits.iter().filter(|h| **h).count();
    let listed = cover.branches.len() - reached - missed.len();
    println!(
        "CEL branches reached {reached}/{} ({listed} listed unreachable), expressions {}, files {files}, pods {}, errors {}",
        cover.branches.len(),
        cover.exprs.len(),
        pods.len(),
        errors.len()
    );
    errors.dedup();
    assert!(
        errors.is_empty(),
        "CEL evaluation errors:\n{}",
        errors
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let unused: Vec<&str> = UNREACHABLE
        .iter()
        .filter(|(s, _)| {
            !cover
                .branches
                .iter()
                .zip(hits.iter())
                .any(|(d, h)| !*h && d.contains(s))
        })
        .map(|(s, _)| *s)
        .collect();
    assert!(
        unused.is_empty(),
        "UNREACHABLE entries no branch needs: {unused:?}"
    );
    assert!(
        missed.is_empty(),
        "{} branches never reached:\n{}",
        missed.len(),
        missed
            .iter()
            .take(60)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The instrumentation itself: a non-`bool` where CEL wants one, or a missing key, is an error
/// (never a verdict), and the branches of a small expression are found and reached.
#[test]
fn instrumentation_reports_type_errors_and_branches() {
    let eval = |text: &str, want: Want, object: Value| -> (Vec<String>, Vec<bool>, usize) {
        let mut cover = Cover::default();
        let i = cover.add("", "test".into(), text, want);
        let n = cover.branches.len();
        let hits = Arc::new(Mutex::new(vec![false; n]));
        let unit = Unit {
            label: "test".into(),
            workloads: false,
            variables: vec![],
            exprs: vec![(i, None)],
            mutating: false,
            gatekeeper: None,
        };
        let mut errors = Vec::new();
        run(&cover, &unit, &hits, &object, &mut errors);
        let h = hits.lock().unwrap().clone();
        (errors, h, n)
    };
    let p = json!({"spec": {"containers": [{"name": "a"}]}});
    for bad in [
        "!'ALL' == 'ALL'",
        "'a' ? true : false",
        "object.spec.containers.all(c, c.name)",
        "has(object.spec.x) || 'x'",
        "object.spec.hostNetwork == true",
        "1 == 1 ? 'x' : 'y'",
    ] {
        let (errors, _, _) = eval(bad, Want::Bool, p.clone());
        assert_eq!(errors.len(), 1, "{bad}: {errors:?}");
    }
    let e = "has(object.spec.x) ? object.spec.x == 1 : object.spec.containers.exists(c, c.name == 'a' || c.name == 'b')";
    let (errors, hits, n) = eval(e, Want::Bool, p.clone());
    assert!(errors.is_empty(), "{errors:?}");
    // Two arms, one macro body, two `||` operands.
    assert_eq!(n, 5);
    assert_eq!(hits, vec![false, true, true, true, false]);
    let (_, hits, _) = eval(
        e,
        Want::Bool,
        json!({"spec": {"x": 1, "containers": [{"name": "b"}]}}),
    );
    assert_eq!(hits, vec![true, false, false, false, false]);
}

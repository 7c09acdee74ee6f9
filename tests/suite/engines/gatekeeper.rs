//! Test-only Gatekeeper for the `--to gatekeeper` output, on `regorus` (Rego v0 mode): the
//! gatekeeper-library ConstraintTemplates' Rego evaluated on
//! `{"review": <admission request>, "parameters": <constraint spec.parameters>}`, with
//! Gatekeeper's `match` and its mutators (`Assign`, `AssignMetadata`, `ModifySet`) emulated here,
//! mutators first as the mutating webhook runs before the validating one.
//!
//! Written from Gatekeeper's documentation (`website/docs/mutation.md`, `howto.md`) and the
//! gatekeeper-library fixtures' `SOURCE.md`; no Gatekeeper code is reused.
//!
//! What is emulated:
//! - `match`: `kinds`, `scope`, `namespaces`, `excludedNamespaces` (a trailing `*` is a prefix
//!   glob, as in Gatekeeper), `name`; a `labelSelector`/`namespaceSelector` makes the emulator
//!   panic (polytrans never emits them);
//! - mutators: `applyTo`, `match`, `location` with `[key: value]` list selectors (`*` iterates
//!   the existing elements; a fixed value selects or creates the element), `pathTests`
//!   (`MustExist`/`MustNotExist`, judged at their depth on each branch), `assignIf`
//!   (`in`/`notIn`), `assign.value`, ModifySet `merge`/`prune`; AssignMetadata only adds a label
//!   or annotation that is absent. Mutators run in (kind, name) order until nothing changes.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// One ConstraintTemplate, compiled once.
pub struct Template {
    pub kind: String,
    pub package: String,
    engine: regorus::Engine,
    /// The `K8sNativeValidation` code, when the template has it (polytrans's own templates are
    /// run on both engines, which must agree).
    pub cel: Option<CelCode>,
}

/// A template's `K8sNativeValidation` source, compiled: variables (in order) and validations.
pub struct CelCode {
    variables: Vec<(String, super::cel::Program)>,
    validations: Vec<(String, super::cel::Program)>,
}

fn yaml_docs(text: &str) -> Vec<Value> {
    polytrans::load::yaml_documents(text).unwrap_or_else(|e| panic!("yaml: {e}"))
}

/// The first YAML document of a file.
pub fn yaml_one(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_docs(&text)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{}: empty", path.display()))
}

/// Loads a `template.yaml` (legacy `rego:` or `code[engine=Rego]`).
pub fn load_template(path: &Path) -> Template {
    template_of(&yaml_one(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compiles a ConstraintTemplate object: its Rego (v0, or v1 where `source.version` says so),
/// and its `K8sNativeValidation` CEL when present.
pub fn template_of(t: &Value) -> Result<Template, String> {
    let kind = t["spec"]["crd"]["spec"]["names"]["kind"]
        .as_str()
        .ok_or("no spec.crd.spec.names.kind")?
        .to_string();
    let target = &t["spec"]["targets"][0];
    let (rego, libs, v1) = if let Some(r) = target["rego"].as_str() {
        (r.to_string(), target["libs"].clone(), false)
    } else {
        let code = target["code"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["engine"] == "Rego"))
            .ok_or("no Rego code")?;
        (
            code["source"]["rego"]
                .as_str()
                .ok_or("no source.rego")?
                .to_string(),
            code["source"]["libs"].clone(),
            code["source"]["version"] == "v1",
        )
    };
    let libs: Vec<String> = libs
        .as_array()
        .map(|a| a.iter().map(|l| l.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    let package = rego
        .lines()
        .find_map(|l| l.trim().strip_prefix("package "))
        .ok_or("no package")?
        .trim()
        .to_string();
    let mut engine = regorus::Engine::new();
    // regorus parses Rego v1 by default; the library's templates are v0.
    engine.set_rego_v0(!v1);
    engine.set_strict_builtin_errors(false);
    engine
        .add_policy("template.rego".into(), rego)
        .map_err(|e| e.to_string())?;
    for (i, l) in libs.into_iter().enumerate() {
        engine
            .add_policy(format!("lib{i}.rego"), l)
            .map_err(|e| e.to_string())?;
    }
    let cel = target["code"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["engine"] == "K8sNativeValidation"))
        .map(|c| -> Result<CelCode, String> {
            let compile =
                |e: &str| super::cel::Program::compile(e).map_err(|err| format!("{e}: {err:?}"));
            let src = &c["source"];
            let mut variables = Vec::new();
            for v in src["variables"].as_array().into_iter().flatten() {
                let name = v["name"].as_str().ok_or("variable without name")?;
                let expr = v["expression"]
                    .as_str()
                    .ok_or("variable without expression")?;
                variables.push((name.to_string(), compile(expr)?));
            }
            let mut validations = Vec::new();
            for v in src["validations"].as_array().into_iter().flatten() {
                let expr = v["expression"]
                    .as_str()
                    .ok_or("validation without expression")?;
                validations.push((expr.to_string(), compile(expr)?));
            }
            Ok(CelCode {
                variables,
                validations,
            })
        })
        .transpose()?;
    Ok(Template {
        kind,
        package,
        engine,
        cel,
    })
}

/// Kubernetes' string extensions the own templates use: `replace` and `split`.
pub fn add_cel_functions(ctx: &mut cel_interpreter::Context) {
    use cel_interpreter::Value as Cel;
    use std::sync::Arc;
    ctx.add_function(
        "replace",
        |cel_interpreter::extractors::This(s): cel_interpreter::extractors::This<Arc<String>>,
         from: Arc<String>,
         to: Arc<String>| { s.replace(from.as_str(), to.as_str()) },
    );
    // Kubernetes' `split(separator, limit)` (a negative limit: every part).
    ctx.add_function(
        "split",
        |cel_interpreter::extractors::This(s): cel_interpreter::extractors::This<Arc<String>>,
         sep: Arc<String>,
         limit: i64|
         -> Result<Cel, cel_interpreter::ExecutionError> {
            let parts: Vec<Cel> = if limit < 0 {
                s.split(sep.as_str())
                    .map(|p| Cel::String(Arc::new(p.to_string())))
                    .collect()
            } else {
                s.splitn(limit as usize, sep.as_str())
                    .map(|p| Cel::String(Arc::new(p.to_string())))
                    .collect()
            };
            Ok(Cel::List(Arc::new(parts)))
        },
    );
}

impl CelCode {
    /// The failing validations (their expressions) on `review` with `parameters`, as Gatekeeper
    /// binds a `K8sNativeValidation` template: `request` (the review), `variables.anyObject`
    /// (the object), `variables.params` (the parameters), then the template's variables in
    /// order. Kubernetes' string extensions `replace` and `split` are provided. `Err` on an
    /// evaluation error.
    pub fn violations(&self, review: &Value, parameters: &Value) -> Result<Vec<String>, String> {
        use cel_interpreter::Value as Cel;
        use cel_interpreter::objects::Key;
        use std::collections::HashMap;
        use std::sync::Arc;
        let mut ctx = super::cel::context();
        add_cel_functions(&mut ctx);
        ctx.add_variable_from_value("request", super::cel::to_cel(review));
        let mut vars: HashMap<Key, Cel> = HashMap::new();
        vars.insert(
            Key::String(Arc::new("anyObject".into())),
            super::cel::to_cel(&review["object"]),
        );
        vars.insert(
            Key::String(Arc::new("params".into())),
            super::cel::to_cel(parameters),
        );
        super::cel::bind_variables(&mut ctx, vars, &self.variables)?;
        let mut failed = Vec::new();
        for (expr, prog) in &self.validations {
            match prog.execute(&ctx) {
                Ok(Cel::Bool(true)) => {}
                Ok(Cel::Bool(false)) => failed.push(expr.clone()),
                other => return Err(format!("{expr}: {other:?}")),
            }
        }
        Ok(failed)
    }
}

impl Template {
    /// The violation messages on `review` with `parameters` (an evaluation error is one violation
    /// carrying the error, as gator reports it).
    pub fn violations(&self, review: &Value, parameters: &Value) -> Vec<String> {
        let mut engine = self.engine.clone();
        let input = json!({"review": review, "parameters": parameters});
        let mut run = || -> Result<Vec<String>, String> {
            engine.set_input(
                regorus::Value::from_json_str(&input.to_string()).map_err(|e| e.to_string())?,
            );
            let v = engine
                .eval_rule(format!("data.{}.violation", self.package))
                .map_err(|e| e.to_string())?;
            let v: Value = serde_json::from_str(&v.to_json_str().map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
            Ok(match v {
                Value::Array(a) => a
                    .iter()
                    .map(|x| x["msg"].as_str().unwrap_or("").to_string())
                    .collect(),
                _ => Vec::new(),
            })
        };
        run().unwrap_or_else(|e| vec![format!("evaluation error: {e}")])
    }
}

/// Every template of the library folder, by constraint kind.
pub struct Library {
    pub templates: BTreeMap<String, Template>,
}

impl Library {
    pub fn load(dir: &Path) -> Library {
        let mut templates = BTreeMap::new();
        let mut dirs: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        dirs.sort();
        for d in dirs {
            let p = d.join("template.yaml");
            if p.is_file() {
                let t = load_template(&p);
                // `seccomp` and `seccompv2` share a package; each kind keeps its own engine.
                templates.insert(t.kind.clone(), t);
            }
        }
        Library { templates }
    }

    pub fn from_shared(shared: &Path) -> Library {
        Library::load(&shared.join("conformance/gatekeeper-library/pod-security-policy"))
    }
}

/// Drops `null` members (the API server stores no nulls; the Rego tells absent from `null`).
pub fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// `(group, version, kind)` of an object.
fn gvk(obj: &Value) -> (String, String, String) {
    let api = obj["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    (
        group.to_string(),
        version.to_string(),
        obj["kind"].as_str().unwrap_or("").to_string(),
    )
}

/// The admission request gator builds for an object (an `AdmissionReview` gives its request).
pub fn review_of(obj: &Value) -> Value {
    if obj["kind"] == "AdmissionReview" {
        return obj["request"].clone();
    }
    let (group, version, kind) = gvk(obj);
    json!({
        "kind": {"group": group, "version": version, "kind": kind},
        "name": obj["metadata"]["name"],
        "namespace": obj["metadata"]["namespace"].as_str().unwrap_or("default"),
        "operation": "CREATE",
        "object": obj,
    })
}

/// A namespace against a Gatekeeper namespace list entry (`prefix*` is a prefix glob).
fn ns_matches(pattern: &str, ns: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => ns.starts_with(prefix),
        None => pattern == ns,
    }
}

/// Gatekeeper's `match` for a review.
pub fn matches(m: &Value, review: &Value) -> bool {
    for unsupported in ["labelSelector", "namespaceSelector"] {
        assert!(
            m[unsupported].is_null(),
            "the emulator does not implement `match.{unsupported}`"
        );
    }
    if let Some(kinds) = m["kinds"].as_array() {
        let group = review["kind"]["group"].as_str().unwrap_or("");
        let kind = review["kind"]["kind"].as_str().unwrap_or("");
        let ok = kinds.iter().any(|k| {
            let gs = k["apiGroups"].as_array().cloned().unwrap_or_default();
            let ks = k["kinds"].as_array().cloned().unwrap_or_default();
            (gs.is_empty() || gs.iter().any(|g| g == "*" || g == group))
                && (ks.is_empty() || ks.iter().any(|x| x == "*" || x == kind))
        });
        if !ok {
            return false;
        }
    }
    let ns = review["namespace"].as_str().unwrap_or("");
    if m["scope"] == "Cluster" && !ns.is_empty() {
        return false;
    }
    if let Some(list) = m["namespaces"].as_array()
        && !list
            .iter()
            .any(|n| n.as_str().is_some_and(|n| ns_matches(n, ns)))
    {
        return false;
    }
    if let Some(list) = m["excludedNamespaces"].as_array()
        && list
            .iter()
            .any(|n| n.as_str().is_some_and(|n| ns_matches(n, ns)))
    {
        return false;
    }
    if let Some(name) = m["name"].as_str()
        && !ns_matches(name, review["name"].as_str().unwrap_or(""))
    {
        return false;
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Mutation

/// One step of a mutation `location`.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Field(String),
    /// `[key: value]`; `None` is the glob `*`.
    List(String, Option<String>),
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        let inner = &s[1..s.len() - 1];
        let mut out = String::new();
        let mut esc = false;
        for c in inner.chars() {
            if esc {
                out.push(c);
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else {
                out.push(c);
            }
        }
        out
    } else {
        s.to_string()
    }
}

/// Parses a location: `a.b[name: *].c."quoted.key"`.
fn parse_location(loc: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    let chars: Vec<char> = loc.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => i += 1,
            '[' => {
                let start = i + 1;
                let mut j = start;
                let mut in_q = false;
                while j < chars.len() && (in_q || chars[j] != ']') {
                    if chars[j] == '"' {
                        in_q = !in_q;
                    } else if chars[j] == '\\' && in_q {
                        j += 1;
                    }
                    j += 1;
                }
                let body: String = chars[start..j].iter().collect();
                let (k, v) = body
                    .split_once(':')
                    .unwrap_or_else(|| panic!("bad list selector in `{loc}`"));
                let v = v.trim();
                let v = if v == "*" { None } else { Some(unquote(v)) };
                segs.push(Seg::List(unquote(k), v));
                i = j + 1;
            }
            '"' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != '"' {
                    if chars[j] == '\\' {
                        j += 1;
                    }
                    j += 1;
                }
                segs.push(Seg::Field(unquote(
                    &chars[i..=j.min(chars.len() - 1)].iter().collect::<String>(),
                )));
                i = j + 1;
            }
            _ => {
                let mut j = i;
                while j < chars.len() && chars[j] != '.' && chars[j] != '[' {
                    j += 1;
                }
                segs.push(Seg::Field(chars[i..j].iter().collect()));
                i = j;
            }
        }
    }
    segs
}

#[derive(Clone, Copy, PartialEq)]
enum Cond {
    MustExist,
    MustNotExist,
}

/// What to do at the end of a location.
enum Op<'a> {
    Assign {
        value: &'a Value,
        assign_if: &'a Value,
    },
    Merge(&'a [Value]),
    Prune(&'a [Value]),
}

/// Walks `segs` from `node`, judging each depth's path test, and applies `op` at the end.
/// Returns whether anything changed.
fn walk(
    node: &mut Value,
    segs: &[Seg],
    depth: usize,
    tests: &BTreeMap<usize, Cond>,
    op: &Op,
) -> bool {
    let last = depth + 1 == segs.len();
    let test = tests.get(&depth).copied();
    match &segs[depth] {
        Seg::Field(name) => {
            if !node.is_object() {
                return false;
            }
            let exists = node.get(name).is_some();
            match (exists, test) {
                (true, Some(Cond::MustNotExist)) | (false, Some(Cond::MustExist)) => return false,
                _ => {}
            }
            let obj = node.as_object_mut().unwrap();
            if last {
                return apply(obj, name, op);
            }
            let child = obj
                .entry(name.clone())
                .or_insert_with(|| match &segs[depth + 1] {
                    Seg::List(..) => json!([]),
                    Seg::Field(_) => json!({}),
                });
            let changed = walk(child, segs, depth + 1, tests, op);
            if !exists && !changed {
                obj.remove(name);
            }
            changed
        }
        Seg::List(key, val) => {
            let Some(list) = node.as_array_mut() else {
                return false;
            };
            match val {
                None => {
                    // A glob visits each element; it never creates one.
                    let mut changed = false;
                    for el in list.iter_mut() {
                        if test == Some(Cond::MustNotExist) {
                            continue;
                        }
                        if last {
                            panic!("a glob cannot end a location");
                        }
                        changed |= walk(el, segs, depth + 1, tests, op);
                    }
                    changed
                }
                Some(v) => {
                    let pos = list
                        .iter()
                        .position(|e| e[key.as_str()].as_str() == Some(v.as_str()));
                    match (pos.is_some(), test) {
                        (true, Some(Cond::MustNotExist)) | (false, Some(Cond::MustExist)) => {
                            return false;
                        }
                        _ => {}
                    }
                    if last {
                        let Op::Assign { value, .. } = op else {
                            panic!("ModifySet cannot end at a list element");
                        };
                        match pos {
                            Some(p) if list[p] == **value => return false,
                            Some(p) => list[p] = (*value).clone(),
                            None => list.push((*value).clone()),
                        }
                        return true;
                    }
                    let p = match pos {
                        Some(p) => p,
                        None => {
                            list.push(json!({ key.clone(): v }));
                            list.len() - 1
                        }
                    };
                    let changed = walk(&mut list[p], segs, depth + 1, tests, op);
                    if pos.is_none() && !changed {
                        list.pop();
                    }
                    changed
                }
            }
        }
    }
}

fn apply(obj: &mut serde_json::Map<String, Value>, name: &str, op: &Op) -> bool {
    match op {
        Op::Assign { value, assign_if } => {
            let current = obj.get(name);
            if let Some(list) = assign_if["in"].as_array()
                && !current.is_some_and(|c| list.contains(c))
            {
                return false;
            }
            if let Some(list) = assign_if["notIn"].as_array()
                && current.is_some_and(|c| list.contains(c))
            {
                return false;
            }
            if current == Some(*value) {
                return false;
            }
            obj.insert(name.to_string(), (*value).clone());
            true
        }
        Op::Merge(values) => {
            let list = obj.entry(name.to_string()).or_insert_with(|| json!([]));
            let Some(list) = list.as_array_mut() else {
                return false;
            };
            let mut changed = false;
            for v in *values {
                if !list.contains(v) {
                    list.push(v.clone());
                    changed = true;
                }
            }
            changed
        }
        Op::Prune(values) => {
            let Some(list) = obj.get_mut(name).and_then(Value::as_array_mut) else {
                return false;
            };
            let before = list.len();
            list.retain(|v| !values.contains(v));
            before != list.len()
        }
    }
}

/// Whether a mutator's `applyTo` names the object's group/version/kind.
fn applies_to(m: &Value, obj: &Value) -> bool {
    let (group, version, kind) = gvk(obj);
    m["spec"]["applyTo"].as_array().is_some_and(|a| {
        a.iter().any(|t| {
            let has = |k: &str, v: &str| {
                t[k].as_array()
                    .is_some_and(|l| l.iter().any(|x| x.as_str() == Some(v)))
            };
            has("groups", &group) && has("versions", &version) && has("kinds", &kind)
        })
    })
}

/// Applies one mutator; returns whether the object changed.
pub fn mutate_once(m: &Value, obj: &mut Value) -> bool {
    let review = review_of(obj);
    if !m["spec"]["match"].is_null() && !matches(&m["spec"]["match"], &review) {
        return false;
    }
    let kind = m["kind"].as_str().unwrap_or("");
    let location = m["spec"]["location"]
        .as_str()
        .unwrap_or_else(|| panic!("mutator without location: {m}"));
    let segs = parse_location(location);
    let params = &m["spec"]["parameters"];
    let mut tests = BTreeMap::new();
    for t in params["pathTests"].as_array().into_iter().flatten() {
        let sub = parse_location(t["subPath"].as_str().unwrap());
        assert!(
            segs.starts_with(&sub),
            "pathTests subPath must be a prefix of location: {m}"
        );
        let c = match t["condition"].as_str() {
            Some("MustExist") => Cond::MustExist,
            Some("MustNotExist") => Cond::MustNotExist,
            other => panic!("bad path test condition {other:?}"),
        };
        tests.insert(sub.len() - 1, c);
    }
    match kind {
        "Assign" => {
            if !applies_to(m, obj) {
                return false;
            }
            let value = &params["assign"]["value"];
            assert!(!value.is_null(), "Assign without assign.value: {m}");
            walk(
                obj,
                &segs,
                0,
                &tests,
                &Op::Assign {
                    value,
                    assign_if: &params["assignIf"],
                },
            )
        }
        "ModifySet" => {
            if !applies_to(m, obj) {
                return false;
            }
            let values = params["values"]["fromList"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let op = match params["operation"].as_str().unwrap_or("merge") {
                "merge" => Op::Merge(values),
                "prune" => Op::Prune(values),
                other => panic!("bad ModifySet operation {other}"),
            };
            walk(obj, &segs, 0, &tests, &op)
        }
        "AssignMetadata" => {
            let [Seg::Field(md), Seg::Field(which), Seg::Field(key)] = segs.as_slice() else {
                panic!(
                    "AssignMetadata location must be metadata.labels|annotations.KEY: {location}"
                );
            };
            assert!(
                md == "metadata" && (which == "labels" || which == "annotations"),
                "AssignMetadata location must be metadata.labels|annotations.KEY: {location}"
            );
            let value = &params["assign"]["value"];
            assert!(value.is_string(), "AssignMetadata assigns a string: {m}");
            let map = obj["metadata"]
                .as_object_mut()
                .unwrap()
                .entry(which.clone())
                .or_insert_with(|| json!({}));
            if map.get(key).is_some() {
                return false;
            }
            map[key.as_str()] = value.clone();
            true
        }
        other => panic!("unknown mutator kind {other}"),
    }
}

/// Runs every mutator in (kind, name) order until the object stops changing.
pub fn mutate(mutators: &[Value], obj: &mut Value) {
    let mut sorted: Vec<&Value> = mutators.iter().collect();
    sorted.sort_by_key(|m| {
        (
            m["kind"].as_str().unwrap_or("").to_string(),
            m["metadata"]["name"].as_str().unwrap_or("").to_string(),
        )
    });
    if obj["metadata"].is_null() {
        obj["metadata"] = json!({});
    }
    for _ in 0..10 {
        let mut changed = false;
        for m in &sorted {
            changed |= mutate_once(m, obj);
        }
        if !changed {
            return;
        }
    }
    panic!("mutators did not converge");
}

// ---------------------------------------------------------------------------------------------
// Output of `--to gatekeeper`

/// The constraints, mutators and polytrans's own ConstraintTemplates of an output.
#[derive(Default)]
pub struct Output {
    pub constraints: Vec<Value>,
    pub mutators: Vec<Value>,
    /// The ConstraintTemplates the output carries, by constraint kind.
    pub templates: BTreeMap<String, Template>,
}

impl Output {
    /// Splits the YAML documents of `polytrans … --to gatekeeper`.
    pub fn from_text(text: &str) -> Output {
        let mut out = Output::default();
        for d in yaml_docs(text) {
            let api = d["apiVersion"].as_str().unwrap_or("");
            if api.starts_with("constraints.gatekeeper.sh/") {
                out.constraints.push(d);
            } else if api.starts_with("mutations.gatekeeper.sh/") {
                out.mutators.push(d);
            } else if api.starts_with("templates.gatekeeper.sh/") {
                let t = template_of(&d).unwrap_or_else(|e| panic!("{e}\n{d}"));
                out.templates.insert(t.kind.clone(), t);
            } else if !d.is_null() {
                panic!("unexpected document in gatekeeper output: {d}");
            }
        }
        out
    }

    /// The violations of `obj` after mutation, as `Kind/name: msg`.
    pub fn violations(&self, lib: &Library, obj: &Value) -> Vec<String> {
        let mut obj = strip_nulls(obj);
        mutate(&self.mutators, &mut obj);
        let review = review_of(&obj);
        let mut out = Vec::new();
        for c in &self.constraints {
            let kind = c["kind"].as_str().unwrap();
            let t = self
                .templates
                .get(kind)
                .or_else(|| lib.templates.get(kind))
                .unwrap_or_else(|| panic!("no template for `{kind}`"));
            if !matches(&c["spec"]["match"], &review) {
                continue;
            }
            let params = match &c["spec"]["parameters"] {
                Value::Null => json!({}),
                p => p.clone(),
            };
            let found = t.violations(&review, &params);
            // An own template's CEL must decide as its Rego does.
            if let (Some(cel), true) = (&t.cel, self.templates.contains_key(kind)) {
                match cel.violations(&review, &params) {
                    Ok(v) if v.is_empty() == found.is_empty() => {}
                    other => panic!(
                        "{kind}: CEL {other:?} and Rego {found:?} disagree\n  parameters {params}\n  object {}",
                        review["object"]
                    ),
                }
            }
            for m in found {
                out.push(format!(
                    "{kind}/{}: {m}",
                    c["metadata"]["name"].as_str().unwrap_or("")
                ));
            }
        }
        out
    }

    /// Whether a `deny` Gatekeeper admits `obj`.
    pub fn admits(&self, lib: &Library, obj: &Value) -> bool {
        self.violations(lib, obj).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_parsing() {
        assert_eq!(
            parse_location(r#"spec.containers[name: *].securityContext."a.b""#),
            vec![
                Seg::Field("spec".into()),
                Seg::Field("containers".into()),
                Seg::List("name".into(), None),
                Seg::Field("securityContext".into()),
                Seg::Field("a.b".into()),
            ]
        );
    }
}

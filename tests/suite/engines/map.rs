//! Test-only MutatingAdmissionPolicy applier (Kubernetes `MutatingAdmissionPolicy` + binding, and
//! Kyverno `MutatingPolicy`, which shares its `mutations`), on `cel-interpreter`.
//!
//! What it follows (kubernetes/kubernetes, `staging/src/k8s.io/apiserver/pkg/admission/plugin/
//! policy/mutating/`): `dispatcher.go` (the policy's `matchConditions` on the object as it
//! arrives; then each mutation in order, each evaluated on the object the previous one left),
//! `patch/smd.go` (an apply configuration is merged with structured-merge-diff: maps and structs
//! field by field, associative lists by their key, atomic lists replaced; atomic structs and maps
//! refused with "may not mutate atomic arrays, maps or structs"), `patch/json_patch.go` (RFC 6902
//! operations; `jsonpatch.escapeKey`). Calibrated by `map_engine.rs` on the examples of the
//! Kubernetes documentation and the apply-configuration cases of `smd_test.go`.
//!
//! `cel-interpreter` has no typed object construction (`Object.spec{…}`), so [`rewrite`] turns
//! each typed literal into a map carrying its type name under `@type`, and checks the type name
//! as the API server's type checker does (`Object.spec.containers` for the elements of
//! `Object.spec{containers: […]}`); the merge strips the names. Kubernetes' `<list>.indexOf(x)`
//! and `jsonpatch.escapeKey(s)` are provided as functions.

use super::cel::Program;
use super::cel::to_cel;
use cel_interpreter::{Context, Value as Cel, extractors::This, objects::Key};
use serde_json::{Map, Value, json};
use std::sync::Arc;

const TYPE: &str = "@type";

// ------------------------------------------------------------------------------------------
// Typed literals

#[derive(PartialEq)]
enum Frame {
    /// A typed literal: its type name and the field whose value is being read.
    Struct {
        ty: String,
        field: Option<String>,
    },
    Other,
}

/// The expression with typed literals as maps (`Object.spec{a: 1}` →
/// `{'@type': 'Object.spec', 'a': 1}`) and `jsonpatch.escapeKey(` as `jsonpatchEscapeKey(`;
/// `Err` when a type name does not follow the field path (the API server's type error).
pub fn rewrite(expr: &str) -> Result<String, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut expect_field = false;
    let mut i = 0;
    let ident_start = |c: char| c.is_ascii_alphabetic() || c == '_';
    let ident_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            let q = c;
            out.push(c);
            i += 1;
            while i < chars.len() {
                out.push(chars[i]);
                if chars[i] == '\\' {
                    i += 1;
                    if i < chars.len() {
                        out.push(chars[i]);
                    }
                } else if chars[i] == q {
                    break;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        let prev_ident = i > 0 && (ident_char(chars[i - 1]) || chars[i - 1] == '.');
        if ident_start(c) && !prev_ident {
            let start = i;
            while i < chars.len()
                && (ident_char(chars[i])
                    || (chars[i] == '.' && i + 1 < chars.len() && ident_start(chars[i + 1])))
            {
                i += 1;
            }
            let path: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let next = chars.get(j).copied();
            if expect_field && next == Some(':') && !path.contains('.') {
                out.push_str(&format!("'{path}'"));
                if let Some(Frame::Struct { field, .. }) = stack.last_mut() {
                    *field = Some(path);
                }
                expect_field = false;
                continue;
            }
            expect_field = false;
            let typed = path == "Object" || path.starts_with("Object.") || path == "JSONPatch";
            if typed && next == Some('{') {
                // The type the enclosing field expects.
                let expected = stack.iter().rev().find_map(|f| match f {
                    Frame::Struct { ty, field } => Some((ty.clone(), field.clone())),
                    Frame::Other => None,
                });
                match expected {
                    Some((parent, Some(field))) if parent != "JSONPatch" => {
                        let want = format!("{parent}.{field}");
                        if path != want {
                            return Err(format!(
                                "type mismatch: unexpected type name \"{path}\", expected \"{want}\", which matches field name path from root Object type"
                            ));
                        }
                    }
                    Some((_, Some(_))) if !path.starts_with("Object") => {
                        return Err(format!("JSONPatch value of type {path}"));
                    }
                    _ => {}
                }
                out.push_str(&format!("{{'{TYPE}': '{path}'"));
                i = j + 1;
                let mut k = i;
                while k < chars.len() && chars[k].is_whitespace() {
                    k += 1;
                }
                if chars.get(k) != Some(&'}') {
                    out.push_str(", ");
                }
                stack.push(Frame::Struct {
                    ty: path,
                    field: None,
                });
                expect_field = true;
                continue;
            }
            if path == "jsonpatch.escapeKey" {
                out.push_str("jsonpatchEscapeKey");
            } else {
                out.push_str(&path);
            }
            continue;
        }
        match c {
            '{' | '(' | '[' => {
                stack.push(Frame::Other);
                expect_field = false;
            }
            '}' | ')' | ']' => {
                stack.pop();
                expect_field = false;
            }
            ',' => expect_field = matches!(stack.last(), Some(Frame::Struct { .. })),
            c if c.is_whitespace() => {}
            _ => expect_field = false,
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------
// CEL values

/// A CEL result as JSON (typed literals keep their `@type`).
pub fn from_cel(v: &Cel) -> Result<Value, String> {
    Ok(match v {
        Cel::Null => Value::Null,
        Cel::Bool(b) => json!(b),
        Cel::Int(i) => json!(i),
        Cel::UInt(u) => json!(u),
        Cel::Float(f) => json!(f),
        Cel::String(s) => json!(s.as_str()),
        Cel::List(l) => Value::Array(l.iter().map(from_cel).collect::<Result<_, _>>()?),
        Cel::Map(m) => {
            let mut keys: Vec<(&Key, &Cel)> = m.map.iter().collect();
            keys.sort_by_key(|(k, _)| k.to_string());
            let mut out = Map::new();
            for (k, v) in keys {
                let Key::String(k) = k else {
                    return Err(format!("map key {k:?} is not a string"));
                };
                out.insert(k.to_string(), from_cel(v)?);
            }
            Value::Object(out)
        }
        other => return Err(format!("unsupported CEL value {other:?}")),
    })
}

fn strip_types(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| *k != TYPE)
                .map(|(k, v)| (k.clone(), strip_types(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_types).collect()),
        v => v.clone(),
    }
}

pub fn context() -> Context<'static> {
    let mut ctx = super::cel::context();
    ctx.add_function(
        "indexOf",
        |This(list): This<Arc<Vec<Cel>>>, x: Cel| -> i64 {
            list.iter().position(|e| *e == x).map_or(-1, |p| p as i64)
        },
    );
    ctx.add_function("jsonpatchEscapeKey", |s: Arc<String>| -> String {
        s.replace('~', "~0").replace('/', "~1")
    });
    ctx
}

// ------------------------------------------------------------------------------------------
// Apply configurations (structured merge)

/// The key fields of the associative lists of the pod schema (`+listType=map`), by field name.
fn list_keys(field: &str) -> Option<&'static [&'static str]> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims" => &["name"],
        "volumeMounts" => &["mountPath"],
        "ports" => &["containerPort", "protocol"],
        _ => return None,
    })
}

/// Structs the schema marks atomic (`+structType=atomic`) that an apply configuration may not
/// set: `LabelSelector`.
fn atomic_struct(ty: &str) -> bool {
    ty.ends_with(".selector")
}

/// What merging an apply configuration did that a `v1beta1` API server (1.34–1.35) refuses:
/// atomic lists set.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub atomic_lists: Vec<String>,
}

/// Merges the apply configuration `patch` (an `Object{…}` value with its `@type`s) into `live`.
pub fn apply_configuration(live: &mut Value, patch: &Value) -> Result<ApplyReport, String> {
    let ty = patch.get(TYPE).and_then(Value::as_str).unwrap_or("");
    if ty != "Object" {
        return Err(format!(
            "must evaluate to Object but got {}",
            if ty.is_empty() { "map" } else { ty }
        ));
    }
    let mut report = ApplyReport::default();
    merge(live, patch, "", &mut report)?;
    Ok(report)
}

fn key_of(item: &Value, keys: &[&str]) -> Vec<Value> {
    keys.iter()
        .map(|k| {
            item.get(*k).cloned().unwrap_or_else(|| {
                // `protocol` defaults to TCP.
                if *k == "protocol" {
                    json!("TCP")
                } else {
                    Value::Null
                }
            })
        })
        .collect()
}

fn merge(
    live: &mut Value,
    patch: &Value,
    path: &str,
    report: &mut ApplyReport,
) -> Result<(), String> {
    let Value::Object(p) = patch else {
        *live = patch.clone();
        return Ok(());
    };
    if let Some(ty) = p.get(TYPE).and_then(Value::as_str) {
        if atomic_struct(ty) {
            return Err(format!(
                "invalid ApplyConfiguration: may not mutate atomic arrays, maps or structs: {path}"
            ));
        }
    }
    if !live.is_object() {
        *live = Value::Object(Map::new());
    }
    let l = live.as_object_mut().unwrap();
    for (k, v) in p {
        if k == TYPE {
            continue;
        }
        let at = format!("{path}.{k}");
        match v {
            Value::Array(items) => match list_keys(k) {
                Some(keys) => {
                    let entry = l.entry(k.clone()).or_insert_with(|| json!([]));
                    if !entry.is_array() {
                        *entry = json!([]);
                    }
                    let list = entry.as_array_mut().unwrap();
                    for item in items {
                        let key = key_of(item, keys);
                        match list.iter_mut().find(|e| key_of(e, keys) == key) {
                            Some(existing) => merge(existing, item, &at, report)?,
                            None => {
                                let mut fresh = Value::Object(Map::new());
                                merge(&mut fresh, item, &at, report)?;
                                list.push(fresh);
                            }
                        }
                    }
                }
                None => {
                    report.atomic_lists.push(at);
                    l.insert(k.clone(), strip_types(v));
                }
            },
            Value::Object(_) => {
                let entry = l
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                merge(entry, v, &at, report)?;
            }
            _ => {
                l.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// JSON patches (RFC 6902)

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn tokens(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(vec![]);
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("JSON pointer {path:?} does not start with /"))?;
    Ok(rest.split('/').map(unescape).collect())
}

fn pointer_mut<'a>(doc: &'a mut Value, toks: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in toks {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(t)
                .ok_or_else(|| format!("missing member {t:?}"))?,
            Value::Array(a) => {
                let i: usize = t.parse().map_err(|_| format!("bad index {t:?}"))?;
                a.get_mut(i)
                    .ok_or_else(|| format!("index {i} out of range"))?
            }
            _ => return Err(format!("cannot descend into a scalar at {t:?}")),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let toks = tokens(path)?;
    let Some((last, parent)) = toks.split_last() else {
        *doc = value;
        return Ok(());
    };
    match pointer_mut(doc, parent)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i: usize = last.parse().map_err(|_| format!("bad index {last:?}"))?;
                if i > a.len() {
                    return Err(format!("index {i} out of range"));
                }
                a.insert(i, value);
            }
        }
        _ => return Err(format!("add {path}: parent is a scalar")),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let toks = tokens(path)?;
    let (last, parent) = toks.split_last().ok_or("cannot remove the root")?;
    match pointer_mut(doc, parent)? {
        Value::Object(m) => m
            .remove(last)
            .ok_or_else(|| format!("remove {path}: missing")),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| format!("bad index {last:?}"))?;
            if i >= a.len() {
                return Err(format!("remove {path}: index out of range"));
            }
            Ok(a.remove(i))
        }
        _ => Err(format!("remove {path}: parent is a scalar")),
    }
}

/// Applies JSON patch operations (`{op, path, value, from}` maps) to `doc`.
pub fn json_patch(doc: &mut Value, ops: &[Value]) -> Result<(), String> {
    for op in ops {
        let kind = op["op"].as_str().ok_or("JSONPatch without op")?;
        let path = op["path"].as_str().ok_or("JSONPatch without path")?;
        let value = || strip_types(&op["value"]);
        match kind {
            "add" => add(doc, path, value())?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                let target = pointer_mut(doc, &tokens(path)?)?;
                *target = value();
            }
            "test" => {
                let target = pointer_mut(doc, &tokens(path)?)?;
                if *target != value() {
                    return Err(format!("test operation for path {path:?} failed"));
                }
            }
            "move" | "copy" => {
                let from = op["from"].as_str().ok_or("JSONPatch without from")?;
                let v = if kind == "move" {
                    remove(doc, from)?
                } else {
                    pointer_mut(doc, &tokens(from)?)?.clone()
                };
                add(doc, path, v)?;
            }
            other => return Err(format!("unknown JSONPatch op {other:?}")),
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Policies

/// How one mutation patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    ApplyConfiguration,
    JsonPatch,
}

pub struct Mutation {
    pub patch_type: PatchType,
    pub expression: String,
    program: Program,
}

impl Mutation {
    pub fn new(patch_type: PatchType, expression: &str) -> Result<Mutation, String> {
        let rewritten = rewrite(expression)?;
        let program = Program::compile(&rewritten).map_err(|e| format!("{expression}: {e:?}"))?;
        Ok(Mutation {
            patch_type,
            expression: expression.to_string(),
            program,
        })
    }

    /// Applies the mutation to `object`; the atomic lists an apply configuration set.
    pub fn apply(&self, object: &mut Value) -> Result<Vec<String>, String> {
        let mut ctx = context();
        ctx.add_variable_from_value("object", to_cel(object));
        let out = self
            .program
            .execute(&ctx)
            .map_err(|e| format!("{e:?}\n  {}", self.expression))?;
        let out = from_cel(&out)?;
        match self.patch_type {
            PatchType::ApplyConfiguration => Ok(apply_configuration(object, &out)?.atomic_lists),
            PatchType::JsonPatch => {
                let ops = out
                    .as_array()
                    .ok_or_else(|| format!("must evaluate to a list of JSONPatch, got {out}"))?;
                for o in ops {
                    if o.get(TYPE).and_then(Value::as_str) != Some("JSONPatch") {
                        return Err(format!("not a JSONPatch: {o}"));
                    }
                }
                json_patch(object, ops)?;
                Ok(vec![])
            }
        }
    }
}

/// One mutating policy with its binding's namespace selector.
pub struct Policy {
    pub name: String,
    pub namespace_selector: Vec<super::cel::SelectorTerm>,
    pub match_conditions: Vec<(String, Program)>,
    pub mutations: Vec<Mutation>,
}

impl Policy {
    /// Every `MutatingAdmissionPolicy` (with its binding) and Kyverno `MutatingPolicy` in the
    /// output, by name (the order the API server invokes them in).
    pub fn all_from_text(text: &str) -> Vec<Policy> {
        let docs = polytrans::load::yaml_documents(text).expect("backend output is YAML");
        let mut out: Vec<Policy> = docs
            .iter()
            .filter(|d| {
                matches!(
                    d["kind"].as_str(),
                    Some("MutatingAdmissionPolicy" | "MutatingPolicy")
                )
            })
            .map(|d| {
                let spec = &d["spec"];
                let name = d["metadata"]["name"].as_str().unwrap().to_string();
                assert!(
                    spec.get("variables").is_none(),
                    "{name}: variables are evaluated once per policy; the mutations read `object`"
                );
                let rules = spec["matchConstraints"]["resourceRules"].to_string();
                assert!(
                    rules.contains("\"pods\"") && rules.contains("CREATE"),
                    "{name}: pods on CREATE"
                );
                let selector = if d["kind"] == "MutatingAdmissionPolicy" {
                    let binding = docs
                        .iter()
                        .find(|b| {
                            b["kind"] == "MutatingAdmissionPolicyBinding"
                                && b["spec"]["policyName"] == d["metadata"]["name"]
                                && b["apiVersion"] == d["apiVersion"]
                        })
                        .unwrap_or_else(|| panic!("{name}: no binding of the same apiVersion"));
                    &binding["spec"]["matchResources"]["namespaceSelector"]
                } else {
                    &spec["matchConstraints"]["namespaceSelector"]
                };
                let match_conditions = spec["matchConditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        let e = c["expression"].as_str().unwrap();
                        (
                            c["name"].as_str().unwrap().to_string(),
                            Program::compile(e).unwrap_or_else(|err| panic!("{e}: {err:?}")),
                        )
                    })
                    .collect();
                let mutations = spec["mutations"]
                    .as_array()
                    .expect("mutations")
                    .iter()
                    .map(|m| {
                        let (ty, e) = match m["patchType"].as_str() {
                            Some("ApplyConfiguration") => (
                                PatchType::ApplyConfiguration,
                                &m["applyConfiguration"]["expression"],
                            ),
                            Some("JSONPatch") => {
                                (PatchType::JsonPatch, &m["jsonPatch"]["expression"])
                            }
                            other => panic!("{name}: patchType {other:?}"),
                        };
                        Mutation::new(ty, e.as_str().unwrap())
                            .unwrap_or_else(|e| panic!("{name}: {e}"))
                    })
                    .collect();
                Policy {
                    namespace_selector: super::cel::selector_terms(selector),
                    name,
                    match_conditions,
                    mutations,
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Applies the policy to a pod (`object`); `Err` on an evaluation or patch error (the API
    /// server refuses the request with `failurePolicy: Fail`, a bug in the output).
    pub fn mutate(&self, object: &mut Value) -> Result<(), String> {
        let kind = object["kind"].as_str().unwrap_or("Pod");
        if kind != "Pod" {
            return Ok(());
        }
        let mut labels = std::collections::BTreeMap::new();
        if let Some(ns) = object["metadata"]["namespace"].as_str() {
            labels.insert("kubernetes.io/metadata.name".to_string(), ns.to_string());
        }
        if !self.namespace_selector.iter().all(|t| t.matches(&labels)) {
            return Ok(());
        }
        let mut ctx = context();
        ctx.add_variable_from_value("object", to_cel(object));
        for (name, prog) in &self.match_conditions {
            match prog.execute(&ctx) {
                Ok(Cel::Bool(true)) => {}
                Ok(Cel::Bool(false)) => return Ok(()),
                other => return Err(format!("{}: matchCondition {name}: {other:?}", self.name)),
            }
        }
        for m in &self.mutations {
            let atomic = m.apply(object).map_err(|e| format!("{}: {e}", self.name))?;
            if !atomic.is_empty() {
                return Err(format!(
                    "{}: an apply configuration sets atomic lists {atomic:?} (refused before 1.36)",
                    self.name
                ));
            }
        }
        Ok(())
    }
}

/// Every policy applied in order; `Err` on an error.
pub fn mutate_all(policies: &[Policy], object: &Value) -> Result<Value, String> {
    let mut o = object.clone();
    for p in policies {
        p.mutate(&mut o)?;
    }
    Ok(o)
}

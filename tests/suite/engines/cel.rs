//! Test-only CEL engine for the CEL backend's output (`--to vap`, `--to kyverno-cel`), on
//! `cel-interpreter`: the policy's `matchConditions`, `variables` (in order, as Kubernetes binds
//! them) and `validations` are compiled from the emitted YAML and run with `object` bound to a
//! pod.
//!
//! Differences between `cel-interpreter` and Kubernetes CEL that this engine bridges:
//! - JSON numbers: Kubernetes types pod integers as `int`; [`to_cel`] converts them so.
//! - Absent versus `null`: Kubernetes drops absent fields; [`to_cel`] removes nulls.
//! - Truth values: `cel-interpreter` reads any value as a `bool` where CEL wants one (`!'x'`,
//!   `'x' && …`, `'x' ? … : …`), which Kubernetes' type checker refuses; [`Program`] checks each
//!   such operand when it is evaluated, so a type error is an evaluation error (a bug in the
//!   output), never a verdict. Every CEL-running engine of the suite compiles with it.

use cel_interpreter::{
    Context, ExecutionError, FunctionContext, Value, objects::Key, objects::Map,
};
use cel_parser::ast::{CallExpr, Expr, IdedExpr, operators};
use std::collections::HashMap;
use std::sync::Arc;

/// The function that checks a truth value (a name no expression can spell).
const BOOL_CHECK: &str = "@polytrans_bool";

/// Evaluates `variables` in order into `variables.<name>`, each seeing `vars` and the ones
/// before it (as Kubernetes and Gatekeeper bind them), and leaves them all in `ctx`.
pub fn bind_variables(
    ctx: &mut Context,
    mut vars: HashMap<Key, Value>,
    variables: &[(String, Program)],
) -> Result<(), String> {
    for (name, prog) in variables {
        ctx.add_variable_from_value(
            "variables",
            Value::Map(Map {
                map: Arc::new(vars.clone()),
            }),
        );
        let v = prog
            .execute(ctx)
            .map_err(|e| format!("variable {name}: {e:?}"))?;
        vars.insert(Key::String(Arc::new(name.clone())), v);
    }
    ctx.add_variable_from_value(
        "variables",
        Value::Map(Map {
            map: Arc::new(vars),
        }),
    );
    Ok(())
}

/// A compiled CEL expression whose truth values are checked (see the module documentation).
/// Run it with a [`context`].
#[derive(Debug)]
pub struct Program {
    expr: IdedExpr,
}

impl Program {
    pub fn compile(source: &str) -> Result<Program, String> {
        let parsed = cel_parser::Parser::default()
            .parse(source)
            .map_err(|e| format!("{e:?}"))?;
        Ok(Program {
            expr: strict(&parsed),
        })
    }

    /// Evaluates the expression; `ctx` comes from [`context`].
    pub fn execute(&self, ctx: &Context) -> cel_interpreter::ResolveResult {
        Value::resolve(&self.expr, ctx)
    }
}

/// A context for [`Program`]s: with the truth-value check.
pub fn context() -> Context<'static> {
    let mut ctx = Context::default();
    ctx.add_function(
        BOOL_CHECK,
        |ftx: &FunctionContext, v: Value| -> Result<Value, ExecutionError> {
            match v {
                Value::Bool(_) => Ok(v),
                other => Err(ftx.error(format!("a bool is needed, got {other:?}"))),
            }
        },
    );
    ctx
}

/// Whether `e` is a `bool` whatever it reads: literals, `has()`, relations, logic, `all` /
/// `exists`, and ternaries whose arms are. Only the other operands are checked at run time.
fn is_bool(e: &IdedExpr) -> bool {
    match &e.expr {
        Expr::Literal(cel_parser::reference::Val::Boolean(_)) => true,
        Expr::Select(s) => s.test,
        // A macro's accumulator (`@result`): a `bool` in `all` / `exists`, where it is an operand.
        Expr::Ident(i) => i.starts_with('@'),
        Expr::Comprehension(c) => matches!(
            c.accu_init.expr,
            Expr::Literal(cel_parser::reference::Val::Boolean(_))
        ),
        Expr::Call(c) => match c.func_name.as_str() {
            operators::CONDITIONAL => {
                c.args.len() == 3 && is_bool(&c.args[1]) && is_bool(&c.args[2])
            }
            operators::LOGICAL_NOT
            | operators::LOGICAL_AND
            | operators::LOGICAL_OR
            | operators::EQUALS
            | operators::NOT_EQUALS
            | operators::LESS
            | operators::LESS_EQUALS
            | operators::GREATER
            | operators::GREATER_EQUALS
            | operators::IN
            | operators::NOT_STRICTLY_FALSE
            | "startsWith"
            | "endsWith"
            | "contains"
            | "matches" => true,
            f => f == BOOL_CHECK,
        },
        _ => false,
    }
}

fn checked(e: IdedExpr) -> IdedExpr {
    if is_bool(&e) {
        return e;
    }
    IdedExpr {
        id: 0,
        expr: Expr::Call(CallExpr {
            func_name: BOOL_CHECK.to_string(),
            target: None,
            args: vec![e],
        }),
    }
}

/// `e` with each operand of `!`, `&&`, `||` and each ternary condition checked.
pub fn strict(e: &IdedExpr) -> IdedExpr {
    let expr = match &e.expr {
        Expr::Call(c) => {
            let mut args: Vec<IdedExpr> = c.args.iter().map(strict).collect();
            match c.func_name.as_str() {
                operators::LOGICAL_NOT | operators::LOGICAL_AND | operators::LOGICAL_OR => {
                    args = args.into_iter().map(checked).collect();
                }
                operators::CONDITIONAL if args.len() == 3 => {
                    let cond = args.remove(0);
                    args.insert(0, checked(cond));
                }
                _ => {}
            }
            Expr::Call(CallExpr {
                func_name: c.func_name.clone(),
                target: c.target.as_ref().map(|t| Box::new(strict(t))),
                args,
            })
        }
        Expr::Comprehension(c) => {
            let mut c = c.clone();
            c.iter_range = Box::new(strict(&c.iter_range));
            c.loop_step = Box::new(strict(&c.loop_step));
            c.result = Box::new(strict(&c.result));
            Expr::Comprehension(c)
        }
        Expr::Select(s) => {
            let mut s = s.clone();
            s.operand = Box::new(strict(&s.operand));
            Expr::Select(s)
        }
        Expr::List(l) => {
            let mut l = l.clone();
            l.elements = l.elements.iter().map(strict).collect();
            Expr::List(l)
        }
        Expr::Map(m) => {
            let mut m = m.clone();
            for entry in &mut m.entries {
                if let cel_parser::ast::EntryExpr::MapEntry(me) = &mut entry.expr {
                    me.key = strict(&me.key);
                    me.value = strict(&me.value);
                }
            }
            Expr::Map(m)
        }
        other => other.clone(),
    };
    IdedExpr { id: e.id, expr }
}

/// Kubernetes-shaped CEL value of a JSON document: nulls dropped, numbers as `int`.
pub fn to_cel(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(a) => Value::List(Arc::new(a.iter().map(to_cel).collect())),
        serde_json::Value::Object(o) => {
            let map: HashMap<Key, Value> = o
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
                .collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

/// One compiled validation: a label (its message or field), the expression and its program.
pub struct CompiledValidation {
    pub label: String,
    pub expression: String,
    pub program: Program,
    pub message: Option<Program>,
}

/// One `matchExpressions` entry of a namespace selector.
#[derive(Debug, Clone)]
pub struct SelectorTerm {
    pub key: String,
    pub operator: String,
    pub values: Vec<String>,
}

impl SelectorTerm {
    /// Whether a namespace with these labels matches.
    pub fn matches(&self, labels: &std::collections::BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.key);
        match self.operator.as_str() {
            "In" => v.is_some_and(|v| self.values.contains(v)),
            "NotIn" => !v.is_some_and(|v| self.values.contains(v)),
            "Exists" => v.is_some(),
            "DoesNotExist" => v.is_none(),
            op => panic!("unknown selector operator {op}"),
        }
    }
}

pub fn selector_terms(selector: &serde_json::Value) -> Vec<SelectorTerm> {
    assert!(
        selector.get("matchLabels").is_none(),
        "matchLabels not emulated"
    );
    selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| SelectorTerm {
            key: t["key"].as_str().unwrap().to_string(),
            operator: t["operator"].as_str().unwrap().to_string(),
            values: t["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v.as_str().unwrap().to_string())
                .collect(),
        })
        .collect()
}

/// A policy's compiled match conditions, variables and validations.
pub struct Compiled {
    /// The namespace selector (the VAP binding's `matchResources`, or the ValidatingPolicy's
    /// `matchConstraints`); a pod's namespace has the `kubernetes.io/metadata.name` label.
    pub namespace_selector: Vec<SelectorTerm>,
    pub match_conditions: Vec<(String, Program)>,
    pub variables: Vec<(String, Program)>,
    pub validations: Vec<CompiledValidation>,
}

fn compile_expr(e: &str) -> Program {
    Program::compile(e).unwrap_or_else(|err| panic!("{e}: {err:?}"))
}

impl Compiled {
    /// Compiles `(name, expression)` variables and `(label, expression, messageExpression)`
    /// validations.
    pub fn new(
        match_conditions: &[(String, String)],
        variables: &[(String, String)],
        validations: &[(String, String, Option<String>)],
    ) -> Compiled {
        Compiled {
            namespace_selector: vec![],
            match_conditions: match_conditions
                .iter()
                .map(|(n, e)| (n.clone(), compile_expr(e)))
                .collect(),
            variables: variables
                .iter()
                .map(|(n, e)| (n.clone(), compile_expr(e)))
                .collect(),
            validations: validations
                .iter()
                .map(|(label, e, m)| CompiledValidation {
                    label: label.clone(),
                    expression: e.clone(),
                    program: compile_expr(e),
                    message: m.as_deref().map(compile_expr),
                })
                .collect(),
        }
    }

    /// Every `ValidatingAdmissionPolicy` (or Kyverno `ValidatingPolicy`) in the emitted YAML.
    pub fn from_output(text: &str) -> Vec<Compiled> {
        let docs = polytrans::load::yaml_documents(text).expect("backend output is YAML");
        let binding_selector = |name: &serde_json::Value| {
            docs.iter()
                .find(|d| {
                    d["kind"] == "ValidatingAdmissionPolicyBinding"
                        && d["spec"]["policyName"] == *name
                })
                .map(|b| selector_terms(&b["spec"]["matchResources"]["namespaceSelector"]))
        };
        docs.iter()
            .filter(|d| {
                matches!(
                    d["kind"].as_str(),
                    Some("ValidatingAdmissionPolicy" | "ValidatingPolicy")
                )
            })
            .map(|d| {
                let spec = &d["spec"];
                let pairs = |key: &str| -> Vec<(String, String)> {
                    spec[key]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|v| {
                                    (
                                        v["name"].as_str().unwrap_or_default().to_string(),
                                        v["expression"].as_str().unwrap().to_string(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let validations: Vec<(String, String, Option<String>)> = spec["validations"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|v| {
                                (
                                    v["message"]
                                        .as_str()
                                        .or(v["messageExpression"].as_str())
                                        .unwrap_or_default()
                                        .to_string(),
                                    v["expression"].as_str().unwrap().to_string(),
                                    v["messageExpression"].as_str().map(str::to_string),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let mut c =
                    Compiled::new(&pairs("matchConditions"), &pairs("variables"), &validations);
                c.namespace_selector = if d["kind"] == "ValidatingAdmissionPolicy" {
                    binding_selector(&d["metadata"]["name"])
                        .expect("every ValidatingAdmissionPolicy has its binding")
                } else {
                    selector_terms(&spec["matchConstraints"]["namespaceSelector"])
                };
                c
            })
            .collect()
    }

    /// The labels of the failed validations (empty: admitted; a false match condition: not
    /// judged). Panics on an evaluation error: Kubernetes refuses a policy whose expressions do
    /// not type-check, and an expression that fails at run time rejects the request with an
    /// error, so an error is a bug in the output, never a rejection.
    pub fn run(&self, object: &serde_json::Value) -> Vec<String> {
        self.try_run(object)
            .unwrap_or_else(|e| panic!("CEL evaluation error (a bug in the emitted policy): {e}"))
    }

    /// [`Compiled::run`], with the evaluation error returned.
    pub fn try_run(&self, object: &serde_json::Value) -> Result<Vec<String>, String> {
        let mut labels = std::collections::BTreeMap::new();
        if let Some(ns) = object["metadata"]["namespace"].as_str() {
            labels.insert("kubernetes.io/metadata.name".to_string(), ns.to_string());
        }
        if !self.namespace_selector.iter().all(|t| t.matches(&labels)) {
            return Ok(vec![]);
        }
        let mut ctx = context();
        ctx.add_variable_from_value("object", to_cel(object));
        for (name, prog) in &self.match_conditions {
            match prog.execute(&ctx) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => return Ok(vec![]),
                other => return Err(format!("matchCondition {name}: {other:?}")),
            }
        }
        bind_variables(&mut ctx, HashMap::new(), &self.variables)?;
        let mut failed = Vec::new();
        for v in &self.validations {
            match v.program.execute(&ctx) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => {
                    if let Some(m) = &v.message {
                        match m.execute(&ctx) {
                            Ok(Value::String(_)) => {}
                            other => return Err(format!("{}: message: {other:?}", v.label)),
                        }
                    }
                    failed.push(v.label.clone());
                }
                other => return Err(format!("{}: {other:?}\n  {}", v.label, v.expression)),
            }
        }
        Ok(failed)
    }
}

/// Whether every policy in the emitted output admits the object. Panics on an evaluation error
/// (see [`Compiled::run`]).
pub fn admits(policies: &[Compiled], object: &serde_json::Value) -> bool {
    policies.iter().all(|p| p.run(object).is_empty())
}

/// A CEL backend's whole output: the mutating policies (PSP's defaulting, run first, as the API
/// server runs mutating admission before validating admission) and the validating ones.
pub struct Output {
    pub mutating: Vec<super::map::Policy>,
    pub validating: Vec<Compiled>,
}

impl Output {
    pub fn from_output(text: &str) -> Output {
        Output {
            mutating: super::map::Policy::all_from_text(text),
            validating: Compiled::from_output(text),
        }
    }

    /// Whether no validating policy was emitted.
    pub fn is_empty(&self) -> bool {
        self.validating.is_empty()
    }

    /// The object after every mutating policy. Panics on an error (a bug in the output: with
    /// `failurePolicy: Fail` the API server refuses the request).
    pub fn mutate(&self, object: &serde_json::Value) -> serde_json::Value {
        super::map::mutate_all(&self.mutating, object)
            .unwrap_or_else(|e| panic!("MutatingAdmissionPolicy error (a bug in the output): {e}"))
    }

    /// The labels of the failed validations on the mutated object.
    pub fn run(&self, object: &serde_json::Value) -> Vec<String> {
        let m = self.mutate(object);
        self.validating.iter().flat_map(|p| p.run(&m)).collect()
    }

    /// Whether the output admits the object (mutations first). Panics on an evaluation error.
    pub fn admits(&self, object: &serde_json::Value) -> bool {
        admits(&self.validating, &self.mutate(object))
    }
}

//! The CEL backend (`--to vap`, `--to kyverno-cel`), measured with a real CEL engine
//! (`cel-interpreter`): the generated expressions are evaluated with `object` bound to the pod
//! JSON and `variables` emulated in order, as Kubernetes does, and compared with the IR evaluator.
//!
//! CEL validation cannot mutate, so each pod is judged after the policy's defaulting has been
//! applied (`eval::apply_defaults`); the backend reports those defaulting fields as approximated.
//!
//! Differences between `cel-interpreter` 0.10 and Kubernetes CEL, and how this test and the
//! expressions avoid them:
//! - JSON numbers: Kubernetes types pod integers as `int`; `cel_interpreter::to_value` would turn
//!   positive JSON numbers into `uint`. [`to_cel`] converts them to `int` like Kubernetes.
//! - Absent versus `null`: Kubernetes drops absent fields; the typed pod serialises them as
//!   `null`, so [`to_cel`] removes nulls before binding `object`.
//! - Optional syntax (`a.?b`), `orValue` and the strings extension (`join`, `lowerAscii`) are
//!   not in the crate: the expressions use only `has()`, ternaries, `in`, `startsWith`, `size`
//!   and the `all` macro, which both implement alike.

mod common;

use cel_interpreter::{Context, Program, Value, objects::Key, objects::Map};
use polytrans::backend::cel::{self, Validation, Variable};
use polytrans::eval::{admits, apply_defaults};
use polytrans::ir::{IrDocument, Level, Policy};
use polytrans::pod::Pod;
use polytrans::pss::{Version, level_policy};
use std::collections::HashMap;
use std::sync::Arc;

/// Kubernetes-shaped CEL value of a JSON document: nulls dropped, numbers as `int`.
fn to_cel(v: &serde_json::Value) -> Value {
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

/// A policy's compiled variables and validations.
struct Compiled {
    variables: Vec<(String, Program)>,
    validations: Vec<(Validation, Program, Program)>,
}

fn compile(policy: &Policy) -> Compiled {
    compile_parts(&cel::variables(false), &cel::validations(policy))
}

fn compile_parts(vars: &[Variable], vals: &[Validation]) -> Compiled {
    let c = |e: &str| Program::compile(e).unwrap_or_else(|err| panic!("{e}: {err:?}"));
    Compiled {
        variables: vars
            .iter()
            .map(|v| (v.name.clone(), c(&v.expression)))
            .collect(),
        validations: vals
            .iter()
            .map(|v| (v.clone(), c(&v.expression), c(&v.message_expression)))
            .collect(),
    }
}

/// The fields of the failed validations; `Err` on an evaluation error.
fn run(compiled: &Compiled, object: &serde_json::Value) -> Result<Vec<String>, String> {
    let mut ctx = Context::default();
    ctx.add_variable_from_value("object", to_cel(object));
    let mut vars: HashMap<Key, Value> = HashMap::new();
    for (name, prog) in &compiled.variables {
        ctx.add_variable_from_value(
            "variables",
            Value::Map(Map {
                map: Arc::new(vars.clone()),
            }),
        );
        let v = prog
            .execute(&ctx)
            .map_err(|e| format!("variable {name}: {e:?}"))?;
        vars.insert(Key::String(Arc::new(name.clone())), v);
    }
    ctx.add_variable_from_value(
        "variables",
        Value::Map(Map {
            map: Arc::new(vars),
        }),
    );
    let mut failed = Vec::new();
    for (val, prog, msg) in &compiled.validations {
        match prog.execute(&ctx) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => {
                match msg.execute(&ctx) {
                    Ok(Value::String(_)) => {}
                    other => return Err(format!("{}: message: {other:?}", val.field)),
                }
                failed.push(val.field.clone());
            }
            other => return Err(format!("{}: {other:?}\n  {}", val.field, val.expression)),
        }
    }
    Ok(failed)
}

fn pod_json(pod: &Pod) -> serde_json::Value {
    let mut v = serde_json::to_value(pod).unwrap();
    v["apiVersion"] = "v1".into();
    v["kind"] = "Pod".into();
    v
}

/// CEL verdict on the pod after the policy's defaulting.
fn cel_admits(policy: &Policy, compiled: &Compiled, pod: &Pod) -> Result<bool, String> {
    let mut p = pod.clone();
    apply_defaults(policy, &mut p);
    run(compiled, &pod_json(&p)).map(|f| f.is_empty())
}

#[test]
fn psp_migration_cases() {
    let Some(shared) = common::shared() else {
        return;
    };
    let root = shared.join("conformance/psp-migration/tests");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let (mut agree, mut total) = (0, 0);
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let objs = polytrans::load::load_paths(&[dir.join("psp.yaml")], &Default::default())
            .unwrap_or_else(|d| panic!("{d}"));
        let (policies, _) = polytrans::front::psp::lower_all(&objs).unwrap();
        let compiled = compile(&policies[0]);
        for (file, expect) in [("allowed.yaml", true), ("disallowed.yaml", false)] {
            total += 1;
            let pod = common::load_pod(&dir.join(file));
            match cel_admits(&policies[0], &compiled, &pod.pod) {
                Ok(v) if v == expect => agree += 1,
                other => failures.push(format!("{name}/{file}: {other:?}")),
            }
        }
    }
    println!("psp-migration cases (cel): {agree}/{total}");
    for f in &failures {
        println!("  mismatch: {f}");
    }
    assert!(failures.is_empty(), "{} mismatches", failures.len());
    assert!(agree >= 48);
}

/// Every golden case's IR (Kubernetes example PSPs at several upstream versions, seeds).
fn golden_policies() -> Vec<Policy> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    let mut out = Vec::new();
    for f in common::files_under(&root, &["yaml"]) {
        if f.file_name().and_then(|n| n.to_str()) != Some("ir.yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let doc: IrDocument =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        out.extend(doc.policies);
    }
    out
}

#[test]
fn psa_pods_against_psps() {
    let Some(shared) = common::shared() else {
        return;
    };
    let mut policies = Vec::new();
    for f in common::files_under(&shared.join("conformance/psp-examples"), &["yaml"]) {
        let objs = polytrans::load::load_paths(std::slice::from_ref(&f), &Default::default()).unwrap();
        policies.extend(polytrans::front::psp::lower_all(&objs).unwrap().0);
    }
    let examples = policies.len();
    policies.extend(golden_policies());
    let pods: Vec<_> = common::psa_cases(&shared)
        .iter()
        .map(|c| (c.path.clone(), common::load_pod(&c.path).pod))
        .collect();
    let (mut agree, mut total) = (0, 0);
    let mut failures = Vec::new();
    for policy in &policies {
        let compiled = compile(policy);
        for (path, pod) in &pods {
            total += 1;
            let want = admits(policy, pod).is_empty();
            match cel_admits(policy, &compiled, pod) {
                Ok(got) if got == want => agree += 1,
                other => failures.push(format!(
                    "{} {}: ir {want}, cel {other:?}",
                    policy.name,
                    path.display()
                )),
            }
        }
    }
    println!(
        "cel vs ir evaluator, psa testdata pods x {} PSPs ({examples} examples, {} golden): {agree}/{total}",
        policies.len(),
        policies.len() - examples
    );
    for f in failures.iter().take(20) {
        println!("  mismatch: {f}");
    }
    assert!(failures.is_empty(), "{} mismatches", failures.len());
}

#[test]
fn psa_pods_against_levels() {
    let Some(shared) = common::shared() else {
        return;
    };
    let cases = common::psa_cases(&shared);
    let mut cache: HashMap<(Level, u32), (Policy, Compiled)> = HashMap::new();
    let mut agree = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let (policy, compiled) = cache.entry((case.level, case.minor)).or_insert_with(|| {
            let p = level_policy(case.level, Version::Minor(case.minor));
            let c = compile(&p);
            (p, c)
        });
        let pod = common::load_pod(&case.path).pod;
        match cel_admits(policy, compiled, &pod) {
            Ok(got) if got == case.pass => agree += 1,
            other => failures.push(format!("{}: {other:?}", case.path.display())),
        }
    }
    println!("psa testdata (cel): {agree}/{}", cases.len());
    for f in failures.iter().take(20) {
        println!("  mismatch: {f}");
    }
    assert!(failures.is_empty(), "{} mismatches", failures.len());
    assert_eq!(agree, 4537);
}

//! Calibration of the independent PSP admission model (`tests/engines/psp_admission.rs`) and a
//! first differential against polytrans' IR evaluator.
//!
//! 1. the psp-migration fixtures (upstream, judged with PSP 1.24 semantics);
//! 2. hand-derived cases (`tests/psp-model/cases.yaml`), each naming the Go function it follows;
//! 3. PSP validation cases (`tests/psp-model/validation.yaml`, `ValidatePodSecurityPolicySpec`);
//! 4. the seeded generator (`tests/engines/psp_gen.rs`): valid PSPs, near-compliant pods;
//! 5. model vs `polytrans::eval` on generated pairs, disagreements grouped by PSP field.

mod common;
#[path = "engines/psp_admission.rs"]
mod psp_admission;
#[path = "engines/psp_gen.rs"]
mod psp_gen;

use psp_admission::{Psp, Verdict, admit, api_server_defaults, validate_psp};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .filter_map(|d| {
            let v: serde_yaml::Value = serde::Deserialize::deserialize(d).unwrap();
            (!v.is_null()).then(|| serde_json::to_value(v).unwrap())
        })
        .collect()
}

fn yaml_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    serde_json::to_value(v).unwrap()
}

fn judge(psps: &[Psp], pod: &Value) -> Verdict {
    let mut pod = pod.clone();
    api_server_defaults(&mut pod);
    admit(psps, &pod)
}

#[test]
fn psp_migration_calibration() {
    let Some(shared) = common::shared() else {
        return;
    };
    let root = shared.join("conformance/psp-migration");
    let index = yaml_file(&root.join("cases.yaml"));
    let mut agree = 0;
    let mut total = 0;
    let mut failures = Vec::new();
    for case in index["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let psps: Vec<Psp> = yaml_docs(&root.join(case["psp"].as_str().unwrap()))
            .iter()
            .filter(|d| d["kind"] == "PodSecurityPolicy")
            .map(Psp::from_value)
            .collect();
        assert_eq!(psps.len(), 1, "{name}");
        for which in ["allowed", "disallowed"] {
            let want = case["expect"][which].as_str().unwrap() == "admitted";
            for pod in yaml_docs(&root.join(case[which].as_str().unwrap())) {
                total += 1;
                let v = judge(&psps, &pod);
                if v.admitted() == want {
                    agree += 1;
                } else {
                    failures.push(format!("{name}/{which}: {}", v.message()));
                }
            }
        }
    }
    println!("psp model: psp-migration {agree}/{total}");
    for f in &failures {
        println!("  mismatch: {f}");
    }
    assert_eq!(total, 48);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The permissive boilerplate every hand-derived case starts from.
fn base_spec() -> Value {
    json!({
        "runAsUser": {"rule": "RunAsAny"},
        "seLinux": {"rule": "RunAsAny"},
        "fsGroup": {"rule": "RunAsAny"},
        "supplementalGroups": {"rule": "RunAsAny"},
        "volumes": ["*"],
    })
}

/// A PSP object from a case entry: `name`, `spec` (merged over the boilerplate unless
/// `bare: true`), `annotations`.
fn psp_object(entry: &Value, default_name: &str) -> Value {
    let mut spec = if entry["bare"] == json!(true) {
        json!({})
    } else {
        base_spec()
    };
    if let Some(m) = entry["spec"].as_object() {
        for (k, v) in m {
            spec[k] = v.clone();
        }
    }
    let mut meta = json!({"name": entry["name"].as_str().unwrap_or(default_name)});
    if entry["annotations"].is_object() {
        meta["annotations"] = entry["annotations"].clone();
    }
    json!({"apiVersion": entry["apiVersion"].as_str().unwrap_or("policy/v1beta1"),
           "kind": "PodSecurityPolicy", "metadata": meta, "spec": spec})
}

fn pod_object(entry: &Value) -> Value {
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
    if let Some(m) = entry["metadata"].as_object() {
        for (k, v) in m {
            pod["metadata"][k] = v.clone();
        }
    }
    pod["spec"] = entry["spec"].clone();
    pod
}

#[test]
fn hand_derived_cases() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/psp-model/cases.yaml");
    let doc = yaml_file(&path);
    let cases = doc["cases"].as_array().unwrap();
    let mut ok = 0;
    let mut failures = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        assert!(names.insert(name), "duplicate case name {name}");
        assert!(
            case["source"].as_str().is_some_and(|s| s.contains(".go")),
            "{name}: `source:` must name the Go function"
        );
        let psps: Vec<Psp> = match case["psps"].as_array() {
            Some(list) => list.iter().map(|e| Psp::from_value(&psp_object(e, "p"))).collect(),
            None => vec![Psp::from_value(&psp_object(&case["psp"], "psp"))],
        };
        let v = judge(&psps, &pod_object(&case["pod"]));
        let want = case["admit"].as_bool().unwrap();
        let mut problems = Vec::new();
        if v.admitted() != want {
            problems.push(format!("admitted {} (want {want})", v.admitted()));
        }
        if let Some(m) = case["message"].as_str() {
            if !v.message().contains(m) {
                problems.push(format!("message lacks {m:?}"));
            }
        }
        if let (Some(c), Verdict::Admitted { psp, .. }) = (case["chosen"].as_str(), &v) {
            if c != psp {
                problems.push(format!("chosen {psp} (want {c})"));
            }
        }
        if let (Some(exp), Verdict::Admitted { pod, .. }) = (case["expect"].as_object(), &v) {
            for (ptr, want) in exp {
                let got = pod.pointer(ptr).cloned().unwrap_or(Value::Null);
                if &got != want {
                    problems.push(format!("{ptr} = {got} (want {want})"));
                }
            }
        }
        if problems.is_empty() {
            ok += 1;
        } else {
            failures.push(format!("{name}: {}: {}", problems.join("; "), v.message()));
        }
    }
    println!("psp model: hand-derived {ok}/{}", cases.len());
    for f in &failures {
        println!("  mismatch: {f}");
    }
    assert!(cases.len() >= 120, "only {} cases", cases.len());
    assert!(failures.is_empty());
}

#[test]
fn psp_validation_cases() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/psp-model/validation.yaml");
    let doc = yaml_file(&path);
    let cases = doc["cases"].as_array().unwrap();
    let mut ok = 0;
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        assert!(case["source"].as_str().is_some_and(|s| s.contains(".go")), "{name}");
        let obj = psp_object(&case["psp"], "v");
        let errs = validate_psp(&obj);
        let want_valid = case["valid"].as_bool().unwrap();
        let msg_ok = case["message"]
            .as_str()
            .is_none_or(|m| errs.iter().any(|e| e.contains(m)));
        if errs.is_empty() == want_valid && msg_ok {
            ok += 1;
        } else {
            failures.push(format!("{name}: {errs:?}"));
        }
    }
    println!("psp model: validation {ok}/{}", cases.len());
    for f in &failures {
        println!("  mismatch: {f}");
    }
    assert!(failures.is_empty());
}

#[test]
fn generator_is_valid_and_near_compliant() {
    let mut rng = psp_gen::Rng::new(0x5eed);
    let mut admitted = 0;
    let n = 3000;
    for _ in 0..n {
        let psp = psp_gen::psp(&mut rng, "gen");
        let errs = validate_psp(&psp);
        assert!(errs.is_empty(), "{errs:?}\n{psp:#}");
        let pod = psp_gen::pod(&mut rng, &psp);
        if judge(&[Psp::from_value(&psp)], &pod).admitted() {
            admitted += 1;
        }
    }
    let ratio = admitted as f64 / n as f64;
    println!("psp model: generator admits {admitted}/{n} ({:.0}%)", ratio * 100.0);
    assert!((0.2..=0.8).contains(&ratio), "ratio {ratio}");
}

// ------------------------------------------------------------------------------------------
// Differential: the model vs polytrans' IR evaluator

fn to_objects(v: &Value) -> Vec<polytrans::load::Object> {
    let src = std::sync::Arc::new(polytrans::load::Source {
        name: "gen.json".into(),
    });
    let mut objects = Vec::new();
    let mut diags = polytrans::diag::Diagnostics::default();
    polytrans::load::parse_stream(
        &v.to_string(),
        &src,
        &Default::default(),
        &mut |o| objects.push(o),
        &mut diags,
    );
    assert!(!diags.has_errors(), "{diags}\n{v}");
    objects
}

/// Disagreement groups known today (ratchet): a new group fails the test.
const KNOWN_GROUPS: &[&str] = &[];
/// Agreements reached today (ratchet).
const MIN_AGREE: usize = 0;

/// The PSP field a disagreement is due to: the first field whose removal from the PSP (back to
/// the permissive default) makes the two sides agree.
fn responsible_field(psp: &Value, pod: &Value) -> String {
    let spec = psp["spec"].as_object().unwrap().clone();
    let permissive = json!({
        "runAsUser": {"rule": "RunAsAny"}, "seLinux": {"rule": "RunAsAny"},
        "fsGroup": {"rule": "RunAsAny"}, "supplementalGroups": {"rule": "RunAsAny"},
        "volumes": ["*"], "privileged": true, "hostNetwork": true, "hostPID": true,
        "hostIPC": true, "hostPorts": [{"min": 0, "max": 65535}],
        "allowedCapabilities": ["*"], "allowedUnsafeSysctls": ["*"],
        "allowedProcMountTypes": ["Default", "Unmasked"],
    });
    let mut fields: Vec<String> = spec.keys().cloned().collect();
    if let Some(a) = psp["metadata"]["annotations"].as_object() {
        fields.extend(a.keys().map(|k| format!("@{k}")));
    }
    for f in fields {
        let mut p = psp.clone();
        if let Some(a) = f.strip_prefix('@') {
            p["metadata"]["annotations"]
                .as_object_mut()
                .unwrap()
                .remove(a);
        } else if let Some(v) = permissive.get(&f) {
            p["spec"][&f] = v.clone();
        } else {
            p["spec"].as_object_mut().unwrap().remove(&f);
        }
        if let Some((m, e)) = both(&p, pod) {
            if m == e {
                return f;
            }
        }
    }
    "(several fields)".into()
}

/// (model admits, eval.rs admits), or None if polytrans refuses the PSP.
fn both(psp: &Value, pod: &Value) -> Option<(bool, bool)> {
    let model = judge(&[Psp::from_value(psp)], pod).admitted();
    let (policies, _) = polytrans::front::psp::lower_all(&to_objects(psp)).ok()?;
    let pod_obj = to_objects(pod);
    let found = polytrans::pod::pod_of(&pod_obj[0])?.ok()?;
    let eval = polytrans::eval::admits(&policies[0], &found.pod).is_empty();
    Some((model, eval))
}

#[test]
fn model_vs_eval() {
    let n: usize = std::env::var("PSP_DIFF_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000);
    let mut rng = psp_gen::Rng::new(17);
    let mut agree = 0;
    let mut total = 0;
    let mut refused = 0;
    let mut groups: BTreeMap<String, (usize, String)> = BTreeMap::new();
    // PSPs are reused for several pods (lowering is the slow part).
    let pods_per_psp = 10;
    for _ in 0..n.div_ceil(pods_per_psp) {
        let psp = psp_gen::psp(&mut rng, "gen");
        let Ok((policies, _)) = polytrans::front::psp::lower_all(&to_objects(&psp)) else {
            refused += 1;
            continue;
        };
        let model_psp = [Psp::from_value(&psp)];
        for _ in 0..pods_per_psp {
            let pod = psp_gen::pod(&mut rng, &psp);
            let m = judge(&model_psp, &pod).admitted();
            let pod_obj = to_objects(&pod);
            let found = polytrans::pod::pod_of(&pod_obj[0]).unwrap().unwrap();
            let e = polytrans::eval::admits(&policies[0], &found.pod).is_empty();
            total += 1;
            if m == e {
                agree += 1;
                continue;
            }
            let field = responsible_field(&psp, &pod);
            let key = format!("{field} (model {}, eval.rs {})", adm(m), adm(e));
            let entry = groups.entry(key).or_insert((0, String::new()));
            entry.0 += 1;
            let example = format!("PSP {}\n      pod {}", psp["spec"], pod);
            if entry.1.is_empty() || example.len() < entry.1.len() {
                entry.1 = example;
            }
        }
    }
    println!("psp model vs eval.rs: agree {agree}/{total} (polytrans refused {refused} PSPs)");
    let mut sorted: Vec<_> = groups.iter().collect();
    sorted.sort_by(|a, b| b.1.0.cmp(&a.1.0));
    for (k, (count, ex)) in &sorted {
        println!("  {count:6} {k}\n      {ex}");
    }
    let new: Vec<&String> = groups
        .keys()
        .filter(|k| !KNOWN_GROUPS.iter().any(|g| k.starts_with(g)))
        .collect();
    assert!(agree >= MIN_AGREE);
    assert!(new.is_empty(), "new disagreement groups: {new:?}");
}

fn adm(b: bool) -> &'static str {
    if b { "admits" } else { "rejects" }
}

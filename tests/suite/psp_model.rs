//! Calibration of the independent PSP admission model (`tests/suite/engines/psp_admission.rs`) and a
//! first differential against polytrans' IR evaluator.
//!
//! 1. the psp-migration fixtures (upstream, judged with PSP 1.24 semantics);
//! 2. hand-derived cases (`tests/psp-model/cases.yaml`), each naming the Go function it follows;
//! 3. PSP validation cases (`tests/psp-model/validation.yaml`, `ValidatePodSecurityPolicySpec`);
//! 4. the seeded generator (`tests/suite/engines/psp_gen.rs`): valid PSPs, near-compliant pods;
//! 5. model vs `polytrans::eval` on generated pairs, disagreements grouped by PSP field.

use crate::common;
use crate::engines::{psp_admission, psp_gen};

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
            Some(list) => list
                .iter()
                .map(|e| Psp::from_value(&psp_object(e, "p")))
                .collect(),
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
        assert!(
            case["source"].as_str().is_some_and(|s| s.contains(".go")),
            "{name}"
        );
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
    println!(
        "psp model: generator admits {admitted}/{n} ({:.0}%)",
        ratio * 100.0
    );
    assert!((0.2..=0.8).contains(&ratio), "ratio {ratio}");
}

// ------------------------------------------------------------------------------------------
// Differential: the model vs polytrans' IR evaluator

pub(crate) fn to_objects(v: &Value) -> Vec<polytrans::load::Object> {
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

/// Disagreement groups known today (ratchet): a group not listed here fails the test. None
/// today: the last ones (seccomp annotation vs field, empty seccomp annotations) were pods the
/// API server's validation refuses, now left out as never reaching admission, and pod-level
/// SELinux options, which `eval` now judges as PSP's `ValidatePod` does.
const KNOWN_GROUPS: &[&str] = &[];
/// Agreements reached today (ratchet; at the default 50,000 pairs): every judged pair.
const MIN_AGREE: usize = 50_003;

/// The PSP field a model error is due to (from the Go messages the model reproduces).
pub(crate) fn model_field(msg: &str) -> &'static str {
    const FIELDS: &[(&str, &str)] = &[
        ("no providers", "(no provider)"),
        ("Privileged containers", "privileged"),
        ("Host network", "hostNetwork"),
        ("Host PID", "hostPID"),
        ("Host IPC", "hostIPC"),
        ("Host port", "hostPorts"),
        ("volumes are not allowed", "volumes"),
        ("hostPath.pathPrefix", "allowedHostPaths"),
        ("must be read-only", "allowedHostPaths.readOnly"),
        ("Flexvolume", "allowedFlexVolumes"),
        ("Inline CSI", "allowedCSIDrivers"),
        ("capability may not be added", "allowedCapabilities"),
        ("required to be dropped", "requiredDropCapabilities"),
        (
            "required capabilities are not set",
            "requiredDropCapabilities",
        ),
        (".runAsUser", "runAsUser"),
        (".runAsNonRoot", "runAsUser"),
        ("fsGroup", "fsGroup"),
        ("supplementalGroups", "supplementalGroups"),
        ("must be in the ranges", "runAsGroup"),
        ("empty groups", "runAsGroup"),
        ("seLinuxOptions", "seLinux"),
        ("seccomp", "@seccomp"),
        ("AppArmor", "@apparmor"),
        ("is not an allowed profile", "@apparmor"),
        ("ProcMountType", "allowedProcMountTypes"),
        ("sysctl", "sysctls"),
        ("runtimeClassName", "runtimeClass"),
        ("ReadOnlyRootFilesystem", "readOnlyRootFilesystem"),
        ("privilege escalation", "allowPrivilegeEscalation"),
    ];
    FIELDS
        .iter()
        .find(|(k, _)| msg.contains(k))
        .map_or("(unclassified)", |(_, f)| f)
}

/// Both verdicts on one (PSP, pod) pair.
struct Outcome {
    model: Verdict,
    eval: Vec<polytrans::eval::Violation>,
}

/// `None` when polytrans refuses the PSP or the pod.
fn outcome(psp: &Value, pod: &Value) -> Option<Outcome> {
    let model = judge(&[Psp::from_value(psp)], pod);
    let (policies, _) = polytrans::front::psp::lower_all(&to_objects(psp)).ok()?;
    let pod_obj = to_objects(pod);
    let found = polytrans::pod::pod_of(pod_obj.first()?)?.ok()?;
    let eval = polytrans::eval::admits(&policies[0], &found.pod);
    Some(Outcome { model, eval })
}

impl Outcome {
    /// When the two disagree, the group: the PSP field(s) blamed by the side that rejects
    /// (eval.rs names them in `Violation::field`; the model's messages go through
    /// [`model_field`]) and the direction.
    fn key(&self) -> Option<String> {
        let m = self.model.admitted();
        let e = self.eval.is_empty();
        if m == e {
            return None;
        }
        let fields: std::collections::BTreeSet<String> = if m {
            self.eval.iter().map(|v| v.field.clone()).collect()
        } else {
            self.model
                .messages()
                .iter()
                .map(|s| model_field(s).to_string())
                .collect()
        };
        let fields: Vec<String> = fields.into_iter().collect();
        Some(format!(
            "{} (model {}, eval.rs {})",
            fields.join("+"),
            adm(m),
            adm(e)
        ))
    }
}

fn adm(b: bool) -> &'static str {
    if b { "admits" } else { "rejects" }
}

/// Every deletable place (object key or array element) below `v`, as JSON pointers.
pub(crate) fn places(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                places(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                places(x, p, out);
            }
        }
        _ => {}
    }
}

pub(crate) fn delete(v: &Value, ptr: &str) -> Value {
    let mut v = v.clone();
    let (parent, last) = ptr.rsplit_once('/').unwrap();
    let last = last.replace("~1", "/").replace("~0", "~");
    match v.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(&last);
        }
        Some(Value::Array(a)) => {
            a.remove(last.parse::<usize>().unwrap());
        }
        _ => {}
    }
    v
}

/// Greedily deletes parts of the PSP (spec, annotations) and of the pod while the pair stays in
/// the same disagreement group: a minimal example.
fn shrink(mut psp: Value, mut pod: Value, key: &str) -> (Value, Value) {
    let same = |a: &Value, b: &Value| outcome(a, b).and_then(|o| o.key()).as_deref() == Some(key);
    loop {
        let mut changed = false;
        let mut ps = Vec::new();
        places(&psp["spec"], "/spec".into(), &mut ps);
        places(
            &psp["metadata"]["annotations"],
            "/metadata/annotations".into(),
            &mut ps,
        );
        for p in ps.into_iter().rev() {
            if psp.pointer(&p).is_none() {
                continue;
            }
            let cand = delete(&psp, &p);
            if same(&cand, &pod) {
                psp = cand;
                changed = true;
            }
        }
        let mut ps = Vec::new();
        places(&pod["spec"], "/spec".into(), &mut ps);
        places(
            &pod["metadata"]["annotations"],
            "/metadata/annotations".into(),
            &mut ps,
        );
        for p in ps.into_iter().rev() {
            if pod.pointer(&p).is_none() {
                continue;
            }
            // Keep the pod valid: one container at least, containers keep their names.
            if p == "/spec/containers" || p == "/spec/containers/0" || p.ends_with("/name") {
                continue;
            }
            let cand = delete(&pod, &p);
            if same(&psp, &cand) {
                pod = cand;
                changed = true;
            }
        }
        if !changed {
            return (psp, pod);
        }
    }
}

/// Replaces list indexes (`[3]`) so that messages about different items group together.
pub(crate) fn normalise(s: &str) -> String {
    let mut out = String::new();
    let mut in_index = false;
    for ch in s.chars() {
        match ch {
            '[' => {
                in_index = true;
                out.push(ch);
            }
            ']' if in_index => {
                in_index = false;
                out.push_str("*]");
            }
            c if in_index && c.is_ascii_digit() => {}
            c => {
                if in_index {
                    in_index = false;
                }
                out.push(c);
            }
        }
    }
    out
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
    let mut invalid = 0;
    // group → (count, first PSP, first pod)
    let mut groups: BTreeMap<String, (usize, Value, Option<Value>)> = BTreeMap::new();
    // PSPs are reused for several pods (lowering is the slow part).
    let pods_per_psp = 10;
    while total < n {
        let psp = psp_gen::psp(&mut rng, "gen");
        let policies = match polytrans::front::psp::lower_all(&to_objects(&psp)) {
            Ok((p, _)) => p,
            Err(d) => {
                refused += 1;
                let first = d.to_string().lines().next().unwrap_or("").to_string();
                let key = format!(
                    "polytrans refuses a PSP the API server accepts: {}",
                    normalise(&first)
                );
                groups.entry(key).or_insert((0, psp.clone(), None)).0 += 1;
                continue;
            }
        };
        let model_psp = [Psp::from_value(&psp)];
        for _ in 0..pods_per_psp {
            let pod = psp_gen::pod(&mut rng, &psp);
            // A pod the API server's validation refuses never reaches admission.
            let mut defaulted = pod.clone();
            api_server_defaults(&mut defaulted);
            if !psp_admission::validate_pod_object(&defaulted).is_empty() {
                invalid += 1;
                continue;
            }
            let pod_obj = to_objects(&pod);
            let found = polytrans::pod::pod_of(&pod_obj[0]).unwrap().unwrap();
            let o = Outcome {
                model: judge(&model_psp, &pod),
                eval: polytrans::eval::admits(&policies[0], &found.pod),
            };
            total += 1;
            match o.key() {
                None => agree += 1,
                Some(key) => {
                    groups
                        .entry(key)
                        .or_insert((0, psp.clone(), Some(pod.clone())))
                        .0 += 1
                }
            }
        }
    }
    println!(
        "psp model vs eval.rs: agree {agree}/{total} (polytrans refused {refused} PSPs; {invalid} generated pods the API server refuses as invalid, not judged)"
    );
    let mut sorted: Vec<_> = groups.iter().collect();
    sorted.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    for (key, (count, psp, pod)) in &sorted {
        println!("  {count:6} {key}");
        match pod {
            None => println!("      PSP {psp}"),
            Some(pod) => {
                let (psp, pod) = shrink(psp.clone(), pod.clone(), key);
                let o = outcome(&psp, &pod).unwrap();
                println!(
                    "      PSP annotations {} spec {}\n      pod metadata {} spec {}",
                    psp["metadata"]["annotations"], psp["spec"], pod["metadata"], pod["spec"]
                );
                println!("      model: {}", o.model.message());
                let ev: Vec<String> = o.eval.iter().map(|v| v.message()).collect();
                println!("      eval.rs: {ev:?}");
            }
        }
    }
    let new: Vec<&String> = groups
        .keys()
        .filter(|k| !KNOWN_GROUPS.contains(&k.as_str()))
        .collect();
    if n == 50_000 {
        assert!(agree >= MIN_AGREE, "agree {agree} < {MIN_AGREE}");
    }
    assert!(new.is_empty(), "new disagreement groups: {new:#?}");
}

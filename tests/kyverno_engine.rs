//! Kyverno backend, measured with the test-only Kyverno evaluator (`tests/engines/kyverno.rs`).

mod common;

#[path = "engines/kyverno.rs"]
mod kyverno_engine;

use kyverno_engine as ky;
use polytrans::backend::kyverno::KyvernoArgs;
use polytrans::backend::{Common, Emitted, Fidelity, Input};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

fn vectors() -> Option<Value> {
    let shared = common::shared()?;
    let text =
        std::fs::read_to_string(shared.join("conformance/kyverno-vectors/vectors.json")).unwrap();
    Some(serde_json::from_str(&text).unwrap())
}

#[test]
fn engine_vectors() {
    let Some(v) = vectors() else {
        return;
    };
    let mut failures = Vec::new();
    let mut total = 0;
    for c in v["conditions"]["cases"].as_array().unwrap() {
        total += 1;
        let got = ky::condition(&c["key"], c["operator"].as_str().unwrap(), &c["value"]);
        if got != Ok(c["want"].as_bool().unwrap()) {
            failures.push(format!("condition {c}: got {got:?}"));
        }
    }
    for c in v["match_pattern"]["cases"].as_array().unwrap() {
        total += 1;
        let got = match ky::match_pattern(&c["resource"], &c["pattern"]) {
            Ok(()) => "pass",
            Err(e) if e.skip() => "skip",
            Err(_) => "fail",
        };
        // Upstream's `testMatchPattern` has no branch for `RuleStatusFail`: a `fail` case
        // asserts nothing there, so here it means "does not pass" (a skip is also not a pass).
        let agrees = match c["status"].as_str().unwrap() {
            "fail" => got != "pass",
            s => got == s,
        };
        if !agrees {
            failures.push(format!("pattern {} {}: got {got}", c["test"], c["name"]));
        }
    }
    for c in v["wildcard_keys"]["cases"].as_array().unwrap() {
        total += 1;
        let got = ky::match_pattern(&c["resource"], &c["pattern"]).is_ok();
        if got != c["ok"] {
            failures.push(format!("wildcard key #{}: got {got}", c["num"]));
        }
    }
    for c in v["smp_merge"]["cases"].as_array().unwrap() {
        total += 1;
        let mut r = c["rawResource"].clone();
        let _ = ky::apply_smp(&mut r, &c["rawPolicy"], None);
        if r != c["expected"] {
            failures.push(format!("smp merge {}: got {r}", c["test"]));
        }
    }
    for c in v["smp_preprocess"]["cases"].as_array().unwrap() {
        total += 1;
        // Preprocessing is checked by its effect: resource + expected patch (plain strategic
        // merge) equals resource + policy patch (anchors).
        let mut want = c["rawResource"].clone();
        let _ = ky::apply_smp(&mut want, &c["expectedPatch"], None);
        let mut got = c["rawResource"].clone();
        let _ = ky::apply_smp(&mut got, &c["rawPolicy"], None);
        if got != want {
            failures.push(format!(
                "smp preprocess {}: got {got}\n  want {want}",
                c["rawPolicy"]
            ));
        }
    }
    let agree = total - failures.len();
    println!("kyverno-vectors: {agree}/{total}");
    for f in &failures {
        println!("  disagree: {f}");
    }
    let _ = json!(null);
    assert!(failures.is_empty(), "{} disagreements", failures.len());
}

fn yaml_docs(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    polytrans::load::yaml_documents(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn find_object<'a>(docs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

/// Runs every `.kyverno-test/kyverno-test.yaml` of the upstream reference policies: each
/// expected result (policy, rule, resource → pass/fail/skip, and the patched resource of a
/// mutation) against this engine.
#[test]
fn upstream_kyverno_tests() {
    let Some(shared) = common::shared() else {
        return;
    };
    let root = shared.join("conformance/kyverno-policies");
    let files: Vec<_> = common::files_under(&root, &["yaml"])
        .into_iter()
        .filter(|p| p.ends_with(".kyverno-test/kyverno-test.yaml"))
        .collect();
    assert_eq!(files.len(), 28, "28 kyverno-test.yaml files upstream");
    let (mut agree, mut total) = (0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let dir = file.parent().unwrap();
        let test = yaml_docs(file).remove(0);
        let mut policies = Vec::new();
        for p in test["policies"].as_array().unwrap() {
            for d in yaml_docs(&dir.join(p.as_str().unwrap())) {
                if d["kind"] == "ClusterPolicy" || d["kind"] == "Policy" {
                    policies.push(ky::Policy::from_doc(&d));
                }
            }
        }
        let mut resources = Vec::new();
        for r in test["resources"].as_array().unwrap() {
            resources.extend(yaml_docs(&dir.join(r.as_str().unwrap())));
        }
        for res in test["results"].as_array().unwrap() {
            let policy = policies
                .iter()
                .find(|p| p.name == res["policy"].as_str().unwrap())
                .unwrap_or_else(|| panic!("{}: no policy {}", file.display(), res["policy"]));
            let rule = res["rule"].as_str().unwrap();
            let kind = res["kind"].as_str().unwrap_or("Pod");
            let want = res["result"].as_str().unwrap();
            let patched = res
                .get("patchedResources")
                .or_else(|| res.get("patchedResource"))
                .and_then(|p| p.as_str())
                .map(|p| yaml_docs(&dir.join(p)));
            for name in res["resources"].as_array().unwrap() {
                let name = name.as_str().unwrap();
                total += 1;
                let id = format!(
                    "{}: {} {rule} {kind}/{name}",
                    file.strip_prefix(&root).unwrap().display(),
                    policy.name
                );
                let obj = find_object(&resources, kind, name)
                    .unwrap_or_else(|| panic!("{id}: resource not found"))
                    .clone();
                let req = ky::Request::create(obj);
                let (mutated, mut verdicts) = ky::mutate(policy, &req);
                verdicts.extend(ky::validate(policy, &ky::Request::create(mutated.clone())));
                let got = verdicts
                    .iter()
                    .find(|(r, _)| r == rule)
                    .map(|(_, v)| v.clone())
                    .unwrap_or(ky::Verdict::Skip);
                let mut ok = got.name() == want;
                let mut detail = format!("{got:?}");
                if let Some(patched) = &patched {
                    let expected = find_object(patched, kind, name)
                        .unwrap_or_else(|| panic!("{id}: patched resource not found"));
                    if *expected != mutated {
                        ok = false;
                        detail = format!("{detail}; mutated {mutated}\n    expected {expected}");
                    }
                }
                if ok {
                    agree += 1;
                } else {
                    failures.push(format!("{id}: expected {want}, got {detail}"));
                }
            }
        }
    }
    println!("kyverno-policies tests: {agree}/{total}");
    for f in &failures {
        println!("  disagree: {f}");
    }
    assert!(total >= 979, "979 expected results upstream, found {total}");
    assert!(failures.is_empty(), "{} disagreements", failures.len());
}

/// Runs the backend on policies.
fn emit(policies: &[polytrans::ir::Policy], args: &KyvernoArgs) -> Emitted {
    let common = Common::default();
    let input = Input {
        policies,
        objects: &[],
        common: &common,
    };
    polytrans::backend::kyverno::emit(&input, args).unwrap_or_else(|e| panic!("{e:?}"))
}

/// The generated policies as the engine runs them.
fn compiled(policies: &[polytrans::ir::Policy]) -> (Vec<ky::Policy>, Emitted) {
    let emitted = emit(policies, &KyvernoArgs::default());
    let out = ky::Policy::all_from_text(&emitted.stdout);
    assert!(
        !out.is_empty(),
        "no ClusterPolicy emitted:\n{}",
        emitted.stdout
    );
    (out, emitted)
}

/// Every failing rule is counted as a rejection, whatever its `failureAction` (the default
/// `Audit` only reports): this measures what the rules decide, as `--kyverno-mode enforce`
/// would enforce it.
fn judge(policies: &[ky::Policy], obj: &Value) -> ky::Outcome {
    ky::apply_all(policies, &ky::Request::create(obj.clone()))
}

/// The fields a backend's fidelity report lists as not exact.
fn lossy_fields(emitted: &Emitted) -> BTreeSet<String> {
    emitted
        .fidelity
        .iter()
        .filter(|e| e.fidelity != Fidelity::Exact)
        .map(|e| e.field.clone())
        .collect()
}

/// Does a fidelity field name the psp-migration case (`fsgroup` ~ `spec.fsGroup`,
/// `apparmor` ~ `metadata.annotations[apparmor…]`)?
fn names_case(field: &str, case: &str) -> bool {
    let f = field.to_ascii_lowercase();
    let c = case.to_ascii_lowercase();
    f.ends_with(&format!(".{c}"))
        || f.contains(&format!("{c}."))
        || f.contains(&format!("[{c}"))
        || f.contains(&c) && (c == "apparmor" || c == "seccomp")
}

/// psp-migration per-field cases: the generated policy (mutations applied first) must admit
/// the allowed pod and reject the disallowed one, unless the backend's fidelity report lists
/// the case's field as not exact.
#[test]
fn psp_migration_cases() {
    let Some(shared) = common::shared() else {
        return;
    };
    let (mut agree, mut total) = (0, 0);
    let mut listed = Vec::new();
    let mut unexplained = Vec::new();
    for case in common::migration_cases(&shared) {
        let (policies, emitted) = compiled(std::slice::from_ref(&case.policy));
        let lossy = lossy_fields(&emitted);
        for (file, expect_admit, _) in &case.pods {
            total += 1;
            let pod = yaml_docs(&case.dir.join(file)).remove(0);
            let out = judge(&policies, &pod);
            if out.admitted() == *expect_admit {
                agree += 1;
                continue;
            }
            let why: Vec<&String> = lossy.iter().filter(|f| names_case(f, &case.name)).collect();
            let line = format!(
                "{}/{file}: expected admitted={expect_admit}, got {:?}",
                case.name,
                out.failures()
            );
            if why.is_empty() {
                unexplained.push(line);
            } else {
                listed.push(format!("{line} (fidelity: {why:?})"));
            }
        }
    }
    println!(
        "kyverno psp-migration: {agree}/{total} ({} listed in the fidelity report, {} unexplained)",
        listed.len(),
        unexplained.len()
    );
    for l in &listed {
        println!("  listed: {l}");
    }
    for u in &unexplained {
        println!("  UNEXPLAINED: {u}");
    }
    assert_eq!(total, 48, "48 psp-migration pods");
    assert!(unexplained.is_empty(), "{unexplained:#?}");
    assert!(
        agree >= MIGRATION_RATCHET,
        "ratchet: {MIGRATION_RATCHET}/48 reached"
    );
}

/// psp-migration pods the generated policy decides as PSP did (only goes up).
const MIGRATION_RATCHET: usize = 46;

/// The distinct PSA testdata pods after API defaulting, as typed pods and API JSON.
fn psa_pods(shared: &std::path::Path) -> Vec<(String, polytrans::pod::Pod, Value)> {
    let mut pods: BTreeMap<String, (String, polytrans::pod::Pod, Value)> = BTreeMap::new();
    for c in common::psa_cases(shared) {
        let pod = common::load_pod(&c.path).pod;
        let mut obj = serde_json::to_value(&pod).unwrap();
        obj["apiVersion"] = "v1".into();
        obj["kind"] = "Pod".into();
        let obj = ky::api_json(&obj);
        pods.entry(obj.to_string())
            .or_insert_with(|| (c.path.display().to_string(), pod, obj));
    }
    pods.into_values().collect()
}

/// The golden cases' IR (Kubernetes example PSPs at several upstream versions, seeds, RBAC
/// cases), as tests/gatekeeper.rs gathers them.
fn golden_policies() -> Vec<polytrans::ir::Policy> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    let mut out = Vec::new();
    for f in common::files_under(&root, &["yaml"]) {
        if f.file_name().and_then(|n| n.to_str()) != Some("ir.yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let doc: polytrans::ir::IrDocument =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        out.extend(doc.policies);
    }
    out
}

/// A policy without the rules and defaults of one field.
fn without_field(p: &polytrans::ir::Policy, field: &str) -> polytrans::ir::Policy {
    let mut q = p.clone();
    q.rules.retain(|r| r.provenance.field != field);
    q.defaults.retain(|d| d.provenance.field != field);
    q
}

/// Differential: for the Kubernetes example PSPs and every golden PSP, the generated policy
/// (its mutations applied to the pod first) rejects a PSA testdata pod exactly when the IR
/// evaluator (`polytrans::eval::admits`, which applies the PSP's defaulting first) does. A
/// mismatch is explained when removing a field the fidelity report lists as not exact (from
/// both the PSP and its translation) makes them agree on that pod; it is counted for the first
/// such field (in field order), or for all listed fields together.
#[test]
fn psa_pods_against_psps() {
    let Some(shared) = common::shared() else {
        return;
    };
    let mut policies = Vec::new();
    for f in common::files_under(&shared.join("conformance/psp-examples"), &["yaml"]) {
        let objs =
            polytrans::load::load_paths(std::slice::from_ref(&f), &Default::default()).unwrap();
        policies.extend(polytrans::front::psp::lower_all(&objs).unwrap().0);
    }
    let examples = policies.len();
    policies.extend(golden_policies());
    let mut seen = BTreeSet::new();
    policies.retain(|p| seen.insert(serde_json::to_string(p).unwrap()));
    let pods = psa_pods(&shared);
    let (mut agree, mut total) = (0, 0);
    let mut by_field: BTreeMap<String, usize> = BTreeMap::new();
    let mut unexplained = Vec::new();
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for policy in &policies {
        let (generated, emitted) = compiled(std::slice::from_ref(policy));
        let lossy = lossy_fields(&emitted);
        let mut reduced: BTreeMap<String, (polytrans::ir::Policy, Vec<ky::Policy>)> =
            BTreeMap::new();
        for (path, pod, obj) in &pods {
            total += 1;
            let want = polytrans::eval::admits(policy, pod).is_empty();
            let out = judge(&generated, obj);
            if out.admitted() == want {
                agree += 1;
                continue;
            }
            let mut why = Vec::new();
            for f in &lossy {
                let (rp, rg) = reduced.entry(f.clone()).or_insert_with(|| {
                    let rp = without_field(policy, f);
                    let rg = compiled(std::slice::from_ref(&rp)).0;
                    (rp, rg)
                });
                if polytrans::eval::admits(rp, pod).is_empty() == judge(rg, obj).admitted() {
                    why.push(f.clone());
                    // The first listed field that explains the mismatch is enough.
                    break;
                }
            }
            if why.is_empty() && lossy.len() > 1 {
                let (rp, rg) = reduced.entry("*".into()).or_insert_with(|| {
                    let mut rp = policy.clone();
                    for f in &lossy {
                        rp = without_field(&rp, f);
                    }
                    let rg = compiled(std::slice::from_ref(&rp)).0;
                    (rp, rg)
                });
                if polytrans::eval::admits(rp, pod).is_empty() == judge(rg, obj).admitted() {
                    why.push(format!(
                        "together: {}",
                        lossy.iter().cloned().collect::<Vec<_>>().join(" + ")
                    ));
                }
            }
            if why.is_empty() {
                let ir: BTreeSet<String> = polytrans::eval::admits(policy, pod)
                    .iter()
                    .map(|v| v.field.clone())
                    .collect();
                let rules: BTreeSet<String> = out
                    .failures()
                    .iter()
                    .map(|f| f.split(':').next().unwrap().to_string())
                    .collect();
                *groups
                    .entry(format!("ir {ir:?} / kyverno {rules:?}"))
                    .or_default() += 1;
                unexplained.push(format!(
                    "{} {path}: ir admits={want}, kyverno {:?}",
                    policy.name,
                    out.failures()
                ));
            } else {
                for f in why {
                    *by_field.entry(f).or_default() += 1;
                }
            }
        }
    }
    let explained = total - agree - unexplained.len();
    println!(
        "kyverno vs ir evaluator, {} distinct PSA testdata pods x {} PSPs ({examples} examples, {} golden): \
         agree {agree}/{total}, explained by fidelity entries {explained}, unexplained {}",
        pods.len(),
        policies.len(),
        policies.len() - examples,
        unexplained.len()
    );
    for (f, n) in &by_field {
        println!("  explained by {f}: {n}");
    }
    for (g, n) in &groups {
        println!("  unexplained group: {g}: {n}");
    }
    for u in unexplained
        .iter()
        .filter(|u| std::env::var("KY_SHOW").is_ok_and(|s| u.contains(&s)))
        .take(8)
    {
        println!("  unexplained: {u}");
    }
    assert!(unexplained.is_empty(), "{} unexplained", unexplained.len());
}

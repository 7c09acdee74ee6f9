//! Kyverno backend, measured with the test-only Kyverno evaluator (`tests/engines/kyverno.rs`).

mod common;

#[path = "engines/kyverno.rs"]
mod kyverno_engine;

use kyverno_engine as ky;
use serde_json::{Value, json};

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

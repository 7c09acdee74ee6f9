//! Every generated Kyverno ClusterPolicy (golden `kyverno.yaml` files) validates against the
//! upstream ClusterPolicy schema in `../shared/conformance/kyverno-schemas/`.

mod common;

use std::path::Path;

#[test]
fn golden_kyverno_validates_against_clusterpolicy_schema() {
    let Some(shared) = common::shared() else {
        return;
    };
    let schema_path = shared.join("conformance/kyverno-schemas/clusterpolicy.v1.schema.json");
    let Ok(text) = std::fs::read_to_string(&schema_path) else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "missing {}",
            schema_path.display()
        );
        return;
    };
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (mut ok, mut n) = (0, 0);
    let mut failures = Vec::new();
    for f in common::files_under(&root.join("golden"), &["yaml"]) {
        if f.file_name().unwrap() != "kyverno.yaml" {
            continue;
        }
        let docs = polytrans::load::yaml_documents(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for d in docs {
            n += 1;
            let errors: Vec<String> = validator.iter_errors(&d).map(|e| e.to_string()).collect();
            if errors.is_empty() {
                ok += 1;
            } else {
                failures.push(format!("{}: {errors:?}", f.display()));
            }
        }
    }
    println!("kyverno schema: {ok}/{n}");
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(n >= 9, "expected every golden case to hold a kyverno.yaml");
}

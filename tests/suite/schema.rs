//! The committed schemas match the types, and IR output validates against them.

use crate::common;

use std::path::Path;

#[test]
fn ir_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/ir.schema.json");
    let committed = std::fs::read_to_string(&path).expect("schemas/ir.schema.json is committed");
    let fresh = polytrans::ir::schema_json();
    if committed != fresh {
        if std::env::var("BLESS").is_ok_and(|v| v == "1")
            && !std::env::var("CI").is_ok_and(|v| v == "true")
        {
            std::fs::write(&path, fresh).unwrap();
            return;
        }
        panic!(
            "schemas/ir.schema.json drifted from src/ir.rs: run `polytrans schema ir > schemas/ir.schema.json` (or BLESS=1)"
        );
    }
}

#[test]
fn golden_ir_validates_against_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("schemas/ir.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut n = 0;
    for f in common::files_under(&root.join("golden"), &["yaml"]) {
        if f.file_name().unwrap() != "ir.yaml" {
            continue;
        }
        let docs = polytrans::load::yaml_documents(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for d in docs {
            let errors: Vec<String> = validator.iter_errors(&d).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", f.display());
            // and it round-trips into the Rust types
            let _: polytrans::ir::IrDocument = serde_json::from_value(d).unwrap();
            n += 1;
        }
    }
    assert!(n > 0);
    println!("ir.yaml golden files valid against schemas/ir.schema.json: {n}");
}

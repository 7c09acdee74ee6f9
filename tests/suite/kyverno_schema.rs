//! Every generated Kyverno ClusterPolicy validates against the upstream ClusterPolicy schema in
//! `../shared/conformance/kyverno-schemas/` (both the CRD schema and its strict variant, which
//! rejects unknown fields): the golden `kyverno*.yaml` files, and generated variants (each style,
//! each mode, background and autogen options, levels at several versions with exceptions, image
//! and namespace exemptions, RBAC input). Beyond the schema, what Kyverno's webhook checks that
//! the schema cannot: rule names unique and at most 63 characters, `podSecurity.version` pinned
//! (never `latest`), `failureAction` on every validate rule equal to the policy-level action.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn validator(shared: &Path, file: &str) -> Option<jsonschema::Validator> {
    let path = shared.join("conformance/kyverno-schemas").join(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "missing {}",
            path.display()
        );
        return None;
    };
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    Some(jsonschema::validator_for(&schema).expect("schema compiles"))
}

/// Problems Kyverno's webhook would report that the CRD schema does not.
fn webhook_problems(doc: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    // Every validate rule carries the same `failureAction` (the policy-level
    // `validationFailureAction` is deprecated and not written).
    let action = doc["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|r| r["validate"]["failureAction"].as_str());
    let mut names = std::collections::BTreeSet::new();
    for r in doc["spec"]["rules"].as_array().into_iter().flatten() {
        let name = r["name"].as_str().unwrap_or_default();
        if name.len() > 63 {
            out.push(format!("rule name `{name}` is longer than 63 characters"));
        }
        if !names.insert(name.to_string()) {
            out.push(format!("rule name `{name}` is not unique"));
        }
        let v = &r["validate"];
        if !v.is_null() && v["failureAction"].as_str() != action {
            out.push(format!(
                "rule `{name}`: failureAction differs from the other rules'"
            ));
        }
        if let Some(ver) = v["podSecurity"]["version"].as_str() {
            if ver == "latest" {
                out.push(format!("rule `{name}`: podSecurity.version is not pinned"));
            }
        }
    }
    out
}

/// The output, or `None` for a usage error (an exception that does not apply to the level at
/// that version); any other failure fails the test.
fn run(args: &[String], cwd: &Path) -> Option<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_polytrans"))
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap();
    if out.status.code() == Some(2) && args[0] == "pss" {
        return None;
    }
    assert!(
        out.status.success(),
        "polytrans {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

/// (label, command line) of every generated variant.
fn variants(shared: &Path) -> Vec<(String, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs: Vec<Vec<PathBuf>> = ["baseline", "example", "privileged", "restricted"]
        .iter()
        .map(|n| vec![shared.join(format!("conformance/psp-examples/{n}-psp.yaml"))])
        .collect();
    for case in ["kyverno-defaults", "kyverno-pod-security", "cel-fields"] {
        inputs.push(vec![root.join("golden").join(case).join("psp.yaml")]);
    }
    inputs.push(vec![
        root.join("golden/kyverno-rbac/psp.yaml"),
        root.join("golden/kyverno-rbac/rbac.input.yaml"),
    ]);
    let options: [&[&str]; 5] = [
        &[],
        &["--kyverno-style", "rules"],
        &["--kyverno-style", "pod-security"],
        &["--kyverno-mode", "enforce", "--kyverno-background"],
        &["--kyverno-no-autogen", "--pss-version", "v1.24"],
    ];
    let mut out = Vec::new();
    for files in &inputs {
        for opt in options {
            let mut args: Vec<String> = vec!["psp".into()];
            args.extend(files.iter().map(|f| f.display().to_string()));
            args.extend(["--to".into(), "kyverno".into()]);
            args.extend(opt.iter().map(|s| s.to_string()));
            let label = format!(
                "{} {}",
                files[0].file_name().unwrap().to_string_lossy(),
                opt.join(" ")
            );
            out.push((label, args));
        }
    }
    let level_options: [&[&str]; 5] = [
        &[],
        &[
            "--except",
            "capabilities_baseline=NET_RAW",
            "--except",
            "hostPorts=8080",
            "--namespaces",
            "infra,kube-system",
            "--images",
            "registry.example/tools/*",
        ],
        &["--except", "privileged", "--images", "busybox"],
        &[
            "--except",
            "hostNamespaces=hostNetwork",
            "--except",
            "sysctls=kernel.msgmax",
            "--except",
            "seLinuxOptions=spc_t",
        ],
        &["--except", "hostPorts=1-65535"],
    ];
    for level in ["baseline", "restricted"] {
        for version in ["latest", "v1.18", "v1.22", "v1.25", "v1.31"] {
            for opt in level_options {
                for style in ["auto", "rules", "pod-security"] {
                    let mut args: Vec<String> = ["pss", level, "--version", version]
                        .iter()
                        .map(|s| s.to_string())
                        .collect();
                    args.extend(opt.iter().map(|s| s.to_string()));
                    args.extend(
                        ["--to", "kyverno", "--kyverno-style", style]
                            .iter()
                            .map(|s| s.to_string()),
                    );
                    out.push((format!("{level} {version} {} {style}", opt.join(" ")), args));
                }
            }
        }
    }
    out
}

#[test]
fn kyverno_output_validates_against_clusterpolicy_schema() {
    let Some(shared) = common::shared() else {
        return;
    };
    let (Some(schema), Some(strict)) = (
        validator(&shared, "clusterpolicy.v1.schema.json"),
        validator(&shared, "clusterpolicy.v1.strict.schema.json"),
    ) else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    let mut check = |label: &str, text: &str, counts: &mut (usize, usize)| {
        let docs = polytrans::load::yaml_documents(text).unwrap();
        for d in docs.iter().filter(|d| !d.is_null()) {
            counts.1 += 1;
            let mut errors: Vec<String> = schema.iter_errors(d).map(|e| e.to_string()).collect();
            errors.extend(strict.iter_errors(d).map(|e| format!("strict: {e}")));
            errors.extend(webhook_problems(d));
            if errors.is_empty() {
                counts.0 += 1;
            } else {
                failures.push(format!("{label}: {errors:?}"));
            }
        }
    };
    let mut golden = (0, 0);
    for f in common::files_under(&root.join("golden"), &["yaml"]) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("kyverno") || name.starts_with("kyverno-cel") {
            continue;
        }
        check(
            &f.display().to_string(),
            &std::fs::read_to_string(&f).unwrap(),
            &mut golden,
        );
    }
    let mut generated = (0, 0);
    let vs = variants(&shared);
    let mut skipped = 0;
    for (label, args) in &vs {
        match run(args, root) {
            Some(text) => check(label, &text, &mut generated),
            None => skipped += 1,
        }
    }
    println!("kyverno schema (golden): {}/{}", golden.0, golden.1);
    println!(
        "kyverno schema (generated, {} command lines, {skipped} refused as usage errors): {}/{}",
        vs.len(),
        generated.0,
        generated.1
    );
    assert!(skipped * 4 < vs.len(), "most variants must run");
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        golden.1 >= 15,
        "expected every golden case to hold a kyverno.yaml"
    );
}

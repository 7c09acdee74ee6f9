//! The IR evaluator, fed the lowered PSP, admits each psp-migration case's allowed pod and
//! rejects its disallowed pod (PSP 1.24 semantics, defaulting applied).

mod common;

use polytrans::eval::admits;

/// Known disagreements (ratchet): none.
const KNOWN_FAILURES: &[&str] = &[];

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
    let mut agree = 0;
    let mut total = 0;
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let objs = polytrans::load::load_paths(&[dir.join("psp.yaml")], &Default::default())
            .unwrap_or_else(|d| panic!("{d}"));
        let (policies, _) =
            polytrans::front::psp::lower_all(&objs).unwrap_or_else(|d| panic!("{name}: {d}"));
        assert_eq!(policies.len(), 1, "{name}");
        for (file, expect_admit) in [("allowed.yaml", true), ("disallowed.yaml", false)] {
            total += 1;
            let pod = common::load_pod(&dir.join(file));
            let v = admits(&policies[0], &pod.pod);
            if v.is_empty() == expect_admit {
                agree += 1;
            } else {
                failures.push(format!("{name}/{file}: {v:?}"));
            }
        }
    }
    println!("psp-migration cases (IR evaluator): {agree}/{total}");
    for f in &failures {
        println!("  mismatch: {f}");
    }
    let unexpected: Vec<_> = failures
        .iter()
        .filter(|f| !KNOWN_FAILURES.iter().any(|k| f.starts_with(k)))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} unexpected mismatches",
        unexpected.len()
    );
}

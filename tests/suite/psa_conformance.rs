//! The IR levels judge every PSA testdata pod exactly as upstream does.

use crate::common;

use polytrans::eval::admits;
use polytrans::pss::{Version, level_policy};

/// Known failures (ratchet): none.
const KNOWN_FAILURES: &[&str] = &[];

#[test]
fn psa_testdata_levels() {
    let Some(shared) = common::shared() else {
        return;
    };
    let cases = common::psa_cases(&shared);
    assert_eq!(cases.len(), 4537, "PSA testdata should hold 4537 pods");
    let mut agree = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let found = common::load_pod(&case.path);
        let policy = level_policy(case.level, Version::Minor(case.minor));
        let v = admits(&policy, &found.pod);
        if v.is_empty() == case.pass {
            agree += 1;
        } else {
            let rel = case
                .path
                .strip_prefix(shared.join("conformance/psa/testdata"))
                .unwrap();
            failures.push(format!("{} -> {:?}", rel.display(), v));
        }
    }
    println!("psa testdata (library): {agree}/{}", cases.len());
    for f in failures.iter().take(30) {
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

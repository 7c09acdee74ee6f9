//! The IR evaluator, fed the lowered PSP, admits each psp-migration case's allowed pod and
//! rejects its disallowed pod (PSP 1.24 semantics, defaulting applied).

use crate::common;

use polytrans::eval::admits;

/// Known disagreements (ratchet): none.
const KNOWN_FAILURES: &[&str] = &[];

#[test]
fn psp_migration_cases() {
    let Some(shared) = common::shared() else {
        return;
    };
    let mut agree = 0;
    let mut total = 0;
    let mut failures = Vec::new();
    for case in common::migration_cases(&shared) {
        for (file, expect_admit, pod) in &case.pods {
            total += 1;
            let v = admits(&case.policy, &pod.pod);
            if v.is_empty() == *expect_admit {
                agree += 1;
            } else {
                failures.push(format!("{}/{file}: {v:?}", case.name));
            }
        }
    }
    common::assert_ratchet(
        "psp-migration cases (IR evaluator)",
        (agree, total),
        &failures,
        KNOWN_FAILURES.iter().copied(),
        48,
    );
}

//! Levels as input (`polytrans pss`): the level IR, printed and read back, judges every PSA
//! testdata pod as upstream does; exceptions and exemptions widen a level as documented.

use crate::common;

use polytrans::eval::admits;
use polytrans::ir::{IrDocument, Level};
use polytrans::pss::{Exception, Version, apply_exceptions, level_policy};
use std::collections::BTreeMap;

#[test]
fn level_ir_round_trip_agrees_with_psa() {
    let Some(shared) = common::shared() else {
        return;
    };
    let mut policies: BTreeMap<(Level, u32), polytrans::ir::Policy> = BTreeMap::new();
    let mut agree = 0;
    let cases = common::psa_cases(&shared);
    for case in &cases {
        let policy = policies.entry((case.level, case.minor)).or_insert_with(|| {
            // Through the IR's own YAML, as `polytrans pss LEVEL --version v1.N --to ir` prints it.
            let text = polytrans::render::to_yaml(&IrDocument::new(vec![level_policy(
                case.level,
                Version::Minor(case.minor),
            )]));
            let doc: IrDocument =
                serde_json::from_value(polytrans::load::yaml_documents(&text).unwrap().remove(0))
                    .unwrap();
            doc.policies.into_iter().next().unwrap()
        });
        let pod = common::load_pod(&case.path);
        if admits(policy, &pod.pod).is_empty() == case.pass {
            agree += 1;
        }
    }
    println!("levels via IR YAML (ir backend): {agree}/{}", cases.len());
    assert_eq!(agree, cases.len());
}

fn pod(yaml: &str) -> polytrans::pod::Pod {
    serde_json::from_value(polytrans::load::yaml_documents(yaml).unwrap().remove(0)).unwrap()
}

#[test]
fn exceptions_and_exemptions() {
    let net_raw = pod(
        "metadata: {namespace: team}\nspec: {containers: [{name: c, image: registry/app:1, securityContext: {capabilities: {add: [NET_RAW]}}}]}",
    );
    let sys_admin = pod(
        "spec: {containers: [{name: c, image: x, securityContext: {capabilities: {add: [SYS_ADMIN]}}}]}",
    );
    let mut p = level_policy(Level::Baseline, Version::Latest);
    assert!(!admits(&p, &net_raw).is_empty());
    apply_exceptions(
        &mut p,
        &[Exception::parse("capabilities_baseline=NET_RAW").unwrap()],
    )
    .unwrap();
    assert!(admits(&p, &net_raw).is_empty());
    assert!(!admits(&p, &sys_admin).is_empty());
    // Dropping the check entirely.
    let mut p = level_policy(Level::Baseline, Version::Latest);
    apply_exceptions(
        &mut p,
        &[Exception::parse("capabilities_baseline").unwrap()],
    )
    .unwrap();
    assert!(admits(&p, &sys_admin).is_empty());
    // A check that takes no values, or does not apply.
    let mut p = level_policy(Level::Baseline, Version::Latest);
    assert!(apply_exceptions(&mut p, &[Exception::parse("privileged=x").unwrap()]).is_err());
    assert!(apply_exceptions(&mut p, &[Exception::parse("runAsNonRoot").unwrap()]).is_err());
    assert!(Exception::parse("nope").is_err());
    // Exempt namespaces and images.
    let mut p = level_policy(Level::Baseline, Version::Latest);
    p.exempt_namespaces = vec!["team".into()];
    assert!(admits(&p, &net_raw).is_empty());
    let mut p = level_policy(Level::Baseline, Version::Latest);
    p.exempt_images = vec!["registry/*".into()];
    assert!(admits(&p, &net_raw).is_empty());
    assert!(!admits(&p, &sys_admin).is_empty());
    // hostPorts values
    let mut p = level_policy(Level::Baseline, Version::Latest);
    apply_exceptions(
        &mut p,
        &[Exception::parse("hostPorts=80,8000-8080").unwrap()],
    )
    .unwrap();
    let port = |n: u32| {
        pod(&format!(
            "spec: {{containers: [{{name: c, ports: [{{containerPort: 1, hostPort: {n}}}]}}]}}"
        ))
    };
    assert!(admits(&p, &port(8050)).is_empty());
    assert!(!admits(&p, &port(8081)).is_empty());
}

#[test]
fn intersection_with_a_level() {
    let Some(shared) = common::shared() else {
        return;
    };
    let objs = polytrans::load::load_paths(
        &[shared.join("conformance/psp-examples/privileged-psp.yaml")],
        &Default::default(),
    )
    .unwrap();
    let (mut ps, _) = polytrans::front::psp::lower_all(&objs).unwrap();
    let mut p = ps.remove(0);
    let privileged = pod("spec: {containers: [{name: c, securityContext: {privileged: true}}]}");
    assert!(admits(&p, &privileged).is_empty());
    polytrans::pss::intersect_with_level(&mut p, Level::Baseline, Version::Latest);
    assert!(!admits(&p, &privileged).is_empty());
}

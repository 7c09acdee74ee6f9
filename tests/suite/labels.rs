//! `--to pss-labels`: RBAC resolution, and proposals that never break a given pod.

use crate::common;

use std::path::Path;

fn objects(yaml: &str) -> Vec<polytrans::load::Object> {
    let src = std::sync::Arc::new(polytrans::load::Source {
        name: "t.yaml".into(),
    });
    let mut out = Vec::new();
    let mut d = polytrans::diag::Diagnostics::default();
    polytrans::load::parse_stream(
        yaml,
        &src,
        &Default::default(),
        &mut |o| out.push(o),
        &mut d,
    );
    assert!(!d.has_errors(), "{d}");
    out
}

const RBAC: &str = "
kind: ClusterRole
metadata: {name: all-psps}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use]}]
---
kind: ClusterRole
metadata: {name: restricted}
rules: [{apiGroups: [extensions], resources: [podsecuritypolicies], verbs: [use], resourceNames: [restricted]}]
---
kind: ClusterRole
metadata: {name: not-use}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [get, list], resourceNames: [privileged]}]
---
kind: Role
metadata: {name: local, namespace: team}
rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*'], resourceNames: [baseline]}]
---
kind: ClusterRoleBinding
metadata: {name: everyone}
roleRef: {kind: ClusterRole, name: restricted}
subjects: [{kind: Group, name: 'system:authenticated'}]
---
kind: ClusterRoleBinding
metadata: {name: reader}
roleRef: {kind: ClusterRole, name: not-use}
subjects: [{kind: Group, name: 'system:authenticated'}]
---
kind: RoleBinding
metadata: {name: team-local, namespace: team}
roleRef: {kind: Role, name: local}
subjects: [{kind: ServiceAccount, name: app, namespace: team}]
---
kind: RoleBinding
metadata: {name: cross, namespace: team}
roleRef: {kind: ClusterRole, name: all-psps}
subjects: [{kind: ServiceAccount, name: app, namespace: other}]
---
kind: ClusterRoleBinding
metadata: {name: ops}
roleRef: {kind: ClusterRole, name: all-psps}
subjects: [{kind: Group, name: 'system:serviceaccounts:ops'}]
";

#[test]
fn rbac_resolution() {
    let psps_yaml: String = ["baseline", "privileged", "restricted"]
        .iter()
        .map(|n| format!("---\nkind: PodSecurityPolicy\napiVersion: policy/v1beta1\nmetadata: {{name: {n}}}\nspec: {{}}\n"))
        .collect();
    let policies = polytrans::front::psp::lower_all_with(
        &objects(&psps_yaml),
        &polytrans::front::psp::Options { lenient: true },
    )
    .unwrap()
    .0;
    let scope = polytrans::pipeline::scope_of(&policies, &objects(RBAC));
    let psps = |ns: &str| scope.group_of(ns).psps.keys().cloned().collect::<Vec<_>>();
    // system:authenticated via a ClusterRoleBinding: every namespace; `get` is not `use`.
    assert_eq!(psps("anywhere"), vec!["restricted"]);
    // A Role bound in `team` to a service account of `team`: the whole namespace, with a note
    // (a namespace selector cannot single out the service account).
    assert_eq!(psps("team"), vec!["baseline", "restricted"]);
    assert!(
        scope
            .notes
            .iter()
            .any(|n| n.place == "namespace team" && n.text.contains("ServiceAccount/team/app")),
        "{:?}",
        scope.notes
    );
    // A RoleBinding only grants for pods in its own namespace: the `other` SA gets nothing.
    assert_eq!(psps("other"), vec!["restricted"]);
    // A ClusterRoleBinding to system:serviceaccounts:ops grants only in ops.
    assert_eq!(psps("ops"), vec!["baseline", "privileged", "restricted"]);
}

#[test]
fn proposals_never_break_given_pods() {
    let Some(_) = common::shared() else { return };
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/labels-cluster");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_polytrans"))
        .current_dir(&case)
        .args([
            "psp",
            "psp.yaml",
            "rbac.input.yaml",
            "namespaces.input.yaml",
            "pods.input.yaml",
            "--to",
            "pss-labels",
            "-o",
        ])
        .arg(std::env::temp_dir().join(format!("labels-{}.yaml", std::process::id())))
        .status()
        .unwrap();
    assert!(out.success());
    let labels = std::fs::read_to_string(
        std::env::temp_dir().join(format!("labels-{}.yaml", std::process::id())),
    )
    .unwrap();
    // Feed the proposed Namespaces and the pods to `polytrans check`: nothing is rejected.
    let tmp = std::env::temp_dir().join(format!("labels-check-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("ns.yaml"), labels).unwrap();
    std::fs::copy(case.join("pods.input.yaml"), tmp.join("pods.yaml")).unwrap();
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_polytrans"))
        .current_dir(&tmp)
        .args(["check", "ns.yaml", "pods.yaml"])
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    println!(
        "pss-labels: the proposed labels reject none of the given pods (checked by `polytrans check`)"
    );
}

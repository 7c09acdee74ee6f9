//! The PSS catalogue in `src/pss.rs` agrees with upstream's registration data
//! (`conformance/psa/checks.json`), and version boundaries no fixture pins are right.

use crate::common;

use polytrans::eval::admits;
use polytrans::ir::Level;
use polytrans::pss::{CHECKS, Version, level_policy};

fn minor(v: &str) -> u32 {
    v.trim_start_matches("v1.").parse().unwrap()
}

#[test]
fn catalogue_matches_checks_json() {
    let Some(shared) = common::shared() else {
        return;
    };
    let data: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shared.join("conformance/psa/checks.json")).unwrap(),
    )
    .unwrap();
    let checks = data["checks"].as_array().unwrap();
    assert_eq!(checks.len(), CHECKS.len());
    assert_eq!(
        minor(data["versions"]["latest_resolves_to"].as_str().unwrap()),
        polytrans::pss::LATEST_MINOR
    );
    for c in checks {
        let id = c["id"].as_str().unwrap();
        let ours = polytrans::pss::check_info(id).unwrap_or_else(|| panic!("missing {id}"));
        assert_eq!(ours.level.as_str(), c["level"].as_str().unwrap(), "{id}");
        assert_eq!(
            ours.min_minor,
            minor(c["min_version"].as_str().unwrap()),
            "{id}"
        );
        let changes: Vec<u32> = c["changes_at"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| minor(v.as_str().unwrap()))
            .collect();
        assert_eq!(ours.changes_at, changes.as_slice(), "{id}");
        let over = c["overridden_in_restricted_by"]
            .as_array()
            .and_then(|a| a.first())
            .map(|o| {
                (
                    o["check"].as_str().unwrap(),
                    minor(o["from_version"].as_str().unwrap()),
                )
            });
        assert_eq!(
            ours.overridden_by.map(|(c, m)| (c.as_str(), m)),
            over,
            "{id}"
        );
    }
    println!(
        "pss catalogue: {} checks agree with checks.json",
        checks.len()
    );
}

fn pod(yaml: &str) -> polytrans::pod::Pod {
    let v = polytrans::load::yaml_documents(yaml).unwrap().remove(0);
    serde_json::from_value(v).unwrap()
}

fn allowed(level: Level, minor: u32, p: &polytrans::pod::Pod) -> bool {
    admits(&level_policy(level, Version::Minor(minor)), p).is_empty()
}

const RESTRICTED_OK: &str = "
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: c
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
";

#[test]
fn version_boundaries() {
    // runAsUser=0 is checked from v1.23 on.
    let root =
        pod(&RESTRICTED_OK.replace("runAsNonRoot: true,", "runAsNonRoot: true, runAsUser: 0,"));
    assert!(allowed(Level::Restricted, 22, &root));
    assert!(!allowed(Level::Restricted, 23, &root));
    // restricted capabilities from v1.22.
    let caps = pod(&RESTRICTED_OK.replace("drop: [ALL]", "drop: []"));
    assert!(allowed(Level::Restricted, 21, &caps));
    assert!(!allowed(Level::Restricted, 22, &caps));
    // seccomp fields from v1.19 (annotations only before).
    let no_seccomp = pod(&RESTRICTED_OK.replace(", seccompProfile: {type: RuntimeDefault}", ""));
    assert!(allowed(Level::Restricted, 18, &no_seccomp));
    assert!(!allowed(Level::Restricted, 19, &no_seccomp));
    let unconfined_field = pod(
        "spec: {securityContext: {seccompProfile: {type: Unconfined}}, containers: [{name: c}]}",
    );
    assert!(allowed(Level::Baseline, 18, &unconfined_field));
    assert!(!allowed(Level::Baseline, 19, &unconfined_field));
    let unconfined_ann = pod(
        "metadata: {annotations: {seccomp.security.alpha.kubernetes.io/pod: unconfined}}\nspec: {containers: [{name: c}]}",
    );
    assert!(!allowed(Level::Baseline, 18, &unconfined_ann));
    assert!(allowed(Level::Baseline, 19, &unconfined_ann));
    // container_engine_t from v1.31.
    let engine = pod(
        "spec: {securityContext: {seLinuxOptions: {type: container_engine_t}}, containers: [{name: c}]}",
    );
    assert!(!allowed(Level::Baseline, 30, &engine));
    assert!(allowed(Level::Baseline, 31, &engine));
    // probe host from v1.34.
    let probe = pod(
        "spec: {containers: [{name: c, livenessProbe: {httpGet: {host: example.com, port: 80}}}]}",
    );
    assert!(allowed(Level::Baseline, 33, &probe));
    assert!(!allowed(Level::Baseline, 34, &probe));
    // hostUsers: false relaxes procMount (baseline) and runAsNonRoot/runAsUser from v1.35, but
    // restricted keeps procMount strict.
    let userns = pod(
        "spec: {hostUsers: false, containers: [{name: c, securityContext: {procMount: Unmasked}}]}",
    );
    assert!(!allowed(Level::Baseline, 34, &userns));
    assert!(allowed(Level::Baseline, 35, &userns));
    let userns_root = pod(&RESTRICTED_OK
        .replace("spec:\n", "spec:\n  hostUsers: false\n")
        .replace("runAsNonRoot: true,", "runAsUser: 0,"));
    assert!(!allowed(Level::Restricted, 34, &userns_root));
    assert!(allowed(Level::Restricted, 35, &userns_root));
    let userns_procmount = pod(&RESTRICTED_OK
        .replace("spec:\n", "spec:\n  hostUsers: false\n")
        .replace("drop: [ALL]}", "drop: [ALL]}\n      procMount: Unmasked"));
    assert!(!allowed(Level::Restricted, 35, &userns_procmount));
    // Windows pods are exempt from some restricted checks from v1.25.
    let windows = pod(
        "spec: {os: {name: windows}, securityContext: {runAsNonRoot: true}, containers: [{name: c}]}",
    );
    assert!(!allowed(Level::Restricted, 24, &windows));
    assert!(allowed(Level::Restricted, 25, &windows));
    // sysctls grow.
    let sysctl = pod(
        "spec: {securityContext: {sysctls: [{name: net.ipv4.tcp_rmem, value: '1'}]}, containers: [{name: c}]}",
    );
    assert!(!allowed(Level::Baseline, 31, &sysctl));
    assert!(allowed(Level::Baseline, 32, &sysctl));
    // capability names are exact.
    let lower =
        pod("spec: {containers: [{name: c, securityContext: {capabilities: {add: [chown]}}}]}");
    assert!(!allowed(Level::Baseline, 37, &lower));
}

#[test]
fn psa_messages() {
    let p = pod(
        "metadata: {name: x}\nspec:\n  hostNetwork: true\n  hostPID: true\n  containers:\n  - name: a\n    ports: [{containerPort: 80, hostPort: 80}, {containerPort: 9000, hostPort: 9000}]\n  - name: b\n    securityContext: {privileged: true, capabilities: {add: [SYS_ADMIN]}}\n",
    );
    let v = admits(&level_policy(Level::Restricted, Version::Latest), &p);
    let msg = polytrans::eval::join_messages(&v);
    assert_eq!(
        msg,
        "host namespaces (hostNetwork=true, hostPID=true), hostPort (container \"a\" uses hostPorts 80, 9000), privileged (container \"b\" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (containers \"a\", \"b\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (containers \"a\", \"b\" must set securityContext.capabilities.drop=[\"ALL\"]; container \"b\" must not include \"SYS_ADMIN\" in securityContext.capabilities.add), runAsNonRoot != true (pod or containers \"a\", \"b\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or containers \"a\", \"b\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
    );
}

//! `--to kyverno`: the shape of what is generated (rule names, `podSecurity` subrules and their
//! `exclude` entries, scoping, options), asserted field by field. Whether the policies judge pods
//! as the IR does is for the Kyverno evaluator's tests.

use crate::common;

use serde_json::{Value, json};

fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    common::run_polytrans(args, stdin)
}

/// The ClusterPolicies printed by a successful command.
fn policies(args: &[&str], stdin: &str) -> Vec<Value> {
    let (code, out, err) = run(args, stdin);
    assert_eq!(code, 0, "{args:?}: {err}");
    polytrans::load::yaml_documents(&out)
        .unwrap()
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn rules(p: &Value) -> &Vec<Value> {
    p["spec"]["rules"].as_array().unwrap()
}

fn rule_names(p: &Value) -> Vec<&str> {
    rules(p)
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect()
}

fn pod_security(p: &Value) -> &Value {
    let r: Vec<&Value> = rules(p)
        .iter()
        .filter(|r| !r["validate"]["podSecurity"].is_null())
        .collect();
    assert_eq!(r.len(), 1, "one podSecurity rule: {p:#}");
    &r[0]["validate"]["podSecurity"]
}

const BASELINE_LIKE: &str = "golden/kyverno-pod-security/psp.yaml";

#[test]
fn level_with_exceptions_is_a_pod_security_subrule() {
    let p = policies(
        &[
            "pss",
            "baseline",
            "--version",
            "v1.25",
            "--except",
            "capabilities_baseline=NET_RAW",
            "--except",
            "hostPorts=8080",
            "--except",
            "privileged",
            "--namespaces",
            "infra,kube-system",
            "--images",
            "registry.example/tools/*",
            "--to",
            "kyverno",
        ],
        "",
    );
    assert_eq!(p.len(), 1);
    assert_eq!(rule_names(&p[0]), ["pss-baseline-pod-security"]);
    let rule = &rules(&p[0])[0];
    assert_eq!(
        rule["exclude"],
        json!({"any": [{"resources": {"namespaces": ["infra", "kube-system"]}}]})
    );
    assert_eq!(
        rule["match"],
        json!({"any": [{"resources": {"kinds": ["Pod"]}}]})
    );
    let ps = pod_security(&p[0]);
    assert_eq!(ps["level"], "baseline");
    assert_eq!(ps["version"], "v1.25");
    let exclude = ps["exclude"].as_array().unwrap();
    let all = json!(["*"]);
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        assert!(exclude.contains(&json!({
            "controlName": "Capabilities",
            "images": all,
            "restrictedField": format!("spec.{list}[*].securityContext.capabilities.add"),
            "values": ["NET_RAW"],
        })));
        assert!(exclude.contains(&json!({
            "controlName": "Host Ports",
            "images": all,
            "restrictedField": format!("spec.{list}[*].ports[*].hostPort"),
            "values": ["8080"],
        })));
    }
    assert!(exclude.contains(&json!({"controlName": "Privileged Containers", "images": all})));
    // Image exemptions: every container-level control of the level, pod-level ones not.
    for control in [
        "Capabilities",
        "Host Ports",
        "Privileged Containers",
        "/proc Mount Type",
        "SELinux",
        "Seccomp",
        "HostProcess",
        "AppArmor",
    ] {
        assert!(
            exclude
                .contains(&json!({"controlName": control, "images": ["registry.example/tools/*"]})),
            "{control}: {exclude:#?}"
        );
    }
    for control in ["Host Namespaces", "HostPath Volumes", "Sysctls"] {
        assert!(
            !exclude
                .iter()
                .any(|e| e["controlName"] == control && !e["images"].is_null()),
            "{control}"
        );
    }
}

#[test]
fn level_versions_are_pinned_within_the_schema_range() {
    for (asked, written) in [
        ("v1.18", "v1.19"),
        ("v1.22", "v1.22"),
        ("v1.31", "v1.31"),
        ("latest", "v1.32"),
    ] {
        let p = policies(
            &["pss", "restricted", "--version", asked, "--to", "kyverno"],
            "",
        );
        assert_eq!(pod_security(&p[0])["version"], written, "{asked}");
        assert_eq!(pod_security(&p[0])["level"], "restricted");
    }
    // What the clamp costs is listed per check, and `--strict` refuses it.
    let (code, out, _) = run(&["pss", "restricted", "--to", "kyverno", "--explain"], "");
    assert_eq!(code, 0);
    assert!(
        out.lines().any(|l| l.contains("hostProbesAndHostLifecycle")
            && l.contains("approximated")
            && l.contains("pinned to v1.32")),
        "{out}"
    );
    let (code, _, err) = run(&["pss", "restricted", "--to", "kyverno", "--strict"], "");
    assert_eq!(code, 1);
    assert!(err.contains("hostProbesAndHostLifecycle"), "{err}");
    let (code, _, err) = run(
        &[
            "pss",
            "restricted",
            "--version",
            "v1.31",
            "--to",
            "kyverno",
            "--strict",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn exceptions_kyverno_cannot_list_fall_back_to_rules() {
    let p = policies(
        &[
            "pss",
            "baseline",
            "--version",
            "v1.31",
            "--except",
            "hostPorts=1000-9000",
            "--to",
            "kyverno",
        ],
        "",
    );
    let names = rule_names(&p[0]);
    assert!(names.contains(&"pss-baseline-host-ports"), "{names:?}");
    assert!(!names.contains(&"pss-baseline-pod-security"));
}

#[test]
fn a_psp_that_is_a_level_with_exclusions_becomes_pod_security() {
    let p = policies(
        &[
            "psp",
            BASELINE_LIKE,
            "--pss-version",
            "v1.24",
            "--to",
            "kyverno",
        ],
        "",
    );
    assert_eq!(rule_names(&p[0]), ["psp-baseline-like-pod-security"]);
    let ps = pod_security(&p[0]);
    assert_eq!(ps["level"], "baseline");
    assert_eq!(ps["version"], "v1.24");
    let exclude = ps["exclude"].as_array().unwrap();
    // The PSP's seccomp `*` and unset seLinux/AppArmor/hostProcess drop those controls, pod and
    // container parts.
    for control in ["Seccomp", "SELinux", "AppArmor", "HostProcess"] {
        assert!(
            exclude.contains(&json!({"controlName": control})),
            "{control}"
        );
        assert!(exclude.contains(&json!({"controlName": control, "images": ["*"]})));
    }
    assert!(exclude.contains(&json!({"controlName": "HostPath Volumes"})));
    // At a version whose safe sysctls differ from PSP's, it is not exactly the level.
    let p = policies(&["psp", BASELINE_LIKE, "--to", "kyverno"], "");
    assert!(
        !rule_names(&p[0]).contains(&"psp-baseline-like-pod-security"),
        "{:?}",
        rule_names(&p[0])
    );
    // Rules on request.
    let p = policies(
        &[
            "psp",
            BASELINE_LIKE,
            "--pss-version",
            "v1.24",
            "--to",
            "kyverno",
            "--kyverno-style",
            "rules",
        ],
        "",
    );
    assert_eq!(
        rule_names(&p[0]),
        [
            "psp-baseline-like-privileged",
            "psp-baseline-like-host-network",
            "psp-baseline-like-host-pid",
            "psp-baseline-like-host-ipc",
            "psp-baseline-like-host-ports",
            "psp-baseline-like-add-capabilities",
            "psp-baseline-like-proc-mount",
            "psp-baseline-like-sysctls",
        ]
    );
}

#[test]
fn psp_rules_are_named_after_the_psp_and_field() {
    let Some(shared) = common::shared() else {
        return;
    };
    let psp = shared.join("conformance/psp-examples/restricted-psp.yaml");
    let p = policies(&["psp", psp.to_str().unwrap(), "--to", "kyverno"], "");
    assert_eq!(p[0]["metadata"]["name"], "psp-restricted");
    assert_eq!(
        rule_names(&p[0]),
        [
            "psp-restricted-required-drop-capabilities",
            "psp-restricted-default-run-as-non-root",
            "psp-restricted-default-supplemental-groups",
            "psp-restricted-default-fs-group",
            "psp-restricted-default-allow-privilege-escalation",
            "psp-restricted-default-apparmor-profile",
            "psp-restricted-privileged",
            "psp-restricted-host-network",
            "psp-restricted-host-pid",
            "psp-restricted-host-ipc",
            "psp-restricted-host-ports",
            "psp-restricted-volumes",
            "psp-restricted-add-capabilities",
            "psp-restricted-run-as-non-root",
            "psp-restricted-supplemental-groups",
            "psp-restricted-fs-group",
            "psp-restricted-allow-privilege-escalation",
            "psp-restricted-proc-mount",
            "psp-restricted-sysctls",
            "psp-restricted-seccomp",
            "psp-restricted-apparmor",
        ]
    );
    // Mutations come first and cover every container list.
    let drop = &rules(&p[0])[0]["mutate"]["foreach"];
    let lists: Vec<&str> = drop
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["list"].as_str().unwrap())
        .collect();
    assert_eq!(
        lists,
        [
            "request.object.spec.containers || `[]`",
            "request.object.spec.initContainers || `[]`",
            "request.object.spec.ephemeralContainers || `[]`",
        ]
    );
    // The volumes come from the PSP, not a fixed list.
    let volumes = &rules(&p[0])[11]["validate"]["deny"]["conditions"]["any"][0];
    assert_eq!(volumes["operator"], "AnyNotIn");
    assert_eq!(
        volumes["value"],
        json!([
            "configMap",
            "csi",
            "downwardAPI",
            "emptyDir",
            "ephemeral",
            "name",
            "persistentVolumeClaim",
            "projected",
            "secret"
        ])
    );
}

#[test]
fn unset_privileged_and_host_fields_are_forbidden() {
    let psp = r#"{"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy",
      "metadata": {"name": "minimal"},
      "spec": {"seLinux": {"rule": "RunAsAny"}, "runAsUser": {"rule": "RunAsAny"},
        "supplementalGroups": {"rule": "RunAsAny"}, "fsGroup": {"rule": "RunAsAny"},
        "volumes": ["*"]}}"#;
    let p = policies(&["psp", "-", "--to", "kyverno"], psp);
    let names = rule_names(&p[0]);
    for n in [
        "psp-minimal-privileged",
        "psp-minimal-host-network",
        "psp-minimal-host-pid",
        "psp-minimal-host-ipc",
        "psp-minimal-host-ports",
        "psp-minimal-seccomp",
    ] {
        assert!(names.contains(&n), "{n}: {names:?}");
    }
    let host_ports = rules(&p[0])
        .iter()
        .find(|r| r["name"] == "psp-minimal-host-ports")
        .unwrap();
    assert_eq!(
        host_ports["validate"]["pattern"]["spec"]["containers"][0]["=(ports)"][0]["=(hostPort)"],
        "0"
    );
}

#[test]
fn mode_background_and_autogen_options() {
    let p = policies(
        &[
            "psp",
            BASELINE_LIKE,
            "--to",
            "kyverno",
            "--kyverno-mode",
            "enforce",
            "--kyverno-background",
            "--kyverno-no-autogen",
        ],
        "",
    );
    // The deprecated policy-level `validationFailureAction` is not written (per-rule
    // `failureAction`, Kyverno 1.13+).
    assert!(p[0]["spec"]["validationFailureAction"].is_null());
    assert_eq!(p[0]["spec"]["background"], true);
    assert_eq!(
        p[0]["metadata"]["annotations"]["pod-policies.kyverno.io/autogen-controllers"],
        "none"
    );
    for r in rules(&p[0]) {
        if !r["validate"].is_null() {
            assert_eq!(r["validate"]["failureAction"], "Enforce", "{r:#}");
        }
    }
    // `--mode enforce` is the default (the output replaces a control that enforced).
    let p = policies(&["psp", BASELINE_LIKE, "--to", "kyverno"], "");
    let actions = |p: &Value| -> Vec<String> {
        rules(p)
            .iter()
            .filter(|r| !r["validate"].is_null())
            .map(|r| r["validate"]["failureAction"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        actions(&p[0]).iter().all(|a| a == "Enforce"),
        "{:?}",
        actions(&p[0])
    );
    assert!(p[0]["spec"]["emitWarning"].is_null());
    let w = policies(
        &["psp", BASELINE_LIKE, "--to", "kyverno", "--mode", "warn"],
        "",
    );
    assert!(
        actions(&w[0]).iter().all(|a| a == "Audit"),
        "{:?}",
        actions(&w[0])
    );
    assert_eq!(w[0]["spec"]["emitWarning"], true);
    assert_eq!(p[0]["spec"]["background"], false);
    assert_eq!(
        p[0]["metadata"]["annotations"]["pod-policies.kyverno.io/autogen-controllers"],
        "DaemonSet,Deployment,Job,StatefulSet,ReplicaSet,ReplicationController,CronJob"
    );
    assert!(
        p[0]["metadata"]["annotations"]["polytrans.dev/scope"]
            .as_str()
            .unwrap()
            .starts_with("cluster-wide")
    );
}

#[test]
fn rbac_scopes_each_policy_by_namespace() {
    let p = policies(
        &[
            "psp",
            "golden/kyverno-rbac/psp.yaml",
            "golden/kyverno-rbac/rbac.input.yaml",
            "--to",
            "kyverno",
        ],
        "",
    );
    assert_eq!(p.len(), 2);
    let by_name = |n: &str| p.iter().find(|x| x["metadata"]["name"] == n).unwrap();
    for r in rules(by_name("psp-privileged")) {
        assert_eq!(
            r["match"],
            json!({"any": [{"resources": {"kinds": ["Pod"], "namespaces": ["kube-system"]}}]})
        );
        assert!(r["exclude"].is_null());
    }
    for r in rules(by_name("psp-restricted")) {
        assert_eq!(
            r["match"],
            json!({"any": [{"resources": {"kinds": ["Pod"]}}]})
        );
        // In kube-system the privileged PSP is usable too and admits everything restricted
        // does: PSP admitted the union, so restricted's rules do not apply there.
        assert_eq!(
            r["exclude"],
            json!({"any": [{"resources": {"namespaces": ["kube-system"]}}]})
        );
    }
    assert!(
        by_name("psp-restricted")["metadata"]["annotations"]["polytrans.dev/scope"]
            .as_str()
            .unwrap()
            .starts_with("rbac: applies in every namespace except kube-system")
    );
}

#[test]
fn a_psp_no_one_may_use_gets_no_policy() {
    let rbac = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("golden/kyverno-rbac/rbac.input.yaml"),
    )
    .unwrap();
    let psp = r#"{"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy",
      "metadata": {"name": "unused"},
      "spec": {"seLinux": {"rule": "RunAsAny"}, "runAsUser": {"rule": "RunAsAny"},
        "supplementalGroups": {"rule": "RunAsAny"}, "fsGroup": {"rule": "RunAsAny"},
        "volumes": ["*"]}}"#;
    let input = format!("{psp}\n---\n{rbac}");
    let (code, out, err) = run(&["psp", "-", "--to", "kyverno"], &input);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("# PodSecurityPolicy unused: no ClusterPolicy generated: no RBAC binding"),
        "{out}"
    );
}

#[test]
fn host_namespace_and_sysctl_values_are_restricted_fields() {
    let p = policies(
        &[
            "pss",
            "baseline",
            "--version",
            "v1.31",
            "--except",
            "hostNamespaces=hostNetwork",
            "--except",
            "sysctls=kernel.msgmax",
            "--to",
            "kyverno",
        ],
        "",
    );
    assert_eq!(
        pod_security(&p[0])["exclude"],
        json!([
            {"controlName": "Host Namespaces", "restrictedField": "spec.hostNetwork", "values": ["true"]},
            {"controlName": "Sysctls", "restrictedField": "spec.securityContext.sysctls[*].name", "values": ["kernel.msgmax"]},
        ])
    );
    // The whole check: the control alone.
    let p = policies(
        &[
            "pss",
            "baseline",
            "--version",
            "v1.31",
            "--except",
            "hostNamespaces",
            "--to",
            "kyverno",
        ],
        "",
    );
    assert_eq!(
        pod_security(&p[0])["exclude"],
        json!([{"controlName": "Host Namespaces"}])
    );
}

/// `--kyverno-version` picks what is emitted: ClusterPolicy for 1.13–1.19 (deprecated from 1.17,
/// said in the header), refused from 1.20 (Kyverno's planned removal) and before 1.13 (no
/// per-rule `failureAction`); the ValidatingPolicy apiVersion of `--to kyverno-cel` per release.
#[test]
fn kyverno_version_picks_the_output() {
    // `polytrans psp BASELINE_LIKE --to <target> [--kyverno-version <version>]`.
    let with = |target: &str, version: Option<&str>| {
        let mut args = vec!["psp", BASELINE_LIKE, "--to", target];
        args.extend(
            version
                .map(|v| ["--kyverno-version", v])
                .into_iter()
                .flatten(),
        );
        run(&args, "")
    };
    let deprecation = "ClusterPolicy is deprecated since Kyverno 1.17";
    let (code, out, err) = with("kyverno", None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("# For Kyverno 1.19 (--kyverno-version)."),
        "{out}"
    );
    assert!(out.contains(deprecation), "{out}");
    assert!(out.contains("`--to kyverno-cel`"), "{out}");
    let (code, out, err) = with("kyverno", Some("1.16"));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(deprecation), "{out}");
    for (target, version, text) in [
        (
            "kyverno",
            "1.20",
            "plans to refuse creating or updating ClusterPolicy",
        ),
        ("kyverno", "1.12", "reads from 1.13 on"),
        ("kyverno", "2.0", "not a Kyverno release"),
        ("kyverno-cel", "1.13", "ValidatingPolicy arrived in 1.14"),
    ] {
        let (code, out, err) = with(target, Some(version));
        assert_eq!(code, 2, "{target} {version}: {out}");
        assert!(err.contains(text), "{target} {version}: {err}");
        assert!(out.is_empty(), "no partial output: {out}");
    }
    for (version, api) in [
        ("1.14", "policies.kyverno.io/v1alpha1"),
        ("1.15", "policies.kyverno.io/v1alpha1"),
        ("1.16", "policies.kyverno.io/v1beta1"),
        ("v1.17.2", "policies.kyverno.io/v1"),
        ("1.19", "policies.kyverno.io/v1"),
    ] {
        let (code, out, err) = with("kyverno-cel", Some(version));
        assert_eq!(code, 0, "{version}: {err}");
        let docs = polytrans::load::yaml_documents(&out).unwrap();
        let vpols: Vec<&Value> = docs
            .iter()
            .filter(|d| d["kind"] == "ValidatingPolicy")
            .collect();
        assert!(!vpols.is_empty(), "{out}");
        for d in vpols {
            assert_eq!(d["apiVersion"], api, "{version}");
        }
        for d in docs.iter().filter(|d| d["kind"] == "MutatingPolicy") {
            assert_eq!(d["apiVersion"], api, "{version}");
        }
    }
    // A PSP that defaults needs Kyverno's MutatingPolicy (1.15+); on 1.14, validation alone
    // with --no-mutation.
    let defaults = "golden/kyverno-defaults/psp.yaml";
    let args = [
        "psp",
        defaults,
        "--to",
        "kyverno-cel",
        "--kyverno-version",
        "1.14",
    ];
    let (code, out, err) = run(&args, "");
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("MutatingPolicy (PSP's defaulting) arrived in 1.15"),
        "{err}"
    );
    let (code, out, err) = run(&[&args[..], &["--no-mutation"]].concat(), "");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("apiVersion: policies.kyverno.io/v1alpha1"),
        "{out}"
    );
    assert!(!out.contains("kind: MutatingPolicy"), "{out}");
}

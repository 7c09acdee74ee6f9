//! The CEL backend (`--to vap`, `--to kyverno-cel`), measured with a real CEL engine
//! (`cel-interpreter`): the generated expressions are evaluated with `object` bound to the pod
//! JSON and `variables` emulated in order, as Kubernetes does, and compared with the IR evaluator.
//!
//! CEL validation cannot mutate, so each pod is judged after the policy's defaulting has been
//! applied (`eval::apply_defaults`); the backend reports those defaulting fields as approximated.
//!
//! Differences between `cel-interpreter` 0.10 and Kubernetes CEL, and how this test and the
//! expressions avoid them:
//! - JSON numbers: Kubernetes types pod integers as `int`; `cel_interpreter::to_value` would turn
//!   positive JSON numbers into `uint`. `cel_engine::to_cel` converts them to `int` like Kubernetes.
//! - Absent versus `null`: Kubernetes drops absent fields; the typed pod serialises them as
//!   `null`, so `cel_engine::to_cel` removes nulls before binding `object`.
//! - Optional syntax (`a.?b`), `orValue` and the strings extension (`join`, `lowerAscii`) are
//!   not in the crate: the expressions use only `has()`, ternaries, `in`, `startsWith`, `size`
//!   and the `all` macro, which both implement alike.

use crate::common;

use cel_interpreter::{Context, Program, Value};
use polytrans::backend::cel::{self, Validation, Variable};
use polytrans::eval::{admits, apply_defaults};
use polytrans::ir::{IrDocument, Level, Policy};
use polytrans::pod::Pod;
use polytrans::pss::{Version, level_policy};
use std::collections::HashMap;
use std::sync::Arc;

use crate::engines::cel as cel_engine;

use crate::engines::map;
use cel_engine::Compiled;

fn compile(policy: &Policy) -> Compiled {
    compile_parts(&cel::variables(false), &cel::validations(policy))
}

fn compile_parts(vars: &[Variable], vals: &[Validation]) -> Compiled {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|v| (v.name.clone(), v.expression.clone()))
        .collect();
    let vals: Vec<(String, String, Option<String>)> = vals
        .iter()
        .map(|v| {
            (
                v.field.clone(),
                v.expression.clone(),
                Some(v.message_expression.clone()),
            )
        })
        .collect();
    Compiled::new(&[], &vars, &vals)
}

/// The fields of the failed validations; an evaluation error fails the test (see
/// `Compiled::run`).
fn run(compiled: &Compiled, object: &serde_json::Value) -> Vec<String> {
    compiled.run(object)
}

fn pod_json(pod: &Pod) -> serde_json::Value {
    let mut v = serde_json::to_value(pod).unwrap();
    v["apiVersion"] = "v1".into();
    v["kind"] = "Pod".into();
    v
}

/// CEL verdict on the pod after the policy's defaulting.
fn cel_admits(policy: &Policy, compiled: &Compiled, pod: &Pod) -> bool {
    let mut p = pod.clone();
    apply_defaults(policy, &mut p);
    run(compiled, &pod_json(&p)).is_empty()
}

#[test]
fn psp_migration_cases() {
    let Some(shared) = common::shared() else {
        return;
    };
    let (mut agree, mut total) = (0, 0);
    let mut failures = Vec::new();
    for case in common::migration_cases(&shared) {
        let compiled = compile(&case.policy);
        for (file, expect, pod) in &case.pods {
            total += 1;
            match cel_admits(&case.policy, &compiled, &pod.pod) {
                v if v == *expect => agree += 1,
                other => failures.push(format!("{}/{file}: {other:?}", case.name)),
            }
        }
    }
    println!("psp-migration cases (cel): {agree}/{total}");
    for f in &failures {
        println!("  mismatch: {f}");
    }
    assert!(failures.is_empty(), "{} mismatches", failures.len());
    assert!(agree >= 48);
}

#[test]
fn psa_pods_against_psps() {
    let Some(shared) = common::shared() else {
        return;
    };
    let (policies, examples) = common::example_and_golden_policies(&shared);
    let pods: Vec<_> = common::psa_cases(&shared)
        .iter()
        .map(|c| (c.path.clone(), common::load_pod(&c.path).pod))
        .collect();
    let (mut agree, mut total) = (0, 0);
    let mut failures = Vec::new();
    for policy in &policies {
        let compiled = compile(policy);
        for (path, pod) in &pods {
            total += 1;
            let want = admits(policy, pod).is_empty();
            match cel_admits(policy, &compiled, pod) {
                got if got == want => agree += 1,
                other => failures.push(format!(
                    "{} {}: ir {want}, cel {other:?}",
                    policy.name,
                    path.display()
                )),
            }
        }
    }
    println!(
        "cel vs ir evaluator, psa testdata pods x {} PSPs ({examples} examples, {} golden): {agree}/{total}",
        policies.len(),
        policies.len() - examples
    );
    for f in failures.iter().take(20) {
        println!("  mismatch: {f}");
    }
    assert!(failures.is_empty(), "{} mismatches", failures.len());
    // Ratchet: 4537 pods x 25 PSPs when measured (grows with golden cases).
    assert!(agree >= 113_425, "agreement fell to {agree}");
}

#[test]
fn psa_pods_against_levels() {
    let Some(shared) = common::shared() else {
        return;
    };
    let cases = common::psa_cases(&shared);
    let mut cache: HashMap<(Level, u32), (Policy, Compiled)> = HashMap::new();
    let mut agree = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let (policy, compiled) = cache.entry((case.level, case.minor)).or_insert_with(|| {
            let p = level_policy(case.level, Version::Minor(case.minor));
            let c = compile(&p);
            (p, c)
        });
        let pod = common::load_pod(&case.path).pod;
        match cel_admits(policy, compiled, &pod) {
            got if got == case.pass => agree += 1,
            other => failures.push(format!("{}: {other:?}", case.path.display())),
        }
    }
    println!("psa testdata (cel): {agree}/{}", cases.len());
    for f in failures.iter().take(20) {
        println!("  mismatch: {f}");
    }
    assert!(failures.is_empty(), "{} mismatches", failures.len());
    assert_eq!(agree, 4537);
}

/// With `--cel-workloads`, the variables pick the pod template of each controller kind, and a
/// workload gets the same verdict as its pod.
#[test]
fn workloads_pick_the_pod_template() {
    let policy = level_policy(Level::Restricted, Version::Minor(37));
    let compiled = compile_parts(&cel::variables(true), &cel::validations(&policy));
    let good = serde_json::json!({
        "metadata": {"annotations": {"a": "b"}},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "app", "image": "x", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]
        }
    });
    let mut bad = good.clone();
    bad["spec"]["containers"][0]["securityContext"]["privileged"] = true.into();
    for (template, ok) in [(&good, true), (&bad, false)] {
        let pod = {
            let mut p = template.clone();
            p["apiVersion"] = "v1".into();
            p["kind"] = "Pod".into();
            p
        };
        let deployment = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d"}, "spec": {"template": template}});
        let cronjob = serde_json::json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": template}}}});
        for obj in [pod, deployment, cronjob] {
            let failed = run(&compiled, &obj);
            assert_eq!(failed.is_empty(), ok, "{obj}: {failed:?}");
        }
    }
}

/// Hand-made pods for the fields the PSA testdata does not exercise (golden case `cel-fields`):
/// CEL and the IR evaluator agree on each.
#[test]
fn cel_fields_pods() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/cel-fields");
    let text = std::fs::read_to_string(root.join("ir.yaml")).unwrap();
    let doc: IrDocument = serde_yaml::from_str(&text).unwrap();
    let policy = &doc.policies[0];
    let compiled = compile(policy);
    let base = serde_json::json!({
        "metadata": {"name": "p"},
        "spec": {
            "securityContext": {"runAsUser": 1500, "appArmorProfile": {"type": "RuntimeDefault"}, "seLinuxOptions": {"level": "s0:c123,c456"}},
            "containers": [{"name": "app", "image": "x",
                "securityContext": {"allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["NET_RAW"]}},
                "volumeMounts": [{"name": "logs", "mountPath": "/l", "readOnly": true}]}],
            "volumes": [{"name": "logs", "hostPath": {"path": "/var/log/app"}}]
        }
    });
    let patch = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = base.clone();
        f(&mut v);
        v
    };
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("base", base.clone()),
        (
            "writable /var/log",
            patch(&|v| v["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = false.into()),
        ),
        (
            "init container writes /var/log",
            patch(&|v| {
                v["spec"]["initContainers"] = serde_json::json!([{"name": "i", "image": "x",
                "securityContext": {"allowPrivilegeEscalation": false},
                "volumeMounts": [{"name": "logs", "mountPath": "/l"}]}])
            }),
        ),
        (
            "/var/logs is not under /var/log",
            patch(&|v| v["spec"]["volumes"][0]["hostPath"]["path"] = "/var/logs".into()),
        ),
        (
            "quoted prefix, writable",
            patch(&|v| {
                v["spec"]["volumes"][0]["hostPath"]["path"] = "/data/it's/x".into();
                v["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = false.into()
            }),
        ),
        (
            "flex driver allowed",
            patch(&|v| {
                v["spec"]["volumes"] =
                    serde_json::json!([{"name": "f", "flexVolume": {"driver": "example/lvm"}}])
            }),
        ),
        (
            "flex driver not allowed",
            patch(&|v| {
                v["spec"]["volumes"] =
                    serde_json::json!([{"name": "f", "flexVolume": {"driver": "other"}}])
            }),
        ),
        (
            "csi driver not allowed",
            patch(&|v| {
                v["spec"]["volumes"] =
                    serde_json::json!([{"name": "f", "csi": {"driver": "other"}}])
            }),
        ),
        (
            "cephfs allowed",
            patch(&|v| {
                v["spec"]["volumes"] =
                    serde_json::json!([{"name": "f", "cephfs": {"monitors": ["m"]}}])
            }),
        ),
        (
            "nfs not allowed",
            patch(&|v| {
                v["spec"]["volumes"] =
                    serde_json::json!([{"name": "f", "nfs": {"server": "s", "path": "/"}}])
            }),
        ),
        (
            "runtime class allowed",
            patch(&|v| v["spec"]["runtimeClassName"] = "kata".into()),
        ),
        (
            "runtime class not allowed",
            patch(&|v| v["spec"]["runtimeClassName"] = "runc".into()),
        ),
        (
            "sysctl allowed",
            patch(&|v| {
                v["spec"]["securityContext"]["sysctls"] =
                    serde_json::json!([{"name": "net.core.somaxconn", "value": "1"}])
            }),
        ),
        (
            "sysctl forbidden",
            patch(&|v| {
                v["spec"]["securityContext"]["sysctls"] =
                    serde_json::json!([{"name": "kernel.msgmax", "value": "1"}])
            }),
        ),
        (
            "selinux level differs",
            patch(&|v| {
                v["spec"]["containers"][0]["securityContext"]["seLinuxOptions"] =
                    serde_json::json!({"level": "s0"})
            }),
        ),
        (
            "run as user outside",
            patch(&|v| v["spec"]["containers"][0]["securityContext"]["runAsUser"] = 3000.into()),
        ),
        (
            "ephemeral container runs as root",
            patch(&|v| {
                v["spec"]["ephemeralContainers"] = serde_json::json!([{"name": "e", "image": "x",
                "securityContext": {"allowPrivilegeEscalation": false, "runAsUser": 0}}])
            }),
        ),
        (
            "run as group outside",
            patch(&|v| v["spec"]["securityContext"]["runAsGroup"] = 5.into()),
        ),
        (
            "capability allowed",
            patch(&|v| {
                v["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] =
                    serde_json::json!(["CHOWN"])
            }),
        ),
        (
            "capability not allowed",
            patch(&|v| {
                v["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] =
                    serde_json::json!(["SYS_ADMIN"])
            }),
        ),
        (
            "seccomp localhost allowed",
            patch(&|v| {
                v["spec"]["securityContext"]["seccompProfile"] =
                    serde_json::json!({"type": "Localhost", "localhostProfile": "profiles/a.json"})
            }),
        ),
        (
            "seccomp unconfined",
            patch(&|v| {
                v["spec"]["containers"][0]["securityContext"]["seccompProfile"] =
                    serde_json::json!({"type": "Unconfined"})
            }),
        ),
        (
            "apparmor annotation not allowed",
            patch(
                &|v| v["metadata"]["annotations"] = serde_json::json!({"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}),
            ),
        ),
        (
            "apparmor field not allowed",
            patch(&|v| {
                v["spec"]["containers"][0]["securityContext"]["appArmorProfile"] =
                    serde_json::json!({"type": "Unconfined"})
            }),
        ),
        (
            "apparmor field allowed",
            patch(&|v| {
                v["spec"]["securityContext"]["appArmorProfile"] =
                    serde_json::json!({"type": "RuntimeDefault"})
            }),
        ),
        (
            "host port outside",
            patch(&|v| {
                v["spec"]["containers"][0]["ports"] =
                    serde_json::json!([{"containerPort": 80, "hostPort": 80}])
            }),
        ),
        (
            "host port inside",
            patch(&|v| {
                v["spec"]["containers"][0]["ports"] =
                    serde_json::json!([{"containerPort": 80, "hostPort": 8080}])
            }),
        ),
    ];
    let (mut agree, mut admitted) = (0, 0);
    for (name, json) in &cases {
        let pod: Pod = serde_json::from_value(json.clone()).unwrap();
        let why = admits(policy, &pod);
        let want = why.is_empty();
        if *name == "base" {
            assert!(want, "base pod: {why:?}");
        }
        let got = cel_admits(policy, &compiled, &pod);
        assert_eq!(got, want, "{name}: cel {got}, ir {want}");
        agree += 1;
        admitted += usize::from(want);
    }
    println!(
        "cel-fields pods (cel vs ir evaluator): {agree}/{} ({admitted} admitted)",
        cases.len()
    );
    assert!(admitted >= 5 && admitted + 5 <= cases.len());
}

/// Both outputs validate against their schemas: Kyverno's ValidatingPolicy CRD schema and the
/// structural ValidatingAdmissionPolicy/Binding schema under `schemas/`.
#[test]
fn outputs_validate_against_schemas() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let vap_schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("schemas/vap.schema.json")).unwrap(),
    )
    .unwrap();
    let mut schemas = vec![("vap.yaml", jsonschema::validator_for(&vap_schema).unwrap())];
    if let Some(shared) = common::shared() {
        let k: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                shared.join("conformance/kyverno-schemas/validatingpolicy.v1.schema.json"),
            )
            .unwrap(),
        )
        .unwrap();
        schemas.push(("kyverno-cel.yaml", jsonschema::validator_for(&k).unwrap()));
    }
    let mut n = 0;
    for (file, validator) in &schemas {
        for f in common::files_under(&root.join("golden"), &["yaml"]) {
            if f.file_name().and_then(|x| x.to_str()) != Some(*file) {
                continue;
            }
            let docs =
                polytrans::load::yaml_documents(&std::fs::read_to_string(&f).unwrap()).unwrap();
            assert!(!docs.is_empty(), "{}", f.display());
            for d in docs {
                // Kyverno's schemas hold no MutatingPolicy: it is checked by the MAP engine
                // (`map::Policy::all_from_text`) and below.
                if d["kind"] == "MutatingPolicy" {
                    continue;
                }
                let errors: Vec<String> =
                    validator.iter_errors(&d).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{}: {errors:?}", f.display());
                n += 1;
            }
            // and the expressions compile
            let text = std::fs::read_to_string(&f).unwrap();
            let docs = polytrans::load::yaml_documents(&text).unwrap();
            for d in docs {
                for key in ["variables", "validations", "matchConditions"] {
                    for item in d["spec"][key].as_array().into_iter().flatten() {
                        let e = item["expression"].as_str().unwrap();
                        Program::compile(e).unwrap_or_else(|err| panic!("{e}: {err:?}"));
                    }
                }
                for m in d["spec"]["mutations"].as_array().into_iter().flatten() {
                    let (ty, e) = match m["patchType"].as_str() {
                        Some("ApplyConfiguration") => (
                            map::PatchType::ApplyConfiguration,
                            &m["applyConfiguration"]["expression"],
                        ),
                        _ => (map::PatchType::JsonPatch, &m["jsonPatch"]["expression"]),
                    };
                    map::Mutation::new(ty, e.as_str().unwrap())
                        .unwrap_or_else(|err| panic!("{}: {err}", f.display()));
                }
            }
        }
    }
    println!("cel golden documents valid against their schemas: {n}");
    assert!(n >= 30);
}

/// Strings from input reach expressions only as escaped CEL literals that evaluate back to the
/// same string.
#[test]
fn cel_strings_round_trip() {
    for s in [
        "plain",
        "it's",
        "back\\slash",
        "new\nline\ttab",
        "\"dq\"",
        "ctl\u{1}x",
        "ünï",
    ] {
        let lit = cel::cel_string(s);
        let v = Program::compile(&lit)
            .unwrap_or_else(|e| panic!("{lit}: {e:?}"))
            .execute(&Context::default())
            .unwrap();
        assert_eq!(v, Value::String(Arc::new(s.to_string())), "{lit}");
    }
}

/// `--cel-api v1beta1` writes the MutatingAdmissionPolicy and its binding at
/// `admissionregistration.k8s.io/v1beta1` (Kubernetes 1.34–1.35), the validating policy stays at
/// `v1`; `--no-mutation` writes no mutating policy.
#[test]
fn mutating_policy_api_version_and_no_mutation() {
    let psp = r#"{"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy",
 "metadata": {"name": "defaults"},
 "spec": {"seLinux": {"rule": "RunAsAny"}, "runAsUser": {"rule": "MustRunAsNonRoot"},
   "supplementalGroups": {"rule": "RunAsAny"}, "fsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 9}]},
   "requiredDropCapabilities": ["ALL"], "volumes": ["*"]}}"#;
    let kinds = |args: &[&str]| -> Vec<(String, String)> {
        let mut argv = vec!["psp", "-"];
        argv.extend_from_slice(args);
        let (code, out, err) = common::run_polytrans(&argv, psp);
        assert_eq!(code, 0, "{err}");
        polytrans::load::yaml_documents(&out)
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["kind"].as_str().unwrap().to_string(),
                    d["apiVersion"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let v1 = "admissionregistration.k8s.io/v1".to_string();
    let beta = "admissionregistration.k8s.io/v1beta1".to_string();
    assert_eq!(
        kinds(&["--to", "vap", "--cel-api", "v1beta1"]),
        vec![
            ("ValidatingAdmissionPolicy".to_string(), v1.clone()),
            ("ValidatingAdmissionPolicyBinding".to_string(), v1.clone()),
            ("MutatingAdmissionPolicy".to_string(), beta.clone()),
            ("MutatingAdmissionPolicyBinding".to_string(), beta),
        ]
    );
    assert_eq!(
        kinds(&["--to", "vap"])[2],
        ("MutatingAdmissionPolicy".to_string(), v1.clone())
    );
    assert_eq!(kinds(&["--to", "vap", "--no-mutation"]).len(), 2);
    assert_eq!(
        kinds(&["--to", "kyverno-cel"]),
        vec![
            (
                "ValidatingPolicy".to_string(),
                "policies.kyverno.io/v1".to_string()
            ),
            (
                "MutatingPolicy".to_string(),
                "policies.kyverno.io/v1".to_string()
            ),
        ]
    );
    assert_eq!(kinds(&["--to", "kyverno-cel", "--no-mutation"]).len(), 1);
    // Both API versions validate against the structural schema.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("schemas/vap.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for api in ["v1", "v1beta1"] {
        let (_, out, _) =
            common::run_polytrans(&["psp", "-", "--to", "vap", "--cel-api", api], psp);
        for d in polytrans::load::yaml_documents(&out).unwrap() {
            let errors: Vec<String> = validator.iter_errors(&d).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{api}: {errors:?}");
        }
    }
}

/// An RBAC any-of group whose first PSP defaults: the mutating policy changes nothing when some
/// PSP of the group admits the pod as written (PSP chose that PSP and left the pod unchanged),
/// and applies the first PSP's defaulting otherwise; verdicts and defaulted pods are the
/// independent model's.
#[test]
fn any_of_group_defaults_like_psp() {
    use crate::engines::psp_admission as model;
    let input = r#"
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: a-defaults}
spec:
  allowPrivilegeEscalation: false
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: ['*']
---
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: b-host}
spec:
  hostNetwork: true
  runAsUser: {rule: RunAsAny}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: [configMap]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: psp-both}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use], resourceNames: [a-defaults, b-host]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: mixed, namespace: mixed}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: psp-both}
subjects: [{kind: Group, name: 'system:serviceaccounts:mixed', apiGroup: rbac.authorization.k8s.io}]
"#;
    let psps: Vec<model::Psp> = polytrans::load::yaml_documents(input)
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "PodSecurityPolicy")
        .map(model::Psp::from_value)
        .collect();
    for target in ["vap", "kyverno-cel"] {
        let (code, out, err) = common::run_polytrans(&["psp", "-", "--to", target], input);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("no-psp-admits-as-written"), "{out}");
        assert!(out.contains("rbac (defaulting): approximated"), "{out}");
        let output = cel_engine::Output::from_output(&out);
        let pod = |spec: serde_json::Value| {
            serde_json::json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": "mixed"}, "spec": spec})
        };
        for (case, p) in [
            (
                "b-host admits it as written: unchanged",
                pod(serde_json::json!({"containers": [{"name": "c", "image": "i"}]})),
            ),
            (
                "host network: b-host admits it as written",
                pod(
                    serde_json::json!({"hostNetwork": true, "containers": [{"name": "c", "image": "i"}]}),
                ),
            ),
            (
                "escalation, runAsUser 0 and an emptyDir: both reject",
                pod(
                    serde_json::json!({"volumes": [{"name": "v", "emptyDir": {}}],
                    "containers": [{"name": "c", "image": "i",
                    "securityContext": {"allowPrivilegeEscalation": true, "runAsUser": 0}}]}),
                ),
            ),
            (
                "an emptyDir: only a-defaults admits it, after its defaulting",
                pod(
                    serde_json::json!({"volumes": [{"name": "v", "emptyDir": {}}],
                    "containers": [{"name": "c", "image": "i"}]}),
                ),
            ),
        ] {
            let mut json = p.clone();
            model::api_server_defaults(&mut json);
            let want = model::admit(&psps, &json);
            let mutated = output.mutate(&json);
            assert_eq!(output.admits(&json), want.admitted(), "{target}: {case}");
            if let model::Verdict::Admitted { pod: m, .. } = &want {
                let mut m = m.clone();
                m["metadata"]["annotations"]
                    .as_object_mut()
                    .unwrap()
                    .remove("kubernetes.io/psp");
                if m["metadata"]["annotations"].as_object().unwrap().is_empty() {
                    m["metadata"].as_object_mut().unwrap().remove("annotations");
                }
                assert_eq!(mutated, m, "{target}: {case}");
            }
        }
    }
}

/// The CEL engine refuses what Kubernetes' type checker refuses and `cel-interpreter` would
/// read as a truth value: a non-`bool` operand of `!`, `&&`, `||` or a ternary condition is an
/// evaluation error, never a verdict (issue 17 §2.3).
#[test]
fn engine_refuses_non_bool_truth_values() {
    let pod =
        serde_json::json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}});
    let vars = [("s".to_string(), "'ALL'".to_string())];
    for bad in [
        "!'ALL' == 'ALL'",
        "object.spec.containers.all(a, !a.name == 'ALL')",
        "variables.s && true",
        "true || variables.s",
        "false || variables.s",
        "variables.s ? true : false",
        "object.spec.containers.exists(c, c.name)",
        "object.spec.containers.filter(c, c.name).size() == 0",
    ] {
        let c = Compiled::new(&[], &vars, &[("bad".into(), bad.into(), None)]);
        match c.try_run(&pod) {
            Err(_) => {}
            // `true || x` never evaluates `x`, as in Kubernetes (where the type checker refuses it).
            Ok(v) if bad == "true || variables.s" => assert!(v.is_empty()),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let good = "!(object.spec.containers[0].name == 'ALL') && (has(object.spec.x) ? false : true)";
    let c = Compiled::new(&[], &vars, &[("good".into(), good.into(), None)]);
    assert_eq!(c.try_run(&pod), Ok(vec![]));
}

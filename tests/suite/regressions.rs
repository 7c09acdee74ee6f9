//! Regression tests for the disagreements of issue 17 §2: each generated policy is run in the
//! test engine of its target (`tests/suite/engines/`) or through `polytrans check --psp`, and must give
//! PSP's verdict. The expected verdicts are written out here from PSP's admission code
//! (Kubernetes 1.24, `pkg/security/podsecuritypolicy`), not taken from `src/eval.rs`.

use crate::common;

use crate::engines::cel as cel_engine;
use crate::engines::gatekeeper as gatekeeper_engine;
use crate::engines::kyverno as kyverno_engine;

use serde_json::{Value, json};

/// A PSP with the four required strategies at `RunAsAny`, every volume type, and `extra` (YAML
/// lines under `spec`) and `annotations` (YAML lines under `metadata.annotations`).
fn psp(annotations: &str, extra: &str) -> String {
    let mut s = String::from(
        "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: regression\n",
    );
    if !annotations.is_empty() {
        s.push_str("  annotations:\n");
        for l in annotations.lines() {
            s.push_str(&format!("    {l}\n"));
        }
    }
    s.push_str("spec:\n  seLinux: {rule: RunAsAny}\n  supplementalGroups: {rule: RunAsAny}\n  fsGroup: {rule: RunAsAny}\n  volumes: ['*']\n");
    if !extra.contains("runAsUser:") {
        s.push_str("  runAsUser: {rule: RunAsAny}\n");
    }
    for l in extra.lines() {
        s.push_str(&format!("  {l}\n"));
    }
    s
}

/// `polytrans psp - ARGS…` on `input`: (exit code, stdout, stderr).
fn polytrans(args: &[&str], input: &str) -> (i32, String, String) {
    let mut argv = vec!["psp", "-"];
    argv.extend_from_slice(args);
    common::run_polytrans(&argv, input)
}

/// The output of `polytrans psp - --to TARGET`, which must succeed.
fn emit(target: &str, input: &str) -> String {
    // `target` may carry options: `vap --no-mutation`.
    let mut args = vec!["--to"];
    args.extend(target.split(' '));
    let (code, out, err) = polytrans(&args, input);
    assert_eq!(code, 0, "--to {target}: {err}\n{input}");
    out
}

/// A pod object: `spec` and pod annotations.
fn pod(annotations: Value, spec: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "annotations": annotations},
        "spec": spec,
    })
}

/// A judge: the target name and whether the target's policy admits a pod.
type Judge = (String, Box<dyn Fn(&Value) -> bool>);

fn judge(target: &str, input: &str) -> Option<Judge> {
    let text = if target == "check" {
        String::new()
    } else {
        emit(target, input)
    };
    let f: Box<dyn Fn(&Value) -> bool> = match target.split(' ').next().unwrap_or("") {
        "vap" | "kyverno-cel" => {
            let compiled = cel_engine::Output::from_output(&text);
            assert!(!compiled.is_empty(), "{target}: no policy\n{text}");
            Box::new(move |obj| compiled.admits(obj))
        }
        "kyverno" => {
            let policies = kyverno_engine::Policy::all_from_text(&text);
            assert!(!policies.is_empty(), "kyverno: no policy\n{text}");
            Box::new(move |obj| {
                kyverno_engine::admits(&policies, obj)
                    .unwrap_or_else(|e| panic!("kyverno evaluation error: {e}\n{text}"))
            })
        }
        "gatekeeper" => {
            let shared = common::shared()?;
            let lib = gatekeeper_engine::Library::from_shared(&shared);
            let output = gatekeeper_engine::Output::from_text(&text);
            Box::new(move |obj| output.admits(&lib, obj))
        }
        "check" => {
            let dir = std::env::temp_dir().join(format!(
                "polytrans-regressions-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let psp_path = dir.join("psp.yaml");
            std::fs::write(&psp_path, input).unwrap();
            Box::new(move |obj| {
                let pod_path = dir.join("pod.json");
                std::fs::write(&pod_path, obj.to_string()).unwrap();
                let (code, out, err) = common::run_polytrans(
                    &[
                        "check",
                        pod_path.to_str().unwrap(),
                        "--psp",
                        psp_path.to_str().unwrap(),
                    ],
                    "",
                );
                assert!(code == 0 || code == 1, "check: exit {code}: {err}{out}");
                code == 0
            })
        }
        other => panic!("no judge for {other}"),
    };
    Some((target.to_string(), f))
}

/// Runs every (name, pod, PSP verdict) case through every target; all must agree with PSP.
fn assert_verdicts(input: &str, targets: &[&str], cases: &[(&str, Value, bool)]) {
    let mut failures = Vec::new();
    let mut judged = 0;
    for target in targets {
        let Some((name, admits)) = judge(target, input) else {
            continue;
        };
        for (case, obj, want) in cases {
            judged += 1;
            let got = admits(obj);
            if got != *want {
                failures.push(format!(
                    "{name}: {case}: PSP admits={want}, got admits={got}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(judged > 0);
}

fn container(sc: Value) -> Value {
    if sc.is_null() {
        json!({"name": "app", "image": "nginx"})
    } else {
        json!({"name": "app", "image": "nginx", "securityContext": sc})
    }
}

/// Item 1: since Kubernetes 1.19 PSP treats `docker/default` and `runtime/default` as one
/// seccomp profile, and the field `RuntimeDefault` matches both annotation spellings.
#[test]
fn seccomp_docker_default_equals_runtime_default() {
    for allowed in ["docker/default", "runtime/default"] {
        let input = psp(
            &format!("seccomp.security.alpha.kubernetes.io/allowedProfileNames: {allowed}"),
            "",
        );
        let field = pod(
            json!({}),
            json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                   "containers": [container(Value::Null)]}),
        );
        let ann = |v: &str| {
            pod(
                json!({"seccomp.security.alpha.kubernetes.io/pod": v}),
                json!({"containers": [container(Value::Null)]}),
            )
        };
        let unconfined = pod(
            json!({}),
            json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}},
                   "containers": [container(Value::Null)]}),
        );
        // (A profile on the containers only is not enough: PSP also judged the pod's own
        // profile, which must be allowed when the list is not empty.)
        let cases = [
            ("pod field RuntimeDefault", field, true),
            ("annotation runtime/default", ann("runtime/default"), true),
            ("annotation docker/default", ann("docker/default"), true),
            ("pod field Unconfined", unconfined, false),
        ];
        assert_verdicts(
            &input,
            &["vap", "kyverno-cel", "kyverno", "gatekeeper", "check"],
            &cases,
        );
    }
    // With a `docker/default` default, a pod without a profile is defaulted and admitted (the
    // Kyverno and Gatekeeper mutations write `RuntimeDefault`, which must then pass).
    let input = psp(
        "seccomp.security.alpha.kubernetes.io/allowedProfileNames: docker/default\n\
         seccomp.security.alpha.kubernetes.io/defaultProfileName: docker/default",
        "",
    );
    let bare = pod(json!({}), json!({"containers": [container(Value::Null)]}));
    assert_verdicts(
        &input,
        &["kyverno", "gatekeeper", "check"],
        &[("no profile, defaulted", bare, true)],
    );
}

/// Item 2: PSP added `requiredDropCapabilities` to every container and then checked them; a
/// validating policy cannot add them, so it must require them.
#[test]
fn vap_checks_required_drop_capabilities() {
    let input = psp("", "requiredDropCapabilities: [ALL]");
    let drops = json!({"capabilities": {"drop": ["ALL"]}});
    let raw = pod(
        json!({}),
        json!({"initContainers": [{"name": "init", "image": "busybox"}],
               "containers": [container(drops.clone())]}),
    );
    // The same pod as PSP admission mutated it: the init container drops ALL too.
    let mutated = pod(
        json!({}),
        json!({"initContainers": [{"name": "init", "image": "busybox", "securityContext": drops}],
               "containers": [container(json!({"capabilities": {"drop": ["ALL"]}}))]}),
    );
    let lowercase = pod(
        json!({}),
        json!({"containers": [container(json!({"capabilities": {"drop": ["all"]}}))]}),
    );
    assert_verdicts(
        &input,
        &["vap --no-mutation", "kyverno-cel --no-mutation"],
        &[
            ("init container without the drop", raw.clone(), false),
            ("as PSP mutated it", mutated.clone(), true),
            ("`all` is not `ALL`", lowercase.clone(), false),
        ],
    );
    // Engines that mutate add the drop, as PSP did (the CEL outputs by their mutating policy).
    assert_verdicts(
        &input,
        &["kyverno", "gatekeeper", "check", "vap", "kyverno-cel"],
        &[
            ("init container without the drop", raw, true),
            ("as PSP mutated it", mutated, true),
        ],
    );
    // PSP added `ALL` beside `all`.
    assert_verdicts(
        &input,
        &["vap", "kyverno-cel"],
        &[("`all` is not `ALL`, ALL added", lowercase, true)],
    );
    let out = emit("vap", &input);
    assert!(
        out.contains("# spec.requiredDropCapabilities: adds ALL to capabilities.drop")
            && out.contains("every constraint is expressed exactly"),
        "{out}"
    );
    // Without the mutating policy, the fidelity header's claim is backed by a check.
    let out = emit("vap --no-mutation", &input);
    assert!(
        out.contains("capabilities.drop ALL; pods must now carry it themselves"),
        "{out}"
    );
    assert!(out.contains("every container must drop ALL"), "{out}");
}

/// Item 3: the API server refuses required drops next to `*` in `allowedCapabilities`.
#[test]
fn wildcard_caps_with_required_drop_refused() {
    let input = psp(
        "",
        "allowedCapabilities: ['*']\nrequiredDropCapabilities: [ALL]",
    );
    let (code, out, err) = polytrans(&["--to", "vap"], &input);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("`spec.requiredDropCapabilities` must be empty when `spec.allowedCapabilities` allows every capability with `*`"),
        "{err}"
    );
    assert!(err.contains("help: "), "{err}");
    assert!(out.is_empty());
    // `*` alone is fine.
    let (code, _, err) = polytrans(&["--to", "vap"], &psp("", "allowedCapabilities: ['*']"));
    assert_eq!(code, 0, "{err}");
}

/// Item 3: negations and compositions in CEL are parenthesised by construction: a set given as
/// "everything except" (`!(a == 'ALL')`, not `!a == 'ALL'`, which negates a string) type-checks
/// and judges as it reads, for every constraint that takes a name set.
#[test]
fn cel_negation_is_well_typed() {
    use polytrans::backend::cel;
    use polytrans::ir::{Constraint, NameSet, Policy, Provenance, Rule};
    let rule = |c: Constraint| Rule {
        constraint: c,
        provenance: Provenance {
            field: "test".into(),
            check: None,
            location: None,
        },
        unless: vec![],
    };
    let policy = Policy {
        name: "negations".into(),
        origin: polytrans::ir::Origin::Level {
            level: polytrans::ir::Level::Baseline,
            version: "v1.37".into(),
        },
        images: vec![],
        exempt_namespaces: vec![],
        exempt_images: vec![],
        rules: vec![
            rule(Constraint::AddCapabilities {
                allowed: NameSet::any_except(["ALL"]),
            }),
            rule(Constraint::Volumes {
                allowed: NameSet::any_except(["hostPath"]),
            }),
            rule(Constraint::ProcMount {
                allowed: NameSet::any_except(["Unmasked"]),
            }),
            rule(Constraint::Sysctls {
                allowed: NameSet::Any,
                forbidden: vec!["kernel.msgmax".into()],
            }),
            rule(Constraint::RuntimeClass {
                allowed: NameSet::any_except(["unsafe"]),
            }),
        ],
        defaults: vec![],
    };
    let validations = cel::validations(&policy);
    for v in &validations {
        assert!(
            !v.expression.contains("!a ==") && !v.expression.contains("!s.name =="),
            "{}",
            v.expression
        );
    }
    let compiled = cel_engine::Compiled::new(
        &[],
        &cel::variables(false)
            .iter()
            .map(|v| (v.name.clone(), v.expression.clone()))
            .collect::<Vec<_>>(),
        &validations
            .iter()
            .map(|v| (v.kind.clone(), v.expression.clone(), None))
            .collect::<Vec<_>>(),
    );
    let base = || {
        json!({"containers": [container(json!({"capabilities": {"add": ["NET_ADMIN"]}, "procMount": "Default"}))],
        "volumes": [{"name": "v", "emptyDir": {}}],
        "securityContext": {"sysctls": [{"name": "kernel.shm_rmid_forced", "value": "1"}]},
        "runtimeClassName": "gvisor"})
    };
    let with = |f: &dyn Fn(&mut Value)| {
        let mut s = base();
        f(&mut s);
        pod(json!({}), s)
    };
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("allowed values", with(&|_| {}), vec![]),
        (
            "adds ALL",
            with(&|s| {
                s["containers"][0]["securityContext"]["capabilities"]["add"] = json!(["ALL"])
            }),
            vec!["add-capabilities"],
        ),
        (
            "hostPath volume",
            with(&|s| s["volumes"][0] = json!({"name": "h", "hostPath": {"path": "/"}})),
            vec!["volumes"],
        ),
        (
            "Unmasked",
            with(&|s| s["containers"][0]["securityContext"]["procMount"] = json!("Unmasked")),
            vec!["proc-mount"],
        ),
        (
            "forbidden sysctl",
            with(&|s| s["securityContext"]["sysctls"][0]["name"] = json!("kernel.msgmax")),
            vec!["sysctls"],
        ),
        (
            "runtime class",
            with(&|s| s["runtimeClassName"] = json!("unsafe")),
            vec!["runtime-class"],
        ),
    ];
    for (name, obj, want) in cases {
        // `run` panics on an evaluation (type) error.
        let failed = compiled.run(&obj);
        assert_eq!(failed, want, "{name}");
    }
}

/// Item 5: PSP's `MustRunAsNonRoot` judges each container's effective values.
#[test]
fn kyverno_must_run_as_non_root_effective_values() {
    let input = psp("", "runAsUser: {rule: MustRunAsNonRoot}");
    let p = |psc: Value, sc: Value| {
        pod(
            json!({}),
            json!({"securityContext": psc, "containers": [container(sc)]}),
        )
    };
    let validated = [
        (
            "pod runAsNonRoot, container runAsUser 0",
            p(json!({"runAsNonRoot": true}), json!({"runAsUser": 0})),
            false,
        ),
        (
            "pod runAsUser 1000 only",
            p(json!({"runAsUser": 1000}), Value::Null),
            true,
        ),
        (
            "pod runAsNonRoot false",
            p(json!({"runAsNonRoot": false}), Value::Null),
            false,
        ),
        (
            "container runAsNonRoot true",
            p(json!({}), json!({"runAsNonRoot": true})),
            true,
        ),
        (
            "pod runAsUser 0, container runAsUser 1000",
            p(json!({"runAsUser": 0}), json!({"runAsUser": 1000})),
            true,
        ),
        (
            "pod runAsUser 0",
            p(json!({"runAsUser": 0}), Value::Null),
            false,
        ),
    ];
    assert_verdicts(
        &input,
        &["kyverno", "vap", "kyverno-cel", "gatekeeper", "check"],
        &validated,
    );
    // An explicit `runAsNonRoot: false` is rejected even with a non-zero `runAsUser`. The
    // gatekeeper-library template reads `runAsNonRoot` only when no `runAsUser` is in effect:
    // the Gatekeeper output uses polytrans's own template instead (issue 17 §3).
    let explicit_false = [(
        "container runAsNonRoot false, pod runAsUser 1000",
        p(json!({"runAsUser": 1000}), json!({"runAsNonRoot": false})),
        false,
    )];
    assert_verdicts(
        &input,
        &["kyverno", "vap", "kyverno-cel", "gatekeeper", "check"],
        &explicit_false,
    );
    assert!(emit("gatekeeper", &input).contains("kind: K8sPolytransPSPRunAsNonRoot"));
    // A pod with neither is defaulted to `runAsNonRoot: true` by PSP (and the mutating
    // engines); a validating policy requires pods to carry it.
    let bare = p(json!({}), Value::Null);
    assert_verdicts(
        &input,
        &["kyverno", "gatekeeper", "check", "vap", "kyverno-cel"],
        &[("neither set", bare.clone(), true)],
    );
    assert_verdicts(
        &input,
        &["vap --no-mutation", "kyverno-cel --no-mutation"],
        &[("neither set", bare, false)],
    );
}

/// Item 6: PSP defaults `runAsUser` only where neither the container nor the pod sets one; a
/// pod-level value outside the range is judged, not overridden.
#[test]
fn gatekeeper_run_as_user_pod_level_not_overridden() {
    let input = psp(
        "",
        "runAsUser: {rule: MustRunAs, ranges: [{min: 1000, max: 2000}]}",
    );
    let p = |psc: Value, sc: Value| {
        pod(
            json!({}),
            json!({"securityContext": psc, "containers": [container(sc)]}),
        )
    };
    let validated = [
        (
            "pod runAsUser 65534",
            p(json!({"runAsUser": 65534}), Value::Null),
            false,
        ),
        (
            "pod runAsUser 1500",
            p(json!({"runAsUser": 1500}), Value::Null),
            true,
        ),
        (
            "pod 1500, container 65534",
            p(json!({"runAsUser": 1500}), json!({"runAsUser": 65534})),
            false,
        ),
    ];
    assert_verdicts(
        &input,
        &["gatekeeper", "kyverno", "vap", "kyverno-cel", "check"],
        &validated,
    );
    // A pod-level value that every container overrides is not judged by PSP. Kyverno's pattern
    // judges every value written (its fidelity note says so).
    let overridden = [(
        "pod 65534, container 1500",
        p(json!({"runAsUser": 65534}), json!({"runAsUser": 1500})),
        true,
    )];
    assert_verdicts(
        &input,
        &["gatekeeper", "vap", "kyverno-cel", "check"],
        &overridden,
    );
    let bare = p(json!({}), Value::Null);
    assert_verdicts(
        &input,
        &["gatekeeper", "kyverno", "check"],
        &[("unset, defaulted", bare, true)],
    );
    // runAsGroup (pod-level Assign already) keeps a pod-level value too.
    let input = psp(
        "",
        "runAsGroup: {rule: MustRunAs, ranges: [{min: 1000, max: 2000}]}",
    );
    assert_verdicts(
        &input,
        &["gatekeeper", "check"],
        &[
            (
                "pod runAsGroup 65534",
                p(json!({"runAsGroup": 65534}), Value::Null),
                false,
            ),
            ("unset, defaulted", p(json!({}), Value::Null), true),
        ],
    );
}

/// Item 7: the API server does not validate host-port ranges; kops shipped `max: 65536`.
#[test]
fn kops_host_port_65536_accepted() {
    let input = psp("", "hostPorts: [{min: 1, max: 65536}]");
    let (code, _, err) = polytrans(&["--to", "ir"], &input);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: `spec.hostPorts[0]` (min 1, max 65536) reaches beyond 0-65535; read as 1-65535"), "{err}");
    let port = |p: i64| {
        pod(
            json!({}),
            json!({"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80, "hostPort": p}]}]}),
        )
    };
    assert_verdicts(
        &input,
        &["vap", "kyverno", "gatekeeper", "check"],
        &[
            ("host port 8080", port(8080), true),
            ("host port 65535", port(65535), true),
        ],
    );
}

/// Item 7: `kubectl` reads manifests as YAML 1.1, where `yes` and `on` are `true`.
#[test]
fn yaml11_booleans_read_as_kubectl() {
    let input = psp("", "privileged: yes\nhostNetwork: on");
    let (code, _, err) = polytrans(&["--to", "ir"], &input);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: `spec.privileged` is the YAML 1.1 boolean `yes`; read as `true`"),
        "{err}"
    );
    assert!(
        err.contains("warning: `spec.hostNetwork` is the YAML 1.1 boolean `on`; read as `true`"),
        "{err}"
    );
    let privileged = pod(
        json!({}),
        json!({"hostNetwork": true, "containers": [container(json!({"privileged": true}))]}),
    );
    assert_verdicts(
        &input,
        &["vap", "kyverno", "check"],
        &[("privileged on the host network", privileged, true)],
    );
    // `no` is `false`; a quoted `'yes'` is a string to kubectl too, which the API server refused.
    let (code, out, _) = polytrans(&["--to", "ir"], &psp("", "privileged: no"));
    assert_eq!(code, 0);
    assert!(out.contains("privileged"), "{out}");
    let (code, _, err) = polytrans(&["--to", "ir"], &psp("", "privileged: 'yes'"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`spec.privileged` must be a boolean, found the quoted string `yes`"),
        "{err}"
    );
    assert!(err.contains("help: "), "{err}");
}

/// Item 7: `*` next to other sysctls is refused by the API server, in either list.
#[test]
fn sysctl_wildcard_mixed_refused() {
    for field in ["allowedUnsafeSysctls", "forbiddenSysctls"] {
        let input = psp("", &format!("{field}: ['*', net.core.somaxconn]"));
        let (code, _, err) = polytrans(&["--to", "ir"], &input);
        assert_eq!(code, 2, "{field}: {err}");
        assert!(
            err.contains(&format!(
                "`spec.{field}` lists `*` together with other sysctls"
            )),
            "{err}"
        );
        let (code, _, err) = polytrans(&["--to", "ir"], &psp("", &format!("{field}: ['*']")));
        assert_eq!(code, 0, "{field}: {err}");
    }
}

/// Audit of the front end against `ValidatePodSecurityPolicySpec`, the accepting side:
/// `defaultAllowPrivilegeEscalation: true` without `allowPrivilegeEscalation` is valid, because
/// the v1beta1 defaults set `allowPrivilegeEscalation: true` before validation.
#[test]
fn default_escalation_true_without_allow_accepted() {
    let input = psp("", "defaultAllowPrivilegeEscalation: true");
    let (code, _, err) = polytrans(&["--to", "ir"], &input);
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = polytrans(
        &["--to", "ir"],
        &psp(
            "",
            "allowPrivilegeEscalation: false\ndefaultAllowPrivilegeEscalation: true",
        ),
    );
    assert_eq!(code, 2);
}

/// Regressions the per-backend differential (`differential.rs`) found, each judged by polytrans'
/// evaluator (`check --psp`) and by the independent PSP admission model.
mod found_by_differential {

    use crate::engines::psp_admission as model;
    use crate::psp_model::to_objects;
    use serde_json::{Value, json};

    fn psp(annotations: Value, spec: Value) -> Value {
        let mut s = json!({
            "runAsUser": {"rule": "RunAsAny"},
            "seLinux": {"rule": "RunAsAny"},
            "fsGroup": {"rule": "RunAsAny"},
            "supplementalGroups": {"rule": "RunAsAny"},
            "volumes": ["*"],
        });
        for (k, v) in spec.as_object().unwrap() {
            s[k] = v.clone();
        }
        json!({"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy",
               "metadata": {"name": "p", "annotations": annotations}, "spec": s})
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "x", "namespace": "default"}, "spec": spec})
    }

    /// (polytrans `check --psp` admits, the model admits).
    fn verdicts(psp: &Value, pod: &Value) -> (bool, bool) {
        let (policies, _) = polytrans::front::psp::lower_all(&to_objects(psp)).unwrap();
        let mut defaulted = pod.clone();
        model::api_server_defaults(&mut defaulted);
        let found = polytrans::pod::pod_of(&to_objects(&defaulted)[0])
            .unwrap()
            .unwrap();
        let eval = polytrans::eval::admits(&policies[0], &found.pod);
        let m = model::admit(&[model::Psp::from_value(psp)], &defaulted);
        (eval.is_empty(), m.admitted())
    }

    #[test]
    fn apparmor_empty_allowed_profile_names_requires_a_profile() {
        let p = psp(
            json!({"apparmor.security.beta.kubernetes.io/allowedProfileNames": ""}),
            json!({}),
        );
        let unset = pod(json!({"containers": [{"name": "c0", "image": "nginx"}]}));
        assert_eq!(verdicts(&p, &unset), (false, false));
    }

    #[test]
    fn secret_volumes_allow_the_projected_service_account_token() {
        let p = psp(json!({}), json!({"volumes": ["secret"]}));
        let token = pod(json!({
            "containers": [{"name": "c0", "image": "nginx"}],
            "volumes": [{"name": "kube-api-access", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}
            ]}}],
        }));
        assert_eq!(verdicts(&p, &token), (true, true));
        // Any other projection is a `projected` volume, which `secret` does not cover.
        let other = pod(json!({
            "containers": [{"name": "c0", "image": "nginx"}],
            "volumes": [{"name": "v", "projected": {"sources": [{"configMap": {"name": "app"}}]}}],
        }));
        assert_eq!(verdicts(&p, &other), (false, false));
    }

    #[test]
    fn selinux_level_categories_compare_in_any_order() {
        let p = psp(
            json!({}),
            json!({"seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"type": "container_t", "level": "s0:c2,c1"}}}),
        );
        let swapped = pod(json!({
            "securityContext": {"seLinuxOptions": {"type": "container_t", "level": "s0:c1,c2"}},
            "containers": [{"name": "c0", "image": "nginx"}],
        }));
        assert_eq!(verdicts(&p, &swapped), (true, true));
        let other = pod(json!({
            "securityContext": {"seLinuxOptions": {"type": "container_t", "level": "s1:c1,c2"}},
            "containers": [{"name": "c0", "image": "nginx"}],
        }));
        assert_eq!(verdicts(&p, &other), (false, false));
    }

    #[test]
    fn run_as_group_judges_each_containers_effective_value() {
        for rule in ["MayRunAs", "MustRunAs"] {
            let p = psp(
                json!({}),
                json!({"runAsGroup": {"rule": rule, "ranges": [{"min": 600, "max": 700}]}}),
            );
            // The pod-level value is overridden by every container: not judged.
            let overridden = pod(json!({
                "securityContext": {"runAsGroup": 5},
                "containers": [{"name": "c0", "image": "nginx", "securityContext": {"runAsGroup": 650}}],
            }));
            assert_eq!(verdicts(&p, &overridden), (true, true), "{rule}");
            // A container that inherits it is judged on it.
            let inherited = pod(json!({
                "securityContext": {"runAsGroup": 5},
                "containers": [
                    {"name": "c0", "image": "nginx", "securityContext": {"runAsGroup": 650}},
                    {"name": "c1", "image": "nginx"}
                ],
            }));
            assert_eq!(verdicts(&p, &inherited), (false, false), "{rule}");
        }
    }
}

/// Item 4: Kyverno's strategic-merge preprocessing decides a `+(field)` anchor in a list element
/// on the list's first element and applies that decision to every element
/// (`strategicPreprocessing.go`, `processListOfMaps`), whatever name the patch gives. The
/// defaults must not depend on container order: an explicit `true` on any container is judged,
/// an unset field on any container is defaulted.
#[test]
fn kyverno_foreach_defaults_do_not_depend_on_container_order() {
    let ape = psp(
        "",
        "defaultAllowPrivilegeEscalation: false\nallowPrivilegeEscalation: false",
    );
    let c = |name: &str, v: Value| {
        let mut c = json!({"name": name, "image": "nginx"});
        if !v.is_null() {
            c["securityContext"] = json!({"allowPrivilegeEscalation": v});
        }
        c
    };
    let p = |containers: Value| pod(json!({}), json!({"containers": containers}));
    let cases = [
        (
            "app unset, sidecar true",
            p(json!([c("app", Value::Null), c("sidecar", json!(true))])),
            false,
        ),
        (
            "sidecar true, app unset",
            p(json!([c("sidecar", json!(true)), c("app", Value::Null)])),
            false,
        ),
        (
            "app false, sidecar unset",
            p(json!([c("app", json!(false)), c("sidecar", Value::Null)])),
            true,
        ),
        (
            "app unset, sidecar unset",
            p(json!([c("app", Value::Null), c("sidecar", Value::Null)])),
            true,
        ),
    ];
    assert_verdicts(&ape, &["kyverno", "gatekeeper", "check"], &cases);
    // The same for `readOnlyRootFilesystem`.
    let ro = psp("", "readOnlyRootFilesystem: true");
    let c = |name: &str, v: Value| {
        let mut c = json!({"name": name, "image": "nginx"});
        if !v.is_null() {
            c["securityContext"] = json!({"readOnlyRootFilesystem": v});
        }
        c
    };
    let cases = [
        (
            "app unset, sidecar false",
            p(json!([c("app", Value::Null), c("sidecar", json!(false))])),
            false,
        ),
        (
            "app true, sidecar unset",
            p(json!([c("app", json!(true)), c("sidecar", Value::Null)])),
            true,
        ),
    ];
    assert_verdicts(&ro, &["kyverno", "gatekeeper", "check"], &cases);
}

/// Two containers `app` and `sidecar` with these security contexts (`null`: none).
fn two(app: Value, sidecar: Value) -> Value {
    let c = |name: &str, sc: Value| {
        let mut c = json!({"name": name, "image": "nginx"});
        if !sc.is_null() {
            c["securityContext"] = sc;
        }
        c
    };
    json!([c("app", app), c("sidecar", sidecar)])
}

/// Kyverno seccomp (differential, issue 17): PSP's seccomp strategy keeps the pod annotation
/// over the default (`Generate`), judges the pod's own profile (`ValidatePod`: set, once the
/// PSP lists allowed profiles) and each container's own profile (`ValidateContainer`).
#[test]
fn kyverno_seccomp_pod_annotation_and_pod_profile() {
    let input = psp(
        "seccomp.security.alpha.kubernetes.io/allowedProfileNames: localhost/prof.json,unconfined\nseccomp.security.alpha.kubernetes.io/defaultProfileName: runtime/default",
        "",
    );
    let ann = |v: &str| json!({"seccomp.security.alpha.kubernetes.io/pod": v});
    let cases = [
        (
            "pod annotation localhost/prof.json, default not applied",
            pod(
                ann("localhost/prof.json"),
                json!({"containers": [container(Value::Null)]}),
            ),
            true,
        ),
        (
            "no profile: defaulted to runtime/default, not allowed",
            pod(json!({}), json!({"containers": [container(Value::Null)]})),
            false,
        ),
        (
            "pod annotation unconfined, container field Localhost prof.json",
            pod(
                ann("unconfined"),
                json!({"containers": [container(json!({"seccompProfile": {"type": "Localhost", "localhostProfile": "prof.json"}}))]}),
            ),
            true,
        ),
        (
            "pod annotation unconfined, container annotation runtime/default",
            pod(
                json!({"seccomp.security.alpha.kubernetes.io/pod": "unconfined", "container.seccomp.security.alpha.kubernetes.io/app": "runtime/default"}),
                json!({"containers": [container(Value::Null)]}),
            ),
            false,
        ),
    ];
    assert_verdicts(&input, &["kyverno", "check"], &cases);
    // Without a default, the pod's own profile must be set even when every container sets one.
    let input = psp(
        "seccomp.security.alpha.kubernetes.io/allowedProfileNames: docker/default,localhost/prof.json",
        "",
    );
    let rd = json!({"seccompProfile": {"type": "RuntimeDefault"}});
    let cases = [
        (
            "container RuntimeDefault, no pod profile",
            pod(json!({}), json!({"containers": [container(rd.clone())]})),
            false,
        ),
        (
            "container RuntimeDefault, pod RuntimeDefault",
            pod(
                json!({}),
                json!({"securityContext": rd.clone(), "containers": [container(rd.clone())]}),
            ),
            true,
        ),
        (
            "pod annotation docker/default only",
            pod(
                ann("docker/default"),
                json!({"containers": [container(Value::Null)]}),
            ),
            true,
        ),
    ];
    assert_verdicts(&input, &["kyverno", "check"], &cases);
}

/// Kyverno AppArmor (differential, issue 17): each container's own annotation (by its name) is
/// judged; the default fills only the containers without one.
#[test]
fn kyverno_apparmor_per_container() {
    let with_default = psp(
        "apparmor.security.beta.kubernetes.io/allowedProfileNames: runtime/default\napparmor.security.beta.kubernetes.io/defaultProfileName: runtime/default",
        "",
    );
    let app = json!({"container.apparmor.security.beta.kubernetes.io/app": "runtime/default"});
    let cases = [
        (
            "app annotated, sidecar defaulted",
            pod(
                app.clone(),
                json!({"containers": two(Value::Null, Value::Null)}),
            ),
            true,
        ),
        (
            "sidecar unconfined",
            pod(
                json!({"container.apparmor.security.beta.kubernetes.io/sidecar": "unconfined"}),
                json!({"containers": two(Value::Null, Value::Null)}),
            ),
            false,
        ),
    ];
    assert_verdicts(&with_default, &["kyverno", "check"], &cases);
    let no_default = psp(
        "apparmor.security.beta.kubernetes.io/allowedProfileNames: runtime/default",
        "",
    );
    let both = json!({
        "container.apparmor.security.beta.kubernetes.io/app": "runtime/default",
        "container.apparmor.security.beta.kubernetes.io/sidecar": "runtime/default",
    });
    let cases = [
        (
            "app annotated, sidecar without a profile",
            pod(app, json!({"containers": two(Value::Null, Value::Null)})),
            false,
        ),
        (
            "both annotated",
            pod(both, json!({"containers": two(Value::Null, Value::Null)})),
            true,
        ),
    ];
    assert_verdicts(&no_default, &["kyverno", "check"], &cases);
}

/// Kyverno volumes (differential, issue 17): `secret` covers a projected volume made only of
/// the service-account token sources (`IsOnlyServiceAccountTokenSources`).
#[test]
fn kyverno_secret_covers_service_account_token_projection() {
    let input = psp("", "").replace("volumes: ['*']", "volumes: [secret]");
    let with = |projected: Value| {
        pod(
            json!({}),
            json!({"containers": [container(Value::Null)], "volumes": [{"name": "v", "projected": projected}]}),
        )
    };
    let token = json!({"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}});
    let ca = json!({"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}});
    let ns = json!({"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}});
    let cases = [
        ("no sources", with(json!({})), true),
        (
            "the injected token volume",
            with(json!({"sources": [token, ca, ns]})),
            true,
        ),
        (
            "a token with an audience",
            with(
                json!({"sources": [{"serviceAccountToken": {"path": "token", "audience": "vault"}}]}),
            ),
            false,
        ),
        (
            "another config map",
            with(json!({"sources": [{"configMap": {"name": "app-config"}}]})),
            false,
        ),
        (
            "a secret source",
            with(json!({"sources": [{"secret": {"name": "s"}}]})),
            false,
        ),
        (
            "the pod's labels through the downward API",
            with(
                json!({"sources": [{"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"}}]}}]}),
            ),
            false,
        ),
    ];
    assert_verdicts(&input, &["kyverno", "check"], &cases);
}

/// Kyverno runAsUser / runAsGroup `MustRunAs` / `MayRunAs` (differential, issue 17): each
/// container's effective value is judged; a pod-level value every container overrides is not.
#[test]
fn kyverno_run_as_ids_effective_values() {
    let input = psp(
        "",
        "runAsUser: {rule: MustRunAs, ranges: [{min: 800, max: 800}]}\nrunAsGroup: {rule: MayRunAs, ranges: [{min: 600, max: 750}]}",
    );
    let p = |psc: Value, app: Value, sidecar: Value| {
        pod(
            json!({}),
            json!({"securityContext": psc, "containers": two(app, sidecar)}),
        )
    };
    let cases = [
        (
            "pod 5, both containers 800",
            p(
                json!({"runAsUser": 5}),
                json!({"runAsUser": 800}),
                json!({"runAsUser": 800}),
            ),
            true,
        ),
        (
            "pod 5, one container inherits it",
            p(
                json!({"runAsUser": 5}),
                json!({"runAsUser": 800}),
                Value::Null,
            ),
            false,
        ),
        (
            "pod 800, a container 5",
            p(
                json!({"runAsUser": 800}),
                json!({"runAsUser": 5}),
                Value::Null,
            ),
            false,
        ),
        (
            "pod group 5, both containers 672",
            p(
                json!({"runAsGroup": 5}),
                json!({"runAsGroup": 672}),
                json!({"runAsGroup": 672}),
            ),
            true,
        ),
        (
            "no group anywhere (MayRunAs)",
            p(json!({"runAsUser": 800}), Value::Null, Value::Null),
            true,
        ),
        (
            "pod group 5, one container inherits it",
            p(
                json!({"runAsGroup": 5}),
                json!({"runAsGroup": 672}),
                Value::Null,
            ),
            false,
        ),
    ];
    assert_verdicts(&input, &["kyverno", "check"], &cases);
    // A range starting at 0.
    let input = psp(
        "",
        "runAsUser: {rule: MustRunAs, ranges: [{min: 0, max: 50}, {min: 1900, max: 1950}]}",
    );
    let cases = [
        (
            "pod 65534, containers inherit it",
            p(
                json!({"runAsUser": 65534}),
                json!({"privileged": false}),
                Value::Null,
            ),
            false,
        ),
        (
            "pod 65534, containers 0 and 1901",
            p(
                json!({"runAsUser": 65534}),
                json!({"runAsUser": 0}),
                json!({"runAsUser": 1901}),
            ),
            true,
        ),
    ];
    assert_verdicts(&input, &["kyverno", "check"], &cases);
}

/// Kyverno SELinux `MustRunAs` (differential, issue 17): each container's effective options
/// must equal the PSP's (an option the PSP sets must be set; levels compare with categories in
/// any order), and the pod's options are judged when set.
#[test]
fn kyverno_selinux_must_run_as_exact() {
    let input = psp(
        "",
        "seLinux: {rule: MustRunAs, seLinuxOptions: {user: system_u, type: container_t, level: 's0:c1,c2'}}",
    )
    .replace("  seLinux: {rule: RunAsAny}\n", "");
    let want = json!({"user": "system_u", "type": "container_t", "level": "s0:c1,c2"});
    let se = |o: Value| json!({"seLinuxOptions": o});
    let p = |psc: Value, app: Value| {
        pod(
            json!({}),
            json!({"securityContext": psc, "containers": [container(app)]}),
        )
    };
    let cases = [
        ("nothing set: defaulted", p(json!({}), Value::Null), true),
        ("container options {}", p(json!({}), se(json!({}))), false),
        (
            "container without the user",
            p(
                json!({}),
                se(json!({"type": "container_t", "level": "s0:c1,c2"})),
            ),
            false,
        ),
        (
            "categories in another order",
            p(
                json!({}),
                se(json!({"user": "system_u", "type": "container_t", "level": "s0:c2,c1"})),
            ),
            true,
        ),
        (
            "pod options without the level, container complete",
            p(
                se(json!({"user": "system_u", "type": "container_t"})),
                se(want.clone()),
            ),
            false,
        ),
        (
            "pod options complete",
            p(se(want.clone()), Value::Null),
            true,
        ),
    ];
    assert_verdicts(&input, &["kyverno", "check"], &cases);
}

/// Found by the differential (kubewarden, vap): a seccomp default without an allowed list. PSP
/// defaults the pod to the profile and then refuses it ("seccomp may not be set"), so the PSP
/// admits no pod; a backend that cannot default must not admit the pod that sets no profile.
#[test]
fn seccomp_default_without_allowed_list_admits_nothing() {
    let input = psp(
        "seccomp.security.alpha.kubernetes.io/defaultProfileName: docker/default",
        "",
    );
    let bare = pod(json!({}), json!({"containers": [container(Value::Null)]}));
    assert_verdicts(
        &input,
        &["vap", "kyverno-cel", "kyverno", "gatekeeper", "check"],
        &[(
            "no profile, defaulted to a profile PSP refuses",
            bare,
            false,
        )],
    );
    let (code, _, err) = polytrans(&["--to", "ir"], &input);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("every pod (defaulted to `docker/default`) is rejected"),
        "{err}"
    );
}

/// Found by the differential (vap, kyverno-cel, kubewarden's cel-policy): `volumes: [secret]`
/// admits the projected service-account token volume (PSP's `IsOnlyServiceAccountTokenSources`,
/// a projected volume with no sources included), in the CEL outputs as in `check --psp`.
#[test]
fn cel_secret_covers_service_account_token_projection() {
    let input = psp("", "volumes: [secret]").replace("  volumes: ['*']\n", "");
    let with = |v: Value| {
        pod(
            json!({}),
            json!({"containers": [container(Value::Null)], "volumes": [v]}),
        )
    };
    let token = with(json!({"name": "kube-api-access", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}));
    let empty = with(json!({"name": "p", "projected": {}}));
    let other_cm = with(json!({"name": "p", "projected": {"sources": [
        {"configMap": {"name": "app-config"}}]}}));
    let audience = with(json!({"name": "p", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token", "audience": "vault"}}]}}));
    assert_verdicts(
        &input,
        &["vap", "kyverno-cel", "check"],
        &[
            ("service-account token projection", token, true),
            ("projected volume without sources", empty, true),
            (
                "projected config map other than kube-root-ca.crt",
                other_cm,
                false,
            ),
            ("token with an audience", audience, false),
        ],
    );
}

/// Found by the differential (vap, kyverno-cel, kubewarden's cel-policy): SELinux levels compare
/// as PSP's `equalLevels` (categories as a set) in the CEL outputs too.
#[test]
fn cel_selinux_level_categories_in_any_order() {
    let input = psp(
        "",
        "seLinux: {rule: MustRunAs, seLinuxOptions: {type: container_t, level: 's0:c1,c2'}}",
    )
    .replace("  seLinux: {rule: RunAsAny}\n", "");
    let with = |level: &str| {
        pod(
            json!({}),
            json!({"securityContext": {"seLinuxOptions": {"type": "container_t", "level": level}},
                   "containers": [container(Value::Null)]}),
        )
    };
    assert_verdicts(
        &input,
        &["vap", "kyverno-cel", "check"],
        &[
            ("categories as written", with("s0:c1,c2"), true),
            ("categories in the other order", with("s0:c2,c1"), true),
            ("another category", with("s0:c1,c3"), false),
            ("another sensitivity", with("s1:c1,c2"), false),
        ],
    );
}

/// Item 3: CEL is a typed tree: `!` over a string literal is a type error the tree's check
/// reports (`Expr::try_not` refuses to build it; `Expr::not` panics in debug builds), and the
/// negation the old string builder got wrong renders as `!(a == 'ALL')`.
#[test]
fn cel_tree_refuses_not_over_a_string() {
    use polytrans::backend::cel_expr::tree::{ident, str_lit};
    use polytrans::backend::cel_expr::{Expr, Ty};
    let bad = Expr::Not(Box::new(str_lit("ALL"))).eq(str_lit("ALL"));
    let err = bad.check().unwrap_err();
    assert!(err.message.contains("`!` needs a bool"), "{err}");
    // The issue's expression: `!a` is a bool, compared with a string.
    let issue = ident("add").all("a", Expr::Not(Box::new(ident("a"))).eq(str_lit("ALL")));
    let err = issue.check().unwrap_err();
    assert!(err.message.contains("no overload Bool == String"), "{err}");
    assert!(str_lit("ALL").try_not().is_err());
    let good = ident("add").all("a", ident("a").eq(str_lit("ALL")).not());
    assert_eq!(good.to_string(), "add.all(a, !(a == 'ALL'))");
    assert_eq!(good.check(), Ok(Ty::Bool));
}

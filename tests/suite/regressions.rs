//! Named regression tests for bugs the differential (`differential.rs`) found, each judged by
//! polytrans' evaluator (`check --psp`) and by the independent PSP admission model.

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

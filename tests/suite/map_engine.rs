//! Calibration of the test-only MutatingAdmissionPolicy applier (`engines/map.rs`) on the
//! examples of the Kubernetes documentation and the apply-configuration cases of the API
//! server's own tests, each cited by URL.

use crate::engines::map::{self, Mutation, PatchType};
use serde_json::{Value, json};

const DOC: &str =
    "https://kubernetes.io/docs/reference/access-authn-authz/mutating-admission-policy/";
const SMD_TEST: &str = "https://github.com/kubernetes/kubernetes/blob/master/staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/mutating/patch/smd_test.go";

struct Case {
    source: &'static str,
    name: &'static str,
    patch_type: PatchType,
    expression: &'static str,
    object: Value,
    /// The object after the mutation, or the start of the error.
    expected: Result<Value, &'static str>,
}

fn cases() -> Vec<Case> {
    use PatchType::*;
    let deployment =
        |spec: Value| json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": spec});
    vec![
        Case {
            source: DOC,
            name: "ApplyConfiguration: add the mesh-proxy init container (applyconfiguration-example.yaml)",
            patch_type: ApplyConfiguration,
            expression: r#"Object{
                spec: Object.spec{
                  initContainers: [
                    Object.spec.initContainers{
                      name: "mesh-proxy",
                      image: "mesh/proxy:v1.0.0",
                      args: ["proxy", "sidecar"],
                      restartPolicy: "Always"
                    }
                  ]
                }
              }"#,
            object: json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "myapp", "namespace": "default"},
                "spec": {"initContainers": [{"name": "myapp-initializer", "image": "example/initializer:v1.0.0"}]}}),
            // The page shows mesh-proxy first; structured merge appends new keys after the
            // existing ones (smd_test.go "apply configuration add to listType=map"), which is
            // what the API server does; the page's listing is abridged (`...`).
            expected: Ok(
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "myapp", "namespace": "default"},
                "spec": {"initContainers": [
                    {"name": "myapp-initializer", "image": "example/initializer:v1.0.0"},
                    {"name": "mesh-proxy", "image": "mesh/proxy:v1.0.0", "args": ["proxy", "sidecar"], "restartPolicy": "Always"}]}}),
            ),
        },
        Case {
            source: DOC,
            name: "JSONPatch: append the mesh-proxy init container (json-patch-example.yaml)",
            patch_type: JsonPatch,
            expression: r#"[
                JSONPatch{
                  op: "add", path: "/spec/initContainers/-",
                  value: Object.spec.initContainers{
                    name: "mesh-proxy",
                    image: "mesh-proxy/v1.0.0",
                    restartPolicy: "Always"
                  }
                }
              ]"#,
            object: json!({"kind": "Pod", "spec": {"initContainers": [{"name": "myapp-initializer"}]}}),
            expected: Ok(json!({"kind": "Pod", "spec": {"initContainers": [
                {"name": "myapp-initializer"},
                {"name": "mesh-proxy", "image": "mesh-proxy/v1.0.0", "restartPolicy": "Always"}]}})),
        },
        Case {
            source: DOC,
            name: "JSONPatch: test then replace",
            patch_type: JsonPatch,
            expression: r#"[
                JSONPatch{op: "test", path: "/spec/example", value: "Red"},
                JSONPatch{op: "replace", path: "/spec/example", value: "Green"}
              ]"#,
            object: json!({"spec": {"example": "Red"}}),
            expected: Ok(json!({"spec": {"example": "Green"}})),
        },
        Case {
            source: DOC,
            name: "JSONPatch: a failed test refuses the patch",
            patch_type: JsonPatch,
            expression: r#"[
                JSONPatch{op: "test", path: "/spec/example", value: "Red"},
                JSONPatch{op: "replace", path: "/spec/example", value: "Green"}
              ]"#,
            object: json!({"spec": {"example": "Blue"}}),
            expected: Err("test operation"),
        },
        Case {
            source: DOC,
            name: "JSONPatch: an Object value",
            patch_type: JsonPatch,
            expression: r#"[
                JSONPatch{
                  op: "add",
                  path: "/spec/selector",
                  value: Object.spec.selector{matchLabels: {"environment": "test"}}
                }
              ]"#,
            object: deployment(json!({})),
            expected: Ok(deployment(
                json!({"selector": {"matchLabels": {"environment": "test"}}}),
            )),
        },
        Case {
            source: DOC,
            name: "JSONPatch: jsonpatch.escapeKey",
            patch_type: JsonPatch,
            expression: r#"[
                JSONPatch{
                  op: "add",
                  path: "/metadata/labels/" + jsonpatch.escapeKey("example.com/environment"),
                  value: "test"
                },
              ]"#,
            object: json!({"metadata": {"labels": {}}}),
            expected: Ok(json!({"metadata": {"labels": {"example.com/environment": "test"}}})),
        },
        Case {
            source: SMD_TEST,
            name: "apply configuration add to listType=map",
            patch_type: ApplyConfiguration,
            expression: r#"Object{spec: Object.spec{template: Object.spec.template{spec: Object.spec.template.spec{
                volumes: [Object.spec.template.spec.volumes{name: "y"}]}}}}"#,
            object: deployment(json!({"template": {"spec": {"volumes": [{"name": "x"}]}}})),
            expected: Ok(deployment(
                json!({"template": {"spec": {"volumes": [{"name": "x"}, {"name": "y"}]}}}),
            )),
        },
        Case {
            source: SMD_TEST,
            name: "apply configuration update listType=map entry",
            patch_type: ApplyConfiguration,
            expression: r#"Object{spec: Object.spec{template: Object.spec.template{spec: Object.spec.template.spec{
                volumes: [Object.spec.template.spec.volumes{name: "y",
                  hostPath: Object.spec.template.spec.volumes.hostPath{path: "a"}}]}}}}"#,
            object: deployment(
                json!({"template": {"spec": {"volumes": [{"name": "x"}, {"name": "y"}]}}}),
            ),
            expected: Ok(deployment(
                json!({"template": {"spec": {"volumes": [{"name": "x"}, {"name": "y", "hostPath": {"path": "a"}}]}}}),
            )),
        },
        Case {
            source: SMD_TEST,
            name: "apply configuration with conditionals",
            patch_type: ApplyConfiguration,
            expression: "Object{spec: Object.spec{replicas: object.spec.replicas % 2 == 0?object.spec.replicas + 1:object.spec.replicas}}",
            object: deployment(json!({"replicas": 2})),
            expected: Ok(deployment(json!({"replicas": 3}))),
        },
        Case {
            source: SMD_TEST,
            name: "complex apply configuration initialization",
            patch_type: ApplyConfiguration,
            expression: r#"Object{spec: Object.spec{replicas: 1, template: Object.spec.template{
                metadata: Object.spec.template.metadata{labels: {"app": "nginx"}},
                spec: Object.spec.template.spec{containers: [Object.spec.template.spec.containers{
                  name: "nginx", image: "nginx:1.14.2",
                  ports: [Object.spec.template.spec.containers.ports{containerPort: 80}],
                  resources: Object.spec.template.spec.containers.resources{limits: {"cpu": "128M"},}}]}}}}"#,
            object: deployment(json!({})),
            expected: Ok(deployment(
                json!({"replicas": 1, "template": {"metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2", "ports": [{"containerPort": 80}],
                  "resources": {"limits": {"cpu": "128M"}}}]}}}),
            )),
        },
        Case {
            source: SMD_TEST,
            name: "apply configuration with change to atomic",
            patch_type: ApplyConfiguration,
            expression: r#"Object{spec: Object.spec{selector: Object.spec.selector{matchLabels: {"l": "v"}}}}"#,
            object: deployment(json!({"replicas": 1})),
            expected: Err(
                "invalid ApplyConfiguration: may not mutate atomic arrays, maps or structs: .spec.selector",
            ),
        },
        Case {
            source: SMD_TEST,
            name: "apply configuration with invalid type name",
            patch_type: ApplyConfiguration,
            expression: "Object{spec: Object.specx{replicas: 1}}",
            object: deployment(json!({"replicas": 1})),
            expected: Err(
                "type mismatch: unexpected type name \"Object.specx\", expected \"Object.spec\"",
            ),
        },
        Case {
            source: SMD_TEST,
            name: "apply configuration with invalid return type",
            patch_type: ApplyConfiguration,
            expression: r#""I'm a teapot!""#,
            object: deployment(json!({"replicas": 1})),
            expected: Err("must evaluate to Object but got"),
        },
        Case {
            source: SMD_TEST,
            name: "apply configuration with invalid initializer return type",
            patch_type: ApplyConfiguration,
            expression: "Object.spec.metadata{}",
            object: deployment(json!({"replicas": 1})),
            expected: Err("must evaluate to Object but got Object.spec.metadata"),
        },
        Case {
            source: SMD_TEST,
            name: "apply configuration modify existing env variable",
            patch_type: ApplyConfiguration,
            expression: r#"Object{spec: Object.spec{template: Object.spec.template{spec: Object.spec.template.spec{
                containers: [Object.spec.template.spec.containers{name: "nginx",
                  env: [Object.spec.template.spec.containers.env{name: "test", value: "c"}]}]}}}}"#,
            object: deployment(
                json!({"replicas": 1, "template": {"spec": {"containers": [{"name": "nginx",
                "env": [{"name": "test", "value": "a"}, {"name": "foo", "value": "bar"}]}]}}}),
            ),
            expected: Ok(deployment(
                json!({"replicas": 1, "template": {"spec": {"containers": [{"name": "nginx",
                "env": [{"name": "test", "value": "c"}, {"name": "foo", "value": "bar"}]}]}}}),
            )),
        },
    ]
}

#[test]
fn calibration_on_kubernetes_examples() {
    let cases = cases();
    let mut ok = 0;
    let mut failures = Vec::new();
    for c in &cases {
        let got = Mutation::new(c.patch_type, c.expression).and_then(|m| {
            let mut o = c.object.clone();
            m.apply(&mut o).map(|_| o)
        });
        let pass = match (&got, &c.expected) {
            (Ok(g), Ok(e)) => g == e,
            (Err(g), Err(e)) => g.contains(e),
            _ => false,
        };
        if pass {
            ok += 1;
        } else {
            failures.push(format!(
                "{} ({}): got {got:?}, expected {:?}",
                c.name, c.source, c.expected
            ));
        }
    }
    println!(
        "map engine calibration: {ok}/{} (Kubernetes docs and smd_test.go)",
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The documentation's sidecar policy, whole: its match condition skips a pod that already has
/// the sidecar.
#[test]
fn doc_policy_with_match_condition() {
    let text = r#"
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata:
  name: "sidecar-policy.example.com"
spec:
  matchConstraints:
    resourceRules:
    - apiGroups:   [""]
      apiVersions: ["v1"]
      operations:  ["CREATE"]
      resources:   ["pods"]
  matchConditions:
    - name: does-not-already-have-sidecar
      expression: "!object.spec.initContainers.exists(ic, ic.name == \"mesh-proxy\")"
  failurePolicy: Fail
  reinvocationPolicy: IfNeeded
  mutations:
    - patchType: "JSONPatch"
      jsonPatch:
        expression: >
          [
            JSONPatch{
              op: "add", path: "/spec/initContainers/-",
              value: Object.spec.initContainers{
                name: "mesh-proxy",
                image: "mesh-proxy/v1.0.0",
                restartPolicy: "Always"
              }
            }
          ]
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: "sidecar-binding-test.example.com"
spec:
  policyName: "sidecar-policy.example.com"
"#;
    let policies = map::Policy::all_from_text(text);
    assert_eq!(policies.len(), 1);
    let pod = json!({"kind": "Pod", "spec": {"initContainers": [{"name": "a"}]}});
    let once = map::mutate_all(&policies, &pod).unwrap();
    assert_eq!(once["spec"]["initContainers"].as_array().unwrap().len(), 2);
    let twice = map::mutate_all(&policies, &once).unwrap();
    assert_eq!(
        twice, once,
        "{DOC}: the match condition skips a pod with the sidecar"
    );
}

//! Hostile strings from input (quotes, backslashes, newlines, `)`, `,`, `${{ }}`, `{{ }}`, YAML
//! document markers) never change the structure or meaning of what polytrans writes.

use crate::common;

const HOSTILE: &[&str] = &[
    "a\"b",
    "back\\slash",
    "new\nline",
    "close)paren, comma",
    "${{ secrets.TOKEN }}",
    "{{ template }}",
    "---\nkind: Evil",
    "'; rm -rf / #",
    "$(touch /tmp/pwned)",
];

fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    common::run_polytrans(args, stdin)
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A PSP carrying a hostile value everywhere a string can go.
fn psp(h: &str) -> String {
    let q = json_str(h);
    format!(
        r#"{{"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy",
 "metadata": {{"name": "hostile", "annotations": {{"falco-rules-psp-images": {q},
   "seccomp.security.alpha.kubernetes.io/allowedProfileNames": {lq}}}}},
 "spec": {{"seLinux": {{"rule": "MustRunAs", "seLinuxOptions": {{"type": {q}, "level": {q}}}}},
   "runAsUser": {{"rule": "RunAsAny"}}, "supplementalGroups": {{"rule": "RunAsAny"}},
   "fsGroup": {{"rule": "RunAsAny"}}, "volumes": ["hostPath", "flexVolume", "csi"],
   "allowedHostPaths": [{{"pathPrefix": {pq}}}],
   "allowedFlexVolumes": [{{"driver": {q}}}], "allowedCSIDrivers": [{{"name": "csi.example.com"}}],
   "runtimeClass": {{"allowedRuntimeClassNames": ["gvisor"]}}}}}}"#,
        lq = json_str(&format!("localhost/{h}")),
        pq = json_str(&format!("/{h}")),
    )
}

#[test]
fn ir_output_round_trips_hostile_strings() {
    for h in HOSTILE {
        let (code, out, err) = run(&["psp", "-", "--to", "ir", "--format", "yaml"], &psp(h));
        if h.contains(',') {
            // A comma separates profiles in the annotation: rejected, with the reason.
            assert_eq!(code, 2);
            assert!(err.contains("invalid seccomp profile"), "{err}");
            continue;
        }
        assert_eq!(code, 0, "{h:?}: {err}");
        let docs = polytrans::load::yaml_documents(&out).unwrap();
        assert_eq!(
            docs.len(),
            1,
            "{h:?}: one document, whatever the input:\n{out}"
        );
        let doc: polytrans::ir::IrDocument = serde_json::from_value(docs[0].clone()).unwrap();
        let p = &doc.policies[0];
        let text = serde_json::to_string(p).unwrap();
        // The hostile value survives exactly where it was written.
        assert!(
            text.contains(&json_str(h)[1..json_str(h).len() - 1]),
            "{h:?}"
        );
        assert_eq!(p.images, polytrans::front::psp::parse_image_list(h));
    }
}

#[test]
fn labels_outputs_are_quoted() {
    for h in HOSTILE {
        let ns = format!(
            "{{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {{\"name\": {}}}}}",
            json_str(h)
        );
        let input = format!(
            "{}\n---\n{ns}\n",
            "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: p}\nspec: {seLinux: {rule: RunAsAny}, runAsUser: {rule: RunAsAny}, supplementalGroups: {rule: RunAsAny}, fsGroup: {rule: RunAsAny}}"
        );
        let (code, yaml, err) = run(&["psp", "-", "--to", "pss-labels"], &input);
        assert_eq!(code, 0, "{err}");
        let docs = polytrans::load::yaml_documents(&yaml).unwrap();
        assert_eq!(docs.len(), 1, "{h:?}:\n{yaml}");
        assert_eq!(docs[0]["metadata"]["name"], *h);
        let (_, sh, _) = run(
            &["psp", "-", "--to", "pss-labels", "--format", "kubectl"],
            &input,
        );
        // The shell sees the namespace name as one word, unchanged.
        let line = sh
            .lines()
            .find(|l| l.starts_with("kubectl"))
            .unwrap_or_else(|| {
                // a newline in the name spans lines: take from `kubectl` to the end
                sh.split_once("kubectl").map(|(_, r)| r).unwrap()
            });
        let _ = line;
        let script = sh.replace("kubectl label --overwrite ns", "printf '%s\\0'");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        let words: Vec<&str> = std::str::from_utf8(&out.stdout)
            .unwrap()
            .split('\0')
            .collect();
        assert_eq!(words[0], *h, "{script}");
        assert!(!std::path::Path::new("/tmp/pwned").exists());
    }
}

#[test]
fn diagnostics_do_not_break_lines() {
    // A hostile PSP name is rejected (not a valid object name); the message escapes it.
    let input = "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: \"x\\n--> fake.yaml:1:1\"}\nspec: {}\n";
    let (code, _, err) = run(&["psp", "-", "--to", "ir"], input);
    assert_eq!(code, 2);
    assert!(
        err.contains("`x\\n--> fake.yaml:1:1` is not a valid object name"),
        "{err}"
    );
}

use crate::engines::cel as cel_engine;

/// CEL string literals carry hostile values as data: the output compiles, keeps its document
/// count, and the values allow exactly themselves (a flex driver, a host path and SELinux
/// options named by the hostile string are admitted; others are not). CSI driver and
/// RuntimeClass names must be DNS names, so the front end refuses hostile ones (as the API
/// server did); they are plain names here.
#[test]
fn cel_outputs_keep_hostile_strings_as_data() {
    for h in HOSTILE {
        if h.contains(',') {
            continue; // rejected by the front end (seccomp annotation), see above
        }
        for (target, kinds) in [
            (
                "vap",
                &[
                    "ValidatingAdmissionPolicy",
                    "ValidatingAdmissionPolicyBinding",
                    "MutatingAdmissionPolicy",
                    "MutatingAdmissionPolicyBinding",
                ][..],
            ),
            ("kyverno-cel", &["ValidatingPolicy", "MutatingPolicy"][..]),
        ] {
            let (code, out, err) = run(&["psp", "-", "--to", target], &psp(h));
            assert_eq!(code, 0, "{h:?} {target}: {err}");
            let docs = polytrans::load::yaml_documents(&out).unwrap();
            let got: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
            assert_eq!(got, kinds, "{h:?} {target}:\n{out}");
            let compiled = cel_engine::Output::from_output(&out);
            // The mutating policy sets the hostile SELinux options as data.
            let bare = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "image": "i"}]}});
            let defaulted = compiled.mutate(&bare);
            assert_eq!(
                defaulted["spec"]["securityContext"]["seLinuxOptions"],
                serde_json::json!({"type": h, "level": h}),
                "{h:?} {target}"
            );
            let pod = |runtime: &str, driver: &str, path: &str| {
                serde_json::json!({
                    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                    "spec": {
                        "runtimeClassName": runtime,
                        "securityContext": {
                            "seLinuxOptions": {"type": h, "level": h},
                            "seccompProfile": {"type": "Localhost", "localhostProfile": h},
                        },
                        "containers": [{"name": "c", "image": "x"}],
                        "volumes": [
                            {"name": "f", "flexVolume": {"driver": driver}},
                            {"name": "h", "hostPath": {"path": path}},
                        ],
                    }
                })
            };
            let same = pod("gvisor", h, &format!("/{h}"));
            assert_eq!(
                compiled.run(&same),
                Vec::<String>::new(),
                "{h:?} {target}: the hostile values allow themselves"
            );
            for other in [
                pod("other", h, &format!("/{h}")),
                pod("gvisor", "other", &format!("/{h}")),
                pod("gvisor", h, "/other"),
            ] {
                assert!(
                    !compiled.admits(&other),
                    "{h:?} {target}: other values stay forbidden"
                );
            }
        }
    }
}

/// Every string value of a JSON document.
fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings(x, out)
        }),
        _ => {}
    }
}

/// Kyverno substitutes `{{ … }}` variables and `$( … )` references anywhere in a rule: strings
/// from the input (PSP names, images, paths, drivers, sysctl patterns, namespaces, exception
/// values) reach the output escaped (`\{{`, `\$(`), the output is one schema-valid ClusterPolicy
/// per policy.
#[test]
fn kyverno_output_escapes_variables() {
    let shared = std::env::var_os("POLYTRANS_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let schema_path =
        shared.join("conformance/kyverno-schemas/clusterpolicy.v1.strict.schema.json");
    let validator = std::fs::read_to_string(&schema_path).ok().map(|t| {
        jsonschema::validator_for(&serde_json::from_str(&t).unwrap()).expect("schema compiles")
    });
    let mut checked = 0;
    for h in HOSTILE {
        let named = psp(h).replacen(
            "\"name\": \"hostile\"",
            &format!("\"name\": {}", json_str(h)),
            1,
        );
        let mut runs: Vec<(Vec<&str>, String)> = Vec::new();
        if !h.contains(',') {
            for style in ["rules", "pod-security", "auto"] {
                runs.push((
                    vec![
                        "psp",
                        "-",
                        "--lenient",
                        "--to",
                        "kyverno",
                        "--kyverno-style",
                        style,
                    ],
                    named.clone(),
                ));
            }
        }
        let images = format!("--images={h}");
        let namespaces = format!("--namespaces={h}");
        let except = format!("--except=sysctls={h}");
        if !h.contains(',') {
            runs.push((
                vec![
                    "pss",
                    "baseline",
                    &images,
                    &namespaces,
                    &except,
                    "--to",
                    "kyverno",
                ],
                String::new(),
            ));
        }
        for (args, stdin) in runs {
            let (code, out, err) = run(&args, &stdin);
            assert_eq!(code, 0, "{h:?} {args:?}: {err}");
            let docs: Vec<serde_json::Value> = polytrans::load::yaml_documents(&out)
                .unwrap()
                .into_iter()
                .filter(|d| !d.is_null())
                .collect();
            assert_eq!(docs.len(), 1, "{h:?} {args:?}: one policy:\n{out}");
            assert_eq!(docs[0]["kind"], "ClusterPolicy");
            if let Some(v) = &validator {
                let errors: Vec<String> = v.iter_errors(&docs[0]).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{h:?} {args:?}: {errors:?}\n{out}");
            }
            let mut all = Vec::new();
            strings(&docs[0], &mut all);
            for s in all {
                let bare = s.replace("\\{{", "").replace("\\$(", "");
                assert!(
                    !bare.contains("$("),
                    "{h:?} {args:?}: unescaped `$(` in {s:?}"
                );
                if bare.contains("{{") {
                    for marker in ["template", "secrets", "touch"] {
                        assert!(
                            !bare.contains(marker),
                            "{h:?} {args:?}: input inside a variable in {s:?}"
                        );
                    }
                }
            }
            checked += 1;
        }
    }
    println!("kyverno injection: {checked} outputs checked");
    assert!(checked >= 30);
}

use crate::engines::falco as falco_engine;

/// Falco string literals carry hostile values as data: the rules file keeps one YAML document,
/// every condition parses with the grammar checker, and the evaluator reads each hostile value
/// as one literal (an image named `a") or (1=1` scopes the rules to that image only; a flex
/// driver and a host path named by the hostile string allow exactly themselves).
#[test]
fn falco_outputs_keep_hostile_strings_as_data() {
    let mut hostile: Vec<&str> = HOSTILE.to_vec();
    hostile.extend([
        "a\") or (1=1",
        "x' or '1'='1",
        "tab\there",
        "(",
        ")",
        "\\\"",
        "{{ x }}",
    ]);
    for h in hostile {
        if h.contains(',') {
            continue; // rejected by the front end (seccomp annotation), see above
        }
        let (code, out, err) = run(&["psp", "-", "--to", "falco"], &psp(h));
        assert_eq!(code, 0, "{h:?}: {err}");
        let docs = polytrans::load::yaml_documents(&out).unwrap();
        assert_eq!(docs.len(), 1, "{h:?}: one document:\n{out}");
        let rules = falco_engine::RulesFile::from_text(&out)
            .unwrap_or_else(|e| panic!("{h:?}: {e}\n{out}"));
        let images = polytrans::front::psp::parse_image_list(h);
        let pod = |image: &str, driver: &str, path: &str| {
            falco_engine::audit_event(&serde_json::json!({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {
                    "containers": [{"name": "c", "image": image}],
                    "volumes": [
                        {"name": "f", "flexVolume": {"driver": driver}},
                        {"name": "h", "hostPath": {"path": path}},
                    ],
                }
            }))
        };
        let fired = |ev: &serde_json::Value| -> Vec<String> {
            rules.fired(ev).into_iter().map(String::from).collect()
        };
        // An image outside the annotation: nothing fires, whatever the pod does.
        assert_eq!(
            fired(&pod("other", "other", "/other")),
            Vec::<String>::new(),
            "{h:?}: the image scope must not match everything:\n{out}"
        );
        // The annotated image's repository (the plugin drops `:tag` and `@digest`).
        let Some(image) = images.first() else {
            continue;
        };
        if image.contains([':', '@']) {
            continue;
        }
        let same = fired(&pod(image, h, &format!("/{h}")));
        assert!(
            !same
                .iter()
                .any(|r| r.contains("allowedFlexVolumes") || r.contains("allowedHostPaths")),
            "{h:?}: the hostile driver and path allow themselves: {same:?}\n{out}"
        );
        let other = fired(&pod(image, "other", "/other"));
        assert!(
            other.iter().any(|r| r.contains("allowedFlexVolumes"))
                && other.iter().any(|r| r.contains("allowedHostPaths")),
            "{h:?}: other values stay forbidden: {other:?}\n{out}"
        );
        // The json plugin's checks compare the hostile SELinux type and level and the seccomp
        // profile `localhost/<h>` as one literal each.
        let labelled = |value: &str| {
            falco_engine::audit_event(&serde_json::json!({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {
                    "securityContext": {
                        "seLinuxOptions": {"type": value, "level": value},
                        "seccompProfile": {"type": "Localhost", "localhostProfile": value},
                    },
                    "containers": [{"name": "c", "image": image}],
                }
            }))
        };
        let same = fired(&labelled(h));
        assert!(
            !same
                .iter()
                .any(|r| r.contains("(seLinux)") || r.contains("(seccomp)")),
            "{h:?}: the hostile SELinux options and profile allow themselves: {same:?}\n{out}"
        );
        let other = fired(&labelled("other"));
        assert!(
            other.iter().any(|r| r.contains("(seLinux)"))
                && other.iter().any(|r| r.contains("(seccomp)")),
            "{h:?}: other SELinux options and profiles stay forbidden: {other:?}\n{out}"
        );
    }
}

//! Gatekeeper backend, measured with a real Rego engine (regorus, Rego v0 mode, see
//! `tests/suite/engines/gatekeeper.rs`; mutators applied before validation, as Gatekeeper does):
//! 1. the upstream gator suites of gatekeeper-library's pod-security-policy templates;
//! 2. the constraints and mutators generated for each psp-migration per-field case;
//! 3. differential: generated output vs the IR evaluator on the PSA testdata pods, for the
//!    Kubernetes example PSPs and every golden PSP; mismatches must be explained by a fidelity
//!    entry;
//! 4. RBAC-derived namespace scoping;
//! 5. hostile strings reach the output only as data.
//!
//! Debugging aids (environment): `GK_SHOW=<text>` prints unexplained differential mismatches
//! containing the text, `GK_WHY=<field>` the mismatches a field explains.

use crate::common;

use crate::engines::gatekeeper as gatekeeper_engine;

use gatekeeper_engine::{Library, Output, load_template, matches, review_of, yaml_one};
use polytrans::backend::gatekeeper::Options as GatekeeperArgs;
use polytrans::backend::{Common, Emitted, Fidelity, Input};
use polytrans::eval::admits;
use polytrans::ir::Policy;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Runs the backend on policies and input objects.
fn emit(
    policies: &[Policy],
    objects: &[polytrans::load::Object],
    args: &GatekeeperArgs,
) -> Emitted {
    let common = Common::default();
    let scope = polytrans::pipeline::scope_of(policies, objects);
    let input = Input {
        policies,
        scope: &scope,
        common: &common,
        sink: None,
    };
    polytrans::backend::gatekeeper::emit(&input, args).unwrap_or_else(|e| panic!("{e:?}"))
}

fn output_of(policies: &[Policy], args: &GatekeeperArgs) -> Output {
    Output::from_text(&emit(policies, &[], args).stdout)
}

/// Known difference between regorus and OPA on the upstream suites, by case, with the reason
/// (the fixture's SOURCE.md, "Evaluating the Rego", documents it; the domain notes warn of it).
const KNOWN_SUITE_FAILURES: &[(&str, &str)] = &[(
    "users/users-and-groups-together/example-allowed",
    "K8sPSPAllowedUsers runs `not accept_value(rule, value, params.ranges)` with \
     `runAsGroup: {rule: RunAsAny}`, which has no `ranges`: OPA evaluates the undefined \
     reference before the call, so the body fails and there is no violation; regorus makes the \
     call undefined and lets `not` succeed (repro: `h if { p := {}; not f(p.missing) }`). Not \
     fixable in the harness without rewriting upstream Rego; polytrans never emits a \
     `RunAsAny` group rule, so its output never reaches this corner",
)];

#[test]
fn upstream_suites() {
    let Some(shared) = common::shared() else {
        return;
    };
    let lib = shared.join("conformance/gatekeeper-library/pod-security-policy");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&lib)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("suite.yaml").is_file())
        .collect();
    dirs.sort();
    let (mut pass, mut total) = (0, 0);
    let mut failures = Vec::new();
    for dir in &dirs {
        let folder = dir.file_name().unwrap().to_str().unwrap();
        let suite = yaml_one(&dir.join("suite.yaml"));
        for test in suite["tests"].as_array().unwrap() {
            let tmpl = load_template(&dir.join(test["template"].as_str().unwrap()));
            let constraint = yaml_one(&dir.join(test["constraint"].as_str().unwrap()));
            let params = match &constraint["spec"]["parameters"] {
                Value::Null => json!({}),
                p => p.clone(),
            };
            for case in test["cases"].as_array().unwrap() {
                total += 1;
                let id = format!(
                    "{folder}/{}/{}",
                    test["name"].as_str().unwrap(),
                    case["name"].as_str().unwrap()
                );
                let obj = yaml_one(&dir.join(case["object"].as_str().unwrap()));
                let review = review_of(&obj);
                let got = if matches(&constraint["spec"]["match"], &review) {
                    tmpl.violations(&review, &params)
                } else {
                    Vec::new()
                };
                let ok = case["assertions"].as_array().unwrap().iter().all(|a| {
                    // `message` is a Go regexp; the suites' messages are literal text.
                    let n = match a["message"].as_str() {
                        Some(m) => got.iter().filter(|g| g.contains(m)).count(),
                        None => got.len(),
                    };
                    match &a["violations"] {
                        Value::Null | Value::Bool(true) => n > 0,
                        Value::Bool(false) => n == 0,
                        Value::String(s) if s == "yes" => n > 0,
                        Value::String(s) if s == "no" => n == 0,
                        Value::Number(x) => n as u64 == x.as_u64().unwrap(),
                        other => panic!("{id}: bad assertion {other}"),
                    }
                });
                if ok {
                    pass += 1;
                } else {
                    failures.push((id, got));
                }
            }
        }
    }
    println!("gatekeeper suites (regorus): {pass}/{total}");
    for (id, got) in &failures {
        let why = KNOWN_SUITE_FAILURES
            .iter()
            .find(|(k, _)| k == id)
            .map_or("UNEXPECTED", |(_, r)| r);
        println!("  failed: {id}: {got:?}\n    known: {why}");
    }
    let unexpected: Vec<_> = failures
        .iter()
        .filter(|(id, _)| !KNOWN_SUITE_FAILURES.iter().any(|(k, _)| k == id))
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected failures: {unexpected:#?}"
    );
    assert!(
        total >= 140,
        "the library has 140 suite cases, found {total}"
    );
    assert!(pass >= 139, "ratchet: 139 of 140 suite cases pass");
}

/// psp-migration cases the generated output cannot decide as PSP did, with the reason.
const KNOWN_MIGRATION_FAILURES: &[(&str, &str)] = &[];

#[test]
fn psp_migration_cases() {
    let Some(shared) = common::shared() else {
        return;
    };
    let lib = Library::from_shared(&shared);
    let root = shared.join("conformance/psp-migration/tests");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let (mut agree, mut total) = (0, 0);
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let objs = polytrans::load::load_paths(&[dir.join("psp.yaml")], &Default::default())
            .unwrap_or_else(|d| panic!("{d}"));
        let (policies, _) =
            polytrans::front::psp::lower_all(&objs).unwrap_or_else(|d| panic!("{name}: {d}"));
        let out = output_of(&policies, &GatekeeperArgs::default());
        for (file, expect_admit) in [("allowed.yaml", true), ("disallowed.yaml", false)] {
            total += 1;
            let pod = yaml_one(&dir.join(file));
            let v = out.violations(&lib, &pod);
            if v.is_empty() == expect_admit {
                agree += 1;
            } else {
                failures.push(format!("{name}/{file}: {v:?}"));
            }
        }
    }
    common::assert_ratchet(
        "gatekeeper psp-migration cases (constraints + mutators)",
        (agree, total),
        &failures,
        KNOWN_MIGRATION_FAILURES.iter().map(|(k, _)| *k),
        48,
    );
}

/// A policy without the rules and defaults of one field.
fn without_field(p: &Policy, field: &str) -> Policy {
    let mut q = p.clone();
    q.rules.retain(|r| r.provenance.field != field);
    q.defaults.retain(|d| d.provenance.field != field);
    q
}

#[test]
fn psa_pods_against_psps() {
    let Some(shared) = common::shared() else {
        return;
    };
    let lib = Library::from_shared(&shared);
    let (mut policies, examples) = common::example_and_golden_policies(&shared);
    // The same PSP appears in several golden cases: judge each distinct one once.
    let mut seen = BTreeSet::new();
    policies.retain(|p| seen.insert(serde_json::to_string(p).unwrap()));
    // PSA testdata pods after API defaulting; many fixtures repeat across versions.
    let pods = psa_pods(&shared);
    let (mut agree, mut total) = (0, 0);
    let mut by_field: BTreeMap<String, usize> = BTreeMap::new();
    let mut unexplained = Vec::new();
    let mut unexplained_groups: BTreeMap<String, usize> = BTreeMap::new();
    for policy in &policies {
        let emitted = emit(
            std::slice::from_ref(policy),
            &[],
            &GatekeeperArgs::default(),
        );
        let out = Output::from_text(&emitted.stdout);
        let lossy: BTreeSet<String> = emitted
            .fidelity
            .iter()
            .filter(|e| e.fidelity != Fidelity::Exact)
            .map(|e| e.field.clone())
            .collect();
        let mut single: BTreeMap<String, (Policy, Output)> = BTreeMap::new();
        for (path, pod, obj) in &pods {
            total += 1;
            let want = admits(policy, pod).is_empty();
            let got = out.violations(&lib, obj);
            if got.is_empty() == want {
                agree += 1;
                continue;
            }
            // Explained by a field the fidelity report lists when the policy without that
            // field agrees with its translation on this pod; failing that, by the listed
            // fields together when the policy without all of them agrees.
            let mut why = Vec::new();
            for f in &lossy {
                let (rp, ro) = single.entry(f.clone()).or_insert_with(|| {
                    let rp = without_field(policy, f);
                    let ro = output_of(std::slice::from_ref(&rp), &GatekeeperArgs::default());
                    (rp, ro)
                });
                if admits(rp, pod).is_empty() == ro.admits(&lib, obj) {
                    why.push(f.clone());
                }
            }
            if why.is_empty() && !lossy.is_empty() {
                let (rp, ro) = single.entry("*".into()).or_insert_with(|| {
                    let mut rp = policy.clone();
                    for f in &lossy {
                        rp = without_field(&rp, f);
                    }
                    let ro = output_of(std::slice::from_ref(&rp), &GatekeeperArgs::default());
                    (rp, ro)
                });
                if admits(rp, pod).is_empty() == ro.admits(&lib, obj) {
                    why.push(format!(
                        "together: {}",
                        lossy.iter().cloned().collect::<Vec<_>>().join(" + ")
                    ));
                }
            }
            if std::env::var("GK_WHY").is_ok_and(|w| why.iter().any(|f| f.contains(&w))) {
                println!(
                    "  why {why:?}: {} {path}: ir {}, gatekeeper {got:?}",
                    policy.name,
                    polytrans::eval::join_messages(&admits(policy, pod))
                );
            }
            if why.is_empty() {
                let irf: BTreeSet<String> = admits(policy, pod)
                    .iter()
                    .map(|v| v.field.clone())
                    .collect();
                let gkk: BTreeSet<String> = got
                    .iter()
                    .map(|g| g.split('/').next().unwrap().to_string())
                    .collect();
                *unexplained_groups
                    .entry(format!("ir {irf:?} / gatekeeper {gkk:?}"))
                    .or_insert(0usize) += 1;
                unexplained.push(format!(
                    "{} {path}: ir {}, gatekeeper {got:?}",
                    policy.name,
                    if want {
                        "admits".to_string()
                    } else {
                        polytrans::eval::join_messages(&admits(policy, pod))
                    }
                ));
            } else {
                for f in why {
                    *by_field.entry(f).or_default() += 1;
                }
            }
        }
    }
    let explained = total - agree - unexplained.len();
    println!(
        "gatekeeper vs ir evaluator, {} distinct PSA testdata pods x {} PSPs ({examples} examples, {} golden): \
         agree {agree}/{total}, mismatches explained by fidelity entries {explained}, unexplained {}",
        pods.len(),
        policies.len(),
        policies.len() - examples,
        unexplained.len()
    );
    for (f, n) in &by_field {
        println!("  explained by {f}: {n} (a mismatch may count for several fields)");
    }
    for (g, n) in &unexplained_groups {
        println!("  unexplained group: {g}: {n}");
    }
    for u in unexplained
        .iter()
        .filter(|u| std::env::var("GK_SHOW").is_ok_and(|s| u.contains(&s)))
        .take(6)
    {
        println!("  unexplained: {u}");
    }
    assert!(unexplained.is_empty(), "{} unexplained", unexplained.len());
    assert!(agree >= 10892, "ratchet: 10892 of 11400 reached");
}

/// The distinct PSA testdata pods (after API defaulting), as typed pods and JSON objects.
fn psa_pods(shared: &std::path::Path) -> Vec<(String, polytrans::pod::Pod, Value)> {
    let mut pods: BTreeMap<String, (String, polytrans::pod::Pod, Value)> = BTreeMap::new();
    for c in common::psa_cases(shared) {
        let pod = common::load_pod(&c.path).pod;
        let mut obj = serde_json::to_value(&pod).unwrap();
        obj["apiVersion"] = "v1".into();
        obj["kind"] = "Pod".into();
        let obj = gatekeeper_engine::strip_nulls(&obj);
        pods.entry(obj.to_string())
            .or_insert_with(|| (c.path.display().to_string(), pod, obj));
    }
    pods.into_values().collect()
}

/// RBAC scoping (`golden/gatekeeper-rbac`): `restricted` for every service account,
/// `privileged` (which admits everything `restricted` does) for kube-system's. In kube-system
/// only `privileged`'s constraints may apply, elsewhere only `restricted`'s: the scoped output
/// must judge every pod as the single PSP's output does, and PSP's union semantics agree.
#[test]
fn rbac_scoping() {
    let Some(shared) = common::shared() else {
        return;
    };
    let lib = Library::from_shared(&shared);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/gatekeeper-rbac");
    let objects = polytrans::load::load_paths(
        &[dir.join("psp.yaml"), dir.join("rbac.input.yaml")],
        &Default::default(),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    let (policies, _) = polytrans::front::psp::lower_all(&objects).unwrap();
    let by_name: BTreeMap<&str, &Policy> = policies.iter().map(|p| (p.name.as_str(), p)).collect();
    let emitted = emit(&policies, &objects, &GatekeeperArgs::default());
    assert!(
        emitted.stdout.contains(
            "polytrans.dev/scope: 'rbac: applies in namespace kube-system; granted by RoleBinding/kube-system/kube-system:privileged"
        ),
        "{}",
        emitted.stdout
    );
    let scoped = Output::from_text(&emitted.stdout);
    let scope = polytrans::pipeline::scope_of(&policies, &objects);
    let (mut same, mut union_agree, mut total) = (0, 0, 0);
    let pods = psa_pods(&shared);
    let mut failures = Vec::new();
    for (ns, decides) in [
        ("kube-system", "privileged"),
        ("default", "restricted"),
        ("web", "restricted"),
    ] {
        let single = output_of(&[by_name[decides].clone()], &GatekeeperArgs::default());
        let usable = scope.group_of(ns);
        for (path, pod, obj) in &pods {
            total += 1;
            let mut obj = obj.clone();
            obj["metadata"]["namespace"] = ns.into();
            let got = scoped.admits(&lib, &obj);
            if got == single.admits(&lib, &obj) {
                same += 1;
            } else {
                failures.push(format!("{ns} {path}"));
            }
            let want = usable
                .psps
                .keys()
                .any(|p| admits(by_name[p.as_str()], pod).is_empty());
            union_agree += usize::from(want == got);
        }
    }
    println!(
        "gatekeeper rbac scoping: scoped output = deciding PSP's output {same}/{total}; agrees with PSP's union of usable PSPs {union_agree}/{total} (the rest hinge on restricted's fidelity entries, measured in psa_pods_against_psps)"
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(union_agree >= 1136, "ratchet: 1136 of 1140 reached");

    // `--gatekeeper-namespaces` overrides the RBAC-derived list.
    let args = GatekeeperArgs {
        namespaces: vec!["only-here".into()],
        ..Default::default()
    };
    let o = Output::from_text(&emit(&policies, &objects, &args).stdout);
    for d in o.constraints.iter().chain(&o.mutators) {
        assert_eq!(
            d["spec"]["match"]["namespaces"],
            json!(["only-here"]),
            "{d}"
        );
    }
    // A PSP nobody may use gets no constraints, and the header says why.
    let cel_rbac = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/cel-rbac");
    let objects = polytrans::load::load_paths(
        &[cel_rbac.join("psp.yaml"), cel_rbac.join("rbac.input.yaml")],
        &Default::default(),
    )
    .unwrap();
    let (policies, _) = polytrans::front::psp::lower_all(&objects).unwrap();
    let text = emit(&policies, &objects, &GatekeeperArgs::default()).stdout;
    assert!(
        text.contains("# `unused`: no constraints (no RBAC binding"),
        "{text}"
    );
    assert!(!text.contains("name: unused-"), "{text}");
}

const HOSTILE: &[&str] = &[
    "a\"b",
    "back\\slash",
    "new\nline",
    "close)paren, comma",
    "${{ secrets.TOKEN }}",
    "{{ template }}",
    "---\nkind: Evil",
    "'; rm -rf / #",
];

/// A PSP with a hostile name, host path prefix and unsafe sysctl.
/// The documents the template laid out hold exactly the view's values: every constraint's kind,
/// name and parameters, every mutator's kind, name, location and value, in order (hostile
/// strings read back unchanged).
fn same_documents(out: &Output, view: &polytrans::backend::gatekeeper::PolicyView, what: &str) {
    assert_eq!(out.constraints.len(), view.constraints.len(), "{what}");
    for (doc, c) in out.constraints.iter().zip(&view.constraints) {
        assert_eq!(doc["kind"], json!(c.kind), "{what}");
        assert_eq!(doc["metadata"]["name"], json!(c.name), "{what}");
        let params = doc["spec"].get("parameters").cloned();
        let expected = (!c.parameters.is_empty()).then(|| Value::Object(c.parameters.clone()));
        assert_eq!(params, expected, "{what}");
        assert_eq!(
            doc["metadata"].get("annotations").is_some(),
            view.scope.is_some(),
            "{what}"
        );
    }
    assert_eq!(out.mutators.len(), view.mutators.len(), "{what}");
    for (doc, m) in out.mutators.iter().zip(&view.mutators) {
        assert_eq!(doc["kind"], json!(m.kind), "{what}");
        assert_eq!(doc["metadata"]["name"], json!(m.name), "{what}");
        assert_eq!(doc["spec"]["location"], json!(m.location), "{what}");
        match &m.value {
            Some(v) => assert_eq!(&doc["spec"]["parameters"]["assign"]["value"], v, "{what}"),
            None => assert_eq!(
                doc["spec"]["parameters"]["values"]["fromList"],
                json!(m.values),
                "{what}"
            ),
        }
    }
}

fn hostile_psp(name: &str, path: &str, sysctl: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap();
    format!(
        r#"{{"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy",
 "metadata": {{"name": {}}},
 "spec": {{"seLinux": {{"rule": "RunAsAny"}}, "runAsUser": {{"rule": "RunAsAny"}},
   "supplementalGroups": {{"rule": "RunAsAny"}}, "fsGroup": {{"rule": "RunAsAny"}},
   "volumes": ["hostPath"], "allowedHostPaths": [{{"pathPrefix": {}}}],
   "allowedUnsafeSysctls": [{}]}}}}"#,
        q(name),
        q(path),
        q(sysctl)
    )
}

/// Hostile strings in PSP names, allowedHostPaths, sysctls and exempt images reach the output
/// only as data: the YAML re-parses into the same documents, the parameters hold the exact
/// strings, and regorus judges pods by them.
#[test]
fn hostile_strings_are_data() {
    let Some(shared) = common::shared() else {
        return;
    };
    let lib = Library::from_shared(&shared);
    let (mut checked, mut rejected) = (0, 0);
    let (mut accepted_parts, mut rejected_parts) = (Vec::<String>::new(), Vec::<String>::new());
    for (i, h) in HOSTILE.iter().enumerate() {
        let path = format!("/{h}");
        // Names and sysctl patterns are validated by the front end: each on its own either
        // loads or is rejected with a diagnostic.
        for (name, sysctl, what) in [
            (*h, "net.ipv4.tcp_keepalive_time", "name"),
            ("plain", *h, "sysctl"),
        ] {
            let file = std::env::temp_dir().join(format!(
                "polytrans-gatekeeper-hostile-{}-{i}-{what}.json",
                std::process::id()
            ));
            std::fs::write(&file, hostile_psp(name, &path, sysctl)).unwrap();
            let objects =
                polytrans::load::load_paths(std::slice::from_ref(&file), &Default::default())
                    .unwrap_or_else(|d| panic!("{d}"));
            std::fs::remove_file(&file).ok();
            match polytrans::front::psp::lower_all(&objects) {
                Ok((p, _)) => {
                    let text = emit(&p, &[], &GatekeeperArgs::default()).stdout;
                    let out = Output::from_text(&text);
                    let direct =
                        polytrans::backend::gatekeeper::translate(&p[0], &Default::default());
                    same_documents(&out, &direct.view, &format!("{what} {h:?}"));
                    accepted_parts.push(format!("{what} {h:?}"));
                }
                Err(d) => {
                    let msg = d.to_string();
                    assert!(msg.contains("error"), "{what} {h:?}: {msg}");
                    rejected_parts.push(format!("{what} {h:?}"));
                }
            }
        }
        let text = hostile_psp(h, &path, h);
        let file = std::env::temp_dir().join(format!(
            "polytrans-gatekeeper-hostile-{}-{i}.json",
            std::process::id()
        ));
        std::fs::write(&file, &text).unwrap();
        let loaded = polytrans::load::load_paths(std::slice::from_ref(&file), &Default::default());
        std::fs::remove_file(&file).ok();
        let objects = loaded.unwrap_or_else(|d| panic!("{d}"));
        let policies = match polytrans::front::psp::lower_all(&objects) {
            Ok((p, _)) => p,
            Err(d) => {
                // Rejected input is fine, as long as it is a diagnostic (no panic).
                assert!(!d.to_string().is_empty());
                rejected += 1;
                // The same PSP with a plain name and sysctl still carries the hostile path.
                let text = hostile_psp("plain", &path, "net.ipv4.tcp_keepalive_time");
                std::fs::write(&file, &text).unwrap();
                let objects =
                    polytrans::load::load_paths(std::slice::from_ref(&file), &Default::default())
                        .unwrap();
                std::fs::remove_file(&file).ok();
                polytrans::front::psp::lower_all(&objects)
                    .unwrap_or_else(|d| panic!("{h:?}: {d}"))
                    .0
            }
        };
        let args = GatekeeperArgs {
            exempt_images: vec![h.to_string()],
            ..Default::default()
        };
        let emitted = emit(&policies, &[], &args);
        let out = Output::from_text(&emitted.stdout);
        // Same documents as the backend built: nothing added, nothing split.
        let direct = polytrans::backend::gatekeeper::translate(&policies[0], &args);
        same_documents(&out, &direct.view, &format!("{h:?}"));
        // Header comments hold no raw newline from input.
        for line in emitted.stdout.lines().take_while(|l| !l.starts_with("---")) {
            assert!(line.starts_with('#') || line.is_empty(), "{h:?}: {line}");
        }
        let fs = out
            .constraints
            .iter()
            .find(|c| c["kind"] == "K8sPSPHostFilesystem")
            .unwrap();
        assert_eq!(
            fs["spec"]["parameters"]["allowedHostPaths"][0]["pathPrefix"],
            json!(path)
        );
        // Meaning: the hostile path is allowed, another is not.
        let pod = |p: &str| {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "image": "nginx",
                    "volumeMounts": [{"name": "v", "mountPath": "/m"}]}],
                  "volumes": [{"name": "v", "hostPath": {"path": p}}]}})
        };
        assert!(
            out.admits(&lib, &pod(&path)),
            "{h:?}: {:?}",
            out.violations(&lib, &pod(&path))
        );
        assert!(!out.admits(&lib, &pod("/elsewhere")), "{h:?}");
        let sys = out
            .constraints
            .iter()
            .find(|c| c["kind"] == "K8sPSPForbiddenSysctls")
            .unwrap();
        if policies[0].name == *h {
            assert!(
                sys["spec"]["parameters"]["allowedSysctls"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(h)),
                "{h:?}"
            );
        }
        // Exempt images are data too: a privileged container running the hostile image is
        // exempt, the same container with another image is not.
        let priv_pod = |img: &str| {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "image": img,
                    "securityContext": {"privileged": true}}]}})
        };
        assert!(out.admits(&lib, &priv_pod(h)), "{h:?}");
        assert!(!out.admits(&lib, &priv_pod("nginx")), "{h:?}");
        checked += 1;
    }
    println!(
        "gatekeeper hostile strings: {checked}/{} checked as data ({rejected} PSPs rejected by the front end, their path checked in a plain PSP)",
        HOSTILE.len()
    );
    println!(
        "  names/sysctls accepted as data: {}; rejected with a diagnostic: {}",
        accepted_parts.len(),
        rejected_parts.len()
    );
    assert_eq!(checked, HOSTILE.len());
}

/// polytrans's own ConstraintTemplates (issue #17 §3), each with a gator-format suite under
/// `tests/gatekeeper-own/<file>/` (`suite.yaml`, `template.yaml`, `samples/<test>/…`, laid out
/// as the gatekeeper-library's): the committed `template.yaml` is the rendered template
/// (`BLESS=1` rewrites it), every constraint's parameters validate against the template's
/// `openAPIV3Schema`, and every case holds on the Rego v1 (regorus) and on the CEL
/// (cel-interpreter) alike.
#[test]
fn own_template_suites() {
    use polytrans::backend::gatekeeper::{OWN_TEMPLATES, own_template};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gatekeeper-own");
    let bless = std::env::var("BLESS").is_ok_and(|v| v == "1");
    let env = polytrans::render::environment(None);
    let mut folders: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut expected: Vec<String> = OWN_TEMPLATES.iter().map(|(_, f)| f.to_string()).collect();
    expected.sort();
    assert_eq!(folders, expected, "one suite folder per own template");
    let (mut total, mut rego_ok, mut cel_ok) = (0, 0, 0);
    let mut failures = Vec::new();
    for (kind, file) in OWN_TEMPLATES {
        let dir = root.join(file);
        let text = own_template(&env, kind).unwrap();
        let path = dir.join("template.yaml");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if bless && committed != text {
            std::fs::write(&path, &text).unwrap();
        } else {
            assert_eq!(
                committed,
                text,
                "{} is not the rendered template (BLESS=1 rewrites it)",
                path.display()
            );
        }
        let tv = yaml_one(&path);
        assert_eq!(tv["metadata"]["name"], kind.to_lowercase());
        assert_eq!(tv["spec"]["crd"]["spec"]["names"]["kind"], *kind);
        let tmpl = load_template(&path);
        let cel = tmpl
            .cel
            .as_ref()
            .unwrap_or_else(|| panic!("{kind}: no K8sNativeValidation code"));
        let schema = &tv["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"];
        let validator = jsonschema::validator_for(schema).expect("parameter schema compiles");
        let suite = yaml_one(&dir.join("suite.yaml"));
        for test in suite["tests"].as_array().unwrap() {
            assert_eq!(test["template"], "template.yaml");
            let constraint = yaml_one(&dir.join(test["constraint"].as_str().unwrap()));
            assert_eq!(constraint["kind"], *kind);
            let params = match &constraint["spec"]["parameters"] {
                Value::Null => json!({}),
                p => p.clone(),
            };
            if let Err(e) = validator.validate(&params) {
                panic!("{kind} {}: parameters: {e}", test["name"]);
            }
            for case in test["cases"].as_array().unwrap() {
                total += 1;
                let id = format!(
                    "{file}/{}/{}",
                    test["name"].as_str().unwrap(),
                    case["name"].as_str().unwrap()
                );
                let obj = yaml_one(&dir.join(case["object"].as_str().unwrap()));
                let review = review_of(&obj);
                let matched = matches(&constraint["spec"]["match"], &review);
                let rego = if matched {
                    tmpl.violations(&review, &params)
                } else {
                    vec![]
                };
                let cel_found = if matched {
                    cel.violations(&review, &params)
                        .unwrap_or_else(|e| panic!("{id}: CEL evaluation error: {e}"))
                } else {
                    vec![]
                };
                let want = case["assertions"].as_array().unwrap().iter().all(|a| {
                    assert!(
                        a["message"].is_null(),
                        "{id}: own suites assert counts only"
                    );
                    match &a["violations"] {
                        Value::String(s) if s == "yes" => true,
                        Value::String(s) if s == "no" => false,
                        other => panic!("{id}: bad assertion {other}"),
                    }
                });
                if rego.iter().any(|m| m.starts_with("evaluation error")) {
                    failures.push(format!("{id}: Rego {rego:?}"));
                    continue;
                }
                if rego.is_empty() != want {
                    rego_ok += 1;
                } else {
                    failures.push(format!("{id}: Rego {rego:?}"));
                }
                if cel_found.is_empty() != want {
                    cel_ok += 1;
                } else {
                    failures.push(format!("{id}: CEL {cel_found:?}"));
                }
            }
        }
    }
    println!(
        "gatekeeper own templates ({}): {total} suite cases, Rego v1 (regorus) {rego_ok}/{total}, CEL (cel-interpreter) {cel_ok}/{total}",
        OWN_TEMPLATES.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        total >= 50,
        "the own suites have at least 50 cases, found {total}"
    );
}

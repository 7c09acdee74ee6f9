//! One scoping pass, every admission backend: for the seed tutorial cluster and three overlap
//! fixtures (`tests/scope/<case>/input.yaml`), each backend's output is run by its engine
//! (namespace matching and bindings included) on pods in every namespace, and compared with PSP
//! admission as the independent admission model (`engines/psp_admission.rs`) decides it: a pod is
//! admitted where some PSP usable in its namespace admits it. The usable sets are written here by
//! hand from the fixtures' RBAC, independently of `src/scope.rs`.
//!
//! Where RBAC cannot be expressed by namespace (a PSP granted to one service account), the
//! disagreement must be listed, identically, in every backend's fidelity header; and no backend
//! may then claim "every constraint is expressed exactly", and `--strict` must exit 1.

use crate::common;

use crate::engines::cel as cel_engine;
use crate::engines::gatekeeper as gatekeeper_engine;
use crate::engines::kubewarden as kubewarden_engine;
use crate::engines::kyverno as kyverno_engine;
use crate::engines::psp_admission;

use polytrans::backend::{Common, Emitted, Fidelity, Options};
use polytrans::ir::Policy;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A fixture: inputs, and by hand the PSPs usable for a pod of the `default` service account in
/// each namespace (`*`: every other namespace), and the namespaces whose usable set namespaces
/// cannot express exactly (listed in every header).
struct Case {
    name: &'static str,
    inputs: Vec<PathBuf>,
    usable: Vec<(&'static str, Vec<&'static str>)>,
    listed: Vec<&'static str>,
    /// Whether the pods carry the seccomp and AppArmor annotations the seed's `restricted`
    /// requires (a PSP without a seccomp annotation rejects every pod that sets a profile).
    profiles: bool,
}

fn cases(shared: &Path) -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scope");
    // The seed tutorial's fourth YAML block: the two PSPs and their RBAC.
    let seed = std::fs::read_to_string(shared.join("seeds/003_11491de185c820fb.txt")).unwrap();
    let block = common::fenced_block(&seed, 4).expect("seed block 4");
    let tutorial =
        std::env::temp_dir().join(format!("polytrans-scope-{}.yaml", std::process::id()));
    std::fs::write(&tutorial, block).unwrap();
    vec![
        Case {
            name: "seed-tutorial",
            inputs: vec![tutorial],
            usable: vec![
                ("kube-system", vec!["privileged", "restricted"]),
                ("*", vec!["restricted"]),
            ],
            listed: vec![],
            profiles: true,
        },
        Case {
            name: "service-account-group",
            inputs: vec![dir.join("service-account-group/input.yaml")],
            usable: vec![
                ("infra", vec!["default-psp", "host-network"]),
                ("*", vec!["default-psp"]),
            ],
            listed: vec![],
            profiles: false,
        },
        Case {
            name: "single-service-account",
            inputs: vec![dir.join("single-service-account/input.yaml")],
            // Only pods running as monitoring/node-agent may use `agent`: the test pods run as
            // `default`.
            usable: vec![
                ("monitoring", vec!["default-psp"]),
                ("*", vec!["default-psp"]),
            ],
            listed: vec!["monitoring"],
            profiles: false,
        },
        Case {
            name: "union",
            inputs: vec![dir.join("union/input.yaml")],
            usable: vec![
                (
                    "mixed",
                    vec!["restricted", "host-network", "privileged-no-host"],
                ),
                ("*", vec!["restricted"]),
            ],
            listed: vec![],
            profiles: false,
        },
    ]
}

/// Pods that need no PSP defaulting to pass the seed's `restricted` (so validation-only engines
/// can be judged on scope alone), and variants that break one control each.
fn pods(profiles: bool) -> Vec<(&'static str, Value)> {
    let mut base = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "annotations": {
                "seccomp.security.alpha.kubernetes.io/pod": "runtime/default",
                "container.apparmor.security.beta.kubernetes.io/app": "runtime/default"
            }
        },
        "spec": {
            "securityContext": {
                "runAsNonRoot": true, "runAsUser": 1000, "fsGroup": 1000,
                "supplementalGroups": [1000]
            },
            "containers": [{
                "name": "app", "image": "registry.example/app:1",
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"]}
                }
            }]
        }
    });
    if !profiles {
        base["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("annotations");
    }
    let with = |f: &dyn Fn(&mut Value)| {
        let mut p = base.clone();
        f(&mut p);
        p
    };
    let privileged = |p: &mut Value| {
        let sc = &mut p["spec"]["containers"][0]["securityContext"];
        sc["privileged"] = json!(true);
        sc.as_object_mut()
            .unwrap()
            .remove("allowPrivilegeEscalation");
    };
    vec![
        ("compliant", base.clone()),
        ("privileged", with(&privileged)),
        (
            "host-network",
            with(&|p| p["spec"]["hostNetwork"] = json!(true)),
        ),
        ("host-pid", with(&|p| p["spec"]["hostPID"] = json!(true))),
        (
            "host-path",
            with(&|p| {
                p["spec"]["volumes"] = json!([{"name": "h", "hostPath": {"path": "/var/log"}}])
            }),
        ),
        (
            "root",
            with(&|p| {
                let sc = p["spec"]["securityContext"].as_object_mut().unwrap();
                sc.remove("runAsNonRoot");
                sc.insert("runAsUser".into(), json!(0));
            }),
        ),
        (
            "privileged-host-network",
            with(&|p| {
                privileged(p);
                p["spec"]["hostNetwork"] = json!(true);
            }),
        ),
    ]
}

fn pod_of(v: &Value) -> polytrans::pod::Pod {
    let src = std::sync::Arc::new(polytrans::load::Source {
        name: "pod.json".into(),
    });
    let mut objs = Vec::new();
    let mut d = polytrans::diag::Diagnostics::default();
    polytrans::load::parse_stream(
        &v.to_string(),
        &src,
        &Default::default(),
        &mut |o| objs.push(o),
        &mut d,
    );
    polytrans::pod::pod_of(&objs[0]).unwrap().unwrap().pod
}

/// PSP admission (the reference, the independent admission model): some usable PSP admits the
/// pod, after the API server's defaulting.
fn psp_admits(psps: &[psp_admission::Psp], usable: &[&str], pod: &Value) -> bool {
    let usable: Vec<psp_admission::Psp> = psps
        .iter()
        .filter(|p| usable.contains(&p.name.as_str()))
        .cloned()
        .collect();
    let mut pod = pod.clone();
    psp_admission::api_server_defaults(&mut pod);
    matches!(
        psp_admission::admit(&usable, &pod),
        psp_admission::Verdict::Admitted { .. }
    )
}

/// The PSPs of the inputs as the admission model reads them (YAML loading only).
fn model_psps(inputs: &[PathBuf]) -> Vec<psp_admission::Psp> {
    inputs
        .iter()
        .flat_map(|f| {
            polytrans::load::yaml_documents(&std::fs::read_to_string(f).unwrap()).unwrap()
        })
        .filter(|d| d["kind"] == "PodSecurityPolicy")
        .map(|d| psp_admission::Psp::from_value(&d))
        .collect()
}

fn emit(target: &str, policies: &[Policy], objects: &[polytrans::load::Object]) -> Emitted {
    let scope = polytrans::pipeline::scope_of(policies, objects);
    polytrans::pipeline::emit(
        polytrans::backend::target(target).unwrap(),
        policies,
        &scope,
        &Common {
            format: (target == "pss-labels").then(|| "json".to_string()),
            ..Common::default()
        },
        &Options::default(),
    )
    .unwrap_or_else(|e| panic!("{target}: {e:?}"))
}

/// The engine's verdict on a pod in a namespace, for one backend's output.
type Judge = Box<dyn Fn(&Value) -> bool>;

fn judge(target: &str, out: &Emitted, shared: &Path) -> Judge {
    match target {
        "gatekeeper" => {
            let lib = gatekeeper_engine::Library::from_shared(shared);
            let o = gatekeeper_engine::Output::from_text(&out.stdout);
            Box::new(move |pod| o.admits(&lib, pod))
        }
        "kyverno" => {
            let ps = kyverno_engine::Policy::all_from_text(&out.stdout);
            Box::new(move |pod| kyverno_engine::admits(&ps, pod).unwrap())
        }
        "kubewarden" => {
            // Namespace matching: each policy's and group's namespaceSelector.
            let o = kubewarden_engine::Output::from_text(&out.stdout);
            Box::new(move |pod| o.admits(pod))
        }
        "vap" | "kyverno-cel" => {
            let cs = cel_engine::Output::from_output(&out.stdout);
            Box::new(move |pod| cs.admits(pod))
        }
        "pss-labels" => {
            // Each namespace's proposed enforce label, applied as PSA does.
            let plan: Value = serde_json::from_str(&out.stdout).unwrap();
            let version = plan["version"].as_str().unwrap().to_string();
            let levels: Vec<(String, String)> = plan["namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| {
                    (
                        n["name"].as_str().unwrap().to_string(),
                        n["enforce"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            Box::new(move |pod| {
                let ns = pod["metadata"]["namespace"].as_str().unwrap();
                // A namespace the input does not name keeps the cluster default (privileged).
                let level = levels
                    .iter()
                    .find(|(n, _)| n == ns)
                    .map_or("privileged", |(_, l)| l.as_str());
                let policy = polytrans::pss::level_policy(
                    polytrans::ir::Level::parse(level).unwrap(),
                    polytrans::pss::Version::parse(&version).unwrap(),
                );
                polytrans::eval::admits(&policy, &pod_of(pod)).is_empty()
            })
        }
        t => panic!("{t}"),
    }
}

const BACKENDS: &[&str] = &[
    "gatekeeper",
    "kyverno",
    "vap",
    "kyverno-cel",
    "kubewarden",
    "pss-labels",
];

#[test]
fn overlapping_psps_in_every_backend() {
    let Some(shared) = common::shared() else {
        return;
    };
    let mut failures = Vec::new();
    for case in cases(&shared) {
        let objects = polytrans::load::load_paths(&case.inputs, &Default::default())
            .unwrap_or_else(|d| panic!("{}: {d}", case.name));
        let (policies, _) = polytrans::front::psp::lower_all(&objects).unwrap();
        let psps = model_psps(&case.inputs);
        let mut namespaces: Vec<&str> = case.usable.iter().map(|(n, _)| *n).collect();
        namespaces.retain(|n| *n != "*");
        namespaces.push("elsewhere");
        let mut headers: Vec<(String, BTreeSet<String>)> = Vec::new();
        for target in BACKENDS {
            let out = emit(target, &policies, &objects);
            let lossy_rbac = || {
                out.fidelity
                    .iter()
                    .filter(|e| e.field == "rbac" && e.fidelity != Fidelity::Exact)
            };
            // What namespaces cannot express: the same in every backend.
            let rbac_notes: BTreeSet<String> = lossy_rbac()
                .filter(|e| !e.note.contains("are all usable here"))
                .map(|e| format!("{}: {}", e.policy, e.note))
                .collect();
            // What this engine cannot express: several usable PSPs, none admitting all the
            // others do, and an engine that requires every policy.
            let any_of: Vec<String> = lossy_rbac()
                .filter(|e| e.note.contains("are all usable here"))
                .map(|e| e.policy.trim_start_matches("namespace ").to_string())
                .collect();
            headers.push((target.to_string(), rbac_notes.clone()));
            let admits = judge(target, &out, &shared);
            let (mut agree, mut listed, mut engine, mut looser, mut total) = (0, 0, 0, 0, 0);
            for ns in &namespaces {
                let usable = &case
                    .usable
                    .iter()
                    .find(|(n, _)| n == ns)
                    .or_else(|| case.usable.iter().find(|(n, _)| *n == "*"))
                    .unwrap()
                    .1;
                for (pod_name, pod) in pods(case.profiles) {
                    let mut pod = pod.clone();
                    pod["metadata"]["namespace"] = json!(ns);
                    total += 1;
                    let want = psp_admits(&psps, usable, &pod);
                    let got = admits(&pod);
                    if want == got {
                        agree += 1;
                    } else if case.listed.contains(ns) {
                        listed += 1;
                    } else if any_of.iter().any(|n| n == ns) && !got {
                        engine += 1;
                    } else if *target == "pss-labels" && got && !want {
                        // A label is a level: it may admit what the PSPs rejected, never the
                        // reverse (that would break a workload).
                        looser += 1;
                    } else {
                        failures.push(format!(
                            "{} {target}: pod {pod_name} in {ns}: PSP {}, engine {}",
                            case.name,
                            if want { "admits" } else { "rejects" },
                            if got { "admits" } else { "rejects" }
                        ));
                    }
                }
            }
            println!(
                "scope {} {target}: agree {agree}/{total}, listed as not expressible by namespace {listed}, engine cannot express any-of {engine} (listed){}",
                case.name,
                if *target == "pss-labels" {
                    format!(", looser (a level, by design) {looser}")
                } else {
                    String::new()
                }
            );
            // Every approximation is stated in the output: in the header of each policy it is
            // about (a note about no single PSP once, at the top), and a policy a note is about
            // never claims exactness.
            let text = out.stdout.clone();
            if *target == "pss-labels" {
                // One output for the cluster, with its own layout: it claims nothing exact.
                if (!rbac_notes.is_empty() || !any_of.is_empty())
                    && text.contains("every constraint is expressed exactly")
                {
                    failures.push(format!(
                        "{} {target}: RBAC approximated, but the output claims exactness",
                        case.name
                    ));
                }
                continue;
            }
            for e in lossy_rbac() {
                let line = format!(
                    "{} rbac: approximated ({})",
                    e.policy,
                    polytrans::backend::single_line(&e.note)
                );
                if !text.contains(&line) {
                    failures.push(format!(
                        "{} {target}: RBAC approximated ({line}), but the output does not say so",
                        case.name
                    ));
                }
            }
            for doc in text.split("\n---\n") {
                let about_note = lossy_rbac().any(|e| {
                    doc.contains(&format!("{} rbac: approximated", e.policy))
                        && e.note.contains('`')
                });
                if about_note && doc.contains("every constraint is expressed exactly") {
                    failures.push(format!(
                        "{} {target}: a document lists an RBAC approximation and claims exactness",
                        case.name
                    ));
                }
            }
        }
        // Every backend lists the same RBAC approximations.
        let first = &headers[0].1;
        for (t, h) in &headers {
            if h != first {
                failures.push(format!(
                    "{}: {t} lists {h:?}, gatekeeper lists {first:?}",
                    case.name
                ));
            }
        }
        if !case.listed.is_empty() {
            for ns in &case.listed {
                if !first
                    .iter()
                    .any(|n| n.starts_with(&format!("namespace {ns}:")))
                {
                    failures.push(format!("{}: {ns} is not listed: {first:?}", case.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `--strict` exits 1 when the scope approximates RBAC, for every admission backend.
#[test]
fn strict_fails_on_approximated_rbac() {
    let input =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scope/single-service-account/input.yaml");
    for target in BACKENDS {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_polytrans"))
            .args(["psp", input.to_str().unwrap(), "--to", target, "--strict"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{target}: {stderr}");
        assert!(stderr.contains("rbac"), "{target}: {stderr}");
    }
}

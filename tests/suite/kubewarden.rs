//! Kubewarden backend (`--to kubewarden`), verified rather than eyeballed:
//! 1. schemas: every document of the golden `kubewarden.yaml` files and of generated variants
//!    (each psp-migration case, each Kubernetes example PSP, levels at several versions, modes,
//!    the any-of group case) validates against the CRD schema transcribed in
//!    `schemas/kubewarden/` and its module's settings against that module's schema (read from the
//!    module's source at the pinned version), plus the cross-field rules a schema cannot state;
//! 2. the test-only evaluator (`engines/kubewarden.rs`) is calibrated on each module's own
//!    fixtures (`tests/kubewarden-fixtures/`);
//! 3. the psp-migration cases through the generated policies;
//! 4. differential: the PSA testdata pods × the example and golden PSPs against a reference PSP
//!    admission function ([`reference_admits`]); every mismatch must be explained by a fidelity
//!    entry.

use crate::common;

use crate::engines::kubewarden as engine;

use polytrans::backend::kubewarden::{MODULES, Options as KwOptions};
use polytrans::backend::{Common, Emitted, Fidelity, Input};
use polytrans::ir::Policy;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the backend on policies and input objects.
fn emit(policies: &[Policy], objects: &[polytrans::load::Object], args: &KwOptions) -> Emitted {
    let common = Common::default();
    let scope = polytrans::pipeline::scope_of(policies, objects);
    let input = Input {
        policies,
        scope: &scope,
        common: &common,
        sink: None,
    };
    polytrans::backend::kubewarden::emit(&input, args).unwrap_or_else(|e| panic!("{e:?}"))
}

fn lower(path: &Path) -> Vec<Policy> {
    let objs = polytrans::load::load_paths(&[path.to_path_buf()], &Default::default())
        .unwrap_or_else(|d| panic!("{d}"));
    polytrans::front::psp::lower_all(&objs)
        .unwrap_or_else(|d| panic!("{}: {d}", path.display()))
        .0
}

// ---------------------------------------------------------------------------------------------
// 1. Schemas

struct Schemas {
    crd: BTreeMap<&'static str, jsonschema::Validator>,
    settings: BTreeMap<String, jsonschema::Validator>,
}

fn load_schema(path: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

impl Schemas {
    fn load() -> Schemas {
        let dir = root().join("schemas/kubewarden");
        let mut crd = BTreeMap::new();
        for (kind, file) in [
            ("ClusterAdmissionPolicy", "clusteradmissionpolicy"),
            ("ClusterAdmissionPolicyGroup", "clusteradmissionpolicygroup"),
        ] {
            let s = load_schema(&dir.join(format!("{file}.schema.json")));
            crd.insert(
                kind,
                jsonschema::validator_for(&s).expect("schema compiles"),
            );
        }
        let mut settings = BTreeMap::new();
        for m in MODULES {
            let s = load_schema(&dir.join(format!("{}.schema.json", m.name)));
            // The schema names the version it was read at.
            let comment = s["$comment"].as_str().unwrap_or_default();
            assert!(
                comment.contains(&format!("v{}", m.version)),
                "{}: schema `$comment` does not name v{}",
                m.name,
                m.version
            );
            settings.insert(
                m.name.to_string(),
                jsonschema::validator_for(&s).expect("schema compiles"),
            );
        }
        Schemas { crd, settings }
    }

    /// Problems of one document (empty when valid).
    fn check(&self, doc: &Value) -> Vec<String> {
        let kind = doc["kind"].as_str().unwrap_or_default();
        let Some(v) = self.crd.get(kind) else {
            return vec![format!("unexpected kind `{kind}`")];
        };
        let mut out: Vec<String> = v.iter_errors(doc).map(|e| format!("{kind}: {e}")).collect();
        let mut modules = Vec::new();
        if kind == "ClusterAdmissionPolicy" {
            modules.push((
                doc["spec"]["module"].clone(),
                doc["spec"]["settings"].clone(),
            ));
        } else {
            for (name, m) in doc["spec"]["policies"].as_object().into_iter().flatten() {
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    || name.starts_with(|c: char| c.is_ascii_digit())
                {
                    out.push(format!("member `{name}` is not a CEL identifier"));
                }
                modules.push((m["module"].clone(), m["settings"].clone()));
            }
        }
        for (module, settings) in modules {
            let module = module.as_str().unwrap_or_default();
            let Some(m) = MODULES.iter().find(|m| m.reference() == module) else {
                out.push(format!("module `{module}` is not a pinned module"));
                continue;
            };
            let settings = if settings.is_null() {
                serde_json::json!({})
            } else {
                settings
            };
            out.extend(
                self.settings[m.name]
                    .iter_errors(&settings)
                    .map(|e| format!("{} settings: {e}", m.name)),
            );
            out.extend(cross_field(m.name, &settings));
        }
        out
    }
}

fn names(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(String::from))
        .collect()
}

/// The settings rules each module's `validate_settings` applies that a JSON Schema cannot state
/// (see the `$comment` of each schema).
fn cross_field(module: &str, s: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let ranges_ok = |r: &Value, what: &str, out: &mut Vec<String>| {
        for x in r.as_array().into_iter().flatten() {
            if x["min"].as_i64().unwrap_or(0) > x["max"].as_i64().unwrap_or(0) {
                out.push(format!("{module} {what}: min > max in {x}"));
            }
        }
    };
    match module {
        "capabilities-psp" => {
            let allowed = names(&s["allowed_capabilities"]);
            let drop = names(&s["required_drop_capabilities"]);
            let add = names(&s["default_add_capabilities"]);
            if allowed.intersection(&drop).next().is_some() {
                out.push("capabilities-psp: allowed and required-drop capabilities overlap".into());
            }
            if add.intersection(&drop).next().is_some() {
                out.push("capabilities-psp: default-add and required-drop overlap".into());
            }
            if !allowed.contains("*") && !add.is_subset(&allowed) {
                out.push("capabilities-psp: default-add capabilities not allowed".into());
            }
        }
        "host-namespaces-psp" => ranges_ok(&s["allow_host_ports"], "allow_host_ports", &mut out),
        "allowed-fsgroups-psp" => ranges_ok(&s["ranges"], "ranges", &mut out),
        "user-group-psp" => {
            for k in ["run_as_user", "run_as_group", "supplemental_groups"] {
                ranges_ok(&s[k]["ranges"], k, &mut out);
            }
        }
        "pod-runtime" => {
            if let Some(f) = s["fallbackRuntime"].as_str() {
                if names(&s["reservedRuntimes"]).contains(f) {
                    out.push("pod-runtime: the fallback runtime is reserved".into());
                }
            }
        }
        "sysctl-psp" => {
            let a = names(&s["allowedUnsafeSysctls"]);
            let f = names(&s["forbiddenSysctls"]);
            if a.intersection(&f).next().is_some() {
                out.push("sysctl-psp: a sysctl is both allowed and forbidden".into());
            }
        }
        _ => {}
    }
    out
}

fn documents(text: &str) -> Vec<Value> {
    polytrans::load::yaml_documents(text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// (label, output) of every generated variant.
fn variants(shared: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for case in common::migration_cases(shared) {
        let e = emit(
            std::slice::from_ref(&case.policy),
            &[],
            &KwOptions::default(),
        );
        out.push((format!("psp-migration {}", case.name), e.stdout));
    }
    for f in common::files_under(&shared.join("conformance/psp-examples"), &["yaml"]) {
        let policies = lower(&f);
        for mode in [
            polytrans::backend::Mode::Enforce,
            polytrans::backend::Mode::Audit,
            polytrans::backend::Mode::Warn,
        ] {
            let e = emit(&policies, &[], &KwOptions { mode });
            out.push((format!("{} {mode:?}", f.display()), e.stdout));
        }
    }
    for level in ["baseline", "restricted"] {
        for version in ["latest", "v1.22", "v1.25", "v1.31"] {
            let (code, stdout, stderr) = common::run_polytrans(
                &["pss", level, "--version", version, "--to", "kubewarden"],
                "",
            );
            assert_eq!(code, 0, "{stderr}");
            out.push((format!("pss {level} {version}"), stdout));
        }
    }
    let (code, stdout, stderr) = common::run_polytrans(
        &[
            "pss",
            "restricted",
            "--except",
            "capabilities_restricted=NET_ADMIN",
            "--namespaces",
            "kube-system",
            "--to",
            "kubewarden",
        ],
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    out.push(("pss restricted with exceptions".into(), stdout));
    for input in [
        "tests/scope/union/input.yaml",
        "tests/scope/single-service-account/input.yaml",
    ] {
        let (code, stdout, stderr) =
            common::run_polytrans(&["psp", input, "--to", "kubewarden"], "");
        assert_eq!(code, 0, "{stderr}");
        out.push((input.to_string(), stdout));
    }
    out
}

#[test]
fn schemas_accept_every_output() {
    let Some(shared) = common::shared() else {
        return;
    };
    let schemas = Schemas::load();
    let mut failures = Vec::new();
    let (mut golden_docs, mut golden_files) = (0, 0);
    for f in common::files_under(&root().join("golden"), &["yaml"]) {
        if f.file_name().and_then(|n| n.to_str()) != Some("kubewarden.yaml") {
            continue;
        }
        golden_files += 1;
        for d in documents(&std::fs::read_to_string(&f).unwrap()) {
            golden_docs += 1;
            for p in schemas.check(&d) {
                failures.push(format!("{}: {p}", f.display()));
            }
        }
    }
    let vs = variants(&shared);
    let mut variant_docs = 0;
    for (label, text) in &vs {
        for d in documents(text) {
            variant_docs += 1;
            for p in schemas.check(&d) {
                failures.push(format!("{label}: {p}"));
            }
        }
    }
    println!(
        "kubewarden schemas: golden {golden_files} files / {golden_docs} documents, {} generated variants / {variant_docs} documents; problems {}",
        vs.len(),
        failures.len()
    );
    for f in failures.iter().take(10) {
        println!("  {f}");
    }
    assert!(golden_files >= 7, "golden kubewarden.yaml files");
    assert!(failures.is_empty(), "{} schema problems", failures.len());
}

/// The schemas themselves refuse what the modules refuse (a sample of each rule).
#[test]
fn schemas_refuse_invalid_settings() {
    let schemas = Schemas::load();
    let bad: &[(&str, Value)] = &[
        ("volumes-psp", serde_json::json!({"allowedTypes": []})),
        (
            "volumes-psp",
            serde_json::json!({"allowedTypes": ["*", "hostPath"]}),
        ),
        (
            "user-group-psp",
            serde_json::json!({"run_as_user": {"rule": "MustRunAs"}}),
        ),
        (
            "user-group-psp",
            serde_json::json!({"run_as_user": {"rule": "MayRunAs", "ranges": [{"min": 1, "max": 2}]}}),
        ),
        (
            "user-group-psp",
            serde_json::json!({"run_as_group": {"rule": "RunAsAny", "overwrite": true}}),
        ),
        (
            "allowed-fsgroups-psp",
            serde_json::json!({"rule": "MayRunAs"}),
        ),
        ("selinux-psp", serde_json::json!({"rule": "MustRunAs"})),
        (
            "selinux-psp",
            serde_json::json!({"rule": "MustRunAs", "user": "u", "extra": 1}),
        ),
        (
            "seccomp-psp",
            serde_json::json!({"profile_types": ["Localhost"]}),
        ),
        (
            "seccomp-psp",
            serde_json::json!({"profile_types": ["Other"]}),
        ),
        (
            "sysctl-psp",
            serde_json::json!({"allowedUnsafeSysctls": ["kernel.*"]}),
        ),
        (
            "sysctl-psp",
            serde_json::json!({"forbiddenSysctls": ["*.msgmax"]}),
        ),
        (
            "hostpaths-psp",
            serde_json::json!({"allowedHostPaths": [{"pathPrefix": "/a"}]}),
        ),
        (
            "host-namespaces-psp",
            serde_json::json!({"allow_host_ports": [{"min": 1}]}),
        ),
        (
            "flexvolume-drivers-psp",
            serde_json::json!({"allowedFlexVolumes": [{}]}),
        ),
        ("cel-policy", serde_json::json!({"validations": []})),
        (
            "cel-policy",
            serde_json::json!({"validations": [{"expression": "true", "message": "a\nb"}]}),
        ),
        (
            "cel-policy",
            serde_json::json!({"variables": [{"name": "params", "expression": "1"}], "validations": [{"expression": "true"}]}),
        ),
        ("pod-runtime", serde_json::json!({"fallbackRuntime": 1})),
    ];
    for (module, settings) in bad {
        assert!(
            !schemas.settings[*module].is_valid(settings),
            "{module} schema accepts {settings}"
        );
    }
    let cross: &[(&str, Value)] = &[
        (
            "capabilities-psp",
            serde_json::json!({"allowed_capabilities": ["A"], "required_drop_capabilities": ["A"]}),
        ),
        (
            "capabilities-psp",
            serde_json::json!({"allowed_capabilities": ["A"], "default_add_capabilities": ["B"]}),
        ),
        (
            "host-namespaces-psp",
            serde_json::json!({"allow_host_ports": [{"min": 443, "max": 80}]}),
        ),
        (
            "sysctl-psp",
            serde_json::json!({"allowedUnsafeSysctls": ["a"], "forbiddenSysctls": ["a"]}),
        ),
        (
            "pod-runtime",
            serde_json::json!({"reservedRuntimes": ["a"], "fallbackRuntime": "a"}),
        ),
    ];
    for (module, settings) in cross {
        assert!(
            !cross_field(module, settings).is_empty(),
            "{module}: cross-field rules accept {settings}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Calibration on the modules' own fixtures

#[test]
fn engine_calibration() {
    let dir = root().join("tests/kubewarden-fixtures");
    let cases: BTreeMap<String, Vec<Value>> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let schemas = Schemas::load();
    let mut failures = Vec::new();
    let (mut pass, mut total) = (0, 0);
    for (module, list) in &cases {
        let (mut p, mut n) = (0, 0);
        for c in list {
            n += 1;
            let req: Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join(module).join(c["request"].as_str().unwrap()))
                    .unwrap(),
            )
            .unwrap();
            let req = if req["request"].is_object() {
                req["request"].clone()
            } else {
                req
            };
            let mut obj = req["object"].clone();
            // The SDKs read the kind from `request.kind`; the API server's objects carry it too.
            if obj["kind"].is_null() {
                obj["kind"] = req["kind"]["kind"].clone();
            }
            let settings = &c["settings"];
            // Settings the module refuses make `kwctl run` fail: no request is admitted.
            let refused = !schemas.settings[module.as_str()].is_valid(settings)
                || !cross_field(module, settings).is_empty();
            let (allowed, patched) = if refused {
                (false, false)
            } else {
                match engine::evaluate(module, settings, &obj) {
                    engine::Response::Accept => (true, false),
                    engine::Response::Reject(_) => (false, false),
                    engine::Response::Mutate(m) => (true, m != obj),
                }
            };
            let want_patch = c["patch"].as_bool();
            if allowed == c["allowed"].as_bool().unwrap() && want_patch.is_none_or(|w| w == patched)
            {
                p += 1;
            } else {
                failures.push(format!(
                    "{module}: {}: allowed {allowed}, patched {patched}",
                    c["name"]
                ));
            }
        }
        println!("kubewarden {module}: {p}/{n} fixtures");
        pass += p;
        total += n;
    }
    println!("kubewarden engine calibration: {pass}/{total} fixtures");
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------------------------
// 3. psp-migration

/// The pod object as admission sees it (API defaulting applied through the typed pod).
fn pod_object(pod: &polytrans::pod::Pod) -> Value {
    let mut obj = serde_json::to_value(pod).unwrap();
    obj["apiVersion"] = "v1".into();
    obj["kind"] = "Pod".into();
    crate::engines::gatekeeper::strip_nulls(&obj)
}

/// psp-migration cases the generated output cannot decide as PSP did, with the reason.
const KNOWN_MIGRATION_FAILURES: &[(&str, &str)] = &[];

#[test]
fn psp_migration_cases() {
    let Some(shared) = common::shared() else {
        return;
    };
    let (mut agree, mut total) = (0, 0);
    let mut failures = Vec::new();
    for case in common::migration_cases(&shared) {
        let e = emit(
            std::slice::from_ref(&case.policy),
            &[],
            &KwOptions::default(),
        );
        let out = engine::Output::from_text(&e.stdout);
        for (file, expect_admit, pod) in &case.pods {
            total += 1;
            let (got, _, why) = out.review(&pod_object(&pod.pod));
            if got == *expect_admit {
                agree += 1;
            } else {
                failures.push(format!("{}/{file}: {why:?}", case.name));
            }
        }
    }
    common::assert_ratchet(
        "kubewarden psp-migration cases (generated policies, mutations applied)",
        (agree, total),
        &failures,
        KNOWN_MIGRATION_FAILURES.iter().map(|(k, _)| *k),
        48,
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Differential against PSP admission

/// The reference: whether PSP admission admits the pod under this one PSP (defaulting applied).
/// The one place to swap in another model (e.g. an independent PSP admission model).
fn reference_admits(policy: &Policy, pod: &polytrans::pod::Pod) -> bool {
    polytrans::eval::admits(policy, pod).is_empty()
}

/// A policy without the rules and defaults of one field.
fn without_field(p: &Policy, field: &str) -> Policy {
    let mut q = p.clone();
    q.rules.retain(|r| r.provenance.field != field);
    q.defaults.retain(|d| d.provenance.field != field);
    q
}

fn output_of(p: &Policy) -> engine::Output {
    engine::Output::from_text(&emit(std::slice::from_ref(p), &[], &KwOptions::default()).stdout)
}

/// The distinct PSA testdata pods (after API defaulting), as typed pods and JSON objects.
fn psa_pods(shared: &Path) -> Vec<(String, polytrans::pod::Pod, Value)> {
    let mut pods: BTreeMap<String, (String, polytrans::pod::Pod, Value)> = BTreeMap::new();
    for c in common::psa_cases(shared) {
        let pod = common::load_pod(&c.path).pod;
        let obj = pod_object(&pod);
        pods.entry(obj.to_string())
            .or_insert_with(|| (c.path.display().to_string(), pod, obj));
    }
    pods.into_values().collect()
}

#[test]
fn psa_pods_against_psps() {
    let Some(shared) = common::shared() else {
        return;
    };
    let (mut policies, examples) = common::example_and_golden_policies(&shared);
    let mut seen = BTreeSet::new();
    policies.retain(|p| seen.insert(serde_json::to_string(p).unwrap()));
    let pods = psa_pods(&shared);
    let (mut agree, mut total) = (0, 0);
    let mut by_field: BTreeMap<String, usize> = BTreeMap::new();
    let mut unexplained = Vec::new();
    for policy in &policies {
        let emitted = emit(std::slice::from_ref(policy), &[], &KwOptions::default());
        let out = engine::Output::from_text(&emitted.stdout);
        let lossy: BTreeSet<String> = emitted
            .fidelity
            .iter()
            .filter(|e| e.fidelity != Fidelity::Exact)
            .map(|e| e.field.clone())
            .collect();
        let mut single: BTreeMap<String, (Policy, engine::Output)> = BTreeMap::new();
        for (path, pod, obj) in &pods {
            total += 1;
            let want = reference_admits(policy, pod);
            let got = out.admits(obj);
            if got == want {
                agree += 1;
                continue;
            }
            // Explained by a listed field when the policy without it agrees with its own
            // translation on this pod; failing that, by all listed fields together.
            let mut why = Vec::new();
            for f in &lossy {
                let (rp, ro) = single.entry(f.clone()).or_insert_with(|| {
                    let rp = without_field(policy, f);
                    let ro = output_of(&rp);
                    (rp, ro)
                });
                if reference_admits(rp, pod) == ro.admits(obj) {
                    why.push(f.clone());
                }
            }
            if why.is_empty() && !lossy.is_empty() {
                let (rp, ro) = single.entry("*".into()).or_insert_with(|| {
                    let mut rp = policy.clone();
                    for f in &lossy {
                        rp = without_field(&rp, f);
                    }
                    let ro = output_of(&rp);
                    (rp, ro)
                });
                if reference_admits(rp, pod) == ro.admits(obj) {
                    why.push("(several listed fields together)".into());
                }
            }
            if why.is_empty() {
                unexplained.push(format!(
                    "{} {path}: reference {}, kubewarden {:?}",
                    policy.name,
                    if want { "admits" } else { "rejects" },
                    out.review(obj).2
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
        "kubewarden vs PSP admission (reference: IR evaluator), {} distinct PSA testdata pods x {} PSPs ({examples} examples, {} golden): agree {agree}/{total}, explained by fidelity entries {explained}, unexplained {}",
        pods.len(),
        policies.len(),
        policies.len() - examples,
        unexplained.len()
    );
    for (f, n) in &by_field {
        println!("  not expressible, explained by {f}: {n}");
    }
    for u in unexplained.iter().take(8) {
        println!("  unexplained: {u}");
    }
    assert!(unexplained.is_empty(), "{} unexplained", unexplained.len());
}

/// The console example of `docs/kubewarden.md` is what the command prints (up to its `...`).
#[test]
fn docs_example_is_current() {
    if common::shared().is_none() {
        return;
    }
    let text = std::fs::read_to_string(root().join("docs/kubewarden.md")).unwrap();
    let block = text
        .split("```console\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a console block");
    let mut lines = block.lines();
    let cmd = lines.next().unwrap().strip_prefix("$ polytrans ").unwrap();
    let args: Vec<&str> = cmd.split_whitespace().collect();
    let (code, stdout, stderr) = common::run_polytrans(&args, "");
    assert_eq!(code, 0, "{stderr}");
    let shown: Vec<&str> = lines.take_while(|l| *l != "...").collect();
    let got: Vec<&str> = stdout.lines().take(shown.len()).collect();
    assert_eq!(shown, got, "docs/kubewarden.md example drifted");
}

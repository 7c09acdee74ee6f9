//! The Falco backend against Falco's former PSP test suite (`conformance/falco-psp/`), against
//! the IR evaluator (differential over the PSA testdata pods), and against the grammar and field
//! tables of today's Falco (`conformance/falco-fields/`).
//!
//! Which flavour the suite runs against: **both**, each with the semantics of the Falco it is
//! written for. The suite's rules were produced by falcoctl v0.0.4 and replayed by Falco <= 0.31
//! (built-in k8s audit engine: `<NA>` for absent values, `min:max` ranges, `pmatch` on list
//! fields). `falco_psp_suite_legacy` converts each PSP with `--falco-flavor legacy` (whose
//! conditions for the fields the seed page does not show follow v0.0.4) and replays the events
//! with `eval_legacy`; `falco_psp_suite` converts with the default modern flavour (what users
//! load today) and replays them with the k8saudit plugin's extraction and libsinsp's semantics.
//! Rule names are mapped by the PSP field each rule covers (suite: `PSP <prefix> Violation
//! (<field>[=<strategy>]) K8s Audit`; legacy: `PSP Violation (<field>) K8s Audit`, the seed
//! page's older names; modern: `PSP <name> Violation (<field>)`). Both run with `--lenient`, as
//! falcoctl read PSPs missing a strategy. The 7 syscall cases replay binary captures that no
//! test engine reads; they are counted as not run.

use crate::common;

use crate::engines::falco as falco_engine;

use falco_engine::RulesFile;
use polytrans::backend::falco::{Flavor, Options as FalcoArgs};
use polytrans::backend::{Common, Emitted, Fidelity, Input};
use polytrans::ir::Policy;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn falco_args(flavor: Flavor) -> FalcoArgs {
    FalcoArgs {
        flavor,
        ..FalcoArgs::default()
    }
}

fn lower(path: &Path) -> Vec<Policy> {
    let objs = polytrans::load::load_paths(&[path.to_path_buf()], &Default::default())
        .unwrap_or_else(|d| panic!("{}: {d}", path.display()));
    polytrans::front::psp::lower_all_with(&objs, &polytrans::front::psp::Options { lenient: true })
        .unwrap_or_else(|d| panic!("{}: {d}", path.display()))
        .0
}

fn emit(policies: &[Policy], flavor: Flavor) -> Emitted {
    let common = Common::default();
    let scope = polytrans::scope::Scope::unscoped(policies);
    let input = Input {
        policies,
        scope: &scope,
        common: &common,
        sink: None,
    };
    polytrans::backend::falco::emit(&input, &falco_args(flavor)).unwrap_or_else(|e| panic!("{e:?}"))
}

/// `PSP <name> Violation (<field>)…` → `<field>`; the suite's falcoctl v0.0.4 names add the
/// strategy (`runAsUser=MustRunAs`), which names the same field.
fn rule_field(name: &str) -> String {
    let start = name.find("Violation (").map(|i| i + "Violation (".len());
    let start = start.unwrap_or_else(|| panic!("rule name `{name}`"));
    let end = name[start..].find(')').unwrap() + start;
    let f = &name[start..end];
    f.split('=').next().unwrap_or(f).to_string()
}

#[test]
fn falco_psp_suite() {
    suite(Flavor::Modern);
}

/// The legacy flavour replayed with the legacy engine's semantics (see `eval_legacy` in the
/// engine): falcoctl's rules as Falco <= 0.31 ran them.
#[test]
fn falco_psp_suite_legacy() {
    suite(Flavor::Legacy);
}

fn suite(flavor: Flavor) {
    let Some(shared) = common::shared() else {
        return;
    };
    let root = shared.join("conformance/falco-psp");
    let cases: serde_json::Value =
        polytrans::load::yaml_documents(&std::fs::read_to_string(root.join("cases.yaml")).unwrap())
            .unwrap()
            .remove(0);
    let cases = cases["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 75, "the suite has 75 cases");
    let k8s = falco_engine::allowed_fields(&shared);
    let sys = falco_engine::syscall_fields(&shared);
    let mut agree = 0;
    let mut total = 0;
    let mut syscall = 0;
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        if case["event_source"] == "syscall" {
            syscall += 1;
            continue;
        }
        total += 1;
        let policies = lower(&root.join(case["psp"].as_str().unwrap()));
        let emitted = emit(&policies, flavor);
        let rules = RulesFile::from_text(&emitted.stdout)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", emitted.stdout));
        if flavor == Flavor::Modern {
            let problems = falco_engine::check_fields(&rules, &k8s, &sys);
            assert!(problems.is_empty(), "{name}: {problems:#?}");
        }
        let events = std::fs::read_to_string(root.join(case["event"].as_str().unwrap())).unwrap();
        let mut fired: BTreeMap<String, usize> = BTreeMap::new();
        for line in events.lines().filter(|l| !l.trim().is_empty()) {
            let ev: serde_json::Value = serde_json::from_str(line).unwrap();
            let fired_now = if flavor == Flavor::Modern {
                rules.fired(&ev)
            } else {
                rules.fired_legacy(&ev)
            };
            for r in fired_now {
                *fired.entry(rule_field(r)).or_default() += 1;
            }
        }
        let ok = if case["detect"] == true {
            case["expect_fire"].as_array().unwrap().iter().all(|e| {
                let field = rule_field(e["rule"].as_str().unwrap());
                fired.get(&field) == Some(&(e["count"].as_u64().unwrap() as usize))
            })
        } else {
            fired.is_empty()
        };
        if ok {
            agree += 1;
        } else {
            failures.push(format!(
                "{name}: detect={} expected {:?}, fired {fired:?}",
                case["detect"],
                case["expect_fire"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| rule_field(e["rule"].as_str().unwrap()))
                    .collect::<Vec<_>>()
            ));
        }
    }
    println!(
        "falco-psp suite ({flavor:?} flavour, k8s_audit cases): {agree}/{total} ({syscall} syscall cases not run: binary captures)"
    );
    for f in &failures {
        println!("  mismatch: {f}");
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Every PSP input: the suite's PSPs and the golden cases' PSP inputs, lowered.
fn all_policies(shared: &Path) -> Vec<(String, Policy)> {
    let mut out = Vec::new();
    for p in common::files_under(&shared.join("conformance/falco-psp/psps"), &["yaml"]) {
        for pol in lower(&p) {
            out.push((
                format!("falco-psp/{}", p.file_name().unwrap().to_str().unwrap()),
                pol,
            ));
        }
    }
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&golden)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let tmp = std::env::temp_dir().join(format!("polytrans-falco-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for d in dirs {
        let case = d.file_name().unwrap().to_str().unwrap().to_string();
        let mut paths = Vec::new();
        if d.join("psp.yaml").is_file() {
            paths.push(d.join("psp.yaml"));
        }
        if let Ok(t) = std::fs::read_to_string(d.join("inputs.txt")) {
            for line in t.lines() {
                let w: Vec<&str> = line.split_whitespace().collect();
                match w.as_slice() {
                    ["shared", p] => paths.push(shared.join(p)),
                    ["seed", f, n] => {
                        let text = std::fs::read_to_string(shared.join("seeds").join(f)).unwrap();
                        let p = tmp.join(format!("{case}.yaml"));
                        std::fs::write(
                            &p,
                            common::fenced_block(&text, n.parse().unwrap()).unwrap(),
                        )
                        .unwrap();
                        paths.push(p);
                    }
                    _ => {}
                }
            }
        }
        for p in paths {
            let objs =
                polytrans::load::load_paths(std::slice::from_ref(&p), &Default::default()).unwrap();
            if !objs.iter().any(polytrans::front::psp::is_psp) {
                continue;
            }
            let Ok((pols, _)) = polytrans::front::psp::lower_all_with(
                &objs,
                &polytrans::front::psp::Options { lenient: true },
            ) else {
                continue;
            };
            for pol in pols {
                out.push((format!("golden/{case}"), pol));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    out
}

/// The fidelity field name of an IR violation (`spec.hostPID` → `hostPID`; seccomp and AppArmor
/// annotations by their constraint).
fn violation_field(f: &str) -> String {
    if f.starts_with("metadata") {
        if f.contains("seccomp") {
            return "seccomp".into();
        }
        if f.contains("apparmor") {
            return "apparmor".into();
        }
    }
    let f = f.strip_prefix("spec.").unwrap_or(f);
    f.split(['.', '[']).next().unwrap_or(f).to_string()
}

/// For every PSP and every PSA testdata pod (distinct pods only), the rules that fire on the
/// pod's audit event name exactly the fields the IR evaluator finds violated, except fields the
/// backend reports as not exact.
#[test]
fn differential_against_ir_evaluator() {
    let Some(shared) = common::shared() else {
        return;
    };
    let policies = all_policies(&shared);
    assert!(policies.len() > 30, "{} policies", policies.len());
    // Distinct pod files (the testdata repeats pods across versions).
    let mut seen = BTreeSet::new();
    let mut pods = Vec::new();
    for c in common::psa_cases(&shared) {
        let text = std::fs::read_to_string(&c.path).unwrap();
        if !seen.insert(text.clone()) {
            continue;
        }
        let raw = polytrans::load::yaml_documents(&text).unwrap().remove(0);
        let pod = common::load_pod(&c.path).pod;
        pods.push((c.path.clone(), falco_engine::audit_event(&raw), pod));
    }
    let (mut agree, mut total, mut explained) = (0usize, 0usize, 0usize);
    let mut unexplained = Vec::new();
    for (origin, policy) in &policies {
        let mut p = policy.clone();
        // The image scope is Falco's own annotation; the IR evaluator judges every pod.
        p.images.clear();
        let emitted = emit(std::slice::from_ref(&p), Flavor::Modern);
        let rules = RulesFile::from_text(&emitted.stdout).unwrap();
        let lossy: BTreeSet<String> = emitted
            .fidelity
            .iter()
            .filter(|e| e.fidelity != Fidelity::Exact)
            .map(|e| e.field.clone())
            .collect();
        let fields: BTreeSet<String> = emitted.fidelity.iter().map(|e| e.field.clone()).collect();
        for (path, event, pod) in &pods {
            let ir: BTreeSet<String> = polytrans::eval::admits(&p, pod)
                .iter()
                .map(|v| violation_field(&v.field))
                .collect();
            let fired: BTreeSet<String> = rules.fired(event).into_iter().map(rule_field).collect();
            for f in fields.iter().chain(ir.iter()).collect::<BTreeSet<_>>() {
                total += 1;
                if ir.contains(f) == fired.contains(f) {
                    agree += 1;
                } else if lossy.contains(f) {
                    explained += 1;
                } else {
                    unexplained.push(format!(
                        "{origin} ({}) {f}: ir violated={}, falco fired={} on {}",
                        p.name,
                        ir.contains(f),
                        fired.contains(f),
                        path.display()
                    ));
                }
            }
        }
    }
    println!(
        "falco differential vs IR evaluator: {agree}/{total} agree, {explained} explained by fidelity, unexplained={} ({} policies x {} distinct PSA pods)",
        unexplained.len(),
        policies.len(),
        pods.len()
    );
    for u in unexplained.iter().take(20) {
        println!("  unexplained: {u}");
    }
    assert!(unexplained.is_empty(), "{} unexplained", unexplained.len());
}

/// Every golden Falco file parses with the condition grammar; the modern ones use only fields
/// the k8saudit and json plugins provide, with the operators Falco accepts on list fields, and
/// carry today's header.
#[test]
fn golden_rules_parse_and_use_known_fields() {
    let Some(shared) = common::shared() else {
        return;
    };
    let k8s = falco_engine::allowed_fields(&shared);
    let sys = falco_engine::syscall_fields(&shared);
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden");
    let mut n = 0;
    for f in common::files_under(&golden, &["yaml"]) {
        let file = f.file_name().unwrap().to_str().unwrap();
        if file != "falco.yaml" && file != "falco-legacy.yaml" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let rules = RulesFile::from_text(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        n += 1;
        if file == "falco.yaml" {
            assert_eq!(rules.required_engine_version, Some(15), "{}", f.display());
            assert!(
                rules
                    .plugins
                    .contains(&("k8saudit".into(), "0.18.0".into()))
                    && rules.plugins.iter().any(|(p, _)| p == "json"),
                "{}: {:?}",
                f.display(),
                rules.plugins
            );
            let problems = falco_engine::check_fields(&rules, &k8s, &sys);
            assert!(problems.is_empty(), "{}: {problems:#?}", f.display());
            assert!(rules.rules.iter().all(|r| r.source == "k8s_audit"));
        } else {
            // Legacy k8s-audit rules target Falco <= 0.31's built-in fields (they no longer
            // load); its syscall rules must still name fields today's Falco has.
            let syscall = RulesFile {
                rules: rules
                    .rules
                    .iter()
                    .filter(|r| r.source == "syscall")
                    .cloned()
                    .collect(),
                ..Default::default()
            };
            let problems = falco_engine::check_fields(&syscall, &k8s, &sys);
            assert!(problems.is_empty(), "{}: {problems:#?}", f.display());
        }
    }
    assert!(n >= 10, "{n} golden falco files");
    println!("golden falco files parsed: {n}");
}

/// The engine's `json.value` follows the json plugin's extractor (its own test cases, read as
/// reference: strings as text, numbers as written, `~0`/`~1` unescaped, a pointer without a
/// leading `/` looked up as a key) and fastjson's lookup (array indexes as Go's `Atoi`, other
/// values as compact JSON); `glob` follows `fnmatch`.
#[test]
fn json_plugin_extraction_and_glob() {
    use falco_engine::{glob_match, json_value};
    let ev = serde_json::json!({
        "list": [{"intvalue": 1, "floatvalue": 2.5}],
        "value": "hello",
        "~/escaped": "hello\"2",
        "obj": {"a": [true, null]},
        "nothing": null,
    });
    let cases: &[(&str, Option<&str>)] = &[
        ("invalid_pointer", None),
        ("value", Some("hello")),
        ("/value", Some("hello")),
        ("/list/0/intvalue", Some("1")),
        ("/list/0/floatvalue", Some("2.5")),
        ("/list/00/intvalue", Some("1")),
        ("/list/+0/intvalue", Some("1")),
        ("/list/1", None),
        ("/list/-1", None),
        ("/list/x", None),
        ("/~0~1escaped", Some("hello\"2")),
        ("/obj", Some(r#"{"a":[true,null]}"#)),
        ("/obj/a/0", Some("true")),
        ("/obj/a/1", Some("null")),
        ("/nothing", Some("null")),
        ("/value/0", None),
        ("", None),
    ];
    for (ptr, want) in cases {
        assert_eq!(json_value(&ev, ptr).as_deref(), *want, "json.value[{ptr}]");
    }
    for (pattern, text, want) in [
        ("[0-9][0-9]", "42", true),
        ("[0-9][0-9]", "420", false),
        ("[0-9][0-9]", "-4", false),
        ("*.log", "a.log", true),
        ("a?c", "abc", true),
        ("[!a]x", "bx", true),
        ("[!a]x", "ax", false),
        ("[]]", "]", true),
        ("\\*", "*", true),
        ("\\*", "a", false),
        ("[a", "[a", true),
    ] {
        assert_eq!(glob_match(pattern, text), want, "{text:?} glob {pattern:?}");
    }
}

//! The layering of `src/`: load → front → IR → scope → backends → render, arrows only down.
//! Reads every source file's `crate::…` references (comments left out) and fails when
//! - a backend (`src/backend/`) reaches `crate::cli`, `crate::front`, `crate::load` or
//!   `crate::pipeline` (backends take IR + scope + their own plain options), or
//! - a backend names another backend's module (`super::kyverno::…`): what several share lives
//!   in `backend/mod.rs` or a shared module that is no target (`backend/cel_expr.rs`), or
//! - any module can reach itself (a dependency cycle; the command layer `cli`, `check`, `diff`,
//!   `pipeline` included), or
//! - a module other than `cli` (and the crate root and `main`) names `clap`: clap types stay in
//!   `cli.rs`, which maps them onto plain options.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module of a source file: `src/backend/kyverno.rs` → `backend`.
fn module_of(rel: &Path) -> String {
    let first = rel.iter().next().unwrap().to_str().unwrap();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules a file's code names through `crate::`.
fn references(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    out.insert(name);
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.insert(name);
            }
        }
    }
    // Types re-exported by lib.rs (`Error`, `Outcome`) name the crate root, not a module.
    out.retain(|n| n.chars().next().is_some_and(|c| c.is_ascii_lowercase()));
    out
}

/// The backend modules that are targets (each one backend's code); `backend/mod.rs` and
/// `backend/cel_expr.rs` are shared by several.
const BACKENDS: &[&str] = &[
    "cel",
    "falco",
    "gatekeeper",
    "ir",
    "kubewarden",
    "kyverno",
    "psa",
    "pss",
];

/// Another backend a file under `src/backend/` names (`super::X::`, `super::super::X::`,
/// `backend::X::`), if any.
fn other_backend(rel: &Path, text: &str) -> Option<String> {
    let own = rel.iter().nth(1)?.to_str()?.trim_end_matches(".rs");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .find_map(|code| {
            BACKENDS.iter().find_map(|b| {
                let hit = *b != own
                    && ["super::", "backend::"]
                        .iter()
                        .any(|p| code.contains(&format!("{p}{b}::")));
                hit.then(|| b.to_string())
            })
        })
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn arrows_point_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let module = module_of(rel);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        if module != "cli"
            && text
                .lines()
                .any(|l| l.split("//").next().unwrap_or("").contains("clap::"))
        {
            failures.push(format!("{} names clap: only cli.rs may", rel.display()));
        }
        let refs = references(&text);
        if module == "backend" {
            if let Some(other) = other_backend(rel, &text) {
                failures.push(format!(
                    "{} names the `{other}` backend: share code through backend/mod.rs or a shared module",
                    rel.display()
                ));
            }
            for bad in ["cli", "front", "load", "pipeline"] {
                if refs.contains(bad) {
                    failures.push(format!(
                        "{} reaches crate::{bad}: backends take IR + scope + plain options",
                        rel.display()
                    ));
                }
            }
        }
        graph
            .entry(module.clone())
            .or_default()
            .extend(refs.into_iter().filter(|r| *r != module));
    }
    // Modules that can reach themselves, and through which path.
    let reaches = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(m) = stack.pop() {
            for n in graph.get(&m).into_iter().flatten() {
                if seen.insert(n.clone()) {
                    stack.push(n.clone());
                }
            }
        }
        seen
    };
    let command_layer = ["cli", "check", "diff", "pipeline"];
    let mut cycles = Vec::new();
    for m in graph.keys() {
        if reaches(m).contains(m) {
            cycles.push(m.clone());
        }
    }
    // No module may reach itself (the command layer least of all).
    for m in &cycles {
        let layer = if command_layer.contains(&m.as_str()) {
            " (command layer)"
        } else {
            ""
        };
        failures.push(format!(
            "`{m}`{layer} is in a dependency cycle: {:?}",
            graph[m]
        ));
    }
    println!(
        "layering: {} modules, {} files; modules in a cycle: {}",
        graph.len(),
        files.len(),
        if cycles.is_empty() {
            "none".to_string()
        } else {
            cycles.join(", ")
        }
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

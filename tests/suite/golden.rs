//! The golden test: every `golden/<case>/` is run through the CLI and each expected file it
//! holds is compared with fresh output. `BLESS=1 cargo test --test golden` rewrites them (refused
//! under `CI=true`); `BLESS=new` also writes the outputs of every target that succeeds, so a new
//! backend fills in every case (review each blessed diff as a PR).
//!
//! A case folder holds:
//! - inputs: `psp.yaml` and `*.input.yaml` files, and/or `inputs.txt` naming upstream data read
//!   in place (`shared <path under the shared folder>`, or `seed <file> <n>` for the n-th fenced
//!   block of a seed document, fed through stdin);
//! - `args.txt` (optional): extra arguments for every command of the case;
//! - expected outputs: the files registered by the backends (`polytrans::backend::golden_files`).
//!
//! A case with no input or no expected output, or a file of no known role, fails the test.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const META_FILES: &[&str] = &[
    "inputs.txt",
    "args.txt",
    "README.md",
    "existing.yaml",
    "old.yaml",
    "new.yaml",
];

/// Outputs of `polytrans diff old.yaml new.yaml` for cases holding both.
const DIFF_FILES: &[(&str, &[&str])] = &[
    ("diff.txt", &["--format", "text"]),
    ("diff.md", &["--format", "markdown"]),
    ("diff.json", &["--format", "json"]),
];

/// Drift outputs: exit code, stdout and stderr of `--diff existing.yaml --check`.
const DRIFT_FILES: &[(&str, &[&str])] = &[(
    "drift.run.txt",
    &[
        "--to",
        "ir",
        "--diff",
        "existing.yaml",
        "--check",
        "--color",
        "never",
    ],
)];

fn is_local_input(name: &str) -> bool {
    name == "psp.yaml" || name.ends_with(".input.yaml")
}

#[derive(Clone)]
struct Case {
    dir: PathBuf,
    cwd: PathBuf,
    is_diff: bool,
    inputs: Vec<String>,
    stdin: Option<String>,
    args: Vec<String>,
}

/// Why a case cannot run here: it reads upstream data and the shared folder is absent.
const NEEDS_SHARED: &str = "needs the shared folder";

fn read_case(dir: &Path, shared: Option<&Path>) -> Result<Case, String> {
    let mut local = Vec::new();
    let mut shared_refs = Vec::new();
    let mut stdin = String::new();
    if let Ok(refs) = std::fs::read_to_string(dir.join("inputs.txt")) {
        for line in refs
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["shared", path] => {
                    let Some(shared) = shared else {
                        return Err(NEEDS_SHARED.into());
                    };
                    if !shared.join(path).exists() {
                        return Err(format!(
                            "inputs.txt: {path} not found under the shared folder"
                        ));
                    }
                    shared_refs.push(path.to_string());
                }
                ["seed", file, n] => {
                    let Some(shared) = shared else {
                        return Err(NEEDS_SHARED.into());
                    };
                    let text = std::fs::read_to_string(shared.join("seeds").join(file))
                        .map_err(|e| format!("seed {file}: {e}"))?;
                    let block =
                        common::fenced_block(&text, n.parse().map_err(|_| "bad block number")?)
                            .ok_or_else(|| format!("seed {file} has no block {n}"))?;
                    if !stdin.is_empty() {
                        stdin.push_str("---\n");
                    }
                    stdin.push_str(&block);
                }
                _ => return Err(format!("inputs.txt: cannot read line `{line}`")),
            }
        }
    }
    let known: Vec<&str> = polytrans::backend::golden_files()
        .iter()
        .chain(DIFF_FILES.iter())
        .chain(DRIFT_FILES.iter())
        .map(|(f, _)| *f)
        .collect();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in &names {
        if is_local_input(n) {
            local.push(n.clone());
        } else if !META_FILES.contains(&n.as_str()) && !known.contains(&n.as_str()) {
            return Err(format!(
                "unknown file `{n}` (not an input, not a registered output)"
            ));
        }
    }
    if !local.is_empty() && !shared_refs.is_empty() {
        return Err("mixes local inputs and shared references".into());
    }
    let (cwd, mut inputs) = match shared {
        Some(shared) if !shared_refs.is_empty() => (shared.to_path_buf(), shared_refs),
        _ => (dir.to_path_buf(), local),
    };
    if !stdin.is_empty() {
        inputs.push("-".into());
    }
    let is_diff = dir.join("old.yaml").exists() && dir.join("new.yaml").exists();
    if is_diff {
        inputs = vec!["old.yaml".into(), "new.yaml".into()];
    }
    if inputs.is_empty() {
        return Err("no input".into());
    }
    let args = std::fs::read_to_string(dir.join("args.txt"))
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    Ok(Case {
        dir: dir.to_path_buf(),
        cwd,
        is_diff,
        inputs,
        stdin: (!stdin.is_empty()).then_some(stdin),
        args,
    })
}

fn run(case: &Case, target_args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_polytrans"));
    cmd.current_dir(&case.cwd)
        .arg(if case.is_diff { "diff" } else { "psp" })
        .args(&case.inputs)
        .args(&case.args)
        .args(target_args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run polytrans");
    {
        use std::io::Write;
        let mut si = child.stdin.take().unwrap();
        if let Some(s) = &case.stdin {
            si.write_all(s.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A copy of `templates/` in a temporary folder, for `--templates`.
fn copied_templates() -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let dst = std::env::temp_dir().join(format!("polytrans-templates-{}", std::process::id()));
    for f in common::files_under(&src, &["j2"]) {
        let to = dst.join(f.strip_prefix(&src).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, &to).unwrap();
    }
    dst
}

#[test]
fn golden_cases() {
    // Cases that read only local inputs run without the shared folder (which is required under
    // CI=true: `common::shared` fails there when it is missing).
    let shared = common::shared();
    let shared = shared.as_deref();
    let templates = copied_templates();
    let mut through_templates = 0;
    let mut skipped = 0;
    // BLESS=1 rewrites the expected files a case holds; BLESS=new also creates the missing ones
    // for every target that succeeds.
    let bless_new = std::env::var("BLESS").is_ok_and(|v| v == "new");
    let bless = bless_new || std::env::var("BLESS").is_ok_and(|v| v == "1");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!(bless && ci), "BLESS=1 is refused under CI=true");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("golden/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no golden cases found");
    let mut failures = Vec::new();
    let mut checked = 0;
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let case = match read_case(dir, shared) {
            Ok(c) => c,
            Err(e) if e == NEEDS_SHARED => {
                skipped += 1;
                continue;
            }
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let mut outputs = 0;
        let registry: Vec<(&str, &[&str])> = if case.is_diff {
            DIFF_FILES.to_vec()
        } else if case.dir.join("existing.yaml").exists() {
            DRIFT_FILES.to_vec()
        } else {
            polytrans::backend::golden_files()
        };
        for (file, args) in registry {
            let path = case.dir.join(file);
            if !path.exists() && !bless_new {
                continue;
            }
            let (code, mut stdout, stderr) = run(&case, args);
            let code = if file.ends_with(".run.txt") {
                // Commands whose exit code and diagnostics are part of the expectation.
                stdout = format!("exit: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}");
                0
            } else if case.is_diff {
                // `--fail-on` is exercised separately; the report is what is compared here.
                if code == 1 { 0 } else { code }
            } else {
                code
            };
            if bless {
                if code == 0 {
                    std::fs::write(&path, &stdout).unwrap();
                    outputs += 1;
                } else if path.exists() {
                    failures.push(format!("{name}/{file}: exit {code}\n{stderr}"));
                }
                continue;
            }
            outputs += 1;
            checked += 1;
            if code != 0 {
                failures.push(format!("{name}/{file}: exit {code}\n{stderr}"));
                continue;
            }
            let expected = std::fs::read_to_string(&path).unwrap();
            if !case.is_diff && case.inputs.len() > 1 {
                // Deterministic whatever the order of the inputs.
                let mut shuffled = Case {
                    inputs: case.inputs.iter().rev().cloned().collect(),
                    ..case.clone()
                };
                shuffled.stdin = case.stdin.clone();
                let (_, again, _) = run(&shuffled, args);
                if again != stdout {
                    failures.push(format!("{name}/{file}: output depends on the input order"));
                }
            }
            if !case.is_diff && !file.ends_with(".run.txt") {
                // The same through a copy of the embedded templates (`--templates DIR`).
                let mut args_t: Vec<&str> = args.to_vec();
                let t = templates.to_str().unwrap();
                args_t.extend(["--templates", t]);
                let (_, via, _) = run(&case, &args_t);
                through_templates += 1;
                if via != stdout {
                    failures.push(format!(
                        "{name}/{file}: output differs through `--templates` (a copy of templates/)"
                    ));
                }
            }
            if expected != stdout {
                let diff = similar::TextDiff::from_lines(&expected, &stdout)
                    .unified_diff()
                    .header("expected", "actual")
                    .to_string();
                failures.push(format!(
                    "{name}/{file} differs (BLESS=1 to accept):\n{diff}"
                ));
            }
        }
        if outputs == 0 {
            failures.push(format!("{name}: no expected output"));
        }
    }
    std::fs::remove_dir_all(&templates).ok();
    println!(
        "golden: {} cases, {checked} outputs checked, {through_templates} also through a copied --templates folder{}",
        dirs.len(),
        if skipped > 0 {
            format!("; {skipped} cases skipped (they read the shared folder, absent here)")
        } else {
            String::new()
        }
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn harness_rejects_malformed_cases() {
    let shared = common::shared();
    let shared = shared.as_deref();
    let tmp = std::env::temp_dir().join(format!("polytrans-golden-{}", std::process::id()));
    let empty = tmp.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_eq!(read_case(&empty, shared).err().as_deref(), Some("no input"));
    let stray = tmp.join("stray");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("psp.yaml"), "kind: PodSecurityPolicy\n").unwrap();
    std::fs::write(stray.join("notes.txt"), "hello").unwrap();
    assert!(
        read_case(&stray, shared)
            .err()
            .is_some_and(|e| e.contains("unknown file `notes.txt`"))
    );
    let bad_ref = tmp.join("bad-ref");
    std::fs::create_dir_all(&bad_ref).unwrap();
    std::fs::write(bad_ref.join("inputs.txt"), "shared no/such/file.yaml\n").unwrap();
    assert!(read_case(&bad_ref, shared).is_err());
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// `--templates DIR` reshapes the documents, not only the header: a copy of the templates whose
/// Kyverno and Gatekeeper templates add a label to every ClusterPolicy, constraint and mutator
/// yields exactly the default documents plus that label (RBAC-scoped and defaulting cases, so
/// `match`, `exclude`, preconditions, mutators and `podSecurity` are all laid out by it).
#[test]
fn templates_reshape_kyverno_and_gatekeeper_documents() {
    let dir = common::tempdir("golden", "reshape");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    for f in common::files_under(&src, &["j2"]) {
        let to = dir.join(f.strip_prefix(&src).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, &to).unwrap();
    }
    let label = "\n  labels:\n    example.com/team: \"platform\"\n";
    for (file, name_line) in [
        (
            "kyverno/clusterpolicy.yaml.j2",
            "\n  name:{{ policy.name | yaml(2) }}\n",
        ),
        (
            "gatekeeper/constraints.yaml.j2",
            "\n  name:{{ name | yaml(2) }}\n",
        ),
    ] {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(name_line).count(), 1, "{file}: {name_line:?}");
        let reshaped = text.replace(name_line, &format!("{}{label}", name_line.trim_end()));
        std::fs::write(&path, reshaped).unwrap();
    }
    let t = dir.to_str().unwrap();
    let mut documents = 0;
    for (case, inputs) in [
        ("kyverno-rbac", &["psp.yaml", "rbac.input.yaml"][..]),
        ("gatekeeper-rbac", &["psp.yaml", "rbac.input.yaml"][..]),
        ("kyverno-defaults", &["psp.yaml"][..]),
        ("kyverno-pod-security", &["psp.yaml"][..]),
    ] {
        let inputs: Vec<String> = inputs
            .iter()
            .map(|i| format!("golden/{case}/{i}"))
            .collect();
        for target in [
            &["--to", "kyverno"][..],
            &["--to", "kyverno", "--kyverno-style", "rules"],
            &["--to", "gatekeeper"],
        ] {
            let mut args = vec!["psp"];
            args.extend(inputs.iter().map(String::as_str));
            args.extend(target);
            let (code, plain, err) = common::run_polytrans(&args, "");
            assert_eq!(code, 0, "{case} {target:?}: {err}");
            args.extend(["--templates", t]);
            let (code, shaped, err) = common::run_polytrans(&args, "");
            assert_eq!(code, 0, "{case} {target:?}: {err}");
            let plain = polytrans::load::yaml_documents(&plain).unwrap();
            let shaped = polytrans::load::yaml_documents(&shaped).unwrap();
            let plain: Vec<_> = plain.into_iter().filter(|d| !d.is_null()).collect();
            let shaped: Vec<_> = shaped.into_iter().filter(|d| !d.is_null()).collect();
            assert_eq!(plain.len(), shaped.len(), "{case} {target:?}");
            assert!(!plain.is_empty(), "{case} {target:?}");
            for (mut p, s) in plain.into_iter().zip(shaped) {
                // polytrans's own ConstraintTemplates have templates of their own.
                if p["kind"] == "ConstraintTemplate" {
                    assert_eq!(p, s, "{case} {target:?}");
                    continue;
                }
                assert!(p["metadata"].get("labels").is_none(), "{case} {target:?}");
                p["metadata"]["labels"] = serde_json::json!({"example.com/team": "platform"});
                assert_eq!(p, s, "{case} {target:?}");
                documents += 1;
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    println!(
        "templates: {documents} Kyverno and Gatekeeper documents reshaped through --templates"
    );
}

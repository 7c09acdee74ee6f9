//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The shared fixtures folder: `$POLYTRANS_SHARED`, else `../shared`. Under `CI=true` a missing
/// folder fails the test; elsewhere the test is skipped with a message.
pub fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("POLYTRANS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.join("conformance").is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "shared fixtures not found at {} (set POLYTRANS_SHARED); required under CI=true",
            dir.display()
        );
    }
    eprintln!("skipping: shared fixtures not found at {}", dir.display());
    None
}

/// Every file below `dir` with one of the extensions, sorted.
pub fn files_under(dir: &std::path::Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| exts.contains(&x))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Loads the single pod in a file.
pub fn load_pod(path: &std::path::Path) -> polytrans::pod::FoundPod {
    let objs = polytrans::load::load_paths(&[path.to_path_buf()], &Default::default())
        .unwrap_or_else(|d| panic!("{}: {d}", path.display()));
    let obj = objs
        .iter()
        .find(|o| polytrans::pod::template_path(&o.kind).is_some())
        .unwrap_or_else(|| panic!("{}: no pod", path.display()));
    polytrans::pod::pod_of(obj)
        .unwrap()
        .unwrap_or_else(|d| panic!("{d}"))
}

/// A PSA testdata fixture: level, version, expected verdict, path.
pub struct PsaCase {
    pub level: polytrans::ir::Level,
    pub minor: u32,
    pub pass: bool,
    pub path: PathBuf,
}

/// Every PSA testdata fixture, sorted.
pub fn psa_cases(shared: &std::path::Path) -> Vec<PsaCase> {
    let root = shared.join("conformance/psa/testdata");
    files_under(&root, &["yaml"])
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&root).unwrap();
            let parts: Vec<&str> = rel.iter().map(|s| s.to_str().unwrap()).collect();
            PsaCase {
                level: polytrans::ir::Level::parse(parts[0]).unwrap(),
                minor: parts[1].trim_start_matches("v1.").parse().unwrap(),
                pass: parts[2] == "pass",
                path,
            }
        })
        .collect()
}

/// One psp-migration per-field case: its PSP (lowered) and its pods with the expected verdict.
pub struct MigrationCase {
    pub name: String,
    pub dir: PathBuf,
    pub policy: polytrans::ir::Policy,
    /// (`allowed.yaml` or `disallowed.yaml`, expected admitted, the pod).
    pub pods: Vec<(&'static str, bool, polytrans::pod::FoundPod)>,
}

/// Every case under `conformance/psp-migration/tests/`, sorted by name.
pub fn migration_cases(shared: &std::path::Path) -> Vec<MigrationCase> {
    let root = shared.join("conformance/psp-migration/tests");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_str().unwrap().to_string();
            let objs = polytrans::load::load_paths(&[dir.join("psp.yaml")], &Default::default())
                .unwrap_or_else(|d| panic!("{d}"));
            let (mut policies, _) =
                polytrans::front::psp::lower_all(&objs).unwrap_or_else(|d| panic!("{name}: {d}"));
            assert_eq!(policies.len(), 1, "{name}");
            let pods = [("allowed.yaml", true), ("disallowed.yaml", false)]
                .into_iter()
                .map(|(file, admit)| (file, admit, load_pod(&dir.join(file))))
                .collect();
            MigrationCase {
                name,
                dir,
                policy: policies.remove(0),
                pods,
            }
        })
        .collect()
}

/// Runs the `polytrans` binary (from the crate folder) with `args`, `stdin` on its standard
/// input; returns the exit code, stdout and stderr.
pub fn run_polytrans(args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_polytrans"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The n-th (1-based) fenced code block of a Markdown text.
pub fn fenced_block(text: &str, n: usize) -> Option<String> {
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            match cur.take() {
                Some(b) => blocks.push(b),
                None => cur = Some(String::new()),
            }
        } else if let Some(b) = cur.as_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    blocks.into_iter().nth(n.checked_sub(1)?)
}

/// The PSPs the differential tests judge: the Kubernetes example PSPs (lowered from
/// `conformance/psp-examples`), then every golden case's IR (`golden/*/ir.yaml`: the examples at
/// several upstream versions, the seeds, RBAC cases). Returns the policies and how many of them
/// are examples.
pub fn example_and_golden_policies(
    shared: &std::path::Path,
) -> (Vec<polytrans::ir::Policy>, usize) {
    let mut policies = Vec::new();
    for f in files_under(&shared.join("conformance/psp-examples"), &["yaml"]) {
        let objs =
            polytrans::load::load_paths(std::slice::from_ref(&f), &Default::default()).unwrap();
        policies.extend(polytrans::front::psp::lower_all(&objs).unwrap().0);
    }
    let examples = policies.len();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    for f in files_under(&root, &["yaml"]) {
        if f.file_name().and_then(|n| n.to_str()) != Some("ir.yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let doc: polytrans::ir::IrDocument =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        policies.extend(doc.policies);
    }
    (policies, examples)
}

/// A fenced code block of a Markdown text: its info string (`console`, `yaml`, …), the 0-based
/// line indexes of its opening and closing fences, and its lines.
pub struct Fenced {
    pub info: String,
    pub open: usize,
    pub close: usize,
    pub lines: Vec<String>,
}

/// Every fenced code block of a Markdown text, with its info string and position.
pub fn fenced_blocks(text: &str) -> Vec<Fenced> {
    let mut blocks = Vec::new();
    let mut cur: Option<Fenced> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(info) = t.strip_prefix("```") {
            match cur.take() {
                Some(mut b) => {
                    b.close = i;
                    blocks.push(b);
                }
                None => {
                    cur = Some(Fenced {
                        info: info.trim().to_string(),
                        open: i,
                        close: i,
                        lines: Vec::new(),
                    })
                }
            }
        } else if let Some(b) = cur.as_mut() {
            b.lines.push(line.to_string());
        }
    }
    blocks
}

/// Prints `label: agree/total` and each mismatch, then fails on a mismatch that no `known`
/// prefix names, or when `agree` falls below `min` (a ratchet: known failures are listed by
/// name, the count only goes up).
pub fn assert_ratchet<'k>(
    label: &str,
    (agree, total): (usize, usize),
    failures: &[String],
    known: impl IntoIterator<Item = &'k str> + Clone,
    min: usize,
) {
    println!("{label}: {agree}/{total}");
    for f in failures {
        println!("  mismatch: {f}");
    }
    let unexpected: Vec<&String> = failures
        .iter()
        .filter(|f| !known.clone().into_iter().any(|k| f.starts_with(k)))
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected mismatches: {unexpected:#?}"
    );
    assert!(agree >= min, "ratchet: {label} reached {min}, now {agree}");
}

/// Runs the built binary in `dir` (no colour): exit code, stdout, stderr.
pub fn polytrans_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_polytrans"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh, empty temporary folder `polytrans-<area>-<name>-<pid>` (the tests of one binary run
/// in parallel threads: `area` and `name` keep them apart).
pub fn tempdir(area: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("polytrans-{area}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `git` in `dir` with a fixed author; fails the test when it fails.
pub fn git(dir: &std::path::Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok, "git {args:?}");
}

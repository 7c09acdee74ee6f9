//! Command-line behaviour: exit codes, `--check`/`--write`/`-o`, `polytrans diff` options,
//! completions and the man page.

use crate::common::{self, git as git_in, polytrans_in as polytrans};
use std::path::{Path, PathBuf};
use std::process::Command;

fn tempdir(name: &str) -> PathBuf {
    common::tempdir("cli", name)
}

fn golden(case: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(case)
        .join(file)
}

#[test]
fn exit_codes() {
    let d = tempdir("exit");
    std::fs::copy(golden("diff-level-down", "old.yaml"), d.join("psp.yaml")).unwrap();
    assert_eq!(polytrans(&d, &["psp", "psp.yaml", "--to", "ir"]).0, 0);
    assert_eq!(polytrans(&d, &["psp", "missing.yaml", "--to", "ir"]).0, 2);
    assert_eq!(polytrans(&d, &["psp", "psp.yaml", "--to", "bogus"]).0, 2);
    assert_eq!(polytrans(&d, &["psp"]).0, 2);
    // --help documents the exit codes
    let (code, help, _) = polytrans(&d, &["--help"]);
    assert_eq!(code, 0);
    assert!(help.contains("Exit codes:"), "{help}");
}

#[test]
fn check_write_and_output_dir() {
    let d = tempdir("check");
    std::fs::copy(golden("diff-level-down", "old.yaml"), d.join("psp.yaml")).unwrap();
    // -o FILE then --check against it: clean
    assert_eq!(
        polytrans(&d, &["psp", "psp.yaml", "--to", "ir", "-o", "out/ir.yaml"]).0,
        0
    );
    assert_eq!(
        polytrans(
            &d,
            &[
                "psp",
                "psp.yaml",
                "--to",
                "ir",
                "-o",
                "out/ir.yaml",
                "--check"
            ]
        )
        .0,
        0
    );
    // change the input: --check reports drift with exit 1 and never writes
    let before = std::fs::read_to_string(d.join("out/ir.yaml")).unwrap();
    std::fs::write(
        d.join("psp.yaml"),
        std::fs::read_to_string(d.join("psp.yaml"))
            .unwrap()
            .replace("hostNetwork: false", "hostNetwork: true"),
    )
    .unwrap();
    let (code, stdout, stderr) = polytrans(
        &d,
        &[
            "psp",
            "psp.yaml",
            "--to",
            "ir",
            "--diff",
            "out/ir.yaml",
            "--check",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("+      allowed: true"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(d.join("out/ir.yaml")).unwrap(),
        before
    );
    // --write updates in place, then --check is clean
    assert_eq!(
        polytrans(
            &d,
            &[
                "psp",
                "psp.yaml",
                "--to",
                "ir",
                "--diff",
                "out/ir.yaml",
                "--write"
            ]
        )
        .0,
        0
    );
    assert_eq!(
        polytrans(
            &d,
            &[
                "psp",
                "psp.yaml",
                "--to",
                "ir",
                "--diff",
                "out/ir.yaml",
                "--check"
            ]
        )
        .0,
        0
    );
    // -o DIR/ writes one file per policy with a stable name; no temp files left behind
    assert_eq!(
        polytrans(&d, &["psp", "psp.yaml", "--to", "ir", "-o", "gitops/"]).0,
        0
    );
    assert!(d.join("gitops/ir/app.yaml").is_file());
    let leftovers: Vec<_> = std::fs::read_dir(d.join("gitops/ir"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    // invalid input: nothing written
    std::fs::write(d.join("bad.yaml"), "kind: PodSecurityPolicy\nspec: [\n").unwrap();
    assert_eq!(
        polytrans(&d, &["psp", "bad.yaml", "--to", "ir", "-o", "never.yaml"]).0,
        2
    );
    assert!(!d.join("never.yaml").exists());
    // --check without anything to compare with is a usage error
    assert_eq!(
        polytrans(&d, &["psp", "psp.yaml", "--to", "ir", "--check"]).0,
        2
    );
}

#[test]
fn diff_fail_on() {
    let dir = golden("diff-level-down", "");
    let run = |extra: &[&str]| {
        let mut args = vec!["diff", "old.yaml", "new.yaml"];
        args.extend_from_slice(extra);
        polytrans(&dir, &args).0
    };
    assert_eq!(run(&[]), 1, "a loosened PSP fails by default");
    assert_eq!(run(&["--fail-on", "never"]), 0);
    assert_eq!(run(&["--fail-on", "any"]), 1);
    let up = golden("diff-level-up", "");
    assert_eq!(
        polytrans(&up, &["diff", "old.yaml", "new.yaml"]).0,
        0,
        "tightening passes"
    );
    assert_eq!(
        polytrans(&up, &["diff", "old.yaml", "new.yaml", "--fail-on", "any"]).0,
        1
    );
    assert_eq!(
        polytrans(&up, &["diff", "old.yaml"]).0,
        2,
        "OLD and NEW are needed"
    );
}

#[test]
fn diff_against_git_revision() {
    if Command::new("git").arg("--version").output().is_err() {
        return;
    }
    let d = tempdir("git");
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .current_dir(&d)
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
    };
    git(&["init", "-q"]);
    std::fs::create_dir_all(d.join("policies")).unwrap();
    std::fs::copy(
        golden("diff-level-down", "old.yaml"),
        d.join("policies/app.yaml"),
    )
    .unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "base"]);
    std::fs::copy(
        golden("diff-level-down", "new.yaml"),
        d.join("policies/app.yaml"),
    )
    .unwrap();
    let (code, stdout, stderr) = polytrans(&d, &["diff", "--git", "HEAD", "policies"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("baseline → privileged"), "{stdout}");
    assert!(stdout.contains("loosened   spec.hostNetwork"), "{stdout}");
}

#[test]
fn completions_and_man_page() {
    let d = tempdir("completions");
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, _) = polytrans(&d, &["completions", shell]);
        assert_eq!(code, 0);
        assert!(out.contains("polytrans"), "{shell}");
    }
    let (code, man, _) = polytrans(&d, &["man"]);
    assert_eq!(code, 0);
    assert!(man.contains(".TH polytrans"), "{man}");
}

fn polytrans_stdin(dir: &Path, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_polytrans"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn diff_compares_content_not_position() {
    // `cp a.yaml b.yaml`: unchanged, exit 0 even with --fail-on any.
    let d = tempdir("diff-copy");
    std::fs::copy(golden("diff-level-up", "old.yaml"), d.join("a.yaml")).unwrap();
    std::fs::copy(d.join("a.yaml"), d.join("b.yaml")).unwrap();
    let (code, out, err) = polytrans(&d, &["diff", "a.yaml", "b.yaml", "--fail-on", "any"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        "PodSecurityPolicy changes: 0 changed, 0 added, 0 removed, 1 unchanged\n"
    );
    // The golden unchanged cases: another file, comments, reordered keys.
    let mut cases = 0;
    for case in [
        "diff-unchanged-copy",
        "diff-unchanged-comments",
        "diff-unchanged-reordered",
    ] {
        let dir = golden(case, "");
        let (code, out, err) =
            polytrans(&dir, &["diff", "old.yaml", "new.yaml", "--fail-on", "any"]);
        assert_eq!(code, 0, "{case}: {out}{err}");
        assert!(
            out.contains("0 changed, 0 added, 0 removed, 1 unchanged"),
            "{case}: {out}"
        );
        cases += 1;
    }
    // One field changed: exactly that field.
    let dir = golden("diff-one-field", "");
    let (code, json, _) = polytrans(
        &dir,
        &[
            "diff",
            "old.yaml",
            "new.yaml",
            "--format",
            "json",
            "--fail-on",
            "any",
        ],
    );
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let fields: Vec<&str> = v["changed"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["spec.hostPID"]);
    // JSON keys are camelCase throughout.
    fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    out.push(k.clone());
                    keys(x, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    keys(&v, &mut all);
    assert!(all.iter().all(|k| !k.contains('_')), "{all:?}");
    assert!(all.contains(&"addedLines".to_string()));
    println!(
        "diff unchanged cases: {}/3 exit 0 with --fail-on any",
        cases
    );
}

#[test]
fn diff_git_from_any_folder() {
    if Command::new("git").arg("--version").output().is_err() {
        return;
    }
    let d = tempdir("git-any");
    git_in(&d, &["init", "-q"]);
    std::fs::create_dir_all(d.join("psp")).unwrap();
    std::fs::create_dir_all(d.join("docs/deep")).unwrap();
    std::fs::copy(
        golden("diff-added-removed", "new.yaml"),
        d.join("psp/all.yaml"),
    )
    .unwrap();
    std::fs::write(d.join("docs/deep/x.md"), "x").unwrap();
    git_in(&d, &["add", "."]);
    git_in(&d, &["commit", "-qm", "base"]);
    // A clean tree: every PSP unchanged, from the root, the folder itself and a sibling folder.
    for (cwd, path) in [(".", "psp/"), ("psp", "."), ("docs/deep", "../../psp")] {
        let (code, out, err) = polytrans(
            &d.join(cwd),
            &["diff", "--git", "HEAD", path, "--fail-on", "any"],
        );
        assert_eq!(code, 0, "from {cwd}: {out}{err}");
        assert_eq!(
            out, "PodSecurityPolicy changes: 0 changed, 0 added, 0 removed, 2 unchanged\n",
            "from {cwd}"
        );
    }
    // Moving a PSP to another file is not a change either.
    std::fs::rename(d.join("psp/all.yaml"), d.join("psp/moved.yaml")).unwrap();
    let (code, out, _) = polytrans(
        &d.join("psp"),
        &["diff", "--git", "HEAD", ".", "--fail-on", "any"],
    );
    assert_eq!(
        (code, out.lines().next().unwrap()),
        (
            0,
            "PodSecurityPolicy changes: 0 changed, 0 added, 0 removed, 2 unchanged"
        )
    );
    // A revision that does not exist, and a folder outside any repository.
    let (code, _, err) = polytrans(&d, &["diff", "--git", "nope", "psp/"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("error: `nope` is not a revision of the repository"),
        "{err}"
    );
    let outside = std::env::temp_dir().join(format!("polytrans-no-repo-{}", std::process::id()));
    std::fs::create_dir_all(&outside).unwrap();
    let in_repo = Command::new("git")
        .current_dir(&outside)
        .args(["rev-parse", "--git-dir"])
        .output()
        .unwrap()
        .status
        .success();
    if !in_repo {
        std::fs::copy(
            golden("diff-level-up", "old.yaml"),
            outside.join("psp.yaml"),
        )
        .unwrap();
        let (code, _, err) = polytrans(&outside, &["diff", "--git", "HEAD", "psp.yaml"]);
        assert_eq!(code, 2);
        assert!(err.contains("needs a git repository"), "{err}");
        assert!(err.contains("is not inside one"), "{err}");
    }
}

#[test]
fn strict_formats_versions_and_fields() {
    let d = tempdir("strict");
    std::fs::copy(golden("diff-level-up", "old.yaml"), d.join("psp.yaml")).unwrap();
    // A format the target does not write.
    let (code, out, err) = polytrans(
        &d,
        &["psp", "psp.yaml", "--to", "kyverno", "--format", "json"],
    );
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(
        err,
        "error: `--to kyverno` has no `--format json`; it writes `yaml`\n"
    );
    let (code, _, err) = polytrans(
        &d,
        &["psp", "psp.yaml", "--to", "pss", "--format", "markdown"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("it writes `text`, `yaml`, `json`"), "{err}");
    assert_eq!(
        polytrans(
            &d,
            &["pss", "restricted", "--to", "vap", "--format", "text"]
        )
        .0,
        2
    );
    // A version beyond the catalogue: which one is used.
    let (code, _, err) = polytrans(
        &d,
        &["psp", "psp.yaml", "--to", "pss", "--pss-version", "v1.40"],
    );
    assert_eq!(code, 0);
    assert!(
        err.contains("warning: `--pss-version v1.40` is newer than the Pod Security Standards catalogue; using v1.37"),
        "{err}"
    );
    let (_, _, err) = polytrans(&d, &["pss", "baseline", "--version", "v1.99", "--to", "ir"]);
    assert!(err.contains("`--version v1.99` is newer"), "{err}");
    // An unknown field: a warning, an error under --strict.
    std::fs::write(
        d.join("typo.yaml"),
        std::fs::read_to_string(d.join("psp.yaml"))
            .unwrap()
            .replace(
                "allowPrivilegeEscalation: true",
                "allowPrivilegeEscalaton: true",
            ),
    )
    .unwrap();
    let (code, _, err) = polytrans(&d, &["psp", "typo.yaml", "--to", "ir"]);
    assert_eq!(code, 0);
    assert!(
        err.contains("warning: unknown field `spec.allowPrivilegeEscalaton` is ignored"),
        "{err}"
    );
    let (code, out, err) = polytrans(&d, &["psp", "typo.yaml", "--to", "ir", "--strict"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains(
            "error: unknown field `spec.allowPrivilegeEscalaton` (refused under `--strict`)"
        ),
        "{err}"
    );
    assert!(
        err.contains("help: did you mean `allowPrivilegeEscalation`?"),
        "{err}"
    );
}

#[test]
fn kubectl_habits() {
    let d = tempdir("kubectl");
    let psp = std::fs::read_to_string(golden("diff-level-up", "old.yaml")).unwrap();
    std::fs::write(d.join("psp.yaml"), &psp).unwrap();
    let (_, expected, _) = polytrans(&d, &["psp", "psp.yaml", "--to", "ir"]);
    // stdin when no input is given and stdin is not a terminal.
    let (code, out, err) = polytrans_stdin(&d, &["psp", "--to", "ir"], psp.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, expected.replace("file: psp.yaml", "file: <stdin>"));
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n";
    let (code, _, err) = polytrans_stdin(&d, &["check", "--level", "baseline"], pod.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("checked 1 object"), "{err}");
    // -f/--filename as kubectl spells it.
    let (code, out, err) = polytrans(&d, &["psp", "-f", "psp.yaml", "--to", "ir"]);
    assert_eq!((code, out.as_str()), (0, expected.as_str()), "{err}");
    assert_eq!(
        polytrans(&d, &["psp", "--filename", "psp.yaml", "--to", "ir"]).1,
        expected
    );
    std::fs::write(d.join("pod.yaml"), pod).unwrap();
    assert_eq!(
        polytrans(&d, &["check", "-f", "pod.yaml", "--level", "baseline"]).0,
        0
    );
    // -o json: a warning that -o is the output file, suggesting --format.
    let (code, _, err) = polytrans(&d, &["psp", "psp.yaml", "--to", "ir", "-o", "json"]);
    assert_eq!(code, 0);
    assert!(
        err.contains("warning: `-o json` writes the output to a file named `json`: here `-o` is the output file"),
        "{err}"
    );
    assert!(
        err.contains("help: to print `json`, use `--format json`"),
        "{err}"
    );
    let (_, _, err) = polytrans(&d, &["psp", "psp.yaml", "--to", "kyverno", "-o", "text"]);
    assert!(
        err.contains("`--to kyverno` writes `--format yaml`"),
        "{err}"
    );
    // An intended file does not warn.
    let (_, _, err) = polytrans(&d, &["psp", "psp.yaml", "--to", "ir", "-o", "out.json"]);
    assert!(err.is_empty(), "{err}");
    // UTF-16 with a byte-order mark (PowerShell's `>`), as a file and on stdin, LE and BE.
    let mut le = vec![0xff, 0xfe];
    let mut be = vec![0xfe, 0xff];
    for u in psp.encode_utf16() {
        le.extend_from_slice(&u.to_le_bytes());
        be.extend_from_slice(&u.to_be_bytes());
    }
    std::fs::write(d.join("psp.yaml"), &le).unwrap();
    let (code, out, err) = polytrans(&d, &["psp", "psp.yaml", "--to", "ir"]);
    assert_eq!((code, out.as_str()), (0, expected.as_str()), "{err}");
    std::fs::write(d.join("psp.yaml"), &be).unwrap();
    assert_eq!(
        polytrans(&d, &["psp", "psp.yaml", "--to", "ir"]).1,
        expected
    );
    let (code, out, _) = polytrans_stdin(&d, &["psp", "-", "--to", "ir"], &le);
    assert_eq!(code, 0);
    assert_eq!(out, expected.replace("file: psp.yaml", "file: <stdin>"));
    let json = r#"{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}]}"#;
    let mut json16 = vec![0xff, 0xfe];
    for u in json.encode_utf16() {
        json16.extend_from_slice(&u.to_le_bytes());
    }
    std::fs::write(d.join("pods.json"), &json16).unwrap();
    let (code, _, err) = polytrans(&d, &["check", "pods.json", "--level", "baseline"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("checked 1 object"), "{err}");
}

#[test]
fn help_ends_with_examples_and_groups_limits() {
    let d = tempdir("help");
    let mut n = 0;
    for sub in [
        "psp",
        "pss",
        "check",
        "diff",
        "schema",
        "completions",
        "man",
    ] {
        let (code, help, _) = polytrans(&d, &[sub, "--help"]);
        assert_eq!(code, 0);
        let tail = &help[help
            .rfind("Examples:")
            .unwrap_or_else(|| panic!("{sub}: {help}"))..];
        let examples = tail
            .lines()
            .skip(1)
            .filter(|l| l.starts_with("  polytrans") || l.contains("| polytrans"))
            .count();
        assert!((2..=3).contains(&examples), "{sub}: {tail}");
        assert!(help.contains("Input limits:"), "{sub}: {help}");
        n += 1;
    }
    let (_, help, _) = polytrans(&d, &["psp", "--help"]);
    let limits = &help[help.find("Input limits:").unwrap()..help.find("Examples:").unwrap()];
    assert!(
        limits.contains("--max-input-bytes") && limits.contains("--max-alias-nodes"),
        "{limits}"
    );
    println!("help: {n} subcommands end with examples");
}

//! Command-line behaviour: exit codes, `--check`/`--write`/`-o`, `polytrans diff` options,
//! completions and the man page.

use std::path::{Path, PathBuf};
use std::process::Command;

fn polytrans(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_polytrans"))
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

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("polytrans-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
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

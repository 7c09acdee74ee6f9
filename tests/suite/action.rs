//! The GitHub Action's script (`action/run.sh`, called by `action.yml`) run locally: a temporary
//! git repository stands in for the pull request, and `GITHUB_STEP_SUMMARY`, `GITHUB_OUTPUT` and
//! `RUNNER_TEMP` point at temporary files.

use crate::common::{self, git};
use std::path::{Path, PathBuf};
use std::process::Command;

fn tempdir(name: &str) -> PathBuf {
    common::tempdir("action", name)
}

fn golden(case: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(case)
        .join(file)
}

struct Run {
    code: i32,
    summary: String,
    outputs: String,
    stdout: String,
}

/// Runs the action's script in `repo` with the inputs given as `INPUT_*` variables.
fn run_action(repo: &Path, inputs: &[(&str, &str)]) -> Run {
    let runner = repo.parent().unwrap().join("runner");
    std::fs::create_dir_all(&runner).unwrap();
    let summary = runner.join("summary.md");
    let outputs = runner.join("outputs.txt");
    let _ = std::fs::remove_file(&summary);
    let _ = std::fs::remove_file(&outputs);
    let mut cmd = Command::new("bash");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("action/run.sh"))
        .current_dir(repo)
        .env("POLYTRANS", env!("CARGO_BIN_EXE_polytrans"))
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs)
        .env("RUNNER_TEMP", &runner)
        .env("NO_COLOR", "1");
    for (k, v) in inputs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        outputs: std::fs::read_to_string(&outputs).unwrap_or_default(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
    }
}

#[test]
fn action_script_writes_the_summary_and_exits_as_fail_on_says() {
    if Command::new("git").arg("--version").output().is_err()
        || Command::new("bash").arg("--version").output().is_err()
    {
        eprintln!("skipping: git or bash not found");
        return;
    }
    let root = tempdir("pr");
    let repo = root.join("repo");
    std::fs::create_dir_all(repo.join("psp")).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::copy(
        golden("diff-level-down", "old.yaml"),
        repo.join("psp/app.yaml"),
    )
    .unwrap();
    std::fs::create_dir_all(repo.join("manifests")).unwrap();
    std::fs::write(
        repo.join("manifests/pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  hostNetwork: true\n  containers: [{name: c, image: nginx}]\n",
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "base"]);

    // A clean tree: nothing changed, exit 0 even with fail-on any.
    let clean = run_action(
        &repo,
        &[
            ("INPUT_BASE", "HEAD"),
            ("INPUT_PATHS", "psp/"),
            ("INPUT_FAIL_ON", "any"),
        ],
    );
    assert_eq!(clean.code, 0, "{}", clean.stdout);
    assert!(
        clean
            .summary
            .contains("0 changed, 0 added, 0 removed, 1 unchanged"),
        "{}",
        clean.summary
    );

    // The pull request loosens the PSP.
    std::fs::copy(
        golden("diff-level-down", "new.yaml"),
        repo.join("psp/app.yaml"),
    )
    .unwrap();
    let loosened = run_action(&repo, &[("INPUT_BASE", "HEAD"), ("INPUT_PATHS", "psp/")]);
    assert_eq!(
        loosened.code, 1,
        "fail-on loosen (default)\n{}",
        loosened.stdout
    );
    assert!(
        loosened
            .summary
            .starts_with("### PodSecurityPolicy changes"),
        "{}",
        loosened.summary
    );
    assert!(
        loosened.summary.contains("| `app` | **loosened** |"),
        "{}",
        loosened.summary
    );
    let markdown = loosened
        .outputs
        .lines()
        .find_map(|l| l.strip_prefix("markdown="))
        .expect("markdown output");
    assert_eq!(std::fs::read_to_string(markdown).unwrap(), loosened.summary);
    assert!(loosened.outputs.contains("diff-exit-code=1"));
    let never = run_action(
        &repo,
        &[
            ("INPUT_BASE", "HEAD"),
            ("INPUT_PATHS", "psp/"),
            ("INPUT_FAIL_ON", "never"),
        ],
    );
    assert_eq!(never.code, 0, "{}", never.stdout);

    // The check as SARIF: the pod is rejected at restricted.
    let check = run_action(
        &repo,
        &[
            ("INPUT_BASE", "HEAD"),
            ("INPUT_PATHS", "psp/"),
            ("INPUT_FAIL_ON", "never"),
            ("INPUT_CHECK", "manifests/ --level restricted"),
        ],
    );
    assert_eq!(check.code, 1, "{}", check.stdout);
    let sarif = check
        .outputs
        .lines()
        .find_map(|l| l.strip_prefix("sarif="))
        .expect("sarif output");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sarif).unwrap()).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert!(!v["runs"][0]["results"].as_array().unwrap().is_empty());

    // No base revision, or one that does not exist: exit 2 with an error annotation.
    let no_base = run_action(&repo, &[("INPUT_PATHS", "psp/")]);
    assert_eq!(no_base.code, 2);
    assert!(no_base.stdout.contains("::error"), "{}", no_base.stdout);
    let bad_base = run_action(
        &repo,
        &[("INPUT_BASE", "no-such-rev"), ("INPUT_PATHS", "psp/")],
    );
    assert_eq!(bad_base.code, 2, "{}", bad_base.stdout);
    assert!(
        bad_base.stdout.contains("is not a revision"),
        "{}",
        bad_base.stdout
    );
    println!("action script: summary, outputs and exit codes as --fail-on says");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn action_yml_runs_the_script_from_the_checkout() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("action.yml")).unwrap();
    let action: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(action["runs"]["using"], "composite");
    let steps = action["runs"]["steps"].as_sequence().unwrap();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(
        runs.contains(&"cargo install --locked --path \"$GITHUB_ACTION_PATH\""),
        "{runs:?}"
    );
    assert!(
        runs.iter()
            .any(|r| r.contains("$GITHUB_ACTION_PATH/action/run.sh"))
    );
    // Every input the script reads is declared, and every output the script writes is mapped.
    let script = std::fs::read_to_string(root.join("action/run.sh")).unwrap();
    for input in action["inputs"].as_mapping().unwrap().keys() {
        let name = input.as_str().unwrap();
        if name == "install" {
            continue;
        }
        let var = format!("INPUT_{}", name.to_uppercase().replace('-', "_"));
        assert!(script.contains(&var), "{var} not read by run.sh");
    }
    for output in action["outputs"].as_mapping().unwrap().keys() {
        let name = output.as_str().unwrap();
        assert!(
            script.contains(&format!("echo \"{name}=")),
            "{name} not written by run.sh"
        );
    }
}

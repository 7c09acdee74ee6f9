//! `polytrans check` through the CLI: PSA conformance on every testdata pod, PSA's exact
//! messages (the EKS guide's quotes and one case per check id), and the report formats.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

fn polytrans(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_polytrans"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut si = child.stdin.take().unwrap();
        if let Some(s) = stdin {
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

#[test]
fn psa_testdata_through_the_cli() {
    let Some(shared) = common::shared() else {
        return;
    };
    let root = shared.join("conformance/psa/testdata");
    let mut agree = 0;
    let mut total = 0;
    let mut mismatches = Vec::new();
    for level in ["baseline", "restricted"] {
        for minor in 0..=37 {
            let dir = root.join(level).join(format!("v1.{minor}"));
            let version = format!("v1.{minor}");
            let (code, stdout, stderr) = polytrans(
                &[
                    "check",
                    dir.to_str().unwrap(),
                    "--level",
                    level,
                    "--version",
                    &version,
                    "--format",
                    "json",
                ],
                None,
            );
            assert!(
                code == 0 || code == 1,
                "{level} {version}: exit {code}\n{stderr}"
            );
            let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            let rejected: BTreeSet<String> = report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["verdict"] == "rejected")
                .map(|f| f["file"].as_str().unwrap().to_string())
                .collect();
            for file in common::files_under(&dir, &["yaml"]) {
                total += 1;
                let expect_rejected = file.parent().unwrap().ends_with("fail");
                let got = rejected.contains(file.to_str().unwrap());
                if got == expect_rejected {
                    agree += 1;
                } else {
                    mismatches.push(file.display().to_string());
                }
            }
            assert_eq!(
                report["summary"]["objects"].as_u64().unwrap() as usize,
                common::files_under(&dir, &["yaml"]).len()
            );
        }
    }
    println!("psa testdata (cli): {agree}/{total}");
    assert_eq!(total, 4537);
    assert!(mismatches.is_empty(), "{mismatches:?}");
}

const EKS_POD: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: policy-test
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: test, namespace: policy-test}
spec:
  template:
    spec:
      containers: [{name: test, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: test-688f68dc87-tw587, namespace: policy-test}
spec:
  containers: [{name: test, image: nginx}]
";

#[test]
fn messages_quoted_by_the_eks_guide() {
    let Some(shared) = common::shared() else {
        return;
    };
    let guide = std::fs::read_to_string(shared.join("seeds/004_d154563ee822b5bd.txt")).unwrap();
    // The kubectl warning, verbatim.
    let warning = guide
        .lines()
        .find(|l| l.starts_with("Warning: would violate PodSecurity"))
        .unwrap();
    // The Deployment status condition: a YAML scalar folded over several lines.
    let start = guide
        .find("message: 'pods \"test-688f68dc87-tw587\"")
        .unwrap();
    let quoted = &guide[start + "message: '".len()..];
    let quoted = &quoted[..quoted.find('\'').unwrap()];
    let forbidden: String = quoted.split_whitespace().collect::<Vec<_>>().join(" ");
    let (code, stdout, _) = polytrans(&["check", "-"], Some(EKS_POD));
    assert_eq!(code, 1);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0], format!("<stdin>:8: {warning}"));
    assert_eq!(lines[1], format!("<stdin>:16: {forbidden}"));
    println!("check messages: the EKS guide's warning and rejection reproduced verbatim");
}

/// One failing PSA fixture per check id, judged at latest; the messages are committed in
/// `tests/check/messages.txt` (`BLESS=1` rewrites).
#[test]
fn one_message_per_check_id() {
    let Some(shared) = common::shared() else {
        return;
    };
    let mut out = String::new();
    let mut ids = BTreeSet::new();
    for level in ["baseline", "restricted"] {
        let dir = shared.join(format!("conformance/psa/testdata/{level}/v1.37/fail"));
        for check in polytrans::pss::CHECKS {
            let prefix = check.id.as_str().to_lowercase();
            let Some(file) = common::files_under(&dir, &["yaml"]).into_iter().find(|f| {
                let stem = f.file_stem().unwrap().to_str().unwrap();
                stem.trim_end_matches(|c: char| c.is_ascii_digit()) == prefix
            }) else {
                continue;
            };
            ids.insert(check.id);
            let (_, stdout, _) =
                polytrans(&["check", file.to_str().unwrap(), "--level", level], None);
            let msg = stdout
                .split_once(": ")
                .map(|(_, m)| m)
                .unwrap_or("")
                .trim_end();
            out.push_str(&format!("{level} {}: {msg}\n", check.id));
        }
    }
    assert_eq!(
        ids.len(),
        polytrans::pss::CHECKS.len(),
        "a message for every check id"
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/messages.txt");
    if std::env::var("BLESS").is_ok_and(|v| v == "1") && std::env::var("CI").is_err() {
        std::fs::write(&path, &out).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), out);
    println!("check messages: {} check ids", ids.len());
}

#[test]
fn formats_and_exit_codes() {
    let (code, json, _) = polytrans(&["check", "-", "--format", "json"], Some(EKS_POD));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["summary"]["rejected"], 1);
    assert_eq!(v["summary"]["warnings"], 1);
    // SARIF 2.1.0 shape, as code scanning expects it.
    let (_, sarif, _) = polytrans(&["check", "-", "--format", "sarif"], Some(EKS_POD));
    let s: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let run = &s["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "polytrans");
    let rules: BTreeSet<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for r in run["results"].as_array().unwrap() {
        assert!(rules.contains(r["ruleId"].as_str().unwrap()));
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "<stdin>");
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
    }
    // JUnit: a failure per rejected pod.
    let (_, junit, _) = polytrans(&["check", "-", "--format", "junit"], Some(EKS_POD));
    assert!(junit.starts_with("<?xml"));
    assert_eq!(junit.matches("<failure ").count(), 1);
    assert!(junit.contains("tests=\"2\""));
    // Workloads are rejected only with --workloads-as-pods.
    let (_, text, _) = polytrans(&["check", "-", "--workloads-as-pods"], Some(EKS_POD));
    assert!(text.contains("deployments \"test\" is forbidden"), "{text}");
    // A passing pod: exit 0, no output.
    let ok = "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec: {containers: [{name: c}]}\n";
    assert_eq!(
        polytrans(&["check", "-", "--level", "baseline"], Some(ok)),
        (0, String::new(), String::new())
    );
    // Bad input: exit 2.
    assert_eq!(polytrans(&["check", "-"], Some("kind: Pod\nspec: [")).0, 2);
    // Invalid labels fall back as PSA does, with a warning.
    let bad_label = "kind: Namespace\nmetadata: {name: n, labels: {pod-security.kubernetes.io/enforce: strict}}\n---\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec: {containers: [{name: c}]}\n";
    let (code, out, err) = polytrans(&["check", "-"], Some(bad_label));
    assert_eq!(code, 1, "an invalid enforce level is restricted");
    assert!(out.contains("violates PodSecurity \"restricted:latest\""));
    assert!(err.contains("invalid PSA label"));
}

#[test]
fn judged_against_a_psp() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dir = shared.join("conformance/psp-migration/tests/privileged");
    let psp = dir.join("psp.yaml");
    let (ok, _, _) = polytrans(
        &[
            "check",
            dir.join("allowed.yaml").to_str().unwrap(),
            "--psp",
            psp.to_str().unwrap(),
        ],
        None,
    );
    let (bad, out, _) = polytrans(
        &[
            "check",
            dir.join("disallowed.yaml").to_str().unwrap(),
            "--psp",
            psp.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!((ok, bad), (0, 1), "{out}");
    assert!(
        out.contains("no PodSecurityPolicy admits it: policy: privileged"),
        "{out}"
    );
}

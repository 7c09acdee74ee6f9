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
    assert_eq!(
        lines[0],
        format!("<stdin>:8: Deployment/policy-test/test: {warning}")
    );
    assert_eq!(
        lines[1],
        format!("<stdin>:16: Pod/policy-test/test-688f68dc87-tw587: {forbidden}")
    );
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
            // `file:line: Kind/name: message`
            let msg = stdout.splitn(3, ": ").nth(2).unwrap_or("").trim_end();
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
    // JUnit: one test case per object judged, a failure per rejected one.
    let (_, junit, _) = polytrans(&["check", "-", "--format", "junit"], Some(EKS_POD));
    assert!(junit.starts_with("<?xml"));
    assert_eq!(junit.matches("<failure ").count(), 1);
    assert_eq!(junit.matches("<testcase ").count(), 2);
    assert!(junit.contains("tests=\"2\" failures=\"1\""), "{junit}");
    // Workloads are rejected only with --workloads-as-pods.
    let (_, text, _) = polytrans(&["check", "-", "--workloads-as-pods"], Some(EKS_POD));
    assert!(text.contains("deployments \"test\" is forbidden"), "{text}");
    // A passing pod: exit 0, no output.
    let ok = "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec: {containers: [{name: c}]}\n";
    assert_eq!(
        polytrans(&["check", "-", "--level", "baseline"], Some(ok)),
        (
            0,
            String::new(),
            "checked 1 object at baseline:latest: 0 rejected, 0 warned\n".into()
        )
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

#[test]
fn summary_line_on_stderr() {
    let (code, _, err) = polytrans(&["check", "-"], Some(EKS_POD));
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "checked 2 objects by their namespace's PSA labels: 1 rejected, 1 warned, 0 at the cluster default (privileged) because their namespace has no PSA labels\n"
    );
    // A pod whose namespace has no labels (and one without a namespace: `default`).
    let unlabelled = "kind: Pod\nmetadata: {name: a, namespace: tools}\nspec: {containers: [{name: c}]}\n---\nkind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: c}]}\n";
    let (code, out, err) = polytrans(&["check", "-", "--format", "json"], Some(unlabelled));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("checked 2 objects"), "{err}");
    assert!(err.contains("2 at the cluster default"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["atClusterDefault"], 2);
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);
    // With --level, the level is named.
    let (_, _, err) = polytrans(&["check", "-", "--level", "restricted"], Some(EKS_POD));
    assert!(
        err.starts_with("checked 2 objects at restricted:latest: 1 rejected, 1 warned"),
        "{err}"
    );
    println!("check summary: labels, cluster default and level summaries");
}

#[test]
fn nothing_to_judge_is_an_error() {
    let tmp = std::env::temp_dir().join(format!("polytrans-check-empty-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("no-yaml")).unwrap();
    std::fs::write(tmp.join("no-yaml/notes.txt"), "hello").unwrap();
    std::fs::write(tmp.join("empty.yaml"), "").unwrap();
    std::fs::write(
        tmp.join("ns.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
    )
    .unwrap();
    let mut cases = 0;
    for input in ["no-yaml", "empty.yaml", "ns.yaml"] {
        for format in ["text", "json", "junit", "sarif"] {
            let path = tmp.join(input);
            let (code, out, err) =
                polytrans(&["check", path.to_str().unwrap(), "--format", format], None);
            assert_eq!(code, 2, "{input} {format}: {err}");
            assert!(out.is_empty(), "{input} {format}: wrote {out}");
            assert!(
                err.contains("error: no Pod or workload to judge in the input"),
                "{input}: {err}"
            );
            cases += 1;
        }
    }
    let (code, _, err) = polytrans(&["check", "-"], Some(""));
    assert_eq!(code, 2, "{err}");
    let (_, _, err) = polytrans(&["check", tmp.join("ns.yaml").to_str().unwrap()], None);
    assert!(err.contains("kinds found: Namespace"), "{err}");
    std::fs::remove_dir_all(&tmp).unwrap();
    println!("check with nothing to judge: {cases}/12 exit 2");
}

#[test]
fn fail_on_warning_fails_workloads() {
    let deployment = "kind: Namespace\nmetadata: {name: shop, labels: {pod-security.kubernetes.io/enforce: restricted}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {template: {spec: {containers: [{name: web, image: nginx}]}}}\n";
    let (code, out, _) = polytrans(&["check", "-"], Some(deployment));
    assert_eq!(code, 0, "PSA only warns about workloads");
    assert!(
        out.starts_with("<stdin>:4: Deployment/shop/web: Warning: would violate PodSecurity"),
        "{out}"
    );
    let (code, _, err) = polytrans(&["check", "-", "--fail-on", "warning"], Some(deployment));
    assert_eq!(code, 1);
    assert!(
        err.ends_with("; 1 fail under `--fail-on warning`\n"),
        "{err}"
    );
    let (_, junit, _) = polytrans(
        &["check", "-", "--fail-on", "warning", "--format", "junit"],
        Some(deployment),
    );
    assert!(junit.contains("tests=\"1\" failures=\"1\""), "{junit}");
    assert_eq!(junit.matches("<failure ").count(), 1);
}

#[test]
fn junit_one_testcase_per_object() {
    // A rejected pod (with an audit finding too), a warned workload and a passing pod.
    let input = format!(
        "{EKS_POD}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: ok, namespace: policy-test}}\nspec:\n  securityContext: {{runAsNonRoot: true, seccompProfile: {{type: RuntimeDefault}}}}\n  containers: [{{name: c, image: nginx, securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}}}]\n"
    );
    let (code, junit, err) = polytrans(&["check", "-", "--format", "junit"], Some(&input));
    assert_eq!(code, 1, "{err}");
    assert_eq!(junit.matches("<testcase ").count(), 3, "{junit}");
    assert!(
        junit.contains("<testsuite name=\"pod-security\" tests=\"3\" failures=\"1\">"),
        "{junit}"
    );
    assert!(
        junit.contains("name=\"Pod/policy-test/ok (&lt;stdin&gt;:"),
        "{junit}"
    );
}

/// Decodes `text` (one JSON object) both ways: straight from the text (the fast path of JSON
/// list items) and through the positioned reader and `pod_of`. When the fast path decodes it,
/// both must agree; returns whether it did.
fn typed_agrees(text: &str) -> bool {
    use polytrans::load::{Limits, Source, Undecoded, decode_prefix, parse_stream};
    use polytrans::pod::{TypedObject, pod_of};
    let depth = Limits::default().max_depth - 2;
    let fast = decode_prefix::<TypedObject<true>>(text, depth);
    let src = std::sync::Arc::new(Source {
        name: "x.json".into(),
    });
    let mut objects = Vec::new();
    let mut diags = polytrans::diag::Diagnostics::default();
    parse_stream(
        text,
        &src,
        &Limits::default(),
        &mut |o| objects.push(o),
        &mut diags,
    );
    let (o, n) = match fast {
        Ok(x) => x,
        Err(Undecoded::Refused) => return false,
        Err(Undecoded::NeedMore) => panic!("a whole object asks for more: {text}"),
    };
    assert_eq!(n, text.trim_end().len(), "{text}");
    assert!(
        !diags.has_errors(),
        "decoded what the reader refuses: {diags}\n{text}"
    );
    assert_eq!(objects.len(), 1, "{text}");
    let slow = &objects[0];
    assert_eq!(
        (
            &o.kind,
            &o.api_version,
            &o.metadata.name,
            &o.metadata.namespace
        ),
        (&slow.kind, &slow.api_version, &slow.name, &slow.namespace),
        "{text}"
    );
    match (pod_of(slow), o.found) {
        (None, None) => {}
        (Some(Ok(a)), Some(b)) => {
            assert_eq!(a.pod, b.pod, "{text}");
            assert_eq!(a.is_pod, b.is_pod, "{text}");
        }
        (a, b) => panic!("{text}: {a:?} vs {b:?}"),
    }
    true
}

/// JSON list items are decoded straight from the text into the typed pod (the fast path of
/// `check`); what that path decodes must be what the positioned reader and `pod_of` make of the
/// same object, and what it cannot decode exactly it must refuse (the positioned reader then
/// reads the object and reports its errors with their positions).
#[test]
fn json_items_decode_as_the_positioned_reader_reads_them() {
    let mut decoded = 0;
    let mut total = 0;
    if let Some(shared) = common::shared() {
        for case in common::psa_cases(&shared) {
            let text = std::fs::read_to_string(&case.path).unwrap();
            for doc in serde_yaml::Deserializer::from_str(&text) {
                let v: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
                for t in [v.to_string(), serde_json::to_string_pretty(&v).unwrap()] {
                    total += 1;
                    decoded += usize::from(typed_agrees(&t));
                }
            }
        }
        assert!(
            decoded * 10 > total * 9,
            "only {decoded} of {total} decoded"
        );
    }
    let pod = r#""apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"}"#;
    let agree = [
        format!("{{{pod}}}"),
        format!("{{{pod}, \"spec\": null}}"),
        format!(
            "{{{pod}, \"spec\": {{\"hostNetwork\": true, \"containers\": [{{\"name\": \"c\", \"ports\": [{{\"containerPort\": 80}}]}}], \"volumes\": [{{\"name\": \"v\"}}, {{\"name\": \"w\", \"hostPath\": {{\"path\": \"/x\"}}, \"emptyDir\": null}}]}}}}"
        ),
        r#"{"kind": "Pod", "spec": {"containers": [{"name": "c"}]}, "metadata": {"name": "late", "annotations": {"a": "b"}}}"#.into(),
        r#"{"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 2, "template": {"spec": {"hostPID": true}}}}"#.into(),
        r#"{"kind": "Deployment", "metadata": {"name": "d", "namespace": "n"}, "spec": {"template": null}}"#.into(),
        r#"{"kind": "Deployment", "metadata": {"name": "d"}}"#.into(),
        r#"{"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": {"metadata": {"name": "own"}, "spec": {"hostIPC": true}}}}}}"#.into(),
        r#"{"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": null}}}"#.into(),
        r#"{"kind": "PodTemplate", "metadata": {"name": "t"}, "template": {"spec": {"containers": [{"name": "c", "securityContext": {"privileged": true}}]}}}"#.into(),
        r#"{"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}"#.into(),
        r#"{"kind": "Namespace", "metadata": {"name": "n", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}"#.into(),
        r#"{"kind": "Pod", "apiVersion": null, "metadata": {"name": null, "namespace": null, "labels": null}, "spec": {"containers": null, "securityContext": {"runAsUser": 5}}}"#.into(),
        r#"{"kind": "Pod", "metadata": {"name": "e\u00e9\n\"q\""}, "spec": {"containers": [{"name": "\ud83d\ude00"}]}}"#.into(),
    ];
    for t in &agree {
        assert!(typed_agrees(t), "not decoded: {t}");
    }
    let refused = [
        // Duplicate keys, wherever they are.
        r#"{"kind": "Pod", "kind": "Pod"}"#.to_string(),
        r#"{"kind": "Pod", "x": 1, "x": 2}"#.into(),
        r#"{"kind": "Pod", "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": 1, "cpu": 2}}}]}}"#.into(),
        r#"{"kind": "Pod", "metadata": {"labels": {"a": "1", "a": "2"}}}"#.into(),
        r#"{"kind": "Pod", "spec": {"volumes": [{"name": "v", "hostPath": {"path": "/a", "path": "/b"}}]}}"#.into(),
        r#"{"kind": "Deployment", "spec": {"selector": {"matchLabels": {"a": "1", "a": "1"}}}}"#.into(),
        // What the reader reads differently or reports.
        r#"{"kind": "Pod", "spec": {"containers": [{"name": "\ud800"}]}}"#.into(),
        r#"{"kind": "Pod", "spec": {"hostNetwork": "yes"}}"#.into(),
        r#"{"kind": "Pod", "spec": {"securityContext": {"runAsUser": 1.5}}}"#.into(),
        r#"{"kind": "Pod", "metadata": {"name": 5}}"#.into(),
        r#"{"kind": "", "metadata": {"name": "a"}}"#.into(),
        r#"{"metadata": {"name": "a"}}"#.into(),
        r#"{"kind": null}"#.into(),
        r#"{"spec": {}, "kind": "Pod"}"#.into(),
        format!(
            "{{\"kind\": \"Pod\", \"x\": {}{}}}",
            "[".repeat(130),
            "]".repeat(130)
        ),
    ];
    for t in &refused {
        assert!(!typed_agrees(t), "decoded: {t}");
    }
    eprintln!("json items decoded straight from text: {decoded}/{total} PSA testdata objects");
}

/// Findings of JSON list items carry the line of each item, also when items span lines.
#[test]
fn json_list_items_keep_their_lines() {
    let dir = std::env::temp_dir().join(format!("polytrans-json-lines-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pods.json");
    let bad = |name: &str| {
        format!(
            "{{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {{\"name\": \"{name}\"}},\n  \"spec\": {{\"hostNetwork\": true, \"containers\": [{{\"name\": \"c\"}}]}}}}"
        )
    };
    let text = format!(
        "{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n{},\n{},\n\n  {}\n]}}\n",
        bad("a"),
        bad("b"),
        bad("c")
    );
    std::fs::write(&path, &text).unwrap();
    let (code, out, err) = polytrans(
        &["check", path.to_str().unwrap(), "--level", "baseline"],
        None,
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 1, "{err}");
    let lines: Vec<&str> = out.lines().map(|l| l.split(": ").next().unwrap()).collect();
    let p = path.to_str().unwrap();
    assert_eq!(
        lines,
        [format!("{p}:2"), format!("{p}:4"), format!("{p}:7")],
        "{out}"
    );
}

/// A top-level JSON array and one object per line (NDJSON, in `*.json`, `*.ndjson` or
/// `*.jsonl`) are read like a `kind: List`: the same findings, each at the line of its object;
/// a line holding a `List` contributes its items; a syntax error on a later line is located.
#[test]
fn json_arrays_and_ndjson_read_like_lists() {
    let dir = std::env::temp_dir().join(format!("polytrans-json-shapes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let objects: Vec<String> = (0..6)
        .map(|i| {
            format!(
                "{{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {{\"name\": \"p{i}\"}}, \"spec\": {{\"hostNetwork\": true, \"containers\": [{{\"name\": \"c\"}}]}}}}"
            )
        })
        .collect();
    let shapes = [
        (
            "list.json",
            format!(
                "{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n{}\n]}}\n",
                objects.join(",\n")
            ),
            [2, 3, 4, 5, 6, 7],
        ),
        (
            "array.json",
            format!("[\n{}\n]\n", objects.join(",\n")),
            [2, 3, 4, 5, 6, 7],
        ),
        (
            "lines.json",
            format!("{}\n", objects.join("\n")),
            [1, 2, 3, 4, 5, 6],
        ),
        (
            "lines.ndjson",
            format!(
                "{}\n{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{}]}}\n",
                objects[..5].join("\n"),
                objects[5]
            ),
            [1, 2, 3, 4, 5, 6],
        ),
        (
            "lines.jsonl",
            format!("{}\r\n", objects.join("\r\n")),
            [1, 2, 3, 4, 5, 6],
        ),
    ];
    let mut messages = Vec::new();
    for (name, text, lines) in &shapes {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let p = path.to_str().unwrap();
        let (code, out, err) = polytrans(&["check", p, "--level", "baseline"], None);
        assert_eq!(code, 1, "{name}: {err}");
        assert!(err.contains("checked 6 objects"), "{name}: {err}");
        let found: Vec<String> = out.lines().map(|l| l.to_string()).collect();
        let expected: Vec<String> = lines.iter().map(|l| format!("{p}:{l}: ")).collect();
        assert_eq!(found.len(), 6, "{name}: {out}");
        for (f, e) in found.iter().zip(&expected) {
            assert!(f.starts_with(e.as_str()), "{name}: {f} vs {e}");
        }
        messages.push(
            found
                .iter()
                .map(|l| l.splitn(3, ": ").nth(2).unwrap().to_string())
                .collect::<Vec<_>>(),
        );
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
    // The same from stdin.
    for (_, text, lines) in &shapes[1..3] {
        let (code, out, err) = polytrans(&["check", "-", "--level", "baseline"], Some(text));
        assert_eq!(code, 1, "{err}");
        let found: Vec<&str> = out.lines().map(|l| l.split(": ").next().unwrap()).collect();
        let expected: Vec<String> = lines.iter().map(|l| format!("<stdin>:{l}")).collect();
        assert_eq!(found, expected, "{out}");
    }
    // A syntax error on a later line, and something else after an object, keep their lines.
    for (text, at) in [
        (
            format!("{}\n{}\n{{\"kind\": tru}}\n", objects[0], objects[1]),
            ":3:",
        ),
        (format!("{}\n{}\n]\n", objects[0], objects[1]), ":3:1"),
    ] {
        let path = dir.join("bad.json");
        std::fs::write(&path, text).unwrap();
        let (code, _, err) = polytrans(
            &["check", path.to_str().unwrap(), "--level", "baseline"],
            None,
        );
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(&format!("bad.json{at}")), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

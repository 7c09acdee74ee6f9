//! Every ```` ```console ```` block of README.md and docs/*.md is executed against the built
//! binary and compared with what it prints, so the documentation stays true.
//!
//! - A line starting with `$ ` is a command, run with `bash` (stdout and stderr together, as a
//!   terminal shows them) and the built `polytrans` first on `PATH`; the lines up to the next
//!   command are its expected output.
//! - Commands start in the repository root; `cd DIR && …` runs in DIR, and later commands of the
//!   block stay there. `echo $?` prints the exit code of the command before.
//! - In expected output, a line that is only `...` matches any run of lines (even none), and a
//!   line ending in `...` matches any line that starts with what comes before it.
//! - `BLESS=1` rewrites the expected output of blocks that differ with what the commands print
//!   (refused under `CI=true`); put the `...` back where output is long.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether `actual` lines match `expected` lines with `...` wildcards.
fn matches(expected: &[String], actual: &[String]) -> bool {
    fn line_ok(e: &str, a: &str) -> bool {
        let e = e.trim_end();
        let a = a.trim_end();
        match e.strip_suffix("...") {
            Some(prefix) if !prefix.trim().is_empty() => a.starts_with(prefix),
            _ => e == a,
        }
    }
    // memo over (i, j)
    let mut memo = vec![vec![None; actual.len() + 1]; expected.len() + 1];
    fn go(
        e: &[String],
        a: &[String],
        i: usize,
        j: usize,
        memo: &mut Vec<Vec<Option<bool>>>,
    ) -> bool {
        if let Some(r) = memo[i][j] {
            return r;
        }
        let r = if i == e.len() {
            j == a.len()
        } else if e[i].trim() == "..." {
            (j..=a.len()).any(|k| go(e, a, i + 1, k, memo))
        } else {
            j < a.len() && line_ok(&e[i], &a[j]) && go(e, a, i + 1, j + 1, memo)
        };
        memo[i][j] = Some(r);
        r
    }
    go(expected, actual, 0, 0, &mut memo)
}

struct Step {
    command: String,
    expected: Vec<String>,
}

fn steps(lines: &[String]) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for l in lines {
        if let Some(c) = l.strip_prefix("$ ") {
            out.push(Step {
                command: c.to_string(),
                expected: Vec::new(),
            });
        } else if let Some(s) = out.last_mut() {
            s.expected.push(l.clone());
        } else {
            panic!("console block output before any `$ ` command: {l}");
        }
    }
    out
}

/// Runs one block's commands; returns the printed lines of each.
fn run_block(root: &Path, bin_dir: &Path, steps: &[Step]) -> Vec<Vec<String>> {
    let mut cwd = root.to_path_buf();
    let mut last = 0;
    let mut outputs = Vec::new();
    for s in steps {
        let mut command = s.command.as_str();
        if let Some(rest) = command.strip_prefix("cd ") {
            let (dir, tail) = rest.split_once(" && ").unwrap_or((rest, ""));
            cwd = cwd.join(dir.trim());
            assert!(cwd.is_dir(), "`cd {dir}`: no such folder");
            command = tail;
        }
        if command.trim() == "echo $?" {
            outputs.push(vec![last.to_string()]);
            continue;
        }
        if command.is_empty() {
            outputs.push(vec![]);
            continue;
        }
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("{command} 2>&1"))
            .current_dir(&cwd)
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        last = out.status.code().unwrap_or(-1);
        let text = String::from_utf8_lossy(&out.stdout);
        outputs.push(text.lines().map(str::to_string).collect());
    }
    outputs
}

#[test]
fn readme_console_blocks() {
    let Some(_shared) = common::shared() else {
        return;
    };
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("skipping: bash not found");
        return;
    }
    let bless = std::env::var("BLESS").is_ok_and(|v| v == "1");
    assert!(
        !(bless && std::env::var("CI").is_ok_and(|v| v == "true")),
        "BLESS=1 is refused under CI=true"
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_polytrans"))
        .parent()
        .unwrap()
        .to_path_buf();
    let mut docs = vec![root.join("README.md")];
    docs.extend(common::files_under(&root.join("docs"), &["md"]));
    let (mut checked, mut equal) = (0, 0);
    let mut failures = Vec::new();
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut rewritten = false;
        // From the last block back, so that rewriting keeps earlier positions valid.
        for block in common::fenced_blocks(&text).into_iter().rev() {
            if block.info != "console" {
                continue;
            }
            checked += 1;
            let steps = steps(&block.lines);
            let outputs = run_block(&root, &bin_dir, &steps);
            let ok = steps
                .iter()
                .zip(&outputs)
                .all(|(s, o)| matches(&s.expected, o));
            if ok {
                equal += 1;
                continue;
            }
            let name = format!(
                "{}:{}",
                doc.strip_prefix(&root).unwrap().display(),
                block.open + 1
            );
            if bless {
                let mut body = Vec::new();
                for (s, o) in steps.iter().zip(&outputs) {
                    body.push(format!("$ {}", s.command));
                    if matches(&s.expected, o) {
                        body.extend(s.expected.iter().cloned());
                    } else {
                        body.extend(o.iter().cloned());
                    }
                }
                lines.splice(block.open + 1..block.close, body);
                rewritten = true;
                eprintln!("blessed {name}");
                continue;
            }
            let mut report = format!("{name}: console block differs (BLESS=1 to rewrite)\n");
            for (s, o) in steps.iter().zip(&outputs) {
                if !matches(&s.expected, o) {
                    report.push_str(&format!(
                        "$ {}\n--- expected\n{}\n--- actual\n{}\n",
                        s.command,
                        s.expected.join("\n"),
                        o.join("\n")
                    ));
                }
            }
            failures.push(report);
        }
        if rewritten {
            let mut out = lines.join("\n");
            out.push('\n');
            std::fs::write(doc, out).unwrap();
        }
    }
    println!("readme console blocks: {checked} checked, {equal} equal");
    assert!(checked >= 5, "the README shows at least 5 console examples");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn wildcard_lines() {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(matches(&v(&["a", "...", "d"]), &v(&["a", "b", "c", "d"])));
    assert!(matches(&v(&["a", "  ...", "b"]), &v(&["a", "b"])));
    assert!(matches(&v(&["x: long ..."]), &v(&["x: long line"])));
    assert!(!matches(&v(&["a", "b"]), &v(&["a", "c"])));
    assert!(!matches(&v(&["a"]), &v(&["a", "b"])));
}

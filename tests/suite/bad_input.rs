//! Bad input never panics: every case under `tests/bad-input/<case>/` is run through the CLI and
//! its exit code and diagnostics must equal `expected.txt` (`exit: N` then stderr). A case runs
//! `polytrans psp <its input.* file> --to ir` unless `args.txt` says otherwise. `BLESS=1`
//! rewrites the expectations (never under `CI=true`).
//!
//! `unreadable-file` is a symlink to `/proc/self/mem`, whose first page no process may read
//! (EIO), so the case holds for root too, where permission bits would not stop a read.

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn bad_input_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input");
    let bless = std::env::var("BLESS").is_ok_and(|v| v == "1");
    assert!(
        !(bless && std::env::var("CI").is_ok_and(|v| v == "true")),
        "BLESS=1 is refused under CI=true"
    );
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut failures = Vec::new();
    let mut exit2 = 0;
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let args: Vec<String> = match std::fs::read_to_string(dir.join("args.txt")) {
            Ok(s) => s.split_whitespace().map(str::to_string).collect(),
            Err(_) => {
                let input = std::fs::read_dir(dir)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .find(|n| n.starts_with("input"))
                    .unwrap_or_else(|| panic!("{name}: no input file and no args.txt"));
                vec!["psp".into(), input, "--to".into(), "ir".into()]
            }
        };
        let out = Command::new(env!("CARGO_BIN_EXE_polytrans"))
            .current_dir(dir)
            .args(&args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked"),
            "{name}: polytrans panicked:\n{stderr}"
        );
        if code == 2 {
            exit2 += 1;
            if !out.stdout.is_empty() {
                failures.push(format!("{name}: wrote to stdout on error"));
            }
        }
        let actual = format!("exit: {code}\n{stderr}");
        let path = dir.join("expected.txt");
        if bless {
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => {
                failures.push(format!("{name}: expected\n{expected}\nactual\n{actual}"))
            }
            Err(_) => failures.push(format!("{name}: no expected.txt (BLESS=1 to write)")),
        }
    }
    println!("bad input: {} cases, {exit2} exit 2", dirs.len());
    assert!(dirs.len() >= 50, "the corpus needs at least 50 cases");
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

//! The Falco PSP page (`seeds/000`–`002`, three languages) prints the rules `falcoctl convert psp`
//! produced for its `no_privileged` PSP. `--to falco --falco-flavor legacy` must print exactly
//! that text; it is extracted from the pages at test time (never copied into the repo).

use crate::common;

const PAGES: &[&str] = &[
    "000_7785a6e434b254f8.txt",
    "001_28139cc6edf1b9c9.txt",
    "002_ba38b7e5907a5d73.txt",
];

/// The rules file printed on a page: from `- required_engine_version:` to the end of the YAML
/// run (the first line that is neither blank, indented, a list item nor a comment).
fn rules_block(text: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if !inside {
            if line.starts_with("- required_engine_version:") {
                inside = true;
            } else {
                continue;
            }
        }
        let yaml_like = line.is_empty()
            || line.starts_with(' ')
            || line.starts_with("- ")
            || line.starts_with('#');
        if !yaml_like {
            break;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    (!out.is_empty()).then(|| out.join("\n") + "\n")
}

fn run(stdin: &str, args: &[&str]) -> (bool, String, String) {
    let mut argv = vec!["psp", "-", "--lenient", "--to", "falco"];
    argv.extend_from_slice(args);
    let (code, out, err) = common::run_polytrans(&argv, stdin);
    (code == 0, out, err)
}

#[test]
fn legacy_output_matches_the_falco_psp_page() {
    let Some(shared) = common::shared() else {
        return;
    };
    let page = std::fs::read_to_string(shared.join("seeds").join(PAGES[2])).unwrap();
    let psp = common::fenced_block(&page, 1).expect("block 1 (the psp)");
    let expected = common::fenced_block(&page, 2).expect("block 2 (the rules)");
    let expected = expected.trim_start_matches('\n');
    let (ok, got, err) = run(&psp, &["--falco-flavor", "legacy"]);
    assert!(ok, "polytrans failed: {err}");
    assert_eq!(got, expected, "legacy output differs from the page");
    let mut agree = 0;
    for name in PAGES {
        let text = std::fs::read_to_string(shared.join("seeds").join(name)).unwrap();
        let block = rules_block(&text).unwrap_or_else(|| panic!("{name}: no rules block"));
        assert_eq!(block, got, "{name}: rules block differs");
        agree += 1;
    }
    println!("falco seed pages: {agree}/{}", PAGES.len());
    assert_eq!(agree, 3);
    // The golden file is that same output.
    let golden = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("golden/seed-falco/falco-legacy.yaml"),
    )
    .unwrap();
    assert_eq!(golden, got);
}

fn psp(name: &str, images: &str, extra: &str) -> String {
    format!(
        "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: {name}\n  annotations:\n    falco-rules-psp-images: {images}\nspec:\n  privileged: false\n{extra}"
    )
}

/// The legacy flavour writes falcoctl's unquoted lists, so it rejects anything but plain tokens
/// (the modern flavour quotes them instead: see `tests/suite/injection.rs`).
#[test]
fn hostile_strings_are_rejected() {
    let legacy = ["--falco-flavor", "legacy"];
    let hostile = [
        "\"[ngi\\\"nx]\"",
        "\"[nginx, 'a b']\"",
        "\"[nginx) or (evt.num>0]\"",
        "\"[nginx%proc.name]\"",
        "\"[ngi\\nnx]\"",
    ];
    for images in hostile {
        let (ok, out, err) = run(&psp("p", images, ""), &legacy);
        if ok {
            // Whatever was accepted must be a plain token list.
            let line = out
                .lines()
                .find(|l| l.trim_start().starts_with("items:"))
                .unwrap();
            assert!(
                !line.contains('(') && !line.contains('%') && !line.contains('\''),
                "{images}: {line}"
            );
        } else {
            assert!(err.contains("cannot be written into a falco rule"), "{err}");
        }
    }
    for extra in [
        "  allowedHostPaths:\n  - pathPrefix: \"/a b\"\n",
        "  allowedHostPaths:\n  - pathPrefix: \"/a,b\"\n",
        "  allowedHostPaths:\n  - pathPrefix: \"/a)\"\n",
        "  allowedHostPaths:\n  - pathPrefix: \"/a\\nb\"\n",
        "  allowedFlexVolumes:\n  - driver: \"x\\\"y\"\n",
    ] {
        let (ok, _, err) = run(&psp("p", "\"[nginx]\"", extra), &legacy);
        assert!(!ok, "{extra} accepted");
        assert!(err.contains("cannot be written into a falco rule"), "{err}");
        assert!(err.contains("help:"), "{err}");
    }
    for flag in [
        ["--falco-priority", "LOUD"],
        ["--falco-tags", "a b"],
        ["--falco-rule-prefix", "x\"y"],
    ] {
        let (ok, _, err) = run(&psp("p", "\"[nginx]\"", ""), &flag);
        assert!(!ok, "{flag:?} accepted");
        assert!(err.contains("falco"), "{err}");
    }
}

//! The apply-ready bundle: `--to all` (or several targets) with `-o DIR/` writes `DIR/<target>/`
//! with one file per policy and a `kustomization.yaml` listing exactly its files (Gatekeeper's
//! also the gatekeeper-library ConstraintTemplates, in `templates/`); `--diff DIR/` and
//! `--check` read the same layout, report stale files, and `--write` removes them.

use crate::common::{self, polytrans_in as polytrans};

use polytrans::backend::gatekeeper::{LIBRARY_VERSION, TEMPLATE_FOLDERS};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn tempdir(name: &str) -> PathBuf {
    common::tempdir("bundle", name)
}

/// The labels-cluster inputs (PSPs and RBAC), as absolute paths.
fn inputs() -> Vec<String> {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/labels-cluster");
    ["psp.yaml", "rbac.input.yaml"]
        .iter()
        .map(|f| case.join(f).to_string_lossy().into_owned())
        .collect()
}

/// `polytrans psp <labels-cluster inputs> <args>` in `dir`.
fn psp(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let inputs = inputs();
    let mut all: Vec<&str> = vec!["psp"];
    all.extend(inputs.iter().map(String::as_str));
    all.extend(args);
    polytrans(dir, &all)
}

/// Every file below `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<String> {
    common::files_under(dir, &["yaml", "yml", "json", "txt", "md", "sh"])
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().to_string_lossy().into_owned())
        .collect()
}

fn yaml(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    polytrans::load::yaml_documents(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A kustomization's `resources`, after checking its header.
fn kustomization(path: &Path) -> Vec<String> {
    let docs = yaml(path);
    assert_eq!(docs.len(), 1, "{}", path.display());
    let k = &docs[0];
    assert_eq!(k["apiVersion"], "kustomize.config.k8s.io/v1beta1");
    assert_eq!(k["kind"], "Kustomization");
    k["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no resources", path.display()))
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn all_writes_every_target_folder_with_a_kustomization() {
    let d = tempdir("all");
    let (code, stdout, stderr) = psp(&d, &["--to", "all", "-o", "out/"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let written = files(&d.join("out"));
    assert!(
        stderr.contains(&format!("wrote {} files to out/", written.len())),
        "{stderr}"
    );
    // every folder is a target of `--to all`, and every such target has one
    let targets: Vec<&str> = polytrans::backend::all_targets()
        .iter()
        .map(|t| t.name)
        .collect();
    let folders: BTreeSet<String> = std::fs::read_dir(d.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        folders,
        targets
            .iter()
            .map(|t| t.to_string())
            .collect::<BTreeSet<_>>()
    );
    let mut kustomizations = 0;
    for t in &targets {
        let dir = d.join("out").join(t);
        let own: Vec<String> = files(&dir)
            .into_iter()
            .filter(|f| f != "kustomization.yaml" && !f.starts_with("templates/"))
            .collect();
        assert!(!own.is_empty(), "{t}: no files");
        let k = dir.join("kustomization.yaml");
        if *t == "falco" {
            // Falco rules are not Kubernetes objects: nothing for kustomize to list.
            assert!(!k.exists(), "falco has no kustomization");
            continue;
        }
        kustomizations += 1;
        let mut resources = kustomization(&k);
        if *t == "gatekeeper" {
            assert_eq!(resources.remove(0), "templates", "templates come first");
        }
        assert_eq!(
            resources, own,
            "{t}: the kustomization lists exactly its files"
        );
        let mut sorted = resources.clone();
        sorted.sort();
        assert_eq!(resources, sorted, "{t}: sorted");
        for f in &own {
            assert!(!yaml(&dir.join(f)).is_empty(), "{t}/{f} parses as YAML");
        }
    }
    // Gatekeeper: the templates the constraints need, at the pinned library commit
    let gk = d.join("out/gatekeeper");
    let urls = kustomization(&gk.join("templates/kustomization.yaml"));
    let prefix = format!(
        "https://raw.githubusercontent.com/open-policy-agent/gatekeeper-library/{LIBRARY_VERSION}/library/pod-security-policy/"
    );
    // Remote library templates, then polytrans's own ones (files of the folder).
    let (remote, local): (Vec<&String>, Vec<&String>) =
        urls.iter().partition(|u| u.starts_with("https://"));
    let folders: Vec<&str> = remote
        .iter()
        .map(|u| {
            u.strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix("/template.yaml"))
                .unwrap_or_else(|| panic!("{u}"))
        })
        .collect();
    let mut listed: BTreeSet<&str> = folders
        .iter()
        .map(|f| {
            TEMPLATE_FOLDERS
                .iter()
                .find(|(_, d)| d == f)
                .unwrap_or_else(|| panic!("{f}: not a library folder"))
                .0
        })
        .collect();
    for f in &local {
        let t = yaml(&gk.join("templates").join(f));
        assert_eq!(t.len(), 1, "{f}: one ConstraintTemplate");
        assert_eq!(t[0]["kind"], "ConstraintTemplate", "{f}");
        let kind = t[0]["spec"]["crd"]["spec"]["names"]["kind"]
            .as_str()
            .unwrap();
        assert!(
            polytrans::backend::gatekeeper::is_own_template(kind),
            "{f}: {kind}"
        );
        assert_eq!(**f, format!("{}.yaml", kind.to_lowercase()));
        listed.insert(
            polytrans::backend::gatekeeper::OWN_TEMPLATES
                .iter()
                .find(|(k, _)| *k == kind)
                .unwrap()
                .0,
        );
    }
    let used: BTreeSet<String> = files(&gk)
        .iter()
        .filter(|f| !f.contains("kustomization"))
        .flat_map(|f| yaml(&gk.join(f)))
        .filter(|doc| doc["apiVersion"] == "constraints.gatekeeper.sh/v1beta1")
        .map(|doc| doc["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        listed
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>(),
        used,
        "templates listed = constraint kinds used"
    );
    println!(
        "bundle: {} target folders, {} files, {kustomizations} kustomizations (+ gatekeeper templates/), {} gatekeeper templates",
        targets.len(),
        written.len(),
        urls.len()
    );
}

#[test]
fn template_folders_match_the_library() {
    let Some(shared) = common::shared() else {
        return;
    };
    let root = shared.join("conformance/gatekeeper-library/pod-security-policy");
    let mut folders: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("template.yaml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut ok = 0;
    for (kind, folder) in TEMPLATE_FOLDERS {
        let t = yaml(&root.join(folder).join("template.yaml"));
        assert_eq!(
            t[0]["spec"]["crd"]["spec"]["names"]["kind"], *kind,
            "{folder}/template.yaml"
        );
        ok += 1;
    }
    let mut table: Vec<String> = TEMPLATE_FOLDERS
        .iter()
        .map(|(_, f)| f.to_string())
        .collect();
    table.sort();
    assert_eq!(table, folders, "every library template is in the table");
    println!(
        "gatekeeper-library template folders: {ok}/{}",
        folders.len()
    );
}

#[test]
fn check_reports_edits_and_stale_files_and_write_repairs() {
    let d = tempdir("check");
    assert_eq!(psp(&d, &["--to", "all", "-o", "out/"]).0, 0);
    let check = |d: &Path| psp(d, &["--to", "all", "--diff", "out/", "--check"]);
    let (code, stdout, stderr) = check(&d);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    // `-o DIR/ --check` reads the same layout
    assert_eq!(psp(&d, &["--to", "all", "-o", "out/", "--check"]).0, 0);

    // one edited file: exit 1, named in the diff and in the error
    let edited = d.join("out/kyverno/psp-baseline.yaml");
    let text = std::fs::read_to_string(&edited).unwrap();
    assert!(text.contains("Enforce"));
    std::fs::write(&edited, text.replace("Enforce", "Audit")).unwrap();
    let (code, stdout, stderr) = check(&d);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stdout.contains("+++ b/kyverno/psp-baseline.yaml"),
        "{stdout}"
    );
    assert!(
        stderr.contains("changed: `kyverno/psp-baseline.yaml`"),
        "{stderr}"
    );
    assert_eq!(
        stdout.matches("+++ b/").count(),
        1,
        "only that file: {stdout}"
    );

    // an edited kustomization is drift too
    let k = d.join("out/vap/kustomization.yaml");
    std::fs::write(&k, "resources: []\n").unwrap();
    let (code, _, stderr) = check(&d);
    assert_eq!(code, 1);
    assert!(stderr.contains("`vap/kustomization.yaml`"), "{stderr}");

    // a file the output no longer has is stale
    std::fs::write(d.join("out/vap/old.yaml"), "kind: Old\n").unwrap();
    std::fs::create_dir_all(d.join("out/gatekeeper/templates/extra")).unwrap();
    std::fs::write(d.join("out/gatekeeper/templates/extra/x.yaml"), "a: 1\n").unwrap();
    let (code, stdout, stderr) = check(&d);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("vap/old.yaml: stale (no longer generated)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("stale: `gatekeeper/templates/extra/x.yaml`, `vap/old.yaml`"),
        "{stderr}"
    );
    // files outside the target folders are not the bundle's
    std::fs::write(d.join("out/README.md"), "mine\n").unwrap();

    // --write repairs everything and removes the stale files (and the folder it empties)
    let (code, _, stderr) = psp(&d, &["--to", "all", "--diff", "out/", "--write"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("removed 2 stale files"), "{stderr}");
    assert!(!d.join("out/vap/old.yaml").exists());
    assert!(!d.join("out/gatekeeper/templates/extra").exists());
    assert!(d.join("out/README.md").exists());
    let (code, stdout, stderr) = check(&d);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // `-o` only writes: a stale file is a warning, not removed
    std::fs::write(d.join("out/kyverno/old.yaml"), "kind: Old\n").unwrap();
    let (code, _, stderr) = psp(&d, &["--to", "all", "-o", "out/"]);
    assert_eq!(code, 0);
    assert!(
        stderr.contains("warning: `kyverno/old.yaml` in `out/` is no longer generated (stale)"),
        "{stderr}"
    );
    assert!(d.join("out/kyverno/old.yaml").exists());

    // a bundle of some targets owns only their folders
    let (code, _, stderr) = psp(&d, &["--to", "vap,gatekeeper", "--diff", "out/", "--check"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn diff_of_the_target_folder_reads_it_as_such() {
    let d = tempdir("target-folder");
    // `-o out/` then `--diff out/kyverno/ --write` used to create `out/kyverno/kyverno/`
    assert_eq!(psp(&d, &["--to", "kyverno", "-o", "out/"]).0, 0);
    let before = files(&d.join("out"));
    assert!(
        before.iter().all(|f| f.starts_with("kyverno/")),
        "{before:?}"
    );
    assert!(
        !before.contains(&"kyverno/kustomization.yaml".to_string()),
        "one target keeps today's layout: {before:?}"
    );
    let (code, stdout, stderr) = psp(
        &d,
        &["--to", "kyverno", "--diff", "out/kyverno/", "--check"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, _, stderr) = psp(
        &d,
        &["--to", "kyverno", "--diff", "out/kyverno/", "--write"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(!d.join("out/kyverno/kyverno").exists());
    assert_eq!(files(&d.join("out")), before);
    // also without the trailing slash, and for `-o`
    assert_eq!(
        psp(&d, &["--to", "kyverno", "--diff", "out/kyverno", "--check"]).0,
        0
    );
    assert_eq!(psp(&d, &["--to", "kyverno", "-o", "out/kyverno/"]).0, 0);
    assert_eq!(files(&d.join("out")), before);
    // a folder that already holds `kyverno/` (written by an older polytrans) is read as before
    std::fs::create_dir_all(d.join("old/kyverno/kyverno")).unwrap();
    assert_eq!(psp(&d, &["--to", "kyverno", "-o", "old/kyverno/"]).0, 0);
    assert!(d.join("old/kyverno/kyverno/psp-baseline.yaml").is_file());
}

#[test]
fn several_targets_need_a_folder() {
    let d = tempdir("usage");
    let (code, stdout, stderr) = psp(&d, &["--to", "kyverno,vap"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(
            "error: `--to kyverno,vap` writes one folder per target (`kyverno`, `vap`), not stdout: give `-o DIR/` (or `--diff DIR/`), or one target"
        ),
        "{stderr}"
    );
    let (code, _, stderr) = psp(&d, &["--to", "kyverno", "--to", "vap", "-o", "x.yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("`-o x.yaml` is not a folder"), "{stderr}");
    // `--format` must suit every target
    let (code, _, stderr) = psp(&d, &["--to", "all", "--format", "json", "-o", "out/"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`--to falco` has no `--format json`"),
        "{stderr}"
    );
    assert!(!d.join("out").exists() && !d.join("x.yaml").exists());
    // `--explain`: one table per target
    let (code, stdout, _) = psp(&d, &["--to", "kyverno,gatekeeper", "--explain"]);
    assert_eq!(code, 0);
    let headers: Vec<&str> = stdout.lines().filter(|l| l.starts_with("# --- ")).collect();
    assert_eq!(headers, ["# --- kyverno ---", "# --- gatekeeper ---"]);
    assert_eq!(stdout.matches("policy ").count(), 2, "{stdout}");
    // `--strict`: any lossy target fails, naming it, and nothing is written
    let (code, _, stderr) = psp(&d, &["--to", "falco,vap", "--strict", "-o", "out/"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("`--to falco` cannot express"), "{stderr}");
    assert!(!d.join("out").exists());
    // `all` is every admission target plus falco, as `--help` says
    let (_, help, _) = polytrans(&d, &["psp", "--help"]);
    let names: Vec<&str> = polytrans::backend::all_targets()
        .iter()
        .map(|t| t.name)
        .collect();
    assert!(
        help.contains(&format!(
            "all:         every admission target and falco, one folder each with -o DIR/: {}",
            names.join(", ")
        )),
        "{help}"
    );
}

#[test]
fn non_yaml_formats_get_no_kustomization() {
    let d = tempdir("formats");
    let (code, _, stderr) = psp(
        &d,
        &["--to", "pss-labels,pss", "--format", "text", "-o", "out/"],
    );
    assert_eq!(code, 0, "{stderr}");
    let written = files(&d.join("out"));
    assert!(
        !written.iter().any(|f| f.contains("kustomization")),
        "{written:?}"
    );
    assert!(
        written.contains(&"pss-labels/namespaces.yaml".to_string()),
        "{written:?}"
    );
}

/// A file of one PSP repeats only the scope notes about that PSP; the notes about no single
/// PSP (namespaces where no PSP is usable) are listed once per target folder, in `NOTES.md`,
/// which no kustomization lists, and once at the top of the whole output.
#[test]
fn scope_notes_once_per_folder() {
    let d = tempdir("scope-notes");
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/cel-rbac");
    let input = |f: &str| case.join(f).to_string_lossy().into_owned();
    let (psp_file, rbac) = (input("psp.yaml"), input("rbac.input.yaml"));
    let (code, _, stderr) = polytrans(&d, &["psp", &psp_file, &rbac, "--to", "all", "-o", "out/"]);
    assert_eq!(code, 0, "{stderr}");
    let general = "every namespace except apps, monitoring, team-a rbac";
    let about_restricted = "PSP `restricted-apps` is usable there only by pods running as";
    for target in ["kyverno", "gatekeeper", "vap", "kyverno-cel", "kubewarden"] {
        let dir = d.join("out").join(target);
        let notes = std::fs::read_to_string(dir.join("NOTES.md"))
            .unwrap_or_else(|e| panic!("{target}/NOTES.md: {e}"));
        assert!(
            notes.contains(
                "every namespace except apps, monitoring, team-a: no PSP is usable there"
            ),
            "{target}: {notes}"
        );
        assert!(!notes.contains(about_restricted), "{target}: {notes}");
        assert!(
            !kustomization(&dir.join("kustomization.yaml")).contains(&"NOTES.md".to_string()),
            "{target}"
        );
        for f in files(&dir).iter().filter(|f| f.ends_with(".yaml")) {
            let text = std::fs::read_to_string(dir.join(f)).unwrap();
            assert!(
                !text.contains(general),
                "{target}/{f} repeats a general note"
            );
            if f.contains("host-agent") {
                assert!(!text.contains(about_restricted), "{target}/{f}: {text}");
            }
            if f.contains("restricted-apps") && !f.contains("any-of") {
                assert!(text.contains(about_restricted), "{target}/{f}: {text}");
            }
        }
    }
    // The whole output names the general note once, before the policies.
    for target in ["kyverno", "vap", "kubewarden"] {
        let (code, stdout, _) = polytrans(&d, &["psp", &psp_file, &rbac, "--to", target]);
        assert_eq!(code, 0);
        assert_eq!(stdout.matches(general).count(), 1, "{target}: {stdout}");
    }
}

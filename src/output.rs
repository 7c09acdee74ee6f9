//! Writing results: atomic (temp file in the same folder, then rename), never partial; where
//! each file of `-o PATH` goes ([`Plan`]), including the apply-ready bundle of several targets.

use crate::Error;
use crate::backend::{Emitted, Target};
use std::path::{Path, PathBuf};

/// Writes `content` to `path` atomically.
pub fn write_atomic(path: &Path, content: &str) -> Result<(), Error> {
    let mut staged = Staged::default();
    staged.stage(path, content)?;
    staged.commit().map(|_| ())
}

/// Files written under temporary names (hidden, in their final folder) and renamed into place
/// together by [`Staged::commit`]: a run that fails half way leaves no partial file and no new
/// file at all, and what it renders can be written (and freed) as it goes instead of held
/// whole. Dropped without a commit, it removes its temporary files and the folders it created.
///
/// No `fsync`: a rename is atomic for every reader and against the process failing; only a power
/// loss right after the run could leave an empty file, which the next run rewrites.
#[derive(Debug, Default)]
pub struct Staged {
    /// (temporary file, final path), in the order staged.
    files: Vec<(PathBuf, PathBuf)>,
    /// The folders staging created, outermost first: removed again when nothing is committed.
    created: Vec<PathBuf>,
}

impl Staged {
    /// Writes `content` to a temporary file beside `path`.
    pub fn stage(&mut self, path: &Path, content: &str) -> Result<(), Error> {
        let io = |e: std::io::Error| Error::io(path.display(), e);
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Some(file) = dir.ancestors().find(|a| a.is_file()) {
            return Err(Error::io(
                path.display(),
                std::io::Error::other(format!("`{}` is a file, not a folder", file.display())),
            ));
        }
        if !dir.is_dir() {
            let mut missing: Vec<PathBuf> = dir
                .ancestors()
                .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
                .map(Path::to_path_buf)
                .collect();
            std::fs::create_dir_all(dir).map_err(io)?;
            missing.reverse();
            self.created.extend(missing);
        }
        let file_name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let tmp = dir.join(format!(".{file_name}.polytrans-{}.tmp", std::process::id()));
        let result = std::fs::write(&tmp, content.as_bytes());
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        self.files.push((tmp, path.to_path_buf()));
        Ok(())
    }

    /// Renames every staged file into place; returns how many.
    pub fn commit(mut self) -> Result<usize, Error> {
        let files = std::mem::take(&mut self.files);
        self.created.clear();
        let n = files.len();
        let mut pending = files.into_iter();
        while let Some((tmp, path)) = pending.next() {
            if let Err(e) = std::fs::rename(&tmp, &path) {
                let _ = std::fs::remove_file(&tmp);
                for (rest, _) in pending {
                    let _ = std::fs::remove_file(rest);
                }
                return Err(Error::io(path.display(), e));
            }
        }
        Ok(n)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
        for dir in self.created.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Whether `-o`/`--diff` PATH names a folder: it ends in `/`, or is an existing folder.
pub fn is_dir_like(path: &Path) -> bool {
    path.to_string_lossy().ends_with('/') || path.is_dir()
}

/// What one target emitted, for a [`Plan`].
pub struct TargetOutput {
    pub target: &'static Target,
    pub emitted: Emitted,
    /// Whether its files are Kubernetes objects ([`crate::backend::writes_manifests`]): a bundle
    /// lists them in a `kustomization.yaml`.
    pub manifests: bool,
}

/// One file a run writes (or compares with what is there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    pub path: PathBuf,
    /// How messages and diffs name it: relative to the folder given (or the file as given).
    pub name: String,
    pub content: String,
}

/// Everything a run writes to `-o PATH` (or compares with `--diff PATH`), rendered before
/// anything is written.
///
/// - `-o FILE`, one target: the whole output.
/// - `-o DIR/`, one target: `DIR/<target>/<policy>.yaml` (the names of [`Emitted::files`]); a
///   folder named after the target that has no `<target>/` folder inside is that target's
///   folder itself (`-o out/kyverno/` writes `out/kyverno/<policy>.yaml`).
/// - `-o DIR/`, several targets (a bundle): the same `DIR/<target>/` folders, each with a
///   `kustomization.yaml` listing its files when they are Kubernetes objects, and
///   `DIR/<target>/templates/kustomization.yaml` listing the resources it needs first (the
///   remote ones of [`Emitted::resources`] and the target's own files under `templates/`),
///   itself listed first. A bundle owns its target folders: a file
///   there that the output no longer has is stale ([`Plan::stale`]).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub files: Vec<PlannedFile>,
    /// Folders whose other files are stale, with the name prefix messages give them.
    pub owned: Vec<(PathBuf, String)>,
}

const KUSTOMIZATION: &str = "kustomization.yaml";
const PREREQUISITES: &str = "templates";

/// The [`Plan`] for `-o PATH` / `--diff PATH` and what the targets emitted.
pub fn plan(
    path: &Path,
    outputs: Vec<TargetOutput>,
    templates: Option<&Path>,
) -> Result<Plan, Error> {
    let env = crate::render::environment(templates);
    let mut plan = Plan::default();
    let bundle = outputs.len() > 1;
    for o in outputs {
        let part = plan_target(path, o, bundle, &env)?;
        plan.files.extend(part.files);
        plan.owned.extend(part.owned);
    }
    Ok(plan)
}

/// The part of the [`Plan`] of one target: alone (`bundle` false), or one folder of a bundle.
pub fn plan_target(
    path: &Path,
    o: TargetOutput,
    bundle: bool,
    env: &minijinja::Environment<'_>,
) -> Result<Plan, Error> {
    let mut plan = Plan::default();
    if !bundle && !is_dir_like(path) {
        plan.files.push(PlannedFile {
            path: path.to_path_buf(),
            name: path.to_string_lossy().into_owned(),
            content: o.emitted.stdout,
        });
        return Ok(plan);
    }
    let mut folder = TargetFolder::new(path, o.target, bundle, o.manifests);
    for f in o.emitted.files {
        plan.files.push(folder.file(f));
    }
    let rest = folder.finish(&o.emitted.resources, env)?;
    plan.files.extend(rest.files);
    plan.owned.extend(rest.owned);
    Ok(plan)
}

/// Where the files of one target go with `-o DIR/` (or `--diff DIR/`), one file at a time
/// ([`TargetFolder::file`]), then what the folder needs besides them
/// ([`TargetFolder::finish`]: a bundle's `kustomization.yaml` files). A run writing many files
/// plans, stages and frees them as the backend renders them.
pub struct TargetFolder<'p> {
    path: &'p Path,
    target: &'static Target,
    bundle: bool,
    manifests: bool,
    /// Alone: `-o out/<target>/` names the target's folder itself.
    is_target_folder: bool,
    /// Bundle: the files the folder's `kustomization.yaml` lists.
    listed: Vec<String>,
    /// Bundle: files the backend writes under `templates/`, prerequisites like the remote
    /// resources (Gatekeeper: its own ConstraintTemplates).
    local_prerequisites: Vec<String>,
}

impl<'p> TargetFolder<'p> {
    pub fn new(path: &'p Path, target: &'static Target, bundle: bool, manifests: bool) -> Self {
        let name = target.name;
        TargetFolder {
            path,
            target,
            bundle,
            manifests,
            is_target_folder: !bundle
                && path.file_name().is_some_and(|f| f == name)
                && !path.join(name).is_dir(),
            listed: Vec::new(),
            local_prerequisites: Vec::new(),
        }
    }

    /// Where one of the backend's files goes.
    pub fn file(&mut self, f: crate::backend::OutputFile) -> PlannedFile {
        let name = self.target.name;
        if !self.bundle {
            let rel = if self.is_target_folder {
                in_target(&f.name, name)
            } else {
                &f.name
            };
            return PlannedFile {
                path: self.path.join(rel),
                name: rel.to_string(),
                content: f.content,
            };
        }
        let rel = in_target(&f.name, name);
        match rel
            .strip_prefix(PREREQUISITES)
            .and_then(|r| r.strip_prefix('/'))
        {
            Some(inner) => self.local_prerequisites.push(inner.to_string()),
            // Notes for people (`NOTES.md`) are not resources.
            None if is_manifest(rel) => self.listed.push(rel.to_string()),
            None => {}
        }
        PlannedFile {
            path: self.path.join(name).join(rel),
            name: format!("{name}/{rel}"),
            content: f.content,
        }
    }

    /// What the folder needs besides the backend's files: a bundle's `kustomization.yaml`
    /// files (`resources`: the remote ones of [`Emitted::resources`]), and the folder a bundle
    /// owns.
    pub fn finish(
        mut self,
        resources: &[String],
        env: &minijinja::Environment<'_>,
    ) -> Result<Plan, Error> {
        let mut plan = Plan::default();
        if !self.bundle {
            return Ok(plan);
        }
        let name = self.target.name;
        let dir = self.path.join(name);
        if self.manifests {
            self.listed.sort();
            let mut notes = vec![format!(
                "Generated by polytrans: the `--to {name}` files of this folder, for `kubectl apply -k`."
            )];
            if !resources.is_empty() || !self.local_prerequisites.is_empty() {
                let mut remote = resources.to_vec();
                remote.sort();
                remote.dedup();
                let what = if self.local_prerequisites.is_empty() {
                    "the remote resources (pinned)"
                } else {
                    "the resources (remote ones pinned)"
                };
                self.local_prerequisites.sort();
                remote.append(&mut self.local_prerequisites);
                let content = kustomization(
                    env,
                    &[
                        format!(
                            "Generated by polytrans: {what} that the `--to {name}` files need in the cluster first."
                        ),
                        "Apply this folder, wait until they are established, then the folder above.".into(),
                    ],
                    &remote,
                )?;
                plan.files.push(PlannedFile {
                    path: dir.join(PREREQUISITES).join(KUSTOMIZATION),
                    name: format!("{name}/{PREREQUISITES}/{KUSTOMIZATION}"),
                    content,
                });
                notes.push(format!(
                    "`{PREREQUISITES}` comes first: apply it and wait until it is established (or apply this folder twice)."
                ));
                self.listed.insert(0, PREREQUISITES.into());
            }
            let content = kustomization(env, &notes, &self.listed)?;
            plan.files.push(PlannedFile {
                path: dir.join(KUSTOMIZATION),
                name: format!("{name}/{KUSTOMIZATION}"),
                content,
            });
        }
        plan.owned.push((dir, name.to_string()));
        Ok(plan)
    }
}

/// Whether a file is one kustomize and `kubectl apply -f` read (`.yaml`, `.yml`, `.json`).
fn is_manifest(name: &str) -> bool {
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// A backend's file name inside its target folder: `kyverno/a.yaml` → `a.yaml`.
fn in_target<'a>(file: &'a str, target: &str) -> &'a str {
    file.strip_prefix(target)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(file)
}

fn kustomization(
    env: &minijinja::Environment<'_>,
    notes: &[String],
    resources: &[String],
) -> Result<String, Error> {
    crate::render::render(
        env,
        "bundle/kustomization.yaml.j2",
        minijinja::context! { notes => notes, resources => resources },
    )
}

impl Plan {
    /// The files in the owned folders that the plan does not write (hidden files aside), with
    /// their names for messages; sorted.
    pub fn stale(&self) -> Vec<(PathBuf, String)> {
        let planned: std::collections::BTreeSet<&Path> =
            self.files.iter().map(|f| f.path.as_path()).collect();
        let mut out = Vec::new();
        for (dir, prefix) in &self.owned {
            let mut stack = vec![dir.clone()];
            while let Some(d) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&d) else {
                    continue;
                };
                for e in entries.flatten() {
                    let p = e.path();
                    if e.file_name().to_string_lossy().starts_with('.') {
                        continue;
                    }
                    if p.is_dir() {
                        stack.push(p);
                    } else if !planned.contains(p.as_path()) {
                        let rel = p.strip_prefix(dir).unwrap_or(&p);
                        let name = format!("{prefix}/{}", rel.to_string_lossy());
                        out.push((p, name));
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// Writes every file (atomically), then removes `stale` files and the folders that leaves
    /// empty inside the owned ones. Returns how many files were written.
    pub fn write(&self, stale: &[(PathBuf, String)]) -> Result<usize, Error> {
        let mut staged = Staged::default();
        self.stage(&mut staged)?;
        let n = staged.commit()?;
        self.remove_stale(stale)?;
        Ok(n)
    }

    /// Stages every file of the plan (see [`Staged`]).
    pub fn stage(&self, staged: &mut Staged) -> Result<(), Error> {
        for f in &self.files {
            staged.stage(&f.path, &f.content)?;
        }
        Ok(())
    }

    /// Removes `stale` files and the folders that leaves empty inside the owned ones.
    pub fn remove_stale(&self, stale: &[(PathBuf, String)]) -> Result<(), Error> {
        for (p, _) in stale {
            std::fs::remove_file(p).map_err(|e| Error::io(p.display(), e))?;
            let owner = self.owned.iter().find(|(d, _)| p.starts_with(d));
            let mut dir = p.parent();
            while let (Some(d), Some((root, _))) = (dir, owner) {
                if d == root || std::fs::remove_dir(d).is_err() {
                    break;
                }
                dir = d.parent();
            }
        }
        Ok(())
    }
}

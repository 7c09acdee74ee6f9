//! Writing results: atomic (temp file in the same folder, then rename), never partial.

use crate::Error;
use crate::backend::Emitted;
use std::io::Write;
use std::path::Path;

/// Writes `content` to `path` atomically.
pub fn write_atomic(path: &Path, content: &str) -> Result<(), Error> {
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
    std::fs::create_dir_all(dir).map_err(io)?;
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let tmp = dir.join(format!(".{file_name}.polytrans-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// `-o FILE` writes the whole output; `-o DIR/` (trailing slash, or an existing folder) one file
/// per policy. Everything is rendered before anything is written.
pub fn write_output(path: &Path, emitted: &Emitted) -> Result<(), Error> {
    let is_dir = path.to_string_lossy().ends_with('/') || path.is_dir();
    if !is_dir {
        return write_atomic(path, &emitted.stdout);
    }
    for f in &emitted.files {
        write_atomic(&path.join(&f.name), &f.content)?;
    }
    Ok(())
}

//! Replacing a file atomically: readers see the old content or the new, never a
//! torn write.

use std::path::Path;

/// Writes `bytes` to a temporary file next to `path` (creating the directory),
/// then renames it over `path`. On failure the temporary file is removed and
/// `false` is returned; callers treat their files as optional.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> bool {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_ok() {
        return true;
    }
    let _ = std::fs::remove_file(&tmp);
    false
}

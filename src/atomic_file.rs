//! The library's files on disk (the schema cache, the persistent entity cache):
//! private to the user, replaced atomically, and locked between processes.
//!
//! - Written `0600` (in a directory created `0700`) through a unique temporary
//!   file in the same directory (`tempfile`), flushed to disk, renamed over the
//!   target, and the directory flushed: readers see the old content or the new,
//!   never a torn write, and two writers never share a temporary file.
//! - Read only when the file belongs to the user running the process: a cache
//!   planted by another user on a shared machine is ignored, never trusted.
//! - Two processes that share a file (two DCCs on one workstation) serialise
//!   their changes with an exclusive lock on a sidecar `<file>.lock`
//!   ([`std::fs::File::lock`]).
//!
//! Callers treat these files as optional: any failure means "no cache".

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically and privately. Returns whether it worked.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> bool {
    let Some(dir) = path.parent() else {
        return false;
    };
    if create_private_dir(dir).is_err() {
        return false;
    }
    let written = (|| -> std::io::Result<()> {
        // tempfile creates the file with mode 0600 and a unique name.
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        sync_dir(dir);
        Ok(())
    })();
    written.is_ok()
}

/// Appends `bytes` to `path` (created `0600` if missing) and flushes them.
pub(crate) fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    check_owner(&f)?;
    f.write_all(bytes)?;
    f.sync_data()
}

/// The bytes of `path`, if it exists and belongs to the current user.
///
/// Reads as many bytes as the file had when it was opened, in one `read`
/// when the system allows: files are replaced whole by [`write_atomic`], so
/// the open file does not change under the reader, and a journal appended to
/// meanwhile is read as it was (its reader ignores a partial last record).
/// Four system calls in all; `read_to_end` took seven (a session start
/// reads its schema cache with it).
pub(crate) fn read_own(path: &Path) -> Option<Vec<u8>> {
    let mut f = File::open(path).ok()?;
    let len = check_owner(&f).ok()?;
    let mut out = vec![0; usize::try_from(len).ok()?];
    std::io::Read::read_exact(&mut f, &mut out).ok()?;
    Some(out)
}

/// An exclusive lock shared by every process using `path`, held until dropped.
pub(crate) struct FileLock(#[allow(dead_code)] File);

/// Waits for the exclusive lock of `path` (on the sidecar `<path>.lock`).
pub(crate) fn lock(path: &Path) -> Option<FileLock> {
    let dir = path.parent()?;
    create_private_dir(dir).ok()?;
    let mut lock_path: PathBuf = path.to_owned();
    lock_path.as_mut_os_string().push(".lock");
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let f = options.open(lock_path).ok()?;
    f.lock().ok()?;
    Some(FileLock(f))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Refuses a file that another user owns; else its length in bytes.
fn check_owner(f: &File) -> std::io::Result<u64> {
    let meta = f.metadata()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the file belongs to another user",
            ));
        }
    }
    Ok(meta.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn files_are_private_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/cache.json");
        assert!(write_atomic(&path, b"one"));
        assert!(write_atomic(&path, b"two"));
        assert_eq!(read_own(&path).unwrap(), b"two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        append(&path, b"+three").unwrap();
        assert_eq!(read_own(&path).unwrap(), b"two+three");
        // Nothing but the file (and no temporary leftovers).
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("cache.json")]);
    }

    #[test]
    fn a_lock_excludes_another_holder_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let first = lock(&path).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        let waiter = std::thread::spawn(move || {
            let _second = lock(&p).unwrap();
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(200))
                .is_err(),
            "the second lock waits for the first"
        );
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the second lock is granted once the first is dropped");
        waiter.join().unwrap();
    }
}

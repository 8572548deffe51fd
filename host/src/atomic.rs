//! Every file the tool writes (models, metrics, exports, reports, plots,
//! study and tune files) is written here: all or nothing.
//!
//! [`write_file`] writes a temporary file in the same directory, flushes it
//! to the disk (`fsync`), renames it over the target and flushes the
//! directory, so a crash, a full disk or a kill leaves either the previous
//! file or the new one, never a part. The sweep's append-only logs
//! (`runs.jsonl`, `curves.jsonl`) are the one exception: they are appended
//! with an `fsync` per row and recover from a torn last line (see
//! `sweep::store`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file that could not be written; the previous file at `path` (if any)
/// is intact.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", path.display(), self.reason())]
pub struct AtomicWriteError {
    /// The file that was to be written.
    pub path: PathBuf,
    /// What failed: creating, writing, syncing or renaming the temporary file.
    pub step: &'static str,
    /// Whether a previous file was there (and is left as it was).
    pub existed: bool,
    /// The operating system's error.
    #[source]
    pub source: io::Error,
}

impl AtomicWriteError {
    /// What failed and what is safe, without the path: `writing the
    /// temporary file: No space left on device (nothing was written: the
    /// previous file is intact)`.
    pub fn reason(&self) -> String {
        let previous = if self.existed {
            "the previous file is intact"
        } else {
            "no file was created"
        };
        format!(
            "{}: {} (nothing was written: {previous})",
            self.step, self.source
        )
    }

    /// The path and an `io::Error` of the same kind whose message is
    /// [`reason`](Self::reason), for error types that hold an `io::Error`.
    pub fn into_io(self) -> (PathBuf, io::Error) {
        let reason = self.reason();
        (self.path, io::Error::new(self.source.kind(), reason))
    }
}

/// The temporary file beside `path`: `.NAME.tmp-PID`, hidden, in the same
/// directory (so the rename is atomic) and distinct per process.
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(
        || std::ffi::OsString::from("file"),
        std::ffi::OsStr::to_os_string,
    );
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(tmp)
}

/// Writes `bytes` to `path` atomically: temporary file in the same
/// directory, fsync, rename, fsync of the directory.
///
/// # Errors
/// [`AtomicWriteError`] naming `path` and the failed step; the temporary
/// file is removed and a previous file at `path` is left untouched.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), AtomicWriteError> {
    let existed = path.exists();
    let fail = |step: &'static str| {
        move |source: io::Error| AtomicWriteError {
            path: path.to_path_buf(),
            step,
            existed,
            source,
        }
    };
    let tmp = temporary_path(path);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(fail("creating a temporary file beside it"))?;
        file.write_all(bytes)
            .map_err(fail("writing the temporary file"))?;
        file.sync_all()
            .map_err(fail("flushing the temporary file to disk"))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(fail("renaming the temporary file over it"))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_directory(path).map_err(fail("flushing its directory to disk"))
}

/// Flushes the directory holding `path`, so a rename in it survives a crash.
/// Platforms where directories cannot be opened are skipped.
pub fn sync_directory(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match File::open(dir) {
        Ok(d) => match d.sync_all() {
            // Some file systems cannot sync a directory; the rename is
            // still atomic there.
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
            other => other,
        },
        Err(_) if cfg!(not(unix)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("sooth-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.txt");
        write_file(&path, b"one").unwrap();
        write_file(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert!(!temporary_path(&path).exists());
        // A directory in the way: the error names the file and says that
        // nothing was written.
        let blocked = dir.join("sub");
        std::fs::create_dir_all(&blocked).unwrap();
        let e = write_file(&blocked, b"x").unwrap_err().to_string();
        assert!(
            e.contains("sub") && e.contains("previous file is intact"),
            "{e}"
        );
        assert!(!temporary_path(&blocked).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

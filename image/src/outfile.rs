//! Writing a file the user named on the command line (`save -o`,
//! `standalone-sign -o`, `push --digestfile`).
//!
//! A regular file (or a name not yet taken) is replaced through a temp file
//! and a rename, so a reader sees the old content or the new, never a torn
//! one. Anything else is the user's choice of sink and is written through:
//! replacing a device node, FIFO or socket with a regular file would
//! silently send the output somewhere other than asked (and `-o /dev/full`
//! would "succeed"). A symlink is resolved first and its target is what gets
//! replaced or written, as `cp` and shell redirection do. The temp file has a
//! random name and is created with `O_EXCL` in the target's directory, so a
//! file or symlink planted under a guessable name is never followed.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Symlink hops followed before giving up, as the kernel's MAXSYMLINKS.
const MAX_HOPS: usize = 40;

/// An output file could not be written; names the path as the user gave it.
#[derive(Debug, thiserror::Error)]
#[error("{}", path.display())]
pub struct OutputError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// An output file being written; nothing is visible at a replaced path
/// until [`OutFile::commit`].
pub struct OutFile {
    path: PathBuf,
    sink: Sink,
}

enum Sink {
    Replace {
        tmp: tempfile::NamedTempFile,
        target: PathBuf,
    },
    Through(File),
}

impl OutFile {
    /// Prepares writing `path`: a temp file beside the (symlink-resolved)
    /// target when that is a regular file or absent, else the target itself.
    pub fn create(path: &Path) -> Result<Self, OutputError> {
        let err = |source| OutputError {
            path: path.to_path_buf(),
            source,
        };
        let target = resolve(path).map_err(err)?;
        let existing = match fs::metadata(&target) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(err(e)),
        };
        let sink = match existing {
            Some(m) if !m.is_file() => {
                // No truncation: devices and FIFOs have nothing to truncate,
                // and a directory fails here with EISDIR.
                let f = File::options().write(true).open(&target).map_err(err)?;
                Sink::Through(f)
            }
            existing => {
                let dir = match target.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                let name = target
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // A replaced file keeps its mode; a new one gets 0666 less
                // the umask, as a plain create would.
                let mode = existing.map_or(0o666, |m| m.permissions().mode() & 0o7777);
                let tmp = tempfile::Builder::new()
                    .prefix(&format!(".{name}."))
                    .suffix(".tmp")
                    .permissions(fs::Permissions::from_mode(mode))
                    .tempfile_in(dir)
                    .map_err(err)?;
                Sink::Replace { tmp, target }
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            sink,
        })
    }

    /// Where to write the content.
    pub fn file(&self) -> &File {
        match &self.sink {
            Sink::Replace { tmp, .. } => tmp.as_file(),
            Sink::Through(f) => f,
        }
    }

    /// Makes the content durable and visible: fsync, then the rename (and
    /// an fsync of the directory) for a replaced file.
    pub fn commit(self) -> Result<(), OutputError> {
        self.finish(true)
    }

    /// Makes the content visible without waiting for the disk, for a batch
    /// whose caller syncs every output once at the end.
    pub fn commit_unsynced(self) -> Result<(), OutputError> {
        self.finish(false)
    }

    fn finish(self, sync: bool) -> Result<(), OutputError> {
        let path = self.path;
        let err = |source| OutputError {
            path: path.clone(),
            source,
        };
        match self.sink {
            Sink::Replace { tmp, target } => {
                if sync {
                    tmp.as_file().sync_all().map_err(err)?;
                }
                tmp.persist(&target).map_err(|e| err(e.error))?;
                match target.parent().filter(|d| !d.as_os_str().is_empty()) {
                    Some(dir) if sync => File::open(dir).and_then(|d| d.sync_all()).map_err(err),
                    _ => Ok(()),
                }
            }
            Sink::Through(_) if !sync => Ok(()),
            Sink::Through(f) => match f.sync_data() {
                // Character devices, FIFOs and sockets have nothing to sync.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EROFS)) => Ok(()),
                other => other.map_err(err),
            },
        }
    }
}

/// Writes `bytes` to the output file `path`; see the module docs.
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    write_bytes(path, bytes)?.commit()
}

/// [`write_output`] without the fsyncs, for a batch that syncs at the end.
pub fn write_output_unsynced(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    write_bytes(path, bytes)?.commit_unsynced()
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<OutFile, OutputError> {
    use std::io::Write;
    let out = OutFile::create(path)?;
    out.file().write_all(bytes).map_err(|source| OutputError {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(out)
}

/// Follows symlinks at `path` itself (not its parents, which rename
/// follows anyway) to the name that is to be written; a dangling link
/// resolves to the file it would create.
fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_HOPS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = fs::read_link(&p)?;
                p = match p.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn replaces_a_regular_file_keeping_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out");
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_output(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp left behind"
        );
    }

    #[test]
    fn writes_through_symlinks_relative_and_dangling() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        let target = dir.path().join("sub/target");
        fs::write(&target, "old").unwrap();
        let link = dir.path().join("link");
        symlink("sub/target", &link).unwrap();
        write_output(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"new");

        let dangling = dir.path().join("dangling");
        symlink("sub/created", &dangling).unwrap();
        write_output(&dangling, b"made").unwrap();
        assert_eq!(fs::read(dir.path().join("sub/created")).unwrap(), b"made");
    }

    #[test]
    fn a_directory_is_refused_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_output(dir.path(), b"x").unwrap_err();
        assert_eq!(err.source.raw_os_error(), Some(libc::EISDIR));
        assert!(err
            .to_string()
            .starts_with(&dir.path().display().to_string()));
    }
}

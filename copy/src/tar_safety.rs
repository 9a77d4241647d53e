//! Checks on the entries of an archive someone else wrote, shared by the
//! oci-archive and docker-archive transports: names must stay inside the
//! archive, links are refused, and the sizes are capped before anything
//! is read or extracted.

use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path};

use vouch_image::unpack::{detect_compression, Compression};

use crate::error::CopyError;

/// The most an archive may unpack to (every entry's bytes together).
pub const MAX_ARCHIVE_BYTES: u64 = 256 << 30;
/// The most entries an archive may have; a real image has a few dozen.
pub const MAX_ENTRIES: usize = 100_000;

pub fn invalid(archive: &Path, what: String) -> CopyError {
    CopyError::Io {
        path: archive.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, what),
    }
}

/// The entry's name relative to the archive root (`./` and empty parts
/// dropped); `None` for the root itself. Absolute names and `..` parts are
/// refused rather than "fixed", since no archive vouch reads needs them.
pub fn entry_name(archive: &Path, raw: &Path) -> Result<Option<String>, CopyError> {
    let mut parts = Vec::new();
    for c in raw.components() {
        match c {
            Component::Normal(p) => {
                let p = p.to_str().ok_or_else(|| {
                    invalid(
                        archive,
                        format!("entry {:?}: name is not UTF-8", raw.display().to_string()),
                    )
                })?;
                parts.push(p);
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(invalid(
                    archive,
                    format!(
                        "entry {:?}: absolute paths are refused",
                        raw.display().to_string()
                    ),
                ))
            }
            Component::ParentDir => {
                return Err(invalid(
                    archive,
                    format!(
                        "entry {:?}: \"..\" in a path is refused",
                        raw.display().to_string()
                    ),
                ))
            }
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// What an entry may be: only files and directories are ever read.
pub enum Kind {
    File,
    Dir,
}

pub fn entry_kind(archive: &Path, name: &str, header: &tar::Header) -> Result<Kind, CopyError> {
    let t = header.entry_type();
    if t.is_file() {
        Ok(Kind::File)
    } else if t.is_dir() {
        Ok(Kind::Dir)
    } else if t.is_symlink() || t.is_hard_link() {
        let target = header
            .link_name()
            .ok()
            .flatten()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        Err(invalid(
            archive,
            format!("entry {name:?}: links are refused (-> {target:?})"),
        ))
    } else if t.is_pax_global_extensions()
        || t.is_pax_local_extensions()
        || t.is_gnu_longname()
        || t.is_gnu_longlink()
    {
        // The tar crate consumes these itself; they never surface here.
        Ok(Kind::Dir)
    } else {
        Err(invalid(
            archive,
            format!("entry {name:?}: only regular files and directories are allowed"),
        ))
    }
}

/// Running totals, refusing an archive once it is over the caps.
#[derive(Default)]
pub struct Budget {
    bytes: u64,
    entries: usize,
}

impl Budget {
    pub fn take(&mut self, archive: &Path, name: &str, size: u64) -> Result<(), CopyError> {
        self.entries += 1;
        self.bytes = self.bytes.saturating_add(size);
        if self.entries > MAX_ENTRIES {
            return Err(invalid(archive, format!("more than {MAX_ENTRIES} entries")));
        }
        if self.bytes > MAX_ARCHIVE_BYTES {
            return Err(invalid(
                archive,
                format!("entry {name:?} takes the archive over {MAX_ARCHIVE_BYTES} bytes"),
            ));
        }
        Ok(())
    }
}

/// The archive's bytes, decompressed when it is gzip or zstd (as
/// containers/image's `AutoDecompress`).
pub fn open_maybe_compressed(
    archive: &Path,
) -> Result<(Box<dyn Read + Send>, Compression), CopyError> {
    let f = std::fs::File::open(archive).map_err(CopyError::io(archive.display()))?;
    let mut src = BufReader::with_capacity(1 << 20, f);
    let magic = src
        .fill_buf()
        .map_err(CopyError::io(archive.display()))?
        .to_vec();
    let c = detect_compression(&magic);
    let r: Box<dyn Read + Send> = match c {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(src)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(src)
                .map_err(CopyError::io(archive.display()))?,
        ),
        Compression::None => Box::new(src),
    };
    Ok((r, c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_image::chain::OneLine;

    #[test]
    fn names_outside_the_archive_are_refused() {
        let a = Path::new("a.tar");
        assert_eq!(
            entry_name(a, Path::new("./blobs/sha256/x"))
                .unwrap()
                .as_deref(),
            Some("blobs/sha256/x")
        );
        assert_eq!(entry_name(a, Path::new("./")).unwrap(), None);
        let e = entry_name(a, Path::new("../etc/passwd"))
            .unwrap_err()
            .one_line();
        assert!(e.contains("a.tar") && e.contains(".."), "{e}");
        let e = entry_name(a, Path::new("/etc/passwd"))
            .unwrap_err()
            .one_line();
        assert!(e.contains("absolute"), "{e}");
        let e = entry_name(a, Path::new("blobs/../../x"))
            .unwrap_err()
            .one_line();
        assert!(e.contains(".."), "{e}");
    }

    #[test]
    fn budgets_cap_entries() {
        let mut b = Budget::default();
        b.take(Path::new("a"), "x", MAX_ARCHIVE_BYTES).unwrap();
        assert!(b.take(Path::new("a"), "y", 1).is_err());
    }
}

//! The lookaside directory: cached reads and write-once publishing.
//!
//! Signature files are small (about 1 KiB) and never change once written, so
//! a hot file is served from memory after one `stat` that proves it is still
//! the same inode with the same size and times (a deleted or replaced file is
//! noticed on the next request; other replicas' new files are never hidden
//! because misses are not cached). The content hash doubles as the strong
//! ETag, identical on every replica serving the same shared storage.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use axum::http::HeaderValue;
use bytes::Bytes;
use nix::errno::Errno;
use nix::sys::stat::FileStat;
use sha2::{Digest, Sha256};

use crate::cache::Cache;
use crate::fsops::{self, Pending};
use crate::path::MAX_INDEX;

/// Largest file served; containers/image reads at most 4 MiB of a signature.
pub const MAX_FILE: u64 = 4 << 20;
/// Files up to this size are kept in the cache.
const MAX_CACHED: u64 = 64 << 10;

/// Why a store operation failed. Displayed only in logs: responses say less.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("opening lookaside root {path}")]
    Root {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("reading {rel}")]
    Read {
        rel: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{rel} is larger than {MAX_FILE} bytes")]
    TooLarge { rel: String },
    #[error("writing into {dir}")]
    Write {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{dir} already has {MAX_INDEX} signatures")]
    Full { dir: String },
    #[error("{rel} already exists")]
    Exists { rel: String },
}

/// One file's bytes and validators.
#[derive(Debug)]
pub struct FileEntry {
    pub body: Bytes,
    pub etag: HeaderValue,
    stamp: Stamp,
}

/// What must be unchanged for a cached entry to be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: i64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(st: &FileStat) -> Self {
        Stamp {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        }
    }
}

/// Outcome of a cached read, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    Hit,
    Miss,
}

pub struct Store {
    root: OwnedFd,
    cache: Cache<FileEntry>,
}

impl Store {
    /// Opens `root`, caching up to `cache_entries` files (0 disables the
    /// cache) of at most `cache_bytes` in all.
    pub fn open(root: &Path, cache_entries: usize, cache_bytes: usize) -> Result<Self, StoreError> {
        let fd = fsops::open_root(root).map_err(|e| StoreError::Root {
            path: root.display().to_string(),
            source: e.into(),
        })?;
        Ok(Store {
            root: fd,
            cache: Cache::new(cache_entries, cache_bytes),
        })
    }

    /// Reads the file at `rel` (a path that passed `path::SigPath`); `None`
    /// when there is no regular file there inside the root.
    pub fn read(&self, rel: &str) -> Result<Option<(Arc<FileEntry>, CacheUse)>, StoreError> {
        let st = match fsops::stat_at(self.root.as_fd(), rel) {
            Ok(st) => st,
            Err(e) if not_found(e) => {
                self.cache.remove(rel);
                return Ok(None);
            }
            Err(e) => return Err(read_err(rel, e)),
        };
        if !fsops::is_regular(&st) {
            return Ok(None);
        }
        let stamp = Stamp::of(&st);
        if let Some(hit) = self.cache.get(rel, |e| e.stamp == stamp) {
            return Ok(Some((hit, CacheUse::Hit)));
        }
        let file = match fsops::open_beneath(self.root.as_fd(), rel) {
            Ok(f) => f,
            Err(Errno::EXDEV) => {
                tracing::warn!(rel, "refused: resolves outside the root");
                return Ok(None);
            }
            Err(e) if not_found(e) => return Ok(None),
            Err(e) => return Err(read_err(rel, e)),
        };
        let entry = Arc::new(load(file, rel)?);
        if entry.stamp.size as u64 <= MAX_CACHED {
            self.cache
                .insert(rel, entry.clone(), entry.body.len() + rel.len() + 128);
        }
        Ok(Some((entry, CacheUse::Miss)))
    }

    /// Stores `body` as the lowest free `signature-N` in `dir` and returns N.
    /// Blocking; safe against concurrent writers in this and other processes
    /// sharing the directory.
    pub fn publish_next(&self, dir: &str, body: &[u8]) -> Result<u32, StoreError> {
        let (dirfd, pending) = self.prepare(dir, body)?;
        let mut name = String::with_capacity(16);
        for n in 1..=MAX_INDEX {
            name.clear();
            name.push_str("signature-");
            name.push_str(&n.to_string());
            match pending.link(dirfd.as_fd(), &name) {
                Ok(()) => {
                    fsops::sync_dir(dirfd.as_fd()).map_err(|e| write_err(dir, e))?;
                    return Ok(n);
                }
                Err(Errno::EEXIST) => continue,
                Err(e) => return Err(write_err(dir, e.into())),
            }
        }
        Err(StoreError::Full {
            dir: dir.to_string(),
        })
    }

    /// Stores `body` as `dir/signature-n`, failing with [`StoreError::Exists`]
    /// if that file exists.
    pub fn publish_at(&self, dir: &str, n: u32, body: &[u8]) -> Result<(), StoreError> {
        let (dirfd, pending) = self.prepare(dir, body)?;
        match pending.link(dirfd.as_fd(), &format!("signature-{n}")) {
            Ok(()) => fsops::sync_dir(dirfd.as_fd()).map_err(|e| write_err(dir, e)),
            Err(Errno::EEXIST) => Err(StoreError::Exists {
                rel: format!("{dir}/signature-{n}"),
            }),
            Err(e) => Err(write_err(dir, e.into())),
        }
    }

    fn prepare(&self, dir: &str, body: &[u8]) -> Result<(OwnedFd, Pending), StoreError> {
        let dirfd = fsops::create_dirs_beneath(self.root.as_fd(), dir)
            .map_err(|e| write_err(dir, e.into()))?;
        let pending = Pending::write(dirfd.as_fd(), body).map_err(|e| write_err(dir, e))?;
        Ok((dirfd, pending))
    }

    /// Whether the root is still usable (for `/healthz`).
    pub fn healthy(&self) -> bool {
        nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&self.root))
            .is_ok_and(|st| st.st_nlink > 0)
    }
}

fn load(mut file: File, rel: &str) -> Result<FileEntry, StoreError> {
    let st = fsops::fstat_file(&file).map_err(|e| read_err(rel, e))?;
    if !fsops::is_regular(&st) {
        return Err(read_err(rel, Errno::EISDIR));
    }
    if st.st_size as u64 > MAX_FILE {
        return Err(StoreError::TooLarge {
            rel: rel.to_string(),
        });
    }
    let mut body = Vec::with_capacity(st.st_size as usize);
    (&mut file)
        .take(MAX_FILE + 1)
        .read_to_end(&mut body)
        .map_err(|e| StoreError::Read {
            rel: rel.to_string(),
            source: e,
        })?;
    let etag = format!("\"{}\"", hex::encode(Sha256::digest(&body)));
    Ok(FileEntry {
        body: Bytes::from(body),
        etag: HeaderValue::try_from(etag).unwrap_or(HeaderValue::from_static("\"\"")),
        stamp: Stamp::of(&st),
    })
}

fn not_found(e: Errno) -> bool {
    matches!(
        e,
        Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP | Errno::ENAMETOOLONG
    )
}

fn read_err(rel: &str, e: Errno) -> StoreError {
    StoreError::Read {
        rel: rel.to_string(),
        source: e.into(),
    }
}

fn write_err(dir: &str, e: std::io::Error) -> StoreError {
    StoreError::Write {
        dir: dir.to_string(),
        source: e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_notices_replacement_and_deletion() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path(), 16, 1 << 20).unwrap();
        let d = "ns/app@sha256=x";
        assert_eq!(store.publish_next(d, b"one").unwrap(), 1);
        let (e, u) = store.read(&format!("{d}/signature-1")).unwrap().unwrap();
        assert_eq!((&e.body[..], u), (&b"one"[..], CacheUse::Miss));
        let (_, u) = store.read(&format!("{d}/signature-1")).unwrap().unwrap();
        assert_eq!(u, CacheUse::Hit);
        // Replaced behind our back (an operator's `cp`): new inode, new bytes.
        let p = root.path().join(d).join("signature-1");
        std::fs::remove_file(&p).unwrap();
        assert!(store.read(&format!("{d}/signature-1")).unwrap().is_none());
        std::fs::write(&p, b"other").unwrap();
        let (e2, u) = store.read(&format!("{d}/signature-1")).unwrap().unwrap();
        assert_eq!((&e2.body[..], u), (&b"other"[..], CacheUse::Miss));
        assert_ne!(e.etag, e2.etag);
    }

    #[test]
    fn publish_fills_lowest_free_index_and_stops_at_127() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path(), 0, 0).unwrap();
        let d = "a@sha256=y";
        for want in 1..=3 {
            assert_eq!(store.publish_next(d, b"s").unwrap(), want);
        }
        assert!(matches!(
            store.publish_at(d, 2, b"t"),
            Err(StoreError::Exists { .. })
        ));
        store.publish_at(d, 5, b"t").unwrap();
        assert_eq!(store.publish_next(d, b"s").unwrap(), 4);
        assert_eq!(store.publish_next(d, b"s").unwrap(), 6);
        for _ in 7..=MAX_INDEX {
            store.publish_next(d, b"s").unwrap();
        }
        assert!(matches!(
            store.publish_next(d, b"s"),
            Err(StoreError::Full { .. })
        ));
    }
}

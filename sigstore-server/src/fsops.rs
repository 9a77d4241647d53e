//! File-system primitives that cannot escape the root and never expose a
//! partial file.
//!
//! * Reads open with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`
//!   relative to the root's descriptor: a symlink (or a `..` that slipped past
//!   the grammar) leading outside the root fails with `EXDEV` in the kernel,
//!   with no check-then-use race.
//! * Writes follow the write-once recipe: the body goes to an unnamed
//!   `O_TMPFILE` in the target directory, is `fsync`ed, then `linkat`ed to its
//!   final name. `linkat` fails with `EEXIST` instead of replacing, so two
//!   writers can never both win an index, and a reader sees either no file or
//!   the complete one. A process killed mid-write leaves nothing: the
//!   unnamed inode is freed by the kernel. Where `O_TMPFILE` is unsupported
//!   (some network file systems) a named `.upload-*` temporary is used; names
//!   starting with a dot are never served (see `path`).

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, fstatat, mkdirat, FileStat, Mode, SFlag};
use nix::unistd::{linkat, unlinkat, UnlinkatFlags};

fn beneath() -> ResolveFlag {
    ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS
}

fn owned(fd: i32) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open and is owned by no one else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Opens the root directory once; every other operation is relative to it.
pub fn open_root(path: &std::path::Path) -> Result<OwnedFd, Errno> {
    openat(
        None,
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(owned)
}

/// Opens `rel` for reading without leaving `root`.
pub fn open_beneath(root: BorrowedFd<'_>, rel: &str) -> Result<File, Errno> {
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY)
        .resolve(beneath());
    openat2(root.as_raw_fd(), rel, how).map(|fd| File::from(owned(fd)))
}

/// `stat` of `rel` (following symlinks): only a freshness check for cached
/// content that was read through [`open_beneath`], never a permission check.
pub fn stat_at(root: BorrowedFd<'_>, rel: &str) -> Result<FileStat, Errno> {
    fstatat(Some(root.as_raw_fd()), rel, AtFlags::empty())
}

pub fn fstat_file(f: &File) -> Result<FileStat, Errno> {
    fstat(f.as_raw_fd())
}

pub fn is_regular(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG
}

fn open_dir(parent: BorrowedFd<'_>, rel: &str) -> Result<OwnedFd, Errno> {
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(beneath());
    openat2(parent.as_raw_fd(), rel, how).map(owned)
}

/// Opens directory `rel` under `root`, creating missing components (0755),
/// each one resolved beneath its parent so a planted symlink cannot redirect
/// the write.
pub fn create_dirs_beneath(root: BorrowedFd<'_>, rel: &str) -> Result<OwnedFd, Errno> {
    match open_dir(root, rel) {
        Err(Errno::ENOENT) => {}
        other => return other,
    }
    let mut cur: Option<OwnedFd> = None;
    for comp in rel.split('/') {
        let parent = cur.as_ref().map_or(root, |fd| fd.as_fd());
        match mkdirat(
            Some(parent.as_raw_fd()),
            comp,
            Mode::from_bits_truncate(0o755),
        ) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        cur = Some(open_dir(parent, comp)?);
    }
    cur.ok_or(Errno::EINVAL)
}

/// A fully written, synced file that has no visible name yet.
pub struct Pending {
    file: File,
    /// Name of the fallback temporary, removed on drop.
    named: Option<(OwnedFd, String)>,
}

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Creates a fresh `.upload-<pid>-<n>-<random>` in `dir` (`O_EXCL`).
///
/// pid and counter alone are not unique on shared storage: replicas in
/// containers on NFS are all pid 1 and all count from 0, so their first
/// uploads collided on `.upload-1-0` and one failed with a 500. A random
/// part, and a new name when one is taken anyway, keep replicas apart.
fn named_temp(dir: BorrowedFd<'_>, mode: Mode) -> Result<(OwnedFd, String), Errno> {
    let flags =
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    let mut last = Errno::EEXIST;
    for _ in 0..16 {
        let name = format!(
            ".upload-{}-{}-{:016x}",
            std::process::id(),
            TMP_SEQ.fetch_add(1, Ordering::Relaxed),
            random_u64()
        );
        match openat(Some(dir.as_raw_fd()), name.as_str(), flags, mode) {
            Ok(fd) => return Ok((owned(fd), name)),
            Err(Errno::EEXIST) => last = Errno::EEXIST,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// 64 random bits from the OS-seeded keys of std's `RandomState` (enough
/// to keep temporary names apart; nothing secret depends on them).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(TMP_SEQ.load(Ordering::Relaxed));
    h.finish()
}

impl Pending {
    /// Writes `body` into an unnamed file in `dir` and syncs it.
    pub fn write(dir: BorrowedFd<'_>, body: &[u8]) -> std::io::Result<Self> {
        let mode = Mode::from_bits_truncate(0o644);
        let flags = OFlag::O_TMPFILE | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
        let mut pending = match openat(Some(dir.as_raw_fd()), ".", flags, mode) {
            Ok(fd) => Pending {
                file: File::from(owned(fd)),
                named: None,
            },
            Err(Errno::EOPNOTSUPP | Errno::EISDIR | Errno::EINVAL) => {
                let (fd, name) = named_temp(dir, mode)?;
                let dup = nix::unistd::dup(dir.as_raw_fd())?;
                Pending {
                    file: File::from(fd),
                    named: Some((owned(dup), name)),
                }
            }
            Err(e) => return Err(e.into()),
        };
        pending.file.write_all(body)?;
        pending.file.sync_all()?;
        Ok(pending)
    }

    /// Gives the file the name `name` in `dir`; `EEXIST` if taken (nothing
    /// is replaced). May be retried with another name.
    pub fn link(&self, dir: BorrowedFd<'_>, name: &str) -> Result<(), Errno> {
        match &self.named {
            Some((tmp_dir, tmp)) => match linkat(
                Some(tmp_dir.as_raw_fd()),
                tmp.as_str(),
                Some(dir.as_raw_fd()),
                name,
                AtFlags::empty(),
            ) {
                // NFS: a LINK whose reply was lost is sent again and answered
                // EEXIST, though the first one made the name. Our temporary
                // then has two links (the open(2) man page's recipe), asked
                // of the server, not the attribute cache.
                Err(Errno::EEXIST) if links_on_server(&self.file) == Some(2) => Ok(()),
                other => other,
            },
            None => {
                let proc_path = format!("/proc/self/fd/{}", self.file.as_raw_fd());
                match linkat(
                    None,
                    proc_path.as_str(),
                    Some(dir.as_raw_fd()),
                    name,
                    AtFlags::AT_SYMLINK_FOLLOW,
                ) {
                    // No /proc: AT_EMPTY_PATH works for privileged processes.
                    Err(Errno::ENOENT) => empty_path_link(&self.file, dir, name),
                    other => other,
                }
            }
        }
    }
}

/// The file's link count as the file server has it now (`statx` with
/// `AT_STATX_FORCE_SYNC`, which makes an NFS client ask instead of
/// answering from its cache); `None` if it cannot be had.
fn links_on_server(file: &File) -> Option<u32> {
    // SAFETY: statx writes into a zeroed struct; "" with AT_EMPTY_PATH names the descriptor.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let r = unsafe {
        libc::statx(
            file.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_STATX_FORCE_SYNC,
            libc::STATX_NLINK,
            &mut stx,
        )
    };
    (r == 0 && stx.stx_mask & libc::STATX_NLINK != 0).then_some(stx.stx_nlink)
}

fn empty_path_link(file: &File, dir: BorrowedFd<'_>, name: &str) -> Result<(), Errno> {
    let c = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: valid descriptors and NUL-terminated strings for the duration of the call.
    let r = unsafe {
        libc::linkat(
            file.as_raw_fd(),
            c"".as_ptr(),
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Errno::result(r).map(drop)
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some((dir, name)) = &self.named {
            let _ = unlinkat(
                Some(dir.as_raw_fd()),
                name.as_str(),
                UnlinkatFlags::NoRemoveDir,
            );
        }
    }
}

/// Makes a new directory entry durable.
pub fn sync_dir(dir: BorrowedFd<'_>) -> std::io::Result<()> {
    nix::unistd::fsync(dir.as_raw_fd()).map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_out_of_root_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"secret").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("d")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("d/abs"))
            .unwrap();
        std::os::unix::fs::symlink(
            "../../../../../../../../etc/passwd",
            root.path().join("d/rel"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("dirlink")).unwrap();
        std::fs::write(root.path().join("d/ok"), b"ok").unwrap();
        std::os::unix::fs::symlink("ok", root.path().join("d/inside")).unwrap();
        let fd = open_root(root.path()).unwrap();
        assert_eq!(open_beneath(fd.as_fd(), "d/abs").unwrap_err(), Errno::EXDEV);
        assert_eq!(open_beneath(fd.as_fd(), "d/rel").unwrap_err(), Errno::EXDEV);
        assert_eq!(
            open_beneath(fd.as_fd(), "dirlink/secret").unwrap_err(),
            Errno::EXDEV
        );
        assert_eq!(
            open_beneath(fd.as_fd(), "/etc/passwd").unwrap_err(),
            Errno::EXDEV
        );
        assert_eq!(open_beneath(fd.as_fd(), "../x").unwrap_err(), Errno::EXDEV);
        assert!(open_beneath(fd.as_fd(), "d/inside").is_ok());
        // Writes can't be redirected through a planted directory symlink either.
        assert_eq!(
            create_dirs_beneath(fd.as_fd(), "dirlink/new").unwrap_err(),
            Errno::EXDEV
        );
        assert!(!outside.path().join("new").exists());
    }

    #[test]
    fn named_temporaries_of_other_replicas_with_our_pid_do_not_collide() {
        let root = tempfile::tempdir().unwrap();
        let fd = open_root(root.path()).unwrap();
        let dir = create_dirs_beneath(fd.as_fd(), "a@sha256=x").unwrap();
        // Another host's replica with the same pid, at the same count.
        let next = TMP_SEQ.load(Ordering::Relaxed);
        for n in next..next + 64 {
            let other = root
                .path()
                .join(format!("a@sha256=x/.upload-{}-{n}", std::process::id()));
            std::fs::write(other, b"theirs").unwrap();
        }
        let mode = Mode::from_bits_truncate(0o644);
        let (a, name_a) = named_temp(dir.as_fd(), mode).unwrap();
        let (_b, name_b) = named_temp(dir.as_fd(), mode).unwrap();
        assert_ne!(name_a, name_b);
        assert!(name_a.starts_with(".upload-"), "{name_a}");
        let mut f = File::from(a);
        f.write_all(b"ours").unwrap();
        let p = root.path().join("a@sha256=x").join(&name_a);
        assert_eq!(std::fs::read(p).unwrap(), b"ours");
    }

    /// A pending file on the named-temporary path (what NFS takes).
    fn named_pending(dir: BorrowedFd<'_>) -> (Pending, String) {
        let (tmp, name) = named_temp(dir, Mode::from_bits_truncate(0o644)).unwrap();
        let dup = nix::unistd::dup(dir.as_raw_fd()).unwrap();
        let p = Pending {
            file: File::from(tmp),
            named: Some((owned(dup), name.clone())),
        };
        (p, name)
    }

    #[test]
    fn a_link_made_by_a_lost_reply_counts_as_made() {
        let root = tempfile::tempdir().unwrap();
        let fd = open_root(root.path()).unwrap();
        let dir = create_dirs_beneath(fd.as_fd(), "a@sha256=z").unwrap();
        let (p, name) = named_pending(dir.as_fd());
        // What the first, unanswered LINK did on the server.
        linkat(
            Some(dir.as_raw_fd()),
            name.as_str(),
            Some(dir.as_raw_fd()),
            "signature-1",
            AtFlags::empty(),
        )
        .unwrap();
        p.link(dir.as_fd(), "signature-1").unwrap();
        // Someone else's file is still refused.
        let d = root.path().join("a@sha256=z");
        std::fs::write(d.join("signature-2"), b"theirs").unwrap();
        let (q, _) = named_pending(dir.as_fd());
        assert_eq!(
            q.link(dir.as_fd(), "signature-2").unwrap_err(),
            Errno::EEXIST
        );
        drop((p, q));
        assert!(d.join("signature-1").is_file());
        let left: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "temporaries left behind: {left:?}");
    }

    #[test]
    fn link_is_write_once() {
        let root = tempfile::tempdir().unwrap();
        let fd = open_root(root.path()).unwrap();
        let dir = create_dirs_beneath(fd.as_fd(), "a/b@sha256=x").unwrap();
        let p = Pending::write(dir.as_fd(), b"one").unwrap();
        p.link(dir.as_fd(), "signature-1").unwrap();
        let q = Pending::write(dir.as_fd(), b"two").unwrap();
        assert_eq!(
            q.link(dir.as_fd(), "signature-1").unwrap_err(),
            Errno::EEXIST
        );
        q.link(dir.as_fd(), "signature-2").unwrap();
        let d = root.path().join("a/b@sha256=x");
        assert_eq!(std::fs::read(d.join("signature-1")).unwrap(), b"one");
        assert_eq!(std::fs::read(d.join("signature-2")).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}

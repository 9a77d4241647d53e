//! File-system primitives that only ever act relative to a directory file
//! descriptor inside the layer and never follow a symlink.
//!
//! Each path component is opened on its own with `O_NOFOLLOW | O_DIRECTORY`
//! from its parent's descriptor. That gives the guarantee of `openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` (names are already free of `..`,
//! so nothing can climb out, and a symlink anywhere is refused) on every
//! kernel, with no fallback path to get wrong, and lets [`DirCache`] keep the
//! descriptors of the directory being filled, so most entries need no path
//! resolution at all where `openat2` would resolve the whole parent path.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstatat, mkdirat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};

use super::name::split_last;

/// Deeper directories are still resolved safely, just not cached, so a
/// pathological layer cannot make us hold thousands of descriptors.
const MAX_CACHED_DEPTH: usize = 64;

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// Takes ownership of a descriptor nix handed back as a bare integer.
pub(super) fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: only called on descriptors just returned by a successful
    // open/openat, which nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Descriptors of the directories on the path to the last entry, so a run of
/// entries in one directory (the usual tar order) resolves nothing.
pub(super) struct DirCache {
    root: OwnedFd,
    stack: Vec<(Vec<u8>, OwnedFd)>,
}

/// A directory descriptor that is either cached or owned by the caller.
pub(super) enum DirRef<'a> {
    Cached(BorrowedFd<'a>),
    Owned(OwnedFd),
}

impl DirRef<'_> {
    pub(super) fn raw(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl AsFd for DirRef<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            DirRef::Cached(fd) => fd.as_fd(),
            DirRef::Owned(fd) => fd.as_fd(),
        }
    }
}

fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

impl DirCache {
    pub(super) fn new(root: OwnedFd) -> Self {
        Self {
            root,
            stack: Vec::new(),
        }
    }

    fn top(&self) -> BorrowedFd<'_> {
        match self.stack.last() {
            Some((_, fd)) => fd.as_fd(),
            None => self.root.as_fd(),
        }
    }

    /// Opens the directory at the normalised path `dir` (empty: the root),
    /// creating missing components as 0755 when `create` is set, the way
    /// containers/storage creates parents a layer did not list.
    ///
    /// Fails with `ELOOP` if a component is a symlink and `ENOTDIR` if it is
    /// some other non-directory.
    pub(super) fn walk(&mut self, dir: &[u8], create: bool) -> nix::Result<DirRef<'_>> {
        let cached = components(dir)
            .zip(&self.stack)
            .take_while(|(want, (have, _))| *want == have.as_slice())
            .count();
        self.stack.truncate(cached);
        let mut deep: Option<OwnedFd> = None;
        for component in components(dir).skip(cached) {
            let parent = match &deep {
                Some(fd) => fd.as_raw_fd(),
                None => self.top().as_raw_fd(),
            };
            let fd = open_dir(parent, component, create)?;
            if deep.is_none() && self.stack.len() < MAX_CACHED_DEPTH {
                self.stack.push((component.to_vec(), fd));
            } else {
                deep = Some(fd);
            }
        }
        Ok(match deep {
            Some(fd) => DirRef::Owned(fd),
            None => DirRef::Cached(self.top()),
        })
    }

    /// Caches a directory just created at `path`, if its parent is the
    /// cached top, since the next entries are most likely its children.
    pub(super) fn adopt(&mut self, path: &[u8], fd: OwnedFd) {
        let (parent, name) = split_last(path);
        let depth = components(parent).count();
        if depth != self.stack.len() || depth >= MAX_CACHED_DEPTH {
            return;
        }
        if components(parent)
            .zip(&self.stack)
            .all(|(want, (have, _))| want == have.as_slice())
        {
            self.stack.push((name.to_vec(), fd));
        }
    }

    /// Drops cached descriptors for `path` and below after the directory
    /// there was removed, so later entries cannot write into the orphan.
    pub(super) fn forget(&mut self, path: &[u8]) {
        let depth = components(path).count();
        if depth == 0 || depth > self.stack.len() {
            return;
        }
        if components(path)
            .zip(&self.stack)
            .all(|(want, (have, _))| want == have.as_slice())
        {
            self.stack.truncate(depth - 1);
        }
    }
}

/// Opens one directory component without following a symlink.
pub(super) fn open_dir(parent: RawFd, name: &[u8], create: bool) -> nix::Result<OwnedFd> {
    match openat(Some(parent), name, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => Ok(owned(fd)),
        Err(Errno::ENOENT) if create => {
            match mkdirat(Some(parent), name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e),
            }
            let fd = owned(openat(Some(parent), name, DIR_FLAGS, Mode::empty())?);
            // The umask must not decide the mode of directories in an image.
            fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(0o755))?;
            Ok(fd)
        }
        // O_DIRECTORY wins over O_NOFOLLOW: a symlink fails with ENOTDIR.
        // Tell it apart so a refusal can say what really happened.
        Err(Errno::ENOTDIR) if is_symlink(parent, name) => Err(Errno::ELOOP),
        Err(e) => Err(e),
    }
}

fn is_symlink(parent: RawFd, name: &[u8]) -> bool {
    fstatat(Some(parent), name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK)
}

/// Creates or reuses the directory `name`: an existing directory is kept
/// (tar merges directories), anything else there is removed first.
/// Returns the new descriptor and whether the directory was just made.
pub(super) fn make_dir(parent: RawFd, name: &[u8], mode: u32) -> nix::Result<(OwnedFd, bool)> {
    let perm = Mode::from_bits_truncate(mode & 0o777);
    match mkdirat(Some(parent), name, perm) {
        Ok(()) => return Ok((open_dir(parent, name, false)?, true)),
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    match open_dir(parent, name, false) {
        Ok(fd) => Ok((fd, false)),
        Err(Errno::ELOOP | Errno::ENOTDIR) => {
            unlinkat(Some(parent), name, UnlinkatFlags::NoRemoveDir)?;
            mkdirat(Some(parent), name, perm)?;
            Ok((open_dir(parent, name, false)?, true))
        }
        Err(e) => Err(e),
    }
}

/// Runs `create`, and if the name is taken, removes whatever is there and
/// runs it once more: a later tar entry replaces an earlier one. Reports
/// whether a directory tree was removed on the way.
pub(super) fn create_replacing<T>(
    parent: RawFd,
    name: &[u8],
    mut create: impl FnMut() -> nix::Result<T>,
) -> nix::Result<(T, bool)> {
    match create() {
        Err(Errno::EEXIST) => {
            let removed_dir = remove(parent, name)?;
            Ok((create()?, removed_dir))
        }
        other => other.map(|value| (value, false)),
    }
}

/// Removes `name` whatever it is; true if it was a directory.
fn remove(parent: RawFd, name: &[u8]) -> nix::Result<bool> {
    match unlinkat(Some(parent), name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) => Ok(false),
        Err(Errno::EISDIR) => remove_tree(parent, name).map(|()| true),
        Err(e) => Err(e),
    }
}

/// `rm -rf` through descriptors, so a symlink inside the tree is unlinked,
/// never followed. Iterative, so a deep hostile tree cannot overflow the
/// stack.
fn remove_tree(parent: RawFd, name: &[u8]) -> nix::Result<()> {
    struct Level {
        fd: OwnedFd,
        name: Vec<u8>,
        children: Vec<CString>,
    }
    let open = |parent: RawFd, name: &[u8]| -> nix::Result<Level> {
        let fd = open_dir(parent, name, false)?;
        // Listed up front: unlinking while readdir runs may skip entries.
        let children = list_dir(fd.as_fd())?;
        Ok(Level {
            fd,
            name: name.to_vec(),
            children,
        })
    };
    let mut levels = vec![open(parent, name)?];
    loop {
        let Some(level) = levels.last_mut() else {
            return Ok(());
        };
        let dir = level.fd.as_raw_fd();
        match level.children.pop() {
            Some(child) => {
                match unlinkat(Some(dir), child.as_bytes(), UnlinkatFlags::NoRemoveDir) {
                    Ok(()) => {}
                    Err(Errno::EISDIR) => levels.push(open(dir, child.as_bytes())?),
                    Err(e) => return Err(e),
                }
            }
            None => {
                let Some(done) = levels.pop() else {
                    return Ok(());
                };
                drop(done.fd);
                let parent = levels.last().map_or(parent, |l| l.fd.as_raw_fd());
                unlinkat(Some(parent), done.name.as_slice(), UnlinkatFlags::RemoveDir)?;
            }
        }
    }
}

/// The names in a directory, without `.` and `..`.
fn list_dir(dir: BorrowedFd<'_>) -> nix::Result<Vec<CString>> {
    // fdopendir takes the descriptor over, so give it a duplicate.
    let dup = dir
        .try_clone_to_owned()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let raw = dup.into_raw_fd();
    // SAFETY: raw is an open directory descriptor we own; on success
    // fdopendir takes it over and closedir below releases it.
    let stream = unsafe { libc::fdopendir(raw) };
    if stream.is_null() {
        let err = Errno::last();
        drop(owned(raw));
        return Err(err);
    }
    let mut names = Vec::new();
    let result = loop {
        Errno::clear();
        // SAFETY: stream is a valid DIR* until closedir.
        let entry = unsafe { libc::readdir64(stream) };
        if entry.is_null() {
            break match Errno::last_raw() {
                0 => Ok(()),
                code => Err(Errno::from_raw(code)),
            };
        }
        // SAFETY: readdir returned a valid dirent whose d_name is
        // NUL-terminated and lives until the next readdir call.
        let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) };
        if name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    };
    // SAFETY: stream came from fdopendir and is closed exactly once.
    unsafe { libc::closedir(stream) };
    result.map(|()| names)
}

/// Sets an xattr on an open file or directory.
pub(super) fn fset_xattr(fd: RawFd, name: &CStr, value: &[u8]) -> nix::Result<()> {
    // SAFETY: name is NUL-terminated and value is a valid slice for the call.
    let res = unsafe { libc::fsetxattr(fd, name.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    Errno::result(res).map(drop)
}

/// Sets an xattr on `name` itself (never a symlink's target) for entries
/// that cannot be opened: symlinks, devices, FIFOs. The parent is reached
/// through its `/proc/self/fd` magic link, which pins it to our descriptor.
pub(super) fn lset_xattr_at(
    parent: RawFd,
    name: &[u8],
    xattr: &CStr,
    value: &[u8],
) -> nix::Result<()> {
    let mut path = format!("/proc/self/fd/{parent}/").into_bytes();
    path.extend_from_slice(name);
    let path = CString::new(path).map_err(|_| Errno::EINVAL)?;
    // SAFETY: both strings are NUL-terminated and value is a valid slice.
    let res = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            xattr.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(res).map(drop)
}

/// The process umask, read without changing it (`umask(2)` can only be read
/// by setting it, which would race with other threads creating files).
/// `None` if /proc is unavailable; callers then chmod unconditionally.
pub(super) fn current_umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

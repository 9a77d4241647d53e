//! Turning one tar entry into file-system state, with the replacement and
//! whiteout rules of containers/storage's overlay driver.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstatat, makedev, mknodat, utimensat, Mode, SFlag, UtimensatFlags};
use nix::unistd::{linkat, symlinkat};
use tar::EntryType;

use super::context::{walk_refusal, Ctx};
use super::fsops::{
    create_replacing, current_umask, fset_xattr, make_dir, open_dir, owned, DirCache,
};
use super::meta::{device_numbers, read_meta, Meta};
use super::name::{is_aufs_meta, join, normalize, split_last, whiteout, Whiteout};
use super::state::{DirMeta, State};
use super::{Refusal, UnpackError, UnpackOptions, BUF_SIZE};

const OPAQUE_XATTR: &std::ffi::CStr = c"trusted.overlay.opaque";

/// Unpacking state that lives for one layer.
pub(super) struct Unpacker {
    dirs: DirCache,
    state: State,
}

impl Unpacker {
    pub(super) fn new(root: OwnedFd, opts: &UnpackOptions) -> Self {
        Self {
            dirs: DirCache::new(root),
            state: State {
                preserve_ownership: opts.preserve_ownership,
                privileged: nix::unistd::geteuid().is_root(),
                create_mask: current_umask().unwrap_or(0o777),
                max_bytes: opts.max_total_bytes,
                written: 0,
                image_budget: opts.image_budget.clone(),
                buf: vec![0; BUF_SIZE],
                deferred: HashMap::new(),
                skipped_devices: HashSet::new(),
            },
        }
    }

    pub(super) fn apply<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<(), UnpackError> {
        let raw = entry.path_bytes().into_owned();
        let cx = Ctx { raw: &raw };
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            tracing::debug!(path = %cx.path(), "ignoring PAX global header");
            return Ok(());
        }
        let path = normalize(&raw).map_err(|r| cx.refused(r))?;
        if is_aufs_meta(&path) {
            tracing::debug!(path = %cx.path(), "ignoring AUFS metadata entry");
            return Ok(());
        }
        let meta = read_meta(&cx, entry)?;
        let (parent, name) = split_last(&path);
        match whiteout(name).map_err(|r| cx.refused(r))? {
            Whiteout::None => {}
            Whiteout::Opaque => return self.opaque(&cx, parent),
            Whiteout::File(target) => return self.whiteout(&cx, parent, target, &meta),
            Whiteout::Meta => {
                tracing::debug!(path = %cx.path(), "ignoring AUFS metadata entry");
                return Ok(());
            }
        }
        if !self.state.skipped_devices.is_empty() {
            // Whatever this entry is, it supersedes a device skipped here.
            self.state.skipped_devices.remove(&path);
        }
        if path.is_empty() {
            if kind.is_dir() {
                return Ok(());
            }
            return Err(cx.refused(Refusal::ReplacesRoot));
        }
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.file(&cx, entry, &path, &meta)
            }
            EntryType::Directory => self.directory(&cx, &path, &meta),
            EntryType::Symlink => self.symlink(&cx, entry, &path, &meta),
            EntryType::Link => self.hard_link(&cx, entry, &path),
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                self.node(&cx, entry, &path, &meta)
            }
            other => Err(UnpackError::UnsupportedType {
                path: cx.path(),
                kind: char::from(other.as_byte()),
            }),
        }
    }

    fn file<R: Read>(
        &mut self,
        cx: &Ctx,
        entry: &mut tar::Entry<'_, R>,
        path: &[u8],
        meta: &Meta,
    ) -> Result<(), UnpackError> {
        self.state.reserve(entry.size())?;
        let (parent_path, name) = split_last(path);
        let removed_dir = {
            let parent = self.dirs.walk(parent_path, true).map_err(|e| cx.walk(e))?;
            let parent = parent.raw();
            let flags = OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC;
            let perm = Mode::from_bits_truncate(meta.mode & 0o777);
            let create = || openat(Some(parent), name, flags, perm);
            let (fd, removed_dir) =
                create_replacing(parent, name, create).map_err(cx.io("creating file"))?;
            let file = File::from(owned(fd));
            self.state.copy_data(cx, entry, &file)?;
            self.state.finish_fd(
                cx,
                file.as_raw_fd(),
                meta,
                self.state.chmod(meta.mode),
                true,
            )?;
            removed_dir
        };
        self.replaced(path, removed_dir);
        Ok(())
    }

    fn directory(&mut self, cx: &Ctx, path: &[u8], meta: &Meta) -> Result<(), UnpackError> {
        let (parent_path, name) = split_last(path);
        let now = if self.state.privileged {
            meta.mode
        } else {
            meta.mode | 0o700
        };
        let (fd, fresh) = {
            let parent = self.dirs.walk(parent_path, true).map_err(|e| cx.walk(e))?;
            make_dir(parent.raw(), name, now).map_err(cx.io("creating directory"))?
        };
        // An existing directory keeps its old mode unless told otherwise.
        let chmod = if fresh {
            self.state.chmod(now)
        } else {
            Some(now)
        };
        self.state
            .finish_fd(cx, fd.as_raw_fd(), meta, chmod, false)?;
        let deferred = DirMeta {
            mode: (now != meta.mode).then_some(meta.mode),
            mtime: meta.mtime,
        };
        self.state.deferred.insert(path.to_vec(), deferred);
        self.dirs.adopt(path, fd);
        Ok(())
    }

    fn symlink<R: Read>(
        &mut self,
        cx: &Ctx,
        entry: &tar::Entry<'_, R>,
        path: &[u8],
        meta: &Meta,
    ) -> Result<(), UnpackError> {
        let target = link_name(cx, entry)?;
        let (parent_path, name) = split_last(path);
        let removed_dir = {
            let parent = self.dirs.walk(parent_path, true).map_err(|e| cx.walk(e))?;
            let parent = parent.raw();
            let create = || symlinkat(target.as_slice(), Some(parent), name);
            let ((), removed_dir) =
                create_replacing(parent, name, create).map_err(cx.io("creating symlink"))?;
            self.state.finish_at(cx, parent, name, meta, None)?;
            removed_dir
        };
        self.replaced(path, removed_dir);
        Ok(())
    }

    fn hard_link<R: Read>(
        &mut self,
        cx: &Ctx,
        entry: &tar::Entry<'_, R>,
        path: &[u8],
    ) -> Result<(), UnpackError> {
        let raw_target = link_name(cx, entry)?;
        let refused = |problem: Refusal| {
            cx.refused(Refusal::HardLinkTarget {
                target: String::from_utf8_lossy(&raw_target).into_owned(),
                problem: Box::new(problem),
            })
        };
        let target = normalize(&raw_target).map_err(refused)?;
        if target.is_empty() {
            return Err(refused(Refusal::IsDirectory));
        }
        if target == path {
            return Ok(());
        }
        if self.state.skipped_devices.contains(&target) {
            tracing::warn!(path = %cx.path(), "skipping hard link to a skipped device node");
            return Ok(());
        }
        let (target_parent, target_name) = split_last(&target);
        let target_dir = match self.dirs.walk(target_parent, false) {
            Ok(dir) => dir
                .as_fd()
                .try_clone_to_owned()
                .map_err(|source| UnpackError::Io {
                    path: cx.path(),
                    op: "duplicating descriptor",
                    source,
                })?,
            Err(e) => {
                return Err(walk_refusal(e)
                    .map_or_else(|| cx.io("opening link target directory")(e), refused))
            }
        };
        let target_dir = target_dir.as_raw_fd();
        let flags = AtFlags::AT_SYMLINK_NOFOLLOW;
        match fstatat(Some(target_dir), target_name, flags) {
            Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR => {
                return Err(refused(Refusal::IsDirectory));
            }
            Ok(_) => {}
            Err(Errno::ENOENT) => return Err(refused(Refusal::Missing)),
            Err(e) => return Err(cx.io("inspecting link target")(e)),
        }
        let (parent_path, name) = split_last(path);
        let removed_dir = {
            let parent = self.dirs.walk(parent_path, true).map_err(|e| cx.walk(e))?;
            let parent = parent.raw();
            // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink.
            let link = || {
                linkat(
                    Some(target_dir),
                    target_name,
                    Some(parent),
                    name,
                    AtFlags::empty(),
                )
            };
            let ((), removed_dir) =
                create_replacing(parent, name, link).map_err(cx.io("creating hard link"))?;
            removed_dir
        };
        self.replaced(path, removed_dir);
        Ok(())
    }

    /// Character and block devices and FIFOs.
    fn node<R: Read>(
        &mut self,
        cx: &Ctx,
        entry: &tar::Entry<'_, R>,
        path: &[u8],
        meta: &Meta,
    ) -> Result<(), UnpackError> {
        let sflag = match entry.header().entry_type() {
            EntryType::Char => SFlag::S_IFCHR,
            EntryType::Block => SFlag::S_IFBLK,
            _ => SFlag::S_IFIFO,
        };
        let is_device = sflag != SFlag::S_IFIFO;
        if is_device && !self.state.privileged {
            return self.skip_device(cx, path, Errno::EPERM);
        }
        // FIFOs often leave the device fields blank, so only read them here.
        let dev = if is_device {
            let (major, minor) = device_numbers(cx, entry.header())?;
            makedev(major.into(), minor.into())
        } else {
            0
        };
        let (parent_path, name) = split_last(path);
        let created = {
            let parent = self.dirs.walk(parent_path, true).map_err(|e| cx.walk(e))?;
            let parent = parent.raw();
            let perm = Mode::from_bits_truncate(meta.mode & 0o777);
            let mknod = || mknodat(Some(parent), name, sflag, perm, dev);
            match create_replacing(parent, name, mknod) {
                Ok(((), removed_dir)) => {
                    self.state
                        .finish_at(cx, parent, name, meta, Some(meta.mode))?;
                    Ok(removed_dir)
                }
                Err(e) => Err(e),
            }
        };
        match created {
            Ok(removed_dir) => {
                self.replaced(path, removed_dir);
                Ok(())
            }
            // Root in a user namespace may not create devices either. An
            // entry this replaced may be gone, so forget its directory.
            Err(Errno::EPERM) if is_device => {
                self.replaced(path, true);
                self.skip_device(cx, path, Errno::EPERM)
            }
            Err(e) => Err(cx.io("creating device node")(e)),
        }
    }

    fn skip_device(&mut self, cx: &Ctx, path: &[u8], errno: Errno) -> Result<(), UnpackError> {
        tracing::warn!(path = %cx.path(), error = %errno, "skipping device node: needs root");
        self.state.skipped_devices.insert(path.to_vec());
        Ok(())
    }

    /// `.wh.NAME` becomes the 0:0 character device overlayfs reads as a
    /// whiteout.
    fn whiteout(
        &mut self,
        cx: &Ctx,
        parent_path: &[u8],
        name: &[u8],
        meta: &Meta,
    ) -> Result<(), UnpackError> {
        let removed_dir = {
            let parent = self.dirs.walk(parent_path, true).map_err(|e| cx.walk(e))?;
            let parent = parent.raw();
            let mknod = || mknodat(Some(parent), name, SFlag::S_IFCHR, Mode::empty(), 0);
            let what = "a whiteout (0:0 character device)";
            let ((), removed_dir) = create_replacing(parent, name, mknod)
                .map_err(|e| cx.privilege(what, "creating whiteout", e))?;
            self.state.chown_at(cx, parent, name, meta)?;
            removed_dir
        };
        self.replaced(&join(parent_path, name), removed_dir);
        Ok(())
    }

    /// `.wh..wh..opq` marks its directory opaque, creating it if the layer
    /// did not list it.
    fn opaque(&mut self, cx: &Ctx, dir_path: &[u8]) -> Result<(), UnpackError> {
        let dir = self.dirs.walk(dir_path, true).map_err(|e| cx.walk(e))?;
        fset_xattr(dir.raw(), OPAQUE_XATTR, b"y").map_err(|e| {
            cx.privilege(
                "an opaque directory (trusted.overlay.opaque)",
                "setting opaque xattr",
                e,
            )
        })
    }

    /// Keeps the cache and the deferred directory list in step with a
    /// directory tree an entry has just replaced.
    fn replaced(&mut self, path: &[u8], removed_dir: bool) {
        if !removed_dir {
            return;
        }
        self.dirs.forget(path);
        self.state.deferred.retain(|dir, _| !is_within(dir, path));
    }

    /// Applies directory modes and mtimes now that nothing will be written
    /// into them. Children go first so a parent's final mode (say 0500 when
    /// unprivileged) cannot lock us out of them.
    pub(super) fn finish(&mut self) -> Result<(), UnpackError> {
        let mut dirs: Vec<_> = self.state.deferred.drain().collect();
        dirs.sort_unstable_by(|a, b| b.0.cmp(&a.0));
        for (path, meta) in dirs {
            let cx = Ctx { raw: &path };
            let (parent_path, name) = split_last(&path);
            let parent = self.dirs.walk(parent_path, false).map_err(|e| cx.walk(e))?;
            let parent = parent.raw();
            if let Some(mode) = meta.mode {
                let fd = open_dir(parent, name, false).map_err(cx.io("opening directory"))?;
                fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(mode))
                    .map_err(cx.io("changing mode"))?;
            }
            utimensat(
                Some(parent),
                name,
                &meta.mtime,
                &meta.mtime,
                UtimensatFlags::NoFollowSymlink,
            )
            .map_err(cx.io("setting times"))?;
        }
        Ok(())
    }
}

fn is_within(path: &[u8], dir: &[u8]) -> bool {
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
}

fn link_name<R: Read>(cx: &Ctx, entry: &tar::Entry<'_, R>) -> Result<Vec<u8>, UnpackError> {
    let target = entry
        .link_name_bytes()
        .ok_or_else(|| cx.refused(Refusal::MissingLinkName))?;
    if target.is_empty() {
        return Err(cx.refused(Refusal::MissingLinkName));
    }
    if target.contains(&0) {
        return Err(cx.refused(Refusal::NulByte));
    }
    Ok(target.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within() {
        assert!(is_within(b"a/b", b"a"));
        assert!(is_within(b"a", b"a"));
        assert!(!is_within(b"ab", b"a"));
    }
}

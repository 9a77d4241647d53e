//! Turning one tar entry into file-system state, with the replacement and
//! whiteout rules of containers/storage's overlay driver.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstatat, futimens, makedev, mknodat, utimensat, FchmodatFlags, Mode, SFlag,
    UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, Gid, Uid};
use tar::EntryType;

use super::fsops::{
    create_replacing, current_umask, fset_xattr, lset_xattr_at, make_dir, open_dir, owned, DirCache,
};
use super::name::{is_aufs_meta, join, normalize, split_last, whiteout, Whiteout};
use super::{Refusal, UnpackError, UnpackOptions, BUF_SIZE};

const OPAQUE_XATTR: &std::ffi::CStr = c"trusted.overlay.opaque";
const XATTR_PAX_PREFIX: &[u8] = b"SCHILY.xattr.";

/// Unpacking state that lives for one layer.
pub(super) struct Unpacker {
    dirs: DirCache,
    state: State,
}

/// Everything but the directory cache, split out so an entry handler can
/// hold a cached parent descriptor while updating the rest.
struct State {
    preserve_ownership: bool,
    /// Root can write into directories whatever their mode; others need
    /// u+wx until the end, so directory modes are then applied last.
    privileged: bool,
    /// Mode bits a create call may lose to the umask; when an entry's mode
    /// has none of these (and no setuid/setgid/sticky) no chmod is needed.
    create_mask: u32,
    max_bytes: u64,
    written: u64,
    buf: Vec<u8>,
    /// Directory metadata applied after all entries, because writing
    /// children changes a directory's mtime.
    deferred: HashMap<Vec<u8>, DirMeta>,
    /// Device nodes skipped when unprivileged, so hard links to them can be
    /// skipped too instead of failing the layer.
    skipped_devices: HashSet<Vec<u8>>,
}

struct DirMeta {
    /// The final mode, when it differs from what was applied immediately.
    mode: Option<u32>,
    mtime: TimeSpec,
}

/// Metadata every entry type carries.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: TimeSpec,
    xattrs: Vec<(CString, Vec<u8>)>,
}

/// The entry name as found in the tarball, for error messages.
struct Ctx<'a> {
    raw: &'a [u8],
}

impl Ctx<'_> {
    fn path(&self) -> String {
        String::from_utf8_lossy(self.raw).into_owned()
    }

    fn refused(&self, reason: Refusal) -> UnpackError {
        UnpackError::Refused {
            path: self.path(),
            reason,
        }
    }

    fn io(&self, op: &'static str) -> impl FnOnce(Errno) -> UnpackError + '_ {
        move |errno| UnpackError::Io {
            path: self.path(),
            op,
            source: errno.into(),
        }
    }

    fn header(&self) -> impl FnOnce(io::Error) -> UnpackError + '_ {
        move |source| UnpackError::Header {
            path: self.path(),
            source,
        }
    }

    fn privilege(&self, what: &'static str, op: &'static str, errno: Errno) -> UnpackError {
        if errno == Errno::EPERM {
            UnpackError::NeedsPrivilege {
                path: self.path(),
                what,
                source: errno.into(),
            }
        } else {
            self.io(op)(errno)
        }
    }

    /// Explains a failed walk to an entry's parent directory.
    fn walk(&self, errno: Errno) -> UnpackError {
        match walk_refusal(errno) {
            Some(reason) => self.refused(reason),
            None => self.io("opening parent directory")(errno),
        }
    }
}

fn walk_refusal(errno: Errno) -> Option<Refusal> {
    match errno {
        Errno::ELOOP => Some(Refusal::SymlinkInPath),
        Errno::ENOTDIR => Some(Refusal::ParentNotDirectory),
        Errno::ENOENT => Some(Refusal::Missing),
        _ => None,
    }
}

fn stream(source: io::Error) -> UnpackError {
    UnpackError::Stream { source }
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
        let (fd, fresh) = {
            let parent = self.dirs.walk(parent_path, true).map_err(|e| cx.walk(e))?;
            make_dir(parent.raw(), name, meta.mode).map_err(cx.io("creating directory"))?
        };
        let now = if self.state.privileged {
            meta.mode
        } else {
            meta.mode | 0o700
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
            Err(Errno::ENOENT) if self.state.skipped_devices.contains(&target) => {
                tracing::warn!(path = %cx.path(), "skipping hard link to a skipped device node");
                return Ok(());
            }
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
        // FIFOs often leave the device fields blank, so only read them here.
        let dev = if sflag == SFlag::S_IFIFO {
            0
        } else {
            let header = entry.header();
            let major = header.device_major().map_err(cx.header())?.unwrap_or(0);
            let minor = header.device_minor().map_err(cx.header())?.unwrap_or(0);
            makedev(major.into(), minor.into())
        };
        let is_device = sflag != SFlag::S_IFIFO;
        if is_device && !self.state.privileged {
            return self.skip_device(cx, path, Errno::EPERM);
        }
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
        fset_xattr(dir.raw(), &OPAQUE_XATTR.to_owned(), b"y").map_err(|e| {
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

impl State {
    /// Counts an entry's size against the cap before writing it, so a huge
    /// declared size fails before it fills the disk.
    fn reserve(&mut self, size: u64) -> Result<(), UnpackError> {
        if size > self.max_bytes.saturating_sub(self.written) {
            return Err(UnpackError::TooLarge {
                max: self.max_bytes,
            });
        }
        Ok(())
    }

    /// The mode to chmod to after creating with `mode`, or None when the
    /// create call already got it right (no umask loss, no special bits,
    /// which chown would clear).
    fn chmod(&self, mode: u32) -> Option<u32> {
        (mode & 0o7000 != 0 || mode & self.create_mask != 0).then_some(mode)
    }

    fn copy_data<R: Read>(
        &mut self,
        cx: &Ctx,
        entry: &mut tar::Entry<'_, R>,
        mut file: &File,
    ) -> Result<(), UnpackError> {
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(stream(e)),
            };
            // Sparse entries expand beyond their stored size, so count output.
            self.reserve(n as u64)?;
            self.written += n as u64;
            file.write_all(&self.buf[..n])
                .map_err(|source| UnpackError::Io {
                    path: cx.path(),
                    op: "writing file",
                    source,
                })?;
        }
    }

    /// Ownership, then mode (chown clears setuid/setgid), then xattrs (chown
    /// clears security.capability), then times, on an open file or
    /// directory. Directory times are deferred, so `times` is false for them.
    fn finish_fd(
        &self,
        cx: &Ctx,
        fd: RawFd,
        meta: &Meta,
        chmod: Option<u32>,
        times: bool,
    ) -> Result<(), UnpackError> {
        if self.preserve_ownership {
            let (uid, gid) = (Uid::from_raw(meta.uid), Gid::from_raw(meta.gid));
            fchown(fd, Some(uid), Some(gid)).map_err(cx.io("changing ownership"))?;
        }
        if let Some(mode) = chmod {
            fchmod(fd, Mode::from_bits_truncate(mode)).map_err(cx.io("changing mode"))?;
        }
        for (name, value) in &meta.xattrs {
            self.xattr_result(cx, name, fset_xattr(fd, name, value))?;
        }
        if times {
            futimens(fd, &meta.mtime, &meta.mtime).map_err(cx.io("setting times"))?;
        }
        Ok(())
    }

    /// The same for entries that cannot be opened (symlinks, device nodes),
    /// addressed as `name` in `parent` without following it. `mode` is None
    /// for symlinks, whose mode Linux ignores.
    fn finish_at(
        &self,
        cx: &Ctx,
        parent: RawFd,
        name: &[u8],
        meta: &Meta,
        mode: Option<u32>,
    ) -> Result<(), UnpackError> {
        self.chown_at(cx, parent, name, meta)?;
        if let Some(mode) = mode {
            // mknodat just created this node, so it is not a symlink.
            let mode = Mode::from_bits_truncate(mode);
            fchmodat(Some(parent), name, mode, FchmodatFlags::FollowSymlink)
                .map_err(cx.io("changing mode"))?;
        }
        for (xattr, value) in &meta.xattrs {
            self.xattr_result(cx, xattr, lset_xattr_at(parent, name, xattr, value))?;
        }
        let flags = UtimensatFlags::NoFollowSymlink;
        utimensat(Some(parent), name, &meta.mtime, &meta.mtime, flags)
            .map_err(cx.io("setting times"))
    }

    fn chown_at(
        &self,
        cx: &Ctx,
        parent: RawFd,
        name: &[u8],
        meta: &Meta,
    ) -> Result<(), UnpackError> {
        if !self.preserve_ownership {
            return Ok(());
        }
        let (uid, gid) = (Uid::from_raw(meta.uid), Gid::from_raw(meta.gid));
        fchownat(
            Some(parent),
            name,
            Some(uid),
            Some(gid),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(cx.io("changing ownership"))
    }

    /// File systems without xattr support, and unprivileged callers setting
    /// security.capability, lose the xattr with a warning, as podman does;
    /// anything else fails the layer.
    fn xattr_result(
        &self,
        cx: &Ctx,
        name: &CString,
        result: nix::Result<()>,
    ) -> Result<(), UnpackError> {
        match result {
            Ok(()) => Ok(()),
            Err(e @ (Errno::ENOTSUP | Errno::EPERM)) if e == Errno::ENOTSUP || !self.privileged => {
                tracing::warn!(path = %cx.path(), xattr = ?name, error = %e, "xattr not applied");
                Ok(())
            }
            Err(e) => Err(cx.io("setting xattr")(e)),
        }
    }
}

fn read_meta<R: Read>(cx: &Ctx, entry: &mut tar::Entry<'_, R>) -> Result<Meta, UnpackError> {
    let header = entry.header();
    let mode = header.mode().map_err(cx.header())? & 0o7777;
    let uid = id(cx, header.uid())?;
    let gid = id(cx, header.gid())?;
    let secs = header.mtime().map_err(cx.header())?;
    let mut mtime = TimeSpec::new(i64::try_from(secs).unwrap_or(i64::MAX), 0);
    let mut xattrs = Vec::new();
    if let Some(pax) = entry.pax_extensions().map_err(stream)? {
        for ext in pax {
            let ext = ext.map_err(cx.header())?;
            let key = ext.key_bytes();
            if key == b"mtime" {
                mtime = parse_pax_time(ext.value_bytes()).unwrap_or(mtime);
            } else if let Some(name) = key.strip_prefix(XATTR_PAX_PREFIX) {
                if let Some(xattr) = wanted_xattr(cx, name)? {
                    xattrs.push((xattr, ext.value_bytes().to_vec()));
                }
            }
        }
    }
    Ok(Meta {
        mode,
        uid,
        gid,
        mtime,
        xattrs,
    })
}

fn id(cx: &Ctx, value: io::Result<u64>) -> Result<u32, UnpackError> {
    let value = value.map_err(cx.header())?;
    u32::try_from(value)
        .map_err(|_| cx.header()(io::Error::other(format!("id {value} out of range"))))
}

/// Only `user.*` and `security.capability` are applied: `trusted.*` and
/// `user.overlay.*` would let a layer forge overlayfs metadata (redirects,
/// opaque markers) and `security.*` labels belong to the host's policy.
fn wanted_xattr(cx: &Ctx, name: &[u8]) -> Result<Option<CString>, UnpackError> {
    let wanted = (name.starts_with(b"user.") && !name.starts_with(b"user.overlay."))
        || name == b"security.capability";
    if !wanted {
        tracing::debug!(path = %cx.path(), xattr = %String::from_utf8_lossy(name), "ignoring xattr");
        return Ok(None);
    }
    CString::new(name)
        .map(Some)
        .map_err(|_| cx.refused(Refusal::NulByte))
}

/// PAX times are decimal seconds with an optional fraction ("1700000000.5").
fn parse_pax_time(value: &[u8]) -> Option<TimeSpec> {
    let text = std::str::from_utf8(value).ok()?;
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let secs: i64 = whole.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nanos: i64 = digits.parse().ok()?;
    Some(match (negative, nanos) {
        (false, _) => TimeSpec::new(secs, nanos),
        (true, 0) => TimeSpec::new(-secs, 0),
        (true, _) => TimeSpec::new(-secs - 1, 1_000_000_000 - nanos),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        assert_eq!(
            parse_pax_time(b"1700000000"),
            Some(TimeSpec::new(1_700_000_000, 0))
        );
        assert_eq!(
            parse_pax_time(b"1700000000.5"),
            Some(TimeSpec::new(1_700_000_000, 500_000_000))
        );
        assert_eq!(
            parse_pax_time(b"-1.25"),
            Some(TimeSpec::new(-2, 750_000_000))
        );
        assert_eq!(parse_pax_time(b"12.3x"), None);
    }

    #[test]
    fn within() {
        assert!(is_within(b"a/b", b"a"));
        assert!(is_within(b"a", b"a"));
        assert!(!is_within(b"ab", b"a"));
    }
}

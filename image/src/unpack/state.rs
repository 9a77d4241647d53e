//! Per-layer state the entry handlers share: the size cap, the copy buffer,
//! deferred directory metadata, and how ownership, modes, xattrs and times
//! are applied.

use std::collections::{HashMap, HashSet};
use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::RawFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{fchmod, fchmodat, futimens, utimensat, FchmodatFlags, Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, Gid, Uid};

use super::context::{stream, Ctx};
use super::fsops::{fset_xattr, lset_xattr_at};
use super::meta::Meta;
use super::{ImageBudget, UnpackError};

/// Everything but the directory cache, split out so an entry handler can
/// hold a cached parent descriptor while updating the rest.
pub(super) struct State {
    pub(super) preserve_ownership: bool,
    /// Root can write into directories whatever their mode; others need
    /// u+wx until the end, so directory modes are then applied last.
    pub(super) privileged: bool,
    /// Mode bits a create call may lose to the umask; when an entry's mode
    /// has none of these (and no setuid/setgid/sticky) no chmod is needed.
    pub(super) create_mask: u32,
    pub(super) max_bytes: u64,
    /// Logical bytes of file contents so far, holes included.
    pub(super) written: u64,
    pub(super) image_budget: Option<Arc<ImageBudget>>,
    pub(super) buf: Vec<u8>,
    /// Directory metadata applied after all entries, because writing
    /// children changes a directory's mtime.
    pub(super) deferred: HashMap<Vec<u8>, DirMeta>,
    /// Device nodes skipped when unprivileged, so hard links to them can be
    /// skipped too instead of failing the layer.
    pub(super) skipped_devices: HashSet<Vec<u8>>,
}

pub(super) struct DirMeta {
    /// The final mode, when it differs from what was applied immediately.
    pub(super) mode: Option<u32>,
    pub(super) mtime: TimeSpec,
}

impl State {
    /// Counts an entry's size against the cap before writing it, so a huge
    /// declared size fails before it fills the disk.
    pub(super) fn reserve(&mut self, size: u64) -> Result<(), UnpackError> {
        if size > self.max_bytes.saturating_sub(self.written) {
            return Err(UnpackError::TooLarge {
                max: self.max_bytes,
            });
        }
        if let Some(budget) = &self.image_budget {
            if !budget.fits(size) {
                return Err(UnpackError::ImageTooLarge { max: budget.cap() });
            }
        }
        Ok(())
    }

    /// Counts `n` logical bytes against both caps.
    fn charge(&mut self, n: u64) -> Result<(), UnpackError> {
        self.reserve(n)?;
        if let Some(budget) = &self.image_budget {
            if !budget.take(n) {
                return Err(UnpackError::ImageTooLarge { max: budget.cap() });
            }
        }
        self.written += n;
        Ok(())
    }

    /// The mode to chmod to after creating with `mode`, or None when the
    /// create call already got it right (no umask loss, no special bits,
    /// which chown would clear).
    pub(super) fn chmod(&self, mode: u32) -> Option<u32> {
        (mode & 0o7000 != 0 || mode & self.create_mask != 0).then_some(mode)
    }

    /// Copies an entry's contents into `file`, leaving runs of zeros (the
    /// holes of a sparse entry, which the tar reader hands out as zeros) as
    /// holes instead of writing them, so a tiny entry declaring a huge
    /// sparse file costs its logical size against the caps but no disk.
    pub(super) fn copy_data<R: Read>(
        &mut self,
        cx: &Ctx,
        entry: &mut tar::Entry<'_, R>,
        file: &File,
    ) -> Result<(), UnpackError> {
        let io_err = |op| {
            move |source| UnpackError::Io {
                path: cx.path(),
                op,
                source,
            }
        };
        let mut offset = 0u64;
        let mut trailing_hole = false;
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(stream(e)),
            };
            // Sparse entries expand beyond their stored size, so count output.
            self.charge(n as u64)?;
            let chunk = self.buf.get(..n).unwrap_or_default();
            trailing_hole = chunk.iter().all(|&b| b == 0);
            if !trailing_hole {
                file.write_all_at(chunk, offset)
                    .map_err(io_err("writing file"))?;
            }
            offset += n as u64;
        }
        if trailing_hole {
            // A hole at the end still counts towards the file's length.
            file.set_len(offset).map_err(io_err("extending file"))?;
        }
        Ok(())
    }

    /// Ownership, then mode (chown clears setuid/setgid), then xattrs (chown
    /// clears security.capability), then times, on an open file or
    /// directory. Directory times are deferred, so `times` is false for them.
    pub(super) fn finish_fd(
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
            self.xattr_result(cx, name, fset_xattr(fd, name, value), true)?;
        }
        if times {
            futimens(fd, &meta.mtime, &meta.mtime).map_err(cx.io("setting times"))?;
        }
        Ok(())
    }

    /// The same for entries that cannot be opened (symlinks, device nodes),
    /// addressed as `name` in `parent` without following it. `mode` is None
    /// for symlinks, whose mode Linux ignores.
    pub(super) fn finish_at(
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
            let result = lset_xattr_at(parent, name, xattr, value);
            self.xattr_result(cx, xattr, result, false)?;
        }
        let flags = UtimensatFlags::NoFollowSymlink;
        utimensat(Some(parent), name, &meta.mtime, &meta.mtime, flags)
            .map_err(cx.io("setting times"))
    }

    pub(super) fn chown_at(
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

    /// File systems without xattr support lose the xattr with a warning, as
    /// podman does; so do unprivileged callers, and symlinks and device
    /// nodes, on which Linux refuses `user.*` xattrs with EPERM. Anything
    /// else fails the layer.
    fn xattr_result(
        &self,
        cx: &Ctx,
        name: &CStr,
        result: nix::Result<()>,
        regular: bool,
    ) -> Result<(), UnpackError> {
        let tolerated =
            |e: Errno| e == Errno::ENOTSUP || (e == Errno::EPERM && (!self.privileged || !regular));
        match result {
            Ok(()) => Ok(()),
            Err(e) if tolerated(e) => {
                tracing::warn!(path = %cx.path(), xattr = ?name, error = %e, "xattr not applied");
                Ok(())
            }
            Err(e) => Err(cx.io("setting xattr")(e)),
        }
    }
}

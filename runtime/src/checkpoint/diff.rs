//! The rootfs part of an exported checkpoint: `rootfs-diff.tar` and
//! `deleted.files` from the overlay upper directory (podman's
//! `podman diff`-based export). Import applies them with the image
//! crate's unpacker (`vouch_image::unpack::apply_onto`), never here.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::{io_err, Result};

/// podman's rootfs diff from the overlay upper directory: a tar of what
/// was added or changed, and the deleted paths (whiteouts, char 0:0).
/// Mountpoint stubs runc made for the spec's mounts are left out.
pub(crate) fn rootfs_diff(upper: &Path) -> Result<(Option<Vec<u8>>, Vec<String>)> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let mut deleted = Vec::new();
    let mut any = false;
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = upper.join(&rel);
        let rd = match fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut names: Vec<_> = rd.flatten().map(|e| e.file_name()).collect();
        names.sort();
        for n in names {
            let r = rel.join(&n);
            let p = upper.join(&r);
            let m = fs::symlink_metadata(&p).map_err(io_err(&p))?;
            let ft = m.file_type();
            if ft.is_char_device() && m.rdev() == 0 {
                deleted.push(format!("/{}", r.display()));
                continue;
            }
            if is_mount_stub(&r, &m) {
                continue;
            }
            if ft.is_dir() || ft.is_file() || ft.is_symlink() {
                b.append_path_with_name(&p, &r).map_err(io_err(&p))?;
                any = true;
            }
            if ft.is_dir() {
                stack.push(r);
            }
        }
    }
    let bytes = b.into_inner().map_err(io_err(upper))?;
    Ok((any.then_some(bytes), deleted))
}

/// The empty files runc creates as targets of the /etc bind mounts.
fn is_mount_stub(rel: &Path, m: &fs::Metadata) -> bool {
    const STUBS: &[&str] = &["etc/hosts", "etc/hostname", "etc/resolv.conf"];
    m.is_file() && m.len() == 0 && STUBS.iter().any(|s| rel == Path::new(s))
}

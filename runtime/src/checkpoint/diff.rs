//! The rootfs part of an exported checkpoint: `rootfs-diff.tar` and
//! `deleted.files` from the overlay upper directory (podman's
//! `podman diff`-based export), and applying them to a new container's
//! upper directory without ever following a symlink.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::archive::{bad, clean_rel};
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

/// Creates the directories leading to `root/rel` (never following a
/// symlink: an existing non-directory component is an error) and returns
/// the full path of `rel`.
pub(crate) fn safe_parent(src: &Path, root: &Path, rel: &Path) -> Result<PathBuf> {
    let mut cur = root.to_path_buf();
    let comps: Vec<_> = rel.components().collect();
    for c in &comps[..comps.len().saturating_sub(1)] {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(bad(
                    src,
                    format!(
                        "rootfs diff: {} goes through a non-directory",
                        rel.display()
                    ),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&cur).map_err(io_err(&cur))?
            }
            Err(e) => return Err(io_err(&cur)(e)),
        }
    }
    Ok(root.join(rel))
}

/// Applies a rootfs-diff.tar to `upper` without following symlinks.
pub(crate) fn apply_diff(src: &Path, r: impl Read, upper: &Path) -> Result<()> {
    let mut ar = tar::Archive::new(r);
    let corrupt = |e: io::Error| bad(src, format!("rootfs-diff.tar: {e}"));
    for entry in ar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let raw = entry.path().map_err(corrupt)?.into_owned();
        let Some(rel) = clean_rel(&raw) else {
            return Err(bad(
                src,
                format!("rootfs-diff.tar: entry {raw:?} is absolute or has `..`"),
            ));
        };
        let target = safe_parent(src, upper, &rel)?;
        let h = entry.header().clone();
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let existing = fs::symlink_metadata(&target).ok();
        let clear = |t: &Path| -> Result<()> {
            if let Some(m) = &existing {
                if !m.is_dir() {
                    fs::remove_file(t).map_err(io_err(t))?;
                }
            }
            Ok(())
        };
        match h.entry_type() {
            tar::EntryType::Directory => {
                match &existing {
                    Some(m) if m.is_dir() => {}
                    Some(_) => {
                        return Err(bad(
                            src,
                            format!("rootfs-diff.tar: {} is not a directory", rel.display()),
                        ))
                    }
                    None => fs::create_dir(&target).map_err(io_err(&target))?,
                }
                fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                    .map_err(io_err(&target))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if existing.as_ref().is_some_and(|m| m.is_dir()) {
                    fs::remove_dir_all(&target).map_err(io_err(&target))?;
                }
                clear(&target)?;
                let mut f = fs::File::options()
                    .write(true)
                    .create_new(true)
                    .open(&target)
                    .map_err(io_err(&target))?;
                io::copy(&mut entry, &mut f).map_err(corrupt)?;
                fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                    .map_err(io_err(&target))?;
            }
            tar::EntryType::Symlink => {
                let link = h
                    .link_name()
                    .map_err(corrupt)?
                    .ok_or_else(|| bad(src, "rootfs-diff.tar: symlink without target"))?;
                clear(&target)?;
                std::os::unix::fs::symlink(&link, &target).map_err(io_err(&target))?;
            }
            tar::EntryType::Link => {
                let link = h
                    .link_name()
                    .map_err(corrupt)?
                    .ok_or_else(|| bad(src, "rootfs-diff.tar: hard link without target"))?;
                let lrel = clean_rel(&link)
                    .ok_or_else(|| bad(src, format!("rootfs-diff.tar: hard link to {link:?}")))?;
                let ltarget = safe_parent(src, upper, &lrel)?;
                if !fs::symlink_metadata(&ltarget).is_ok_and(|m| m.is_file()) {
                    return Err(bad(src, format!("rootfs-diff.tar: hard link to {link:?}, which is not a regular file of the diff")));
                }
                clear(&target)?;
                fs::hard_link(&ltarget, &target).map_err(io_err(&target))?;
            }
            _ => continue, // devices, fifos: not carried (podman's diff has none)
        }
        let (uid, gid) = (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32);
        let _ = std::os::unix::fs::lchown(&target, Some(uid), Some(gid));
    }
    Ok(())
}

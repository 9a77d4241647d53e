//! The container's root filesystem: an overlay of the image's unpacked
//! layers (uppermost first, as containers/storage's overlay driver orders
//! `lowerdir`) under a per-container upper and work directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{io, Result, RuntimeError};
use crate::spec::SpecError;
use crate::state::ContainerDir;
use crate::sys::Sys;

/// The overlay option string; refuses paths that would break its syntax.
pub fn overlay_options(lower: &[PathBuf], upper: &Path, work: &Path) -> Result<String> {
    if lower.is_empty() {
        return Err(SpecError::NoLayers.into());
    }
    let all = lower.iter().map(|p| p.as_path()).chain([upper, work]);
    for p in all {
        let s = p.to_string_lossy();
        if s.contains([':', ',', '\n']) {
            return Err(SpecError::OverlayPath(p.to_path_buf()).into());
        }
    }
    let lowers: Vec<String> = lower
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        upper.display(),
        work.display()
    );
    if opts.len() >= 4096 {
        return Err(SpecError::TooManyLayers(lower.len()).into());
    }
    Ok(opts)
}

/// The mode of a new container's root directory (podman's).
pub const ROOT_MODE: u32 = 0o555;

/// Creates upper/work/rootfs and mounts the overlay; on failure removes
/// what it created, so nothing is half-made.
pub fn mount(sys: &dyn Sys, id: &str, d: &ContainerDir, lower: &[PathBuf]) -> Result<()> {
    let opts = overlay_options(lower, &d.upper(), &d.work())?;
    let upper = d.upper();
    if !upper.exists() {
        // The overlay's root takes the upper directory's mode. podman's
        // storage makes every layer's and container's root 0555
        // (containers/storage `defaultPerms`; unpacking skips "."), and CRIU
        // checks the root's mode on restore, so a checkpoint moves between
        // vouch and podman only if both agree.
        fs::create_dir_all(&upper).map_err(io(&upper))?;
        fs::set_permissions(&upper, fs::Permissions::from_mode(ROOT_MODE)).map_err(io(&upper))?;
    }
    for p in [d.work(), d.rootfs()] {
        fs::create_dir_all(&p).map_err(io(&p))?;
    }
    sys.mount_overlay(&d.rootfs(), &opts)
        .map_err(|source| RuntimeError::Sys {
            id: id.to_string(),
            what: format!("mounting overlay on {}", d.rootfs().display()),
            source,
        })
}

/// Unmounts the rootfs if mounted (idempotent: EINVAL/ENOENT mean "not mounted").
pub fn unmount(sys: &dyn Sys, id: &str, d: &ContainerDir) -> Result<()> {
    match sys.umount(&d.rootfs()) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => Ok(()),
        Err(source) => Err(RuntimeError::Sys {
            id: id.to_string(),
            what: format!("unmounting {}", d.rootfs().display()),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{Call, FakeSys};

    #[test]
    fn lowerdir_keeps_uppermost_first_and_rejects_bad_paths() {
        let o = overlay_options(
            &["/l/top".into(), "/l/base".into()],
            Path::new("/u"),
            Path::new("/w"),
        )
        .unwrap();
        assert_eq!(o, "lowerdir=/l/top:/l/base,upperdir=/u,workdir=/w");
        assert!(overlay_options(&["/a:b".into()], Path::new("/u"), Path::new("/w")).is_err());
        assert!(overlay_options(&[], Path::new("/u"), Path::new("/w")).is_err());
    }

    #[test]
    fn mount_plan_and_failure() {
        let t = tempfile::tempdir().unwrap();
        let d = ContainerDir {
            dir: t.path().join("c"),
        };
        let sys = FakeSys::default();
        mount(&sys, "c", &d, &["/l/1".into()]).unwrap();
        assert!(
            matches!(&sys.calls()[0], Call::MountOverlay { target, .. } if *target == d.rootfs())
        );
        let failing = FakeSys::failing_at(1);
        let err = mount(&failing, "c", &d, &["/l/1".into()]).unwrap_err();
        assert!(err.to_string().contains("container c"), "{err}");
        unmount(&sys, "c", &d).unwrap();
        assert!(matches!(sys.calls().last(), Some(Call::Umount { .. })));
    }
}

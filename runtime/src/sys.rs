//! The kernel seam: the few syscalls vouch makes itself (runc does the rest
//! from the bundle). Production code takes a `&dyn Sys`; tests pass
//! [`FakeSys`], which records typed calls and can fail the Nth one, so mount
//! plans and their clean-up paths are tested without privileges.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::mount::{mount, umount2, MntFlags, MsFlags};

/// One recorded call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    MountOverlay { target: PathBuf, options: String },
    Umount { target: PathBuf },
    Kill { pid: i32, signal: i32 },
}

pub trait Sys: Send + Sync {
    /// `mount -t overlay overlay -o OPTIONS TARGET`.
    fn mount_overlay(&self, target: &Path, options: &str) -> nix::Result<()>;
    /// Lazy unmount (MNT_DETACH), as podman's cleanup does.
    fn umount(&self, target: &Path) -> nix::Result<()>;
    fn kill(&self, pid: i32, signal: i32) -> nix::Result<()>;
}

/// A shared fake (tests keep one handle to read the calls back).
impl<T: Sys + ?Sized> Sys for std::sync::Arc<T> {
    fn mount_overlay(&self, target: &Path, options: &str) -> nix::Result<()> {
        (**self).mount_overlay(target, options)
    }
    fn umount(&self, target: &Path) -> nix::Result<()> {
        (**self).umount(target)
    }
    fn kill(&self, pid: i32, signal: i32) -> nix::Result<()> {
        (**self).kill(pid, signal)
    }
}

/// The real kernel.
pub struct RealSys;

impl Sys for RealSys {
    fn mount_overlay(&self, target: &Path, options: &str) -> nix::Result<()> {
        mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(options),
        )
    }
    fn umount(&self, target: &Path) -> nix::Result<()> {
        umount2(target, MntFlags::MNT_DETACH)
    }
    fn kill(&self, pid: i32, signal: i32) -> nix::Result<()> {
        // SAFETY: plain kill(2).
        let rc = unsafe { libc::kill(pid, signal) };
        if rc == 0 {
            Ok(())
        } else {
            Err(nix::Error::last())
        }
    }
}

/// A recording fake that fails call number `fail_at` (1-based) with EPERM.
#[derive(Default)]
pub struct FakeSys {
    pub calls: Mutex<Vec<Call>>,
    pub fail_at: Option<usize>,
}

impl FakeSys {
    pub fn failing_at(n: usize) -> Self {
        Self {
            calls: Mutex::default(),
            fail_at: Some(n),
        }
    }
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
    fn record(&self, c: Call) -> nix::Result<()> {
        let mut calls = self.calls.lock().map_err(|_| nix::Error::EIO)?;
        calls.push(c);
        if self.fail_at == Some(calls.len()) {
            return Err(nix::Error::EPERM);
        }
        Ok(())
    }
}

impl Sys for FakeSys {
    fn mount_overlay(&self, target: &Path, options: &str) -> nix::Result<()> {
        self.record(Call::MountOverlay {
            target: target.into(),
            options: options.into(),
        })
    }
    fn umount(&self, target: &Path) -> nix::Result<()> {
        self.record(Call::Umount {
            target: target.into(),
        })
    }
    fn kill(&self, pid: i32, signal: i32) -> nix::Result<()> {
        self.record(Call::Kill { pid, signal })
    }
}

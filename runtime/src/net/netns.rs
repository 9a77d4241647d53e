//! Named network namespaces, made the way iproute2's `ip netns add` makes
//! them (ip/ipnetns.c): an empty file under `/run/netns` with the namespace
//! bind-mounted onto it. Keeping iproute2's layout, rather than a namespace
//! held only by an fd of this process, is what lets `ip netns`, runc (the
//! spec's `path` namespace) and CRIU (an external netns) all find the same
//! namespace, and lets it outlive the vouch process that made it.
//!
//! Namespace membership is per thread, so entering one happens only on a
//! short-lived thread of its own: the rest of the process never changes
//! namespace, and whatever the thread opens there (a netlink socket) stays
//! bound to that namespace after the thread has gone.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

/// Where iproute2 (and so everyone else) looks for named namespaces.
pub const RUN_DIR: &str = "/run/netns";

/// A failed step of making, entering or deleting a namespace: the step,
/// with the kernel's error as its source.
#[derive(Debug, thiserror::Error)]
#[error("{step}")]
pub struct Error {
    pub step: String,
    #[source]
    pub source: io::Error,
}

fn step(step: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let step = step.into();
    move |source| Error { step, source }
}

fn sys(e: nix::Error) -> io::Error {
    io::Error::from(e)
}

/// Makes [`RUN_DIR`] a shared mount point, so a namespace file unmounted
/// here is unmounted in every mount namespace that sees it and the
/// namespace can be freed. A plain directory is first bound onto itself (it
/// must be a mount point to be shared), exactly as `ip netns add` does.
/// Callers serialise this (the network lock): two processes binding the
/// directory at once would stack two mounts.
pub fn prepare_dir() -> Result<(), Error> {
    match fs::DirBuilder::new().mode(0o755).create(RUN_DIR) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            return Err(step(format!("creating {RUN_DIR}"))(e))
        }
        _ => {}
    }
    let shared = || {
        mount(
            Some(""),
            RUN_DIR,
            Some("none"),
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match shared() {
        Ok(()) => return Ok(()),
        // EINVAL: not a mount point yet.
        Err(nix::Error::EINVAL) => {}
        Err(e) => return Err(step(format!("mount --make-rshared {RUN_DIR}"))(sys(e))),
    }
    mount(
        Some(RUN_DIR),
        RUN_DIR,
        Some("none"),
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| step(format!("mount --rbind {RUN_DIR} {RUN_DIR}"))(sys(e)))?;
    shared().map_err(|e| step(format!("mount --make-rshared {RUN_DIR}"))(sys(e)))
}

/// Runs `f` on a new thread and waits for it; a panic there becomes an
/// error here instead of unwinding through the caller.
fn on_thread<T: Send>(f: impl FnOnce() -> Result<T, Error> + Send) -> Result<T, Error> {
    let failed = |why: io::Error| Error {
        step: "namespace thread".into(),
        source: why,
    };
    std::thread::scope(|s| {
        let t = std::thread::Builder::new()
            .name("vouch-netns".into())
            .spawn_scoped(s, f)
            .map_err(failed)?;
        t.join()
            .unwrap_or_else(|_| Err(failed(io::Error::other("panicked"))))
    })
}

/// Creates the named namespace `path` (in [`RUN_DIR`], after
/// [`prepare_dir`]) and runs `inside` on the thread that is in it, so
/// `inside` can open sockets there. Returns an fd of the new namespace
/// (for IFLA_NET_NS_FD) and what `inside` returned. Any failure removes
/// what was made; an existing `path` is an error (O_EXCL, as in iproute2).
pub fn create<T: Send>(
    path: &Path,
    inside: impl FnOnce() -> io::Result<T> + Send,
) -> Result<(File, T), Error> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o000)
        .open(path)
        .map_err(step(format!("creating {}", path.display())))?;
    let r = on_thread(|| {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| step("unshare(CLONE_NEWNET)")(sys(e)))?;
        let own = "/proc/thread-self/ns/net";
        mount(
            Some(own),
            path,
            Some("none"),
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| step(format!("binding {own} onto {}", path.display()))(sys(e)))?;
        let fd = File::open(own).map_err(step(format!("opening {own}")))?;
        let t = inside().map_err(step("inside the new namespace"))?;
        Ok((fd, t))
    });
    if r.is_err() {
        let _ = delete(path);
    }
    r
}

/// Runs `inside` on a thread that has joined the named namespace `path`.
pub fn enter<T: Send>(
    path: &Path,
    inside: impl FnOnce() -> io::Result<T> + Send,
) -> Result<T, Error> {
    let ns = File::open(path).map_err(step(format!("opening {}", path.display())))?;
    on_thread(|| {
        setns(&ns, CloneFlags::CLONE_NEWNET)
            .map_err(|e| step(format!("joining {}", path.display()))(sys(e)))?;
        inside().map_err(step(format!("inside {}", path.display())))
    })
}

/// `ip netns del`: detaches the bind mount (the namespace goes once no
/// process or fd holds it) and removes the file. Absent pieces are fine,
/// so this finishes a half-made namespace and can run any number of times.
pub fn delete(path: &Path) -> Result<(), Error> {
    match umount2(path, MntFlags::MNT_DETACH) {
        // ENOENT: no file; EINVAL: a file without a namespace on it.
        Ok(()) | Err(nix::Error::ENOENT) | Err(nix::Error::EINVAL) => {}
        Err(e) => return Err(step(format!("unmounting {}", path.display()))(sys(e))),
    }
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(step(format!("removing {}", path.display()))(e))
        }
        _ => Ok(()),
    }
}

/// The workspace's one skip rule (recorded, or a failure under VOUCH_NO_SKIP).
#[cfg(test)]
#[path = "../../../tests/common/skip.rs"]
mod test_skip;

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use test_skip as skip;

    fn root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    fn ns_inode() -> io::Result<u64> {
        fs::metadata("/proc/thread-self/ns/net").map(|m| m.ino())
    }

    #[test]
    fn errors_are_one_line_naming_the_step() {
        let e = step("unshare(CLONE_NEWNET)")(io::Error::from_raw_os_error(libc::EPERM));
        let s = vouch_image::chain::one_line(&e);
        assert!(s.starts_with("unshare(CLONE_NEWNET): "), "{s}");
        assert!(!s.contains('\n'));
    }

    #[test]
    fn deleting_what_is_not_there_is_fine() {
        let d = tempfile::tempdir().unwrap();
        delete(&d.path().join("absent")).unwrap();
        let plain = d.path().join("plain");
        fs::write(&plain, "").unwrap();
        delete(&plain).unwrap();
        assert!(!plain.exists());
    }

    /// Needs root: a real namespace under /run/netns.
    #[test]
    fn create_enter_delete() {
        if !root() {
            skip::skip("needs root (a namespace under /run/netns)");
            return;
        }
        prepare_dir().unwrap();
        let p = Path::new(RUN_DIR).join(format!("vouch-unittest-{}", std::process::id()));
        let _ = delete(&p);
        let host = ns_inode().unwrap();
        let (fd, inner) = create(&p, ns_inode).unwrap();
        assert_ne!(inner, host, "inside runs in the new namespace");
        assert_eq!(fd.metadata().unwrap().ino(), inner);
        assert_eq!(fs::metadata(&p).unwrap().ino(), inner, "bind-mounted");
        assert_eq!(ns_inode().unwrap(), host, "the caller never moved");
        assert_eq!(enter(&p, ns_inode).unwrap(), inner);
        let again = create(&p, ns_inode).unwrap_err();
        assert!(again.to_string().starts_with("creating "), "{again}");
        assert!(p.exists(), "a failed create leaves the existing one alone");
        delete(&p).unwrap();
        delete(&p).unwrap();
        assert!(!p.exists());
        assert!(enter(&p, ns_inode).is_err());
    }
}

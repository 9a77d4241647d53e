//! Many containers at once: 50 detached containers started concurrently
//! all reach Running with distinct addresses, all stop and are removed, and
//! nothing is left behind — no process, no mount, no overlay directory, no
//! veth, no netns, no nftables rule, no address lease, and every monitor
//! exits (waited on through pidfds, not a fixed sleep).

mod common;

use std::collections::HashSet;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use common::{free_port, ContainerGuard, Vouch};

#[test]
fn fifty_containers_start_stop_and_leave_nothing() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let img = v.httpd();
    const N: usize = 50;
    let started = Instant::now();
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let v = &v;
                s.spawn(move || {
                    let name = format!("many{i}");
                    // Every fifth publishes a port, so DNAT rules are exercised too.
                    let port = free_port();
                    let publish = format!("{port}:80");
                    let mut a: Vec<&str> = vec!["run", "-d", "--name", &name];
                    if i % 5 == 0 {
                        a.extend(["-p", &publish]);
                    }
                    a.push(img);
                    v.ok(&a).trim().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!("{N} containers started in {:?}", started.elapsed());
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), N);

    let running = v.ok(&["ps", "-q", "--no-trunc"]);
    let running: HashSet<&str> = running.lines().collect();
    for id in &ids {
        assert!(running.contains(id.as_str()), "{id} not running");
    }
    let ps: Vec<serde_json::Value> =
        serde_json::from_str(&v.ok(&["ps", "--format", "json"])).unwrap();
    assert_eq!(ps.len(), N);
    let ips: HashSet<String> = ids
        .iter()
        .map(|id| {
            v.inspect(id)["NetworkSettings"]["IPAddress"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ips.len(), N, "distinct addresses");

    // A pidfd per monitor, opened while it runs (so it names that process
    // and no later one with the same number), to wait on its exit.
    let monitors: Vec<(u64, OwnedFd)> = ids
        .iter()
        .map(|id| {
            let pid = v.inspect(id)["State"]["ConmonPid"].as_u64().unwrap();
            assert_ne!(pid, 0, "{id} has a monitor");
            (pid, pidfd_open(pid))
        })
        .collect();
    let t = Instant::now();
    v.ok(&["stop", "-a", "-t", "0"]);
    eprintln!("stopped in {:?}", t.elapsed());
    assert!(v.ok(&["ps", "-q"]).is_empty());
    let exited = v.ok(&["ps", "-a"]);
    assert_eq!(
        exited
            .lines()
            .filter(|l| l.contains("Exited (137)"))
            .count(),
        N,
        "{exited}"
    );
    v.ok(&["rm", "-a"]);
    assert!(v.ok(&["ps", "-a", "-q"]).is_empty());
    for id in &ids {
        v.assert_container_gone(id);
        for ip in &ips {
            let lease = std::path::Path::new("/run/vouch/ipam/vouch0").join(ip);
            if let Ok(owner) = std::fs::read_to_string(&lease) {
                assert_ne!(&owner, id, "lease {ip} left");
            }
        }
    }
    let left: Vec<_> = std::fs::read_dir(v.root().join("containers"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(
        left.is_empty(),
        "overlay/container directories left: {left:?}"
    );
    // Every monitor exits: waited on as events, with a generous ceiling.
    let deadline = Instant::now() + Duration::from_secs(120);
    for (pid, fd) in &monitors {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            wait_readable(fd, left),
            "monitor {pid} of this store still running after {:?}",
            t.elapsed()
        );
    }
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&ps.stdout).contains(&v.root().display().to_string()),
        "a process of this store is still running"
    );
}

/// A pidfd for `pid` (Linux 5.3+).
fn pidfd_open(pid: u64) -> OwnedFd {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    assert!(
        fd >= 0,
        "pidfd_open({pid}): {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: fd is a new descriptor owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Whether `fd` (a pidfd: readable once the process exited) became
/// readable within `timeout`.
fn wait_readable(fd: &OwnedFd, timeout: Duration) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        if n >= 0 {
            return n == 1;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return false;
        }
    }
}

//! Host-side helpers of checkpoint/restore: eth0's MAC address in the
//! container's named netns, the cgroup-v1 freezer, and waiting for the
//! monitor's exit file.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::RuntimeError;
use crate::id::ContainerId;
use crate::net::bridge::netns_path;
use crate::net::link::{Mac, Netlink};
use crate::net::NetError;
use crate::state::ContainerDir;

const ETH0: &str = "eth0";

/// eth0's MAC address inside the container's named netns, read over a
/// netlink socket opened in that netns.
pub(crate) fn eth0_mac(id: &ContainerId) -> Option<Mac> {
    let nl = Netlink::new().ok()?;
    let ns = nl.connect_in(&netns_path(id)).ok()?;
    let eth0 = nl.block_on(ns.link(ETH0)).ok()??;
    eth0.mac
}

/// Gives the re-created eth0 its checkpointed MAC address.
pub(crate) fn set_eth0_mac(id: &ContainerId, mac: Mac) -> crate::Result<()> {
    const STEP: &str = "restoring the MAC address";
    let fail = |source: NetError| RuntimeError::Network {
        id: id.to_string(),
        source,
    };
    let nl = Netlink::new().map_err(|source| {
        fail(NetError::Netlink {
            step: format!("{STEP}: starting netlink"),
            source,
        })
    })?;
    let ns = nl
        .connect_in(&netns_path(id))
        .map_err(|source| fail(NetError::Netns { step: STEP, source }))?;
    nl.block_on(ns.set_mac(ETH0, mac))
        .map_err(|e| fail(NetError::netlink(format!("{STEP}: {ETH0}"), &e)))
}

/// The cgroup-v1 freezer of a container (runc's cgroupsPath `/vouch-<id>`).
fn freezer_state(cgroup: &Path, id: &str) -> PathBuf {
    cgroup.join(format!("freezer/vouch-{id}/freezer.state"))
}

/// Freezes the container's v1 freezer cgroup before the dump. CRIU (4.2,
/// criu/seize.c) writes FROZEN, sees FREEZING and then sleeps 100 ms before
/// looking again; a cgroup already FROZEN it takes as it is (and leaves
/// frozen). Polling here every 200 µs makes the checkpoint ~100 ms faster.
/// False when there is no v1 freezer (cgroup v2: CRIU freezes itself) or it
/// did not freeze within a second (then it is thawed again).
pub(crate) fn prefreeze(cgroup: &Path, id: &str) -> bool {
    let p = freezer_state(cgroup, id);
    if fs::write(&p, "FROZEN").is_err() {
        return false;
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if fs::read_to_string(&p).is_ok_and(|s| s.trim() == "FROZEN") {
            return true;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    thaw(cgroup, id);
    false
}

pub(crate) fn thaw(cgroup: &Path, id: &str) {
    let _ = fs::write(freezer_state(cgroup, id), "THAWED");
}

/// Waits for the monitor's exit file (written after its teardown), polling
/// every 2 ms: the teardown takes tens of ms, and Engine::wait_exit's
/// back-off (up to 50 ms per step) would add most of that again.
pub(crate) fn wait_exit_file(proc: &Path, d: &ContainerDir, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut n = 0u32;
    while Instant::now() < deadline {
        if d.exit().exists() || !d.dir.exists() {
            return true;
        }
        n += 1;
        if n % 25 == 0 {
            // A monitor that died without an exit file will never write one.
            let st = d.read_state().unwrap_or_default();
            if !st
                .monitor_pid
                .is_some_and(|p| crate::state::pid_alive(proc, p, st.monitor_start))
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

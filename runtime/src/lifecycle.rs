//! Starting, stopping, killing, waiting for and removing containers: the
//! short-lived CLI side of the monitor protocol.
//!
//! `start` spawns the monitor (the same binary, `__monitor ID`) in its own
//! session with a sync pipe on fd 3 and the held host ports from fd 4, and
//! waits for `{"pid":N}` or `{"error":"…"}` on the pipe (conmon's sync pipe,
//! podman oci_conmon_common.go readConmonPipeData). `stop` is podman's
//! StopContainer: the stop signal, a timeout, then SIGKILL. A container
//! whose monitor died is finished here: init killed, teardown, exit file.

use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{io, Result, RuntimeError};
use crate::net::ports;
use crate::state::{now_rfc3339, write_json, ContainerConfig, ContainerDir, ExitFile, Status};
use crate::Engine;

/// argv\[1\] of the monitor process: `vouch __monitor ROOT RUNROOT ID`. It
/// is dispatched before the CLI's parser so the long-lived monitor touches
/// as little memory as possible.
pub const MONITOR_ARG: &str = "__monitor";

impl Engine {
    /// Spawns the detached monitor for a prepared container and waits until
    /// it reports the init pid. On failure the monitor has already torn
    /// down; the caller removes or keeps the container.
    pub fn spawn_monitor(
        &self,
        exe: &Path,
        cfg: &ContainerConfig,
        held: Vec<OwnedFd>,
    ) -> Result<i32> {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|source| {
            RuntimeError::Sys {
                id: cfg.id.clone(),
                what: "pipe".into(),
                source,
            }
        })?;
        let mut c = Command::new(exe);
        c.arg(MONITOR_ARG)
            .arg(&self.root)
            .arg(&self.run_dir)
            .arg(&cfg.id);
        c.env("VOUCH_MONITOR_PORTS", held.len().to_string());
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let wfd = w.as_raw_fd();
        let port_fds: Vec<i32> = held.iter().map(|f| f.as_raw_fd()).collect();
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            c.pre_exec(move || {
                libc::setsid();
                // Move sources above the targets first so dup2 never clobbers one.
                let base = 100;
                if libc::dup2(wfd, base) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                for (i, fd) in port_fds.iter().enumerate() {
                    if libc::dup2(*fd, base + 1 + i as i32) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                libc::dup2(base, 3);
                libc::close(base);
                for i in 0..port_fds.len() as i32 {
                    libc::dup2(base + 1 + i, 4 + i);
                    libc::close(base + 1 + i);
                }
                Ok(())
            });
        }
        let spawned = c.spawn();
        drop(w);
        drop(held);
        let mut child = spawned.map_err(io(exe))?;
        let mut msg = String::new();
        let mut rf = fs::File::from(r);
        let _ = rf.read_to_string(&mut msg);
        // The monitor outlives us; reap nothing (it re-parents on our exit),
        // but do not leave a zombie if it already failed.
        let _ = child.try_wait();
        let v: serde_json::Value =
            serde_json::from_str(msg.trim()).unwrap_or(serde_json::Value::Null);
        if let Some(pid) = v["pid"].as_i64() {
            return Ok(pid as i32);
        }
        let _ = child.wait();
        let message = v["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("monitor exited without a report ({msg:?})"));
        Err(RuntimeError::Monitor {
            id: cfg.id.clone(),
            message,
        })
    }

    /// Starts a created or exited container again: the same address, fresh
    /// port reservations, a new monitor.
    pub fn start(&self, exe: &Path, what: &str) -> Result<ContainerConfig> {
        let (d, cfg) = self.lookup(what)?;
        let _lock = d.lock()?;
        let st = self.effective_state(&d, &self.host.proc)?;
        if st.status == Some(Status::Running) {
            return Ok(cfg);
        }
        self.finish_abandoned(&d, &cfg)?;
        let mut maps = cfg.ports.clone();
        let held = ports::reserve(&mut maps)?;
        let _ = fs::remove_file(d.exit());
        let had_address = cfg.ip.is_some();
        let cfg = self.prepare(&d, cfg)?;
        if let Err(e) = self.spawn_monitor(exe, &cfg, held) {
            // A monitor that ran has torn down already; one that never
            // started has not (teardown is idempotent).
            self.undo_prepare(&d, &cfg, had_address);
            return Err(e);
        }
        Ok(cfg)
    }

    /// Waits for the exit file (or the container directory to vanish, for
    /// `--rm`), up to `timeout`. True when the container has exited.
    pub fn wait_exit(&self, d: &ContainerDir, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut sleep = Duration::from_millis(2);
        loop {
            if d.exit().exists() || !d.dir.exists() {
                return true;
            }
            if let Ok(st) = self.effective_state(d, &self.host.proc) {
                if st.status == Some(Status::Exited) {
                    return true;
                }
            }
            if deadline.is_some_and(|dl| Instant::now() >= dl) {
                return false;
            }
            std::thread::sleep(sleep);
            sleep = (sleep * 2).min(Duration::from_millis(50));
        }
    }

    /// Sends `signal` to the container's init through the OCI runtime.
    pub fn kill(&self, what: &str, signal: i32) -> Result<ContainerConfig> {
        let (d, cfg) = self.lookup(what)?;
        let st = self.effective_state(&d, &self.host.proc)?;
        if st.status != Some(Status::Running) {
            return Err(RuntimeError::BadState {
                id: cfg.name.clone(),
                state: status_str(st.status),
                what: "can only kill running containers".into(),
            });
        }
        self.runtime_for(&cfg)?.kill(&cfg.id, signal, false)?;
        Ok(cfg)
    }

    /// podman stop: stop signal, wait `timeout`, then SIGKILL and wait.
    pub fn stop(&self, what: &str, timeout: Duration) -> Result<ContainerConfig> {
        let (d, cfg) = self.lookup(what)?;
        let st = self.effective_state(&d, &self.host.proc)?;
        if st.status == Some(Status::Running) {
            let rt = self.runtime_for(&cfg)?;
            if !timeout.is_zero() {
                let _ = rt.kill(&cfg.id, cfg.stop_signal, false);
                if self.wait_exit(&d, Some(timeout)) {
                    return Ok(cfg);
                }
            }
            let _ = rt.kill(&cfg.id, libc::SIGKILL, false);
            if !self.wait_exit(&d, Some(Duration::from_secs(10))) {
                return Err(RuntimeError::Monitor {
                    id: cfg.id.clone(),
                    message: "container did not exit after SIGKILL".into(),
                });
            }
        }
        if d.dir.exists() {
            let _lock = d.lock()?;
            self.finish_abandoned(&d, &cfg)?;
        }
        Ok(cfg)
    }

    /// For a container whose monitor died without an exit file: kill init,
    /// tear down, and record the exit so the container reads as exited.
    pub fn finish_abandoned(&self, d: &ContainerDir, cfg: &ContainerConfig) -> Result<()> {
        if d.exit().exists() {
            return Ok(());
        }
        let st = d.read_state()?;
        let monitor_alive = st
            .monitor_pid
            .is_some_and(|p| crate::state::pid_alive(&self.host.proc, p, st.monitor_start));
        if monitor_alive {
            return Ok(());
        }
        if st.mounted || st.network_up || st.status == Some(Status::Running) {
            self.teardown(cfg)?;
        }
        if st.status == Some(Status::Running) {
            let code = st.exit_code.unwrap_or(-1);
            write_json(
                &d.exit(),
                &ExitFile {
                    code,
                    finished_at: now_rfc3339(),
                },
            )?;
            let mut st = st;
            st.status = Some(Status::Exited);
            st.exit_code = Some(code);
            st.mounted = false;
            st.network_up = false;
            d.write_state(&st)?;
        }
        Ok(())
    }

    /// podman rm: refuses a running container unless `force` (then SIGKILL).
    pub fn remove(&self, what: &str, force: bool) -> Result<ContainerConfig> {
        let (d, cfg) = self.lookup(what)?;
        let st = self.effective_state(&d, &self.host.proc)?;
        if st.status == Some(Status::Running) {
            if !force {
                return Err(RuntimeError::BadState {
                    id: cfg.name.clone(),
                    state: "running".into(),
                    what: "cannot remove a running container; stop it first or use -f".into(),
                });
            }
            self.stop(&cfg.id, Duration::ZERO)?;
        }
        if d.dir.exists() {
            let _lock = d.lock()?;
            self.finish_abandoned(&d, &cfg)?;
            self.teardown(&cfg)?;
            fs::remove_dir_all(&d.dir).map_err(io(&d.dir))?;
            self.release_address(&cfg);
        }
        Ok(cfg)
    }

    /// Blocks until the container exits; its exit code.
    pub fn wait(&self, what: &str) -> Result<i32> {
        let (d, cfg) = self.lookup(what)?;
        self.wait_exit(&d, None);
        let st = self.effective_state(&d, &self.host.proc)?;
        let _ = cfg;
        Ok(st.exit_code.unwrap_or(-1))
    }
}

pub fn status_str(s: Option<Status>) -> String {
    s.map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::engine::tests::{engine_in, fake_proc, running, stored};
    use crate::oci::fake::{Call, FakeRuntime};
    use crate::state::State;
    use crate::sys::{self, FakeSys};

    fn kill(signal: i32) -> Call {
        Call::Kill {
            id: "ab".repeat(32),
            signal,
            all: false,
        }
    }

    /// The exit file a real monitor writes once init is gone, written by
    /// the fake runtime on `signal` into `exit` (set once the path is known).
    fn exits_on(signal: i32, exit: Arc<Mutex<Option<std::path::PathBuf>>>) -> FakeRuntime {
        FakeRuntime::default().with_hook(move |c| {
            if let Call::Kill { signal: s, .. } = c {
                if *s == signal {
                    if let Some(p) = exit.lock().unwrap().as_ref() {
                        let x = ExitFile {
                            code: 128 + signal,
                            finished_at: now_rfc3339(),
                        };
                        write_json(p, &x).unwrap();
                    }
                }
            }
        })
    }

    #[test]
    fn stop_sends_the_stop_signal_and_is_done_when_init_exits() {
        let t = tempfile::tempdir().unwrap();
        let exit = Arc::new(Mutex::new(None));
        let rt = Arc::new(exits_on(15, exit.clone()));
        let e = engine_in(t.path(), Arc::default(), rt.clone());
        let (d, _) = stored(&e, &"ab".repeat(32), running());
        *exit.lock().unwrap() = Some(d.exit());
        fake_proc(&e.host.proc, 77, 500);
        e.stop(&"ab".repeat(32), Duration::from_secs(5)).unwrap();
        assert_eq!(rt.calls(), vec![kill(15)]);
    }

    #[test]
    fn stop_escalates_to_sigkill_after_the_timeout() {
        let t = tempfile::tempdir().unwrap();
        let exit = Arc::new(Mutex::new(None));
        let rt = Arc::new(exits_on(libc::SIGKILL, exit.clone()));
        let e = engine_in(t.path(), Arc::default(), rt.clone());
        let (d, _) = stored(&e, &"ab".repeat(32), running());
        *exit.lock().unwrap() = Some(d.exit());
        fake_proc(&e.host.proc, 77, 500);
        e.stop("abab", Duration::from_millis(30)).unwrap();
        assert_eq!(rt.calls(), vec![kill(15), kill(libc::SIGKILL)]);
        assert_eq!(d.read_exit().unwrap().unwrap().code, 128 + libc::SIGKILL);
    }

    #[test]
    fn kill_and_stop_leave_a_stopped_container_alone() {
        let t = tempfile::tempdir().unwrap();
        let rt = Arc::new(FakeRuntime::default());
        let e = engine_in(t.path(), Arc::default(), rt.clone());
        stored(
            &e,
            &"ab".repeat(32),
            State {
                status: Some(Status::Created),
                ..Default::default()
            },
        );
        let err = e.kill("abab", 15).unwrap_err().to_string();
        assert!(err.contains("can only kill running containers"), "{err}");
        e.stop("abab", Duration::from_secs(1)).unwrap();
        assert_eq!(rt.calls(), vec![]);
    }

    #[test]
    fn a_monitor_that_cannot_start_undoes_the_prepared_container() {
        let t = tempfile::tempdir().unwrap();
        let sys = Arc::new(FakeSys::default());
        let rt = Arc::new(FakeRuntime::default());
        let e = engine_in(t.path(), sys.clone(), rt.clone());
        let id = "ab".repeat(32);
        let (d, _) = stored(
            &e,
            &id,
            State {
                status: Some(Status::Created),
                ..Default::default()
            },
        );
        let err = e
            .start(&t.path().join("no-such-vouch"), &id)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no-such-vouch"), "{err}");
        assert_eq!(
            sys.calls(),
            vec![
                sys::Call::MountOverlay {
                    target: d.rootfs(),
                    options: crate::rootfs::overlay_options(
                        &["/l/1".into()],
                        &d.upper(),
                        &d.work()
                    )
                    .unwrap(),
                },
                sys::Call::Umount { target: d.rootfs() },
            ]
        );
        assert_eq!(
            rt.calls(),
            vec![Call::Delete {
                id: id.clone(),
                force: true
            }]
        );
        let st = d.read_state().unwrap();
        assert!(!st.mounted && !st.network_up, "{st:?}");
        assert_eq!(st.status, Some(Status::Created));
    }
}

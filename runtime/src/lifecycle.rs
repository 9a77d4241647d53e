//! Starting, stopping, killing, waiting for and removing containers: the
//! short-lived CLI side of the monitor protocol (`vouch_monitor::protocol`).
//!
//! `start` spawns `vouch-monitor` (installed beside `vouch`) in its own
//! session, writes it a typed request on its stdin (the runtime's command
//! line for `run` or `restore`, built by the driver; the exit command) with
//! the held host ports from fd 4, and waits on the sync pipe at fd 3 for
//! init's pid or the failure (conmon's sync pipe, podman
//! oci_conmon_common.go readConmonPipeData). Once init is gone the monitor
//! runs the exit command `vouch __cleanup ROOT RUNROOT ID` (conmon's
//! `--exit-command`, podman's `container cleanup`), which tears down
//! through the engine, and then writes the exit file. `stop` is podman's
//! StopContainer: the stop signal, a timeout, then SIGKILL. A container
//! whose monitor died is finished here: init killed, teardown, exit file.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vouch_monitor::protocol::{self, InitMode, Request, StdioMode};
use vouch_monitor::MonitorError;

use crate::error::{io, Result, RuntimeError};
use crate::net::ports;
use crate::oci::Restore;
use crate::signal::Signal;
use crate::state::{now_rfc3339, write_json, ContainerConfig, ContainerDir, ExitFile, Status};
use crate::Engine;

/// argv\[1\] of the monitor's exit command: `vouch __cleanup ROOT RUNROOT
/// ID`, dispatched before the CLI's parser (it is no user command).
pub const CLEANUP_ARG: &str = "__cleanup";

/// The monitor executable's name; it is installed beside `vouch`.
pub const MONITOR_EXE: &str = "vouch-monitor";

/// The monitor beside the `vouch` executable `exe` (never a path from
/// input: `exe` is `std::env::current_exe()`).
pub fn monitor_exe(exe: &Path) -> PathBuf {
    exe.with_file_name(MONITOR_EXE)
}

/// How the monitor starts init.
#[derive(Clone, Copy, Debug)]
pub enum Init<'a> {
    Run,
    /// From a checkpoint in the container directory.
    Restore(&'a Restore),
}

impl Engine {
    /// The monitor's request for a prepared container: the runtime's
    /// command line for `init`, its stdio, and the exit command (`exe`,
    /// the vouch executable, with [`CLEANUP_ARG`]).
    pub fn monitor_request(
        &self,
        exe: &Path,
        cfg: &ContainerConfig,
        init: Init<'_>,
        held_ports: usize,
    ) -> Result<Request> {
        let d = self.dir(&cfg.id);
        let rt = self.runtime_for(cfg)?;
        let stdio = if cfg.tty {
            StdioMode::Terminal {
                console_socket: self.console_dir().join(format!("{}.sock", cfg.id.short())),
                interactive: cfg.interactive,
            }
        } else {
            StdioMode::Pipes {
                interactive: cfg.interactive,
            }
        };
        let (bundle, pidfile, console) = (d.bundle(), d.pidfile(), stdio.console_socket());
        let init = match init {
            Init::Run => InitMode::Run {
                command: rt.run_command(&cfg.id, &bundle, &pidfile, console)?,
            },
            Init::Restore(r) => InitMode::Restore {
                command: rt.restore_command(&cfg.id, &bundle, &pidfile, console, r)?,
            },
        };
        let text = |p: &Path| {
            p.to_str()
                .map(str::to_string)
                .ok_or_else(|| RuntimeError::Usage(format!("{} is not UTF-8", p.display())))
        };
        Ok(Request {
            id: cfg.id.to_string(),
            dir: d.dir.clone(),
            init,
            stdio,
            auto_remove: cfg.auto_remove,
            held_ports,
            exit_command: vec![
                text(exe)?,
                CLEANUP_ARG.into(),
                text(&self.root)?,
                text(&self.run_dir)?,
                cfg.id.to_string(),
            ],
        })
    }

    /// Spawns the detached monitor for a prepared container and waits until
    /// it reports the init pid. On failure nothing is torn down (the monitor
    /// leaves that to us); the caller undoes or removes the container.
    pub fn spawn_monitor(
        &self,
        exe: &Path,
        cfg: &ContainerConfig,
        held: Vec<OwnedFd>,
        init: Init<'_>,
    ) -> Result<i32> {
        let req = self.monitor_request(exe, cfg, init, held.len())?;
        let monitor = monitor_exe(exe);
        let (mut child, report) = protocol::launch(&monitor, &req, held).map_err(io(&monitor))?;
        // The monitor outlives us; reap nothing (it re-parents on our exit),
        // but do not leave a zombie if it already failed.
        let _ = child.try_wait();
        match report {
            Ok(pid) => Ok(pid),
            Err(e) => {
                let _ = child.wait();
                Err(RuntimeError::from_monitor(&cfg.id, e))
            }
        }
    }

    /// The monitor's exit command: tears down the container `id` (a full
    /// ID) whose init is gone, and frees its address too with `--rm`.
    pub fn cleanup(&self, id: &str) -> Result<()> {
        let id = crate::id::ContainerId::parse(id)
            .map_err(|_| RuntimeError::NoSuchContainer(id.into()))?;
        let cfg = self.dir(&id).read_config()?;
        self.teardown_for_exit(&cfg)
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
        if let Err(e) = self.spawn_monitor(exe, &cfg, held, Init::Run) {
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
    pub fn kill(&self, what: &str, signal: Signal) -> Result<ContainerConfig> {
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
            let _ = rt.kill(&cfg.id, Signal::KILL, false);
            if !self.wait_exit(&d, Some(Duration::from_secs(10))) {
                return Err(RuntimeError::Monitor {
                    id: cfg.id.to_string(),
                    source: MonitorError::NotFinished("after SIGKILL"),
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
        let err = e.kill("abab", Signal::TERM).unwrap_err().to_string();
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
        let (d, c) = stored(
            &e,
            &id,
            State {
                status: Some(Status::Created),
                ..Default::default()
            },
        );
        let err = e
            .start(&t.path().join("vouch"), &id)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("{}/vouch-monitor", t.path().display())),
            "{err}"
        );
        assert_eq!(
            sys.calls(),
            vec![
                sys::Call::MountOverlay {
                    target: d.rootfs(),
                    options: crate::rootfs::overlay_options(
                        &e.lower_dirs(&c),
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
            vec![
                Call::Run {
                    id: id.clone(),
                    bundle: d.bundle()
                },
                Call::Delete {
                    id: id.clone(),
                    force: true
                }
            ]
        );
        let st = d.read_state().unwrap();
        assert!(!st.mounted && !st.network_up, "{st:?}");
        assert_eq!(st.status, Some(Status::Created));
    }
}

//! The OCI runtime binary behind a trait: runc by default (Debian's 1.1.5
//! works on this host's hybrid cgroups; crun refuses them), or any
//! runc-compatible CLI via `--runtime PATH` (crun, youki).
//!
//! This module is the only place that knows how a runtime is called: the
//! trait, every request type, and (in [`runc`]) every command line. The
//! engine, the monitor and `checkpoint/` depend on it; it depends on none
//! of them. [`fake::FakeRuntime`] records calls so lifecycle and rollback
//! paths are unit-tested without root or runc.

pub mod fake;
pub mod runc;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
pub use vouch_monitor::protocol::InitCommand;

use crate::error::{Result, RuntimeError};

pub use runc::{clean_stderr, Runc};

/// What CRIU needs for either direction: where the images and its logs go,
/// which binary, and how the network is locked meanwhile.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CriuOptions {
    pub image_path: PathBuf,
    pub work_path: PathBuf,
    pub tcp_established: bool,
    pub criu: PathBuf,
    /// CRIU's `network-lock` backend (`iptables`, `nftables`, `skip`).
    pub network_lock: String,
}

/// A checkpoint request: dump `CriuOptions::image_path`, and keep the
/// container running afterwards or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub criu: CriuOptions,
    pub leave_running: bool,
}

/// A restore request: start the container from the images instead of
/// running its command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restore {
    pub criu: CriuOptions,
}

pub trait OciRuntime: Send + Sync {
    fn name(&self) -> String;
    /// The command line that starts `id` detached. The monitor runs it
    /// with the container's stdio, waits for it and then reads the pid
    /// file; so the monitor itself knows no runtime's flags.
    fn run_command(
        &self,
        id: &str,
        bundle: &Path,
        pidfile: &Path,
        console_socket: Option<&Path>,
    ) -> Result<InitCommand>;
    fn kill(&self, id: &str, signal: crate::signal::Signal, all: bool) -> Result<()>;
    /// Deletes the runtime's state (and cgroup); `force` kills first. A
    /// container the runtime does not know is not an error.
    fn delete(&self, id: &str, force: bool) -> Result<()>;
    /// `exec` a process in a running container; returns its exit code.
    fn exec(
        &self,
        id: &str,
        tty: bool,
        env: &[String],
        cwd: Option<&str>,
        user: Option<&str>,
        args: &[String],
    ) -> Result<i32>;
    /// Dumps `id` with CRIU (see `crate::checkpoint`).
    fn checkpoint(&self, id: &str, c: &Checkpoint) -> Result<()> {
        let _ = c;
        Err(self.unsupported(id, "checkpoint"))
    }
    /// Like `run_command`, but restores `id` from CRIU images.
    fn restore_command(
        &self,
        id: &str,
        bundle: &Path,
        pidfile: &Path,
        console_socket: Option<&Path>,
        r: &Restore,
    ) -> Result<InitCommand> {
        let _ = (bundle, pidfile, console_socket, r);
        Err(self.unsupported(id, "restore"))
    }
    #[doc(hidden)]
    fn unsupported(&self, id: &str, action: &'static str) -> RuntimeError {
        RuntimeError::Runtime {
            runtime: self.name(),
            action,
            id: id.into(),
            stderr: "not supported by this runtime".into(),
        }
    }
}

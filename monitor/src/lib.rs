//! vouch-monitor: the per-container monitor, conmon's job (containers/conmon
//! src/conmon.c; runtime-notes §1.1). It becomes child-subreaper *before*
//! starting the OCI runtime (so init is re-parented to it, also after a
//! restore), owns the container's stdio (pipes, or a pty received on the
//! console socket with `-t`), writes the k8s-file log, holds the published
//! host ports, reaps init, and on exit releases the ports, runs the exit
//! command (which tears the container down) and only then writes the
//! `exit` file, so an exit file means "fully stopped".
//!
//! `vouch run -d` starts it as the `vouch-monitor` executable
//! (`src/bin/vouch-monitor.rs`), which speaks [`protocol`] with the CLI;
//! attached `vouch run` runs the same [`Monitor`] in the CLI process,
//! additionally copying output to the terminal and forwarding signals.
//!
//! A monitor lives as long as its container, so its resident memory is a
//! per-container cost. This crate therefore depends on nix, libc, serde,
//! serde_json, thiserror and chrono only; nothing of the engine (overlay,
//! netlink, nftables, OCI bundles) is linked into the monitor executable.

pub mod error;
pub mod fdio;
pub mod log;
pub mod protocol;
pub mod state;
pub mod supervise;
pub mod terminal;

pub use error::MonitorError;
pub use supervise::{run_exit_command, Monitor};

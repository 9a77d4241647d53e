//! The monitor's typed errors. A detached monitor cannot print (its stdio is
//! /dev/null), so each start failure also crosses the sync pipe as a
//! [`crate::protocol::Failure`]; the CLI turns it back into its own error.

use std::path::PathBuf;

use crate::protocol::Action;

/// Why the monitor could not start or supervise a container.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("{what}")]
    Sys {
        what: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// The OCI runtime's `run` or `restore` exited non-zero; `stderr` is
    /// what it printed, uncleaned (the runtime driver reads runc's format).
    #[error("OCI runtime {runtime} {} failed: {stderr}", action.as_str())]
    Runtime {
        runtime: String,
        action: Action,
        stderr: String,
    },
    #[error("the OCI runtime sent no terminal")]
    NoTerminal,
    #[error("the OCI runtime left no pid in {0}")]
    NoPid(PathBuf),
    #[error("invalid request")]
    Request(#[source] serde_json::Error),
    #[error("exited without a report ({0:?})")]
    NoReport(String),
    /// A detached monitor's failure, as it reported it.
    #[error("{0}")]
    Reported(String),
    /// The container's exit was not recorded in time.
    #[error("the container did not finish {0}")]
    NotFinished(&'static str),
}

impl MonitorError {
    /// The message with every cause, once each: what crosses the sync pipe,
    /// where the receiver has no `source()` chain to walk.
    pub fn one_line(&self) -> String {
        let mut out = self.to_string();
        let mut next = std::error::Error::source(self);
        while let Some(c) = next {
            out.push_str(": ");
            out.push_str(&c.to_string());
            next = c.source();
        }
        out
    }
}

/// Maps an io::Error to [`MonitorError::Io`] naming `path`.
pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> MonitorError {
    let path = path.into();
    move |source| MonitorError::Io { path, source }
}

pub(crate) fn sys(what: &'static str) -> impl FnOnce(nix::Error) -> MonitorError {
    move |source| MonitorError::Sys { what, source }
}

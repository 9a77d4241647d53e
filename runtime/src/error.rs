//! Typed errors of the runtime. Every variant names the container (by name
//! or ID), the file or the command it concerns, so the CLI can print one line
//! that says what went wrong where (docs/runtime.md, "Errors"). A variant
//! with a source does not repeat it in its message: the CLI (and
//! [`vouch_image::chain::one_line`]) prints each cause once.

use std::path::PathBuf;

/// Why a runtime operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
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
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    #[error("container name {name:?} is already in use by {id}")]
    NameInUse { name: String, id: String },
    #[error("invalid container name {0:?}: names are [a-zA-Z0-9][a-zA-Z0-9_.-]*")]
    BadName(String),
    #[error("{0}")]
    Usage(String),
    #[error("invalid port mapping {spec:?}: {why}")]
    BadPort { spec: String, why: String },
    #[error("host port {addr} is already in use")]
    PortInUse {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("OCI runtime {path} not found or not executable")]
    RuntimeMissing { path: PathBuf },
    #[error("OCI runtime {runtime} {action} failed for container {id}: {stderr}")]
    Runtime {
        runtime: String,
        action: &'static str,
        id: String,
        stderr: String,
    },
    #[error("container {id}: {what}")]
    Sys {
        id: String,
        what: String,
        #[source]
        source: nix::Error,
    },
    #[error("container {id}: network")]
    Network {
        id: String,
        #[source]
        source: crate::net::NetError,
    },
    #[error("container {id} is {state}: {what}")]
    BadState {
        id: String,
        state: String,
        what: String,
    },
    #[error("container {id}: the host's cgroups do not allow {what}")]
    Cgroup { id: String, what: String },
    #[error("image {image}")]
    Image {
        image: String,
        #[source]
        source: vouch_image::store::StoreError,
    },
    #[error("image {image}: config")]
    ImageConfig {
        image: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("container {id}: monitor failed")]
    Monitor {
        id: String,
        #[source]
        source: vouch_monitor::MonitorError,
    },
    #[error("container {id}: user {user:?} not found in the image's /etc/passwd")]
    NoUser { id: String, user: String },
    #[error("seccomp profile")]
    Seccomp(#[source] serde_json::Error),
    #[error("invalid spec")]
    Spec(#[from] crate::spec::SpecError),
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// podman's exit status when `run` or `exec` fails before the container's
/// command runs (its `define.ExitCode`): 125 for a failure of the tool
/// itself.
pub const EXIT_GENERIC: u8 = 125;
/// The command was found but could not be executed.
pub const EXIT_CANNOT_INVOKE: u8 = 126;
/// The command was not found.
pub const EXIT_NOT_FOUND: u8 = 127;

impl RuntimeError {
    /// The exit status podman gives this failure of `run` or `exec`: only
    /// the OCI runtime's own complaint says whether the command was missing
    /// or not executable; everything else is vouch's failure.
    pub fn podman_exit_code(&self) -> u8 {
        match self {
            RuntimeError::Runtime { stderr, .. } => oci_exit_code(stderr),
            _ => EXIT_GENERIC,
        }
    }
}

/// podman's reading of an OCI runtime's error message (libpod's
/// getOCIRuntimeError), permission first, as podman checks.
pub fn oci_exit_code(message: &str) -> u8 {
    let m = message.to_ascii_lowercase();
    if m.contains("permission denied") || m.contains("operation not permitted") {
        EXIT_CANNOT_INVOKE
    } else if m.contains("executable file not found") || m.contains("no such file or directory") {
        EXIT_NOT_FOUND
    } else {
        EXIT_GENERIC
    }
}

impl RuntimeError {
    /// A monitor's failure for container `id`; the OCI runtime's own
    /// refusal keeps its kind (and so its exit status, see
    /// [`RuntimeError::podman_exit_code`]) with runc's message cleaned.
    pub fn from_monitor(id: &str, e: vouch_monitor::MonitorError) -> Self {
        match e {
            vouch_monitor::MonitorError::Runtime {
                runtime,
                action,
                stderr,
            } => RuntimeError::Runtime {
                runtime,
                action: action.as_str(),
                id: id.into(),
                stderr: crate::oci::clean_stderr(stderr.as_bytes()),
            },
            source => RuntimeError::Monitor {
                id: id.into(),
                source,
            },
        }
    }
}

/// Maps an io::Error to [`RuntimeError::Io`] naming `path`.
pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let path = path.into();
    move |source| RuntimeError::Io { path, source }
}

#[cfg(test)]
mod exit_code_tests {
    use super::*;

    #[test]
    fn runtime_messages_map_to_podmans_codes() {
        let runc = |stderr: &str| RuntimeError::Runtime {
            runtime: "runc".into(),
            action: "run",
            id: "x".into(),
            stderr: stderr.into(),
        };
        let missing = r#"unable to start container process: exec: "/nope": stat /nope: no such file or directory"#;
        assert_eq!(runc(missing).podman_exit_code(), 127);
        let path = r#"exec: "nope": executable file not found in $PATH"#;
        assert_eq!(runc(path).podman_exit_code(), 127);
        let denied = r#"unable to start container process: exec: "/etc/x": permission denied"#;
        assert_eq!(runc(denied).podman_exit_code(), 126);
        assert_eq!(runc("cgroup setup failed").podman_exit_code(), 125);
        assert_eq!(
            RuntimeError::NoSuchContainer("no such file or directory".into()).podman_exit_code(),
            125,
            "only the runtime's own message is read"
        );
    }
}

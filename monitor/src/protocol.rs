//! What the CLI and a detached `vouch-monitor` say to each other: one
//! [`Request`] as JSON on the monitor's stdin (read to EOF), then one
//! [`Report`] line back on the sync pipe at fd [`SYNC_FD`] (conmon's sync
//! pipe; podman oci_conmon_common.go readConmonPipeData). The held host
//! ports follow at fd [`PORTS_FD`] onwards, `held_ports` of them.
//!
//! Both ends are built from this module and ship together, so the format
//! has no versioning; the state files the monitor writes are another matter
//! ([`crate::state`]).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::error::MonitorError;

/// The sync pipe (write end, in the monitor).
pub const SYNC_FD: RawFd = 3;
/// The first held host port.
pub const PORTS_FD: RawFd = 4;

/// Everything a monitor needs to start and supervise one container. It
/// reads no container config: the CLI decides, the monitor carries out.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Request {
    pub id: String,
    /// The container directory: `state.json`, `exit`, `ctr.log`, `pidfile`.
    pub dir: PathBuf,
    /// How init is started: the runtime's command line, built by the CLI's
    /// runtime driver (the monitor knows no runtime's flags).
    pub init: InitMode,
    pub stdio: StdioMode,
    /// `--rm`: the container directory goes with the container.
    pub auto_remove: bool,
    /// How many held host ports follow at [`PORTS_FD`].
    pub held_ports: usize,
    /// Run once init is gone and before the exit file is written (conmon's
    /// `--exit-command`, podman's `container cleanup`): tears down rootfs and
    /// network, so an exit file still means "fully stopped".
    pub exit_command: Vec<String>,
}

/// Run the container's command, or restore it from a checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum InitMode {
    Run { command: InitCommand },
    Restore { command: InitCommand },
}

impl InitMode {
    pub fn command(&self) -> &InitCommand {
        match self {
            Self::Run { command } | Self::Restore { command } => command,
        }
    }
    pub fn action(&self) -> Action {
        match self {
            Self::Run { .. } => Action::Run,
            Self::Restore { .. } => Action::Restore,
        }
    }
}

/// The runtime's detached `run`/`restore`: it exits once init is started
/// and leaves init's pid in the pid file.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct InitCommand {
    pub program: String,
    pub args: Vec<String>,
    /// Added to the monitor's environment.
    #[serde(default)]
    pub env: Vec<(String, String)>,
}

/// Which runtime action failed.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Run,
    Restore,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::Restore => "restore",
        }
    }
}

/// The container's stdio.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StdioMode {
    /// Pipes for stdout and stderr, and for stdin with `-i`.
    Pipes { interactive: bool },
    /// `-t`: the runtime sends the pty master to this socket, which the
    /// monitor listens on (short path: sun_path is 108 bytes).
    Terminal {
        console_socket: PathBuf,
        interactive: bool,
    },
}

impl StdioMode {
    pub fn interactive(&self) -> bool {
        match self {
            Self::Pipes { interactive } | Self::Terminal { interactive, .. } => *interactive,
        }
    }
    pub fn console_socket(&self) -> Option<&std::path::Path> {
        match self {
            Self::Pipes { .. } => None,
            Self::Terminal { console_socket, .. } => Some(console_socket),
        }
    }
}

/// The monitor's one message back: init's pid once the runtime started it,
/// or why it could not.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Report {
    Started { pid: i32 },
    Failed(Failure),
}

/// A start failure, as it crosses the pipe.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Failure {
    /// The runtime refused; kept apart because its message decides the
    /// exit status (podman's 125/126/127).
    Runtime {
        runtime: String,
        action: Action,
        stderr: String,
    },
    Monitor {
        message: String,
    },
}

impl From<&MonitorError> for Failure {
    fn from(e: &MonitorError) -> Self {
        match e {
            MonitorError::Runtime {
                runtime,
                action,
                stderr,
            } => Failure::Runtime {
                runtime: runtime.clone(),
                action: *action,
                stderr: stderr.clone(),
            },
            e => Failure::Monitor {
                message: e.one_line(),
            },
        }
    }
}

impl From<Failure> for MonitorError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Runtime {
                runtime,
                action,
                stderr,
            } => MonitorError::Runtime {
                runtime,
                action,
                stderr,
            },
            Failure::Monitor { message } => MonitorError::Reported(message),
        }
    }
}

/// Reads the request (the whole of `r`).
pub fn read_request(mut r: impl Read) -> Result<Request, MonitorError> {
    let mut b = Vec::new();
    r.read_to_end(&mut b)
        .map_err(crate::error::io("the request"))?;
    serde_json::from_slice(&b).map_err(MonitorError::Request)
}

pub fn write_request(mut w: impl Write, req: &Request) -> Result<(), MonitorError> {
    let b = serde_json::to_vec(req).map_err(MonitorError::Request)?;
    w.write_all(&b).map_err(crate::error::io("the request"))
}

/// One JSON line.
pub fn write_report(mut w: impl Write, r: &Report) -> std::io::Result<()> {
    let mut b = serde_json::to_vec(r).map_err(std::io::Error::other)?;
    b.push(b'\n');
    w.write_all(&b)
}

/// Reads the report (to EOF): init's pid, or the monitor's failure.
pub fn read_report(mut r: impl Read) -> Result<i32, MonitorError> {
    let mut s = String::new();
    let _ = r.read_to_string(&mut s);
    match serde_json::from_str::<Report>(s.trim()) {
        Ok(Report::Started { pid }) => Ok(pid),
        Ok(Report::Failed(f)) => Err(f.into()),
        Err(_) => Err(MonitorError::NoReport(s)),
    }
}

/// Starts the monitor at `program` with the descriptors laid out as above:
/// the request on stdin, the sync pipe at [`SYNC_FD`], `held` from
/// [`PORTS_FD`] on, in a session of its own. Returns the child, which on
/// success outlives the caller, and the report; `Err` only when it could
/// not be spawned.
pub fn launch(
    program: &Path,
    req: &Request,
    held: Vec<OwnedFd>,
) -> std::io::Result<(Child, Result<i32, MonitorError>)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut c = Command::new(program);
    c.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let wfd = w.as_raw_fd();
    let port_fds: Vec<RawFd> = held.iter().map(|f| f.as_raw_fd()).collect();
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
                if libc::dup2(*fd, base + 1 + i as RawFd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            libc::dup2(base, SYNC_FD);
            libc::close(base);
            for i in 0..port_fds.len() as RawFd {
                libc::dup2(base + 1 + i, PORTS_FD + i);
                libc::close(base + 1 + i);
            }
            Ok(())
        });
    }
    let spawned = c.spawn();
    drop(w);
    drop(held);
    let mut child = spawned?;
    // A monitor that died before reading reports nothing; that is the
    // error then, not the broken pipe.
    if let Some(stdin) = child.stdin.take() {
        let _ = write_request(stdin, req);
    }
    let report = read_report(std::fs::File::from(r));
    Ok((child, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_reports_round_trip() {
        let req = Request {
            id: "ab".repeat(32),
            dir: "/var/lib/vouch/containers/x".into(),
            init: InitMode::Restore {
                command: InitCommand {
                    program: "/usr/sbin/runc".into(),
                    args: vec!["restore".into(), "--detach".into()],
                    env: vec![("CRIU_CONFIG_FILE".into(), "/c/criu.conf".into())],
                },
            },
            stdio: StdioMode::Terminal {
                console_socket: "/run/vouch/console/x.sock".into(),
                interactive: true,
            },
            auto_remove: false,
            held_ports: 2,
            exit_command: vec!["/usr/bin/vouch".into(), "__cleanup".into()],
        };
        let mut b = Vec::new();
        write_request(&mut b, &req).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["init"]["mode"], "restore");
        assert_eq!(v["stdio"]["kind"], "terminal");
        assert_eq!(read_request(&b[..]).unwrap(), req);

        let mut b = Vec::new();
        write_report(&mut b, &Report::Started { pid: 42 }).unwrap();
        assert_eq!(b, b"{\"started\":{\"pid\":42}}\n");
        assert_eq!(read_report(&b[..]).unwrap(), 42);
    }

    #[test]
    fn a_failure_keeps_the_runtimes_message_apart() {
        let e = MonitorError::Runtime {
            runtime: "runc".into(),
            action: Action::Restore,
            stderr: "criu failed".into(),
        };
        let mut b = Vec::new();
        write_report(&mut b, &Report::Failed((&e).into())).unwrap();
        match read_report(&b[..]) {
            Err(MonitorError::Runtime { action, stderr, .. }) => {
                assert_eq!((action, stderr.as_str()), (Action::Restore, "criu failed"))
            }
            r => panic!("{r:?}"),
        }
        let mut b = Vec::new();
        let f = Failure::from(&MonitorError::NoTerminal);
        write_report(&mut b, &Report::Failed(f)).unwrap();
        let e = read_report(&b[..]).unwrap_err();
        assert_eq!(e.to_string(), "the OCI runtime sent no terminal");
        // A monitor that died before reporting.
        let e = read_report(&b"{\"sta"[..]).unwrap_err();
        assert!(matches!(e, MonitorError::NoReport(s) if s == "{\"sta"));
    }
}

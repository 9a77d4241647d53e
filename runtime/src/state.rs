//! Container state without a daemon: one directory per container holding
//! vouch's container config, `state.json` (replaced by rename, never
//! rewritten in place), the monitor's `exit` file and an flock.
//!
//! The shape follows podman's (runtime-notes §1.2–1.3): the monitor writes
//! the exit file when init dies, and every reader merges `state.json` with
//! the exit file and a liveness check of the monitor, so `ps` notices a
//! monitor that was SIGKILLed. Pids are stored with their start time (field
//! 22 of `/proc/<pid>/stat`, as runc does) so a recycled pid is not mistaken
//! for the container. Layout (keep in sync with docs/runtime.md):
//!
//! ```text
//! ROOT/containers/.lock            flock while names are allocated
//! ROOT/containers/<id>/config.json vouch's container config (ContainerConfig)
//! ROOT/containers/<id>/state.json  State, replaced atomically
//! ROOT/containers/<id>/exit        ExitFile, written by the monitor
//! ROOT/containers/<id>/lock        flock held by mutating commands
//! ROOT/containers/<id>/ctr.log     k8s-file log
//! ROOT/containers/<id>/bundle/     OCI bundle: config.json + rootfs (overlay mount point)
//! ROOT/containers/<id>/upper, work overlay upper and work directories
//! ROOT/runc/                       the OCI runtime's own state (--root)
//! ```

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{io, Result, RuntimeError};
use crate::net::PortMapping;

/// What `vouch run` was asked for, fixed at creation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ContainerConfig {
    pub id: String,
    pub name: String,
    /// The name the image was asked for by, and its ID.
    pub image_name: String,
    pub image_id: String,
    pub created: String,
    /// argv of the container's init.
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub hostname: String,
    pub tty: bool,
    pub interactive: bool,
    pub auto_remove: bool,
    pub network: NetworkMode,
    pub ports: Vec<PortMapping>,
    /// Assigned bridge address (kept so a restore brings back the same one).
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub mac: Option<String>,
    /// The bridge the address belongs to.
    #[serde(default)]
    pub bridge: Option<String>,
    pub runtime: PathBuf,
    pub read_only: bool,
    pub stop_signal: i32,
    /// Layer directories, uppermost first (overlay lowerdir order).
    pub lower_dirs: Vec<PathBuf>,
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub memory: Option<i64>,
    #[serde(default)]
    pub pids_limit: Option<i64>,
}

/// `--network`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    Bridge,
    None,
    Host,
}

impl NetworkMode {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "bridge" | "default" => Ok(Self::Bridge),
            "none" => Ok(Self::None),
            "host" => Ok(Self::Host),
            other => Err(RuntimeError::Usage(format!(
                "unsupported --network {other:?}: use bridge, none or host"
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bridge => "bridge",
            Self::None => "none",
            Self::Host => "host",
        }
    }
}

/// What the container is doing, as last recorded.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Stopping,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Stopping => "stopping",
            Self::Exited => "exited",
        }
    }
}

/// `state.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct State {
    pub status: Option<Status>,
    /// Host pid of the container's init and its start time (clock ticks).
    pub pid: Option<i32>,
    pub pid_start: Option<u64>,
    pub monitor_pid: Option<i32>,
    pub monitor_start: Option<u64>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i32>,
    /// Whether the rootfs is mounted and the network set up.
    #[serde(default)]
    pub mounted: bool,
    #[serde(default)]
    pub network_up: bool,
}

/// The monitor's `exit` file: conmon writes the bare code and podman takes
/// the finish time from the file's ctime; vouch writes both explicitly.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ExitFile {
    /// WEXITSTATUS, or 128+signal (conmon src/ctr_exit.c:get_exit_status).
    pub code: i32,
    pub finished_at: String,
}

/// The paths of one container.
#[derive(Clone, Debug)]
pub struct ContainerDir {
    pub dir: PathBuf,
}

impl ContainerDir {
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    pub fn exit(&self) -> PathBuf {
        self.dir.join("exit")
    }
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join("lock")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("ctr.log")
    }
    pub fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("bundle/rootfs")
    }
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    pub fn pidfile(&self) -> PathBuf {
        self.dir.join("pidfile")
    }
    pub fn console_socket(&self) -> PathBuf {
        self.dir.join("console.sock")
    }

    pub fn read_config(&self) -> Result<ContainerConfig> {
        read_json(&self.config())
    }
    pub fn read_state(&self) -> Result<State> {
        match fs::read(self.state()) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(io(self.state())(e)),
            Ok(b) => serde_json::from_slice(&b).map_err(|source| RuntimeError::Json {
                path: self.state(),
                source,
            }),
        }
    }
    pub fn write_state(&self, s: &State) -> Result<()> {
        write_json(&self.state(), s)
    }
    pub fn read_exit(&self) -> Result<Option<ExitFile>> {
        match fs::read(self.exit()) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(self.exit())(e)),
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|source| RuntimeError::Json {
                    path: self.exit(),
                    source,
                }),
        }
    }
    /// Takes the container's flock (blocking); released on drop.
    pub fn lock(&self) -> Result<Flock> {
        Flock::take(&self.lock_path())
    }
}

/// An exclusive flock, released when dropped.
pub struct Flock {
    _f: File,
}

impl Flock {
    pub fn take(path: &Path) -> Result<Self> {
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io(path))?;
        // SAFETY: flock on an owned, open descriptor.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io(path)(std::io::Error::last_os_error()));
        }
        Ok(Self { _f: f })
    }
}

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let b = fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&b).map_err(|source| RuntimeError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes JSON by temp file + rename, so readers see the old or the new
/// document and never a torn one (youki's truncate-then-write is what not to do).
pub fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|source| RuntimeError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomic(path, &bytes)
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let r = (|| {
        // No fsync: these files describe processes, which a crash ends
        // anyway; rename alone keeps readers from seeing a torn file.
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        fs::rename(&tmp, path)
    })();
    if r.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    r.map_err(io(path))
}

/// Field 22 (starttime) of `<proc>/<pid>/stat`, or None if the pid is gone.
/// `proc` is `/proc` in production and a fixture directory in tests.
pub fn pid_start_time(proc: &Path, pid: i32) -> Option<u64> {
    let s = fs::read_to_string(proc.join(pid.to_string()).join("stat")).ok()?;
    // comm may contain spaces and parentheses: split after the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// True when `pid` exists and still has the recorded start time (and is not
/// a zombie waiting for its parent).
pub fn pid_alive(proc: &Path, pid: i32, start: Option<u64>) -> bool {
    let Ok(s) = fs::read_to_string(proc.join(pid.to_string()).join("stat")) else {
        return false;
    };
    let Some(close) = s.rfind(')') else {
        return false;
    };
    let fields: Vec<&str> = s[close + 1..].split_whitespace().collect();
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return false;
    }
    match start {
        Some(want) => fields.get(19).and_then(|f| f.parse::<u64>().ok()) == Some(want),
        None => true,
    }
}

pub fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_proc(dir: &Path, pid: i32, state: &str, start: u64) {
        let p = dir.join(pid.to_string());
        fs::create_dir_all(&p).unwrap();
        let mut fields = vec!["0"; 50];
        fields[0] = state;
        let start_s = start.to_string();
        fields[19] = &start_s;
        fs::write(
            p.join("stat"),
            format!("{pid} (a (weird) name) {}\n", fields.join(" ")),
        )
        .unwrap();
    }

    #[test]
    fn start_time_detects_pid_reuse_and_zombies() {
        let d = tempfile::tempdir().unwrap();
        fake_proc(d.path(), 42, "S", 1234);
        fake_proc(d.path(), 43, "Z", 99);
        assert_eq!(pid_start_time(d.path(), 42), Some(1234));
        assert!(pid_alive(d.path(), 42, Some(1234)));
        assert!(!pid_alive(d.path(), 42, Some(1235)), "recycled pid");
        assert!(!pid_alive(d.path(), 43, None), "zombie");
        assert!(!pid_alive(d.path(), 44, None), "gone");
    }

    #[test]
    fn state_round_trips_atomically() {
        let d = tempfile::tempdir().unwrap();
        let c = ContainerDir {
            dir: d.path().to_path_buf(),
        };
        assert_eq!(c.read_state().unwrap(), State::default());
        let s = State {
            status: Some(Status::Running),
            pid: Some(7),
            ..Default::default()
        };
        c.write_state(&s).unwrap();
        assert_eq!(c.read_state().unwrap(), s);
        let leftovers: Vec<_> = fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file left");
        fs::write(c.state(), b"{").unwrap();
        assert!(matches!(c.read_state(), Err(RuntimeError::Json { .. })));
    }
}

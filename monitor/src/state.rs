//! The state files the monitor writes, shared with the CLI (which re-exports
//! them from `vouch_runtime::state`): `state.json` ([`State`]) and the `exit`
//! file ([`ExitFile`]). Containers started by an earlier vouch are read with
//! these same types, so fields are only ever added, with defaults.
//!
//! Pids are stored with their start time (field 22 of `/proc/<pid>/stat`,
//! as runc does) so a recycled pid is not mistaken for the container.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{io, MonitorError};

pub const STATE_FILE: &str = "state.json";
pub const EXIT_FILE: &str = "exit";
pub const LOG_FILE: &str = "ctr.log";
pub const PID_FILE: &str = "pidfile";

/// The files of one container directory that the monitor touches.
#[derive(Clone, Debug)]
pub struct Files {
    pub dir: PathBuf,
}

impl Files {
    pub fn state(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }
    pub fn exit(&self) -> PathBuf {
        self.dir.join(EXIT_FILE)
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }
    pub fn pidfile(&self) -> PathBuf {
        self.dir.join(PID_FILE)
    }
    /// `state.json`, or the default state when there is none yet.
    pub fn read_state(&self) -> Result<State, MonitorError> {
        let p = self.state();
        match fs::read(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(io(p)(e)),
            Ok(b) => {
                serde_json::from_slice(&b).map_err(|source| MonitorError::Json { path: p, source })
            }
        }
    }
    pub fn write_state(&self, s: &State) -> Result<(), MonitorError> {
        write_json(&self.state(), s)
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

/// Writes JSON by temp file + rename, so readers see the old or the new
/// document and never a torn one.
pub fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), MonitorError> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|source| MonitorError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomic(path, &bytes).map_err(io(path))
}

/// Temp file in the same directory + rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
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
    r
}

/// The fields of `<proc>/<pid>/stat` after `comm` (state is the first), or
/// None if the pid is gone. comm may hold spaces and parentheses, so the
/// split is after the last ')'.
fn stat_fields(proc: &Path, pid: i32) -> Option<Vec<String>> {
    let s = fs::read_to_string(proc.join(pid.to_string()).join("stat")).ok()?;
    let rest = s.get(s.rfind(')')? + 1..)?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// Field 22 (starttime) of `<proc>/<pid>/stat`, or None if the pid is gone.
/// `proc` is `/proc` in production and a fixture directory in tests.
pub fn pid_start_time(proc: &Path, pid: i32) -> Option<u64> {
    stat_fields(proc, pid)?.get(19)?.parse().ok()
}

/// True when `pid` exists and still has the recorded start time (and is not
/// a zombie waiting for its parent).
pub fn pid_alive(proc: &Path, pid: i32, start: Option<u64>) -> bool {
    let Some(fields) = stat_fields(proc, pid) else {
        return false;
    };
    if matches!(fields.first().map(String::as_str), Some("Z" | "X")) {
        return false;
    }
    match start {
        Some(want) => fields.get(19).and_then(|f| f.parse::<u64>().ok()) == Some(want),
        None => true,
    }
}

/// Now, local time, RFC 3339 with nanoseconds and a numeric offset (the
/// form of podman's times and of conmon's log lines).
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
        let me = std::process::id() as i32;
        assert!(pid_alive(
            Path::new("/proc"),
            me,
            pid_start_time(Path::new("/proc"), me)
        ));
    }

    #[test]
    fn state_round_trips_atomically() {
        let d = tempfile::tempdir().unwrap();
        let c = Files {
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
        assert!(matches!(c.read_state(), Err(MonitorError::Json { .. })));
    }

    #[test]
    fn times_are_rfc3339_with_nanoseconds() {
        let t = now_rfc3339();
        assert!(chrono::DateTime::parse_from_rfc3339(&t).is_ok(), "{t}");
        assert_eq!(t.len(), 35, "{t}");
    }
}

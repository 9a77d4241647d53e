//! Container state without a daemon: one directory per container holding
//! vouch's container config, `state.json` (replaced by rename, never
//! rewritten in place), the monitor's `exit` file and an flock. The files
//! the monitor writes, and their types, are the monitor crate's
//! (`vouch_monitor::state`, re-exported here).
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

use std::net::Ipv4Addr;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};
use vouch_image::{Digest, ImageId};

use crate::error::{io, Result, RuntimeError};
use crate::id::ContainerId;
use crate::net::link::Mac;
use crate::net::PortMapping;
use crate::signal::Signal;
pub use vouch_monitor::state::{
    now_rfc3339, pid_alive, pid_start_time, ExitFile, State, Status, EXIT_FILE, LOG_FILE, PID_FILE,
    STATE_FILE,
};

/// What `vouch run` was asked for, fixed at creation. Every typed field
/// reads the JSON earlier versions wrote (the same strings and numbers);
/// only `lower_dirs` changed shape and is read by [`layers_or_paths`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ContainerConfig {
    pub id: ContainerId,
    pub name: String,
    /// The name the image was asked for by, and its ID.
    pub image_name: String,
    pub image_id: ImageId,
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
    pub ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub mac: Option<Mac>,
    /// The bridge the address belongs to.
    #[serde(default)]
    pub bridge: Option<String>,
    pub runtime: PathBuf,
    pub read_only: bool,
    pub stop_signal: Signal,
    /// The image's layers by diff ID, uppermost first (overlay lowerdir
    /// order), resolved through the store when mounted: a store that
    /// moves keeps its containers.
    #[serde(alias = "lower_dirs", deserialize_with = "layers_or_paths")]
    pub layers: Vec<Digest>,
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub memory: Option<i64>,
    #[serde(default)]
    pub pids_limit: Option<i64>,
}

/// Reads `layers` as written now (`sha256:<hex>` diff IDs) or as
/// `lower_dirs` before (absolute `<store>/layers/<hex>` paths): the last
/// path component of a layer directory is its diff ID's hex. Anything else
/// is refused, not guessed at.
fn layers_or_paths<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<Digest>, D::Error> {
    use serde::de::Error;
    Vec::<String>::deserialize(d)?
        .into_iter()
        .map(|s| {
            if !s.starts_with('/') {
                return Digest::parse(&s).map_err(D::Error::custom);
            }
            Path::new(&s)
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|hex| Digest::parse(&format!("sha256:{hex}")).ok())
                .ok_or_else(|| D::Error::custom(format!("{s:?} is not a layer directory")))
        })
        .collect()
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
        self.dir.join(STATE_FILE)
    }
    pub fn exit(&self) -> PathBuf {
        self.dir.join(EXIT_FILE)
    }
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join("lock")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
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
        self.dir.join(PID_FILE)
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
    vouch_monitor::state::write_atomic(path, bytes).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config as the version before typed state wrote it: string IDs,
    /// address and MAC, a numeric signal, absolute layer paths.
    #[test]
    fn configs_written_before_typed_state_still_read() {
        let (id, img, l1, l2) = (
            "ab".repeat(32),
            "cd".repeat(32),
            "01".repeat(32),
            "23".repeat(32),
        );
        let old = serde_json::json!({
            "id": id, "name": "web", "image_name": "localhost/x:latest", "image_id": img,
            "created": "2026-01-01T00:00:00.000000000+00:00", "command": ["/bin/sh"],
            "env": [], "working_dir": "/", "user": "", "hostname": "abababababab",
            "tty": false, "interactive": false, "auto_remove": false, "network": "bridge",
            "ports": [], "ip": "10.90.0.2", "mac": "02:42:0a:5a:00:02", "bridge": "vouch0",
            "runtime": "runc", "read_only": false, "stop_signal": 15,
            "lower_dirs": [format!("/var/lib/vouch/layers/{l1}"), format!("/var/lib/vouch/layers/{l2}")],
        });
        let c: ContainerConfig = serde_json::from_value(old).unwrap();
        assert_eq!(c.id.short(), "abababababab");
        assert_eq!(c.image_id.as_str(), img);
        assert_eq!(c.ip, Some(Ipv4Addr::new(10, 90, 0, 2)));
        assert_eq!(c.mac.unwrap().to_string(), "02:42:0a:5a:00:02");
        assert_eq!(c.stop_signal, Signal::TERM);
        let hexes: Vec<&str> = c.layers.iter().map(|d| d.hex()).collect();
        assert_eq!(hexes, [l1.as_str(), l2.as_str()]);
        // Written back in the new shape, it reads the same.
        let again = serde_json::to_value(&c).unwrap();
        assert_eq!(again["layers"][0], format!("sha256:{l1}"));
        assert_eq!(again["ip"], "10.90.0.2");
        assert_eq!(again["stop_signal"], 15);
        assert_eq!(serde_json::from_value::<ContainerConfig>(again).unwrap(), c);
        let mut bad = serde_json::to_value(&c).unwrap();
        bad["layers"] = serde_json::json!(["/var/lib/vouch/layers/nothex"]);
        assert!(serde_json::from_value::<ContainerConfig>(bad).is_err());
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

//! Checkpoint, restore and migration (podman's `container checkpoint` /
//! `container restore`), through the OCI runtime: runc's `checkpoint` and
//! `restore`, which drive CRIU over its swrk RPC (runtime-notes §0.3
//! option A, §3).
//!
//! * **Checkpoint**: `runc checkpoint --image-path <ctr>/checkpoint`. The
//!   network namespace is a path in the spec (`/run/netns/vouch-<id>`), so
//!   runc declares it external (`net[ino]:extRootNetNS`) and CRIU does not
//!   dump it. Without `--leave-running` the container's init dies; its
//!   monitor tears the network and rootfs down and writes the exit file, and
//!   checkpoint returns once that is done, so a restore can follow at once.
//! * **Restore**: the same preparation as `start` (rootfs, a fresh netns with
//!   the *same* address, host ports), then a new monitor that is
//!   child-subreaper first runs `runc restore --detach` instead of
//!   `runc run` (its request says [`InitMode::Restore`], with the command
//!   line from the runtime driver): runc maps the dumped stdio
//!   pipes (`descriptors.json`) onto the monitor's new pipes, and the
//!   restored init is re-parented to the monitor when runc exits
//!   (runtime-notes §0.2). The log continues in the same file.
//! * **Export/import**: podman's archive layout, see [`archive`] and
//!   docs/checkpoint.md.
//!
//! Every failure undoes what this module made: no container record, mount,
//! process, veth or nft rule is left half-made (the fault tests check it).

pub mod archive;
pub mod creds;
pub mod criu;
pub mod criu_image;
mod diff;
pub mod dump;
mod host;
pub mod podman;
pub mod privileges;
pub mod read;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vouch_image::{ImageRecord, Store};

use crate::error::RuntimeError;
use crate::lifecycle::Init;
use crate::net::{ports, PortMapping};
use crate::state::{
    now_rfc3339, read_json, write_json, ContainerConfig, ContainerDir, Flock, NetworkMode, State,
    Status,
};
use crate::Engine;
#[cfg(doc)]
use vouch_monitor::protocol::InitMode;

use crate::oci::runc::with_criu_log;
use crate::oci::{Checkpoint, CriuOptions, Restore};
pub use archive::Compression;
use host::{eth0_mac, prefreeze, set_eth0_mac, thaw, wait_exit_file};

/// The CRIU images of a checkpoint, in the container directory (podman:
/// `<bundle>/checkpoint`).
pub const IMAGES_DIR: &str = "checkpoint";
/// CRIU's work directory (dump.log, restore.log, stats-*).
pub const WORK_DIR: &str = "checkpoint-work";
/// What the last checkpoint recorded ([`CheckpointMeta`]).
pub const META_FILE: &str = "checkpoint.json";

/// Why a checkpoint or restore failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("CRIU {path} not found: install CRIU {} or later (scripts/install-criu.sh) or pass --criu PATH", criu::version_string(criu::MIN_VERSION))]
    CriuMissing { path: PathBuf },
    #[error("CRIU {path} is too old ({found}); vouch needs {min} or later")]
    CriuTooOld {
        path: PathBuf,
        found: String,
        min: String,
    },
    #[error("CRIU {path} does not work: {detail}")]
    CriuBroken { path: PathBuf, detail: String },
    #[error("container {id} has no checkpoint to restore (checkpoint it first, or restore an exported one with -i FILE)")]
    NotCheckpointed { id: String },
    #[error("container {id}: the checkpoint holds established TCP connections; restore it with --tcp-established")]
    NeedsTcpEstablished { id: String },
    #[error("checkpoint archive {path}: {why}")]
    Archive { path: PathBuf, why: String },
    #[error("checkpoint archive {path} was written by an incompatible version ({found}); this vouch reads version {}", archive::FORMAT_VERSION)]
    Incompatible { path: PathBuf, found: String },
    #[error("checkpoint archive {path}: it grants {what}, beyond what `vouch run` gives by default; restore with --grant-archive-privileges to allow it")]
    Privileged { path: PathBuf, what: String },
    #[error(
        "checkpoint archive {path}: {what}; restore with --grant-archive-privileges to allow it"
    )]
    Creds { path: PathBuf, what: String },
    #[error("container ID {id} already exists (restore with -n NEWNAME to get a new one)")]
    IdInUse { id: String },
    #[error("image {image}: the checkpoint was taken on image {want}, whose layers differ from this store's {have}")]
    ImageMismatch {
        image: String,
        want: vouch_image::ImageId,
        have: vouch_image::ImageId,
    },
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

pub type Result<T, E = CheckpointError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CheckpointError {
    let path = path.into();
    move |source| CheckpointError::Io { path, source }
}

/// `checkpoint`'s flags.
#[derive(Clone, Debug, Default)]
pub struct CheckpointOptions {
    pub leave_running: bool,
    pub tcp_established: bool,
    /// Keep CRIU's logs and statistics.
    pub keep: bool,
    pub export: Option<PathBuf>,
    pub compression: Compression,
    pub criu: Option<PathBuf>,
}

/// `restore`'s flags.
#[derive(Clone, Debug, Default)]
pub struct RestoreOptions {
    pub tcp_established: bool,
    /// Keep the CRIU images and logs after a successful restore.
    pub keep: bool,
    /// `-n`: a new name (and, as podman, a new ID and address) for an import.
    pub name: Option<String>,
    /// `-p`: replaces the published ports of an import.
    pub ports: Option<Vec<PortMapping>>,
    pub criu: Option<PathBuf>,
    /// `--grant-archive-privileges`: an import may keep what its config
    /// grants beyond `vouch run`'s defaults ([`privileges`]).
    pub grant_archive_privileges: bool,
}

/// What a checkpoint recorded, next to the images.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CheckpointMeta {
    pub created: String,
    pub tcp_established: bool,
    #[serde(default)]
    pub criu_version: u32,
}

/// Timings for `--print-stats` (podman prints the same two durations).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub id: String,
    pub name: String,
    /// The whole operation, µs.
    pub total_us: u64,
    /// Checkpoint: the OCI runtime's checkpoint call. Restore: preparing
    /// rootfs and network plus the runtime's restore, until the monitor
    /// reports the restored pid. µs.
    pub runtime_us: u64,
    /// Size of the exported archive, if any.
    pub archive_bytes: Option<u64>,
    /// Restore -i: what the archive was granted beyond the defaults
    /// (`--grant-archive-privileges`), one privilege per line.
    #[serde(skip)]
    pub granted: Vec<String>,
}

fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

fn images_dir(d: &ContainerDir) -> PathBuf {
    d.dir.join(IMAGES_DIR)
}
fn work_dir(d: &ContainerDir) -> PathBuf {
    d.dir.join(WORK_DIR)
}

/// Whether the container directory holds a complete checkpoint.
pub fn has_checkpoint(d: &ContainerDir) -> bool {
    images_dir(d).join("inventory.img").is_file()
}

pub fn read_meta(d: &ContainerDir) -> Option<CheckpointMeta> {
    read_json(&d.dir.join(META_FILE)).ok()
}

impl Engine {
    /// podman container checkpoint: dump a running container, optionally
    /// export it.
    pub fn checkpoint(&self, what: &str, o: &CheckpointOptions) -> Result<Report> {
        let t0 = Instant::now();
        let criu = criu::locate(o.criu.as_deref())?;
        let (d, cfg) = self.lookup(what)?;
        let lock = d.lock()?;
        let st = self.effective_state(&d, &self.host.proc)?;
        if st.status != Some(Status::Running) {
            return Err(RuntimeError::BadState {
                id: cfg.name.clone(),
                state: crate::lifecycle::status_str(st.status),
                what: "can only checkpoint running containers".into(),
            }
            .into());
        }
        if cfg.auto_remove && !o.leave_running {
            // Its monitor would delete the container, checkpoint included,
            // as soon as init is gone (podman refuses too, unless exporting).
            return Err(RuntimeError::BadState {
                id: cfg.name.clone(),
                state: "running with --rm".into(),
                what: "cannot checkpoint a container started with --rm (use --leave-running)"
                    .into(),
            }
            .into());
        }
        let (images, work) = (images_dir(&d), work_dir(&d));
        for p in [&images, &work] {
            let _ = fs::remove_dir_all(p);
            fs::create_dir_all(p).map_err(io_err(p))?;
        }
        let _ = fs::remove_file(d.dir.join(META_FILE));
        let mut cfg = cfg;
        if network_is_external(&cfg) && cfg.mac.is_none() {
            // Keep eth0's MAC with the address (podman keeps both in
            // network.status): neighbours' ARP entries stay valid, so the
            // restored server answers at once instead of after ARP
            // re-probing (~5 s).
            // (Once known it is set again on every restore.)
            if let Some(mac) = eth0_mac(&cfg.id) {
                cfg.mac = Some(mac);
                write_json(&d.config(), &cfg)?;
            }
        }
        let rt = self.runtime_for(&cfg)?;
        let req = Checkpoint {
            criu: CriuOptions {
                image_path: images.clone(),
                work_path: work.clone(),
                tcp_established: o.tcp_established,
                criu: criu.path.clone(),
                network_lock: criu::network_lock(),
            },
            leave_running: o.leave_running,
        };
        let t1 = Instant::now();
        let frozen = prefreeze(&self.host.cgroup, &cfg.id);
        let r = rt.checkpoint(&cfg.id, &req);
        let runtime_us = us(t1.elapsed());
        if frozen && (r.is_err() || o.leave_running) {
            thaw(&self.host.cgroup, &cfg.id);
        }
        if let Err(e) = r {
            let _ = fs::remove_dir_all(&images);
            if !o.keep {
                let _ = fs::remove_dir_all(&work);
            }
            return Err(e.into());
        }
        let meta = CheckpointMeta {
            created: now_rfc3339(),
            tcp_established: o.tcp_established,
            criu_version: criu.version,
        };
        write_json(&d.dir.join(META_FILE), &meta)?;
        if !o.leave_running {
            // The monitor reaps the dumped init, tears down and writes the
            // exit file; wait so the address and ports are free again.
            drop(lock);
            if !wait_exit_file(&self.host.proc, &d, Duration::from_secs(30)) {
                return Err(RuntimeError::Monitor {
                    id: cfg.id.to_string(),
                    source: vouch_monitor::MonitorError::NotFinished("after the checkpoint"),
                }
                .into());
            }
        }
        let mut archive_bytes = None;
        if let Some(file) = &o.export {
            let cfg = d.read_config()?;
            archive_bytes = Some(archive::export(&d, &cfg, &meta, file, o.compression)?);
        }
        if !o.keep {
            let _ = fs::remove_dir_all(&work);
        }
        Ok(Report {
            id: cfg.id.to_string(),
            name: cfg.name.clone(),
            total_us: us(t0.elapsed()),
            runtime_us,
            archive_bytes,
            granted: vec![],
        })
    }

    /// podman container restore of a container checkpointed in this store.
    pub fn restore(&self, exe: &Path, what: &str, o: &RestoreOptions) -> Result<Report> {
        let t0 = Instant::now();
        let criu = criu::locate(o.criu.as_deref())?;
        let (d, cfg) = self.lookup(what)?;
        let _lock = d.lock()?;
        let st = self.effective_state(&d, &self.host.proc)?;
        if st.status == Some(Status::Running) {
            return Err(RuntimeError::BadState {
                id: cfg.name.clone(),
                state: "running".into(),
                what: "cannot restore a running container (checkpoint or stop it first)".into(),
            }
            .into());
        }
        if !has_checkpoint(&d) {
            return Err(CheckpointError::NotCheckpointed {
                id: cfg.name.clone(),
            });
        }
        let meta = read_meta(&d).unwrap_or_default();
        if meta.tcp_established && !o.tcp_established {
            return Err(CheckpointError::NeedsTcpEstablished {
                id: cfg.name.clone(),
            });
        }
        self.finish_abandoned(&d, &cfg)?;
        let mut cfg = cfg;
        if let Some(p) = &o.ports {
            cfg.ports = p.clone();
        }
        let runtime_us = self.restore_prepared(exe, &d, cfg.clone(), o, &criu)?;
        Ok(Report {
            id: cfg.id.to_string(),
            name: cfg.name.clone(),
            total_us: us(t0.elapsed()),
            runtime_us,
            archive_bytes: None,
            granted: vec![],
        })
    }

    /// Prepares the container again (rootfs, same address, ports) and
    /// starts a restoring monitor. On failure everything it made is
    /// undone and the container reads as before (exited, checkpointed).
    fn restore_prepared(
        &self,
        exe: &Path,
        d: &ContainerDir,
        cfg: ContainerConfig,
        o: &RestoreOptions,
        criu: &criu::Criu,
    ) -> Result<u64> {
        let mut cfg = cfg;
        let mut maps = cfg.ports.clone();
        let held = ports::reserve(&mut maps)?;
        cfg.ports = maps;
        let old_exit = fs::read(d.exit()).ok();
        let old_state = d.read_state()?;
        let work = work_dir(d);
        fs::create_dir_all(&work).map_err(io_err(&work))?;
        let req = Restore {
            criu: CriuOptions {
                image_path: images_dir(d),
                work_path: work.clone(),
                tcp_established: o.tcp_established,
                criu: criu.path.clone(),
                network_lock: criu::network_lock(),
            },
        };
        let _ = fs::remove_file(d.exit());
        let t1 = Instant::now();
        let mac = cfg.mac;
        let r = self.prepare(d, cfg.clone()).and_then(|c| {
            cfg = c.clone();
            if let (true, Some(mac)) = (network_is_external(&c), mac) {
                set_eth0_mac(&c.id, mac)?;
            }
            // The dumped mount tree's binds (podman's, for its archives).
            podman::apply(d, &c)?;
            self.spawn_monitor(exe, &c, held, Init::Restore(&req))
        });
        let runtime_us = us(t1.elapsed());
        match r {
            Ok(_pid) => {
                if !o.keep {
                    let _ = fs::remove_dir_all(images_dir(d));
                    let _ = fs::remove_dir_all(&work);
                    let _ = fs::remove_file(d.dir.join(META_FILE));
                }
                Ok(runtime_us)
            }
            Err(e) => {
                // runc reports "criu failed: type NOTIFY"; the cause is in restore.log.
                let e = match e {
                    RuntimeError::Runtime {
                        runtime,
                        action,
                        id,
                        stderr,
                    } => RuntimeError::Runtime {
                        runtime,
                        action,
                        id,
                        stderr: with_criu_log(stderr, &work.join("restore.log")),
                    },
                    e => e,
                };
                let _ = self.teardown(&cfg);
                if let Some(x) = old_exit {
                    let _ = crate::state::write_atomic(&d.exit(), &x);
                }
                let _ = d.write_state(&State {
                    mounted: false,
                    network_up: false,
                    ..old_state
                });
                if !o.keep {
                    let _ = fs::remove_dir_all(&work);
                }
                Err(e.into())
            }
        }
    }

    /// podman container restore -i: a container from an exported archive
    /// (already unpacked and checked by [`archive::import`]) in this store,
    /// with the image `image` (pulled by the caller if it was missing).
    pub fn restore_import(
        &self,
        exe: &Path,
        imp: &archive::Imported,
        image: &ImageRecord,
        store: &Store,
        o: &RestoreOptions,
    ) -> Result<Report> {
        let t0 = Instant::now();
        let criu = criu::locate(o.criu.as_deref())?;
        if imp.meta.tcp_established && !o.tcp_established {
            return Err(CheckpointError::NeedsTcpEstablished {
                id: imp.config.name.clone(),
            });
        }
        let mut cfg = imp.config.clone();
        // The restored processes need the same files, i.e. the same layers
        // (diff IDs); the image config (and so its ID) may differ, as for
        // the same rootfs imported into two stores.
        let layers: Vec<_> = image
            .layers
            .iter()
            .rev()
            .map(|l| l.diff_id.clone())
            .collect();
        if imp.checked_image_id && cfg.layers != layers {
            return Err(CheckpointError::ImageMismatch {
                image: cfg.image_name.clone(),
                want: cfg.image_id.clone(),
                have: image.id.clone(),
            });
        }
        cfg.image_id = image.id.clone();
        cfg.layers = layers;
        if let Some(n) = &o.name {
            if !crate::engine::valid_name(n) {
                return Err(RuntimeError::BadName(n.clone()).into());
            }
            // podman: a new name means a new ID and no static address.
            cfg.name = n.clone();
            cfg.id = archive::random_id()?;
            cfg.ip = None;
            cfg.mac = None;
        }
        // The archive never chooses the host binary vouch runs as root:
        // the same lookup as `vouch run` without --runtime.
        cfg.runtime = PathBuf::from("runc");
        self.runtime_for(&cfg)?;
        let mut granted = {
            let mut asked = cfg.clone();
            if o.ports.is_some() {
                asked.ports.clear(); // given on the command line
            }
            privileges::beyond_default(&asked, &image_user(store, image)?)
                .map_err(|why| archive::bad(&imp.source, why))?
        };
        if !granted.is_empty() && !o.grant_archive_privileges {
            return Err(CheckpointError::Privileged {
                path: imp.source.clone(),
                what: granted.join(", "),
            });
        }
        // The dumped tasks get their own credentials from CRIU, not the
        // bundle's: they may hold only what the container's processes get.
        let excess = {
            let caps = crate::defaults::capabilities(&cfg.cap_add, &cfg.cap_drop)
                .and_then(|c| creds::Allowed::with_caps(&c))
                .map_err(|why| {
                    archive::bad(
                        &imp.source,
                        format!("config.dump: field `vouch.cap_add`: {why}"),
                    )
                })?;
            creds::check_all(&imp.creds, &caps)
        };
        if let (Some(first), false) = (excess.first(), o.grant_archive_privileges) {
            let more = match excess.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            return Err(CheckpointError::Creds {
                path: imp.source.clone(),
                what: format!("{}{more}", first.refusal()),
            });
        }
        granted.extend(excess.iter().map(creds::Excess::grant));
        if let Some(p) = &o.ports {
            cfg.ports = p.clone();
        }
        let cdir = self.containers_dir();
        fs::create_dir_all(&cdir).map_err(io_err(&cdir))?;
        let d = self.dir(&cfg.id);
        {
            let _names = Flock::take(&cdir.join(".lock"))?;
            if d.dir.exists() {
                return Err(CheckpointError::IdInUse {
                    id: cfg.id.to_string(),
                });
            }
            for other in self.ids()? {
                if let Ok(c) = self.dir(&other).read_config() {
                    if c.name == cfg.name {
                        return Err(RuntimeError::NameInUse {
                            name: cfg.name.clone(),
                            id: other.to_string(),
                        }
                        .into());
                    }
                }
            }
            fs::create_dir_all(&d.dir).map_err(io_err(&d.dir))?;
            let made = (|| -> Result<()> {
                archive::install(imp, &d)?;
                write_json(&d.dir.join(META_FILE), &imp.meta)?;
                write_json(&d.config(), &cfg)?;
                d.write_state(&State {
                    status: Some(Status::Exited),
                    exit_code: Some(0),
                    ..Default::default()
                })?;
                Ok(())
            })();
            if let Err(e) = made {
                let _ = fs::remove_dir_all(&d.dir);
                return Err(e);
            }
        }
        let _lock = d.lock()?;
        match self.restore_prepared(exe, &d, cfg.clone(), o, &criu) {
            Ok(runtime_us) => Ok(Report {
                id: cfg.id.to_string(),
                name: cfg.name.clone(),
                total_us: us(t0.elapsed()),
                runtime_us,
                archive_bytes: None,
                granted,
            }),
            Err(e) => {
                // The saved config has the address prepare leased (a new
                // one under -n), which the archive's config does not.
                let cfg = d.read_config().unwrap_or(cfg);
                let _ = self.teardown(&cfg);
                let _ = fs::remove_dir_all(&d.dir);
                self.release_address(&cfg);
                Err(e)
            }
        }
    }
}

/// The user `image`'s config runs as (`vouch run`'s default user).
fn image_user(store: &Store, image: &ImageRecord) -> Result<String> {
    let name = image
        .names
        .first()
        .cloned()
        .unwrap_or_else(|| image.id.to_string());
    let bytes = store
        .read_blob(&image.config.digest)
        .map_err(|source| RuntimeError::Image {
            image: name.clone(),
            source,
        })?;
    let ic: vouch_image::manifest::ImageConfig =
        serde_json::from_slice(&bytes).map_err(|source| RuntimeError::ImageConfig {
            image: name,
            source,
        })?;
    Ok(ic.config.and_then(|c| c.user).unwrap_or_default())
}

/// Whether `cfg`'s network can be kept outside the dump (bridge: a named
/// netns path) — `none` makes runc create the netns, which CRIU then dumps
/// and restores itself; `host` shares the host's.
pub fn network_is_external(cfg: &ContainerConfig) -> bool {
    cfg.network == NetworkMode::Bridge
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    use super::*;
    use crate::engine::tests::{engine_in, fake_proc, running, stored};
    use crate::oci::fake::{Call, FakeRuntime};

    /// A CRIU that only answers `--version`.
    fn fake_criu(dir: &Path) -> PathBuf {
        let p = dir.join("criu");
        fs::write(&p, "#!/bin/sh\necho 'Version: 4.2.1'\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn options(t: &Path) -> CheckpointOptions {
        CheckpointOptions {
            leave_running: true,
            criu: Some(fake_criu(t)),
            ..Default::default()
        }
    }

    #[test]
    fn a_failed_checkpoint_leaves_the_container_running_and_no_images() {
        let t = tempfile::tempdir().unwrap();
        let rt = Arc::new(FakeRuntime::failing_at(1));
        let e = engine_in(t.path(), Arc::default(), rt.clone());
        let id = "ab".repeat(32);
        let (d, cfg) = stored(&e, &id, running());
        fake_proc(&e.host.proc, 77, 500);
        let o = CheckpointOptions {
            leave_running: false,
            ..options(t.path())
        };
        // A v1 freezer that freezes at once: frozen for the dump, thawed
        // again because the dump failed.
        let freezer = e.host.cgroup.join(format!("freezer/vouch-{id}"));
        fs::create_dir_all(&freezer).unwrap();
        let err = e.checkpoint(&id, &o).unwrap_err().to_string();
        assert!(err.contains("injected failure"), "{err}");
        assert_eq!(
            fs::read_to_string(freezer.join("freezer.state")).unwrap(),
            "THAWED"
        );
        assert!(
            matches!(&rt.calls()[..], [Call::Checkpoint { checkpoint, .. }] if !checkpoint.leave_running)
        );
        assert!(!images_dir(&d).exists() && !work_dir(&d).exists());
        assert!(read_meta(&d).is_none() && !has_checkpoint(&d));
        let st = e.effective_state(&d, &e.host.proc).unwrap();
        assert_eq!(st.status, Some(Status::Running));
        assert_eq!(d.read_config().unwrap().id, cfg.id);
    }

    #[test]
    fn checkpoint_asks_the_runtime_for_images_in_the_container_dir() {
        let t = tempfile::tempdir().unwrap();
        let rt = Arc::new(FakeRuntime::default());
        let e = engine_in(t.path(), Arc::default(), rt.clone());
        let id = "ab".repeat(32);
        let (d, _) = stored(&e, &id, running());
        fake_proc(&e.host.proc, 77, 500);
        let o = CheckpointOptions {
            tcp_established: true,
            ..options(t.path())
        };
        e.checkpoint("abab", &o).unwrap();
        let calls = rt.calls();
        let [Call::Checkpoint {
            id: got,
            checkpoint,
        }] = &calls[..]
        else {
            panic!("{calls:?}")
        };
        assert_eq!(got, &id);
        assert!(checkpoint.leave_running && checkpoint.criu.tcp_established);
        assert_eq!(checkpoint.criu.image_path, images_dir(&d));
        assert_eq!(checkpoint.criu.work_path, work_dir(&d));
        assert_eq!(checkpoint.criu.criu, t.path().join("criu"));
        assert!(read_meta(&d).unwrap().tcp_established);
        assert_eq!(
            e.effective_state(&d, &e.host.proc).unwrap().status,
            Some(Status::Running)
        );
    }

    #[test]
    fn only_running_containers_are_checkpointed() {
        let t = tempfile::tempdir().unwrap();
        let rt = Arc::new(FakeRuntime::default());
        let e = engine_in(t.path(), Arc::default(), rt.clone());
        let id = "ab".repeat(32);
        stored(&e, &id, running());
        // No monitor in /proc: the container reads as exited.
        let err = e.checkpoint(&id, &options(t.path())).unwrap_err();
        assert!(
            err.to_string()
                .contains("can only checkpoint running containers"),
            "{err}"
        );
        assert_eq!(rt.calls(), vec![]);
    }

    #[test]
    fn a_restore_whose_monitor_cannot_start_puts_everything_back() {
        let t = tempfile::tempdir().unwrap();
        let sys = Arc::new(crate::sys::FakeSys::default());
        let rt = Arc::new(FakeRuntime::default());
        let e = engine_in(t.path(), sys.clone(), rt.clone());
        let id = "ab".repeat(32);
        let exited = State {
            status: Some(Status::Exited),
            exit_code: Some(0),
            ..Default::default()
        };
        let (d, _) = stored(&e, &id, exited);
        let x = crate::state::ExitFile {
            code: 0,
            finished_at: now_rfc3339(),
        };
        write_json(&d.exit(), &x).unwrap();
        let before = fs::read(d.exit()).unwrap();
        fs::create_dir_all(images_dir(&d)).unwrap();
        fs::write(images_dir(&d).join("inventory.img"), b"x").unwrap();
        let o = RestoreOptions {
            criu: Some(fake_criu(t.path())),
            ..Default::default()
        };
        let err = e
            .restore(&t.path().join("vouch"), &id, &o)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("{}/vouch-monitor", t.path().display())),
            "{err}"
        );
        // Mounted, then unmounted; the runtime's state deleted.
        let calls = sys.calls();
        assert!(
            matches!(
                &calls[..],
                [
                    crate::sys::Call::MountOverlay { .. },
                    crate::sys::Call::Umount { .. }
                ]
            ),
            "{calls:?}"
        );
        let calls = rt.calls();
        assert!(
            matches!(&calls[..], [Call::Restore { restore, .. }, Call::Delete { force: true, .. }]
                if restore.criu.image_path == images_dir(&d)),
            "{calls:?}"
        );
        // The container is as it was: exited, with its checkpoint to retry.
        assert_eq!(fs::read(d.exit()).unwrap(), before);
        let st = d.read_state().unwrap();
        assert_eq!(st.status, Some(Status::Exited));
        assert!(!st.mounted && !st.network_up, "{st:?}");
        assert!(has_checkpoint(&d));
        assert!(!work_dir(&d).exists());
    }
}

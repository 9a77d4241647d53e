//! The exported checkpoint archive, in podman's layout
//! (libpod/container_internal_common.go exportCheckpoint; runtime-notes
//! §3.5; keep in sync with docs/checkpoint.md):
//!
//! ```text
//! checkpoint/        CRIU images + runc's descriptors.json
//! config.dump        {"vouchCheckpointVersion":1, "id", "name", "rootfsImageID",
//!                     "rootfsImageName", "createdTime", "vouch": <container config>,
//!                     "checkpoint": <checkpoint.json>, "binds": [...]} plus the
//!                     fields podman's restore -i reads (see [`config_dump`])
//! spec.dump          the OCI config.json at checkpoint time, without the binds
//!                     of this host's files ([`super::podman::for_export`])
//! network.status     {"bridge","ip","mac","ports"} or null
//! rootfs-diff.tar    files added or changed in the rootfs (overlay upper), if any
//! deleted.files      JSON list of deleted paths (overlay whiteouts), if any
//! ctr.log            the k8s-file log
//! stats-dump         CRIU's dump statistics, if kept
//! ```
//!
//! podman's archives add `devshm-checkpoint.tar`, which is restored into
//! the container's `/dev/shm` bind ([`super::podman`]).
//!
//! zstd by default, gzip or none on request; on import the compression is
//! sniffed from the first bytes (podman 4.3.1 writes zstd into files named
//! `.tar.gz`). Every entry is hostile: [`super::read::read_archive`] checks
//! the layout and sizes and parses the dump files into typed documents, the
//! rootfs diff and deletions are applied with the image crate's unpacker
//! (fd-relative, `O_NOFOLLOW`), [`super::privileges`] decides what the
//! saved config may grant, and [`super::creds`] what the dumped tasks'
//! credentials may hold.

use std::fs;
use std::io::{self, Seek, Write};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;
use vouch_image::chain::one_line;

use serde_json::{json, Value};

use super::diff::rootfs_diff;
use super::podman::{self, Bind};
use super::read::{read_archive, DirSink, Limits, DEVSHM_TAR};
use super::{io_err, CheckpointError, CheckpointMeta, Result, IMAGES_DIR};
use crate::state::{ContainerConfig, ContainerDir, NetworkMode};
use vouch_image::unpack::{self, UnpackOptions};

/// config.dump's `vouchCheckpointVersion`.
pub const FORMAT_VERSION: u64 = 1;

/// `-c/--compress`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    #[default]
    Zstd,
    Gzip,
    None,
}

impl FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "zstd" => Ok(Self::Zstd),
            "gzip" => Ok(Self::Gzip),
            "none" => Ok(Self::None),
            o => Err(format!("unknown compression {o:?}: zstd, gzip or none")),
        }
    }
}

/// The compression of a stream, from its first bytes.
pub fn sniff(head: &[u8]) -> Option<Compression> {
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compression::Zstd)
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Some(Compression::Gzip)
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Some(Compression::None)
    } else {
        None
    }
}

pub fn random_id() -> Result<crate::id::ContainerId> {
    crate::id::ContainerId::random().map_err(io_err("/dev/urandom"))
}

enum Sink {
    Zstd(zstd::Encoder<'static, fs::File>),
    Gzip(flate2::write::GzEncoder<fs::File>),
    Plain(fs::File),
}

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Zstd(w) => w.write(b),
            Sink::Gzip(w) => w.write(b),
            Sink::Plain(w) => w.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Zstd(w) => w.flush(),
            Sink::Gzip(w) => w.flush(),
            Sink::Plain(w) => w.flush(),
        }
    }
}

impl Sink {
    fn finish(self) -> io::Result<fs::File> {
        match self {
            Sink::Zstd(w) => w.finish(),
            Sink::Gzip(w) => w.finish(),
            Sink::Plain(w) => Ok(w),
        }
    }
}

fn add_bytes<W: Write>(b: &mut tar::Builder<W>, name: &str, data: &[u8]) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o600);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    b.append_data(&mut h, name, data)
}

/// Most checkpoints are small (a web server's is ~130 KB before
/// compression), where zstd's high levels cost a few ms and save ~10 %;
/// big ones get the fast default level.
fn zstd_level(images: &Path) -> i32 {
    let total: u64 = fs::read_dir(images)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(u64::MAX);
    if total < 4 << 20 {
        19
    } else {
        3
    }
}

/// The config.dump document: vouch's config under `vouch`, and the fields
/// podman 4.x's `restore -i` reads into its ContainerConfig (libpod
/// container_config.go; unknown keys are ignored by both sides).
pub fn config_dump(cfg: &ContainerConfig, meta: &CheckpointMeta, binds: &[Bind]) -> Value {
    let bridge = cfg.network == NetworkMode::Bridge;
    let ports: Vec<Value> = cfg
        .ports
        .iter()
        .map(|p| {
            json!({
                "host_ip": p.host_ip.map(|i| i.to_string()).unwrap_or_default(),
                "container_port": p.container_port,
                "host_port": p.host_port,
                "range": 1,
                "protocol": p.protocol,
            })
        })
        .collect();
    let mut v = json!({
        "vouchCheckpointVersion": FORMAT_VERSION,
        "id": cfg.id,
        "name": cfg.name,
        "rootfsImageID": cfg.image_id,
        "rootfsImageName": cfg.image_name,
        "RawImageName": cfg.image_name,
        "createdTime": cfg.created,
        "runtime": cfg.runtime,
        "command": cfg.command,
        "stopSignal": cfg.stop_signal,
        "stopTimeout": 10,
        // podman's defaults for a container of its own (containers.conf).
        "shmSize": 65536000,
        "logDriver": "k8s-file",
        "createNetNS": cfg.network != NetworkMode::Host,
        "networkMode": match cfg.network {
            NetworkMode::Bridge => "bridge",
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
        },
        "newPortMappings": ports,
        "vouch": cfg,
        "checkpoint": meta,
        "binds": binds,
    });
    if bridge {
        // podman's default network; podman leases its own address there.
        v["newNetworks"] = json!({"podman": {"interface_name": "eth0"}});
    }
    v
}

/// Writes the archive of `d`'s checkpoint to `out` through the image
/// crate's output-file rules (a random `O_EXCL` temp file + rename for a
/// regular or new path, written through for a device or FIFO, a symlink
/// resolved first); returns its size.
pub fn export(
    d: &ContainerDir,
    cfg: &ContainerConfig,
    meta: &CheckpointMeta,
    out: &Path,
    c: Compression,
) -> Result<u64> {
    let outfile = vouch_image::outfile::OutFile::create(out).map_err(out_err)?;
    // Errors below name the path the user gave; the temp file is removed
    // with `outfile` if anything fails.
    let tmp = out.to_path_buf();
    let r = (|| -> Result<u64> {
        let f = outfile.file().try_clone().map_err(io_err(&tmp))?;
        let sink = match c {
            Compression::Zstd => Sink::Zstd(
                zstd::Encoder::new(f, zstd_level(&d.dir.join(IMAGES_DIR))).map_err(io_err(&tmp))?,
            ),
            Compression::Gzip => Sink::Gzip(flate2::write::GzEncoder::new(
                f,
                flate2::Compression::fast(),
            )),
            Compression::None => Sink::Plain(f),
        };
        let mut b = tar::Builder::new(sink);
        b.follow_symlinks(false);
        let e = io_err(&tmp);
        let images = d.dir.join(IMAGES_DIR);
        b.append_dir_all("checkpoint", &images)
            .map_err(io_err(&images))?;
        let spec = d.bundle().join("config.json");
        let spec_bytes = fs::read(&spec).map_err(io_err(&spec))?;
        let (spec_bytes, binds) = podman::for_export(&spec_bytes);
        add_bytes(
            &mut b,
            "config.dump",
            &serde_json::to_vec_pretty(&config_dump(cfg, meta, &binds)).unwrap_or_default(),
        )
        .map_err(io_err(&tmp))?;
        add_bytes(&mut b, "spec.dump", &spec_bytes).map_err(io_err(&tmp))?;
        let net = if cfg.network == NetworkMode::Bridge {
            json!({"bridge": cfg.bridge, "ip": cfg.ip, "mac": cfg.mac, "ports": cfg.ports})
        } else {
            Value::Null
        };
        add_bytes(&mut b, "network.status", net.to_string().as_bytes()).map_err(io_err(&tmp))?;
        if let Ok(log) = fs::read(d.log()) {
            add_bytes(&mut b, "ctr.log", &log).map_err(io_err(&tmp))?;
        }
        let stats = d.dir.join(super::WORK_DIR).join("stats-dump");
        if let Ok(s) = fs::read(&stats) {
            add_bytes(&mut b, "stats-dump", &s).map_err(io_err(&tmp))?;
        }
        let (diff, deleted) = rootfs_diff(&d.upper())?;
        if let Some(diff) = diff {
            add_bytes(&mut b, "rootfs-diff.tar", &diff).map_err(io_err(&tmp))?;
        }
        if !deleted.is_empty() {
            add_bytes(
                &mut b,
                "deleted.files",
                &serde_json::to_vec(&deleted).unwrap_or_default(),
            )
            .map_err(io_err(&tmp))?;
        }
        let sink = b.into_inner().map_err(io_err(&tmp))?;
        let mut f = sink.finish().map_err(e)?;
        f.flush().map_err(io_err(&tmp))?;
        // The written length: a device or FIFO written through has no size.
        let len = f.stream_position().map_err(io_err(&tmp))?;
        Ok(len)
    })();
    let len = r?;
    outfile.commit().map_err(out_err)?;
    Ok(len)
}

/// An output-file error as the checkpoint error that names the path.
fn out_err(e: vouch_image::outfile::OutputError) -> CheckpointError {
    CheckpointError::Io {
        path: e.path,
        source: e.source,
    }
}

/// An unpacked, checked archive in a staging directory.
#[derive(Debug)]
pub struct Imported {
    pub dir: PathBuf,
    pub source: PathBuf,
    pub config: ContainerConfig,
    pub meta: CheckpointMeta,
    /// False for podman archives, whose image IDs differ from vouch's.
    pub checked_image_id: bool,
    pub from_podman: bool,
    /// The bind mounts the restored container needs ([`super::podman`]).
    pub binds: Vec<super::podman::Bind>,
    /// The root directory's mode in the dump.
    pub root_mode: Option<u32>,
    /// deleted.files.
    pub deleted: Vec<String>,
    /// The dumped tasks' credentials ([`super::creds`]).
    pub creds: Vec<super::creds::TaskCreds>,
}

pub(crate) fn bad(path: &Path, why: impl Into<String>) -> CheckpointError {
    CheckpointError::Archive {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// A relative path of normal components only (a leading `./` allowed).
pub fn clean_rel(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Opens `file` and reads it with [`read_archive`] into `into` (a fresh,
/// empty staging directory).
pub fn import(file: &Path, into: &Path) -> Result<Imported> {
    let f = fs::File::open(file).map_err(io_err(file))?;
    let mut sink = DirSink::new(into)?;
    let c = read_archive(file, f, &Limits::from_env(), &mut sink)?;
    Ok(Imported {
        dir: into.to_path_buf(),
        source: file.to_path_buf(),
        config: c.config,
        meta: c.meta,
        checked_image_id: c.checked_image_id,
        from_podman: c.from_podman,
        binds: c.binds,
        root_mode: c.root_mode,
        deleted: c.deleted,
        creds: c.creds,
    })
}

/// How the rootfs diff is applied: the archive's own caps, and ownership
/// kept as the container had it.
fn diff_options() -> UnpackOptions {
    let l = Limits::from_env();
    UnpackOptions {
        max_entries: l.max_entries as u64,
        max_total_bytes: l.max_total,
        ..UnpackOptions::default()
    }
}

/// Moves the unpacked checkpoint into the new container directory `d`:
/// images, log, and the rootfs diff and deletions applied to the overlay
/// upper dir through the image crate's hardened unpacker.
pub fn install(imp: &Imported, d: &ContainerDir) -> Result<()> {
    let src = imp.dir.join(IMAGES_DIR);
    let dst = d.dir.join(IMAGES_DIR);
    fs::rename(&src, &dst).map_err(io_err(&dst))?;
    if imp.dir.join("ctr.log").is_file() {
        fs::rename(imp.dir.join("ctr.log"), d.log()).map_err(io_err(d.log()))?;
    }
    let upper = d.upper();
    fs::create_dir_all(&upper).map_err(io_err(&upper))?;
    if let Some(mode) = imp.root_mode.filter(|m| m & libc::S_IFMT == libc::S_IFDIR) {
        // The overlay's root takes the upper directory's mode, and CRIU
        // checks the root's mode against the dump: podman's storage makes
        // an image's root 0555 where vouch's is 0755. No setuid bit.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&upper, fs::Permissions::from_mode(mode & 0o3777))
            .map_err(io_err(&upper))?;
    }
    let opts = diff_options();
    let diff = imp.dir.join("rootfs-diff.tar");
    if diff.is_file() {
        let f = fs::File::open(&diff).map_err(io_err(&diff))?;
        unpack::apply_onto(f, &upper, &opts)
            .map_err(|e| bad(&imp.source, format!("rootfs-diff.tar: {}", one_line(&e))))?;
    }
    if !imp.deleted.is_empty() {
        unpack::whiteout_onto(&imp.deleted, &upper, &opts)
            .map_err(|e| bad(&imp.source, format!("deleted.files: {}", one_line(&e))))?;
    }
    podman::record(d, &imp.binds)?;
    let shm_tar = imp.dir.join(DEVSHM_TAR);
    if let (Some(shm), true) = (podman::shm_dir(d, &imp.binds), shm_tar.is_file()) {
        // podman's restore untars it into its ShmDir; here through the same
        // hardened unpacker as the rootfs diff.
        fs::create_dir_all(&shm).map_err(io_err(&shm))?;
        let f = fs::File::open(&shm_tar).map_err(io_err(&shm_tar))?;
        unpack::apply_onto(f, &shm, &opts)
            .map_err(|e| bad(&imp.source, format!("{DEVSHM_TAR}: {}", one_line(&e))))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_magic_not_name() {
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Some(Compression::Zstd));
        assert_eq!(sniff(&[0x1f, 0x8b, 8]), Some(Compression::Gzip));
        let mut t = vec![0u8; 512];
        t[257..262].copy_from_slice(b"ustar");
        assert_eq!(sniff(&t), Some(Compression::None));
        assert_eq!(sniff(b"hello"), None);
    }

    #[test]
    fn paths_must_stay_relative() {
        assert_eq!(
            clean_rel(Path::new("./checkpoint/x")),
            Some(PathBuf::from("checkpoint/x"))
        );
        assert_eq!(clean_rel(Path::new("/etc/passwd")), None);
        assert_eq!(clean_rel(Path::new("a/../../b")), None);
        assert_eq!(clean_rel(Path::new(".")), None);
    }
}

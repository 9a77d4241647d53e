//! The exported checkpoint archive, in podman's layout
//! (libpod/container_internal_common.go exportCheckpoint; runtime-notes
//! §3.5; keep in sync with docs/checkpoint.md):
//!
//! ```text
//! checkpoint/        CRIU images + runc's descriptors.json
//! config.dump        {"vouchCheckpointVersion":1, "id", "name", "rootfsImageID",
//!                     "rootfsImageName", "createdTime", "vouch": <container config>,
//!                     "checkpoint": <checkpoint.json>}
//! spec.dump          the OCI config.json at checkpoint time
//! network.status     {"bridge","ip","mac","ports"} or null
//! rootfs-diff.tar    files added or changed in the rootfs (overlay upper), if any
//! deleted.files      JSON list of deleted paths (overlay whiteouts), if any
//! ctr.log            the k8s-file log
//! stats-dump         CRIU's dump statistics, if kept
//! ```
//!
//! zstd by default, gzip or none on request; on import the compression is
//! sniffed from the first bytes (podman 4.3.1 writes zstd into files named
//! `.tar.gz`). Every entry is hostile: only regular files and directories
//! under the names above, no `..` or absolute paths, no links, sizes and
//! entry counts capped, files created exclusively in a fresh staging
//! directory. The inner rootfs-diff.tar is applied to the new container's
//! overlay upper directory component by component without following any
//! symlink, so its symlinks may point anywhere inside the container but are
//! never followed while extracting.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde_json::{json, Value};

use super::diff::{apply_diff, rootfs_diff, safe_parent};
use super::{io_err, CheckpointError, CheckpointMeta, Result, IMAGES_DIR};
use crate::net::{PortMapping, Proto};
use crate::state::{ContainerConfig, ContainerDir, NetworkMode};

/// config.dump's `vouchCheckpointVersion`.
pub const FORMAT_VERSION: u64 = 1;

/// Import limits (VOUCH_CHECKPOINT_MAX_BYTES overrides the total).
pub const MAX_TOTAL: u64 = 4 << 30;
pub const MAX_JSON: u64 = 16 << 20;
pub const MAX_ENTRIES: usize = 100_000;

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

pub fn random_id() -> Result<String> {
    let mut b = [0u8; 32];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(io_err("/dev/urandom"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
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

/// The config.dump document.
pub fn config_dump(cfg: &ContainerConfig, meta: &CheckpointMeta) -> Value {
    json!({
        "vouchCheckpointVersion": FORMAT_VERSION,
        "id": cfg.id,
        "name": cfg.name,
        "rootfsImageID": cfg.image_id,
        "rootfsImageName": cfg.image_name,
        "createdTime": cfg.created,
        "runtime": cfg.runtime,
        "vouch": cfg,
        "checkpoint": meta,
    })
}

/// Writes the archive of `d`'s checkpoint to `out` (temp file + rename);
/// returns its size.
pub fn export(
    d: &ContainerDir,
    cfg: &ContainerConfig,
    meta: &CheckpointMeta,
    out: &Path,
    c: Compression,
) -> Result<u64> {
    let tmp = out.with_file_name(format!(
        ".{}.tmp{}",
        out.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let r = (|| -> Result<u64> {
        let f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
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
        add_bytes(
            &mut b,
            "config.dump",
            &serde_json::to_vec_pretty(&config_dump(cfg, meta)).unwrap_or_default(),
        )
        .map_err(io_err(&tmp))?;
        let spec = d.bundle().join("config.json");
        let spec_bytes = fs::read(&spec).map_err(io_err(&spec))?;
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
        let f = sink.finish().map_err(e)?;
        let len = f.metadata().map_err(io_err(&tmp))?.len();
        drop(f);
        fs::rename(&tmp, out).map_err(io_err(out))?;
        Ok(len)
    })();
    if r.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    r
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
}

pub(crate) fn bad(path: &Path, why: impl Into<String>) -> CheckpointError {
    CheckpointError::Archive {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// Top-level names taken from an archive; anything else is skipped.
const TOP_FILES: &[&str] = &[
    "config.dump",
    "spec.dump",
    "network.status",
    "rootfs-diff.tar",
    "deleted.files",
    "ctr.log",
    "stats-dump",
];

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

struct Counted<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(b)?;
        if n as u64 > self.left {
            return Err(io::Error::other("archive exceeds the size limit"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Opens `file`, sniffs its compression and unpacks the entries vouch uses
/// into `into` (a fresh, empty directory), checking each one.
pub fn import(file: &Path, into: &Path) -> Result<Imported> {
    let max_total = std::env::var("VOUCH_CHECKPOINT_MAX_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(MAX_TOTAL);
    let mut f = fs::File::open(file).map_err(io_err(file))?;
    let mut head = vec![0u8; 512];
    let mut got = 0;
    while got < head.len() {
        let n = f.read(&mut head[got..]).map_err(io_err(file))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    head.truncate(got);
    let comp = sniff(&head).ok_or_else(|| {
        bad(
            file,
            "not a checkpoint archive (neither zstd, gzip nor tar)",
        )
    })?;
    let stream = io::Cursor::new(head).chain(f);
    let reader: Box<dyn Read> = match comp {
        Compression::Zstd => Box::new(zstd::Decoder::new(stream).map_err(io_err(file))?),
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(stream)),
        Compression::None => Box::new(stream),
    };
    let mut ar = tar::Archive::new(Counted {
        inner: reader,
        left: max_total,
    });
    let corrupt = |e: io::Error| bad(file, format!("corrupted or truncated: {e}"));
    let mut count = 0usize;
    fs::create_dir(into.join(IMAGES_DIR)).map_err(io_err(into))?;
    for entry in ar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        count += 1;
        if count > MAX_ENTRIES {
            return Err(bad(file, format!("more than {MAX_ENTRIES} entries")));
        }
        let raw = entry.path().map_err(corrupt)?.into_owned();
        let rel = clean_rel(&raw).ok_or_else(|| {
            bad(
                file,
                format!("entry {:?}: absolute or `..` paths are not allowed", raw),
            )
        })?;
        let et = entry.header().entry_type();
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let top = parts[0].as_str();
        if !matches!(
            et,
            tar::EntryType::Regular | tar::EntryType::Directory | tar::EntryType::Continuous
        ) {
            if top == IMAGES_DIR || TOP_FILES.contains(&top) {
                return Err(bad(
                    file,
                    format!(
                        "entry {:?} is a {:?}; only regular files and directories are allowed",
                        raw, et
                    ),
                ));
            }
            continue;
        }
        let size = entry.header().size().map_err(corrupt)?;
        let wanted = match (top, parts.len(), et) {
            (IMAGES_DIR, 1, tar::EntryType::Directory) => continue,
            (IMAGES_DIR, 2, tar::EntryType::Regular | tar::EntryType::Continuous) => true,
            (IMAGES_DIR, _, _) => {
                return Err(bad(
                    file,
                    format!("entry {:?}: unexpected layout under checkpoint/", raw),
                ))
            }
            (t, 1, tar::EntryType::Regular | tar::EntryType::Continuous)
                if TOP_FILES.contains(&t) =>
            {
                true
            }
            _ => false,
        };
        if !wanted {
            continue;
        }
        if [
            "config.dump",
            "spec.dump",
            "network.status",
            "deleted.files",
        ]
        .contains(&top)
            && size > MAX_JSON
        {
            return Err(bad(
                file,
                format!("{top} is {size} bytes (limit {MAX_JSON})"),
            ));
        }
        let dest = into.join(&rel);
        let mut out = fs::File::options()
            .write(true)
            .create_new(true)
            .open(&dest)
            .map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    bad(file, format!("entry {:?} appears twice", raw))
                } else {
                    io_err(&dest)(e)
                }
            })?;
        let n = io::copy(&mut (&mut entry).take(size), &mut out).map_err(corrupt)?;
        if n != size {
            return Err(bad(
                file,
                format!("corrupted or truncated: entry {:?} is short", raw),
            ));
        }
    }
    for need in ["config.dump", "spec.dump", "checkpoint/inventory.img"] {
        if !into.join(need).is_file() {
            return Err(bad(
                file,
                format!("corrupted or truncated: {need} is missing"),
            ));
        }
    }
    let read_json = |name: &str| -> Result<Value> {
        let p = into.join(name);
        let b = fs::read(&p).map_err(io_err(&p))?;
        serde_json::from_slice(&b).map_err(|e| bad(file, format!("{name}: invalid JSON: {e}")))
    };
    let dump = read_json("config.dump")?;
    let spec = read_json("spec.dump")?;
    let net = if into.join("network.status").is_file() {
        read_json("network.status")?
    } else {
        Value::Null
    };
    let (config, meta, checked_image_id, from_podman) = match dump.get("vouchCheckpointVersion") {
        Some(v) if v.as_u64() == Some(FORMAT_VERSION) => {
            let config: ContainerConfig = serde_json::from_value(dump["vouch"].clone())
                .map_err(|e| bad(file, format!("config.dump: {e}")))?;
            let meta: CheckpointMeta =
                serde_json::from_value(dump["checkpoint"].clone()).unwrap_or_default();
            if !crate::engine::valid_name(&config.name)
                || config.id.len() != 64
                || !config.id.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(bad(file, "config.dump: invalid container ID or name"));
            }
            (config, meta, true, false)
        }
        Some(v) => {
            return Err(CheckpointError::Incompatible {
                path: file.to_path_buf(),
                found: v.to_string(),
            })
        }
        None if dump.get("rootfsImageName").is_some() && dump.get("spec").is_some() => (
            from_podman_config(file, &dump, &spec, &net)?,
            CheckpointMeta::default(),
            false,
            true,
        ),
        None => return Err(bad(file, "config.dump is neither vouch's nor podman's")),
    };
    Ok(Imported {
        dir: into.to_path_buf(),
        source: file.to_path_buf(),
        config,
        meta,
        checked_image_id,
        from_podman,
    })
}

/// A vouch container config from podman's config.dump + spec.dump
/// (podman 4.x field names, libpod/container_config.go). The address is
/// dropped: podman's subnet is not vouch's (`--ignore-static-ip`).
fn from_podman_config(
    file: &Path,
    dump: &Value,
    spec: &Value,
    net: &Value,
) -> Result<ContainerConfig> {
    let s = |v: &Value| v.as_str().map(str::to_string);
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let id = s(&dump["id"])
        .filter(|i| i.len() == 64 && i.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| bad(file, "config.dump: no valid id"))?;
    let name = s(&dump["name"])
        .filter(|n| crate::engine::valid_name(n))
        .ok_or_else(|| bad(file, "config.dump: no valid name"))?;
    let p = &spec["process"];
    let mut ports = Vec::new();
    for m in dump["newPortMappings"].as_array().into_iter().flatten() {
        let host_ip = m["host_ip"]
            .as_str()
            .filter(|s| !s.is_empty())
            .and_then(|s| s.parse().ok());
        let (Some(hp), Some(cp)) = (m["host_port"].as_u64(), m["container_port"].as_u64()) else {
            continue;
        };
        let protocol = if m["protocol"] == "udp" {
            Proto::Udp
        } else {
            Proto::Tcp
        };
        ports.push(PortMapping {
            host_ip,
            host_port: hp as u16,
            container_port: cp as u16,
            protocol,
        });
    }
    let network = if net.is_null() {
        NetworkMode::None
    } else {
        NetworkMode::Bridge
    };
    Ok(ContainerConfig {
        id,
        name,
        image_name: s(&dump["rootfsImageName"]).unwrap_or_default(),
        image_id: s(&dump["rootfsImageID"]).unwrap_or_default(),
        created: s(&dump["createdTime"]).unwrap_or_default(),
        command: strs(&p["args"]),
        env: strs(&p["env"]),
        working_dir: s(&p["cwd"]).unwrap_or_else(|| "/".into()),
        user: format!(
            "{}:{}",
            p["user"]["uid"].as_u64().unwrap_or(0),
            p["user"]["gid"].as_u64().unwrap_or(0)
        ),
        hostname: s(&spec["hostname"]).unwrap_or_default(),
        tty: p["terminal"].as_bool().unwrap_or(false),
        interactive: false,
        auto_remove: false,
        network,
        ports,
        ip: None,
        mac: None,
        bridge: None,
        runtime: PathBuf::from("runc"),
        read_only: spec["root"]["readonly"].as_bool().unwrap_or(false),
        stop_signal: dump["stopSignal"]
            .as_i64()
            .map(|x| x as i32)
            .unwrap_or(libc::SIGTERM),
        lower_dirs: vec![],
        cap_add: vec![],
        cap_drop: vec![],
        memory: None,
        pids_limit: None,
    })
}

/// Moves the unpacked checkpoint into the new container directory `d`:
/// images, log, and the rootfs diff applied to the overlay upper dir.
pub fn install(imp: &Imported, d: &ContainerDir) -> Result<()> {
    let src = imp.dir.join(IMAGES_DIR);
    let dst = d.dir.join(IMAGES_DIR);
    fs::rename(&src, &dst).map_err(io_err(&dst))?;
    if imp.dir.join("ctr.log").is_file() {
        fs::rename(imp.dir.join("ctr.log"), d.log()).map_err(io_err(d.log()))?;
    }
    let upper = d.upper();
    fs::create_dir_all(&upper).map_err(io_err(&upper))?;
    let diff = imp.dir.join("rootfs-diff.tar");
    if diff.is_file() {
        let f = fs::File::open(&diff).map_err(io_err(&diff))?;
        apply_diff(&imp.source, f, &upper)?;
    }
    let del = imp.dir.join("deleted.files");
    if del.is_file() {
        let b = fs::read(&del).map_err(io_err(&del))?;
        let list: Vec<String> = serde_json::from_slice(&b)
            .map_err(|e| bad(&imp.source, format!("deleted.files: {e}")))?;
        for p in list {
            let rel = clean_rel(Path::new(p.trim_start_matches('/')))
                .ok_or_else(|| bad(&imp.source, format!("deleted.files: bad path {p:?}")))?;
            let target = safe_parent(&imp.source, &upper, &rel)?;
            if let Ok(m) = fs::symlink_metadata(&target) {
                if m.is_dir() {
                    fs::remove_dir_all(&target).map_err(io_err(&target))?;
                } else {
                    fs::remove_file(&target).map_err(io_err(&target))?;
                }
            }
            nix::sys::stat::mknod(
                &target,
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::empty(),
                0,
            )
            .map_err(|e| io_err(&target)(io::Error::from(e)))?;
        }
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

    #[test]
    fn diff_never_follows_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let upper = t.path().join("upper");
        fs::create_dir(&upper).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        b.append_link(&mut h, "esc", t.path()).unwrap();
        add_bytes(&mut b, "esc/pwned", b"x").unwrap();
        let bytes = b.into_inner().unwrap();
        let e = apply_diff(Path::new("a.tar"), &bytes[..], &upper).unwrap_err();
        assert!(e.to_string().contains("non-directory"), "{e}");
        assert!(!t.path().join("pwned").exists());
    }
}

//! Reading an exported checkpoint archive: every byte of it is hostile.
//! [`read_archive`] checks the layout and parses the dump files into typed
//! documents without touching the host; the bulk entries (CRIU images, the
//! rootfs diff, the log) go to an [`EntrySink`], a fresh staging directory
//! for `restore -i` and nowhere for the fuzzer.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use vouch_image::chain::one_line;

use serde_json::Value;

use super::archive::{clean_rel, sniff, Compression};
use super::creds::{self, TaskCreds};
use super::criu_image;
use super::dump::{self, DumpKind, PodmanDump, SpecDump, VouchDump};
use super::podman::{self, Bind};
use super::{CheckpointError, CheckpointMeta, Result, IMAGES_DIR};
use crate::state::ContainerConfig;

/// Caps on what an archive may make vouch read or write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The whole decompressed stream (VOUCH_CHECKPOINT_MAX_BYTES).
    pub max_total: u64,
    /// Each of config.dump, spec.dump and network.status: real ones are a
    /// few KB, and a JSON value costs memory many times its text.
    pub max_dump: u64,
    /// deleted.files, which lists every path the container removed.
    pub max_deleted: u64,
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_total: 4 << 30,
            max_dump: 1 << 20,
            max_deleted: 16 << 20,
            max_entries: 100_000,
        }
    }
}

impl Limits {
    /// The defaults, with VOUCH_CHECKPOINT_MAX_BYTES for the total.
    pub fn from_env() -> Self {
        let mut l = Self::default();
        if let Some(n) = std::env::var("VOUCH_CHECKPOINT_MAX_BYTES")
            .ok()
            .and_then(|s| s.parse().ok())
        {
            l.max_total = n;
        }
        l
    }
}

/// Where the bulk entries go: `rel` is a checked relative path
/// (`checkpoint/NAME`, `rootfs-diff.tar`, `ctr.log`, `stats-dump`), each
/// given once.
pub trait EntrySink {
    fn put(&mut self, rel: &Path, data: &mut dyn Read) -> io::Result<u64>;
}

/// Drops the bulk entries, reading them to the end (for fuzzing and checks).
pub struct Discard;

impl EntrySink for Discard {
    fn put(&mut self, _rel: &Path, data: &mut dyn Read) -> io::Result<u64> {
        io::copy(data, &mut io::sink())
    }
}

/// Writes the bulk entries into a fresh directory, each file created
/// exclusively (a `checkpoint/` subdirectory is made up front).
pub struct DirSink {
    dir: PathBuf,
}

impl DirSink {
    pub fn new(dir: &Path) -> Result<Self> {
        let images = dir.join(IMAGES_DIR);
        fs::create_dir(&images).map_err(super::io_err(&images))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }
}

impl EntrySink for DirSink {
    fn put(&mut self, rel: &Path, data: &mut dyn Read) -> io::Result<u64> {
        let dest = self.dir.join(rel);
        let mut out = fs::File::options()
            .write(true)
            .create_new(true)
            .open(&dest)?;
        io::copy(data, &mut out)
    }
}

/// What a checked archive says.
#[derive(Debug)]
pub struct Contents {
    pub config: ContainerConfig,
    pub meta: CheckpointMeta,
    /// False for podman archives, whose image IDs differ from vouch's.
    pub checked_image_id: bool,
    pub from_podman: bool,
    /// The bind mounts the restored container needs ([`podman::plan`]).
    pub binds: Vec<Bind>,
    /// deleted.files: paths the container deleted from its rootfs.
    pub deleted: Vec<String>,
    /// The mode CRIU recorded for the root directory, which the restored
    /// rootfs must have ([`criu_image::root_mode`]).
    pub root_mode: Option<u32>,
    /// Bulk entries given to the sink.
    pub stored: Vec<PathBuf>,
    /// What every dumped task's credentials are (core and creds images),
    /// for [`creds::check_all`].
    pub creds: Vec<TaskCreds>,
}

/// Dump files, read into memory (capped) and parsed here.
const DUMPS: &[&str] = &[
    "config.dump",
    "spec.dump",
    "network.status",
    "deleted.files",
];
/// Bulk top-level files, handed to the sink.
const BULK: &[&str] = &["rootfs-diff.tar", "ctr.log", "stats-dump", DEVSHM_TAR];
/// podman's tar of the container's `/dev/shm` (its shm is a bind, so CRIU
/// does not dump it).
pub const DEVSHM_TAR: &str = "devshm-checkpoint.tar";

fn bad(label: &Path, why: impl Into<String>) -> CheckpointError {
    super::archive::bad(label, why)
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

/// Reads at most `cap` bytes of `r`; more is an error naming `name`.
fn read_capped(label: &Path, name: &str, size: u64, cap: u64, r: &mut dyn Read) -> Result<Vec<u8>> {
    if size > cap {
        return Err(bad(label, format!("{name} is {size} bytes (limit {cap})")));
    }
    let mut buf = Vec::with_capacity(size as usize);
    r.take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|e| bad(label, format!("corrupted or truncated: {e}")))?;
    if buf.len() as u64 > cap {
        return Err(bad(label, format!("{name} is over {cap} bytes")));
    }
    if buf.len() as u64 != size {
        return Err(bad(
            label,
            format!("corrupted or truncated: entry {name:?} is short"),
        ));
    }
    Ok(buf)
}

/// **The fuzz entry point for checkpoint archives.** Reads the archive
/// `r` (zstd, gzip or plain tar, sniffed), `label` naming it in errors:
/// checks every entry (only regular files and directories under podman's
/// names, no `..` or absolute paths, sizes and counts within `limits`),
/// parses the dump files into typed documents, and hands the bulk entries
/// to `sink`. With [`Discard`] it has no effect outside memory. Any error
/// is one [`CheckpointError`] naming `label` and the entry or field.
pub fn read_archive(
    label: &Path,
    r: impl Read,
    limits: &Limits,
    sink: &mut dyn EntrySink,
) -> Result<Contents> {
    let mut r = r;
    let mut head = vec![0u8; 512];
    let mut got = 0;
    while got < head.len() {
        let n = r
            .read(&mut head[got..])
            .map_err(|e| bad(label, format!("reading: {e}")))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    head.truncate(got);
    let comp = sniff(&head).ok_or_else(|| {
        bad(
            label,
            "not a checkpoint archive (neither zstd, gzip nor tar)",
        )
    })?;
    let stream = io::Cursor::new(head).chain(r);
    let reader: Box<dyn Read + '_> = match comp {
        Compression::Zstd => {
            Box::new(zstd::Decoder::new(stream).map_err(|e| bad(label, format!("zstd: {e}")))?)
        }
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(stream)),
        Compression::None => Box::new(stream),
    };
    let mut ar = tar::Archive::new(Counted {
        inner: reader,
        left: limits.max_total,
    });
    let corrupt = |e: io::Error| bad(label, format!("corrupted or truncated: {e}"));
    let mut count = 0usize;
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut stored = Vec::new();
    let mut docs: [Option<Vec<u8>>; 4] = Default::default();
    let mut tasks = creds::Collector::default();
    let mut files_img: Option<Vec<u8>> = None;
    let mut fs_img: Option<(u64, Vec<u8>)> = None;
    for entry in ar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        count += 1;
        if count > limits.max_entries {
            return Err(bad(
                label,
                format!("more than {} entries", limits.max_entries),
            ));
        }
        let raw = entry.path().map_err(corrupt)?.into_owned();
        let rel = clean_rel(&raw).ok_or_else(|| {
            bad(
                label,
                format!("entry {raw:?}: absolute or `..` paths are not allowed"),
            )
        })?;
        let et = entry.header().entry_type();
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let Some(top) = parts.first().map(String::as_str) else {
            continue;
        };
        let is_file = matches!(et, tar::EntryType::Regular | tar::EntryType::Continuous);
        let known = top == IMAGES_DIR || DUMPS.contains(&top) || BULK.contains(&top);
        if !is_file && et != tar::EntryType::Directory {
            if known {
                return Err(bad(
                    label,
                    format!(
                        "entry {raw:?} is a {et:?}; only regular files and directories are allowed"
                    ),
                ));
            }
            continue;
        }
        let wanted = match (top, parts.len(), is_file) {
            (IMAGES_DIR, 1, false) => false,
            (IMAGES_DIR, 2, true) => true,
            (IMAGES_DIR, _, _) => {
                return Err(bad(
                    label,
                    format!("entry {raw:?}: unexpected layout under checkpoint/"),
                ))
            }
            (t, 1, true) => DUMPS.contains(&t) || BULK.contains(&t),
            _ => false,
        };
        if !wanted {
            continue;
        }
        if !seen.insert(rel.clone()) {
            return Err(bad(label, format!("entry {raw:?} appears twice")));
        }
        let size = entry.header().size().map_err(corrupt)?;
        if let Some(i) = DUMPS.iter().position(|d| *d == top) {
            let cap = if top == "deleted.files" {
                limits.max_deleted
            } else {
                limits.max_dump
            };
            docs[i] = Some(read_capped(label, top, size, cap, &mut entry)?);
            continue;
        }
        let image = match parts.get(1).map(String::as_str) {
            Some(n) if top == IMAGES_DIR => creds::image_kind(n),
            _ => None,
        };
        let fs_or_files = match parts.get(1).map(String::as_str) {
            Some("files.img") if top == IMAGES_DIR => Some(None),
            Some(n) if top == IMAGES_DIR => n
                .strip_prefix("fs-")
                .and_then(|r| r.strip_suffix(".img"))
                .and_then(|id| id.parse::<u64>().ok())
                .map(Some),
            _ => None,
        };
        if let Some(which) = fs_or_files {
            let name = rel.to_string_lossy();
            let b = read_capped(label, &name, size, criu_image::MAX_IMAGE, &mut entry)?;
            let n = sink.put(&rel, &mut &b[..]).map_err(corrupt)?;
            if n != size {
                return Err(bad(
                    label,
                    format!("corrupted or truncated: entry {raw:?} is short"),
                ));
            }
            match which {
                None => files_img = Some(b),
                // The first task's (lowest pid) root is the container's.
                Some(id) if fs_img.as_ref().is_none_or(|(k, _)| id < *k) => fs_img = Some((id, b)),
                Some(_) => {}
            }
            stored.push(rel);
            continue;
        }
        if let Some((kind, id)) = image {
            // Read into memory (capped) so the bytes judged are those stored.
            let name = rel.to_string_lossy();
            let b = read_capped(label, &name, size, criu_image::MAX_IMAGE, &mut entry)?;
            tasks.add(kind, id, &b).map_err(|e| bad(label, e))?;
            let n = sink.put(&rel, &mut &b[..]).map_err(corrupt)?;
            if n != size {
                return Err(bad(
                    label,
                    format!("corrupted or truncated: entry {raw:?} is short"),
                ));
            }
            stored.push(rel);
            continue;
        }
        let mut limited = (&mut entry).take(size);
        let n = sink.put(&rel, &mut limited).map_err(corrupt)?;
        if n != size {
            return Err(bad(
                label,
                format!("corrupted or truncated: entry {raw:?} is short"),
            ));
        }
        stored.push(rel);
    }
    // Read the rest so a truncated stream is reported as such.
    io::copy(&mut ar.into_inner(), &mut io::sink()).map_err(corrupt)?;
    let [config_dump, spec_dump, network_status, deleted_files] = docs;
    let missing = |need: &str| bad(label, format!("corrupted or truncated: {need} is missing"));
    let config_dump = config_dump.ok_or_else(|| missing("config.dump"))?;
    let spec_dump = spec_dump.ok_or_else(|| missing("spec.dump"))?;
    if !seen.contains(Path::new("checkpoint/inventory.img")) {
        return Err(missing("checkpoint/inventory.img"));
    }
    let fail = |e: String| bad(label, e);
    let dump_v: Value = dump::parse("config.dump", &config_dump).map_err(fail)?;
    // network.status: an object (vouch's or podman's) or null.
    let net: Option<serde_json::Map<String, Value>> = match &network_status {
        Some(b) => dump::parse("network.status", b).map_err(fail)?,
        None => None,
    };
    let deleted: Vec<String> = match &deleted_files {
        Some(b) => dump::parse("deleted.files", b).map_err(fail)?,
        None => vec![],
    };
    let (config, meta, checked_image_id, from_podman, binds) = match dump::kind(&dump_v) {
        DumpKind::Vouch => {
            let d: VouchDump = dump::parse("config.dump", &config_dump).map_err(fail)?;
            let c = &d.vouch;
            // The ID was validated as it was read (ContainerId).
            if !crate::engine::valid_name(&c.name) {
                return Err(fail(
                    "config.dump: field `vouch.name`: not a valid container name".into(),
                ));
            }
            (d.vouch, d.checkpoint, true, false, d.binds)
        }
        DumpKind::Incompatible(found) => {
            return Err(CheckpointError::Incompatible {
                path: label.to_path_buf(),
                found,
            })
        }
        DumpKind::Podman => {
            let d: PodmanDump = dump::parse("config.dump", &config_dump).map_err(fail)?;
            let s: SpecDump = dump::parse("spec.dump", &spec_dump).map_err(fail)?;
            let cfg = dump::from_podman(&d, &s, net.is_none()).map_err(fail)?;
            let binds = podman::plan(&s.mounts).map_err(fail)?;
            (cfg, CheckpointMeta::default(), false, true, binds)
        }
        DumpKind::Unknown => {
            return Err(fail("config.dump is neither vouch's nor podman's".into()))
        }
    };
    let creds = tasks.finish().map_err(fail)?;
    let root_mode = match (&fs_img, &files_img) {
        (Some((id, fs)), Some(files)) => criu_image::root_mode(fs, files).map_err(|e| {
            fail(format!(
                "checkpoint/fs-{id}.img, files.img: {}",
                one_line(&e)
            ))
        })?,
        _ => None,
    };
    Ok(Contents {
        config,
        meta,
        checked_image_id,
        from_podman,
        binds,
        deleted,
        root_mode,
        stored,
        creds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(data.len() as u64);
            h.set_mode(0o600);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn read(bytes: &[u8], limits: &Limits) -> String {
        read_archive(Path::new("a.tar"), bytes, limits, &mut Discard)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn dump_files_are_capped_before_reading() {
        let big = vec![b' '; 2048];
        let a = archive(&[("config.dump", &big)]);
        let l = Limits {
            max_dump: 1024,
            ..Limits::default()
        };
        assert_eq!(
            read(&a, &l),
            "checkpoint archive a.tar: config.dump is 2048 bytes (limit 1024)"
        );
    }

    #[test]
    fn required_entries_and_fields() {
        let a = archive(&[("config.dump", b"{}"), ("spec.dump", b"{}")]);
        assert!(read(&a, &Limits::default()).ends_with("checkpoint/inventory.img is missing"));
        let a = archive(&[
            ("config.dump", br#"{"vouchCheckpointVersion":1,"vouch":{}}"#),
            ("spec.dump", b"{}"),
            ("checkpoint/inventory.img", b""),
        ]);
        let e = read(&a, &Limits::default());
        assert!(e.contains("config.dump: missing field"), "{e}");
        let a = archive(&[("config.dump", b"{}"), ("config.dump", b"{}")]);
        assert!(read(&a, &Limits::default()).ends_with("appears twice"));
    }
}

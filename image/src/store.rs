//! The local image store: content-addressed blobs, unpacked layers and image
//! records under `--root`, never visible half-written.
//!
//! Layout (keep in sync with docs/store.md):
//! ```text
//! ROOT/.lock                       flock held while records change
//! ROOT/blobs/sha256/<hex>          verified blobs (manifests, configs, layers)
//! ROOT/layers/<diff_id hex>/       unpacked layers, overlayfs lower dirs
//! ROOT/images/<image id>.json      image records (id = config digest hex)
//! ROOT/lists/<name hash>.json      manifest list records (crate::lists)
//! ROOT/tmp/<pid>-<rand>/           staging, flocked by its owner; removed once unlocked
//! ```
//! The root and every directory under it down to the layer roots are 0700,
//! as containers/storage makes them: a layer holds the image's setuid
//! binaries, file capabilities and device nodes, which only a container (whose
//! runtime mounts them as root) may reach, never another local user through
//! the store path.
//! Everything is first written under `tmp/`, verified, then renamed into
//! place; the image record is renamed last. A command killed at any point
//! leaves at worst unreferenced but valid blobs and a staging directory,
//! which the next mutating command clears. An image is visible exactly when
//! its record exists, and a record is only written once all it names is in
//! place.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::manifest::Descriptor;
use crate::reference::ImageRef;
use crate::unpack::{ImageBudget, UnpackOptions};

/// Mode of the store root and the directories above the layer roots.
const PRIVATE_DIR: u32 = 0o700;

/// The store's directories, made private on open.
const DIRS: [&str; 7] = [
    "",
    "blobs",
    "blobs/sha256",
    "layers",
    "images",
    "lists",
    "tmp",
];

/// Caps on the logical (uncompressed, holes included) size of what one
/// layer and one image may unpack to; see docs/store.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_layer_bytes: u64,
    pub max_image_bytes: u64,
}

impl Limits {
    pub const DEFAULT_MAX_LAYER_BYTES: u64 = 64 << 30;
    pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 128 << 30;
}

/// Parses a size as podman spells them: bytes, or a number with a `k`, `m`,
/// `g` or `t` suffix (powers of 1024; `KiB`, `MB`, … are read the same).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a size such as 512m or 10GiB"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("{s:?}: unknown size unit {unit:?}")),
    };
    num.checked_mul(1u64 << shift)
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{s:?}: size must be between 1 byte and 16 EiB"))
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_layer_bytes: Self::DEFAULT_MAX_LAYER_BYTES,
            max_image_bytes: Self::DEFAULT_MAX_IMAGE_BYTES,
        }
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid image name: {0}")]
    Name(String),
    #[error("image record {path} is corrupt")]
    Record {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0}: image not known")]
    UnknownImage(String),
    #[error("{name}: ambiguous, matches images {ids}")]
    Ambiguous { name: String, ids: String },
    #[error("image {id} is missing {what} {digest}; pull it again")]
    Incomplete {
        id: crate::ImageId,
        what: &'static str,
        digest: Digest,
    },
    #[error("image {0} has several names; remove them one by one or use -f")]
    MultipleNames(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One layer of an image: the blob as moved, and the unpacked content's digest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerRecord {
    pub blob: Descriptor,
    pub diff_id: Digest,
    /// Uncompressed size, for `images` SIZE.
    pub size: u64,
}

/// Everything the store knows of one image.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Config digest hex: podman's image ID.
    pub id: crate::ImageId,
    /// Normalised names (`registry/repo:tag`); empty for a dangling image.
    pub names: Vec<String>,
    /// Digest of the stored manifest (the platform instance when pulled
    /// through a list).
    pub digest: Digest,
    pub manifest_media_type: String,
    pub config: Descriptor,
    pub layers: Vec<LayerRecord>,
    /// `registry/repo@digest` spellings this image was pulled or pushed as,
    /// including the digest of a manifest list it was selected from.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// Image creation time from the config (RFC 3339), if any.
    #[serde(default)]
    pub created: Option<String>,
    /// When it entered this store (RFC 3339).
    pub stored: String,
    /// Signatures of the manifest `digest`, kept as blobs (the evaluator's
    /// vocabulary, `vouch_image::sigstore_blob`) so a later push, save or
    /// copy carries them, as podman keeps a pull's signatures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<Digest>,
}

impl ImageRecord {
    /// Total uncompressed size, as podman's SIZE column shows.
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum::<u64>() + self.config.size
    }
}

/// A staging area for one operation, inside the store's `tmp/`. Its owner
/// holds an flock on the directory for as long as it lives, so any other
/// process can tell a live operation's staging (locked) from a killed one's
/// (unlocked: the kernel drops the lock with the process), whatever pid
/// reuse has done since.
pub struct Staging {
    path: PathBuf,
    _lock: File,
}

impl Staging {
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Where to write a blob before it is committed.
    pub fn blob(&self, d: &Digest) -> PathBuf {
        self.path.join(format!("blob-{}", d.hex()))
    }
    /// Where to unpack a layer before it is committed.
    pub fn layer(&self, diff_id_or_blob: &Digest) -> PathBuf {
        self.path.join(format!("layer-{}", diff_id_or_blob.hex()))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Unpacked layers can hold read-only directories, which a plain
        // recursive removal would leave behind.
        if let Err(e) = make_writable_and_remove(&self.path) {
            tracing::warn!(error = %e, "staging not removed");
        }
    }
}

/// Takes an flock on `file` without waiting; false when another open file
/// description holds it.
fn try_flock(file: &File) -> std::io::Result<bool> {
    // SAFETY: flock on a valid, owned descriptor.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// An exclusive lock on the store; released on drop.
pub struct Lock {
    _file: File,
}

/// The local store rooted at `--root`.
pub struct Store {
    root: PathBuf,
    limits: Limits,
}

/// Where the store at `root` keeps the unpacked layer `diff_id`: for
/// readers that hold a root, not an open store (a container's rootfs).
pub fn layer_dir(root: &Path, diff_id: &Digest) -> PathBuf {
    root.join("layers").join(diff_id.hex())
}

impl Store {
    /// Opens (creating if needed) the store at `root`. Its own directories
    /// are created 0700 by mkdir itself (never widened for a moment), and an
    /// existing store's are narrowed to 0700.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        for sub in DIRS {
            let p = root.join(sub);
            match fs::DirBuilder::new().mode(PRIVATE_DIR).create(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => make_private(&p)?,
                Err(e) => return Err(io(&p)(e)),
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
            limits: Limits::default(),
        })
    }

    /// The same store with other size caps.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Unpack options for the layers of one image: the per-layer cap, and a
    /// fresh budget the image's layers share.
    pub fn unpack_options(&self) -> UnpackOptions {
        UnpackOptions {
            max_total_bytes: self.limits.max_layer_bytes,
            image_budget: Some(Arc::new(ImageBudget::new(self.limits.max_image_bytes))),
            ..UnpackOptions::default()
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the store lock (blocking), so record changes and garbage
    /// collection never interleave between processes.
    pub fn lock(&self) -> Result<Lock, StoreError> {
        let p = self.root.join(".lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io(&p))?;
        // SAFETY: flock on a valid, owned descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(io(&p)(std::io::Error::last_os_error()));
        }
        Ok(Lock { _file: file })
    }

    /// A fresh, flocked staging directory. Abandoned staging of killed
    /// commands is collected first, so every operation that writes to the
    /// store also cleans up after the ones that died. Both happen under the
    /// store lock, so no collector ever sees a staging directory between its
    /// mkdir and its flock.
    pub fn staging(&self) -> Result<Staging, StoreError> {
        let lock = self.lock()?;
        self.clean_staging(&lock)?;
        let tmp = self.root.join("tmp");
        let path = tempfile::Builder::new()
            .prefix(&format!("{}-", std::process::id()))
            .tempdir_in(&tmp)
            .map_err(io(&tmp))?
            .keep();
        let staging_lock = File::open(&path).map_err(io(&path))?;
        let locked = try_flock(&staging_lock).map_err(io(&path))?;
        debug_assert!(locked, "a fresh staging directory is unlocked");
        Ok(Staging {
            path,
            _lock: staging_lock,
        })
    }

    /// Removes staging directories no live process holds locked (those of
    /// killed commands). The caller holds the store lock.
    pub fn clean_staging(&self, _lock: &Lock) -> Result<(), StoreError> {
        let tmp = self.root.join("tmp");
        for entry in fs::read_dir(&tmp).map_err(io(&tmp))? {
            let p = entry.map_err(io(&tmp))?.path();
            let file = match File::open(&p) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&p)(e)),
            };
            if try_flock(&file).map_err(io(&p))? {
                tracing::debug!(path = %p.display(), "collecting abandoned staging");
                make_writable_and_remove(&p)?;
            }
        }
        Ok(())
    }

    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    pub fn layer_path(&self, diff_id: &Digest) -> PathBuf {
        layer_dir(&self.root, diff_id)
    }

    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        self.layer_path(diff_id).is_dir()
    }

    /// Uncompressed sizes of the layers the store's images hold, so a pull or
    /// load that reuses a stored layer records its real size.
    pub fn layer_sizes(&self) -> Result<std::collections::HashMap<Digest, u64>, StoreError> {
        Ok(self
            .images()?
            .into_iter()
            .flat_map(|i| i.layers)
            .map(|l| (l.diff_id, l.size))
            .collect())
    }

    /// Reads a stored blob whole (manifests and configs only).
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>, StoreError> {
        let p = self.blob_path(d);
        fs::read(&p).map_err(io(&p))
    }

    /// Moves a verified staged blob into place (a no-op if already there).
    pub fn commit_blob(&self, staged: &Path, d: &Digest) -> Result<(), StoreError> {
        let dst = self.blob_path(d);
        if dst.exists() {
            return Ok(());
        }
        fs::rename(staged, &dst).map_err(io(&dst))
    }

    /// Writes a small verified blob straight into place via a temp file.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let d = Digest::of(bytes);
        let dst = self.blob_path(&d);
        if !dst.exists() {
            write_atomic(&dst, bytes)?;
        }
        Ok(d)
    }

    /// Moves an unpacked staged layer into place (a no-op if already there).
    pub fn commit_layer(&self, staged: &Path, diff_id: &Digest) -> Result<(), StoreError> {
        let dst = self.layer_path(diff_id);
        if dst.exists() {
            return make_writable_and_remove(staged);
        }
        fs::rename(staged, &dst).map_err(io(&dst))
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.root.join("images").join(format!("{id}.json"))
    }

    /// Every image record, sorted newest first.
    pub fn images(&self) -> Result<Vec<ImageRecord>, StoreError> {
        let dir = self.root.join("images");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io(&dir))? {
            let p = entry.map_err(io(&dir))?.path();
            if p.extension().is_some_and(|e| e == "json") {
                let bytes = fs::read(&p).map_err(io(&p))?;
                let rec: ImageRecord =
                    serde_json::from_slice(&bytes).map_err(|source| StoreError::Record {
                        path: p.clone(),
                        source,
                    })?;
                out.push(rec);
            }
        }
        out.sort_by(|a, b| b.stored.cmp(&a.stored).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Writes `rec` (merging with an existing record of the same ID) and
    /// moves its names away from any other image, as podman does on pull
    /// and tag. The caller holds the lock and has committed all content.
    pub fn commit_image(
        &self,
        _lock: &Lock,
        mut rec: ImageRecord,
    ) -> Result<ImageRecord, StoreError> {
        for l in &rec.layers {
            if !self.has_layer(&l.diff_id) {
                return Err(StoreError::Incomplete {
                    id: rec.id.clone(),
                    what: "layer",
                    digest: l.diff_id.clone(),
                });
            }
        }
        for (what, d) in [("manifest", &rec.digest), ("config", &rec.config.digest)] {
            if !self.has_blob(d) {
                return Err(StoreError::Incomplete {
                    id: rec.id.clone(),
                    what,
                    digest: d.clone(),
                });
            }
        }
        let existing = self.images()?;
        for mut other in existing {
            if other.id == rec.id {
                for n in other.names.drain(..) {
                    if !rec.names.contains(&n) {
                        rec.names.push(n);
                    }
                }
                for d in other.repo_digests.drain(..) {
                    if !rec.repo_digests.contains(&d) {
                        rec.repo_digests.push(d);
                    }
                }
                if other.digest == rec.digest {
                    for d in other.signatures.drain(..) {
                        if !rec.signatures.contains(&d) {
                            rec.signatures.push(d);
                        }
                    }
                }
                rec.stored = other.stored;
                continue;
            }
            let before = other.names.len();
            other.names.retain(|n| !rec.names.contains(n));
            if other.names.len() != before {
                self.write_record(&other)?;
            }
        }
        self.write_record(&rec)?;
        Ok(rec)
    }

    fn write_record(&self, rec: &ImageRecord) -> Result<(), StoreError> {
        let p = self.record_path(&rec.id);
        let bytes = serde_json::to_vec_pretty(rec).map_err(|source| StoreError::Record {
            path: p.clone(),
            source,
        })?;
        write_atomic(&p, &bytes)
    }

    /// Finds an image by ID (or unique ID prefix), full name, or short name
    /// (`httpd` finds `localhost/httpd:latest`), as podman resolves local images.
    pub fn resolve(&self, name: &str) -> Result<ImageRecord, StoreError> {
        let images = self.images()?;
        let id = name.strip_prefix("sha256:").unwrap_or(name);
        if id.len() >= 3 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: Vec<_> = images.iter().filter(|i| i.id.starts_with(id)).collect();
            if hits.len() == 1 {
                return Ok(hits[0].clone());
            }
        }
        let candidates = name_candidates(name);
        let hits: Vec<_> = images
            .iter()
            .filter(|i| {
                i.names
                    .iter()
                    .any(|n| candidates.iter().any(|c| c.matches(n)))
                    || i.repo_digests
                        .iter()
                        .any(|n| candidates.iter().any(|c| c.matches(n)))
            })
            .collect();
        match hits.len() {
            0 => Err(StoreError::UnknownImage(name.to_string())),
            1 => Ok(hits[0].clone()),
            _ => Err(StoreError::Ambiguous {
                name: name.to_string(),
                ids: hits
                    .iter()
                    .map(|i| i.id.short())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Adds `name` to image `id` (taking it from any other image).
    pub fn tag(&self, id: &str, name: &ImageRef) -> Result<(), StoreError> {
        let lock = self.lock()?;
        let mut rec = self
            .images()?
            .into_iter()
            .find(|i| i.id == id)
            .ok_or_else(|| StoreError::UnknownImage(id.to_string()))?;
        let n = name.to_string();
        if !rec.names.contains(&n) {
            rec.names.push(n);
        }
        self.commit_image(&lock, rec)?;
        Ok(())
    }

    /// Removes one name from an image, or the image itself when it was
    /// named by ID, had only that name, or `force` is set. Returns the
    /// removed image ID when the image is gone.
    pub fn remove(&self, name: &str, force: bool) -> Result<Removed, StoreError> {
        let lock = self.lock()?;
        let mut rec = self.resolve(name)?;
        let by_id = rec
            .id
            .starts_with(name.strip_prefix("sha256:").unwrap_or(name));
        let candidates = name_candidates(name);
        if !by_id && !force && rec.names.len() > 1 {
            rec.names
                .retain(|n| !candidates.iter().any(|c| c.matches(n)));
            let untagged = rec.id.clone();
            self.write_record(&rec)?;
            return Ok(Removed::Untagged(untagged));
        }
        if by_id && !force && rec.names.len() > 1 {
            return Err(StoreError::MultipleNames(rec.id.short().to_string()));
        }
        let p = self.record_path(&rec.id);
        fs::remove_file(&p).map_err(io(&p))?;
        self.gc(&lock)?;
        Ok(Removed::Deleted(rec.id))
    }

    /// Deletes blobs and layers no image record refers to. The caller holds
    /// the lock, so no concurrent commit can be referring to them.
    pub fn gc(&self, _lock: &Lock) -> Result<(), StoreError> {
        use std::collections::HashSet;
        let images = self.images()?;
        let mut blobs: HashSet<String> = HashSet::new();
        let mut layers: HashSet<String> = HashSet::new();
        for i in &images {
            blobs.insert(i.digest.hex().to_string());
            blobs.insert(i.config.digest.hex().to_string());
            blobs.extend(i.signatures.iter().map(|d| d.hex().to_string()));
        }
        for l in crate::lists::all(self)? {
            blobs.insert(l.digest.hex().to_string());
        }
        for i in &images {
            for l in &i.layers {
                blobs.insert(l.blob.digest.hex().to_string());
                layers.insert(l.diff_id.hex().to_string());
            }
        }
        for (dir, keep) in [("blobs/sha256", &blobs), ("layers", &layers)] {
            let d = self.root.join(dir);
            for entry in fs::read_dir(&d).map_err(io(&d))? {
                let entry = entry.map_err(io(&d))?;
                let name = entry.file_name();
                if keep.contains(&*name.to_string_lossy()) {
                    continue;
                }
                // A layer is first renamed out of `layers/` (atomically), so a
                // removal killed half-way never leaves a partial layer that a
                // later pull of the same diff_id would take as stored; the
                // unlocked leftover in `tmp/` is collected like staging.
                let doomed = if entry.path().is_dir() {
                    let to = self.root.join("tmp").join(format!(
                        "{}-gc-{}",
                        std::process::id(),
                        name.to_string_lossy()
                    ));
                    fs::rename(entry.path(), &to).map_err(io(&to))?;
                    to
                } else {
                    entry.path()
                };
                make_writable_and_remove(&doomed)?;
            }
        }
        self.clean_staging(_lock)
    }
}

/// What `remove` did.
#[derive(Debug)]
pub enum Removed {
    Untagged(crate::ImageId),
    Deleted(crate::ImageId),
}

/// One way of reading a user-typed name against stored names.
struct Candidate {
    full: String,
    short: bool,
}

impl Candidate {
    fn matches(&self, stored: &str) -> bool {
        if self.short {
            stored == self.full || stored.ends_with(&format!("/{}", self.full))
        } else {
            stored == self.full
        }
    }
}

/// A name typed without a registry (`httpd`, `ns/app:1`) may match any
/// registry's image, as podman's short-name lookup of local images does.
fn name_candidates(name: &str) -> Vec<Candidate> {
    let mut v = Vec::new();
    if let Ok(r) = ImageRef::parse(name) {
        v.push(Candidate {
            full: r.to_string(),
            short: false,
        });
    }
    let first = name.split('/').next().unwrap_or("");
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if !has_registry {
        let mut s = name.to_string();
        let last = s.rsplit('/').next().unwrap_or("").to_string();
        if !last.contains(':') && !last.contains('@') {
            s.push_str(":latest");
        }
        v.push(Candidate {
            full: s,
            short: true,
        });
    }
    v
}

/// Narrows an existing store directory to 0700 (stores created before the
/// store was private had 0755).
fn make_private(p: &Path) -> Result<(), StoreError> {
    let meta = fs::metadata(p).map_err(io(p))?;
    if meta.permissions().mode() & 0o7777 != PRIVATE_DIR {
        fs::set_permissions(p, fs::Permissions::from_mode(PRIVATE_DIR)).map_err(io(p))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temp file in the same directory and a
/// rename, so readers see the old or the new content, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(path))?;
    tmp.as_file().sync_data().map_err(io(path))?;
    tmp.persist(path).map_err(|e| io(path)(e.error))?;
    Ok(())
}

/// Removes a file or tree, first granting the owner write permission on
/// directories (unpacked layers can hold read-only directories).
pub fn make_writable_and_remove(p: &Path) -> Result<(), StoreError> {
    let meta = match fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(p)(e)),
    };
    if !meta.is_dir() {
        return fs::remove_file(p).map_err(io(p));
    }
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(_) => {
            fix_dir_perms(p);
            fs::remove_dir_all(p).map_err(io(p))
        }
    }
}

fn fix_dir_perms(p: &Path) {
    if let Ok(m) = fs::symlink_metadata(p) {
        if m.is_dir() {
            let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
            if let Ok(rd) = fs::read_dir(p) {
                for e in rd.flatten() {
                    fix_dir_perms(&e.path());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(store: &Store, names: &[&str], cfg: &[u8]) -> ImageRecord {
        let config = store.put_blob(cfg).unwrap();
        let manifest = store.put_blob(format!("m{}", config).as_bytes()).unwrap();
        ImageRecord {
            id: crate::ImageId::of_config(&config),
            names: names.iter().map(|s| s.to_string()).collect(),
            digest: manifest,
            manifest_media_type: crate::manifest::OCI_MANIFEST.into(),
            config: Descriptor {
                media_type: crate::manifest::OCI_CONFIG.into(),
                digest: config,
                size: cfg.len() as u64,
                platform: None,
                annotations: None,
            },
            layers: vec![],
            repo_digests: vec![],
            created: None,
            stored: "2026-01-01T00:00:00Z".into(),
            signatures: vec![],
        }
    }

    #[test]
    fn sizes_parse_like_podman() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("10m").unwrap(), 10 << 20);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("1T").unwrap(), 1 << 40);
        assert!(parse_size("0").is_err());
        assert!(parse_size("1.5g").is_err());
        assert!(parse_size("12q").is_err());
        assert!(parse_size("99999999999t").is_err());
    }

    #[test]
    fn store_directories_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        for sub in ["", "layers", "tmp"] {
            fs::create_dir_all(root.join(sub)).unwrap();
            fs::set_permissions(root.join(sub), fs::Permissions::from_mode(0o755)).unwrap();
        }
        Store::open(&root).unwrap();
        for sub in DIRS {
            let mode = fs::metadata(root.join(sub)).unwrap().permissions().mode();
            assert_eq!(mode & 0o7777, 0o700, "{sub:?}");
        }
    }

    #[test]
    fn staging_of_a_live_owner_is_kept_and_an_abandoned_one_collected() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let live = store.staging().unwrap();
        // A killed owner's staging: same pid prefix (pids are reused), no lock.
        let dead = dir.path().join(format!("tmp/{}-dead", std::process::id()));
        fs::create_dir_all(dead.join("layer-x/ro")).unwrap();
        fs::set_permissions(dead.join("layer-x/ro"), fs::Permissions::from_mode(0o500)).unwrap();
        let other = store.staging().unwrap();
        assert!(live.path().is_dir());
        assert!(other.path().is_dir());
        assert!(!dead.exists());
        let p = live.path().to_path_buf();
        drop(live);
        assert!(!p.exists());
    }

    #[test]
    fn names_move_and_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let lock = store.lock().unwrap();
        let a = store
            .commit_image(&lock, record(&store, &["localhost/httpd:latest"], b"a"))
            .unwrap();
        let b = store
            .commit_image(&lock, record(&store, &["localhost/httpd:latest"], b"b"))
            .unwrap();
        drop(lock);
        assert_eq!(store.resolve("httpd").unwrap().id, b.id);
        assert_eq!(store.resolve("localhost/httpd").unwrap().id, b.id);
        assert_eq!(store.resolve(a.id.short()).unwrap().id, a.id);
        assert!(store.resolve(a.id.short()).unwrap().names.is_empty());
        assert!(matches!(
            store.resolve("nope"),
            Err(StoreError::UnknownImage(_))
        ));
    }

    #[test]
    fn remove_untags_then_deletes_and_collects() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let lock = store.lock().unwrap();
        let a = store
            .commit_image(
                &lock,
                record(&store, &["localhost/a:1", "localhost/a:2"], b"a"),
            )
            .unwrap();
        drop(lock);
        assert!(matches!(
            store.remove("localhost/a:1", false).unwrap(),
            Removed::Untagged(_)
        ));
        assert!(matches!(
            store.remove("localhost/a:2", false).unwrap(),
            Removed::Deleted(_)
        ));
        assert!(!store.has_blob(&a.config.digest));
        assert!(store.images().unwrap().is_empty());
    }

    #[test]
    fn incomplete_images_are_never_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut rec = record(&store, &["localhost/x:1"], b"x");
        rec.config.digest = Digest::of(b"absent");
        let lock = store.lock().unwrap();
        assert!(matches!(
            store.commit_image(&lock, rec),
            Err(StoreError::Incomplete { .. })
        ));
        assert!(store.images().unwrap().is_empty());
    }
}

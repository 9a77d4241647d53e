//! The `docker-archive:PATH[:NAME:TAG|:@N]` transport (containers/image
//! `docker/archive/` and `docker/internal/tarfile/`): `docker save`'s tar.
//!
//! The archive has no manifest of its own. A source generates the Docker
//! schema2 manifest containers/image generates (uncompressed layers named
//! by their diff IDs), byte for byte, so digests agree with skopeo's.
//!
//! A destination holds one Docker schema2 image with uncompressed layers,
//! as containers/image writes it: `<config hex>.json`, `<diff ID hex>.tar`,
//! the legacy `<layer id>/{layer.tar,VERSION,json}` entries, `manifest.json`
//! and `repositories`. An OCI image or compressed layers are converted on
//! the way in (as containers/image does: the config bytes stay, the layers
//! are decompressed), which changes the manifest; the archive stores no
//! signatures, so no signature can be invalidated by that. The tar is
//! assembled at `commit` next to the target and renamed into place.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use vouch_image::digest::HashingWriter;
use vouch_image::manifest::{self, Descriptor, ImageManifest, MAX_CONFIG_BYTES};
use vouch_image::unpack::{detect_compression, Compression};
use vouch_image::{Digest, ImageRef};

use crate::endpoint::{BlobStream, Dest, RawManifest, Source};
use crate::error::CopyError;
use crate::localfs;
use crate::name::ImageName;
use crate::tar_safety::{self, Budget, MAX_ARCHIVE_BYTES};

/// containers/image's message for signatures to a docker-archive.
pub const NO_SIGNATURES: &str = "Storing signatures for docker tar files is not supported";
pub const NO_LISTS: &str = "Manifest lists are not supported for docker tar files";
/// containers/image `iolimits.MaxTarFileManifestSize`.
const MAX_TAR_MANIFEST_BYTES: u64 = 1 << 20;
/// containers/image labels the generated manifest's (uncompressed) layers
/// with `DockerV2Schema2LayerMediaType`, the gzip one; the digests, which
/// are what matter, are the diff IDs.
const GENERATED_LAYER_TYPE: &str = manifest::DOCKER_LAYER_GZIP;

/// One image of `manifest.json`.
#[derive(Debug, Deserialize)]
struct ManifestItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct ConfigRootFs {
    rootfs: Option<RootFs>,
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<Digest>,
}

/// How a docker-archive reference picks its image.
enum Pick {
    Only,
    Tag(Box<ImageRef>),
    Index(usize),
}

fn parse_reference(reference: Option<&str>) -> Result<Pick, CopyError> {
    let Some(r) = reference else {
        return Ok(Pick::Only);
    };
    if let Some(i) = r.strip_prefix('@') {
        let n: i64 = i
            .parse()
            .map_err(|e| CopyError::Name(format!("Invalid source index @{i}: {e}")))?;
        let n = usize::try_from(n).map_err(|_| {
            CopyError::Name(format!("Invalid source index @{n}: must not be negative"))
        })?;
        return Ok(Pick::Index(n));
    }
    let parsed = ImageRef::parse(r)
        .map_err(|e| CopyError::Name(format!("docker-archive parsing reference: {e}")))?;
    if parsed.digest().is_some() {
        return Err(CopyError::Name(format!(
            "docker-archive doesn't support digest references: {r}"
        )));
    }
    Ok(Pick::Tag(Box::new(parsed)))
}

/// `name:tag` as containers/image writes RepoTags (the normalized name).
fn repo_tag(r: &ImageRef) -> String {
    format!("{}:{}", r.name(), r.tag().unwrap_or("latest"))
}

/// Where an entry's bytes are inside the (uncompressed) archive file.
#[derive(Clone, Debug)]
enum Entry {
    File { offset: u64, size: u64 },
    Link(String),
    Other,
}

/// Lexically joins a link target to the link's directory; `None` if the
/// result would leave the archive.
fn resolve_link(from: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// The archive's tar (decompressed into a temp file when compressed, as
/// containers/image does) and where each entry is in it.
struct TarIndex {
    path: PathBuf,
    archive: PathBuf,
    entries: HashMap<String, Entry>,
    _tmp: Option<tempfile::TempPath>,
}

impl TarIndex {
    fn open(archive: &Path) -> Result<Self, CopyError> {
        let (mut reader, compression) = tar_safety::open_maybe_compressed(archive)?;
        let (path, tmp) = if compression == Compression::None {
            drop(reader);
            (archive.to_path_buf(), None)
        } else {
            let tmp = tempfile::Builder::new()
                .prefix("vouch-docker-tar")
                .tempfile()
                .map_err(CopyError::io("temporary file"))?;
            let (mut f, tmp) = tmp.into_parts();
            let n = std::io::copy(&mut (&mut reader).take(MAX_ARCHIVE_BYTES + 1), &mut f)
                .map_err(CopyError::io(archive.display()))?;
            if n > MAX_ARCHIVE_BYTES {
                return Err(tar_safety::invalid(
                    archive,
                    format!("decompresses to more than {MAX_ARCHIVE_BYTES} bytes"),
                ));
            }
            (tmp.to_path_buf(), Some(tmp))
        };
        let file = std::fs::File::open(&path).map_err(CopyError::io(archive.display()))?;
        let mut tar = tar::Archive::new(file);
        let mut entries = HashMap::new();
        let mut budget = Budget::default();
        let io = |e| CopyError::io(archive.display())(e);
        for e in tar.entries().map_err(io)? {
            let e = e.map_err(io)?;
            let raw = e.path().map_err(io)?.into_owned();
            let Some(name) = tar_safety::entry_name(archive, &raw)? else {
                continue;
            };
            budget.take(archive, &name, e.size())?;
            let t = e.header().entry_type();
            let entry = if t.is_file() {
                Entry::File {
                    offset: e.raw_file_position(),
                    size: e.size(),
                }
            } else if t.is_symlink() || t.is_hard_link() {
                let target = e
                    .link_name()
                    .map_err(io)?
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // Hard link names are relative to the archive root.
                let from = if t.is_hard_link() { "x" } else { name.as_str() };
                match resolve_link(from, &target) {
                    Some(t) => Entry::Link(t),
                    None => {
                        return Err(tar_safety::invalid(
                            archive,
                            format!(
                                "entry {name:?}: link target {target:?} is outside the archive"
                            ),
                        ))
                    }
                }
            } else {
                Entry::Other
            };
            entries.insert(name, entry);
        }
        Ok(Self {
            path,
            archive: archive.to_path_buf(),
            entries,
            _tmp: tmp,
        })
    }

    /// The offset and size of the regular file `component` names, following
    /// one link as containers/image does.
    fn locate(&self, component: &str) -> Result<(u64, u64), CopyError> {
        let name =
            tar_safety::entry_name(&self.archive, Path::new(component))?.ok_or_else(|| {
                tar_safety::invalid(&self.archive, format!("empty component name {component:?}"))
            })?;
        let missing = || {
            tar_safety::invalid(
                &self.archive,
                format!("loading tar component {component:?}: file does not exist"),
            )
        };
        let mut entry = self.entries.get(&name).ok_or_else(missing)?;
        if let Entry::Link(target) = entry {
            entry = self.entries.get(target).ok_or_else(missing)?;
        }
        match entry {
            Entry::File { offset, size } => Ok((*offset, *size)),
            _ => Err(tar_safety::invalid(
                &self.archive,
                format!("Error reading tar archive component {component:?}: not a regular file"),
            )),
        }
    }

    fn read(&self, component: &str, max: u64) -> Result<Vec<u8>, CopyError> {
        let (offset, size) = self.locate(component)?;
        if size > max {
            return Err(tar_safety::invalid(
                &self.archive,
                format!("{component:?} is {size} bytes, over the {max}-byte limit"),
            ));
        }
        let mut f =
            std::fs::File::open(&self.path).map_err(CopyError::io(self.archive.display()))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(CopyError::io(self.archive.display()))?;
        let mut buf = Vec::new();
        f.take(size)
            .read_to_end(&mut buf)
            .map_err(CopyError::io(self.archive.display()))?;
        Ok(buf)
    }

    fn first_bytes(&self, offset: u64, size: u64) -> Result<Vec<u8>, CopyError> {
        let mut f =
            std::fs::File::open(&self.path).map_err(CopyError::io(self.archive.display()))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(CopyError::io(self.archive.display()))?;
        let mut buf = Vec::new();
        f.take(size.min(8))
            .read_to_end(&mut buf)
            .map_err(CopyError::io(self.archive.display()))?;
        Ok(buf)
    }
}

/// Where a layer's uncompressed bytes are.
enum LayerData {
    InArchive {
        offset: u64,
        size: u64,
    },
    /// A compressed layer, decompressed once at open.
    Decompressed {
        path: PathBuf,
        size: u64,
    },
}

/// Reads one image of a docker-archive.
pub struct DockerArchiveSource {
    name: ImageName,
    tar: TarIndex,
    config: Bytes,
    config_digest: Digest,
    manifest: RawManifest,
    layers: HashMap<Digest, LayerData>,
    _scratch: Option<tempfile::TempDir>,
}

impl DockerArchiveSource {
    pub fn open(
        name: ImageName,
        archive: &Path,
        reference: Option<&str>,
    ) -> Result<Self, CopyError> {
        let pick = parse_reference(reference)?;
        let tar = TarIndex::open(archive)?;
        let bad = |what: String| tar_safety::invalid(archive, what);
        let items: Vec<ManifestItem> =
            serde_json::from_slice(&tar.read("manifest.json", MAX_TAR_MANIFEST_BYTES)?)
                .map_err(|e| bad(format!("decoding tar manifest.json: {e}")))?;
        let item = match pick {
            Pick::Only => match items.as_slice() {
                [only] => only,
                _ => {
                    return Err(bad(format!(
                        "Unexpected tar manifest.json: expected 1 item, got {}",
                        items.len()
                    )))
                }
            },
            Pick::Index(i) => items.get(i).ok_or_else(|| {
                bad(format!(
                    "Invalid source index @{i}, only {} manifest items available",
                    items.len()
                ))
            })?,
            Pick::Tag(r) => {
                let want = repo_tag(&r);
                let mut found = None;
                'items: for (i, item) in items.iter().enumerate() {
                    for tag in item.repo_tags.iter().flatten() {
                        let parsed = ImageRef::parse(tag).map_err(|e| {
                            bad(format!(
                                "Invalid tag {tag:?} in manifest.json item @{i}: {e}"
                            ))
                        })?;
                        if repo_tag(&parsed) == want {
                            found = Some(item);
                            break 'items;
                        }
                    }
                }
                found.ok_or_else(|| bad(format!("Tag {want:?} not found")))?
            }
        };
        let config = tar.read(&item.config, MAX_CONFIG_BYTES)?;
        let parsed: ConfigRootFs = serde_json::from_slice(&config)
            .map_err(|e| bad(format!("decoding tar config {:?}: {e}", item.config)))?;
        let rootfs = parsed.rootfs.ok_or_else(|| {
            bad(format!(
                "Invalid image config (rootFS is not set): {:?}",
                item.config
            ))
        })?;
        if rootfs.diff_ids.len() != item.layers.len() {
            return Err(bad(format!(
                "Inconsistent layer count: {} in manifest, {} in config",
                item.layers.len(),
                rootfs.diff_ids.len()
            )));
        }
        let mut layers = HashMap::new();
        let mut scratch: Option<tempfile::TempDir> = None;
        let mut descs = Vec::new();
        for (diff, component) in rootfs.diff_ids.iter().zip(&item.layers) {
            if !layers.contains_key(diff) {
                let (offset, size) = tar.locate(component)?;
                let data = match detect_compression(&tar.first_bytes(offset, size)?) {
                    Compression::None => LayerData::InArchive { offset, size },
                    c => {
                        if scratch.is_none() {
                            scratch = Some(
                                tempfile::Builder::new()
                                    .prefix("vouch-docker-archive")
                                    .tempdir()
                                    .map_err(CopyError::io("temporary directory"))?,
                            );
                        }
                        let dir = scratch
                            .as_ref()
                            .map(|d| d.path().to_path_buf())
                            .unwrap_or_default();
                        let path = dir.join(diff.hex());
                        let size = decompress_section(&tar, offset, size, c, &path)?;
                        LayerData::Decompressed { path, size }
                    }
                };
                layers.insert(diff.clone(), data);
            }
            let size = match layers.get(diff) {
                Some(LayerData::InArchive { size, .. } | LayerData::Decompressed { size, .. }) => {
                    *size
                }
                None => 0,
            };
            descs.push((diff.clone(), size));
        }
        let config_digest = Digest::of(&config);
        let manifest = generated_manifest(&config_digest, config.len(), &descs);
        Ok(Self {
            name,
            tar,
            config: config.into(),
            config_digest,
            manifest,
            layers,
            _scratch: scratch,
        })
    }
}

fn decompress_section(
    tar: &TarIndex,
    offset: u64,
    size: u64,
    c: Compression,
    out: &Path,
) -> Result<u64, CopyError> {
    let mut f = std::fs::File::open(&tar.path).map_err(CopyError::io(tar.archive.display()))?;
    f.seek(SeekFrom::Start(offset))
        .map_err(CopyError::io(tar.archive.display()))?;
    let section = std::io::BufReader::new(f.take(size));
    let mut reader: Box<dyn Read> = match c {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(section)),
        _ => Box::new(
            zstd::stream::read::Decoder::with_buffer(section)
                .map_err(CopyError::io(tar.archive.display()))?,
        ),
    };
    let mut w = std::fs::File::create(out).map_err(CopyError::io(out.display()))?;
    let n = std::io::copy(&mut (&mut reader).take(MAX_ARCHIVE_BYTES + 1), &mut w)
        .map_err(CopyError::io(tar.archive.display()))?;
    if n > MAX_ARCHIVE_BYTES {
        return Err(tar_safety::invalid(
            &tar.archive,
            format!("a layer decompresses to more than {MAX_ARCHIVE_BYTES} bytes"),
        ));
    }
    Ok(n)
}

/// The manifest containers/image's `tarfile.Source` generates, as Go's
/// `json.Marshal` of `manifest.Schema2` spells it.
fn generated_manifest(
    config: &Digest,
    config_size: usize,
    layers: &[(Digest, u64)],
) -> RawManifest {
    let layers: Vec<String> = layers
        .iter()
        .map(|(d, size)| {
            format!(r#"{{"mediaType":"{GENERATED_LAYER_TYPE}","size":{size},"digest":"{d}"}}"#)
        })
        .collect();
    let bytes = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","size":{config_size},"digest":"{config}"}},"layers":[{}]}}"#,
        manifest::DOCKER_MANIFEST,
        manifest::DOCKER_CONFIG,
        layers.join(",")
    );
    RawManifest {
        bytes: bytes.into_bytes().into(),
        media_type: manifest::DOCKER_MANIFEST.into(),
    }
}

impl Source for DockerArchiveSource {
    fn name(&self) -> &ImageName {
        &self.name
    }

    fn manifest<'a>(
        &'a self,
        instance: Option<&'a Digest>,
    ) -> BoxFuture<'a, Result<RawManifest, CopyError>> {
        Box::pin(async move {
            match instance {
                None => Ok(self.manifest.clone()),
                Some(_) => Err(CopyError::Unsupported(
                    r#"Manifest lists are not supported by "docker-daemon:""#.into(),
                )),
            }
        })
    }

    fn blob<'a>(&'a self, desc: &'a Descriptor) -> BoxFuture<'a, Result<BlobStream, CopyError>> {
        Box::pin(async move {
            if desc.digest == self.config_digest {
                return Ok(localfs::bytes_stream(self.config.clone()));
            }
            match self.layers.get(&desc.digest) {
                Some(LayerData::InArchive { offset, size }) => {
                    let mut f = tokio::fs::File::open(&self.tar.path)
                        .await
                        .map_err(CopyError::io(self.tar.archive.display()))?;
                    f.seek(SeekFrom::Start(*offset))
                        .await
                        .map_err(CopyError::io(self.tar.archive.display()))?;
                    Ok(localfs::reader_stream(
                        f.take(*size),
                        self.tar.archive.clone(),
                    ))
                }
                Some(LayerData::Decompressed { path, .. }) => {
                    localfs::file_stream(path.clone()).await
                }
                None => Err(CopyError::Io {
                    path: self.tar.archive.display().to_string(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("Unknown blob {}", desc.digest),
                    ),
                }),
            }
        })
    }

    fn signatures<'a>(
        &'a self,
        _digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<Vec<u8>>, CopyError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// A blob staged for the archive: config bytes, or a layer's diff ID.
#[derive(Clone)]
enum Staged {
    Config,
    Layer { diff_id: Digest, size: u64 },
}

/// What `put_manifest` decided the archive holds.
struct Item {
    config: Digest,
    layers: Vec<(Digest, u64)>,
}

/// Writes a docker-archive holding one image.
pub struct DockerArchiveDest {
    name: ImageName,
    target: PathBuf,
    repo_tag: Option<ImageRef>,
    staging: tempfile::TempDir,
    staged: Mutex<HashMap<Digest, Staged>>,
    item: Mutex<Option<Item>>,
}

impl DockerArchiveDest {
    pub fn open(
        name: ImageName,
        archive: &Path,
        reference: Option<&str>,
    ) -> Result<Self, CopyError> {
        let repo_tag = match parse_reference(reference)? {
            Pick::Only => None,
            Pick::Tag(r) => Some(*r),
            Pick::Index(i) => {
                return Err(CopyError::Name(format!(
                    "Destination reference must not contain a manifest index @{i}"
                )))
            }
        };
        match std::fs::metadata(archive) {
            Ok(m) if m.is_file() && m.len() != 0 => {
                return Err(CopyError::Unsupported(format!(
                    "{}: docker-archive doesn't support modifying existing images",
                    archive.display()
                )))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CopyError::io(archive.display())(e)),
        }
        let parent = localfs::parent_dir(archive);
        let staging = tempfile::Builder::new()
            .prefix(".vouch-docker-archive")
            .tempdir_in(&parent)
            .map_err(CopyError::io(parent.display()))?;
        Ok(Self {
            name,
            target: archive.to_path_buf(),
            repo_tag,
            staging,
            staged: Mutex::new(HashMap::new()),
            item: Mutex::new(None),
        })
    }

    fn poisoned() -> CopyError {
        CopyError::Unsupported("docker-archive: state poisoned".into())
    }

    fn config_path(&self, d: &Digest) -> PathBuf {
        self.staging.path().join(format!("{}.json", d.hex()))
    }

    fn layer_path(&self, d: &Digest) -> PathBuf {
        self.staging.path().join(format!("{}.tar", d.hex()))
    }

    async fn stage(&self, desc: &Descriptor, data: BlobStream) -> Result<Staged, CopyError> {
        if matches!(
            desc.media_type.as_str(),
            manifest::DOCKER_CONFIG | manifest::OCI_CONFIG
        ) {
            if desc.size > MAX_CONFIG_BYTES {
                return Err(CopyError::Size {
                    image: self.name.to_string(),
                    digest: desc.digest.clone(),
                    got: desc.size,
                    want: MAX_CONFIG_BYTES,
                });
            }
            localfs::write_stream(self.staging.path(), &self.config_path(&desc.digest), data)
                .await?;
            return Ok(Staged::Config);
        }
        let raw = self
            .staging
            .path()
            .join(format!("raw-{}", desc.digest.hex()));
        localfs::write_stream(self.staging.path(), &raw, data).await?;
        let result = self.decompress_layer(&raw, desc);
        let _ = std::fs::remove_file(&raw);
        result
    }

    /// Stores the layer uncompressed under its diff ID, as containers/image's
    /// `DesiredLayerCompression: Decompress` makes copy do.
    fn decompress_layer(&self, raw: &Path, desc: &Descriptor) -> Result<Staged, CopyError> {
        let (mut reader, _) = tar_safety::open_maybe_compressed(raw)?;
        let tmp = tempfile::Builder::new()
            .prefix(".vouch-layer")
            .tempfile_in(self.staging.path())
            .map_err(CopyError::io(self.staging.path().display()))?;
        let (f, tmp) = tmp.into_parts();
        let mut w = HashingWriter::new(std::io::BufWriter::new(f));
        std::io::copy(&mut (&mut reader).take(MAX_ARCHIVE_BYTES + 1), &mut w)
            .map_err(|e| CopyError::io(format!("layer {}", desc.digest))(e))?;
        let (w, diff_id, size) = w.finish();
        w.into_inner()
            .map_err(|e| CopyError::io(tmp.display())(e.into_error()))?;
        if size > MAX_ARCHIVE_BYTES {
            return Err(CopyError::Unsupported(format!(
                "{}: layer {} decompresses to more than {MAX_ARCHIVE_BYTES} bytes",
                self.name, desc.digest
            )));
        }
        tmp.persist(self.layer_path(&diff_id))
            .map_err(|e| CopyError::io(self.staging.path().display())(e.error))?;
        Ok(Staged::Layer { diff_id, size })
    }

    fn record(&self, m: &RawManifest, instance: bool) -> Result<(), CopyError> {
        if instance
            || matches!(
                m.media_type.as_str(),
                manifest::OCI_INDEX | manifest::DOCKER_LIST
            )
        {
            return Err(CopyError::Unsupported(NO_LISTS.into()));
        }
        if !matches!(
            m.media_type.as_str(),
            manifest::OCI_MANIFEST | manifest::DOCKER_MANIFEST
        ) {
            return Err(CopyError::Unsupported(format!(
                "{}: Unsupported manifest type {}, need a Docker schema 2 manifest",
                self.name, m.media_type
            )));
        }
        let parsed: ImageManifest =
            serde_json::from_slice(&m.bytes).map_err(|e| CopyError::Manifest {
                image: self.name.to_string(),
                source: manifest::ManifestError::Json(e),
            })?;
        if !matches!(
            parsed.config.media_type.as_str(),
            manifest::DOCKER_CONFIG | manifest::OCI_CONFIG
        ) {
            return Err(CopyError::Unsupported(format!(
                "{}: config media type {} is not an image's; a docker-archive holds images only",
                self.name, parsed.config.media_type
            )));
        }
        let staged = self.staged.lock().map_err(|_| Self::poisoned())?;
        let missing =
            |d: &Digest| CopyError::Unsupported(format!("{}: blob {d} was not copied", self.name));
        if !matches!(staged.get(&parsed.config.digest), Some(Staged::Config)) {
            return Err(missing(&parsed.config.digest));
        }
        let mut layers = Vec::new();
        for l in &parsed.layers {
            match staged.get(&l.digest) {
                Some(Staged::Layer { diff_id, size }) => layers.push((diff_id.clone(), *size)),
                _ => return Err(missing(&l.digest)),
            }
        }
        *self.item.lock().map_err(|_| Self::poisoned())? = Some(Item {
            config: parsed.config.digest,
            layers,
        });
        Ok(())
    }

    fn write_archive(&self) -> Result<(), CopyError> {
        let guard = self.item.lock().map_err(|_| Self::poisoned())?;
        let item = guard.as_ref().ok_or_else(|| {
            CopyError::Unsupported(format!("{}: no image was written", self.name))
        })?;
        let config = localfs::read_capped(&self.config_path(&item.config), MAX_CONFIG_BYTES)?;
        let out =
            vouch_image::outfile::OutFile::create(&self.target).map_err(localfs::output_error)?;
        let io = CopyError::io(self.target.display());
        {
            let mut tar = TarOut {
                b: tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, out.file())),
                target: &self.target,
            };
            tar.bytes(&format!("{}.json", item.config.hex()), &config)?;
            let mut sent = std::collections::HashSet::new();
            for (d, _) in &item.layers {
                if sent.insert(d.clone()) {
                    let p = self.layer_path(d);
                    let mut f = std::fs::File::open(&p).map_err(CopyError::io(p.display()))?;
                    let len = f.metadata().map_err(CopyError::io(p.display()))?.len();
                    tar.file(&format!("{}.tar", d.hex()), len, &mut f)?;
                }
            }
            let tags: Vec<String> = self.repo_tag.iter().map(repo_tag).collect();
            let last = legacy_layers(&item.layers, &config, &mut tar)?;
            let manifest = format!(
                r#"[{{"Config":{},"RepoTags":[{}],"Layers":[{}]}}]"#,
                vouch_image::go_json::string(&format!("{}.json", item.config.hex())),
                tags.iter()
                    .map(|t| vouch_image::go_json::string(t))
                    .collect::<Vec<_>>()
                    .join(","),
                item.layers
                    .iter()
                    .map(|(d, _)| vouch_image::go_json::string(&format!("{}.tar", d.hex())))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            tar.bytes("manifest.json", manifest.as_bytes())?;
            let repositories = match (&self.repo_tag, last) {
                (Some(r), Some(id)) => format!(
                    "{{{}:{{{}:{}}}}}",
                    vouch_image::go_json::string(&r.name()),
                    vouch_image::go_json::string(r.tag().unwrap_or("latest")),
                    vouch_image::go_json::string(&id)
                ),
                _ => "{}".to_string(),
            };
            tar.bytes("repositories", repositories.as_bytes())?;
            let mut w = tar.b.into_inner().map_err(io)?;
            w.flush().map_err(CopyError::io(self.target.display()))?;
        }
        out.commit().map_err(localfs::output_error)
    }
}

/// Tar entries as containers/image's `tarfile.Writer` sends them: mode
/// 0444, mtime 0.
struct TarOut<'a, W: Write> {
    b: tar::Builder<W>,
    target: &'a Path,
}

impl<W: Write> TarOut<'_, W> {
    fn header(size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o444);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(size);
        h
    }

    fn bytes(&mut self, name: &str, data: &[u8]) -> Result<(), CopyError> {
        self.file(name, data.len() as u64, &mut &data[..])
    }

    fn file(&mut self, name: &str, size: u64, data: &mut dyn Read) -> Result<(), CopyError> {
        let mut h = Self::header(size);
        h.set_cksum();
        self.b
            .append_data(&mut h, name, data.take(size))
            .map_err(CopyError::io(self.target.display()))
    }

    fn symlink(&mut self, name: &str, target: &str) -> Result<(), CopyError> {
        let mut h = Self::header(0);
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        self.b
            .append_link(&mut h, name, target)
            .map_err(CopyError::io(self.target.display()))
    }
}

/// The raw bytes of each top-level member of the JSON object `doc`, as
/// Go's `map[string]*json.RawMessage` holds them (a later duplicate key
/// wins, as in Go). Malformed input yields what was read so far; the
/// config has already been through the digest check and the engine's parse.
fn top_level_raw(doc: &[u8]) -> HashMap<String, &[u8]> {
    let mut out = HashMap::new();
    let ws = |i: &mut usize| {
        while doc.get(*i).is_some_and(|b| b.is_ascii_whitespace()) {
            *i += 1;
        }
    };
    // The end (exclusive) of the JSON value starting at `i`.
    let value_end = |mut i: usize| -> Option<usize> {
        let mut depth = 0usize;
        let mut in_str = false;
        let mut escaped = false;
        loop {
            let b = *doc.get(i)?;
            i += 1;
            if in_str {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => {
                        in_str = false;
                        if depth == 0 {
                            return Some(i);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                b',' if depth == 0 => return Some(i - 1),
                _ if depth == 0
                    && doc
                        .get(i)
                        .is_none_or(|n| matches!(n, b',' | b'}') || n.is_ascii_whitespace()) =>
                {
                    return Some(i)
                }
                _ => {}
            }
        }
    };
    let mut i = 0;
    ws(&mut i);
    if doc.get(i) != Some(&b'{') {
        return out;
    }
    i += 1;
    loop {
        ws(&mut i);
        if doc.get(i) != Some(&b'"') {
            return out;
        }
        let Some(key_end) = value_end(i) else {
            return out;
        };
        let Some(key) = doc
            .get(i..key_end)
            .and_then(|k| serde_json::from_slice::<String>(k).ok())
        else {
            return out;
        };
        i = key_end;
        ws(&mut i);
        if doc.get(i) != Some(&b':') {
            return out;
        }
        i += 1;
        ws(&mut i);
        let Some(end) = value_end(i) else {
            return out;
        };
        if let Some(v) = doc.get(i..end) {
            out.insert(key, v);
        }
        i = end;
        ws(&mut i);
        if doc.get(i) != Some(&b',') {
            return out;
        }
        i += 1;
    }
}

/// Go's `json.Compact` with HTML escaping, as `json.Marshal` applies it to
/// a `json.RawMessage` (the config values copied into the legacy `json`).
fn go_compact(raw: &[u8]) -> String {
    let mut out = String::new();
    let s = String::from_utf8_lossy(raw);
    let mut in_str = false;
    let mut escaped = false;
    for c in s.chars() {
        if in_str {
            match c {
                _ if escaped => {
                    escaped = false;
                    out.push(c);
                }
                '\\' => {
                    escaped = true;
                    out.push(c);
                }
                '"' => {
                    in_str = false;
                    out.push(c);
                }
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    out.push_str(&format!("\\u{:04x}", u32::from(c)))
                }
                c => out.push(c),
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Writes containers/image's legacy `<id>/` entries; returns the last
/// layer's ID (what `repositories` points at).
fn legacy_layers<W: Write>(
    layers: &[(Digest, u64)],
    config: &[u8],
    tar: &mut TarOut<'_, W>,
) -> Result<Option<String>, CopyError> {
    // The top-level config values, raw, for the last layer's `json`.
    let top = top_level_raw(config);
    let mut chain: Option<String> = None;
    let mut last: Option<String> = None;
    let mut done = std::collections::HashSet::new();
    for (i, (diff, _)) in layers.iter().enumerate() {
        // Go marshals the map with its keys sorted.
        let mut fields: std::collections::BTreeMap<&str, String> =
            std::collections::BTreeMap::new();
        if let Some(p) = &last {
            fields.insert("parent", vouch_image::go_json::string(p));
        }
        if i + 1 == layers.len() {
            for attr in [
                "architecture",
                "config",
                "container",
                "container_config",
                "created",
                "docker_version",
                "os",
            ] {
                let v = top.get(attr).map_or("null".to_string(), |v| go_compact(v));
                fields.insert(attr, v);
            }
        }
        let chain_id = match &chain {
            None => diff.to_string(),
            Some(c) => Digest::of(format!("{c} {diff}").as_bytes()).to_string(),
        };
        chain = Some(chain_id.clone());
        let render = |fields: &std::collections::BTreeMap<&str, String>| {
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}:{v}", vouch_image::go_json::string(k)))
                .collect();
            format!("{{{}}}", body.join(","))
        };
        fields.insert("layer_id", vouch_image::go_json::string(&chain_id));
        let id = Digest::of(render(&fields).as_bytes()).hex().to_string();
        fields.remove("layer_id");
        fields.insert("id", vouch_image::go_json::string(&id));
        if done.insert(id.clone()) {
            tar.symlink(
                &format!("{id}/layer.tar"),
                &format!("../{}.tar", diff.hex()),
            )?;
            tar.bytes(&format!("{id}/VERSION"), b"1.0")?;
            tar.bytes(&format!("{id}/json"), render(&fields).as_bytes())?;
        }
        last = Some(id);
    }
    Ok(last)
}

impl Dest for DockerArchiveDest {
    fn name(&self) -> &ImageName {
        &self.name
    }

    fn has_blob<'a>(&'a self, desc: &'a Descriptor) -> BoxFuture<'a, Result<bool, CopyError>> {
        Box::pin(async move {
            Ok(self
                .staged
                .lock()
                .map_err(|_| Self::poisoned())?
                .contains_key(&desc.digest))
        })
    }

    fn put_blob<'a>(
        &'a self,
        desc: &'a Descriptor,
        data: BlobStream,
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        Box::pin(async move {
            let staged = self.stage(desc, data).await?;
            self.staged
                .lock()
                .map_err(|_| Self::poisoned())?
                .insert(desc.digest.clone(), staged);
            Ok(())
        })
    }

    fn check_signatures(&self) -> Result<(), CopyError> {
        Err(CopyError::Unsupported(NO_SIGNATURES.to_string()))
    }

    fn put_signatures<'a>(
        &'a self,
        _manifest: &'a RawManifest,
        signatures: &'a [Vec<u8>],
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        Box::pin(async move { localfs::no_signatures(signatures, NO_SIGNATURES) })
    }

    fn put_manifest<'a>(
        &'a self,
        manifest: &'a RawManifest,
        instance: bool,
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        Box::pin(async move { self.record(manifest, instance) })
    }

    fn commit(&mut self) -> BoxFuture<'_, Result<(), CopyError>> {
        Box::pin(async move { self.write_archive() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::localfs::test_support::*;
    use vouch_image::chain::OneLine;

    fn name(p: &Path, r: Option<&str>) -> ImageName {
        ImageName::DockerArchive {
            path: p.to_path_buf(),
            reference: r.map(str::to_string),
        }
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    /// An OCI image with a gzip layer: the archive converts it.
    async fn write_oci_gzip(dest: &mut DockerArchiveDest) -> (TinyImage, Vec<u8>) {
        let img = tiny_oci();
        let gz = gzip(&img.layer);
        let mut m: ImageManifest = serde_json::from_slice(&img.manifest.bytes).unwrap();
        m.layers[0] = desc(manifest::OCI_LAYER_GZIP, &gz);
        let raw = RawManifest {
            bytes: serde_json::to_vec(&m).unwrap().into(),
            media_type: manifest::OCI_MANIFEST.into(),
        };
        dest.check_signatures().unwrap_err();
        dest.put_blob(&m.config, stream_of(&img.config))
            .await
            .unwrap();
        let e = dest
            .put_blob(&m.layers[0], failing_stream(&gz))
            .await
            .unwrap_err();
        assert!(e.one_line().contains("boom"), "{e}");
        assert!(!dest.has_blob(&m.layers[0]).await.unwrap());
        dest.put_blob(&m.layers[0], stream_of(&gz)).await.unwrap();
        dest.put_signatures(&raw, &[]).await.unwrap();
        dest.put_manifest(&raw, false).await.unwrap();
        dest.commit().await.unwrap();
        (img, gz)
    }

    #[tokio::test]
    async fn round_trip_converting_oci_and_decompressing() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("img.tar");
        let mut dest =
            DockerArchiveDest::open(name(&a, Some("busybox:v1")), &a, Some("busybox:v1")).unwrap();
        let (img, _) = write_oci_gzip(&mut dest).await;
        drop(dest);
        assert_eq!(files(t.path()), vec!["img.tar".to_string()]);

        let diff = Digest::of(&img.layer);
        let mut entries = HashMap::new();
        let mut ar = tar::Archive::new(std::fs::File::open(&a).unwrap());
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let p = e.path().unwrap().display().to_string();
            let mut b = Vec::new();
            e.read_to_end(&mut b).unwrap();
            entries.insert(p, b);
        }
        let mf = String::from_utf8(entries["manifest.json"].clone()).unwrap();
        assert_eq!(
            mf,
            format!(
                r#"[{{"Config":"{}.json","RepoTags":["docker.io/library/busybox:v1"],"Layers":["{}.tar"]}}]"#,
                Digest::of(&img.config).hex(),
                diff.hex()
            )
        );
        assert_eq!(entries[&format!("{}.tar", diff.hex())], img.layer);
        let repos = String::from_utf8(entries["repositories"].clone()).unwrap();
        assert!(
            repos.starts_with(r#"{"docker.io/library/busybox":{"v1":""#),
            "{repos}"
        );

        for r in [None, Some("busybox:v1"), Some("@0")] {
            let src = DockerArchiveSource::open(name(&a, r), &a, r).unwrap();
            let got = src.manifest(None).await.unwrap();
            assert_eq!(got.media_type, manifest::DOCKER_MANIFEST);
            let m: ImageManifest = serde_json::from_slice(&got.bytes).unwrap();
            assert_eq!(m.layers[0].digest, diff);
            assert_eq!(m.layers[0].media_type, GENERATED_LAYER_TYPE);
            assert_eq!(
                collect(src.blob(&m.layers[0]).await.unwrap()).await,
                img.layer
            );
            assert_eq!(
                collect(src.blob(&m.config).await.unwrap()).await,
                img.config
            );
        }
        let e = DockerArchiveSource::open(name(&a, Some("other:1")), &a, Some("other:1"))
            .err()
            .unwrap()
            .one_line();
        assert!(
            e.contains(r#"Tag "docker.io/library/other:1" not found"#),
            "{e}"
        );

        // An archive is never extended.
        let e = DockerArchiveDest::open(name(&a, None), &a, None)
            .err()
            .unwrap()
            .one_line();
        assert!(
            e.contains("doesn't support modifying existing images"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn signatures_and_lists_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("img.tar");
        let dest = DockerArchiveDest::open(name(&a, None), &a, None).unwrap();
        let img = tiny_oci();
        assert_eq!(
            dest.check_signatures().unwrap_err().one_line(),
            NO_SIGNATURES
        );
        let e = dest
            .put_signatures(&img.manifest, &[b"x".to_vec()])
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), NO_SIGNATURES);
        let e = dest.put_manifest(&img.manifest, true).await.unwrap_err();
        assert_eq!(e.to_string(), NO_LISTS);
    }

    #[test]
    fn traversal_in_manifest_and_links_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("evil.tar");
        let mut b = tar::Builder::new(std::fs::File::create(&a).unwrap());
        let mf = br#"[{"Config":"../../etc/passwd","RepoTags":[],"Layers":[]}]"#;
        let mut h = tar::Header::new_ustar();
        h.set_size(mf.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "manifest.json", &mf[..]).unwrap();
        b.finish().unwrap();
        drop(b);
        let e = DockerArchiveSource::open(name(&a, None), &a, None)
            .err()
            .unwrap()
            .one_line();
        assert!(e.contains("evil.tar") && e.contains(".."), "{e}");

        let mut b = tar::Builder::new(std::fs::File::create(&a).unwrap());
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        b.append_link(&mut h, "manifest.json", "../../etc/passwd")
            .unwrap();
        b.finish().unwrap();
        drop(b);
        let e = DockerArchiveSource::open(name(&a, None), &a, None)
            .err()
            .unwrap()
            .one_line();
        assert!(e.contains("outside the archive"), "{e}");
    }

    #[test]
    fn links_resolve_lexically_and_raw_json_is_kept() {
        assert_eq!(
            resolve_link("abc/layer.tar", "../x.tar").as_deref(),
            Some("x.tar")
        );
        assert_eq!(resolve_link("layer.tar", "../x.tar"), None);
        assert_eq!(resolve_link("a/b", "/etc/passwd"), None);
        let raw = top_level_raw(br#" { "a" : { "x": [1, "}"] } , "b":true,"c":"q\"","d": 12 }"#);
        assert_eq!(raw["a"], br#"{ "x": [1, "}"] }"#);
        assert_eq!(raw["b"], b"true");
        assert_eq!(raw["c"], br#""q\"""#);
        assert_eq!(raw["d"], b"12");
        assert_eq!(
            go_compact(b"{ \"a\" : \"<b> c\" }"),
            r#"{"a":"\u003cb\u003e c"}"#
        );
    }
}

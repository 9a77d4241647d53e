//! The `oci:PATH[:REF]` transport (containers/image `oci/layout/`): an OCI
//! image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) that may
//! hold many images, each named by an `org.opencontainers.image.ref.name`
//! annotation on its `index.json` entry.
//!
//! A destination keeps every other image of an existing layout; the new
//! entry takes over `REF` from whichever entry had it (that entry stays,
//! unnamed) and replaces an unnamed entry with the same digest, as
//! containers/image's `addManifest` does. `index.json` is replaced in one
//! rename at `commit`, so until then the layout's readers see the old image.
//!
//! A layout has no place for signatures: containers/image refuses them
//! with "Pushing signatures for OCI images is not supported".

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use vouch_image::manifest::{self, Descriptor, MAX_MANIFEST_BYTES};
use vouch_image::Digest;

use crate::endpoint::{BlobStream, Dest, RawManifest, Source};
use crate::error::CopyError;
use crate::localfs;
use crate::name::ImageName;

pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containers/image's message for signatures to an OCI layout.
pub const NO_SIGNATURES: &str = "Pushing signatures for OCI images is not supported";
/// containers/image's `ErrMoreThanOneImage`.
pub const MORE_THAN_ONE: &str = "more than one image in oci, choose an image";
pub const LAYOUT_FILE: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;
/// index.json is capped like a manifest.
const MAX_INDEX_BYTES: u64 = MAX_MANIFEST_BYTES as u64;

/// `index.json`: entries are kept as JSON so that fields vouch does not
/// model (urls, artifactType, platform features) survive a rewrite.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexFile {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, serialize_with = "go_order")]
    pub manifests: Vec<serde_json::Value>,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl IndexFile {
    fn empty() -> Self {
        Self {
            schema_version: 2,
            media_type: None,
            manifests: Vec::new(),
            rest: serde_json::Map::new(),
        }
    }

    pub fn read(dir: &Path) -> Result<Self, CopyError> {
        let path = dir.join("index.json");
        let bytes = localfs::read_capped(&path, MAX_INDEX_BYTES)?;
        serde_json::from_slice(&bytes).map_err(|e| CopyError::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
    }

    fn ref_name(entry: &serde_json::Value) -> Option<&str> {
        entry.get("annotations")?.get(REF_NAME)?.as_str()
    }

    /// containers/image `addManifest`.
    fn add(&mut self, entry: serde_json::Value) {
        if let Some(name) = Self::ref_name(&entry)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
        {
            if let Some(old) = self
                .manifests
                .iter_mut()
                .find(|m| Self::ref_name(m) == Some(name.as_str()))
            {
                if let Some(ann) = old.get_mut("annotations").and_then(|a| a.as_object_mut()) {
                    ann.remove(REF_NAME);
                    if ann.is_empty() {
                        if let Some(o) = old.as_object_mut() {
                            o.remove("annotations");
                        }
                    }
                }
            }
        }
        let digest = entry.get("digest").cloned();
        if let Some(same) = self.manifests.iter_mut().find(|m| {
            m.get("digest") == digest.as_ref() && Self::ref_name(m).is_none_or(str::is_empty)
        }) {
            *same = entry;
            return;
        }
        self.manifests.push(entry);
    }
}

/// Descriptor fields in the order of containers/image's Go structs
/// (image-spec `Descriptor`, `Platform`), so a rewritten index.json reads
/// as skopeo would have written it; fields Go does not know follow.
const DESCRIPTOR_ORDER: &[&str] = &[
    "mediaType",
    "digest",
    "size",
    "urls",
    "annotations",
    "data",
    "platform",
    "artifactType",
];
const PLATFORM_ORDER: &[&str] = &[
    "architecture",
    "os",
    "os.version",
    "os.features",
    "variant",
    "features",
];

struct Ordered<'a>(&'a serde_json::Value, &'static [&'static str]);

impl Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(obj) = self.0.as_object() else {
            return self.0.serialize(s);
        };
        let mut m = s.serialize_map(Some(obj.len()))?;
        let known = self.1.iter().filter_map(|k| obj.get_key_value(*k));
        let rest = obj.iter().filter(|(k, _)| !self.1.contains(&k.as_str()));
        for (k, v) in known.chain(rest) {
            if k == "platform" && self.1 == DESCRIPTOR_ORDER {
                m.serialize_entry(k, &Ordered(v, PLATFORM_ORDER))?;
            } else {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

fn go_order<S: serde::Serializer>(v: &[serde_json::Value], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|e| Ordered(e, DESCRIPTOR_ORDER)))
}

pub fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs/sha256").join(digest.hex())
}

/// The descriptor `reference` names (or the only one), as
/// containers/image's `getManifestDescriptor` resolves it.
fn resolve(
    index: &IndexFile,
    reference: Option<&str>,
    dir: &Path,
) -> Result<Descriptor, CopyError> {
    let bad = |what: String| CopyError::Io {
        path: dir.join("index.json").display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, what),
    };
    let parse = |v: &serde_json::Value| -> Result<Descriptor, CopyError> {
        serde_json::from_value(v.clone())
            .map_err(|e| bad(format!("invalid manifest descriptor: {e}")))
    };
    match reference {
        Some(r) => {
            let mut unsupported = Vec::new();
            for m in &index.manifests {
                if IndexFile::ref_name(m) != Some(r) {
                    continue;
                }
                let mt = m.get("mediaType").and_then(|v| v.as_str()).unwrap_or("");
                if manifest::ACCEPTED.contains(&mt) {
                    return parse(m);
                }
                unsupported.push(mt.to_string());
            }
            if !unsupported.is_empty() {
                return Err(CopyError::Unsupported(format!(
                    "reference {r:?} matches unsupported manifest MIME types {unsupported:?}"
                )));
            }
            Err(CopyError::Name(format!(
                "no descriptor found for reference {r:?}"
            )))
        }
        None => match index.manifests.as_slice() {
            [only] => parse(only),
            _ => Err(CopyError::Name(MORE_THAN_ONE.to_string())),
        },
    }
}

/// Reads one image of an OCI layout.
pub struct OciSource {
    name: ImageName,
    dir: PathBuf,
    index: IndexFile,
    top: Descriptor,
}

impl OciSource {
    pub fn open(name: ImageName, dir: &Path, reference: Option<&str>) -> Result<Self, CopyError> {
        let index = IndexFile::read(dir)?;
        let top = resolve(&index, reference, dir)?;
        Ok(Self {
            name,
            dir: dir.to_path_buf(),
            index,
            top,
        })
    }

    fn read_manifest(&self, instance: Option<&Digest>) -> Result<RawManifest, CopyError> {
        let (digest, listed_type) = match instance {
            None => (&self.top.digest, Some(self.top.media_type.clone())),
            Some(d) => {
                let mt = self
                    .index
                    .manifests
                    .iter()
                    .find(|m| {
                        m.get("digest").and_then(|v| v.as_str()) == Some(d.to_string().as_str())
                    })
                    .and_then(|m| m.get("mediaType")?.as_str().map(str::to_string));
                (d, mt)
            }
        };
        let path = blob_path(&self.dir, digest);
        let bytes = localfs::read_capped(&path, MAX_MANIFEST_BYTES as u64)?;
        let got = Digest::of(&bytes);
        if &got != digest {
            return Err(CopyError::Io {
                path: path.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("manifest digest is {got}, expected {digest}"),
                ),
            });
        }
        let media_type = match listed_type.filter(|t| !t.is_empty()) {
            Some(t) => t,
            None => {
                manifest::media_type_of(&bytes, None).map_err(|source| CopyError::Manifest {
                    image: path.display().to_string(),
                    source,
                })?
            }
        };
        Ok(RawManifest {
            bytes: bytes.into(),
            media_type,
        })
    }
}

impl Source for OciSource {
    fn name(&self) -> &ImageName {
        &self.name
    }

    fn manifest<'a>(
        &'a self,
        instance: Option<&'a Digest>,
    ) -> BoxFuture<'a, Result<RawManifest, CopyError>> {
        Box::pin(async move { self.read_manifest(instance) })
    }

    fn blob<'a>(&'a self, desc: &'a Descriptor) -> BoxFuture<'a, Result<BlobStream, CopyError>> {
        Box::pin(localfs::file_stream(blob_path(&self.dir, &desc.digest)))
    }

    fn signatures<'a>(
        &'a self,
        _digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<Vec<u8>>, CopyError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// A new index.json entry, in containers/image's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    media_type: &'a str,
    digest: String,
    size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<std::collections::BTreeMap<&'static str, &'a str>>,
}

/// Writes one image into an OCI layout.
pub struct OciDest {
    name: ImageName,
    dir: PathBuf,
    reference: Option<String>,
    index: Mutex<IndexFile>,
}

impl OciDest {
    pub fn open(name: ImageName, dir: &Path, reference: Option<&str>) -> Result<Self, CopyError> {
        let index = match std::fs::symlink_metadata(dir.join("index.json")) {
            Ok(_) => IndexFile::read(dir)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => IndexFile::empty(),
            Err(e) => return Err(CopyError::io(dir.join("index.json").display())(e)),
        };
        Ok(Self {
            name,
            dir: dir.to_path_buf(),
            reference: reference.map(str::to_string),
            index: Mutex::new(index),
        })
    }

    /// Creates the layout's directories at the first write, so a copy
    /// refused before any byte moves leaves no empty layout behind.
    fn ensure_dirs(&self) -> Result<(), CopyError> {
        let blobs = self.dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).map_err(CopyError::io(blobs.display()))
    }

    /// The layout's directory (an oci-archive stages in one).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// containers/image converts other types to OCI (rewriting the config,
    /// so every digest changes); vouch refuses them instead.
    fn check_type(&self, media_type: &str) -> Result<(), CopyError> {
        if matches!(media_type, manifest::OCI_MANIFEST | manifest::OCI_INDEX) {
            return Ok(());
        }
        Err(CopyError::Unsupported(format!(
            "{}: an OCI layout stores OCI manifests; {media_type} would need a format conversion, which vouch does not do",
            self.name
        )))
    }

    fn record(&self, m: &RawManifest, instance: bool) -> Result<(), CopyError> {
        self.check_type(&m.media_type)?;
        let digest = m.digest();
        let path = blob_path(&self.dir, &digest);
        self.ensure_dirs()?;
        localfs::write_atomic(&path, &m.bytes)?;
        if instance {
            return Ok(());
        }
        let entry = Entry {
            media_type: &m.media_type,
            digest: digest.to_string(),
            size: m.bytes.len(),
            annotations: self
                .reference
                .as_deref()
                .map(|r| [(REF_NAME, r)].into_iter().collect()),
        };
        let entry = serde_json::to_value(&entry).map_err(|e| CopyError::Io {
            path: self.dir.join("index.json").display().to_string(),
            source: std::io::Error::other(e),
        })?;
        self.index
            .lock()
            .map_err(|_| CopyError::Unsupported("oci: index state poisoned".into()))?
            .add(entry);
        Ok(())
    }

    /// Writes `oci-layout` and `index.json` (each by a rename).
    pub fn write_index(&self) -> Result<(), CopyError> {
        self.ensure_dirs()?;
        localfs::write_atomic(&self.dir.join("oci-layout"), LAYOUT_FILE.as_bytes())?;
        let index = self
            .index
            .lock()
            .map_err(|_| CopyError::Unsupported("oci: index state poisoned".into()))?;
        let bytes = serde_json::to_vec(&*index).map_err(|e| CopyError::Io {
            path: self.dir.join("index.json").display().to_string(),
            source: std::io::Error::other(e),
        })?;
        localfs::write_atomic(&self.dir.join("index.json"), &bytes)
    }
}

impl Dest for OciDest {
    fn name(&self) -> &ImageName {
        &self.name
    }

    fn has_blob<'a>(&'a self, desc: &'a Descriptor) -> BoxFuture<'a, Result<bool, CopyError>> {
        Box::pin(async move {
            localfs::has_file_of_size(&blob_path(&self.dir, &desc.digest), desc.size)
        })
    }

    fn put_blob<'a>(
        &'a self,
        desc: &'a Descriptor,
        data: BlobStream,
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        Box::pin(async move {
            let path = blob_path(&self.dir, &desc.digest);
            self.ensure_dirs()?;
            localfs::write_stream(&self.dir, &path, data).await?;
            Ok(())
        })
    }

    fn check_signatures(&self) -> Result<(), CopyError> {
        Err(CopyError::Unsupported(NO_SIGNATURES.to_string()))
    }

    fn check_manifest_type(&self, media_type: &str) -> Result<(), CopyError> {
        self.check_type(media_type)
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
        Box::pin(async move { self.write_index() })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::localfs::test_support::*;
    use vouch_image::chain::OneLine;

    fn name(p: &Path, r: Option<&str>) -> ImageName {
        ImageName::Oci {
            path: p.to_path_buf(),
            reference: r.map(str::to_string),
        }
    }

    pub(crate) async fn write_tiny(dest: &mut dyn Dest, img: &TinyImage) {
        let m: vouch_image::manifest::ImageManifest =
            serde_json::from_slice(&img.manifest.bytes).unwrap();
        dest.check_signatures().unwrap_err();
        dest.put_blob(&m.config, stream_of(&img.config))
            .await
            .unwrap();
        dest.put_blob(&m.layers[0], stream_of(&img.layer))
            .await
            .unwrap();
        dest.put_signatures(&img.manifest, &[]).await.unwrap();
        dest.put_manifest(&img.manifest, false).await.unwrap();
        dest.commit().await.unwrap();
    }

    #[tokio::test]
    async fn round_trip_and_containers_image_index_semantics() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("lay");
        let img = tiny_oci();
        let mut dest = OciDest::open(name(&d, Some("v1")), &d, Some("v1")).unwrap();
        assert!(!d.join("index.json").exists());
        write_tiny(&mut dest, &img).await;
        assert_eq!(
            std::fs::read_to_string(d.join("oci-layout")).unwrap(),
            LAYOUT_FILE
        );
        let index = std::fs::read_to_string(d.join("index.json")).unwrap();
        assert_eq!(
            index,
            format!(
                r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{}","size":{},"annotations":{{"{REF_NAME}":"v1"}}}}]}}"#,
                manifest::OCI_MANIFEST,
                img.manifest.digest(),
                img.manifest.bytes.len()
            )
        );

        let src = OciSource::open(name(&d, Some("v1")), &d, Some("v1")).unwrap();
        let got = src.manifest(None).await.unwrap();
        assert_eq!(got.bytes, img.manifest.bytes);
        let m: vouch_image::manifest::ImageManifest = serde_json::from_slice(&got.bytes).unwrap();
        assert_eq!(
            collect(src.blob(&m.config).await.unwrap()).await,
            img.config
        );
        assert!(src.signatures(&got.digest()).await.unwrap().is_empty());
        // The only image is found without a reference.
        OciSource::open(name(&d, None), &d, None).unwrap();

        // A second name keeps the first image; the same name again moves it.
        let mut dest = OciDest::open(name(&d, Some("v2")), &d, Some("v2")).unwrap();
        write_tiny(&mut dest, &img).await;
        let idx = IndexFile::read(&d).unwrap();
        assert_eq!(idx.manifests.len(), 2);
        let e = OciSource::open(name(&d, None), &d, None).err().unwrap();
        assert_eq!(e.to_string(), MORE_THAN_ONE);
        let e = OciSource::open(name(&d, Some("nope")), &d, Some("nope"))
            .err()
            .unwrap();
        assert_eq!(e.to_string(), r#"no descriptor found for reference "nope""#);

        // v1 moved to another image: the old entry stays, unnamed.
        let mut other = tiny_oci();
        let mut v: serde_json::Value = serde_json::from_slice(&other.manifest.bytes).unwrap();
        v["annotations"] = serde_json::json!({"x": "y"});
        other.manifest.bytes = serde_json::to_vec(&v).unwrap().into();
        let mut dest = OciDest::open(name(&d, Some("v1")), &d, Some("v1")).unwrap();
        write_tiny(&mut dest, &other).await;
        let idx = IndexFile::read(&d).unwrap();
        let names: Vec<_> = idx.manifests.iter().map(IndexFile::ref_name).collect();
        assert_eq!(names, vec![None, Some("v2"), Some("v1")]);
        assert!(idx.manifests[0].get("annotations").is_none());
        // Named again: the unnamed entry with that digest takes the name
        // instead of a duplicate being added.
        let mut dest = OciDest::open(name(&d, Some("v3")), &d, Some("v3")).unwrap();
        write_tiny(&mut dest, &img).await;
        let idx = IndexFile::read(&d).unwrap();
        let names: Vec<_> = idx.manifests.iter().map(IndexFile::ref_name).collect();
        assert_eq!(names, vec![Some("v3"), Some("v2"), Some("v1")]);
    }

    #[tokio::test]
    async fn a_list_is_named_and_its_instances_are_blobs_only() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let img = tiny_oci();
        let list = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest::OCI_INDEX,
            "manifests": [desc(manifest::OCI_MANIFEST, &img.manifest.bytes)],
        });
        let list = RawManifest {
            bytes: serde_json::to_vec(&list).unwrap().into(),
            media_type: manifest::OCI_INDEX.into(),
        };
        let mut dest = OciDest::open(name(d, Some("multi")), d, Some("multi")).unwrap();
        dest.put_manifest(&img.manifest, true).await.unwrap();
        dest.put_manifest(&list, false).await.unwrap();
        dest.commit().await.unwrap();
        let idx = IndexFile::read(d).unwrap();
        assert_eq!(idx.manifests.len(), 1);
        assert_eq!(idx.manifests[0]["mediaType"], manifest::OCI_INDEX);

        let src = OciSource::open(name(d, Some("multi")), d, Some("multi")).unwrap();
        assert_eq!(src.manifest(None).await.unwrap().bytes, list.bytes);
        let inst = src.manifest(Some(&img.manifest.digest())).await.unwrap();
        assert_eq!(inst.bytes, img.manifest.bytes);
        assert_eq!(inst.media_type, manifest::OCI_MANIFEST);
    }

    #[tokio::test]
    async fn signatures_are_refused_with_containers_image_words() {
        let t = tempfile::tempdir().unwrap();
        let img = tiny_oci();
        let dest = OciDest::open(name(t.path(), None), t.path(), None).unwrap();
        assert_eq!(
            dest.check_signatures().unwrap_err().one_line(),
            NO_SIGNATURES
        );
        let e = dest
            .put_signatures(&img.manifest, &[b"x".to_vec()])
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), NO_SIGNATURES);
        let e = dest
            .check_manifest_type(manifest::DOCKER_MANIFEST)
            .unwrap_err()
            .one_line();
        assert!(e.contains("stores OCI manifests"), "{e}");
        dest.check_manifest_type(manifest::OCI_INDEX).unwrap();
    }

    #[tokio::test]
    async fn nothing_is_visible_before_commit_and_failed_blobs_vanish() {
        let t = tempfile::tempdir().unwrap();
        let img = tiny_oci();
        let dest = OciDest::open(name(t.path(), None), t.path(), None).unwrap();
        let e = dest
            .put_blob(&desc("x", &img.layer), failing_stream(&img.layer))
            .await
            .unwrap_err();
        assert!(e.one_line().contains("boom"), "{e}");
        dest.put_manifest(&img.manifest, false).await.unwrap();
        assert_eq!(
            files(t.path()),
            vec![format!("blobs/sha256/{}", img.manifest.digest().hex())]
        );
    }

    #[tokio::test]
    async fn a_manifest_not_matching_its_descriptor_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let img = tiny_oci();
        let mut dest = OciDest::open(name(t.path(), None), t.path(), None).unwrap();
        write_tiny(&mut dest, &img).await;
        std::fs::write(blob_path(t.path(), &img.manifest.digest()), b"{}").unwrap();
        let src = OciSource::open(name(t.path(), None), t.path(), None).unwrap();
        let e = src.manifest(None).await.unwrap_err().one_line();
        assert!(e.contains("blobs/sha256/") && e.contains("expected"), "{e}");
    }
}

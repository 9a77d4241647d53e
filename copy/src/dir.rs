//! The `dir:` transport (containers/image `directory/`): one image per
//! directory, laid out as
//!
//! - `version`: `Directory Transport Version: 1.1\n`
//! - `manifest.json`, and `<hex>.manifest.json` per instance of a list;
//! - `<hex>`: each blob, named by the hex of its sha256 digest;
//! - `signature-1..N`, and `<hex>.signature-1..N` for instances: each
//!   signature blob as containers/image stores it (OpenPGP bytes as is, a
//!   sigstore signature as `\0sigstore-json\n` + JSON).
//!
//! A destination directory must be empty, missing, or already a `dir:`
//! image (its `version` file says so); the old image is then removed, as
//! containers/image does, so one directory never mixes two images.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures_util::future::BoxFuture;
use vouch_image::manifest::{self, Descriptor, MAX_MANIFEST_BYTES};
use vouch_image::sigstore_blob::BUNDLE_BLOB_PREFIX;
use vouch_image::Digest;

use crate::endpoint::{BlobStream, Dest, RawManifest, Source};
use crate::error::CopyError;
use crate::localfs;
use crate::name::ImageName;

pub const VERSION: &str = "Directory Transport Version: 1.1\n";
/// containers/image's `ErrNotContainerImageDir`.
pub const NOT_IMAGE_DIR: &str =
    "not a containers image directory, don't want to overwrite important data";
/// Each signature file is capped like a manifest.
pub const MAX_SIGNATURE_BYTES: u64 = 4 << 20;
/// More signatures than any real image carries; a directory with more is
/// refused rather than read without end.
pub const MAX_SIGNATURES: usize = 256;

fn manifest_path(dir: &Path, instance: Option<&Digest>) -> PathBuf {
    match instance {
        Some(d) => dir.join(format!("{}.manifest.json", d.hex())),
        None => dir.join("manifest.json"),
    }
}

fn signature_path(dir: &Path, index: usize, instance: Option<&Digest>) -> PathBuf {
    match instance {
        Some(d) => dir.join(format!("{}.signature-{}", d.hex(), index + 1)),
        None => dir.join(format!("signature-{}", index + 1)),
    }
}

fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join(digest.hex())
}

/// Reads a `dir:` image.
pub struct DirSource {
    name: ImageName,
    dir: PathBuf,
}

impl DirSource {
    pub fn open(name: ImageName, dir: &Path) -> Result<Self, CopyError> {
        let meta = std::fs::metadata(dir).map_err(CopyError::io(dir.display()))?;
        if !meta.is_dir() {
            return Err(CopyError::Io {
                path: dir.display().to_string(),
                source: std::io::Error::other("not a directory"),
            });
        }
        Ok(Self {
            name,
            dir: dir.to_path_buf(),
        })
    }

    fn read_manifest(&self, instance: Option<&Digest>) -> Result<RawManifest, CopyError> {
        let path = manifest_path(&self.dir, instance);
        let bytes = localfs::read_capped(&path, MAX_MANIFEST_BYTES as u64)?;
        if let Some(want) = instance {
            let got = Digest::of(&bytes);
            if &got != want {
                return Err(CopyError::Io {
                    path: path.display().to_string(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("manifest digest is {got}, expected {want}"),
                    ),
                });
            }
        }
        let media_type =
            manifest::media_type_of(&bytes, None).map_err(|source| CopyError::Manifest {
                image: path.display().to_string(),
                source,
            })?;
        Ok(RawManifest {
            bytes: bytes.into(),
            media_type,
        })
    }

    fn read_signatures(&self, digest: &Digest) -> Result<Vec<Vec<u8>>, CopyError> {
        // The top-level manifest's signatures are `signature-N`; any other
        // digest is an instance of the list stored there.
        let top =
            localfs::read_capped_opt(&manifest_path(&self.dir, None), MAX_MANIFEST_BYTES as u64)?;
        let instance = match top {
            Some(b) if &Digest::of(&b) == digest => None,
            _ => Some(digest),
        };
        let mut out = Vec::new();
        for i in 0.. {
            let path = signature_path(&self.dir, i, instance);
            let Some(sig) = localfs::read_capped_opt(&path, MAX_SIGNATURE_BYTES)? else {
                break;
            };
            if i >= MAX_SIGNATURES {
                return Err(CopyError::Signatures {
                    image: self.name.to_string(),
                    detail: format!("more than {MAX_SIGNATURES} signatures ({})", path.display()),
                });
            }
            if sig.is_empty() {
                return Err(CopyError::Signatures {
                    image: self.name.to_string(),
                    detail: format!(
                        "parsing signature {:?}: empty signature blob",
                        path.display().to_string()
                    ),
                });
            }
            out.push(sig);
        }
        Ok(out)
    }
}

impl Source for DirSource {
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
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<Vec<u8>>, CopyError>> {
        Box::pin(async move { self.read_signatures(digest) })
    }
}

/// Writes a `dir:` image.
pub struct DirDest {
    name: ImageName,
    dir: PathBuf,
    /// Signatures by manifest digest, written next to their manifest once
    /// `put_manifest` says whether it is the top level or an instance.
    pending: Mutex<HashMap<Digest, Vec<Vec<u8>>>>,
    /// Manifests already written, and whether each is an instance, so
    /// signatures that arrive late are still written beside them.
    written: Mutex<HashMap<Digest, bool>>,
    /// `Some(wipe)` until the directory has been prepared for writing.
    prepared: Mutex<Option<bool>>,
}

impl DirDest {
    /// Checks `dir` as containers/image does: missing, empty, or holding a
    /// `dir:` image, refused otherwise. Nothing changes on disk until the
    /// first write ([`DirDest::prepare`]), so a copy refused before any
    /// byte moves (unstorable signatures) leaves an old image intact.
    pub fn open(name: ImageName, dir: &Path) -> Result<Self, CopyError> {
        let wipe = match std::fs::read_dir(dir) {
            Ok(mut entries) => {
                let non_empty = entries.next().is_some();
                if non_empty {
                    let version_path = dir.join("version");
                    match localfs::read_capped_opt(&version_path, 4096)? {
                        Some(v) if v == VERSION.as_bytes() => {}
                        _ => {
                            return Err(CopyError::Io {
                                path: dir.display().to_string(),
                                source: std::io::Error::other(NOT_IMAGE_DIR),
                            })
                        }
                    }
                }
                non_empty
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(CopyError::io(dir.display())(e)),
        };
        Ok(Self {
            name,
            dir: dir.to_path_buf(),
            pending: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
            prepared: Mutex::new(Some(wipe)),
        })
    }

    /// Before the first write: removes the old image (so one directory
    /// never mixes two), creates the directory, writes `version`.
    fn prepare(&self) -> Result<(), CopyError> {
        let mut state = self.prepared.lock().map_err(|_| poisoned())?;
        let Some(wipe) = *state else {
            return Ok(());
        };
        let dir = &self.dir;
        if wipe {
            for e in std::fs::read_dir(dir).map_err(CopyError::io(dir.display()))? {
                let e = e.map_err(CopyError::io(dir.display()))?;
                let p = e.path();
                let is_dir = e.file_type().map_err(CopyError::io(p.display()))?.is_dir();
                let r = if is_dir {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
                r.map_err(CopyError::io(p.display()))?;
            }
        }
        std::fs::create_dir_all(dir).map_err(CopyError::io(dir.display()))?;
        localfs::write_atomic(&dir.join("version"), VERSION.as_bytes())?;
        *state = None;
        Ok(())
    }

    fn write_signatures(&self, sigs: &[Vec<u8>], at: Option<&Digest>) -> Result<(), CopyError> {
        self.prepare()?;
        for (i, sig) in sigs.iter().enumerate() {
            localfs::write_atomic(&signature_path(&self.dir, i, at), sig)?;
        }
        Ok(())
    }

    fn write_manifest(&self, m: &RawManifest, instance: bool) -> Result<(), CopyError> {
        let digest = m.digest();
        let at = instance.then_some(&digest);
        let sigs = self
            .pending
            .lock()
            .map_err(|_| poisoned())?
            .remove(&digest)
            .unwrap_or_default();
        self.write_signatures(&sigs, at)?;
        self.prepare()?;
        localfs::write_atomic(&manifest_path(&self.dir, at), &m.bytes)?;
        self.written
            .lock()
            .map_err(|_| poisoned())?
            .insert(digest, instance);
        Ok(())
    }

    /// A Sigstore bundle has no `signature-N` form containers/image reads.
    fn check_kinds(&self, signatures: &[Vec<u8>]) -> Result<(), CopyError> {
        if signatures.iter().any(|s| s.starts_with(BUNDLE_BLOB_PREFIX)) {
            return Err(CopyError::Unsupported(format!(
                "{}: Sigstore bundles cannot be stored in a dir: image (containers/image has no signature-N format for them); use --remove-signatures",
                self.name
            )));
        }
        Ok(())
    }

    fn stage_signatures(&self, m: &RawManifest, sigs: &[Vec<u8>]) -> Result<(), CopyError> {
        let digest = m.digest();
        let written = self
            .written
            .lock()
            .map_err(|_| poisoned())?
            .get(&digest)
            .copied();
        match written {
            Some(instance) => self.write_signatures(sigs, instance.then_some(&digest)),
            None => {
                self.pending
                    .lock()
                    .map_err(|_| poisoned())?
                    .insert(digest, sigs.to_vec());
                Ok(())
            }
        }
    }
}

fn poisoned() -> CopyError {
    CopyError::Unsupported("dir: destination state poisoned".into())
}

impl Dest for DirDest {
    fn name(&self) -> &ImageName {
        &self.name
    }

    fn has_blob<'a>(&'a self, desc: &'a Descriptor) -> BoxFuture<'a, Result<bool, CopyError>> {
        Box::pin(async move {
            self.prepare()?;
            localfs::has_file_of_size(&blob_path(&self.dir, &desc.digest), desc.size)
        })
    }

    fn put_blob<'a>(
        &'a self,
        desc: &'a Descriptor,
        data: BlobStream,
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        Box::pin(async move {
            self.prepare()?;
            localfs::write_stream(&self.dir, &blob_path(&self.dir, &desc.digest), data).await?;
            Ok(())
        })
    }

    fn check_signature_kinds(&self, signatures: &[Vec<u8>]) -> Result<(), CopyError> {
        self.check_kinds(signatures)
    }

    fn put_signatures<'a>(
        &'a self,
        manifest: &'a RawManifest,
        signatures: &'a [Vec<u8>],
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        Box::pin(async move {
            self.check_kinds(signatures)?;
            if signatures.iter().any(|s| s.is_empty()) {
                return Err(CopyError::Signatures {
                    image: self.name.to_string(),
                    detail: "empty signature blob".into(),
                });
            }
            self.stage_signatures(manifest, signatures)
        })
    }

    fn put_manifest<'a>(
        &'a self,
        manifest: &'a RawManifest,
        instance: bool,
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        Box::pin(async move { self.write_manifest(manifest, instance) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::localfs::test_support::*;
    use vouch_image::chain::OneLine;

    fn name(p: &Path) -> ImageName {
        ImageName::Dir(p.to_path_buf())
    }

    #[tokio::test]
    async fn round_trip_with_signatures_in_containers_image_layout() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("img");
        let img = tiny_oci();
        let dest = DirDest::open(name(&d), &d).unwrap();
        let m: vouch_image::manifest::ImageManifest =
            serde_json::from_slice(&img.manifest.bytes).unwrap();
        dest.put_blob(&m.config, stream_of(&img.config))
            .await
            .unwrap();
        dest.put_blob(&m.layers[0], stream_of(&img.layer))
            .await
            .unwrap();
        let sigs = vec![b"\x89openpgp".to_vec(), b"\0sigstore-json\n{}".to_vec()];
        dest.put_signatures(&img.manifest, &sigs).await.unwrap();
        dest.put_manifest(&img.manifest, false).await.unwrap();

        let mut want = vec![
            "manifest.json".to_string(),
            "signature-1".into(),
            "signature-2".into(),
            "version".into(),
            m.config.digest.hex().into(),
            m.layers[0].digest.hex().into(),
        ];
        want.sort();
        assert_eq!(files(&d), want);
        assert_eq!(
            std::fs::read(d.join("version")).unwrap(),
            VERSION.as_bytes()
        );
        assert_eq!(std::fs::read(d.join("signature-2")).unwrap(), sigs[1]);

        let src = DirSource::open(name(&d), &d).unwrap();
        let got = src.manifest(None).await.unwrap();
        assert_eq!(got.bytes, img.manifest.bytes);
        assert_eq!(got.media_type, vouch_image::manifest::OCI_MANIFEST);
        assert_eq!(
            collect(src.blob(&m.layers[0]).await.unwrap()).await,
            img.layer
        );
        assert_eq!(src.signatures(&got.digest()).await.unwrap(), sigs);
        assert!(dest.has_blob(&m.config).await.unwrap());
    }

    #[tokio::test]
    async fn instances_get_hex_named_manifests_and_signatures() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("img");
        let img = tiny_oci();
        let dest = DirDest::open(name(&d), &d).unwrap();
        dest.put_signatures(&img.manifest, &[b"\x89a".to_vec()])
            .await
            .unwrap();
        dest.put_manifest(&img.manifest, true).await.unwrap();
        let hex = img.manifest.digest().hex().to_string();
        assert!(d.join(format!("{hex}.manifest.json")).is_file());
        assert!(d.join(format!("{hex}.signature-1")).is_file());
        let src = DirSource::open(name(&d), &d).unwrap();
        let got = src.manifest(Some(&img.manifest.digest())).await.unwrap();
        assert_eq!(got.bytes, img.manifest.bytes);
        assert_eq!(
            src.signatures(&img.manifest.digest()).await.unwrap().len(),
            1
        );
    }

    #[tokio::test]
    async fn signatures_after_the_manifest_are_still_written() {
        let t = tempfile::tempdir().unwrap();
        let img = tiny_oci();
        let dest = DirDest::open(name(t.path()), t.path()).unwrap();
        dest.put_manifest(&img.manifest, false).await.unwrap();
        dest.put_signatures(&img.manifest, &[b"\x89late".to_vec()])
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(t.path().join("signature-1")).unwrap(),
            b"\x89late"
        );
    }

    #[test]
    fn bundles_are_refused_before_anything_is_copied() {
        let t = tempfile::tempdir().unwrap();
        let dest = DirDest::open(name(t.path()), t.path()).unwrap();
        let mut bundle = BUNDLE_BLOB_PREFIX.to_vec();
        bundle.extend_from_slice(b"{}");
        let e = dest
            .check_signature_kinds(&[bundle])
            .unwrap_err()
            .one_line();
        assert!(
            e.contains("Sigstore bundles") && e.contains("--remove-signatures"),
            "{e}"
        );
        dest.check_signature_kinds(&[b"\x89".to_vec()]).unwrap();
    }

    #[tokio::test]
    async fn a_failing_stream_leaves_no_blob() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("img");
        let img = tiny_oci();
        let dest = DirDest::open(name(&d), &d).unwrap();
        let desc = desc("x", &img.layer);
        let e = dest
            .put_blob(&desc, failing_stream(&img.layer))
            .await
            .unwrap_err();
        assert!(e.one_line().contains("boom"), "{e}");
        assert_eq!(files(&d), vec!["version".to_string()]);
    }

    #[tokio::test]
    async fn destination_rules_follow_containers_image() {
        let t = tempfile::tempdir().unwrap();
        let other = t.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("precious"), b"x").unwrap();
        let e = DirDest::open(name(&other), &other)
            .err()
            .unwrap()
            .one_line();
        assert!(e.contains(NOT_IMAGE_DIR) && e.contains("other"), "{e}");
        assert!(other.join("precious").exists());

        let old = t.path().join("old");
        std::fs::create_dir(&old).unwrap();
        std::fs::write(old.join("version"), VERSION).unwrap();
        std::fs::write(old.join("signature-1"), b"stale").unwrap();
        let dest = DirDest::open(name(&old), &old).unwrap();
        // Nothing changes until the first write.
        assert_eq!(
            files(&old),
            vec!["signature-1".to_string(), "version".into()]
        );
        let img = tiny_oci();
        dest.put_manifest(&img.manifest, false).await.unwrap();
        assert_eq!(
            files(&old),
            vec!["manifest.json".to_string(), "version".into()]
        );
        let missing = t.path().join("missing");
        DirDest::open(name(&missing), &missing).unwrap();
        assert!(!missing.exists());
    }

    #[tokio::test]
    async fn bad_sources_are_refused_naming_the_file() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::write(d.join("manifest.json"), vec![b' '; MAX_MANIFEST_BYTES + 1]).unwrap();
        let src = DirSource::open(name(d), d).unwrap();
        let e = src.manifest(None).await.unwrap_err().one_line();
        assert!(e.contains("manifest.json") && e.contains("limit"), "{e}");
        let other = Digest::of(b"x");
        std::fs::write(d.join(format!("{}.manifest.json", other.hex())), b"{}").unwrap();
        let e = src.manifest(Some(&other)).await.unwrap_err().one_line();
        assert!(
            e.contains(".manifest.json") && e.contains("expected"),
            "{e}"
        );
    }
}

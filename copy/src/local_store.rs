//! `vouch-store:NAME`: vouch's own image store at either end. As a source
//! it yields the stored manifest, blobs and the signatures a pull kept; as
//! a destination it stages blobs, unpacks layers and commits the record
//! last, under the store's lock, so a killed copy leaves only staging.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use vouch_image::manifest::{self, Descriptor, ImageConfig, Parsed};
use vouch_image::store::{LayerRecord, Staging as StoreStaging, Store};
use vouch_image::{apply, lists, Digest, ImageRecord, ImageRef};

use crate::endpoint::{BlobStream, Dest, RawManifest, Source};
use crate::error::CopyError;
use crate::localfs;
use crate::name::ImageName;

/// Signature blobs a store keeps are at most this large (the lookaside cap).
const MAX_SIGNATURE_BYTES: u64 = vouch_verify::lookaside::MAX_SIGNATURE_SIZE as u64;

pub struct StoreSource {
    name: ImageName,
    store: Arc<Store>,
    top: Top,
}

/// What the name refers to: one image, or a manifest list whose entries
/// are stored images (podman's `manifest create/add`).
enum Top {
    Image(Box<ImageRecord>),
    List {
        digest: Digest,
        members: Vec<ImageRecord>,
    },
}

impl StoreSource {
    pub fn open(store: Arc<Store>, image: &str) -> Result<Self, CopyError> {
        let top = match lists::find(&store, image).map_err(store_err(image))? {
            Some(rec) => {
                let index = lists::index_of(&store, &rec).map_err(store_err(image))?;
                let all = store.images().map_err(store_err(image))?;
                let mut members = Vec::new();
                for e in &index.manifests {
                    let m = all.iter().find(|i| i.digest == e.digest).ok_or_else(|| {
                        CopyError::Store {
                            image: image.to_string(),
                            detail: format!(
                                "manifest list entry {} is not in the store (removed with rmi?)",
                                e.digest
                            ),
                        }
                    })?;
                    members.push(m.clone());
                }
                Top::List {
                    digest: rec.digest,
                    members,
                }
            }
            None => Top::Image(Box::new(store.resolve(image).map_err(store_err(image))?)),
        };
        Ok(Self {
            name: ImageName::Store(image.to_string()),
            store,
            top,
        })
    }

    /// The stored image whose manifest is `digest`.
    fn image(&self, digest: &Digest) -> Option<&ImageRecord> {
        match &self.top {
            Top::Image(r) => Some(r.as_ref()).filter(|r| r.digest == *digest),
            Top::List { members, .. } => members.iter().find(|m| m.digest == *digest),
        }
    }
}

fn store_err(what: &str) -> impl FnOnce(vouch_image::store::StoreError) -> CopyError + '_ {
    move |e| CopyError::Store {
        image: what.to_string(),
        detail: crate::docker::one_line(&e),
    }
}

impl Source for StoreSource {
    fn name(&self) -> &ImageName {
        &self.name
    }

    fn manifest<'a>(
        &'a self,
        instance: Option<&'a Digest>,
    ) -> BoxFuture<'a, Result<RawManifest, CopyError>> {
        Box::pin(async move {
            let name = self.name.to_string();
            let (digest, media_type) = match (instance, &self.top) {
                (None, Top::Image(r)) => (r.digest.clone(), r.manifest_media_type.clone()),
                (None, Top::List { digest, .. }) => {
                    (digest.clone(), manifest::OCI_INDEX.to_string())
                }
                (Some(d), _) => match self.image(d) {
                    Some(r) => (r.digest.clone(), r.manifest_media_type.clone()),
                    None => {
                        return Err(CopyError::Unsupported(format!(
                            "{name}: the store holds no manifest {d}"
                        )))
                    }
                },
            };
            let bytes = self.store.read_blob(&digest).map_err(store_err(&name))?;
            Ok(RawManifest {
                bytes: Bytes::from(bytes),
                media_type,
            })
        })
    }

    fn blob<'a>(&'a self, desc: &'a Descriptor) -> BoxFuture<'a, Result<BlobStream, CopyError>> {
        Box::pin(async move { localfs::file_stream(self.store.blob_path(&desc.digest)).await })
    }

    fn signatures<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<Vec<u8>>, CopyError>> {
        Box::pin(async move {
            let Some(record) = self.image(digest) else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for d in &record.signatures {
                let path = self.store.blob_path(d);
                let meta = std::fs::metadata(&path).map_err(CopyError::io(path.display()))?;
                if meta.len() > MAX_SIGNATURE_BYTES {
                    return Err(CopyError::Signatures {
                        image: self.name.to_string(),
                        detail: format!("stored signature {d} is larger than a signature may be"),
                    });
                }
                let blob = self
                    .store
                    .read_blob(d)
                    .map_err(store_err(&self.name.to_string()))?;
                out.push(blob);
            }
            Ok(out)
        })
    }
}

pub struct StoreDest {
    name: ImageName,
    target: ImageRef,
    store: Arc<Store>,
    staging: StoreStaging,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    manifest: Option<RawManifest>,
    signatures: Vec<Vec<u8>>,
    staged: BTreeMap<Digest, PathBuf>,
}

impl StoreDest {
    /// `image` is the name the copy is stored under (normalised as podman
    /// names local images: `localhost/x:latest` for a bare `x`).
    pub fn open(store: Arc<Store>, image: &str) -> Result<Self, CopyError> {
        let target = ImageRef::parse(image).map_err(|e| {
            CopyError::Name(format!("Invalid image name \"vouch-store:{image}\": {e}"))
        })?;
        let staging = store.staging().map_err(store_err(image))?;
        Ok(Self {
            name: ImageName::Store(image.to_string()),
            target,
            store,
            staging,
            pending: Mutex::new(Pending::default()),
        })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn blob_file(&self, d: &Digest) -> PathBuf {
        match self.pending().staged.get(d) {
            Some(p) => p.clone(),
            None => self.store.blob_path(d),
        }
    }

    /// Unpacks and commits: everything blocking, run off the async threads.
    fn commit_blocking(&self) -> Result<(), CopyError> {
        let name = self.name.to_string();
        let (manifest, signatures, staged) = {
            let mut p = self.pending();
            let m = p
                .manifest
                .take()
                .ok_or_else(|| CopyError::Unsupported(format!("{name}: no manifest was copied")))?;
            (m, std::mem::take(&mut p.signatures), p.staged.clone())
        };
        let merr = |source| CopyError::Manifest {
            image: name.clone(),
            source,
        };
        let Parsed::Image(m) =
            manifest::parse(&manifest.bytes, &manifest.media_type).map_err(merr)?
        else {
            return Err(CopyError::Unsupported(format!(
                "{name}: vouch-store holds single images; copy one platform (without --all)"
            )));
        };
        let cfg_path = self.blob_file(&m.config.digest);
        let cfg_bytes = localfs::read_capped(&cfg_path, manifest::MAX_CONFIG_BYTES)?;
        let config = ImageConfig::parse(&cfg_bytes, m.layers.len()).map_err(merr)?;
        let opts = self.store.unpack_options();
        let sizes = self.store.layer_sizes().map_err(store_err(&name))?;
        let mut layers = Vec::new();
        let mut staged_layers = Vec::new();
        for (blob, diff_id) in m.layers.iter().zip(&config.rootfs.diff_ids) {
            let size = match sizes.get(diff_id) {
                Some(size) if self.store.has_layer(diff_id) => *size,
                _ => {
                    let dest = self.staging.layer(diff_id);
                    let bp = self.blob_file(&blob.digest);
                    let (_, size) =
                        apply::apply_layer(&bp, &blob.digest, &dest, Some(diff_id), &opts)
                            .map_err(|e| CopyError::Store {
                                image: name.clone(),
                                detail: crate::docker::one_line(&e),
                            })?;
                    staged_layers.push((dest, diff_id.clone()));
                    size
                }
            };
            layers.push(LayerRecord {
                blob: blob.clone(),
                diff_id: diff_id.clone(),
                size,
            });
        }
        let lock = self.store.lock().map_err(store_err(&name))?;
        for (d, p) in &staged {
            self.store.commit_blob(p, d).map_err(store_err(&name))?;
        }
        for (p, d) in &staged_layers {
            self.store.commit_layer(p, d).map_err(store_err(&name))?;
        }
        let digest = self
            .store
            .put_blob(&manifest.bytes)
            .map_err(store_err(&name))?;
        let mut sig_digests = Vec::new();
        for s in &signatures {
            sig_digests.push(self.store.put_blob(s).map_err(store_err(&name))?);
        }
        let rec = ImageRecord {
            id: vouch_image::ImageId::of_config(&m.config.digest),
            names: vec![self.target.to_string()],
            digest,
            manifest_media_type: manifest.media_type.clone(),
            config: m.config.clone(),
            layers,
            repo_digests: vec![],
            created: config.created.clone(),
            stored: chrono_now(),
            signatures: sig_digests,
        };
        self.store
            .commit_image(&lock, rec)
            .map_err(store_err(&name))?;
        Ok(())
    }
}

fn chrono_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl Dest for StoreDest {
    fn name(&self) -> &ImageName {
        &self.name
    }

    fn has_blob<'a>(&'a self, desc: &'a Descriptor) -> BoxFuture<'a, Result<bool, CopyError>> {
        Box::pin(async move { Ok(self.store.has_blob(&desc.digest)) })
    }

    fn put_blob<'a>(
        &'a self,
        desc: &'a Descriptor,
        data: BlobStream,
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        Box::pin(async move {
            let path = self.staging.blob(&desc.digest);
            localfs::write_stream(self.staging.path(), &path, data).await?;
            self.pending().staged.insert(desc.digest.clone(), path);
            Ok(())
        })
    }

    fn put_signatures<'a>(
        &'a self,
        _manifest: &'a RawManifest,
        signatures: &'a [Vec<u8>],
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        Box::pin(async move {
            self.pending().signatures.extend(signatures.iter().cloned());
            Ok(())
        })
    }

    fn put_manifest<'a>(
        &'a self,
        manifest: &'a RawManifest,
        instance: bool,
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        Box::pin(async move {
            if instance {
                return Err(CopyError::Unsupported(format!(
                    "{}: vouch-store holds single images; copy one platform (without --all)",
                    self.name
                )));
            }
            self.pending().manifest = Some(manifest.clone());
            Ok(())
        })
    }

    fn commit(&mut self) -> BoxFuture<'_, Result<(), CopyError>> {
        Box::pin(async move { tokio::task::block_in_place(|| self.commit_blocking()) })
    }
}

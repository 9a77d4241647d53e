//! Pulling: resolve the manifest first (so a policy can judge it before a
//! single layer moves), then fetch, verify, unpack and commit the layers.

use std::path::PathBuf;
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use oci_client::RegistryOperation;

use crate::apply;
use crate::digest::Digest;
use crate::manifest::{self, ImageConfig, ImageManifest, Parsed, Platform};
use crate::reference::ImageRef;
use crate::registry::{FetchedManifest, Registry, RegistryError, RegistryOptions};
use crate::store::{ImageRecord, LayerRecord, Store, StoreError};

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{reference}")]
    Manifest {
        reference: String,
        #[source]
        source: manifest::ManifestError,
    },
    #[error("{reference}")]
    Apply {
        reference: String,
        #[source]
        source: apply::ApplyError,
    },
    #[error("{reference}: a manifest list may not point to another list")]
    NestedIndex { reference: String },
    #[error("internal error")]
    Join(#[from] tokio::task::JoinError),
}

/// A manifest resolved from a reference, not yet trusted and not yet stored.
pub struct Resolved {
    pub reference: ImageRef,
    /// What the reference names: the list when it names a list. Signatures
    /// are made over this manifest's digest.
    pub top: FetchedManifest,
    /// The image manifest to fetch: `top` itself or the chosen list entry.
    pub instance: FetchedManifest,
    manifest: ImageManifest,
}

/// A pull in progress, bound to one registry.
pub struct Puller {
    registry: Registry,
    concurrency: usize,
}

impl Puller {
    pub fn new(reference: &ImageRef, opts: &RegistryOptions) -> Self {
        Self {
            registry: Registry::new(reference, opts),
            concurrency: opts.concurrency.max(1),
        }
    }

    /// The client this pull talks through, already authenticated after
    /// [`resolve`](Self::resolve): signature attachments are read with it.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Fetches the manifest `reference` names, and the platform's instance
    /// when it is a list. Nothing is written to the store.
    pub async fn resolve(
        &self,
        reference: &ImageRef,
        platform: &Platform,
    ) -> Result<Resolved, PullError> {
        self.registry
            .login(reference, RegistryOperation::Pull)
            .await?;
        let top = self.registry.fetch_manifest(reference).await?;
        let merr = |source| PullError::Manifest {
            reference: reference.to_string(),
            source,
        };
        let (instance, manifest) =
            match manifest::parse(&top.bytes, &top.media_type).map_err(merr)? {
                Parsed::Image(m) => (top.clone(), m),
                Parsed::Index(index) => {
                    let entry = manifest::select_platform(&index, platform).map_err(merr)?;
                    let by_digest = reference.with_digest(&entry.digest.to_string());
                    let inst = self.registry.fetch_manifest(&by_digest).await?;
                    match manifest::parse(&inst.bytes, &inst.media_type).map_err(merr)? {
                        Parsed::Image(m) => (inst, m),
                        Parsed::Index(_) => {
                            return Err(PullError::NestedIndex {
                                reference: reference.to_string(),
                            })
                        }
                    }
                }
            };
        Ok(Resolved {
            reference: reference.clone(),
            top,
            instance,
            manifest,
        })
    }

    /// Fetches config and layers of a resolved image, verifies every digest
    /// (compressed and uncompressed), unpacks, and commits the image under
    /// `name`. Layers the store already has are not fetched again.
    pub async fn store(
        &self,
        store: &Arc<Store>,
        resolved: Resolved,
        name: Option<&ImageRef>,
        signatures: &[Vec<u8>],
    ) -> Result<ImageRecord, PullError> {
        let r = &resolved.reference;
        let m = &resolved.manifest;
        let cfg_bytes = self
            .registry
            .fetch_small_blob(r, &m.config, manifest::MAX_CONFIG_BYTES)
            .await?;
        let config = ImageConfig::parse(&cfg_bytes, m.layers.len()).map_err(|source| {
            PullError::Manifest {
                reference: r.to_string(),
                source,
            }
        })?;
        let staging = Arc::new(store.staging()?);
        let opts = store.unpack_options();
        let sizes = store.layer_sizes()?;
        let jobs: Vec<_> = m
            .layers
            .iter()
            .cloned()
            .zip(config.rootfs.diff_ids.iter().cloned())
            .map(|(blob, diff_id)| {
                // A layer the store already has keeps its measured size.
                let stored_size = sizes.get(&diff_id).copied().unwrap_or(blob.size);
                (blob, diff_id, stored_size)
            })
            .collect();
        let layers: Vec<(LayerRecord, Option<PathBuf>, Option<PathBuf>)> =
            futures_util::stream::iter(jobs)
                .map(|(blob, diff_id, stored_size)| {
                    let staging = staging.clone();
                    let store = store.clone();
                    let opts = opts.clone();
                    async move {
                        self.fetch_layer(&store, &staging, r, blob, diff_id, stored_size, opts)
                            .await
                    }
                })
                .buffered(self.concurrency)
                .try_collect()
                .await?;

        let lock = store.lock()?;
        for (rec, blob, layer) in &layers {
            if let Some(b) = blob {
                store.commit_blob(b, &rec.blob.digest)?;
            }
            if let Some(l) = layer {
                store.commit_layer(l, &rec.diff_id)?;
            }
        }
        store.put_blob(&cfg_bytes)?;
        store.put_blob(&resolved.instance.bytes)?;
        let mut kept = Vec::with_capacity(signatures.len());
        for s in signatures {
            kept.push(store.put_blob(s)?);
        }
        let mut repo_digests = vec![format!("{}@{}", r.name(), resolved.instance.digest)];
        if resolved.top.digest != resolved.instance.digest {
            repo_digests.push(format!("{}@{}", r.name(), resolved.top.digest));
        }
        let names = match (name, r.digest()) {
            (Some(n), _) => vec![n.to_string()],
            (None, None) => vec![r.to_string()],
            (None, Some(_)) => vec![],
        };
        let rec = ImageRecord {
            id: crate::ImageId::of_config(&m.config.digest),
            names,
            digest: resolved.instance.digest.clone(),
            manifest_media_type: resolved.instance.media_type.clone(),
            config: m.config.clone(),
            layers: layers.into_iter().map(|(l, _, _)| l).collect(),
            repo_digests,
            created: config.created.clone(),
            stored: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            signatures: kept,
        };
        let rec = store.commit_image(&lock, rec)?;
        drop(lock);
        Ok(rec)
    }

    /// Fetches one layer blob (unless stored) and unpacks it (unless stored),
    /// returning staged paths to commit.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_layer(
        &self,
        store: &Store,
        staging: &crate::store::Staging,
        r: &ImageRef,
        blob: manifest::Descriptor,
        diff_id: Digest,
        stored_size: u64,
        opts: crate::unpack::UnpackOptions,
    ) -> Result<(LayerRecord, Option<PathBuf>, Option<PathBuf>), PullError> {
        let have_blob = store.has_blob(&blob.digest);
        let have_layer = store.has_layer(&diff_id);
        if have_blob && have_layer {
            let size = stored_size;
            return Ok((
                LayerRecord {
                    blob,
                    diff_id,
                    size,
                },
                None,
                None,
            ));
        }
        let t = std::time::Instant::now();
        let dest = staging.layer(&diff_id);
        let apply_err = |source| PullError::Apply {
            reference: r.to_string(),
            source,
        };
        if have_blob {
            // Stored blob, missing layer: unpack from the store.
            let (bp, dp, bd, want) = (
                store.blob_path(&blob.digest),
                dest.clone(),
                blob.digest.clone(),
                diff_id.clone(),
            );
            let (_, size) = tokio::task::spawn_blocking(move || {
                apply::apply_layer(&bp, &bd, &dp, Some(&want), &opts)
            })
            .await?
            .map_err(apply_err)?;
            return Ok((
                LayerRecord {
                    blob,
                    diff_id,
                    size,
                },
                None,
                Some(dest),
            ));
        }
        // Download into staging, and (unless the layer is stored) unpack the
        // same bytes as they arrive, so the network and the unpacking overlap
        // and the blob is never read back.
        let p = staging.blob(&blob.digest);
        let file = tokio::fs::File::create(&p)
            .await
            .map_err(|source| StoreError::Io {
                path: p.clone(),
                source,
            })?;
        let file = tokio::io::BufWriter::with_capacity(256 << 10, file);
        let (tx, unpacker) = if have_layer {
            (None, None)
        } else {
            let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
            let (dp, bd, want) = (dest.clone(), blob.digest.clone(), diff_id.clone());
            let h = tokio::task::spawn_blocking(move || {
                apply::apply_layer_from(ChannelReader::new(rx), &bd, &dp, Some(&want), &opts)
            });
            (Some(tx), Some(h))
        };
        let mut sink = Tee { file, tx };
        let fetched = self.registry.fetch_blob(r, &blob, &mut sink, &p).await;
        drop(sink);
        tracing::debug!(blob = %blob.digest, ms = t.elapsed().as_millis() as u64, "fetched");
        let unpacked = match unpacker {
            Some(h) => Some(h.await?),
            None => None,
        };
        fetched?;
        let (size, layer) = match unpacked {
            Some(res) => (res.map_err(apply_err)?.1, Some(dest)),
            None => (stored_size, None),
        };
        tracing::debug!(blob = %blob.digest, ms = t.elapsed().as_millis() as u64, "unpacked");
        Ok((
            LayerRecord {
                blob,
                diff_id,
                size,
            },
            Some(p),
            layer,
        ))
    }
}

/// Writes a blob to its staging file and hands each chunk to the unpacker.
struct Tee {
    file: tokio::io::BufWriter<tokio::fs::File>,
    tx: Option<tokio::sync::mpsc::Sender<bytes::Bytes>>,
}

impl crate::registry::ChunkSink for Tee {
    async fn chunk(&mut self, chunk: bytes::Bytes) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.file.write_all(&chunk).await?;
        if let Some(tx) = &self.tx {
            // A closed channel means the unpacker stopped (it refused the
            // layer); its error is reported once the download ends.
            if tx.send(chunk).await.is_err() {
                self.tx = None;
            }
        }
        Ok(())
    }

    async fn finish(&mut self) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.tx = None;
        self.file.flush().await
    }
}

/// The blocking side of [`Tee`]: a `Read` over the chunks it sends.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    cur: bytes::Bytes,
}

impl ChannelReader {
    fn new(rx: tokio::sync::mpsc::Receiver<bytes::Bytes>) -> Self {
        Self {
            rx,
            cur: bytes::Bytes::new(),
        }
    }
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.cur = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

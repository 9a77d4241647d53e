//! One copy, in containers/image's order but with every check first:
//!
//! 1. [`plan`]: read the manifest(s) and signatures and ask the policy —
//!    about each image that will be written (containers/image checks every
//!    instance it copies, so a multi-arch copy needs every instance signed)
//!    — before the destination is touched;
//! 2. the caller signs what [`Plan::to_sign`] lists (signing may block on
//!    gpg-agent or a terminal, so it happens outside the async transfer);
//! 3. [`transfer`]: blobs (skipped, mounted or streamed, several at once),
//!    then per image its signatures and only then its manifest, the list
//!    last, so no tag ever points at an image whose blobs or signatures are
//!    missing.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use vouch_image::manifest::{self, Descriptor, ImageManifest, Parsed, Platform};
use vouch_image::Digest;
use vouch_verify::policy::Policy;

use crate::endpoint::{Dest, RawManifest, Source};
use crate::error::CopyError;
use crate::verified::verified_reporting;

/// skopeo's `--all` / `--multi-arch`, `--remove-signatures`, the platform
/// override, and how many blobs move at once.
#[derive(Clone, Debug)]
pub struct Options {
    pub all: bool,
    pub remove_signatures: bool,
    pub platform: Platform,
    pub concurrency: usize,
    /// Shared by copies that run at once (a sync): one blob is checked and
    /// uploaded by one of them at a time, because two uploads of the same
    /// digest racing into one registry can leave neither linked.
    pub blob_locks: BlobLocks,
}

/// One async lock per blob digest, taken around "has it? else upload".
#[derive(Clone, Debug, Default)]
pub struct BlobLocks(Arc<std::sync::Mutex<HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>>);

impl BlobLocks {
    async fn lock(&self, digest: &Digest) -> tokio::sync::OwnedMutexGuard<()> {
        let m = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(map.entry(digest.clone()).or_default())
        };
        m.lock_owned().await
    }
}

/// What the transfer reports, for podman-style progress lines.
#[derive(Debug)]
pub enum Event<'a> {
    GettingSignatures,
    /// A blob is about to move; `kind` is "blob" or "config" as skopeo says.
    Blob {
        kind: &'static str,
        desc: &'a Descriptor,
        how: How,
    },
    /// A copied blob's bytes are streaming: `sent` of its declared size
    /// have passed the digest check so far (a progress bar's position).
    Bytes {
        digest: &'a Digest,
        sent: u64,
    },
    /// The blob reported by [`Event::Blob`] is in the destination.
    BlobDone {
        digest: &'a Digest,
    },
    CopyingInstance {
        index: usize,
        count: usize,
        digest: &'a Digest,
    },
    WritingManifest,
    StoringSignatures,
}

/// How a blob reached the destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    Skipped,
    Mounted,
    Copied,
}

/// Where a transfer's events go. [`transfer`] takes it as an
/// `Arc<dyn Report>` because byte counts come from inside a blob stream
/// that the destination's upload carries off (it must be `'static`).
pub trait Report: Send + Sync {
    fn event(&self, e: Event<'_>);
}

/// A report that says nothing (`-q`).
pub struct Quiet;

impl Report for Quiet {
    fn event(&self, _e: Event<'_>) {}
}

/// One manifest the copy writes, with the signatures that go with it.
pub struct Planned {
    pub manifest: RawManifest,
    /// Carried from the source (empty with `--remove-signatures`).
    pub carried: Vec<Vec<u8>>,
    /// Made for the destination by the caller ([`Plan::sign_with`]).
    pub new: Vec<Vec<u8>>,
    image: Option<ImageManifest>,
    instance: bool,
}

impl Planned {
    pub fn digest(&self) -> Digest {
        self.manifest.digest()
    }

    fn signatures(&self) -> Vec<Vec<u8>> {
        let mut all = self.carried.clone();
        all.extend(self.new.iter().cloned());
        all
    }
}

/// The checked copy: images first, then (with `--all`) the list.
pub struct Plan {
    pub manifests: Vec<Planned>,
}

impl Plan {
    /// The digest the destination's name will point at.
    pub fn top_digest(&self) -> Option<Digest> {
        self.manifests.last().map(Planned::digest)
    }

    /// Signs every manifest written (each instance and the list, as podman
    /// signs a multi-arch push) with `sign`, which returns signature blobs.
    pub fn sign_with<E>(
        &mut self,
        mut sign: impl FnMut(&RawManifest) -> Result<Vec<Vec<u8>>, E>,
    ) -> Result<(), E> {
        for m in &mut self.manifests {
            m.new = sign(&m.manifest)?;
        }
        Ok(())
    }

    /// Refuses, before a byte moves, manifests and signatures the
    /// destination cannot hold.
    pub fn check(&self, dst: &dyn Dest) -> Result<(), CopyError> {
        for m in &self.manifests {
            dst.check_manifest_type(&m.manifest.media_type)?;
        }
        let all: Vec<Vec<u8>> = self
            .manifests
            .iter()
            .flat_map(Planned::signatures)
            .collect();
        if all.is_empty() {
            return Ok(());
        }
        dst.check_signatures()?;
        dst.check_signature_kinds(&all)
    }

    fn blobs(&self) -> Vec<(&'static str, Descriptor)> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for m in self.manifests.iter().filter_map(|m| m.image.as_ref()) {
            for l in &m.layers {
                if seen.insert(l.digest.clone()) {
                    out.push(("blob", l.clone()));
                }
            }
            if seen.insert(m.config.digest.clone()) {
                out.push(("config", m.config.clone()));
            }
        }
        out
    }
}

/// Reads what the copy will write and asks the policy about each image.
pub async fn plan(src: &dyn Source, policy: &Policy, opts: &Options) -> Result<Plan, CopyError> {
    let image = src.name().policy_image()?;
    let read_sigs = !opts.remove_signatures || policy.needs_signatures(&image);
    let name = src.name().to_string();
    let merr = |source| CopyError::Manifest {
        image: name.clone(),
        source,
    };
    // The policy's verdict over one manifest and the signatures read for it.
    let judged = |manifest: RawManifest, instance: bool| {
        let image = &image;
        async move {
            let sigs = if read_sigs {
                src.signatures(&manifest.digest()).await?
            } else {
                Vec::new()
            };
            policy.evaluate(image, &manifest.bytes, &sigs)?;
            let carried = if opts.remove_signatures {
                Vec::new()
            } else {
                sigs
            };
            Ok::<_, CopyError>(Planned {
                manifest,
                carried,
                new: Vec::new(),
                image: None,
                instance,
            })
        }
    };
    let top = src.manifest(None).await?;
    match manifest::parse_shape(&top.bytes, &top.media_type).map_err(merr)? {
        Parsed::Image(m) => {
            let mut p = judged(top, false).await?;
            p.image = Some(m);
            Ok(Plan { manifests: vec![p] })
        }
        Parsed::Index(index) => {
            let entries: Vec<Descriptor> = if opts.all {
                index.manifests.clone()
            } else {
                vec![manifest::select_platform(&index, &opts.platform)
                    .map_err(merr)?
                    .clone()]
            };
            let mut manifests = Vec::with_capacity(entries.len() + 1);
            for e in &entries {
                let inst = src.manifest(Some(&e.digest)).await?;
                let parsed =
                    match manifest::parse_shape(&inst.bytes, &inst.media_type).map_err(merr)? {
                        Parsed::Image(m) => m,
                        Parsed::Index(_) => {
                            return Err(CopyError::Unsupported(format!(
                                "{name}: manifest list entry {} is itself a list",
                                e.digest
                            )))
                        }
                    };
                let mut p = judged(inst, opts.all).await?;
                p.image = Some(parsed);
                manifests.push(p);
            }
            if opts.all {
                manifests.push(judged(top, false).await?);
            }
            Ok(Plan { manifests })
        }
    }
}

/// What a transfer did.
#[derive(Debug, Default)]
pub struct Copied {
    pub digest: Option<Digest>,
    pub copied: usize,
    pub mounted: usize,
    pub skipped: usize,
}

/// Moves a checked plan's blobs, signatures and manifests to `dst`.
pub async fn transfer(
    plan: &Plan,
    src: &dyn Source,
    dst: &mut dyn Dest,
    opts: &Options,
    report: &Arc<dyn Report>,
) -> Result<Copied, CopyError> {
    plan.check(dst)?;
    report.event(Event::GettingSignatures);
    let from = src.registry_location();
    let image = src.name().to_string();
    let dst_ref: &dyn Dest = dst;
    let outcomes: Vec<How> = futures_util::stream::iter(plan.blobs())
        .map(|(kind, desc)| {
            let from = from.clone();
            let image = image.clone();
            async move {
                let _one_at_a_time = opts.blob_locks.lock(&desc.digest).await;
                let how = if dst_ref.has_blob(&desc).await? {
                    How::Skipped
                } else if let Some(from) = from.as_ref() {
                    if dst_ref.mount_blob(&desc, from).await? {
                        How::Mounted
                    } else {
                        How::Copied
                    }
                } else {
                    How::Copied
                };
                report.event(Event::Blob {
                    kind,
                    desc: &desc,
                    how,
                });
                if how == How::Copied {
                    let data = src.blob(&desc).await?;
                    let sink = Arc::clone(report);
                    let digest = desc.digest.clone();
                    let data = verified_reporting(image, &desc, data, move |sent| {
                        sink.event(Event::Bytes {
                            digest: &digest,
                            sent,
                        })
                    });
                    dst_ref.put_blob(&desc, data).await?;
                }
                report.event(Event::BlobDone {
                    digest: &desc.digest,
                });
                Ok::<_, CopyError>(how)
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .try_collect()
        .await?;
    let count = plan.manifests.len();
    for (i, m) in plan.manifests.iter().enumerate() {
        if m.instance {
            report.event(Event::CopyingInstance {
                index: i + 1,
                count: count.saturating_sub(1),
                digest: &m.digest(),
            });
        }
        let sigs = m.signatures();
        if !sigs.is_empty() {
            report.event(Event::StoringSignatures);
            dst.put_signatures(&m.manifest, &sigs).await?;
        }
        if !m.instance {
            report.event(Event::WritingManifest);
        }
        dst.put_manifest(&m.manifest, m.instance).await?;
    }
    dst.commit().await?;
    let n = |h: How| outcomes.iter().filter(|o| **o == h).count();
    Ok(Copied {
        digest: plan.top_digest(),
        copied: n(How::Copied),
        mounted: n(How::Mounted),
        skipped: n(How::Skipped),
    })
}

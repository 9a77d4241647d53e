//! `vouch push`: a stored image to a registry, signed on the way by
//! [`super::signing`]'s flags.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use vouch_image::push::push;
use vouch_image::ImageRef;

use super::common::{runtime, Global, Progress, RegistryFlags};
use super::signing::{say_attached, SignFlags, SignPlan};

#[derive(Args, Debug)]
pub struct PushArgs {
    #[command(flatten)]
    pub registry: RegistryFlags,
    #[command(flatten)]
    pub sign: SignFlags,
    /// Push a manifest list with all its images, each signed (podman's `--all`).
    #[arg(long)]
    pub all: bool,
    /// Do not push the signatures kept with the local image.
    #[arg(long = "remove-signatures")]
    pub remove_signatures: bool,
    /// Write the digest of the pushed manifest to this file.
    #[arg(long)]
    pub digestfile: Option<PathBuf>,
    /// Local image to push.
    pub source: String,
    /// Destination (`[docker://]registry/repo[:tag]`); defaults to the source name.
    pub destination: Option<String>,
}

pub fn run(g: &Global, a: PushArgs) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    if vouch_image::lists::find(&store, &a.source)?.is_some() {
        return super::manifest_list::push(
            g,
            super::manifest_list::PushArgs {
                all: a.all,
                tls_verify: a.registry.tls_verify,
                creds: a.registry.creds.clone(),
                authfile: a.registry.authfile.clone(),
                sign: a.sign.clone(),
                remove_signatures: a.remove_signatures,
                digestfile: a.digestfile.clone(),
                quiet: a.registry.quiet,
                destination: a.destination.clone().unwrap_or_else(|| a.source.clone()),
                list: a.source.clone(),
            },
        );
    }
    anyhow::ensure!(
        !a.all,
        "{}: --all pushes a manifest list, and this is a single image",
        a.source
    );
    let image = store.resolve(&a.source)?;
    let dest_str = a.destination.clone().unwrap_or_else(|| a.source.clone());
    let dest = ImageRef::parse(&dest_str)?;
    let opts = a.registry.options(&dest)?;
    let p = Progress {
        quiet: a.registry.quiet,
    };

    let mut plan = SignPlan::new(g, &a.sign, &dest)?;

    // The signature is made and stored before a blob moves: a key that
    // cannot sign (wrong passphrase, agent refusal) or a staging that refuses
    // the signature fails the push with nothing uploaded, and a tag is never
    // visible without its signature. The manifest is pushed exactly as
    // stored, so its digest is known now.
    let manifest = store.read_blob(&image.digest)?;
    let digest = vouch_image::Digest::of(&manifest);
    let mut made = plan.sign(&manifest, &p)?;
    if !a.remove_signatures {
        carry_kept(g, &a.sign, &store, &image, &dest, &mut made, &p)?;
    }
    let pushed = runtime()?
        .block_on(async {
            p.say("Getting image source signatures");
            push(&store, &image, &dest, &opts, &made.sigstore, &made.bundles).await
        })
        .with_context(|| format!("pushing {} to {dest}", a.source))?;
    anyhow::ensure!(
        pushed.digest == digest,
        "pushing {} to {dest}: the registry holds manifest {}, but {digest} was signed",
        a.source,
        pushed.digest
    );
    p.say(format!(
        "Copying {} blobs ({} already present)",
        pushed.blobs_sent, pushed.blobs_skipped
    ));
    say_attached(&p, pushed.attachment.as_ref(), &pushed.referrers);
    p.say("Writing manifest to image destination");
    if let Some(f) = &a.digestfile {
        vouch_image::outfile::write_output(f, pushed.digest.to_string().as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The signatures a pull kept with the image go along, as podman's push
/// copies them from containers-storage: simple ones to the destination's
/// staging now (before the tag), sigstore ones with the new signatures.
/// Like containers/image, a destination that cannot hold a kind is an
/// error, not a silent drop; `--remove-signatures` drops them.
fn carry_kept(
    g: &Global,
    flags: &SignFlags,
    store: &vouch_image::Store,
    image: &vouch_image::ImageRecord,
    dest: &ImageRef,
    made: &mut super::signing::Made,
    p: &Progress,
) -> anyhow::Result<()> {
    use vouch_image::sigstore_blob::{classify, BlobKind, SigstoreComponents, BUNDLE_BLOB_PREFIX};
    let mut simple = Vec::new();
    for d in &image.signatures {
        let blob = store.read_blob(d)?;
        match classify(&blob) {
            BlobKind::Simple => simple.push(blob),
            BlobKind::Sigstore => {
                super::signing::require_attachments(g, dest)?;
                made.sigstore.push(
                    SigstoreComponents::from_blob(&blob)
                        .with_context(|| format!("stored signature {d} of {}", image.id))?,
                );
            }
            BlobKind::Bundle => {
                super::signing::require_attachments(g, dest)?;
                made.bundles.push(
                    blob.get(BUNDLE_BLOB_PREFIX.len()..)
                        .unwrap_or_default()
                        .to_vec(),
                );
            }
        }
    }
    if !simple.is_empty() {
        let staging = super::signing::registries_d_staging(g, flags, dest)?;
        p.say("Copying signatures");
        runtime()?.block_on(staging.store_missing(&image.digest.to_string(), &simple))?;
    }
    Ok(())
}

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
    let made = plan.sign(&manifest, &p)?;
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

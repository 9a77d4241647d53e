//! `vouch push`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use vouch_image::push::push;
use vouch_image::ImageRef;

use super::common::{runtime, Global, Progress, RegistryFlags};

#[derive(Args, Debug)]
pub struct PushArgs {
    #[command(flatten)]
    pub registry: RegistryFlags,
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
    let p = Progress { quiet: a.registry.quiet };
    let pushed = runtime()?
        .block_on(async {
            p.say("Getting image source signatures");
            push(&store, &image, &dest, &opts).await
        })
        .with_context(|| format!("pushing {} to {dest}", a.source))?;
    p.say(format!(
        "Copying {} blobs ({} already present)",
        pushed.blobs_sent, pushed.blobs_skipped
    ));
    p.say("Writing manifest to image destination");
    if let Some(f) = &a.digestfile {
        std::fs::write(f, pushed.digest.to_string()).with_context(|| format!("writing {}", f.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

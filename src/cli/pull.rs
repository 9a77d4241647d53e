//! `vouch pull`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use vouch_image::manifest;
use vouch_image::pull::Puller;
use vouch_image::ImageRef;

use super::common::{runtime, Global, Progress, RegistryFlags};

#[derive(Args, Debug)]
pub struct PullArgs {
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Platform OS/ARCH[/VARIANT] to pick from a manifest list.
    #[arg(long)]
    pub platform: Option<String>,
    /// Architecture to pick from a manifest list.
    #[arg(long)]
    pub arch: Option<String>,
    /// Image to pull (`[docker://]registry/repo[:tag|@digest]`).
    pub image: String,
}

pub fn run(g: &Global, a: PullArgs) -> anyhow::Result<ExitCode> {
    let reference = ImageRef::parse(&a.image)?;
    let opts = a.registry.options(&reference)?;
    let store = Arc::new(g.store()?);
    let p = Progress { quiet: a.registry.quiet };
    let platform = manifest::wanted_platform(a.platform.as_deref(), a.arch.as_deref());
    let rec = runtime()?.block_on(async {
        p.say(format!("Trying to pull {reference}..."));
        let puller = Puller::new(&reference, &opts);
        let resolved = puller.resolve(&reference, &platform).await?;
        p.say("Getting image source signatures");
        let rec = puller.store(&store, resolved, None).await?;
        p.say("Writing manifest to image destination");
        anyhow::Ok(rec)
    })
    .with_context(|| format!("pulling {reference}"))?;
    println!("{}", rec.id);
    Ok(ExitCode::SUCCESS)
}

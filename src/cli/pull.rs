//! `vouch pull`: resolve the manifest, pass the gate (signatures from the
//! lookaside and the registry's attachments, then the policy), and only
//! then fetch and store layers.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use vouch_image::manifest;
use vouch_image::pull::Puller;
use vouch_image::{ImageRecord, ImageRef};

use super::common::{runtime, Global, Progress, RegistryFlags};
use super::trust;

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
    /// policy.json to enforce (podman's flag; default: global --policy, then
    /// ~/.config/containers/policy.json, /etc/containers/policy.json).
    #[arg(long = "signature-policy")]
    pub signature_policy: Option<PathBuf>,
    /// Image to pull (`[docker://]registry/repo[:tag|@digest]`).
    pub image: String,
}

/// Pulls `reference` through the policy; shared with `vouch run`.
pub fn pull_image(
    g: &Global,
    reference: &ImageRef,
    flags: &RegistryFlags,
    platform: &manifest::Platform,
    signature_policy: Option<&Path>,
) -> anyhow::Result<ImageRecord> {
    let gate = trust::gate(g, signature_policy)?;
    let opts = flags.options(reference)?;
    let store = Arc::new(g.store()?);
    let p = Progress { quiet: flags.quiet };
    runtime()?.block_on(async {
        p.say(format!("Trying to pull {reference}..."));
        let puller = Puller::new(reference, &opts);
        let resolved = puller
            .resolve(reference, platform)
            .await
            .with_context(|| format!("pulling {reference}"))?;
        let (_, signatures) =
            trust::verdict(gate.check_keeping(puller.registry(), &resolved).await)?;
        p.say("Getting image source signatures");
        let rec = puller
            .store(&store, resolved, None, &signatures)
            .await
            .with_context(|| format!("pulling {reference}"))?;
        p.say("Writing manifest to image destination");
        p.say("Storing signatures");
        anyhow::Ok(rec)
    })
}

pub fn run(g: &Global, a: PullArgs) -> anyhow::Result<ExitCode> {
    let reference = ImageRef::parse(&a.image)?;
    let platform = manifest::wanted_platform(a.platform.as_deref(), a.arch.as_deref());
    let rec = pull_image(
        g,
        &reference,
        &a.registry,
        &platform,
        a.signature_policy.as_deref(),
    )?;
    println!("{}", rec.id);
    Ok(ExitCode::SUCCESS)
}

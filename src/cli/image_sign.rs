//! `vouch image sign` (podman's): sign images already in a registry, by
//! digest, without moving a layer ([`vouch_image::sign_in_place`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use vouch_copy::ImageName;
use vouch_image::registry::FetchedManifest;
use vouch_image::ImageRef;
use vouch_verify::lookaside::LookasideUrl;

use super::common::{runtime, Global, Progress, RegistryFlags};
use super::signing::{say_attached, SignFlags, SignPlan};

#[derive(Args, Debug)]
pub struct ImageSignArgs {
    #[command(flatten)]
    pub registry: RegistryFlags,
    #[command(flatten)]
    pub sign: SignFlags,
    /// Store simple signatures in this existing directory, in the lookaside
    /// layout (`DIR/<repository>@sha256=<hex>/signature-N`), instead of the
    /// registries.d staging.
    #[arg(short = 'd', long)]
    pub directory: Option<PathBuf>,
    /// Sign every instance of a manifest list, and the list.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Images to sign (`docker://registry/repo:tag` or `…@sha256:…`).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

pub fn run(g: &Global, a: ImageSignArgs) -> anyhow::Result<ExitCode> {
    let s = &a.sign;
    if s.sign_by.is_none() && s.sign_by_key.is_none() && s.sign_by_sigstore_private_key.is_none() {
        anyhow::bail!("please provide an identity: --sign-by, --sign-by-key or --sign-by-sigstore-private-key");
    }
    let directory = match &a.directory {
        None => None,
        Some(d) => {
            // podman stats the directory first: it must exist.
            std::fs::metadata(d).with_context(|| format!("--directory {}", d.display()))?;
            anyhow::ensure!(
                s.sign_by.is_some() || s.sign_by_key.is_some(),
                "--directory {} holds simple signatures: give --sign-by or --sign-by-key",
                d.display()
            );
            let abs =
                std::path::absolute(d).with_context(|| format!("--directory {}", d.display()))?;
            let abs = abs
                .to_str()
                .with_context(|| format!("--directory {}: not UTF-8", d.display()))?
                .to_string();
            Some(abs)
        }
    };
    // Every name is checked before anything is signed.
    let refs = a
        .images
        .iter()
        .map(|i| docker_image(i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let p = Progress {
        quiet: a.registry.quiet,
    };
    // podman: DIR joined with the repository path, without the registry host.
    let staging_for = |r: &ImageRef| {
        directory
            .as_deref()
            .map(|d| LookasideUrl::from_dir(d).for_repository(r.as_docker()))
    };
    let Some(first) = refs.first() else {
        anyhow::bail!("no image to sign");
    };
    // Keys are opened once; every image's configuration (staging,
    // attachments) is checked before anything is signed.
    let mut plan = SignPlan::with_staging(g, &a.sign, first, staging_for(first))?;
    for r in &refs {
        plan.retarget(g, &a.sign, r, staging_for(r))?;
    }
    for r in &refs {
        plan.retarget(g, &a.sign, r, staging_for(r))?;
        sign_one(&mut plan, &a, r, &p)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The registry image `name` names; other transports hold no image a
/// registry signature could be attached to.
fn docker_image(name: &str) -> anyhow::Result<ImageRef> {
    let parsed = ImageName::parse(name).context("parsing image name")?;
    let ImageName::Docker(r) = parsed else {
        anyhow::bail!(
            "cannot sign {name}: image sign signs images in a registry, and the {} transport is not one (use docker://)",
            parsed.transport()
        );
    };
    // containers/image's docker transport refuses both at once.
    anyhow::ensure!(
        r.tag().is_none() || r.digest().is_none(),
        "{name}: Docker references with both a tag and digest are currently not supported"
    );
    Ok(r)
}

fn sign_one(
    plan: &mut SignPlan,
    a: &ImageSignArgs,
    r: &ImageRef,
    p: &Progress,
) -> anyhow::Result<()> {
    let opts = a.registry.options(r)?;
    let rt = runtime()?;
    let (image, targets) = rt
        .block_on(async {
            let image =
                vouch_image::sign_in_place::InPlace::open(r, &opts, plan.signs_sigstore()).await?;
            let targets = image.targets(a.all).await?;
            anyhow::Ok((image, targets))
        })
        .with_context(|| format!("signing {r}"))?;
    for t in &targets {
        p.say(format!("Signing {r} manifest {}", t.digest));
        // Signing runs outside the runtime: a sigstore-server staging
        // publishes with a runtime of its own.
        let made = plan
            .sign(&t.bytes, p)
            .with_context(|| signed_so_far(r, &targets, t))?;
        let done = rt
            .block_on(image.attach(t, &made.sigstore, &made.bundles))
            .with_context(|| signed_so_far(r, &targets, t))?;
        say_attached(p, done.attachment.as_ref(), &done.referrers);
    }
    Ok(())
}

/// What a failure at `failed` left behind, so a retry knows what is done
/// (signatures only add: a retry signs every manifest again).
fn signed_so_far(r: &ImageRef, targets: &[FetchedManifest], failed: &FetchedManifest) -> String {
    let done: Vec<String> = targets
        .iter()
        .take_while(|t| t.digest != failed.digest)
        .map(|t| t.digest.to_string())
        .collect();
    let done = if done.is_empty() {
        "none".to_string()
    } else {
        done.join(", ")
    };
    format!(
        "signing {r} manifest {} (manifests already signed: {done})",
        failed.digest
    )
}

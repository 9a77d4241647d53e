//! `vouch manifest-digest FILE`: skopeo's command, printing the digest a
//! simple signature of the manifest would name (schema1 JWS signatures are
//! stripped first, as containers/image `manifest.Digest` does).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::common::Global;
use super::standalone::read_capped;

#[derive(Args, Debug)]
pub struct ManifestDigestArgs {
    /// The manifest file.
    pub manifest: PathBuf,
}

pub fn run(_global: &Global, a: ManifestDigestArgs) -> anyhow::Result<ExitCode> {
    let bytes = read_capped(&a.manifest)
        .with_context(|| format!("Error reading manifest from {}", a.manifest.display()))?;
    let digest = vouch_image::manifest_digest::manifest_digest(&bytes)
        .with_context(|| format!("Error computing digest of {}", a.manifest.display()))?;
    println!("{digest}");
    Ok(ExitCode::SUCCESS)
}

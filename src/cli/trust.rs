//! Where policy.json and registries.d come from for a command, and the
//! policy gate a pull passes before any layer is fetched.

use std::path::{Path, PathBuf};

use anyhow::Context;
use vouch_image::pull::Resolved;
use vouch_image::ImageRef;
use vouch_verify::docker_ref::DockerRef;
use vouch_verify::lookaside::{read_signatures, Fetcher, LookasideUrl};
use vouch_verify::policy::{Policy, PolicyImage};
use vouch_verify::registries_d::{BuiltinDefault, RegistriesD};

use super::common::Global;

/// The policy said no. Carried through anyhow so `main` can exit 1 (a
/// decision) rather than 2 (an error).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PolicyRejected(pub String);

/// Loads the policy: `--insecure-policy` first (as skopeo checks it), else
/// `--signature-policy` (pull), else global `--policy`, else the default
/// locations (§5.1).
pub fn load_policy(g: &Global, explicit: Option<&Path>) -> anyhow::Result<Policy> {
    if g.insecure_policy {
        return Ok(Policy::insecure_accept_anything());
    }
    if let Some(p) = explicit.or(g.policy.as_deref()) {
        return Ok(Policy::load(p)?);
    }
    let p = Policy::default_path()?;
    Ok(Policy::load(&p)?)
}

/// The registries.d directory: `--registries.d`, else the default.
pub fn registries_d_dir(g: &Global) -> PathBuf {
    g.registries_d
        .clone()
        .unwrap_or_else(RegistriesD::default_dir)
}

pub fn load_registries_d(g: &Global) -> anyhow::Result<RegistriesD> {
    let dir = registries_d_dir(g);
    if !dir.exists() && g.registries_d.is_none() {
        // No system configuration at all: nothing configured, like an empty directory.
        return Ok(RegistriesD::default());
    }
    Ok(RegistriesD::load(&dir)?)
}

/// The containers/image view of a reference, for policy and lookaside.
pub fn docker_ref(r: &ImageRef) -> anyhow::Result<DockerRef> {
    Ok(r.as_docker().clone())
}

/// Reads the signatures of `resolved` (if the policy needs any) and
/// evaluates the policy. Errors are rejections: fail closed.
pub async fn check(g: &Global, policy: &Policy, resolved: &Resolved) -> anyhow::Result<()> {
    let image = PolicyImage::docker(&resolved.reference.to_string())?;
    let mut signatures = Vec::new();
    if policy.needs_signatures(&image) {
        let config = load_registries_d(g)?;
        let reference = docker_ref(&resolved.reference)?;
        let base: LookasideUrl = config.read_base(&reference, &BuiltinDefault::from_env())?;
        let digest = vouch_sign::manifest_digest(&resolved.top.bytes)?;
        signatures = read_signatures(&Fetcher::new()?, &base, &digest)
            .await
            .with_context(|| format!("reading signatures of {} from {base}", resolved.reference))?;
    }
    match policy.evaluate(&image, &resolved.top.bytes, &signatures) {
        Ok(_) => Ok(()),
        Err(rejected) => Err(PolicyRejected(super::one_line(&anyhow::Error::new(rejected))).into()),
    }
}

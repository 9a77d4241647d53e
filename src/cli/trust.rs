//! Where policy.json and registries.d come from for a command, and how the
//! gate's verdict (vouch_verify::gate) maps to an exit code.

use std::path::{Path, PathBuf};

use vouch_image::ImageRef;
use vouch_verify::docker_ref::DockerRef;
use vouch_verify::gate::{Gate, GateError};
use vouch_verify::policy::Policy;
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

/// The gate for this command: the policy from the flags, registries.d
/// from `--registries.d` (read only when a policy needs signatures).
pub fn gate(g: &Global, explicit_policy: Option<&Path>) -> anyhow::Result<Gate> {
    Ok(Gate::new(
        load_policy(g, explicit_policy)?,
        registries_d_dir(g),
        BuiltinDefault::from_env(),
    ))
}

/// The gate's answer as the exit code wants it: the policy's "no" becomes
/// [`PolicyRejected`] (exit 1), every other failure stays an error (exit 2).
pub fn verdict<T>(outcome: Result<T, GateError>) -> anyhow::Result<T> {
    match outcome {
        Ok(accepted) => Ok(accepted),
        Err(GateError::Rejected(rejected)) => {
            Err(PolicyRejected(super::one_line(&anyhow::Error::new(rejected))).into())
        }
        Err(e) => Err(e.into()),
    }
}

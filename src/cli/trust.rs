//! Where policy.json and registries.d come from for a command, and how the
//! gate's verdict (vouch_verify::gate) maps to an exit code.

use std::path::Path;

use vouch_image::ImageRef;
use vouch_verify::docker_ref::DockerRef;
use vouch_verify::gate::{Gate, GateError};
use vouch_verify::policy::Policy;
use vouch_verify::registries_d::{BuiltinDefault, RegistriesD, Search};

use super::common::Global;

/// The policy said no. Carried through anyhow so `main` can exit 1 (a
/// decision) rather than 2 (an error).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PolicyRejected(pub String);

/// Loads the policy: `--insecure-policy` first (as skopeo checks it), else
/// `--signature-policy` (pull), else global `--policy`, else the default
/// locations (§5.1: `$CONTAINERS_POLICY_JSON`, per-user, /etc, /usr/share).
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

/// Where registries.d is read from: `--registries.d` alone, else the
/// drop-in directories containers/image searches (vouch_verify::config_lookup).
pub fn registries_d_search(g: &Global) -> Search {
    match &g.registries_d {
        Some(dir) => Search::explicit(dir),
        None => Search::from_env(),
    }
}

/// The registries.d location for messages ("set … in DIR").
pub fn registries_d_dir(g: &Global) -> String {
    registries_d_search(g).describe()
}

pub fn load_registries_d(g: &Global) -> anyhow::Result<RegistriesD> {
    Ok(RegistriesD::load_search(&registries_d_search(g))?)
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
        registries_d_search(g),
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

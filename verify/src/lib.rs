//! vouch-verify: deciding whether an image's simple signatures are trusted,
//! byte-compatible with containers/image (podman, skopeo, CRI-O).
//!
//! The layers, bottom-up (spec: docs/trust-formats.md):
//!
//! * [`json`] — the paranoid JSON layer (duplicates, unknown keys, trailing
//!   bytes; errors located by key path and line:column), shared with the linter;
//! * [`docker_ref`] — docker references as containers/image normalises them;
//! * [`sniff`] → [`bounds`] → [`mechanism`] → [`untrusted`] → [`signature`] — a stored blob
//!   is classified, verified with Sequoia against trusted keys, its payload
//!   parsed as an *untrusted* claim, and only [`signature::accept`] turns it
//!   into a trusted [`Signature`];
//! * [`policy`] — policy.json parsing and evaluation;
//! * [`registries_d`] and [`lookaside`] — where signatures live and reading them;
//! * [`standalone`] — `standalone-verify`; [`standalone_sigstore`] — its sigstore form;
//! * [`trust_policy`] — podman's `image trust set|show`; [`pem_material`] —
//!   whether sigstore keys and CA files can be used at all.
//!
//! The pull path:
//!
//! ```no_run
//! # async fn pull(manifest: Vec<u8>) -> Result<(), Box<dyn std::error::Error>> {
//! use vouch_verify::lookaside::{read_signatures, Fetcher};
//! use vouch_verify::policy::{Policy, PolicyImage};
//! use vouch_verify::registries_d::{BuiltinDefault, RegistriesD, Search};
//!
//! let policy = Policy::load("/etc/containers/policy.json".as_ref())?;
//! let image = PolicyImage::docker("quay.io/ns/app:v1")?;
//! let mut signatures = Vec::new();
//! if policy.needs_signatures(&image) {
//!     let config = RegistriesD::load_search(&Search::from_env())?;
//!     let reference = image.docker_reference().expect("docker image");
//!     let base = config.read_base(reference, &BuiltinDefault::from_env())?;
//!     let digest = vouch_image::manifest_digest::manifest_digest(&manifest)?;
//!     signatures = read_signatures(&Fetcher::new()?, &base, &digest).await?;
//! }
//! let accepted = policy.evaluate(&image, &manifest, &signatures)?; // Err: "Source image rejected: …"
//! # let _ = accepted; Ok(()) }
//! ```

/// Docker references live in the image crate (the shared vocabulary).
pub use vouch_image::docker_ref;
pub mod bounds;
pub mod config_lookup;
#[doc(hidden)]
pub mod fuzzing;
pub mod gate;
pub mod json;
pub mod keyring;
pub mod lookaside;
pub mod mechanism;
pub mod pem_material;
pub mod policy;
pub mod registries_d;
pub mod signature;
pub mod sigstore;
pub mod sniff;
pub mod standalone;
pub mod standalone_sigstore;
pub mod trust_policy;
pub mod untrusted;

pub use signature::Signature;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod untrusted_tests;

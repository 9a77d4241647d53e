//! Sigstore bundles (`application/vnd.dev.sigstore.bundle…+json`, v0.1–v0.3)
//! verified offline under the existing `sigstoreSigned` requirement.
//!
//! Bottom-up: [`model`] parses the protobuf-JSON bundle (capped first);
//! [`dsse`] is the envelope encoding and the in-toto statement; [`merkle`]
//! the RFC 6962 inclusion proof and signed checkpoint; [`tlog`] binds a log
//! entry to the signature and checks the log's evidence; [`verify`] holds
//! the signer to the requirement's keys, Fulcio or PKI roots (the
//! `publicKey` hint is only a hint: every trusted key is tried); [`image`]
//! maps a verified bundle onto the manifest digest and `signedIdentity`
//! (see there for what cosign 3 signs and why an unnamed subject is
//! refused); [`batch`] verifies many bundles for one requirement.
//!
//! Not checked, as nothing in policy.json can express them: trusted-root
//! validity windows, SCTs, RFC 3161 timestamps (so Rekor v2 entries are
//! refused), and Rekor v1 `envelopeHash` (see [`tlog`]).

pub mod batch;
pub mod dsse;
pub mod image;
pub mod merkle;
pub mod model;
pub mod tlog;
pub mod verify;

pub use image::accept_bundle;
pub use model::{parse, Bundle, BundleVersion, ParseError, MAX_BUNDLE_BYTES};
pub use verify::{
    verify_artifact_bundle, Artifact, BundleError, CertificateIdentity, VerifiedBundle,
};

#[cfg(test)]
mod tests;

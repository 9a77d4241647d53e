//! Sigstore (cosign) signatures under `sigstoreSigned`, as containers/image
//! verifies them (`signature/policy_eval_sigstore.go` and what it calls).
//!
//! A stored signature is three untrusted parts
//! ([`vouch_image::sigstore_blob::SigstoreComponents`]): MIME type, payload
//! and annotations. The modules, bottom-up:
//!
//! * [`pem`] — PEM blocks and base64 as Go's decoders find them;
//! * [`public_key`] — PEM public keys and the signature check (OpenSSL);
//! * [`payload`] — the payload as an untrusted claim;
//! * [`rekor`] — the offline Rekor SET check;
//! * [`certificate`], [`fulcio`], [`pki`] — certificate trust roots;
//! * [`trust_root`] — loading a requirement's keys and CAs;
//! * [`accept`] — one signature against one requirement;
//! * [`bundle`] — Sigstore bundles (cosign 3's OCI-referrer signatures).

pub mod accept;
pub mod bundle;
pub mod certificate;
pub mod fulcio;
pub mod payload;
pub mod pem;
pub mod pki;
pub mod public_key;
pub mod rekor;
pub mod trust_root;

pub use accept::{accept, SigstoreRejection, SigstoreSignature};

#[cfg(test)]
mod tests;

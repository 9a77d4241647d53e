//! Many bundles under one requirement, for batch verification
//! (`standalone-verify` with bundle input): the trust root is loaded once,
//! then each bundle costs a parse, two or three ECDSA checks and a few
//! hundred SHA-256 blocks.

use std::time::SystemTime;

use super::image::accept_with_root;
use super::verify::BundleError;
use crate::policy::{PolicyImage, SigstoreSigned};
use crate::sigstore::trust_root::{self, TrustRootError};
use crate::sigstore::SigstoreSignature;

/// One image and a bundle that claims to sign it.
pub struct BatchItem<'a> {
    pub image: &'a PolicyImage,
    pub manifest: &'a [u8],
    pub bundle: &'a [u8],
}

/// Verifies every item against `req`; one verdict per item, in order. Fails
/// as a whole only when `req`'s keys or CAs cannot be loaded.
pub fn verify_bundles(
    req: &SigstoreSigned,
    items: &[BatchItem<'_>],
    now: SystemTime,
) -> Result<Vec<Result<SigstoreSignature, BundleError>>, TrustRootError> {
    let root = trust_root::prepare(req)?;
    Ok(items
        .iter()
        .map(|item| accept_with_root(&root, req, item.image, item.manifest, item.bundle, now))
        .collect())
}

//! `skopeo delete docker://…` on the registry side, as containers/image's
//! `deleteImage`: GET the manifest the reference names, take the digest of
//! the bytes served (schema1 signatures stripped, `manifest.Digest`), and
//! DELETE `manifests/<digest>`, which must answer 202. The signatures in
//! lookaside staging are the caller's (vouch-verify) business.

use super::{error_detail, RemoteError};
use crate::manifest;
use crate::manifest_digest::manifest_digest;
use crate::reference::ImageRef;
use crate::referrers::http::RawClient;

/// What upstream's `DefaultRequestedManifestMIMETypes` asks for, schema1 included.
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.v1+prettyjws, \
application/vnd.docker.distribution.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.index.v1+json";

/// A DELETE reply is an error body at most.
const MAX_ERROR_BODY: u64 = 1 << 20;

/// The reference's tag or digest, as the manifest URL names it.
fn tag_or_digest(reference: &ImageRef) -> &str {
    reference.digest().or(reference.tag()).unwrap_or("latest")
}

/// The digest of the manifest `reference` names right now.
pub async fn resolve_digest(
    client: &RawClient,
    reference: &ImageRef,
) -> Result<String, RemoteError> {
    let url = client.url(&format!("manifests/{}", tag_or_digest(reference)));
    let reply = client
        .get(&url, ACCEPT, manifest::MAX_MANIFEST_BYTES as u64)
        .await?;
    match reply.status.as_u16() {
        200 => {}
        404 => {
            return Err(RemoteError::DeleteUnknown {
                reference: reference.to_string(),
            })
        }
        _ => {
            return Err(RemoteError::Status {
                url,
                what: "fetching the manifest to delete",
                detail: error_detail(reply.status, &reply.body),
            })
        }
    }
    manifest_digest(&reply.body).map_err(|source| RemoteError::Digest {
        reference: reference.to_string(),
        source,
    })
}

/// Deletes `manifests/<digest>` from the client's repository.
pub async fn delete_manifest(client: &RawClient, digest: &str) -> Result<(), RemoteError> {
    let url = client.url(&format!("manifests/{digest}"));
    let reply = client.delete(&url, ACCEPT, MAX_ERROR_BODY).await?;
    if reply.status.as_u16() != 202 {
        return Err(RemoteError::Status {
            url,
            what: "deleting manifest",
            detail: error_detail(reply.status, &reply.body),
        });
    }
    Ok(())
}

//! Applying a stored layer blob: unpack it into a fresh directory and report
//! the digest of what was unpacked, for the caller to check against the
//! image config's diff_id. Shared by pull, import and load.

use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::unpack::{self, UnpackError, UnpackOptions};

/// Why a layer could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("layer {blob}")]
    Unpack {
        blob: Digest,
        #[source]
        source: UnpackError,
    },
    #[error("layer {blob} unpacks to {actual}, but the image config says {expected}")]
    DiffId {
        blob: Digest,
        expected: Digest,
        actual: String,
    },
}

/// Unpacks the blob at `blob_path` into `dest` (created here), checks the
/// uncompressed digest against `expected` when given, and returns it with
/// the uncompressed size.
pub fn apply_layer(
    blob_path: &Path,
    blob: &Digest,
    dest: &Path,
    expected: Option<&Digest>,
    opts: &UnpackOptions,
) -> Result<(Digest, u64), ApplyError> {
    let f = std::fs::File::open(blob_path).map_err(|source| ApplyError::Io {
        path: blob_path.to_path_buf(),
        source,
    })?;
    apply_layer_from(f, blob, dest, expected, opts)
}

/// [`apply_layer`] from any reader of the blob's bytes (a pull streams them
/// straight from the network while they are also written to the store).
pub fn apply_layer_from(
    reader: impl std::io::Read,
    blob: &Digest,
    dest: &Path,
    expected: Option<&Digest>,
    opts: &UnpackOptions,
) -> Result<(Digest, u64), ApplyError> {
    std::fs::create_dir(dest).map_err(|source| ApplyError::Io {
        path: dest.to_path_buf(),
        source,
    })?;
    let summary =
        unpack::unpack_layer(reader, dest, opts).map_err(|source| ApplyError::Unpack {
            blob: blob.clone(),
            source,
        })?;
    let actual = Digest::parse(&summary.diff_id).ok();
    match (actual, expected) {
        (Some(a), Some(e)) if &a == e => Ok((a, summary.uncompressed_size)),
        (Some(a), None) => Ok((a, summary.uncompressed_size)),
        (_, Some(e)) => Err(ApplyError::DiffId {
            blob: blob.clone(),
            expected: e.clone(),
            actual: summary.diff_id,
        }),
        (None, None) => Err(ApplyError::DiffId {
            blob: blob.clone(),
            expected: Digest::of(b""),
            actual: summary.diff_id,
        }),
    }
}

//! File plumbing the local transports share: capped reads of files an
//! attacker may have written, blob streams out of files, and writes that
//! become visible only by a rename after the data is complete, so a failed
//! or killed copy never leaves a truncated blob under its digest's name.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::endpoint::BlobStream;
use crate::error::CopyError;

/// Reads of blob files go in chunks of this size.
const CHUNK: usize = 256 << 10;

/// Reads `path`, refusing it when it is larger than `max` bytes (checked on
/// the open file and again while reading, so a growing file cannot slip by).
pub fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, CopyError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(CopyError::io(path.display()))?;
    let len = file
        .metadata()
        .map_err(CopyError::io(path.display()))?
        .len();
    if len > max {
        return Err(too_large(path, max));
    }
    let mut buf = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(CopyError::io(path.display()))?;
    if buf.len() as u64 > max {
        return Err(too_large(path, max));
    }
    Ok(buf)
}

/// Like [`read_capped`], with `Ok(None)` when the file does not exist.
pub fn read_capped_opt(path: &Path, max: u64) -> Result<Option<Vec<u8>>, CopyError> {
    match read_capped(path, max) {
        Ok(b) => Ok(Some(b)),
        Err(CopyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn too_large(path: &Path, max: u64) -> CopyError {
    CopyError::Io {
        path: path.display().to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("file is larger than the {max}-byte limit"),
        ),
    }
}

/// A stream of the bytes of `reader`; read errors name `path`.
pub fn reader_stream<R>(reader: R, path: PathBuf) -> BlobStream
where
    R: AsyncRead + Send + Unpin + 'static,
{
    futures_util::stream::unfold(Some(reader), move |state| {
        let path = path.clone();
        async move {
            let mut reader = state?;
            let mut buf = BytesMut::zeroed(CHUNK);
            match reader.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(buf.freeze()), Some(reader)))
                }
                Err(e) => Some((
                    Err(std::io::Error::new(
                        e.kind(),
                        format!("{}: {e}", path.display()),
                    )),
                    None,
                )),
            }
        }
    })
    .boxed()
}

/// The bytes of the file at `path`, opened now so a missing blob fails here
/// (naming the file) rather than in the middle of the copy.
pub async fn file_stream(path: PathBuf) -> Result<BlobStream, CopyError> {
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(CopyError::io(path.display()))?;
    Ok(reader_stream(file, path))
}

/// A stream of bytes held in memory (a generated manifest, a config).
pub fn bytes_stream(bytes: Bytes) -> BlobStream {
    futures_util::stream::iter([Ok(bytes)]).boxed()
}

/// Writes `data` to a temp file in `tmp_dir` and renames it to `dest` only
/// once the stream has ended without error; on any failure the temp file
/// is removed and `dest` is untouched. Returns the number of bytes.
pub async fn write_stream(
    tmp_dir: &Path,
    dest: &Path,
    mut data: BlobStream,
) -> Result<u64, CopyError> {
    let tmp = tempfile::Builder::new()
        .prefix(".vouch-put-blob")
        .tempfile_in(tmp_dir)
        .map_err(CopyError::io(tmp_dir.display()))?;
    let (file, tmp_path) = tmp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut n = 0u64;
    while let Some(chunk) = data.next().await {
        let chunk = chunk.map_err(CopyError::io(dest.display()))?;
        file.write_all(&chunk)
            .await
            .map_err(CopyError::io(tmp_path.display()))?;
        n += chunk.len() as u64;
    }
    file.flush()
        .await
        .map_err(CopyError::io(tmp_path.display()))?;
    file.sync_all()
        .await
        .map_err(CopyError::io(tmp_path.display()))?;
    drop(file);
    set_readable(&tmp_path)?;
    tmp_path
        .persist(dest)
        .map_err(|e| CopyError::io(dest.display())(e.error))?;
    Ok(n)
}

/// Replaces `dest` with `bytes` through a temp file in the same directory.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), CopyError> {
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".vouch-write")
        .tempfile_in(dir)
        .map_err(CopyError::io(dir.display()))?;
    tmp.write_all(bytes)
        .map_err(CopyError::io(dest.display()))?;
    tmp.as_file()
        .sync_all()
        .map_err(CopyError::io(dest.display()))?;
    let tmp_path = tmp.into_temp_path();
    set_readable(&tmp_path)?;
    tmp_path
        .persist(dest)
        .map_err(|e| CopyError::io(dest.display())(e.error))?;
    Ok(())
}

/// Temp files are created 0600; the files containers/image writes are 0644.
fn set_readable(path: &Path) -> Result<(), CopyError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .map_err(CopyError::io(path.display()))
}

/// containers/image's `NoSignatures` stub: an empty list is fine, any
/// signature is refused with the transport's message.
pub fn no_signatures(signatures: &[Vec<u8>], message: &str) -> Result<(), CopyError> {
    if signatures.is_empty() {
        Ok(())
    } else {
        Err(CopyError::Unsupported(message.to_string()))
    }
}

/// An output file (`vouch_image::outfile`) error, naming the file.
pub fn output_error(e: vouch_image::outfile::OutputError) -> CopyError {
    CopyError::Io {
        path: e.path.display().to_string(),
        source: e.source,
    }
}

/// Whether `path` is a regular file of `size` bytes (a blob already there).
pub fn has_file_of_size(path: &Path, size: u64) -> Result<bool, CopyError> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.is_file() && m.len() == size),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CopyError::io(path.display())(e)),
    }
}

/// `path` with a parent that is never empty (`a.tar` → `./a.tar`'s dir).
pub fn parent_dir(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A tiny image and stream helpers for the transports' round-trip tests.
    use super::*;
    use vouch_image::manifest::Descriptor;
    use vouch_image::Digest;

    use crate::endpoint::RawManifest;

    pub struct TinyImage {
        pub config: Vec<u8>,
        pub layer: Vec<u8>,
        pub manifest: RawManifest,
    }

    pub fn desc(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            platform: None,
            annotations: None,
        }
    }

    /// An uncompressed one-file layer tar.
    pub fn layer_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(5);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, "hello.txt", &b"hello"[..]).unwrap();
        b.into_inner().unwrap()
    }

    /// An OCI image whose layer is stored uncompressed.
    pub fn tiny_oci() -> TinyImage {
        let layer = layer_tar();
        let diff = Digest::of(&layer);
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{diff}"]}}}}"#
        )
        .into_bytes();
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": vouch_image::manifest::OCI_MANIFEST,
            "config": desc(vouch_image::manifest::OCI_CONFIG, &config),
            "layers": [desc(vouch_image::manifest::OCI_LAYER_TAR, &layer)],
        });
        TinyImage {
            config,
            layer,
            manifest: RawManifest {
                bytes: serde_json::to_vec(&m).unwrap().into(),
                media_type: vouch_image::manifest::OCI_MANIFEST.into(),
            },
        }
    }

    pub fn stream_of(bytes: &[u8]) -> BlobStream {
        bytes_stream(Bytes::copy_from_slice(bytes))
    }

    /// A stream that yields some bytes and then fails.
    pub fn failing_stream(bytes: &[u8]) -> BlobStream {
        let first = Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
        futures_util::stream::iter([
            Ok(first),
            Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "boom")),
        ])
        .boxed()
    }

    pub async fn collect(s: BlobStream) -> Vec<u8> {
        use futures_util::TryStreamExt;
        let chunks: Vec<Bytes> = s.try_collect().await.unwrap();
        chunks.concat()
    }

    /// Every file under `dir`, relative, sorted.
    pub fn files(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(
                        e.path()
                            .strip_prefix(dir)
                            .unwrap()
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
        }
        out.sort();
        out
    }
}

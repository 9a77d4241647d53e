//! `vouch save` / `vouch load`: oci-archive files (a tar of an OCI image
//! layout), as `podman save --format oci-archive` and skopeo's
//! `oci-archive:` transport read and write them.
//!
//! A loaded archive is hostile input: only `oci-layout`, `index.json` and
//! `blobs/sha256/<hex>` entries are read, every blob is hashed against its
//! name while it is copied into staging, and nothing reaches the store
//! unless every blob and layer checks out.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::apply;
use crate::digest::{Digest, HashingWriter};
use crate::manifest::{self, Descriptor, ImageConfig, Parsed};
use crate::outfile::{OutFile, OutputError};
use crate::reference::ImageRef;
use crate::store::{ImageRecord, LayerRecord, Store, StoreError};
use crate::unpack::{detect_compression, Compression};

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const MAX_JSON: u64 = 4 << 20;

/// Why a save or load failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{archive}: {what}")]
    Invalid { archive: PathBuf, what: String },
    #[error("{archive}: blob {name} does not match its digest (got {actual})")]
    BlobMismatch {
        archive: PathBuf,
        name: String,
        actual: Digest,
    },
    #[error("{archive}")]
    Manifest {
        archive: PathBuf,
        #[source]
        source: manifest::ManifestError,
    },
    #[error("{archive}")]
    Apply {
        archive: PathBuf,
        #[source]
        source: apply::ApplyError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Output(#[from] OutputError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `images` to `out` as an oci-archive, as an output file (see
/// [`crate::outfile`]): a regular file is replaced by a rename, so a killed
/// save leaves no torn archive; a device or FIFO is written through.
pub fn save(
    store: &Store,
    images: &[(ImageRecord, Option<String>)],
    out: &Path,
) -> Result<(), ArchiveError> {
    let out_file = OutFile::create(out)?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, out_file.file()));
    let add_bytes =
        |tar: &mut tar::Builder<_>, name: &str, bytes: &[u8]| -> Result<(), ArchiveError> {
            let mut h = tar::Header::new_ustar();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_cksum();
            tar.append_data(&mut h, name, bytes).map_err(io(out))
        };
    add_bytes(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut written = std::collections::HashSet::new();
    let mut manifests = Vec::new();
    for (img, name) in images {
        let mut blobs = vec![img.digest.clone(), img.config.digest.clone()];
        blobs.extend(img.layers.iter().map(|l| l.blob.digest.clone()));
        for d in blobs {
            if !written.insert(d.clone()) {
                continue;
            }
            let p = store.blob_path(&d);
            let mut f = std::fs::File::open(&p).map_err(io(&p))?;
            tar.append_file(format!("blobs/sha256/{}", d.hex()), &mut f)
                .map_err(io(out))?;
        }
        let size = std::fs::metadata(store.blob_path(&img.digest))
            .map_err(io(out))?
            .len();
        let mut entry = json!({"mediaType": img.manifest_media_type, "digest": img.digest.to_string(), "size": size});
        if let Some(n) = name {
            entry["annotations"] = json!({ REF_NAME: n });
        }
        manifests.push(entry);
    }
    let index =
        json!({"schemaVersion": 2, "mediaType": manifest::OCI_INDEX, "manifests": manifests});
    add_bytes(&mut tar, "index.json", index.to_string().as_bytes())?;
    let mut w = tar.into_inner().map_err(io(out))?;
    w.flush().map_err(io(out))?;
    drop(w);
    out_file.commit()?;
    Ok(())
}

/// Loads every image of the oci-archive at `input` (plain, gzip or zstd
/// compressed), returning the records created.
pub fn load(store: &Store, input: &Path) -> Result<Vec<ImageRecord>, ArchiveError> {
    let invalid = |what: String| ArchiveError::Invalid {
        archive: input.to_path_buf(),
        what,
    };
    let f = std::fs::File::open(input).map_err(io(input))?;
    let mut src = BufReader::with_capacity(1 << 20, f);
    let magic = src.fill_buf().map_err(io(input))?.to_vec();
    let reader: Box<dyn Read> = match detect_compression(&magic) {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(src)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(src).map_err(io(input))?)
        }
        Compression::None => Box::new(src),
    };
    let staging = store.staging()?;
    let mut staged: HashMap<Digest, PathBuf> = HashMap::new();
    let mut index: Option<Vec<u8>> = None;
    let mut saw_layout = false;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(io(input))? {
        let mut entry = entry.map_err(io(input))?;
        let path = entry
            .path()
            .map_err(io(input))?
            .to_string_lossy()
            .into_owned();
        let path = path.trim_start_matches("./").to_string();
        if !entry.header().entry_type().is_file() {
            continue;
        }
        match path.as_str() {
            "index.json" => {
                let mut buf = Vec::new();
                (&mut entry).take(MAX_JSON + 1).read_to_end(&mut buf).map_err(io(input))?;
                if buf.len() as u64 > MAX_JSON {
                    return Err(invalid("index.json is too large".into()));
                }
                index = Some(buf);
            }
            "oci-layout" => saw_layout = true,
            "manifest.json" => {
                return Err(invalid(
                    "this is a docker-archive; vouch load reads oci-archive (podman save --format oci-archive)".into(),
                ))
            }
            p => {
                let Some(hex) = p.strip_prefix("blobs/sha256/") else {
                    continue;
                };
                let want = Digest::parse(&format!("sha256:{hex}"))
                    .map_err(|_| invalid(format!("unexpected entry {p:?}")))?;
                let max = store.limits().max_layer_bytes;
                if entry.size() > max {
                    return Err(invalid(format!(
                        "blob {p} is larger than the layer size cap of {max} bytes (--max-layer-size)"
                    )));
                }
                let dst = staging.blob(&want);
                let out = std::fs::File::create(&dst).map_err(io(&dst))?;
                let mut w = HashingWriter::new(BufWriter::with_capacity(1 << 20, out));
                std::io::copy(&mut entry, &mut w).map_err(io(input))?;
                let (w, actual, _) = w.finish();
                w.into_inner().map_err(|e| io(&dst)(e.into_error()))?;
                if actual != want {
                    return Err(ArchiveError::BlobMismatch {
                        archive: input.to_path_buf(),
                        name: p.to_string(),
                        actual,
                    });
                }
                staged.insert(want, dst);
            }
        }
    }
    if !saw_layout {
        return Err(invalid("no oci-layout file: not an oci-archive".into()));
    }
    let index = index.ok_or_else(|| invalid("no index.json".into()))?;
    let index: manifest::Index =
        serde_json::from_slice(&index).map_err(|e| invalid(format!("index.json: {e}")))?;
    let blob_path = |d: &Digest| -> Result<PathBuf, ArchiveError> {
        if let Some(p) = staged.get(d) {
            return Ok(p.clone());
        }
        if store.has_blob(d) {
            return Ok(store.blob_path(d));
        }
        Err(invalid(format!("blob {d} is referenced but missing")))
    };
    let read_small = |d: &Descriptor| -> Result<Vec<u8>, ArchiveError> {
        let p = blob_path(&d.digest)?;
        let bytes = std::fs::read(&p).map_err(io(&p))?;
        if bytes.len() as u64 > MAX_JSON {
            return Err(invalid(format!(
                "blob {} is too large for a manifest or config",
                d.digest
            )));
        }
        Ok(bytes)
    };
    let merr = |source| ArchiveError::Manifest {
        archive: input.to_path_buf(),
        source,
    };
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().trim_end_matches(".tar").to_lowercase())
        .unwrap_or_default();
    let mut sizes = store.layer_sizes()?;
    let mut out = Vec::new();
    for entry in &index.manifests {
        let opts = store.unpack_options();
        let mut mdesc = entry.clone();
        let mut mbytes = read_small(&mdesc)?;
        let mut mt = manifest::media_type_of(&mbytes, Some(&mdesc.media_type)).map_err(merr)?;
        if let Parsed::Index(i) = manifest::parse(&mbytes, &mt).map_err(merr)? {
            let want = manifest::wanted_platform(None, None);
            mdesc = manifest::select_platform(&i, &want).map_err(merr)?.clone();
            mbytes = read_small(&mdesc)?;
            mt = manifest::media_type_of(&mbytes, Some(&mdesc.media_type)).map_err(merr)?;
        }
        let Parsed::Image(m) = manifest::parse(&mbytes, &mt).map_err(merr)? else {
            return Err(invalid("nested manifest lists are not supported".into()));
        };
        let cfg_bytes = read_small(&m.config)?;
        let config = ImageConfig::parse(&cfg_bytes, m.layers.len()).map_err(merr)?;
        let mut layers = Vec::new();
        for (blob, diff_id) in m.layers.iter().zip(&config.rootfs.diff_ids) {
            // A layer already stored, or applied for an earlier image of
            // this archive, keeps its measured size.
            let size = match sizes.get(diff_id) {
                Some(size) if store.has_layer(diff_id) || staging.layer(diff_id).exists() => *size,
                _ => {
                    let bp = blob_path(&blob.digest)?;
                    let dest = staging.layer(diff_id);
                    let (_, size) =
                        apply::apply_layer(&bp, &blob.digest, &dest, Some(diff_id), &opts)
                            .map_err(|source| ArchiveError::Apply {
                                archive: input.to_path_buf(),
                                source,
                            })?;
                    sizes.insert(diff_id.clone(), size);
                    size
                }
            };
            layers.push(LayerRecord {
                blob: blob.clone(),
                diff_id: diff_id.clone(),
                size,
            });
        }
        let name = entry
            .annotations
            .as_ref()
            .and_then(|a| a.get(REF_NAME))
            .and_then(|n| archive_name(n, &stem));
        let lock = store.lock()?;
        for d in [&mdesc.digest, &m.config.digest]
            .into_iter()
            .chain(m.layers.iter().map(|l| &l.digest))
        {
            if let Some(p) = staged.get(d) {
                if p.exists() {
                    store.commit_blob(p, d)?;
                }
            }
        }
        for l in &layers {
            let staged_layer = staging.layer(&l.diff_id);
            if staged_layer.exists() {
                store.commit_layer(&staged_layer, &l.diff_id)?;
            }
        }
        let rec = ImageRecord {
            id: crate::ImageId::of_config(&m.config.digest),
            names: name.into_iter().collect(),
            digest: mdesc.digest.clone(),
            manifest_media_type: mt,
            config: m.config.clone(),
            layers,
            repo_digests: vec![],
            created: config.created.clone(),
            stored: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            signatures: vec![],
        };
        out.push(store.commit_image(&lock, rec)?);
    }
    Ok(out)
}

/// The name an archive entry loads under: its `ref.name` when that is a full
/// reference, or `localhost/<archive name>:<tag>` when it is only a tag (as
/// skopeo writes `oci-archive:FILE:TAG`).
fn archive_name(ref_name: &str, stem: &str) -> Option<String> {
    if ref_name.contains('/') {
        return ImageRef::parse(ref_name).ok().map(|r| r.to_string());
    }
    ImageRef::parse(&format!("localhost/{stem}:{ref_name}"))
        .ok()
        .map(|r| r.to_string())
}

#[cfg(test)]
mod tests {
    use super::archive_name;

    #[test]
    fn names_from_annotations() {
        assert_eq!(
            archive_name("localhost/httpd:1", "x").unwrap(),
            "localhost/httpd:1"
        );
        assert_eq!(
            archive_name("latest", "big").unwrap(),
            "localhost/big:latest"
        );
        assert!(archive_name("Bad Name", "x").is_none());
    }
}

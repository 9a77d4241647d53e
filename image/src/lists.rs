//! Manifest lists in the local store, as podman's `manifest create/add`
//! keep them: the index bytes are a blob like any manifest, and a small
//! record names them. The entries point at stored images by manifest
//! digest, so a multi-arch push moves the stored bytes unchanged and every
//! signature made over them holds.
//!
//! ```text
//! ROOT/lists/<sha256(name) hex>.json   {"name": …, "digest": …}
//! ```

use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::manifest::{self, Descriptor, ImageConfig, Index, Platform};
use crate::reference::ImageRef;
use crate::store::{write_atomic, ImageRecord, Store, StoreError};

/// A named manifest list.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ListRecord {
    pub name: String,
    /// Digest of the OCI index blob.
    pub digest: Digest,
}

/// Local names as podman writes them: `x` is `localhost/x:latest`.
pub fn local_name(name: &str) -> Result<String, crate::RefError> {
    let full = if name.contains('/') {
        name.to_string()
    } else {
        format!("localhost/{name}")
    };
    Ok(ImageRef::parse(&full)?.to_string())
}

fn record_path(store: &Store, name: &str) -> PathBuf {
    store
        .root()
        .join("lists")
        .join(format!("{}.json", Digest::of(name.as_bytes()).hex()))
}

/// The list called `name`, if there is one.
pub fn find(store: &Store, name: &str) -> Result<Option<ListRecord>, StoreError> {
    let Ok(name) = local_name(name) else {
        return Ok(None);
    };
    let p = record_path(store, &name);
    match fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StoreError::Record { path: p, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Io { path: p, source }),
    }
}

/// Every list record (for gc: their blobs stay).
pub fn all(store: &Store) -> Result<Vec<ListRecord>, StoreError> {
    let dir = store.root().join("lists");
    let mut out = Vec::new();
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(source) => return Err(StoreError::Io { path: dir, source }),
    };
    for entry in rd {
        let p = entry
            .map_err(|source| StoreError::Io {
                path: dir.clone(),
                source,
            })?
            .path();
        let bytes = fs::read(&p).map_err(|source| StoreError::Io {
            path: p.clone(),
            source,
        })?;
        out.push(
            serde_json::from_slice(&bytes)
                .map_err(|source| StoreError::Record { path: p, source })?,
        );
    }
    Ok(out)
}

/// The index entry for a stored image: its manifest, and the platform from
/// its config unless `platform` overrides it (podman's `--arch`, `--os`).
pub fn entry_for(
    store: &Store,
    image: &ImageRecord,
    platform: Option<Platform>,
) -> Result<Descriptor, StoreError> {
    let manifest = store.read_blob(&image.digest)?;
    let platform = match platform {
        Some(p) => p,
        None => {
            let cfg = store.read_blob(&image.config.digest)?;
            let parsed: ImageConfig =
                serde_json::from_slice(&cfg).map_err(|source| StoreError::Record {
                    path: store.blob_path(&image.config.digest),
                    source,
                })?;
            Platform {
                architecture: parsed.architecture,
                os: parsed.os,
                variant: None,
            }
        }
    };
    Ok(Descriptor {
        media_type: image.manifest_media_type.clone(),
        digest: image.digest.clone(),
        size: manifest.len() as u64,
        platform: Some(platform),
        annotations: None,
    })
}

/// `index` with `entries` added, each replacing an entry for the same
/// manifest (podman's `manifest add` replaces by digest).
pub fn with_entries(index: Option<&Index>, entries: Vec<Descriptor>) -> Index {
    let mut manifests: Vec<Descriptor> = index.map(|i| i.manifests.clone()).unwrap_or_default();
    for entry in entries {
        manifests.retain(|d| d.digest != entry.digest);
        manifests.push(entry);
    }
    Index {
        schema_version: 2,
        media_type: Some(manifest::OCI_INDEX.to_string()),
        manifests,
    }
}

/// Stores `index` as the list `name` (blob first, record last).
pub fn put(store: &Store, name: &str, index: &Index) -> Result<ListRecord, StoreError> {
    let name = local_name(name).map_err(|e| StoreError::Name(e.to_string()))?;
    let bytes = serde_json::to_vec_pretty(index).map_err(|source| StoreError::Record {
        path: record_path(store, &name),
        source,
    })?;
    let _lock = store.lock()?;
    let digest = store.put_blob(&bytes)?;
    let rec = ListRecord { name, digest };
    let p = record_path(store, &rec.name);
    let json = serde_json::to_vec_pretty(&rec).map_err(|source| StoreError::Record {
        path: p.clone(),
        source,
    })?;
    write_atomic(&p, &json)?;
    Ok(rec)
}

/// The parsed index of a stored list.
pub fn index_of(store: &Store, rec: &ListRecord) -> Result<Index, StoreError> {
    let bytes = store.read_blob(&rec.digest)?;
    serde_json::from_slice(&bytes).map_err(|source| StoreError::Record {
        path: store.blob_path(&rec.digest),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(d: &[u8], arch: &str) -> Descriptor {
        Descriptor {
            media_type: manifest::OCI_MANIFEST.into(),
            digest: Digest::of(d),
            size: d.len() as u64,
            platform: Some(Platform {
                architecture: arch.into(),
                os: "linux".into(),
                variant: None,
            }),
            annotations: None,
        }
    }

    #[test]
    fn adding_the_same_manifest_replaces_it() {
        let i = with_entries(None, vec![desc(b"a", "amd64")]);
        let i = with_entries(Some(&i), vec![desc(b"b", "arm64")]);
        let i = with_entries(Some(&i), vec![desc(b"a", "amd64")]);
        assert_eq!(i.manifests.len(), 2);
        assert_eq!(i.manifests[1].digest, Digest::of(b"a"));
        assert_eq!(i.media_type.as_deref(), Some(manifest::OCI_INDEX));
    }

    #[test]
    fn short_names_are_local() {
        assert_eq!(local_name("multi").unwrap(), "localhost/multi:latest");
        assert_eq!(local_name("localhost/m:1").unwrap(), "localhost/m:1");
    }
}

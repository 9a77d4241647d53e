//! `vouch import`: a root-filesystem tarball becomes a one-layer image, with
//! podman's `--change` instructions applied to its config.

use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::apply;
use crate::digest::{Digest, HashingReader, HashingWriter};
use crate::manifest::{Descriptor, RunConfig, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST};
use crate::reference::ImageRef;
use crate::store::{ImageRecord, LayerRecord, Store, StoreError};
use crate::unpack::{detect_compression, Compression};

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--change {0:?}: expected INSTRUCTION VALUE with one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, WORKDIR")]
    Change(String),
    #[error(
        "{path}: larger than the layer size cap of {max} bytes uncompressed (--max-layer-size)"
    )]
    TooLarge { path: PathBuf, max: u64 },
    #[error(transparent)]
    Apply(#[from] apply::ApplyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Applies podman/Dockerfile `--change` instructions to a run config.
pub fn apply_changes(cfg: &mut RunConfig, changes: &[String]) -> Result<(), ImportError> {
    for ch in changes {
        let bad = || ImportError::Change(ch.clone());
        let (instr, value) = ch.trim().split_once(char::is_whitespace).ok_or_else(bad)?;
        let value = value.trim();
        let exec_form = || -> Vec<String> {
            serde_json::from_str::<Vec<String>>(value)
                .unwrap_or_else(|_| vec!["/bin/sh".into(), "-c".into(), value.into()])
        };
        match instr.to_ascii_uppercase().as_str() {
            "CMD" => cfg.cmd = Some(exec_form()),
            "ENTRYPOINT" => cfg.entrypoint = Some(exec_form()),
            "ENV" => {
                let (k, v) = value
                    .split_once('=')
                    .or_else(|| value.split_once(char::is_whitespace))
                    .ok_or_else(bad)?;
                let env = cfg.env.get_or_insert_with(Vec::new);
                env.retain(|e| e.split('=').next() != Some(k));
                env.push(format!("{k}={}", v.trim()));
            }
            "EXPOSE" => {
                for p in value.split_whitespace() {
                    let p = if p.contains('/') {
                        p.to_string()
                    } else {
                        format!("{p}/tcp")
                    };
                    cfg.exposed_ports
                        .get_or_insert_with(BTreeMap::new)
                        .insert(p, json!({}));
                }
            }
            "LABEL" => {
                let (k, v) = value.split_once('=').ok_or_else(bad)?;
                cfg.labels
                    .get_or_insert_with(BTreeMap::new)
                    .insert(k.into(), v.trim_matches('"').into());
            }
            "STOPSIGNAL" => cfg.stop_signal = Some(value.into()),
            "USER" => cfg.user = Some(value.into()),
            "WORKDIR" => cfg.working_dir = Some(value.into()),
            _ => return Err(bad()),
        }
    }
    Ok(())
}

/// Imports `tarball` (plain, gzip or zstd tar of a root filesystem) as a
/// one-layer OCI image, named `name` when given.
pub fn import_tarball(
    store: &Store,
    tarball: &Path,
    name: Option<&ImageRef>,
    changes: &[String],
) -> Result<ImageRecord, ImportError> {
    let mut run = RunConfig {
        env: Some(vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ]),
        ..Default::default()
    };
    apply_changes(&mut run, changes)?;
    let staging = store.staging()?;

    // Recompress as gzip while hashing both sides in one pass.
    let src = std::fs::File::open(tarball).map_err(io(tarball))?;
    let mut src = BufReader::with_capacity(1 << 20, src);
    let magic = {
        use std::io::BufRead;
        src.fill_buf().map_err(io(tarball))?.to_vec()
    };
    let plain: Box<dyn Read> = match detect_compression(&magic) {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(src)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(src).map_err(io(tarball))?)
        }
        Compression::None => Box::new(src),
    };
    let mut plain = HashingReader::new(plain);
    let tmp_blob = staging.path().join("import.tar.gz");
    let out = std::fs::File::create(&tmp_blob).map_err(io(&tmp_blob))?;
    let mut gz = flate2::write::GzEncoder::new(
        HashingWriter::new(BufWriter::with_capacity(1 << 20, out)),
        flate2::Compression::default(),
    );
    // The cap applies before unpacking too: a decompression bomb must not
    // spend minutes re-compressing what the unpacker would then refuse.
    let max = store.limits().max_layer_bytes;
    let copied = std::io::copy(&mut (&mut plain).take(max.saturating_add(1)), &mut gz)
        .map_err(io(tarball))?;
    if copied > max {
        return Err(ImportError::TooLarge {
            path: tarball.to_path_buf(),
            max,
        });
    }
    let (writer, blob_digest, blob_size) = gz.finish().map_err(io(&tmp_blob))?.finish();
    writer
        .into_inner()
        .map_err(|e| io(&tmp_blob)(e.into_error()))?;
    let (diff_id, _) = plain.finish();

    let layer_dir = staging.layer(&diff_id);
    let (_, size) = apply::apply_layer(
        &tmp_blob,
        &blob_digest,
        &layer_dir,
        Some(&diff_id),
        &store.unpack_options(),
    )?;

    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let config = json!({
        "created": now,
        "architecture": crate::manifest::wanted_platform(None, None).architecture,
        "os": "linux",
        "config": run,
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
        "history": [{"created": now, "created_by": format!("/bin/sh -c #(nop) ADD file:{} in / ", diff_id.hex())}],
    });
    let config_bytes = serde_json::to_vec(&config).map_err(|e| io(tarball)(e.into()))?;
    let config_desc = Descriptor {
        media_type: OCI_CONFIG.into(),
        digest: Digest::of(&config_bytes),
        size: config_bytes.len() as u64,
        platform: None,
        annotations: None,
    };
    let layer_desc = Descriptor {
        media_type: OCI_LAYER_GZIP.into(),
        digest: blob_digest.clone(),
        size: blob_size,
        platform: None,
        annotations: None,
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_desc,
        "layers": [layer_desc],
    });
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| io(tarball)(e.into()))?;

    let lock = store.lock()?;
    store.commit_blob(&tmp_blob, &blob_digest)?;
    store.commit_layer(&layer_dir, &diff_id)?;
    store.put_blob(&config_bytes)?;
    let digest = store.put_blob(&manifest_bytes)?;
    let rec = ImageRecord {
        id: crate::ImageId::of_config(&config_desc.digest),
        names: name.map(|n| vec![n.to_string()]).unwrap_or_default(),
        digest,
        manifest_media_type: OCI_MANIFEST.into(),
        config: config_desc,
        layers: vec![LayerRecord {
            blob: layer_desc,
            diff_id,
            size,
        }],
        repo_digests: vec![],
        created: Some(now),
        stored: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        signatures: vec![],
    };
    Ok(store.commit_image(&lock, rec)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_follow_dockerfile_forms() {
        let mut c = RunConfig::default();
        apply_changes(
            &mut c,
            &[
                r#"CMD ["/bin/httpd","-f"]"#.into(),
                "ENTRYPOINT echo hi".into(),
                "ENV A=1".into(),
                "ENV A=2".into(),
                "EXPOSE 80".into(),
                "WORKDIR /www".into(),
                "USER nobody".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.cmd.unwrap(), ["/bin/httpd", "-f"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(c.env.unwrap(), ["A=2"]);
        assert!(c.exposed_ports.unwrap().contains_key("80/tcp"));
        assert_eq!(c.working_dir.as_deref(), Some("/www"));
        assert!(apply_changes(&mut RunConfig::default(), &["FROM x".into()]).is_err());
        assert!(apply_changes(&mut RunConfig::default(), &["CMD".into()]).is_err());
    }
}

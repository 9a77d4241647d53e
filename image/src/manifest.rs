//! Manifests, indexes and image configs: the OCI and Docker schema2 formats
//! that registries serve, parsed just far enough to move and check an image.
//!
//! The raw bytes are what digests and signatures are computed over, so every
//! type here is parsed *from* bytes that the caller keeps; nothing is ever
//! re-serialised and pushed in place of the original.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Every manifest type a pull asks for, in podman's order of preference.
pub const ACCEPTED: &[&str] = &[OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST];

/// containers/image refuses manifests above 4 MiB; so do we.
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;
/// Image configs are capped the same way (containers/image: 4 MiB).
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// Why a manifest or config was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is {0} bytes, over the {MAX_MANIFEST_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("manifest is not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("unsupported manifest media type {0:?}")]
    MediaType(String),
    #[error("unsupported manifest schemaVersion {0}")]
    SchemaVersion(u32),
    #[error("unsupported layer media type {0:?} (foreign or unknown layers are refused)")]
    LayerType(String),
    #[error("image config is not valid JSON")]
    Config(#[source] serde_json::Error),
    #[error("image config lists {diff_ids} diff_ids for {layers} layers")]
    LayerCount { diff_ids: usize, layers: usize },
    #[error("no image for platform {0} in the manifest list")]
    NoPlatform(String),
}

/// A content descriptor as it appears in manifests and indexes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The platform an index entry is built for.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An OCI image manifest or a Docker schema2 manifest (same shape).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// An OCI index or a Docker manifest list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

/// What a manifest reference resolved to.
#[derive(Debug)]
pub enum Parsed {
    Image(ImageManifest),
    Index(Index),
}

/// Reads the media type from the document itself, falling back to the
/// Content-Type the registry sent, then to the shape (as containers/image's
/// `GuessMIMEType` does for OCI documents without `mediaType`).
pub fn media_type_of(bytes: &[u8], content_type: Option<&str>) -> Result<String, ManifestError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(ManifestError::Json)?;
    if let Some(mt) = probe.media_type.filter(|m| !m.is_empty()) {
        return Ok(mt);
    }
    if let Some(ct) = content_type.filter(|c| ACCEPTED.contains(c)) {
        return Ok(ct.to_string());
    }
    Ok(if probe.manifests.is_some() {
        OCI_INDEX
    } else {
        OCI_MANIFEST
    }
    .to_string())
}

/// Parses a manifest or index and checks what a pull relies on.
pub fn parse(bytes: &[u8], media_type: &str) -> Result<Parsed, ManifestError> {
    let parsed = parse_shape(bytes, media_type)?;
    if let Parsed::Image(m) = &parsed {
        for l in &m.layers {
            layer_compression(&l.media_type)?;
        }
    }
    Ok(parsed)
}

/// Parses a manifest or index without judging its layer types: a copy
/// moves blobs it never unpacks (attestations, artifacts) byte for byte.
pub fn parse_shape(bytes: &[u8], media_type: &str) -> Result<Parsed, ManifestError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge(bytes.len()));
    }
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let m: ImageManifest = serde_json::from_slice(bytes).map_err(ManifestError::Json)?;
            if m.schema_version != 2 {
                return Err(ManifestError::SchemaVersion(m.schema_version));
            }
            Ok(Parsed::Image(m))
        }
        OCI_INDEX | DOCKER_LIST => {
            let i: Index = serde_json::from_slice(bytes).map_err(ManifestError::Json)?;
            if i.schema_version != 2 {
                return Err(ManifestError::SchemaVersion(i.schema_version));
            }
            Ok(Parsed::Index(i))
        }
        other => Err(ManifestError::MediaType(other.to_string())),
    }
}

/// The compression a layer media type declares; unpacking still sniffs the
/// bytes, this only refuses foreign and non-layer types up front.
pub fn layer_compression(media_type: &str) -> Result<&'static str, ManifestError> {
    match media_type {
        OCI_LAYER_TAR | "application/vnd.docker.image.rootfs.diff.tar" => Ok("none"),
        OCI_LAYER_GZIP | DOCKER_LAYER_GZIP => Ok("gzip"),
        OCI_LAYER_ZSTD => Ok("zstd"),
        other => Err(ManifestError::LayerType(other.to_string())),
    }
}

/// The platform a pull wants: podman's `--platform os/arch[/variant]`,
/// `--arch`, defaulting to linux and this machine's architecture.
pub fn wanted_platform(platform: Option<&str>, arch: Option<&str>) -> Platform {
    let mut p = Platform {
        os: "linux".into(),
        architecture: go_arch(std::env::consts::ARCH).into(),
        variant: None,
    };
    if let Some(spec) = platform {
        let mut parts = spec.split('/');
        if let Some(os) = parts.next().filter(|s| !s.is_empty()) {
            p.os = os.into();
        }
        if let Some(a) = parts.next().filter(|s| !s.is_empty()) {
            p.architecture = a.into();
        }
        p.variant = parts.next().map(str::to_string);
    }
    if let Some(a) = arch {
        p.architecture = a.into();
    }
    p
}

/// Rust's architecture names differ from Go's, which images use.
fn go_arch(rust: &str) -> &str {
    match rust {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// Picks the entry of `index` for `want` (the variant only when asked for).
pub fn select_platform<'a>(
    index: &'a Index,
    want: &Platform,
) -> Result<&'a Descriptor, ManifestError> {
    index
        .manifests
        .iter()
        .find(|d| {
            d.platform.as_ref().is_some_and(|p| {
                p.os == want.os
                    && p.architecture == want.architecture
                    && (want.variant.is_none() || p.variant == want.variant)
            })
        })
        .ok_or_else(|| {
            let mut s = format!("{}/{}", want.os, want.architecture);
            if let Some(v) = &want.variant {
                s.push('/');
                s.push_str(v);
            }
            ManifestError::NoPlatform(s)
        })
}

/// The parts of an image config vouch reads: what to run and how the layers
/// stack. Unknown fields are kept out of this struct, not rejected, because
/// the stored config bytes stay the source of truth.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<RunConfig>,
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<serde_json::Value>,
}

/// How the image's process runs (the config's `config` object).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// The layer stack, by uncompressed digest.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<Digest>,
}

impl ImageConfig {
    /// Parses a config and checks it matches the manifest's layer count, so
    /// every layer has a diff_id to be verified against.
    pub fn parse(bytes: &[u8], layers: usize) -> Result<Self, ManifestError> {
        let c: ImageConfig = serde_json::from_slice(bytes).map_err(ManifestError::Config)?;
        if c.rootfs.diff_ids.len() != layers {
            return Err(ManifestError::LayerCount {
                diff_ids: c.rootfs.diff_ids.len(),
                layers,
            });
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &[u8] = include_bytes!(
        "../../fixtures/containers-image/internal/manifest/testdata/ociv1.image.index.json"
    );

    #[test]
    fn media_type_from_document_then_header_then_shape() {
        assert_eq!(media_type_of(br#"{"mediaType":"x"}"#, None).unwrap(), "x");
        assert_eq!(
            media_type_of(b"{}", Some(DOCKER_MANIFEST)).unwrap(),
            DOCKER_MANIFEST
        );
        assert_eq!(
            media_type_of(br#"{"manifests":[]}"#, None).unwrap(),
            OCI_INDEX
        );
        assert_eq!(
            media_type_of(br#"{"layers":[]}"#, Some("text/plain")).unwrap(),
            OCI_MANIFEST
        );
        assert!(media_type_of(b"not json", None).is_err());
    }

    #[test]
    fn index_selects_platform() {
        let Parsed::Index(i) = parse(INDEX, OCI_INDEX).unwrap() else {
            panic!("not an index")
        };
        let want = wanted_platform(Some("linux/amd64"), None);
        assert!(select_platform(&i, &want).is_ok());
        let none = wanted_platform(Some("plan9/mips"), None);
        let err = select_platform(&i, &none).unwrap_err().to_string();
        assert!(err.contains("plan9/mips"), "{err}");
    }

    #[test]
    fn refuses_foreign_layers_and_bad_schema() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let m = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{OCI_CONFIG}","digest":"{d}","size":0}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"{d}","size":0}}]}}"#
        );
        assert!(matches!(
            parse(m.as_bytes(), OCI_MANIFEST),
            Err(ManifestError::LayerType(_))
        ));
        let m1 = m.replace("\"schemaVersion\":2", "\"schemaVersion\":1");
        assert!(parse(m1.as_bytes(), OCI_MANIFEST).is_err());
        let bad_digest = m.replace(d, "sha256:zz");
        assert!(parse(bad_digest.as_bytes(), OCI_MANIFEST).is_err());
    }

    #[test]
    fn config_must_cover_every_layer() {
        let c =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        assert!(ImageConfig::parse(c, 0).is_ok());
        assert!(matches!(
            ImageConfig::parse(c, 1),
            Err(ManifestError::LayerCount { .. })
        ));
    }
}

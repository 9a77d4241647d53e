//! `skopeo inspect docker://…`: the manifest the reference names, the
//! instance a manifest list resolves to for the wanted platform, its config,
//! and skopeo 1.9.3's `inspect.Output` document built from them.

use bytes::Bytes;

use super::config::OciConfig;
use super::go_indent::GoValue;
use super::go_time;
use super::platform::{self, PlatformChoice};
use super::RemoteError;
use crate::manifest::{self, Descriptor, ImageManifest, Index};
use crate::reference::ImageRef;
use crate::referrers::http::{HttpError, RawClient};
use crate::registry::{FetchedManifest, Registry};

/// An image manifest (never a list) and its media type.
#[derive(Clone, Debug)]
pub struct Instance {
    pub manifest: ImageManifest,
    pub media_type: String,
}

/// Parses the bytes a registry served, as far as inspect needs: unlike a
/// pull, foreign and artifact layers are listed, not refused. Public for
/// the `remote_inspect` fuzz target.
pub fn parse_image(reference: &ImageRef, f: &FetchedManifest) -> Result<Instance, RemoteError> {
    let bad = |source| RemoteError::Manifest {
        reference: reference.to_string(),
        source,
    };
    let m: ImageManifest =
        serde_json::from_slice(&f.bytes).map_err(|e| bad(manifest::ManifestError::Json(e)))?;
    if m.schema_version != 2 {
        return Err(bad(manifest::ManifestError::SchemaVersion(
            m.schema_version,
        )));
    }
    Ok(Instance {
        manifest: m,
        media_type: f.media_type.clone(),
    })
}

/// The image `top` (what the reference named) stands for: itself, or the
/// manifest-list instance for `choice`, fetched by digest and checked.
pub async fn resolve_instance(
    registry: &Registry,
    reference: &ImageRef,
    top: &FetchedManifest,
    choice: &PlatformChoice,
) -> Result<Instance, RemoteError> {
    match top.media_type.as_str() {
        manifest::OCI_MANIFEST | manifest::DOCKER_MANIFEST => parse_image(reference, top),
        manifest::OCI_INDEX | manifest::DOCKER_LIST => {
            let index = match manifest::parse(&top.bytes, &top.media_type) {
                Ok(manifest::Parsed::Index(i)) => i,
                Ok(manifest::Parsed::Image(_)) => {
                    unreachable!("an index media type parses as an index")
                }
                Err(source) => {
                    return Err(RemoteError::Manifest {
                        reference: reference.to_string(),
                        source,
                    })
                }
            };
            let chosen = choose(reference, &index, choice)?;
            let by_digest = reference.with_digest(&chosen.digest.to_string());
            let fetched = registry.fetch_manifest(&by_digest).await?;
            match fetched.media_type.as_str() {
                manifest::OCI_MANIFEST | manifest::DOCKER_MANIFEST => {
                    parse_image(&by_digest, &fetched)
                }
                other => Err(RemoteError::Manifest {
                    reference: by_digest.to_string(),
                    source: manifest::ManifestError::MediaType(other.to_string()),
                }),
            }
        }
        other => Err(RemoteError::Manifest {
            reference: reference.to_string(),
            source: manifest::ManifestError::MediaType(other.to_string()),
        }),
    }
}

fn choose<'a>(
    reference: &ImageRef,
    index: &'a Index,
    choice: &PlatformChoice,
) -> Result<&'a Descriptor, RemoteError> {
    let want = platform::wanted(choice);
    platform::choose(index, &want).ok_or_else(|| {
        let first = want.first().cloned().unwrap_or_default();
        RemoteError::NoPlatform {
            reference: reference.to_string(),
            arch: first.architecture,
            variant: first.variant.unwrap_or_default(),
            os: first.os,
        }
    })
}

/// The config blob's exact bytes, capped and checked against its digest.
pub async fn fetch_config(
    registry: &Registry,
    reference: &ImageRef,
    instance: &Instance,
) -> Result<Bytes, RemoteError> {
    let bytes = registry
        .fetch_small_blob(
            reference,
            &instance.manifest.config,
            manifest::MAX_CONFIG_BYTES,
        )
        .await?;
    Ok(Bytes::from(bytes))
}

/// The config as image-spec's `v1.Image` (`skopeo inspect --config`),
/// refused for an OCI artifact as containers/image refuses it.
pub fn oci_config(
    reference: &ImageRef,
    instance: &Instance,
    config: &[u8],
) -> Result<OciConfig, RemoteError> {
    if instance.media_type == manifest::OCI_MANIFEST
        && instance.manifest.config.media_type != manifest::OCI_CONFIG
    {
        return Err(RemoteError::Artifact {
            reference: reference.to_string(),
            media_type: instance.manifest.config.media_type.clone(),
        });
    }
    OciConfig::parse(config).map_err(|source| RemoteError::Config {
        reference: reference.to_string(),
        source,
    })
}

/// Which of skopeo's three inspect outputs to produce.
#[derive(Clone, Debug, Default)]
pub struct InspectRequest {
    /// `--raw`: the manifest bytes (with `config`: the config bytes).
    pub raw: bool,
    /// `--config`: the config instead of the summary.
    pub config: bool,
    /// `--no-tags`: skip the tag listing (`RepoTags` is `[]`).
    pub no_tags: bool,
    pub platform: PlatformChoice,
}

/// Exactly what `skopeo inspect` writes to stdout for `req`.
pub async fn inspect(
    registry: &Registry,
    reference: &ImageRef,
    req: &InspectRequest,
) -> Result<Vec<u8>, RemoteError> {
    let top = registry.fetch_manifest(reference).await?;
    if req.raw && !req.config {
        return Ok(top.bytes.to_vec());
    }
    let instance = resolve_instance(registry, reference, &top, &req.platform).await?;
    let config = fetch_config(registry, reference, &instance).await?;
    if req.raw {
        return Ok(config.to_vec());
    }
    let parsed = oci_config(reference, &instance, &config)?;
    let value = if req.config {
        parsed.to_go()
    } else {
        let digest = crate::manifest_digest::manifest_digest(&top.bytes).map_err(|source| {
            RemoteError::Digest {
                reference: reference.to_string(),
                source,
            }
        })?;
        let repo_tags = if req.no_tags {
            Some(Vec::new())
        } else {
            repository_tags(registry, reference).await?
        };
        InspectOutput::new(reference.name(), digest, repo_tags, &instance, parsed).to_go()
    };
    let mut out = super::go_indent::marshal_indent(&value, "    ");
    out.push('\n');
    Ok(out.into_bytes())
}

/// The tag list for inspect; a registry that refuses it (401/403) gives
/// `None` and a warning, as skopeo tolerates such registries.
async fn repository_tags(
    registry: &Registry,
    reference: &ImageRef,
) -> Result<Option<Vec<String>>, RemoteError> {
    let client = RawClient::new(registry, reference, false)?;
    match super::tags::list_tags(&client).await {
        Ok(tags) => Ok(Some(tags)),
        Err(RemoteError::Http(HttpError::Unauthorized { .. })) => {
            tracing::warn!("Registry disallows tag list retrieval; skipping");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// What skopeo 1.9.3's `inspect` prints, in `inspect.Output`'s field order.
pub struct InspectOutput {
    /// The repository name (`registry/repo`).
    pub name: String,
    /// The digest of the manifest the reference names (the list's, for a list).
    pub digest: String,
    /// `None` prints `null`: a registry that refuses the tag list.
    pub repo_tags: Option<Vec<String>>,
    pub config: OciConfig,
    pub media_type: String,
    pub layers: Vec<String>,
}

impl InspectOutput {
    pub fn new(
        name: String,
        digest: String,
        repo_tags: Option<Vec<String>>,
        instance: &Instance,
        config: OciConfig,
    ) -> Self {
        Self {
            name,
            digest,
            repo_tags,
            config,
            media_type: instance.media_type.clone(),
            layers: instance
                .manifest
                .layers
                .iter()
                .map(|l| l.digest.to_string())
                .collect(),
        }
    }

    pub fn to_go(&self) -> GoValue {
        let c = &self.config;
        // Schema2 reads `created` into a plain time.Time (zero when absent);
        // OCI into a pointer (null when absent).
        let created = match (&c.created, self.media_type.as_str()) {
            (Some(t), _) => GoValue::Str(t.format()),
            (None, manifest::DOCKER_MANIFEST) => GoValue::str(go_time::ZERO),
            (None, _) => GoValue::Null,
        };
        let mut f = Vec::new();
        if !self.name.is_empty() {
            f.push(("Name".to_string(), GoValue::str(&self.name)));
        }
        f.extend([
            ("Digest".to_string(), GoValue::str(&self.digest)),
            (
                "RepoTags".to_string(),
                GoValue::strings(self.repo_tags.as_deref()),
            ),
            ("Created".to_string(), created),
            ("DockerVersion".to_string(), GoValue::str(&c.docker_version)),
            (
                "Labels".to_string(),
                GoValue::string_map(c.config.labels.as_ref()),
            ),
            ("Architecture".to_string(), GoValue::str(&c.architecture)),
            ("Os".to_string(), GoValue::str(&c.os)),
            ("Layers".to_string(), GoValue::strings(Some(&self.layers))),
            ("Env".to_string(), GoValue::strings(c.config.env.as_deref())),
        ]);
        GoValue::Object(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::go_indent::marshal_indent;

    fn instance(media_type: &str) -> Instance {
        let m: ImageManifest = serde_json::from_str(
            r#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},
            "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":3}]}"#,
        )
        .unwrap();
        Instance {
            manifest: m,
            media_type: media_type.into(),
        }
    }

    #[test]
    fn renders_skopeos_output_struct() {
        let cfg = OciConfig::parse(
            br#"{"architecture":"amd64","os":"linux","config":{"Labels":{"x":"a&b"}}}"#,
        )
        .unwrap();
        let out = InspectOutput::new(
            "localhost:5000/a".into(),
            "sha256:ab".into(),
            Some(vec!["1".into()]),
            &instance(manifest::DOCKER_MANIFEST),
            cfg.clone(),
        );
        assert_eq!(
            marshal_indent(&out.to_go(), "    "),
            r#"{
    "Name": "localhost:5000/a",
    "Digest": "sha256:ab",
    "RepoTags": [
        "1"
    ],
    "Created": "0001-01-01T00:00:00Z",
    "DockerVersion": "",
    "Labels": {
        "x": "a\u0026b"
    },
    "Architecture": "amd64",
    "Os": "linux",
    "Layers": [
        "sha256:1111111111111111111111111111111111111111111111111111111111111111"
    ],
    "Env": null
}"#
        );
        let out = InspectOutput::new(
            String::new(),
            "sha256:ab".into(),
            None,
            &instance(manifest::OCI_MANIFEST),
            cfg,
        );
        let s = marshal_indent(&out.to_go(), "    ");
        assert!(
            s.contains("\"RepoTags\": null,\n    \"Created\": null,"),
            "{s}"
        );
        assert!(!s.contains("Name"), "{s}");
    }
}

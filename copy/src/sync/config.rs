//! skopeo 1.9.3's `sync --src yaml` file: per registry, `images` (a
//! repository to its tags or digests, none meaning every tag),
//! `images-by-tag-regex`, `credentials`, `tls-verify` and `cert-dir`.
//!
//! skopeo logs a bad repository name, tag or regex and goes on, so a typo
//! silently syncs less; here every one of them refuses the file before
//! anything is copied, naming the file and the key. Unknown keys are
//! refused for the same reason (a misspelt `images` would sync nothing).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use vouch_image::docker_ref::{validate_digest, DockerRef};

use super::SyncError;

/// A YAML file larger than this is not a sync list.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// One registry's section, as read.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    #[serde(default)]
    images: BTreeMap<String, Option<Vec<String>>>,
    #[serde(default, rename = "images-by-tag-regex")]
    images_by_tag_regex: BTreeMap<String, String>,
    #[serde(default)]
    credentials: Option<RawCredentials>,
    #[serde(default, rename = "tls-verify")]
    tls_verify: Option<bool>,
    #[serde(default, rename = "cert-dir")]
    cert_dir: Option<String>,
}

/// containers/image's `DockerAuthConfig` as yaml.v2 names its fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    identitytoken: String,
}

/// What to copy from one repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// These tags and digests, in the file's order.
    Refs(Vec<RefSpec>),
    /// Every tag the registry lists.
    AllTags,
    /// The listed tags this (unanchored, RE2-like) expression matches.
    TagRegex(String),
}

/// A tag or a digest of a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefSpec {
    Tag(String),
    Digest(String),
}

/// One repository to sync from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoSpec {
    /// The normalised repository (`registry/path`, name only).
    pub repository: DockerRef,
    pub selection: Selection,
}

/// A registry's section: its repositories and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrySpec {
    pub name: String,
    pub repos: Vec<RepoSpec>,
    pub credentials: Option<(String, String)>,
    /// skopeo 1.9.3 puts the key's value in place of `--src-tls-verify`,
    /// so an absent key means the default (verify), whatever the flag says.
    pub tls_verify: bool,
    /// CA certificates for the registry, in place of its certs.d directory.
    pub cert_dir: Option<std::path::PathBuf>,
}

/// The whole file, registries in name order (Go's map order is random, so
/// no order is skopeo's; a sorted one is reproducible).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncConfig {
    pub registries: Vec<RegistrySpec>,
}

impl SyncConfig {
    pub fn load(path: &Path) -> Result<Self, SyncError> {
        let bytes = read_capped(path)?;
        Self::parse(&bytes, path)
    }

    /// Parses `bytes`; `path` only names the file in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, SyncError> {
        let err = |detail: String| SyncError::Config {
            file: path.to_path_buf(),
            detail: detail.replace('\n', " "),
        };
        let raw: Option<BTreeMap<String, Option<RawRegistry>>> =
            serde_norway::from_slice(bytes).map_err(|e| err(e.to_string()))?;
        let mut registries = Vec::new();
        for (name, section) in raw.unwrap_or_default() {
            let section = section.unwrap_or_default();
            let credentials = match section.credentials {
                Some(c) if !c.identitytoken.is_empty() => {
                    return Err(err(format!(
                        "{name}.credentials.identitytoken: identity tokens are not supported"
                    )))
                }
                Some(c) if !c.username.is_empty() || !c.password.is_empty() => {
                    Some((c.username, c.password))
                }
                _ => None,
            };
            let mut repos = Vec::new();
            for (image, refs) in &section.images {
                let repository = repository(&name, image)
                    .map_err(|d| err(format!("{name}.images.{image}: {d}")))?;
                let refs = refs.as_deref().unwrap_or_default();
                let selection = if refs.is_empty() {
                    Selection::AllTags
                } else {
                    Selection::Refs(
                        refs.iter()
                            .map(|r| {
                                ref_spec(r).map_err(|d| err(format!("{name}.images.{image}: {d}")))
                            })
                            .collect::<Result<_, _>>()?,
                    )
                };
                repos.push(RepoSpec {
                    repository,
                    selection,
                });
            }
            for (image, expr) in &section.images_by_tag_regex {
                let at = || format!("{name}.images-by-tag-regex.{image}");
                let repository =
                    repository(&name, image).map_err(|d| err(format!("{}: {d}", at())))?;
                regex::Regex::new(expr).map_err(|e| {
                    err(format!(
                        "{}: invalid regular expression {expr:?}: {e}",
                        at()
                    ))
                })?;
                repos.push(RepoSpec {
                    repository,
                    selection: Selection::TagRegex(expr.clone()),
                });
            }
            if repos.is_empty() {
                tracing::warn!(registry = %name, "No images specified for registry");
                continue;
            }
            registries.push(RegistrySpec {
                name,
                repos,
                credentials,
                tls_verify: section.tls_verify.unwrap_or(true),
                cert_dir: section.cert_dir.filter(|d| !d.is_empty()).map(Into::into),
            });
        }
        Ok(Self { registries })
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>, SyncError> {
    let io = |source: std::io::Error| SyncError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    f.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(SyncError::Config {
            file: path.to_path_buf(),
            detail: format!("larger than {MAX_CONFIG_BYTES} bytes"),
        });
    }
    Ok(bytes)
}

/// `registry/image`, which must name a repository (skopeo's
/// `parseRepositoryReference`).
fn repository(registry: &str, image: &str) -> Result<DockerRef, String> {
    let r =
        DockerRef::parse_normalized(&format!("{registry}/{image}")).map_err(|e| e.to_string())?;
    if !r.is_name_only() {
        return Err("input names a reference, not a repository".into());
    }
    Ok(r)
}

/// A digest when it parses as one (skopeo tries that first), else a tag.
fn ref_spec(r: &str) -> Result<RefSpec, String> {
    if r.contains(':') {
        validate_digest(r).map_err(|e| format!("{r:?}: {e}"))?;
        return Ok(RefSpec::Digest(r.to_string()));
    }
    if !valid_tag(r) {
        return Err(format!("{r:?}: invalid tag"));
    }
    Ok(RefSpec::Tag(r.to_string()))
}

/// distribution/reference's tag grammar: `[\w][\w.-]{0,127}`.
pub fn valid_tag(t: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = t.chars();
    matches!(chars.next(), Some(c) if word(c))
        && t.len() <= 128
        && chars.all(|c| word(c) || c == '.' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<SyncConfig, SyncError> {
        SyncConfig::parse(s.as_bytes(), Path::new("sync.yaml"))
    }

    #[test]
    fn skopeo_example_reads() {
        let c = parse(
            "docker.io:\n  images:\n    busybox: []\n    redis:\n      - \"1.0\"\n      - \"2.0\"\n      - \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n  images-by-tag-regex:\n    nginx: ^1\\.13\\.[12]-alpine-perl$\n  credentials:\n    username: john\n    password: this is a secret\n  tls-verify: true\nquay.io:\n  tls-verify: false\n  images:\n    coreos/etcd:\n      - latest\n",
        )
        .unwrap();
        assert_eq!(c.registries.len(), 2);
        let d = &c.registries[0];
        assert_eq!(d.name, "docker.io");
        assert_eq!(
            d.credentials,
            Some(("john".into(), "this is a secret".into()))
        );
        assert!(d.tls_verify);
        assert_eq!(
            d.repos[0].repository.to_string(),
            "docker.io/library/busybox"
        );
        assert_eq!(d.repos[0].selection, Selection::AllTags);
        assert_eq!(
            d.repos[1].selection,
            Selection::Refs(vec![
                RefSpec::Tag("1.0".into()),
                RefSpec::Tag("2.0".into()),
                RefSpec::Digest(format!("sha256:{}", "0".repeat(64))),
            ])
        );
        assert_eq!(
            d.repos[2].selection,
            Selection::TagRegex(r"^1\.13\.[12]-alpine-perl$".into())
        );
        let q = &c.registries[1];
        assert!(!q.tls_verify);
        assert_eq!(q.repos[0].repository.to_string(), "quay.io/coreos/etcd");
    }

    #[test]
    fn absent_tls_verify_means_verify() {
        let c = parse("r.example:\n  images:\n    a: [x]\n").unwrap();
        assert!(c.registries[0].tls_verify);
        assert_eq!(c.registries[0].cert_dir, None);
        let c = parse("r.example:\n  cert-dir: /etc/r\n  images:\n    a: [x]\n").unwrap();
        assert_eq!(
            c.registries[0].cert_dir.as_deref(),
            Some(Path::new("/etc/r"))
        );
    }

    #[test]
    fn a_registry_without_images_is_left_out() {
        let c = parse("r.example:\n  tls-verify: false\n").unwrap();
        assert!(c.registries.is_empty());
        assert!(parse("").unwrap().registries.is_empty());
    }

    #[test]
    fn mistakes_name_the_file_and_key() {
        for (doc, want) in [
            (
                "r.example:\n  image:\n    a: [x]\n",
                "unknown field `image`",
            ),
            ("r.example:\n  images:\n    A: [x]\n", "r.example.images.A:"),
            (
                "r.example:\n  images:\n    a:tag: [x]\n",
                "r.example.images.a:tag: input names a reference",
            ),
            (
                "r.example:\n  images:\n    a: [\"bad tag\"]\n",
                "invalid tag",
            ),
            (
                "r.example:\n  images:\n    a: [\"sha256:abc\"]\n",
                "r.example.images.a: \"sha256:abc\"",
            ),
            (
                "r.example:\n  images-by-tag-regex:\n    a: \"(\"\n",
                "r.example.images-by-tag-regex.a: invalid regular expression",
            ),
            ("r.example:\n  images: [a, b]\n", "sync.yaml"),
            ("- just\n- a list\n", "sync.yaml"),
            (
                "r.example:\n  tls-verify: maybe\n  images:\n    a: [x]\n",
                "sync.yaml",
            ),
        ] {
            let e = parse(doc).expect_err(doc).to_string();
            assert!(e.starts_with("sync.yaml: "), "{doc:?} -> {e}");
            assert!(e.contains(want), "{doc:?} -> {e}, want {want:?}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn tags_follow_the_grammar() {
        assert!(valid_tag("v1.2-rc_3"));
        assert!(valid_tag(&"a".repeat(128)));
        assert!(!valid_tag(&"a".repeat(129)));
        assert!(!valid_tag(".x"));
        assert!(!valid_tag("-x"));
        assert!(!valid_tag(""));
        assert!(!valid_tag("a/b"));
    }
}

//! `transport:reference` image names, as skopeo spells them
//! (containers/image `alltransports.ParseImageName`): the transport is
//! everything before the first colon, and the path-based transports split
//! their own reference at the next one (`oci:PATH[:REF]`).
//!
//! vouch's own store is `vouch-store:NAME`: it is not containers-storage,
//! so it does not borrow that transport's name.

use std::fmt;
use std::path::PathBuf;

use vouch_image::ImageRef;
use vouch_verify::policy::PolicyImage;

use crate::error::CopyError;

/// A parsed image name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageName {
    Docker(ImageRef),
    Dir(PathBuf),
    /// `oci:PATH[:REF]`; `REF` is the `org.opencontainers.image.ref.name`.
    Oci {
        path: PathBuf,
        reference: Option<String>,
    },
    OciArchive {
        path: PathBuf,
        reference: Option<String>,
    },
    /// `docker-archive:PATH[:docker-reference|@index]`.
    DockerArchive {
        path: PathBuf,
        reference: Option<String>,
    },
    Store(String),
}

/// The transports vouch knows, for messages.
pub const TRANSPORTS: &[&str] = &[
    "docker",
    "dir",
    "oci",
    "oci-archive",
    "docker-archive",
    "vouch-store",
];

impl ImageName {
    /// Parses `transport:reference`. Errors are containers/image's words.
    pub fn parse(name: &str) -> Result<Self, CopyError> {
        let Some((transport, rest)) = name.split_once(':') else {
            return Err(CopyError::Name(format!(
                "Invalid image name \"{name}\", expected colon-separated transport:reference"
            )));
        };
        let invalid = |why: &str| CopyError::Name(format!("Invalid image name \"{name}\": {why}"));
        let split_path = |rest: &str| -> Result<(PathBuf, Option<String>), CopyError> {
            let (path, reference) = match rest.split_once(':') {
                Some((p, r)) => (p, Some(r.to_string())),
                None => (rest, None),
            };
            if path.is_empty() {
                return Err(invalid("empty path"));
            }
            Ok((PathBuf::from(path), reference.filter(|r| !r.is_empty())))
        };
        // The OCI transports take `org.opencontainers.image.ref.name`
        // values only (containers/image `ValidateImageName`).
        let path_and_ref = |rest: &str| -> Result<(PathBuf, Option<String>), CopyError> {
            let (path, reference) = split_path(rest)?;
            if let Some(r) = &reference {
                if !is_oci_ref_name(r) {
                    return Err(invalid(&format!("Invalid image {r}")));
                }
            }
            Ok((path, reference))
        };
        match transport {
            "docker" => {
                let r = rest
                    .strip_prefix("//")
                    .ok_or_else(|| invalid("docker: image reference must begin with //"))?;
                // ImageRef::parse also takes podman's `docker://` shorthand;
                // containers/image reads what follows `//` as a bare
                // reference, so `docker://docker://x` names nothing. Keeping
                // the prefix on makes ImageRef see (and refuse) the second one.
                let bare = if r.starts_with("docker://") {
                    format!("docker://{r}")
                } else {
                    r.to_string()
                };
                let parsed = ImageRef::parse(&bare).map_err(|e| invalid(&e.to_string()))?;
                Ok(Self::Docker(parsed))
            }
            "dir" => {
                if rest.is_empty() {
                    return Err(invalid("empty path"));
                }
                Ok(Self::Dir(PathBuf::from(rest)))
            }
            "oci" => {
                let (path, reference) = path_and_ref(rest)?;
                Ok(Self::Oci { path, reference })
            }
            "oci-archive" => {
                let (path, reference) = path_and_ref(rest)?;
                Ok(Self::OciArchive { path, reference })
            }
            "docker-archive" => {
                // Its reference is a docker one (or `@N`), checked at open.
                let (path, reference) = split_path(rest)?;
                Ok(Self::DockerArchive { path, reference })
            }
            "vouch-store" => {
                if rest.is_empty() {
                    return Err(invalid("empty image name"));
                }
                Ok(Self::Store(rest.to_string()))
            }
            other => Err(CopyError::Name(format!(
                "Invalid image name \"{name}\", unknown transport \"{other}\""
            ))),
        }
    }

    /// The transport's name, as in policy.json's `transports` keys.
    pub fn transport(&self) -> &'static str {
        match self {
            Self::Docker(_) => "docker",
            Self::Dir(_) => "dir",
            Self::Oci { .. } => "oci",
            Self::OciArchive { .. } => "oci-archive",
            Self::DockerArchive { .. } => "docker-archive",
            Self::Store(_) => "vouch-store",
        }
    }

    /// The image as the policy sees it (containers/image's
    /// `PolicyConfigurationIdentity` and `…Namespaces` per transport).
    pub fn policy_image(&self) -> Result<PolicyImage, CopyError> {
        let err = |e: vouch_verify::policy::PolicyImageError| CopyError::Policy {
            image: self.to_string(),
            detail: e.to_string(),
        };
        match self {
            Self::Docker(r) => PolicyImage::docker(&r.to_string()).map_err(err),
            Self::Dir(p) => PolicyImage::dir(p).map_err(err),
            // The ref is not part of the identity (containers/image: "$dir:x"
            // and "$dir:" may name the same image), only the resolved path.
            Self::Oci { path, .. } | Self::OciArchive { path, .. } => {
                let resolved = resolve_path(path)?;
                let namespaces = parents(&resolved);
                Ok(PolicyImage::custom(
                    self.transport(),
                    &resolved,
                    namespaces,
                    None,
                    &self.to_string(),
                ))
            }
            // docker-archive has no stable identity (containers/image
            // returns ""): only the transport's default scope applies.
            Self::DockerArchive { .. } => Ok(PolicyImage::custom(
                self.transport(),
                "",
                Vec::new(),
                None,
                &self.to_string(),
            )),
            Self::Store(name) => Ok(PolicyImage::custom(
                self.transport(),
                name,
                Vec::new(),
                None,
                &self.to_string(),
            )),
        }
    }
}

/// The image-spec grammar of a ref name (containers/image `refRegexp`):
/// `/`-separated components of alphanumerics joined by one of `-._:@+` or
/// by `--`.
fn is_oci_ref_name(r: &str) -> bool {
    r.split('/').all(|c| {
        let alnum = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
        alnum(c.as_bytes().first())
            && alnum(c.as_bytes().last())
            && c.split(|ch: char| ch.is_ascii_alphanumeric()).all(|sep| {
                sep.is_empty() || sep == "--" || (sep.len() == 1 && "-._:@+".contains(sep))
            })
    })
}

/// An absolute path with symlinks resolved, or, for a file not yet there,
/// its resolved parent joined with its name (containers/image's
/// `explicitfilepath.ResolvePathToFullyExplicit`).
fn resolve_path(path: &std::path::Path) -> Result<String, CopyError> {
    let resolved = match std::fs::canonicalize(path) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let file = path.file_name().ok_or_else(|| {
                CopyError::Name(format!("Invalid path {}: no file name", path.display()))
            })?;
            std::fs::canonicalize(parent)
                .map_err(CopyError::io(parent.display()))?
                .join(file)
        }
        Err(e) => return Err(CopyError::io(path.display())(e)),
    };
    Ok(resolved.to_string_lossy().into_owned())
}

fn parents(resolved: &str) -> Vec<String> {
    std::path::Path::new(resolved)
        .ancestors()
        .skip(1)
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p != "/" && !p.is_empty())
        .collect()
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_ref = |f: &mut fmt::Formatter<'_>, t: &str, p: &PathBuf, r: &Option<String>| {
            write!(f, "{t}:{}", p.display())?;
            if let Some(r) = r {
                write!(f, ":{r}")?;
            }
            Ok(())
        };
        match self {
            Self::Docker(r) => write!(f, "docker://{r}"),
            Self::Dir(p) => write!(f, "dir:{}", p.display()),
            Self::Oci { path, reference } => with_ref(f, "oci", path, reference),
            Self::OciArchive { path, reference } => with_ref(f, "oci-archive", path, reference),
            Self::DockerArchive { path, reference } => {
                with_ref(f, "docker-archive", path, reference)
            }
            Self::Store(n) => write!(f, "vouch-store:{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_split_as_containers_image_does() {
        assert!(matches!(
            ImageName::parse("docker://localhost:5000/a/b:1").unwrap(),
            ImageName::Docker(_)
        ));
        assert_eq!(
            ImageName::parse("oci:/tmp/lay:v1").unwrap(),
            ImageName::Oci {
                path: "/tmp/lay".into(),
                reference: Some("v1".into())
            }
        );
        assert_eq!(
            ImageName::parse("oci-archive:a.tar").unwrap(),
            ImageName::OciArchive {
                path: "a.tar".into(),
                reference: None
            }
        );
        assert_eq!(
            ImageName::parse("dir:/x:y").unwrap(),
            ImageName::Dir("/x:y".into())
        );
        assert_eq!(
            ImageName::parse("vouch-store:busybox").unwrap(),
            ImageName::Store("busybox".into())
        );
    }

    #[test]
    fn bad_names_get_containers_image_words() {
        let e = ImageName::parse("busybox").unwrap_err().to_string();
        assert_eq!(
            e,
            "Invalid image name \"busybox\", expected colon-separated transport:reference"
        );
        let e = ImageName::parse("ftp:x").unwrap_err().to_string();
        assert_eq!(e, "Invalid image name \"ftp:x\", unknown transport \"ftp\"");
        assert!(ImageName::parse("docker:busybox").is_err());
        // Found by the image_name fuzz target: a second transport prefix.
        let e = ImageName::parse("docker://docker://alpine")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid reference format"), "{e}");
        assert!(ImageName::parse("dir:").is_err());
    }

    #[test]
    fn oci_references_are_image_spec_ref_names() {
        for good in [
            "v1",
            "a.b-c_d:e@f+g",
            "ns/app:1",
            "a--b",
            "localhost/fromskopeo:2",
        ] {
            assert!(
                ImageName::parse(&format!("oci:/l:{good}")).is_ok(),
                "{good}"
            );
            assert!(
                ImageName::parse(&format!("oci-archive:/l:{good}")).is_ok(),
                "{good}"
            );
        }
        for bad in ["!!", "-a", "a-", "a---b", "a//b", "/a", "a..b", "é", "a b"] {
            let e = ImageName::parse(&format!("oci:/l:{bad}"))
                .unwrap_err()
                .to_string();
            assert_eq!(
                e,
                format!("Invalid image name \"oci:/l:{bad}\": Invalid image {bad}")
            );
            assert!(
                ImageName::parse(&format!("oci-archive:/l:{bad}")).is_err(),
                "{bad}"
            );
        }
        // A docker-archive reference is a docker one, read at open.
        assert!(ImageName::parse("docker-archive:/a.tar:@0").is_ok());
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "docker://localhost:5000/a/b:1",
            "oci:/tmp/l:v1",
            "dir:/tmp/d",
            "docker-archive:/a.tar",
            "vouch-store:x",
        ] {
            assert_eq!(ImageName::parse(s).unwrap().to_string(), s);
        }
    }
}

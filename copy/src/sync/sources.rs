//! The images a sync source names, found as skopeo 1.9.3 finds them: a
//! registry reference is one image when tagged or by digest, else every
//! tag the registry lists; a directory is every `dir:` image below it (a
//! directory holding `manifest.json`, walked in name order, the rest of a
//! directory skipped once its manifest is found, as Go's `WalkDir` with
//! `SkipDir` does); a YAML file is its registries' repositories.

use std::path::Path;

use vouch_image::docker_ref::DockerRef;
use vouch_image::referrers::http::RawClient;
use vouch_image::registry::{Registry, RegistryOptions};
use vouch_image::remote::tags::list_tags;
use vouch_image::ImageRef;

use super::config::{RefSpec, Selection, SyncConfig};
use super::{gopath, SourceImage, SyncError};

/// A YAML section's own way to reach its registry, in place of the
/// `--src-*` flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrySettings {
    pub credentials: Option<(String, String)>,
    pub tls_verify: bool,
    pub cert_dir: Option<std::path::PathBuf>,
}

/// The images of one source repository (or directory).
#[derive(Clone, Debug)]
pub struct SourceRepo {
    /// The source directory, which destination names are relative to.
    pub dir_base: Option<String>,
    pub images: Vec<SourceImage>,
    /// `None`: the command line's source flags apply.
    pub settings: Option<RegistrySettings>,
}

/// How the caller turns a source image's registry, plus any YAML
/// settings, into client options (credentials lookup lives with the CLI).
pub type OptionsFor<'a> =
    dyn Fn(&ImageRef, Option<&RegistrySettings>) -> Result<RegistryOptions, String> + Sync + 'a;

/// `--src docker SOURCE`.
pub async fn docker(source: &str, options: &OptionsFor<'_>) -> Result<Vec<SourceRepo>, SyncError> {
    let named = DockerRef::parse_normalized(source).map_err(|e| SyncError::SourceName {
        reference: source.to_string(),
        detail: e.to_string(),
    })?;
    let images = if named.is_name_only() {
        let tags = tags(&named, options, None).await?;
        if tags.is_empty() {
            return Err(SyncError::Empty(source.to_string()));
        }
        tags
    } else {
        vec![SourceImage::Docker(image_ref(&named.to_string())?)]
    };
    Ok(vec![SourceRepo {
        dir_base: None,
        images,
        settings: None,
    }])
}

/// `--src dir SOURCE`.
pub fn dir(source: &str) -> Result<Vec<SourceRepo>, SyncError> {
    std::fs::metadata(source).map_err(|e| SyncError::SourceDir {
        path: source.to_string(),
        source: e,
    })?;
    let mut found = Vec::new();
    walk(source, source, &mut found)?;
    if found.is_empty() {
        return Err(SyncError::Empty(source.to_string()));
    }
    Ok(vec![SourceRepo {
        dir_base: Some(source.to_string()),
        images: found.into_iter().map(SourceImage::Dir).collect(),
        settings: None,
    }])
}

/// `--src yaml FILE`: every repository of every registry; one that yields
/// no image is left out with a warning, as in skopeo. A repository whose
/// tags cannot be listed ends the listing, unless `keep_going`: then it is
/// left out and returned with the repositories, for the caller to report
/// and to fail the sync at its end (skopeo logs it and exits 0).
pub async fn yaml(
    cfg: &SyncConfig,
    options: &OptionsFor<'_>,
    keep_going: bool,
) -> Result<(Vec<SourceRepo>, Vec<SyncError>), SyncError> {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for reg in &cfg.registries {
        let settings = RegistrySettings {
            credentials: reg.credentials.clone(),
            tls_verify: reg.tls_verify,
            cert_dir: reg.cert_dir.clone(),
        };
        for repo in &reg.repos {
            let images =
                match repo_images(&repo.repository, &repo.selection, options, &settings).await {
                    Ok(images) => images,
                    Err(e) if keep_going => {
                        skipped.push(e);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
            if images.is_empty() {
                tracing::warn!(repo = %repo.repository, registry = %reg.name, "No refs to sync found");
                continue;
            }
            out.push(SourceRepo {
                dir_base: None,
                images,
                settings: Some(settings.clone()),
            });
        }
    }
    Ok((out, skipped))
}

async fn repo_images(
    repository: &DockerRef,
    selection: &Selection,
    options: &OptionsFor<'_>,
    settings: &RegistrySettings,
) -> Result<Vec<SourceImage>, SyncError> {
    match selection {
        Selection::Refs(refs) => refs
            .iter()
            .map(|r| {
                let (tag, digest) = match r {
                    RefSpec::Tag(t) => (Some(t.as_str()), None),
                    RefSpec::Digest(d) => (None, Some(d.as_str())),
                };
                image_ref(&repository.with_parts(tag, digest).to_string()).map(SourceImage::Docker)
            })
            .collect(),
        Selection::AllTags => tags(repository, options, Some(settings)).await,
        Selection::TagRegex(expr) => {
            let re = regex::Regex::new(expr).map_err(|e| SyncError::Tags {
                image: repository.to_string(),
                detail: e.to_string(),
            })?;
            let all = tags(repository, options, Some(settings)).await?;
            Ok(all
                .into_iter()
                .filter(|i| match i {
                    SourceImage::Docker(r) => r.tag().is_some_and(|t| re.is_match(t)),
                    SourceImage::Dir(_) => false,
                })
                .collect())
        }
    }
}

/// Drops the registry images that are cosign/podman signature attachments
/// (tags `sha256-<hex>.sig`) of a repository whose attachments `carried`
/// says travel with their images anyway: copied as images of their own
/// they would be judged by the policy as unsigned images (skopeo fails
/// there). Returns how many were dropped.
pub fn drop_attachment_tags(
    repos: &mut [SourceRepo],
    carried: impl Fn(&ImageRef) -> bool,
) -> usize {
    let mut dropped = 0;
    for repo in repos {
        repo.images.retain(|i| match i {
            SourceImage::Docker(r) if r.tag().is_some_and(is_attachment_tag) && carried(r) => {
                dropped += 1;
                false
            }
            _ => true,
        });
    }
    dropped
}

/// `sha256-<64 lowercase hex>.sig`.
fn is_attachment_tag(tag: &str) -> bool {
    tag.strip_prefix("sha256-")
        .and_then(|t| t.strip_suffix(".sig"))
        .is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
}

fn image_ref(s: &str) -> Result<ImageRef, SyncError> {
    ImageRef::parse(s).map_err(|e| SyncError::SourceName {
        reference: s.to_string(),
        detail: e.to_string(),
    })
}

/// Every tag of `repository`, as images.
async fn tags(
    repository: &DockerRef,
    options: &OptionsFor<'_>,
    settings: Option<&RegistrySettings>,
) -> Result<Vec<SourceImage>, SyncError> {
    let name = repository.name();
    let fail = |detail: String| SyncError::Tags {
        image: name.clone(),
        detail,
    };
    let reference = image_ref(&name)?;
    let opts = options(&reference, settings).map_err(fail)?;
    let registry = Registry::new(&reference, &opts);
    let client = RawClient::new(&registry, &reference, false).map_err(|e| fail(error_chain(&e)))?;
    let tags = list_tags(&client)
        .await
        .map_err(|e| fail(error_chain(&e)))?;
    tags.iter()
        .map(|t| {
            if !super::config::valid_tag(t) {
                return Err(fail(format!("the registry lists an invalid tag {t:?}")));
            }
            Ok(SourceImage::Docker(reference.with_tag(t)))
        })
        .collect()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    vouch_image::registry::error_chain(e)
}

/// Go's `filepath.WalkDir(root, …)` with skopeo's callback: children are
/// named `filepath.Join(dir, name)` (so cleaned), visited in name order,
/// symlinks not followed.
fn walk(root: &str, path: &str, found: &mut Vec<String>) -> Result<(), SyncError> {
    let walk_err = |source| SyncError::Walk {
        path: root.to_string(),
        source,
    };
    let mut entries = std::fs::read_dir(Path::new(path))
        .map_err(walk_err)?
        .map(|e| {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            Ok((name, e.file_type()?.is_dir()))
        })
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(walk_err)?;
    entries.sort();
    for (name, is_dir) in entries {
        let child = gopath::join(&[path, &name]);
        if is_dir {
            walk(root, &child, found)?;
        } else if name == "manifest.json" {
            found.push(gopath::clean(path));
            // SkipDir from a file: the rest of this directory is not walked.
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"{}").unwrap();
    }

    #[test]
    fn a_tree_of_dir_images_is_found_in_name_order() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("src");
        touch(&root.join("b/app/manifest.json"));
        touch(&root.join("a/manifest.json"));
        // Walked before a/manifest.json, so found; after it, skipped.
        touch(&root.join("a/0-inner/manifest.json"));
        touch(&root.join("a/z-inner/manifest.json"));
        touch(&root.join("c/not-an-image"));
        let src = root.to_str().unwrap();
        let repos = dir(src).unwrap();
        let got: Vec<_> = repos[0]
            .images
            .iter()
            .map(|i| match i {
                SourceImage::Dir(p) => p.strip_prefix(src).unwrap().to_string(),
                SourceImage::Docker(_) => unreachable!(),
            })
            .collect();
        assert_eq!(got, ["/a/0-inner", "/a", "/b/app"]);
    }

    #[test]
    fn attachment_tags_are_dropped_only_where_they_travel_anyway() {
        let sig = format!("sha256-{}.sig", "a".repeat(64));
        let images = |tags: &[&str]| {
            tags.iter()
                .map(|t| {
                    SourceImage::Docker(ImageRef::parse(&format!("r.example/app:{t}")).unwrap())
                })
                .collect::<Vec<_>>()
        };
        let all = ["1", &sig, "sha256-abc.sig", "x.sig"];
        let mut repos = vec![SourceRepo {
            dir_base: None,
            images: images(&all),
            settings: None,
        }];
        assert_eq!(drop_attachment_tags(&mut repos, |_| false), 0);
        assert_eq!(drop_attachment_tags(&mut repos, |_| true), 1);
        assert_eq!(repos[0].images, images(&["1", "sha256-abc.sig", "x.sig"]));
    }

    #[test]
    fn an_empty_or_missing_directory_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().to_str().unwrap();
        assert_eq!(
            dir(src).unwrap_err().to_string(),
            format!("No images to sync found in {src:?}")
        );
        let missing = t.path().join("missing");
        let e = dir(missing.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.starts_with("Invalid source directory specified: "), "{e}");
    }

    #[test]
    fn the_walk_cleans_child_paths_as_go_does() {
        let t = tempfile::tempdir().unwrap();
        touch(&t.path().join("img/manifest.json"));
        let src = format!("{}/./", t.path().display());
        let repos = dir(&src).unwrap();
        assert_eq!(
            repos[0].images,
            [SourceImage::Dir(format!("{}/img", t.path().display()))]
        );
    }
}

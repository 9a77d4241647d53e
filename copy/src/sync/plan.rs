//! From source repositories to the list of copies a sync makes, with every
//! destination named before the first byte moves: a name skopeo would
//! fail on midway (or, for `dir:`, a directory that exists) stops the sync
//! before it starts, and two sources that would land on one destination
//! (unscoped names collide across repositories) are refused instead of
//! the later one silently replacing the earlier.

use std::collections::BTreeMap;

use super::naming::destination;
use super::sources::{RegistrySettings, SourceRepo};
use super::{DestKind, SourceImage, SyncError};
use crate::name::ImageName;

/// One image to copy.
#[derive(Clone, Debug)]
pub struct Job {
    pub image: SourceImage,
    pub source: ImageName,
    pub dest: ImageName,
    /// 1-based place in its repository, and the repository's image count,
    /// for skopeo's "Copying image ref i/n".
    pub index: usize,
    pub count: usize,
    /// The YAML section's registry settings, if any.
    pub settings: Option<RegistrySettings>,
}

pub fn jobs(
    repos: &[SourceRepo],
    scoped: bool,
    dest: &str,
    kind: DestKind,
) -> Result<Vec<Job>, SyncError> {
    let mut out: Vec<Job> = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for repo in repos {
        let count = repo.images.len();
        for (i, image) in repo.images.iter().enumerate() {
            let to = destination(image, repo.dir_base.as_deref(), scoped, dest, kind)?;
            let source = image.name();
            if let Some(first) = seen.insert(to.to_string(), source.to_string()) {
                if first != source.to_string() {
                    return Err(SyncError::Usage(format!(
                        "both {first} and {source} would be copied to {to} (use --scoped)"
                    )));
                }
                continue;
            }
            if let ImageName::Dir(p) = &to {
                match std::fs::symlink_metadata(p) {
                    Ok(_) => return Err(SyncError::DestinationExists(p.display().to_string())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(SyncError::Io {
                            path: p.clone(),
                            source: e,
                        })
                    }
                }
            }
            out.push(Job {
                image: image.clone(),
                source,
                dest: to,
                index: i + 1,
                count,
                settings: repo.settings.clone(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_image::ImageRef;

    fn repo(images: &[&str]) -> SourceRepo {
        SourceRepo {
            dir_base: None,
            images: images
                .iter()
                .map(|s| SourceImage::Docker(ImageRef::parse(s).unwrap()))
                .collect(),
            settings: None,
        }
    }

    #[test]
    fn every_image_is_named_and_counted_per_repository() {
        let j = jobs(
            &[
                repo(&["r.example/a:1", "r.example/a:2"]),
                repo(&["r.example/b:1"]),
            ],
            false,
            "m.example/mirror",
            DestKind::Docker,
        )
        .unwrap();
        let got: Vec<_> = j
            .iter()
            .map(|j| (j.dest.to_string(), j.index, j.count))
            .collect();
        assert_eq!(
            got,
            [
                ("docker://m.example/mirror/a:1".to_string(), 1, 2),
                ("docker://m.example/mirror/a:2".to_string(), 2, 2),
                ("docker://m.example/mirror/b:1".to_string(), 1, 1),
            ]
        );
    }

    #[test]
    fn colliding_destinations_are_refused() {
        let e = jobs(
            &[
                repo(&["r.example/one/app:1"]),
                repo(&["r.example/two/app:1"]),
            ],
            false,
            "m.example",
            DestKind::Docker,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "both docker://r.example/one/app:1 and docker://r.example/two/app:1 would be copied to docker://m.example/app:1 (use --scoped)"
        );
        assert!(jobs(
            &[
                repo(&["r.example/one/app:1"]),
                repo(&["r.example/two/app:1"])
            ],
            true,
            "m.example",
            DestKind::Docker,
        )
        .is_ok());
    }

    #[test]
    fn an_existing_directory_destination_is_refused_up_front() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("a:2")).unwrap();
        let e = jobs(
            &[repo(&["r.example/a:1", "r.example/a:2"])],
            false,
            t.path().to_str().unwrap(),
            DestKind::Dir,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "Refusing to overwrite destination directory {:?}",
                t.path().join("a:2").display().to_string()
            )
        );
    }
}

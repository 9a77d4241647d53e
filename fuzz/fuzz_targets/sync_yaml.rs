//! `vouch sync --src yaml`: the YAML file (`SyncConfig::parse`), then the
//! destination names skopeo's rules give its images (`naming`, `plan::jobs`)
//! for a registry and a directory destination, scoped and not.
//!
//! Beyond not crashing: what the parser accepts holds only repositories
//! (no tag or digest), tags in the tag grammar, digests that validate and
//! expressions that compile, registries in name order; a destination name
//! that `plan::jobs` accepts for a registry parses back as a reference.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use vouch_copy::sync::config::{valid_tag, RefSpec, Selection, SyncConfig};
use vouch_copy::sync::plan;
use vouch_copy::sync::sources::SourceRepo;
use vouch_copy::sync::{DestKind, SourceImage};
use vouch_copy::ImageName;
use vouch_image::docker_ref::validate_digest;
use vouch_image::ImageRef;

fuzz_target!(|data: &[u8]| {
    let Ok(cfg) = SyncConfig::parse(data, Path::new("fuzz.yaml")) else {
        return;
    };
    let names: Vec<&str> = cfg.registries.iter().map(|r| r.name.as_str()).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    let mut repos = Vec::new();
    for reg in &cfg.registries {
        for repo in &reg.repos {
            assert!(repo.repository.is_name_only(), "{}", repo.repository);
            let mut images = Vec::new();
            match &repo.selection {
                Selection::Refs(refs) => {
                    for r in refs {
                        let (tag, digest) = match r {
                            RefSpec::Tag(t) => {
                                assert!(valid_tag(t), "{t:?}");
                                (Some(t.as_str()), None)
                            }
                            RefSpec::Digest(d) => {
                                assert!(validate_digest(d).is_ok(), "{d:?}");
                                (None, Some(d.as_str()))
                            }
                        };
                        let full = repo.repository.with_parts(tag, digest).to_string();
                        if let Ok(r) = ImageRef::parse(&full) {
                            images.push(SourceImage::Docker(r));
                        }
                    }
                }
                Selection::TagRegex(e) => {
                    assert!(regex::Regex::new(e).is_ok(), "{e:?}");
                }
                Selection::AllTags => {}
            }
            repos.push(SourceRepo {
                dir_base: None,
                images,
                settings: None,
            });
        }
    }
    for scoped in [false, true] {
        if let Ok(jobs) = plan::jobs(&repos, scoped, "mirror.example/ns", DestKind::Docker) {
            for j in jobs {
                let ImageName::Docker(r) = &j.dest else {
                    panic!("a registry destination named {}", j.dest);
                };
                assert!(ImageRef::parse(&r.to_string()).is_ok(), "{r}");
            }
        }
        // A directory destination that does not exist: names only.
        let _ = plan::jobs(
            &repos,
            scoped,
            "/nonexistent/vouch-fuzz-sync",
            DestKind::Dir,
        );
    }
});

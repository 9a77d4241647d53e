//! Which of the two sigstore layouts a push writes: containers/image's
//! `.sig` attachment (what podman and skopeo read) or cosign 3's Sigstore
//! bundle referrer (what cosign 3 writes and reads by default), or both.
//!
//! One flag, `--sigstore-layout attachment|bundle|both`, rather than
//! cosign's two (`--new-bundle-format` and `--registry-referrers-mode`):
//! cosign writes bundles only as referrers and `.sig` tags only in the old
//! format, so the two knobs make one choice of layout, and "both" — what a
//! registry serving podman and cosign 3 users needs — has no cosign
//! spelling. "attachment" is containers/image's own word for the `.sig`
//! tag (`use-sigstore-attachments`). The default comes from the scope's
//! registries.d `sigstore-layout` key (a vouch extension podman ignores),
//! else "attachment", what podman writes.

use std::fmt;
use std::path::Path;

use clap::ValueEnum;
use vouch_verify::docker_ref::DockerRef;
use vouch_verify::registries_d::RegistriesD;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SigstoreLayout {
    /// The `sha256-<hex>.sig` attachment (podman, skopeo, cosign 2).
    Attachment,
    /// A Sigstore bundle referrer of the manifest (cosign 3).
    Bundle,
    /// Both, so podman and cosign 3 users each find theirs.
    Both,
}

impl SigstoreLayout {
    /// Whether the `.sig` attachment is written.
    pub fn attachment(self) -> bool {
        matches!(self, Self::Attachment | Self::Both)
    }

    /// Whether a bundle referrer is written.
    pub fn bundle(self) -> bool {
        matches!(self, Self::Bundle | Self::Both)
    }

    /// The registries.d spelling, which is the flag's.
    pub fn parse_config(value: &str) -> Option<Self> {
        Self::from_str(value, false).ok()
    }
}

impl fmt::Display for SigstoreLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Attachment => "attachment",
            Self::Bundle => "bundle",
            Self::Both => "both",
        })
    }
}

/// The layout for `image`: the flag, else registries.d, else attachment.
/// A registries.d value that is not one of the three is an error naming
/// the file, not a silent fallback.
pub fn resolve(
    flag: Option<SigstoreLayout>,
    cfg: &RegistriesD,
    image: &DockerRef,
) -> anyhow::Result<SigstoreLayout> {
    if let Some(layout) = flag {
        return Ok(layout);
    }
    match cfg.sigstore_layout(image) {
        None => Ok(SigstoreLayout::Attachment),
        Some((value, file)) => {
            SigstoreLayout::parse_config(value).ok_or_else(|| invalid(value, file))
        }
    }
}

fn invalid(value: &str, file: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: sigstore-layout {value:?} is not attachment, bundle or both",
        file.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> (tempfile::TempDir, RegistriesD) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.yaml"), yaml).unwrap();
        let cfg = RegistriesD::load(dir.path()).unwrap();
        (dir, cfg)
    }

    fn image() -> DockerRef {
        DockerRef::parse_canonical("registry.example.com/ns/app:1").unwrap()
    }

    #[test]
    fn flag_then_config_then_attachment() {
        let (_d, c) = cfg("docker:\n  registry.example.com/ns:\n    sigstore-layout: both\n");
        assert_eq!(resolve(None, &c, &image()).unwrap(), SigstoreLayout::Both);
        assert_eq!(
            resolve(Some(SigstoreLayout::Bundle), &c, &image()).unwrap(),
            SigstoreLayout::Bundle
        );
        let (_d, empty) = cfg("docker:\n  other.example.com:\n    sigstore-layout: bundle\n");
        assert_eq!(
            resolve(None, &empty, &image()).unwrap(),
            SigstoreLayout::Attachment
        );
    }

    #[test]
    fn layouts_say_what_they_write() {
        use SigstoreLayout::*;
        assert_eq!(
            [Attachment, Bundle, Both].map(|l| (l.attachment(), l.bundle())),
            [(true, false), (false, true), (true, true)]
        );
        for l in [Attachment, Bundle, Both] {
            assert_eq!(SigstoreLayout::parse_config(&l.to_string()), Some(l));
        }
    }

    #[test]
    fn a_bad_config_value_names_the_file() {
        let (d, c) = cfg("default-docker:\n  sigstore-layout: Bundle\n");
        let err = resolve(None, &c, &image()).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: sigstore-layout \"Bundle\" is not attachment, bundle or both",
                d.path().join("r.yaml").display()
            )
        );
    }
}

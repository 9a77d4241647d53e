//! Where skopeo 1.9.3's `sync` puts each image: the source's name (a
//! registry image's full reference, a `dir:` image's path below the source
//! directory), cut to its last element unless `--scoped`, joined to the
//! destination with Go's `path.Join`. The same inputs must give skopeo's
//! names, quirks included: a scoped source on `host:port` gives a name no
//! registry accepts, and a destination without a tag gets `latest`.

use vouch_image::ImageRef;

use super::gopath;
use super::{DestKind, SourceImage, SyncError};
use crate::name::ImageName;

/// The destination for `image`, found under `base` when the source is a
/// directory.
pub fn destination(
    image: &SourceImage,
    base: Option<&str>,
    scoped: bool,
    dest: &str,
    kind: DestKind,
) -> Result<ImageName, SyncError> {
    let mut suffix = match image {
        SourceImage::Docker(r) => r.to_string(),
        SourceImage::Dir(p) => {
            let base = base.unwrap_or_default();
            let rest = p.strip_prefix(base).unwrap_or(p);
            if rest.is_empty() {
                gopath::base(base)
            } else {
                rest.to_string()
            }
        }
    };
    if !scoped {
        suffix = gopath::base(&suffix);
    }
    let joined = gopath::join(&[dest, &suffix]);
    match kind {
        DestKind::Docker => ImageRef::parse(&joined)
            .map(ImageName::Docker)
            .map_err(|e| SyncError::Destination {
                transport: "docker",
                reference: joined.clone(),
                detail: e.to_string(),
            }),
        DestKind::Dir => Ok(ImageName::Dir(joined.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker(s: &str) -> SourceImage {
        SourceImage::Docker(ImageRef::parse(s).unwrap())
    }

    fn name(
        image: &SourceImage,
        base: Option<&str>,
        scoped: bool,
        dest: &str,
        kind: DestKind,
    ) -> String {
        destination(image, base, scoped, dest, kind)
            .unwrap()
            .to_string()
    }

    #[test]
    fn registry_sources_keep_their_last_element_or_full_name() {
        let src = docker("registry.example.com/team/busybox:1.36");
        assert_eq!(
            name(&src, None, false, "mirror.example/ns", DestKind::Docker),
            "docker://mirror.example/ns/busybox:1.36"
        );
        assert_eq!(
            name(&src, None, true, "mirror.example/ns", DestKind::Docker),
            "docker://mirror.example/ns/registry.example.com/team/busybox:1.36"
        );
        assert_eq!(
            name(&src, None, true, "/media/usb", DestKind::Dir),
            "dir:/media/usb/registry.example.com/team/busybox:1.36"
        );
        assert_eq!(
            name(
                &docker("busybox"),
                None,
                false,
                "/media/usb/",
                DestKind::Dir
            ),
            "dir:/media/usb/busybox:latest"
        );
    }

    #[test]
    fn digests_are_kept() {
        let d = format!("sha256:{}", "a".repeat(64));
        let src = docker(&format!("r.example/app@{d}"));
        assert_eq!(
            name(&src, None, false, "m.example", DestKind::Docker),
            format!("docker://m.example/app@{d}")
        );
    }

    #[test]
    fn directory_sources_are_named_below_their_base() {
        let img = SourceImage::Dir("/srv/images/team/app".into());
        assert_eq!(
            name(
                &img,
                Some("/srv/images"),
                true,
                "m.example",
                DestKind::Docker
            ),
            "docker://m.example/team/app:latest"
        );
        assert_eq!(
            name(
                &img,
                Some("/srv/images"),
                false,
                "m.example",
                DestKind::Docker
            ),
            "docker://m.example/app:latest"
        );
        // The source is the image itself: named by the directory's last element.
        let one = SourceImage::Dir("/srv/images/app".into());
        assert_eq!(
            name(
                &one,
                Some("/srv/images/app"),
                true,
                "m.example/x",
                DestKind::Docker
            ),
            "docker://m.example/x/app:latest"
        );
    }

    #[test]
    fn scoped_sources_on_a_port_give_what_skopeo_gives() {
        let src = docker("127.0.0.1:5000/busybox:latest");
        let e = destination(&src, None, true, "127.0.0.1:5001", DestKind::Docker).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "Cannot obtain a valid image reference for transport \"docker\" and reference \"127.0.0.1:5001/127.0.0.1:5000/busybox:latest\""
            ),
            "{e}"
        );
    }
}

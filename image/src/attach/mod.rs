//! Sigstore attachments: signatures stored in the registry itself, beside
//! the image they sign, under the tag `sha256-<hex>.sig`
//! (containers/image `docker/docker_client.go` `sigstoreAttachmentTag`,
//! cosign's layout).

pub mod write;

use crate::Digest;

pub mod read;

/// The tag holding the attachments of the manifest with `digest`.
pub fn attachment_tag(digest: &Digest) -> String {
    format!("sha256-{}.sig", digest.hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_is_cosigns() {
        let d: Digest = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"
            .parse()
            .unwrap();
        assert_eq!(
            attachment_tag(&d),
            "sha256-20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55.sig"
        );
    }
}

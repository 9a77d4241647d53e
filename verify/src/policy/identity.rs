//! `signedIdentity` rules as pure functions (§5.6; containers/image
//! `signature/policy_reference_match.go`, tables from
//! `policy_reference_match_test.go`).
//!
//! *I* is the image's docker reference (absent for transports without one),
//! *S* the signature's `docker-reference` parsed with normalisation; an *S*
//! that does not parse never matches.

use super::IdentityRule;
use crate::docker_ref::{valid_component, valid_domain, DockerRef};

/// Whether a signature claiming `signed` satisfies `rule` for `image`.
pub fn matches_identity(rule: &IdentityRule, image: Option<&DockerRef>, signed: &str) -> bool {
    let Ok(s) = DockerRef::parse_normalized(signed) else {
        return false;
    };
    match rule {
        IdentityRule::MatchExact => image.is_some_and(|i| exact(i, &s)),
        IdentityRule::MatchRepoDigestOrExact => image.is_some_and(|i| repo_digest_or_exact(i, &s)),
        IdentityRule::MatchRepository => image.is_some_and(|i| s.name() == i.name()),
        IdentityRule::ExactReference(e) => exact(e, &s),
        IdentityRule::ExactRepository(e) => s.name() == e.name(),
        IdentityRule::RemapIdentity {
            prefix,
            signed_prefix,
        } => image.is_some_and(|i| match remap(i, prefix, signed_prefix) {
            Remapped::Unchanged => repo_digest_or_exact(i, &s),
            Remapped::To(rewritten) => repo_digest_or_exact(&rewritten, &s),
            Remapped::Invalid => false,
        }),
    }
}

/// `matchExact`: neither side name-only, full strings equal.
fn exact(i: &DockerRef, s: &DockerRef) -> bool {
    !i.is_name_only() && !s.is_name_only() && s.to_string() == i.to_string()
}

/// `matchRepoDigestOrExact`: tagged *I* needs an exact match; digest-only *I*
/// accepts any signature for the same repository (the manifest was already
/// checked against the digest, §3.2).
fn repo_digest_or_exact(i: &DockerRef, s: &DockerRef) -> bool {
    if s.is_name_only() {
        return false;
    }
    if i.tag().is_some() {
        s.to_string() == i.to_string()
    } else if i.digest().is_some() {
        s.name() == i.name()
    } else {
        false
    }
}

enum Remapped {
    Unchanged,
    To(DockerRef),
    Invalid,
}

/// Rewrites the first occurrence of `prefix` in *I* to `signed_prefix` when
/// *I*'s name is `prefix` or under `prefix/`; the result must be canonical.
fn remap(i: &DockerRef, prefix: &str, signed_prefix: &str) -> Remapped {
    let name = i.name();
    let under = name == prefix
        || name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'));
    if !under {
        return Remapped::Unchanged;
    }
    let rewritten = i.to_string().replacen(prefix, signed_prefix, 1);
    match DockerRef::parse_canonical(&rewritten) {
        Ok(r) => Remapped::To(r),
        Err(_) => Remapped::Invalid,
    }
}

/// A `prefix`/`signedPrefix` value: a whole domain (`host[:port]`, also a
/// single word) or `domain/` followed by repository path components.
pub fn valid_remap_prefix(s: &str) -> bool {
    match s.split_once('/') {
        None => valid_domain(s),
        Some((domain, path)) => valid_domain(domain) && path.split('/').all(valid_component),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const D2: &str = "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn r(s: &str) -> DockerRef {
        DockerRef::parse_normalized(s).unwrap()
    }

    fn check(rule: &IdentityRule, image: &str, signed: &str) -> bool {
        matches_identity(rule, Some(&r(image)), signed)
    }

    /// (image, signature, expected) rows for a rule, §8.4.
    fn table(rule: IdentityRule, rows: &[(String, String, bool)]) {
        for (i, s, want) in rows {
            assert_eq!(check(&rule, i, s), *want, "{rule:?}: I={i} S={s}");
        }
    }

    fn row(i: &str, s: &str, want: bool) -> (String, String, bool) {
        (i.to_string(), s.to_string(), want)
    }

    #[test]
    fn match_exact() {
        table(
            IdentityRule::MatchExact,
            &[
                row("busybox:latest", "docker.io/library/busybox:latest", true),
                row("busybox:latest", "library/busybox:latest", true),
                row("docker.io/library/busybox:latest", "busybox:latest", true),
                row("busybox:latest", "busybox:notlatest", false),
                row("busybox:latest", &format!("busybox{D}"), false),
                row(
                    "busybox:latest",
                    "hostname/library/busybox:notlatest",
                    false,
                ),
                row(&format!("busybox{D}"), &format!("busybox{D}"), true),
                row(&format!("busybox{D}"), &format!("busybox{D2}"), false),
                row(
                    &format!("busybox:latest{D}"),
                    &format!("busybox:latest{D}"),
                    true,
                ),
                row(&format!("busybox:latest{D}"), &format!("busybox{D}"), false),
                row(&format!("busybox:latest{D}"), "busybox:latest", false),
                row("busybox", "busybox", false),
                row("busybox:latest", "busybox", false),
                row("busybox", "busybox:latest", false),
            ],
        );
    }

    #[test]
    fn match_repo_digest_or_exact() {
        table(
            IdentityRule::MatchRepoDigestOrExact,
            &[
                row("busybox:latest", "busybox:latest", true),
                row("busybox:latest", "busybox:notlatest", false),
                row("busybox:latest", "busybox", false),
                row("busybox:latest", &format!("busybox{D}"), false),
                row("busybox:latest", &format!("busybox:latest{D}"), false),
                row(&format!("busybox{D}"), "busybox:latest", true),
                row(&format!("busybox{D}"), &format!("busybox{D2}"), true),
                row(&format!("busybox{D}"), "busybox", false),
                row(&format!("busybox:latest{D}"), "busybox:latest", false),
            ],
        );
    }

    #[test]
    fn match_repository() {
        table(
            IdentityRule::MatchRepository,
            &[
                row("busybox:latest", "busybox:notlatest", true),
                row("busybox:latest", &format!("busybox{D}"), true),
                row("busybox:latest", "busybox", true),
                row("busybox:latest", "library/busybox:notlatest", true),
                row("busybox:latest", "notbusybox:latest", false),
                row(
                    "busybox:latest",
                    "registry.access.redhat.com/rhel7/rhel:7.2.3",
                    false,
                ),
            ],
        );
    }

    #[test]
    fn invalid_signed_references_never_match() {
        // §8.4 #86.
        let rules = [
            IdentityRule::MatchExact,
            IdentityRule::MatchRepoDigestOrExact,
            IdentityRule::MatchRepository,
            IdentityRule::ExactRepository(r("busybox")),
        ];
        for rule in &rules {
            for s in ["UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES", "", "INVALID"] {
                assert!(!check(rule, "busybox:latest", s), "{rule:?} {s}");
            }
        }
    }

    #[test]
    fn exact_reference_and_repository_ignore_the_image() {
        // §8.4 #87: the value stands in for I; an image without docker identity is fine.
        let rule = IdentityRule::ExactReference(r("busybox:latest"));
        assert!(matches_identity(
            &rule,
            None,
            "docker.io/library/busybox:latest"
        ));
        assert!(!matches_identity(&rule, None, "busybox:notlatest"));
        assert!(!matches_identity(&rule, None, "busybox"));
        assert!(matches_identity(
            &rule,
            Some(&r("other:1")),
            "busybox:latest"
        ));
        let rule = IdentityRule::ExactRepository(r("library/busybox:latest"));
        assert!(matches_identity(&rule, None, "busybox"));
        assert!(matches_identity(&rule, None, &format!("busybox{D}")));
        assert!(!matches_identity(&rule, None, "notbusybox:latest"));
        // Image-relative rules need an image identity.
        assert!(!matches_identity(
            &IdentityRule::MatchRepository,
            None,
            "busybox:latest"
        ));
    }

    fn remap(prefix: &str, signed_prefix: &str) -> IdentityRule {
        IdentityRule::RemapIdentity {
            prefix: prefix.into(),
            signed_prefix: signed_prefix.into(),
        }
    }

    #[test]
    fn remap_identity() {
        // §8.4 #88–#92.
        let m = remap("mirror.example", "public.com");
        assert!(check(
            &m,
            "mirror.example/busybox:1",
            "public.com/busybox:1"
        ));
        assert!(!check(
            &m,
            "mirror.example/busybox:1",
            "public.com/busybox:not1"
        ));
        assert!(!check(
            &m,
            "mirror.example/busybox:1",
            "mirror.example/busybox:1"
        ));
        assert!(check(
            &remap("mirror.example", "docker.io/library"),
            "mirror.example/busybox:latest",
            "busybox:latest"
        ));
        let from_hub = remap("docker.io/library", "original.com");
        assert!(check(
            &from_hub,
            "copied:latest",
            "original.com/copied:latest"
        ));
        assert!(!check(
            &from_hub,
            "copied:latest",
            "original.com/ns/copied:latest"
        ));
        // No prefix match: plain matchRepoDigestOrExact.
        assert!(check(
            &remap("docker.io/library", "x.com"),
            "docker.io/libraryy/image:1",
            "docker.io/libraryy/image:1"
        ));
        assert!(check(
            &remap("example.com/ns", "x.com"),
            "example.com:5000/ns/image:1",
            "example.com:5000/ns/image:1"
        ));
        assert!(check(
            &remap("example.com/ns/image", "x.com"),
            "example.com/ns/imagee:1",
            "example.com/ns/imagee:1"
        ));
        // Rewrites that produce invalid or non-canonical references never match.
        let bad = remap("mirror.example/ns/image", "vendor.example:5000");
        assert!(!check(
            &bad,
            "mirror.example/ns/image:tag",
            "vendor.example:5000:tag"
        ));
        assert!(!check(
            &bad,
            &format!("mirror.example/ns/image{D}"),
            &format!("vendor.example:5000{D}")
        ));
        assert!(!check(
            &remap("mirror.example", "docker.io"),
            "mirror.example/busybox:1",
            "docker.io/busybox:1"
        ));
    }

    #[test]
    fn remap_prefix_validation() {
        // §8.4 #93.
        for ok in [
            "localhost",
            "example.com:80",
            "example.com/ns1/ns2/ns3/repo.with.dots-dashes_underscores",
            "shortname",
            "ns/shortname",
        ] {
            assert!(valid_remap_prefix(ok), "{ok}");
        }
        let digest = format!("example.com/repo{D}");
        for bad in [
            "",
            "repo_with_underscores",
            "example.com/",
            "example.com/UPPERCASEISINVALID",
            "example.com/repo/",
            "example.com/repo:tag",
            digest.as_str(),
        ] {
            assert!(!valid_remap_prefix(bad), "{bad}");
        }
    }
}

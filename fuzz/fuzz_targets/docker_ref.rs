//! The docker reference grammar (`image/src/docker_ref.rs`) and what is
//! built on it: digest validation and policy scopes.
//!
//! Properties, for every input `x` that `parse_normalized` accepts as `r`:
//! * `parse_normalized(r.to_string()) == r` (printing loses nothing);
//! * `parse_canonical(r.to_string()) == r` (the printed form is canonical);
//! * `parse_normalized(r.familiar()) == r` (podman's short form reads back,
//!   unless it starts with a domain-like component, as upstream's does);
//! * `parse_canonical(x)` accepts exactly when `x == r.to_string()`;
//! * a digest it carries passes `validate_digest`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_verify::docker_ref::{validate_digest, DockerRef};
use vouch_verify::policy::{docker_namespaces, scope_is_valid};

fuzz_target!(|data: &[u8]| {
    let Ok(x) = std::str::from_utf8(data) else {
        return;
    };
    let _ = validate_digest(x);
    let _ = scope_is_valid("docker", x);
    let canonical = DockerRef::parse_canonical(x);
    let Ok(r) = DockerRef::parse_normalized(x) else {
        assert!(canonical.is_err(), "canonical but not normalized: {x:?}");
        return;
    };
    let printed = r.to_string();
    assert_eq!(
        DockerRef::parse_normalized(&printed).as_ref(),
        Ok(&r),
        "to_string does not round-trip: {x:?} -> {printed:?}"
    );
    assert_eq!(
        DockerRef::parse_canonical(&printed).as_ref(),
        Ok(&r),
        "to_string is not canonical: {x:?} -> {printed:?}"
    );
    let familiar = r.familiar();
    // As upstream's FamiliarString: `docker.io/foo.com/bar` is shown as
    // `foo.com/bar`, which names another registry; only unambiguous short
    // forms read back.
    let first = familiar.split('/').next().unwrap_or("");
    // A 64-hex name is an image ID to upstream, so `docker.io/library/<64 hex>`
    // prints as a short form that ParseNormalizedNamed refuses by design.
    let hex_id = familiar.len() == 64
        && familiar
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let ambiguous =
        hex_id || familiar.contains('/') && (first.contains(['.', ':']) || first == "localhost");
    if !ambiguous {
        assert_eq!(
            DockerRef::parse_normalized(&familiar).as_ref(),
            Ok(&r),
            "familiar does not round-trip: {x:?} -> {familiar:?}"
        );
    }
    assert_eq!(
        canonical.is_ok(),
        x == printed,
        "parse_canonical({x:?}) disagrees with to_string {printed:?}"
    );
    if let Some(d) = r.digest() {
        assert_eq!(validate_digest(d), Ok(()), "{x:?}");
    }
    assert!(r.name().len() <= 255, "name longer than 255: {x:?}");
    let _ = r.with_parts(Some("latest"), None).to_string();
    for ns in docker_namespaces(&r) {
        assert!(
            printed.starts_with(&ns) || ns.starts_with("*."),
            "{ns:?} is not a namespace of {printed:?}"
        );
    }
});

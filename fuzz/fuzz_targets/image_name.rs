//! `transport:reference` image names (`copy/src/name.rs`, skopeo's
//! `alltransports.ParseImageName`) for every transport vouch copies with.
//!
//! Properties, for every input `x` that `ImageName::parse` accepts as `n`:
//! * `parse(n.to_string()) == n` (printing loses nothing), and the printed
//!   form is a fixed point of parse-then-print;
//! * the transport is `x`'s text before the first colon, one of
//!   `TRANSPORTS`;
//! * a `docker://` name is exactly what the docker reference grammar
//!   accepts after the `//` (no second transport prefix slips through);
//! * an `oci:`/`oci-archive:` reference is accepted exactly when it matches
//!   containers/image's `refRegexp` (checked here with the `regex` crate);
//! * the names whose policy identity needs no file system (`docker`,
//!   `docker-archive`, `vouch-store`) always have one.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vouch_copy::name::TRANSPORTS;
use vouch_copy::ImageName;
use vouch_image::docker_ref::DockerRef;

/// containers/image `oci/internal`'s `refRegexp`, as written there.
fn ref_regexp() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let separator = "(?:[-._:@+]|--)";
        let alphanum = "(?:[A-Za-z0-9]+)";
        let component = format!("(?:{alphanum}(?:{separator}{alphanum})*)");
        regex::Regex::new(&format!("^{component}(?:/{component})*$")).expect("refRegexp")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(x) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = ImageName::parse(x);
    // oci:PATH:REF — the path may not be empty; an empty REF is none.
    if let Some(rest) = x
        .strip_prefix("oci:")
        .or_else(|| x.strip_prefix("oci-archive:"))
    {
        let (path, reference) = rest.split_once(':').unwrap_or((rest, ""));
        let valid = !path.is_empty() && (reference.is_empty() || ref_regexp().is_match(reference));
        assert_eq!(parsed.is_ok(), valid, "{x:?}: {parsed:?}");
    }
    let Ok(n) = parsed else {
        return;
    };
    let printed = n.to_string();
    let again = ImageName::parse(&printed)
        .unwrap_or_else(|e| panic!("{x:?} prints as {printed:?}, which is refused: {e}"));
    assert_eq!(again, n, "{x:?} -> {printed:?} reads back differently");
    assert_eq!(again.to_string(), printed, "{x:?}: printing is not stable");
    let transport = x.split(':').next().unwrap_or("");
    assert_eq!(n.transport(), transport, "{x:?}");
    assert!(TRANSPORTS.contains(&transport), "{x:?}");
    match &n {
        ImageName::Docker(r) => {
            let body = x.strip_prefix("docker://").unwrap_or("");
            let grammar = DockerRef::parse_normalized(body)
                .unwrap_or_else(|e| panic!("{x:?} accepted, but its reference is not one: {e}"));
            assert_eq!(grammar.name(), r.name(), "{x:?}");
            assert!(r.tag().is_some() || r.digest().is_some(), "{x:?}");
            n.policy_image()
                .unwrap_or_else(|e| panic!("{x:?} has no policy identity: {e}"));
        }
        ImageName::DockerArchive { .. } | ImageName::Store(_) => {
            n.policy_image()
                .unwrap_or_else(|e| panic!("{x:?} has no policy identity: {e}"));
        }
        // Their identity is the resolved path: a file system lookup, not
        // parsing.
        ImageName::Dir(_) | ImageName::Oci { .. } | ImageName::OciArchive { .. } => {}
    }
});

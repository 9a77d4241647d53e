//! A registry's referrers reply (`image/src/referrers/`): the `Link`
//! header that paginates it, the OCI index it carries (or the fallback tag
//! holds), and a referrer manifest.
//!
//! Input: `Link` header values, one per line, then a NUL, then the body.
//!
//! Properties, besides not panicking:
//! * a next link is a substring of one header value;
//! * a resolved link stays on the registry (`base` + `/…`);
//! * the bundle entries are each a bundle type, unique and sorted;
//! * an accepted referrer manifest names a bundle layer within the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_image::referrers::is_bundle_media_type;
use vouch_image::referrers::link::{next_link, resolve};
use vouch_image::referrers::read::{bundle_entries, check_referrer, parse_index, MAX_BUNDLE_BYTES};
use vouch_image::Digest;

const BASE: &str = "http://127.0.0.1:5000";

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let values: Vec<&str> = head.lines().collect();
    if let Some(next) = next_link(values.iter().copied()) {
        assert!(values.iter().any(|v| v.contains(next.as_str())), "{next:?}");
        if let Some(url) = resolve(BASE, &next) {
            assert!(url.starts_with(&format!("{BASE}/")), "{url:?}");
        }
    }
    if let Ok(Some(entries)) =
        parse_index("u", Some("application/vnd.oci.image.index.v1+json"), body)
    {
        let bundles = bundle_entries(entries);
        for w in bundles.windows(2) {
            assert!(w[0].digest.to_string() < w[1].digest.to_string());
        }
        for e in &bundles {
            assert!(is_bundle_media_type(
                e.artifact_type.as_deref().unwrap_or("")
            ));
        }
    }
    let subject = Digest::of(b"subject");
    if let Ok(layer) = check_referrer(&Digest::of(body), None, body, &subject) {
        assert!(is_bundle_media_type(&layer.media_type));
        assert!(layer.size <= MAX_BUNDLE_BYTES);
    }
});

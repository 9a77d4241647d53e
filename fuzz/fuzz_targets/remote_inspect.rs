//! What `inspect docker://…` and `list-tags` read from a registry
//! (`image/src/remote/`): the manifest (or list, and the instance it
//! resolves to), the config as Go's `v1.Image`, skopeo's output document,
//! a tags page, the `Link` header that paginates it, and Go's `time.Time`.
//!
//! Input: NUL-separated sections: the manifest, the config, a tags page
//! body, then `Link` header values (one per line) and RFC 3339 times (one
//! per line; the `Link` lines are tried as times too).
//!
//! Properties, besides not panicking:
//! * `inspect --config` and `inspect` print valid JSON, and the config
//!   printed is a fixed point (printed, read back, printed again: same);
//! * a time that parses prints as Go's `RFC3339Nano`, which reads back to
//!   the same instant and prints the same; times Go refuses (second 60, a
//!   lower-case `z`/`t`) are refused;
//! * a next-page link is a path on the registry it came from, whatever
//!   host it names;
//! * a chosen list instance is one of the list's entries.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use vouch_image::manifest::{self, Parsed};
use vouch_image::manifest_digest::manifest_digest;
use vouch_image::registry::FetchedManifest;
use vouch_image::remote::config::OciConfig;
use vouch_image::remote::go_indent::marshal_indent;
use vouch_image::remote::go_time::GoTime;
use vouch_image::remote::inspect::{oci_config, parse_image, InspectOutput};
use vouch_image::remote::platform::{choose, wanted, PlatformChoice};
use vouch_image::remote::tags::{link_path, page_tags};
use vouch_image::{Digest, ImageRef};

const BASE: &str = "http://127.0.0.1:5000";

fn section<'a>(parts: &mut impl Iterator<Item = &'a [u8]>) -> &'a [u8] {
    parts.next().unwrap_or(&[])
}

fn check_json(what: &str, text: &str) {
    if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
        panic!("{what} is not JSON ({e}):\n{text}");
    }
}

fn check_config(config: &OciConfig) {
    let printed = marshal_indent(&config.to_go(), "    ");
    check_json("inspect --config", &printed);
    let again = OciConfig::parse(printed.as_bytes())
        .unwrap_or_else(|e| panic!("printed config does not read back: {e}\n{printed}"));
    assert_eq!(
        marshal_indent(&again.to_go(), "    "),
        printed,
        "printed config is not a fixed point"
    );
}

fn check_time(s: &str) {
    let Some(t) = GoTime::parse(s) else {
        return;
    };
    // Go's RFC 3339 parser: seconds 0..=59, `T` and `Z` upper case only.
    let b = s.as_bytes();
    assert!(
        b.get(17..19) != Some(b"60".as_slice()),
        "{s:?}: Go refuses second 60"
    );
    assert!(!s.contains(['z', 't']), "{s:?}: Go refuses lower case");
    let printed = t.format();
    let again = GoTime::parse(&printed)
        .unwrap_or_else(|| panic!("{s:?} prints as {printed:?}, which is refused"));
    assert_eq!(again, t, "{s:?} -> {printed:?}");
    assert_eq!(again.format(), printed, "{s:?} -> {printed:?}");
}

fn check_link(value: &str) {
    let Some(path) = link_path(value) else {
        return;
    };
    assert!(path.starts_with('/'), "{value:?} -> {path:?}");
    let url = format!("{BASE}{path}");
    if let Ok(u) = url::Url::parse(&url) {
        assert_eq!(
            (u.host_str(), u.port()),
            (Some("127.0.0.1"), Some(5000)),
            "{value:?} -> {url:?} leaves the registry"
        );
    }
}

fn run(data: &[u8]) {
    let mut parts = data.split(|b| *b == 0);
    let manifest_bytes = section(&mut parts);
    let config_bytes = section(&mut parts);
    let tags_body = section(&mut parts);
    let rest: Vec<u8> = parts
        .flat_map(|p| p.iter().copied().chain([b'\n']))
        .collect();
    let lines = String::from_utf8_lossy(&rest);
    for line in lines.lines() {
        check_link(line);
        check_time(line);
    }
    let repo_tags = page_tags(tags_body).ok();

    if let Ok(config) = OciConfig::parse(config_bytes) {
        check_config(&config);
        if let Some(t) = &config.created {
            check_time(&t.format());
        }
    }

    let reference = ImageRef::parse("127.0.0.1:5000/fuzz/image:latest").expect("reference");
    let _ = manifest_digest(manifest_bytes);
    let Ok(media_type) = manifest::media_type_of(manifest_bytes, None) else {
        return;
    };
    let top = FetchedManifest {
        bytes: Bytes::copy_from_slice(manifest_bytes),
        media_type: media_type.clone(),
        digest: Digest::of(manifest_bytes),
    };
    match media_type.as_str() {
        manifest::OCI_INDEX | manifest::DOCKER_LIST => {
            let Ok(Parsed::Index(index)) = manifest::parse(manifest_bytes, &media_type) else {
                return;
            };
            for choice in [
                PlatformChoice::default(),
                PlatformChoice {
                    os: Some("linux".into()),
                    arch: Some("arm".into()),
                    variant: None,
                },
                PlatformChoice {
                    os: Some("windows".into()),
                    arch: Some("arm64".into()),
                    variant: Some("v8".into()),
                },
            ] {
                if let Some(d) = choose(&index, &wanted(&choice)) {
                    assert!(index.manifests.iter().any(|m| std::ptr::eq(m, d)));
                }
            }
        }
        manifest::OCI_MANIFEST | manifest::DOCKER_MANIFEST => {
            let Ok(instance) = parse_image(&reference, &top) else {
                return;
            };
            let Ok(config) = oci_config(&reference, &instance, config_bytes) else {
                return;
            };
            let digest = manifest_digest(manifest_bytes).unwrap_or_default();
            let out = InspectOutput::new(reference.name(), digest, repo_tags, &instance, config);
            check_json("inspect", &marshal_indent(&out.to_go(), "    "));
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| run(data));

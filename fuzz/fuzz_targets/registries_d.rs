//! registries.d: YAML files read and merged by `RegistriesD::load`, then the
//! lookaside URL chosen for a few images (`read_base`, `write_base`,
//! `signature`), which parses the configured URLs.
//!
//! The input is split on `\n...\n` lines into up to three files, so merging
//! (duplicate `default-docker`, duplicate scopes) is fuzzed too. Files are
//! written into one scratch directory per process, rewritten every run.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vouch_verify::docker_ref::DockerRef;
use vouch_verify::registries_d::{BuiltinDefault, RegistriesD};

const FILES: [&str; 3] = ["a.yaml", "b.yaml", "c.yaml"];
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const IMAGES: [&str; 4] = [
    "docker.io/library/busybox:latest",
    "registry.example.com/ns/app:v1",
    "localhost:5000/a/b/c@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "example.com/app",
];

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("vouch-fuzz-registries-d.")
            .tempdir()
            .expect("scratch directory");
        let path = dir.path().to_path_buf();
        (dir, path)
    })
    .1
}

fn images() -> &'static [DockerRef] {
    static REFS: OnceLock<Vec<DockerRef>> = OnceLock::new();
    REFS.get_or_init(|| {
        IMAGES
            .iter()
            .map(|s| DockerRef::parse_normalized(s).expect("fixed reference"))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = scratch();
    for name in FILES {
        let _ = std::fs::remove_file(dir.join(name));
    }
    // Not UTF-8 is refused by `load` (read_to_string); fuzzed as bytes anyway.
    let mut parts = Vec::new();
    let mut rest = data;
    while parts.len() < FILES.len() - 1 {
        match find(rest, b"\n...\n") {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = &rest[i + 5..];
            }
            None => break,
        }
    }
    parts.push(rest);
    for (name, part) in FILES.iter().zip(&parts) {
        std::fs::write(dir.join(name), part).expect("writing scratch file");
    }
    let Ok(config) = RegistriesD::load(dir) else {
        return;
    };
    let builtin = BuiltinDefault::for_user(false, "/home/fuzz");
    for image in images() {
        for base in [
            config.read_base(image, &builtin),
            config.write_base(image, &builtin),
        ] {
            if let Ok(base) = base {
                let _ = base.to_string();
                if let Ok(url) = base.signature(DIGEST, 0) {
                    let _ = url.to_string();
                }
            }
        }
        let _ = config.use_sigstore_attachments(image);
    }
});

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

//! sigstore-server's request-path grammar (`sigstore-server/src/path.rs`):
//! the only paths the server maps to files.
//!
//! For every accepted path: the relative path is made of normal components
//! only (no `.`/`..`, no empty or dot-leading segment, only `[A-Za-z0-9._-@=]`),
//! at most `MAX_PATH` long, splits as `<repo>@<algo>=<hex>/<file>`, carries a
//! digest containers/image would accept, names signature ≥ 1 or the upload
//! collection, and is a fixed point: parsing `/` + the decoded path gives the
//! same answer (escapes are decoded exactly once).
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use sigstore_server::path::{valid_prefix, SigPath, Target, MAX_PATH};
use vouch_verify::docker_ref::validate_digest;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let _ = valid_prefix(raw);
    let p = match SigPath::parse(raw) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.is_malformed();
            return;
        }
    };
    let rel = p.rel();
    assert!(rel.len() <= MAX_PATH, "{raw:?}: too long");
    assert!(
        Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_))),
        "{raw:?}: {rel:?} has a non-normal component"
    );
    for seg in rel.split('/') {
        assert!(
            !seg.is_empty() && !seg.starts_with('.'),
            "{raw:?}: segment {seg:?}"
        );
        assert!(
            seg.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-@=".contains(&b)),
            "{raw:?}: segment {seg:?}"
        );
    }
    let dir = p.dir();
    let file = rel
        .strip_prefix(dir)
        .and_then(|f| f.strip_prefix('/'))
        .unwrap_or_else(|| panic!("{raw:?}: {rel:?} is not dir {dir:?} + /file"));
    match p.target() {
        Target::Collection => assert_eq!(file, "signatures"),
        Target::Signature(n) => {
            assert!(n >= 1, "{raw:?}: signature-{n}");
            assert_eq!(file, format!("signature-{n}"), "{raw:?}");
        }
    }
    let repo = p.repo();
    assert!(
        dir.starts_with(repo) && dir[repo.len()..].starts_with('@'),
        "{raw:?}: repo {repo:?} of dir {dir:?}"
    );
    assert!(
        valid_prefix(repo),
        "{raw:?}: repo {repo:?} is not a valid prefix"
    );
    let digest = p.digest();
    assert_eq!(
        validate_digest(&digest),
        Ok(()),
        "{raw:?}: digest {digest:?}"
    );
    assert_eq!(
        dir,
        format!("{repo}@{}", digest.replacen(':', "=", 1)),
        "{raw:?}"
    );

    let reparsed = format!("/{rel}");
    let again = SigPath::parse(&reparsed)
        .unwrap_or_else(|e| panic!("{raw:?}: decoded {rel:?} refused: {e}"));
    assert_eq!(
        (again.rel(), again.target(), again.digest()),
        (rel, p.target(), digest.clone()),
        "{raw:?}: not a fixed point"
    );
});

//! Shared test helpers: the upstream fixture corpus and its key identities.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `fixtures/containers-image/`: the upstream corpus, copied into the repository.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/containers-image"
    ))
}

pub fn fixture_path(rel: &str) -> PathBuf {
    fixtures_dir().join(rel)
}

pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture_path(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

/// TestKeyFingerprint of signature/fixtures_info_test.go.
pub const TEST_KEY: &str = "08CD26E446E2E95249B7A405E932F44B23E8DD43";

/// The digest of `image.manifest.json`.
pub const TEST_DIGEST: &str =
    "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55";

/// A fixed "now" after the generated fixtures were made (2026-11-28) and
/// before the sequoia-subkey cert expires (2029-11-28): 2027-01-01.
pub fn test_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_798_761_600)
}

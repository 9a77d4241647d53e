//! Skips that count. libtest has no "skipped" outcome: a test that returns
//! early passes, and its `eprintln!` is swallowed, so a machine without
//! root, runc or gpg could turn whole suites green by running nothing.
//! Every test that cannot run here calls [`skip`] and returns:
//!
//! - under `VOUCH_NO_SKIP=1` (which `.ci/run` sets; `CI=true` means the same
//!   unless `VOUCH_NO_SKIP=0`), the skip panics with its reason, so the test
//!   fails — unless the test is in [`ALLOWED`] or named in `VOUCH_ALLOW_SKIP`
//!   (comma-separated test names), and then the allowance is printed;
//! - otherwise it is appended to `<target>/test-skips.txt`, which
//!   `scripts/test.sh` clears before the run and lists after it.
//!
//! Only std, so the crates' own tests include this file by `#[path]`.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::PathBuf;

/// Tests whose skip is expected even where skips fail the run, and why.
/// Matched against the last `::` segment of the test's name.
pub const ALLOWED: &[(&str, &str)] = &[(
    "device_nodes_are_skipped_without_root",
    "checks the rootless rule, so it runs only unprivileged; CI runs as root",
)];

/// The record of this run's skips: one line per skip, `binary<TAB>test<TAB>reason`.
pub fn record_path() -> PathBuf {
    if let Some(p) = std::env::var_os("VOUCH_SKIP_RECORD") {
        return PathBuf::from(p);
    }
    // Test binaries live in <target>/<profile>/deps/.
    let exe = std::env::current_exe().unwrap_or_default();
    let target = exe
        .ancestors()
        .nth(3)
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    target.join("test-skips.txt")
}

/// Whether a skip must fail the test (CI).
pub fn strict() -> bool {
    match std::env::var("VOUCH_NO_SKIP") {
        Ok(v) if !v.is_empty() => v != "0",
        _ => std::env::var("CI").is_ok_and(|v| v == "true" || v == "1"),
    }
}

/// Why `test` may skip even when skips are strict, if it may.
pub fn allowance(test: &str) -> Option<String> {
    let short = test.rsplit("::").next().unwrap_or(test);
    if let Some((_, why)) = ALLOWED.iter().find(|(t, _)| *t == short || *t == test) {
        return Some((*why).to_string());
    }
    let env = std::env::var("VOUCH_ALLOW_SKIP").unwrap_or_default();
    env.split(',')
        .map(str::trim)
        .any(|t| !t.is_empty() && (t == short || t == test))
        .then(|| "named in VOUCH_ALLOW_SKIP".to_string())
}

/// Records that the calling test cannot run here because of `reason`, or
/// panics when skips are strict and this one is not allowed. The caller
/// returns right after.
pub fn skip(reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<unnamed>").to_string();
    let exe = std::env::current_exe().unwrap_or_default();
    let binary = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // deps/trust_interop-0123abcd → trust_interop
    let binary = match binary.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
        _ => binary,
    };
    if strict() {
        match allowance(&test) {
            Some(why) => eprintln!("SKIPPED (allowed: {why}): {binary} {test}: {reason}"),
            None => panic!(
                "{binary} {test} would be skipped ({reason}), and skips fail under \
                 VOUCH_NO_SKIP/CI (allow it in tests/common/skip.rs ALLOWED or VOUCH_ALLOW_SKIP)"
            ),
        }
    } else {
        eprintln!("SKIPPED: {binary} {test}: {reason}");
    }
    let line = format!("{binary}\t{test}\t{}\n", reason.replace(['\n', '\t'], " "));
    let path = record_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // One O_APPEND write per line, so parallel tests do not interleave.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!(
            "{test} skipped ({reason}) but the skip could not be recorded in {}: {e}",
            path.display()
        );
    }
}

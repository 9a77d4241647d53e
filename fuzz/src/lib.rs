//! What the fuzz targets share.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Roots to remove when the fuzzer exits: a static `TempDir` is never
/// dropped, and libFuzzer ends the process with `exit`.
static ROOTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

extern "C" fn remove_roots() {
    if let Ok(roots) = ROOTS.lock() {
        for r in roots.iter() {
            let _ = std::fs::remove_dir_all(r);
        }
    }
}

/// A per-process scratch root for a target that works on files, removed
/// when the process exits (and, after a crash, by `scripts/fuzz.sh`, which
/// points `VOUCH_FUZZ_SCRATCH` at a directory of its own). Without that
/// variable it is on a tmpfs when there is one: such targets write (and
/// some fsync) files every run, which a disk makes a hundred times slower.
pub fn scratch_root(prefix: &str) -> PathBuf {
    let path = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(scratch_parent())
        .expect("temp root")
        .keep();
    let mut roots = ROOTS.lock().expect("roots");
    if roots.is_empty() {
        // SAFETY: registers a plain function that only removes directories.
        unsafe { libc::atexit(remove_roots) };
    }
    roots.push(path.clone());
    path
}

fn scratch_parent() -> PathBuf {
    if let Some(dir) = std::env::var_os("VOUCH_FUZZ_SCRATCH").filter(|d| !d.is_empty()) {
        return dir.into();
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && tempfile::tempdir_in(shm).is_ok() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

//! Finding the host programs vouch runs (runc, nft, CRIU). One lookup, used
//! by the product and by the end-to-end tests, so "installed" means the
//! same to both: a test never skips or runs on a guess of its own.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A regular file with an execute bit: what `execvp` would run.
pub fn is_exec(p: &Path) -> bool {
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first executable `name` in the directories of `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(name))
        .find(|p| is_exec(p))
}

/// `program` itself when it has a directory part, else its `PATH` lookup;
/// `None` unless the result is executable.
pub fn find(program: &Path) -> Option<PathBuf> {
    if program.is_absolute() || program.components().count() > 1 {
        return Some(program.to_path_buf()).filter(|p| is_exec(p));
    }
    on_path(&program.to_string_lossy())
}

/// The `nft` binary the bridge network drives.
pub fn nft() -> Option<PathBuf> {
    on_path("nft")
}

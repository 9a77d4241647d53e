//! Where the sigstore-js harness lives, shared by the workspace's e2e tests
//! and the `sign` crate's interop tests (included there by path).

use std::path::{Path, PathBuf};
use std::process::Command;

/// tests/interop/sigstore-js/verify-bundle.js under `repo_root` (installed
/// by scripts/install-sigstore-js.sh), or why it cannot run here.
pub fn harness(repo_root: &Path) -> Result<PathBuf, String> {
    let dir = repo_root.join("tests/interop/sigstore-js");
    if !dir
        .join("node_modules/@sigstore/verify/package.json")
        .is_file()
    {
        return Err(format!(
            "sigstore-js is not installed in {} (run scripts/install-sigstore-js.sh)",
            dir.display()
        ));
    }
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(dir.join("verify-bundle.js")),
        _ => Err("node is not installed".into()),
    }
}

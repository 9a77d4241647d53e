//! Running podman's `image trust` next to vouch's: podman with a `gpg2` on
//! PATH (podman reads key IDs with `gpg2 --with-colons`; Debian ships the
//! binary as `gpg` only) and its own GnuPG home, and registries.d files in
//! /etc/containers/registries.d (podman 4.3.1 has no `--registries.d`),
//! removed again on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Podman {
    dir: tempfile::TempDir,
}

impl Default for Podman {
    fn default() -> Self {
        Self::new()
    }
}

impl Podman {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink("/usr/bin/gpg", bin.join("gpg2")).unwrap();
        let gnupg = dir.path().join("gnupg");
        std::fs::create_dir_all(&gnupg).unwrap();
        std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        Podman { dir }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = super::podman(self.dir.path());
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.env("PATH", path)
            .env("GNUPGHOME", self.dir.path().join("gnupg"))
            .args(args);
        c
    }

    pub fn ok(&self, args: &[&str]) -> String {
        super::peer_ok(&mut self.cmd(args))
    }
}

/// registries.d files in /etc/containers/registries.d for one test, removed
/// on drop (also when the test panics), written under the harness's
/// /etc/containers lock, which it holds until then. The directory is created
/// if needed and removed again if this guard created it and it is empty.
pub struct EtcRegistriesD {
    files: Vec<PathBuf>,
    created_dir: bool,
    _lock: super::EtcContainersLock,
}

pub const ETC_REGD: &str = "/etc/containers/registries.d";

impl EtcRegistriesD {
    /// One file named after the test process and `tag`.
    pub fn install(tag: &str, yaml: &str) -> Self {
        Self::install_all(&[(tag, yaml)])
    }

    /// Several files, `(tag, yaml)` each.
    pub fn install_all(files: &[(&str, &str)]) -> Self {
        let lock = super::etc_containers_lock();
        let dir = Path::new(ETC_REGD);
        let created_dir = !dir.exists();
        if created_dir {
            std::fs::create_dir_all(dir).unwrap();
        }
        let mut guard = EtcRegistriesD {
            files: Vec::new(),
            created_dir,
            _lock: lock,
        };
        for (tag, yaml) in files {
            let file = dir.join(format!(
                "vouch-test-{}-{}.yaml",
                std::process::id(),
                tag.replace([':', '.'], "-")
            ));
            std::fs::write(&file, yaml).unwrap();
            guard.files.push(file);
        }
        guard
    }
}

impl Drop for EtcRegistriesD {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        if self.created_dir {
            // Only if empty: someone else's files are left alone.
            let _ = std::fs::remove_dir(ETC_REGD);
        }
    }
}

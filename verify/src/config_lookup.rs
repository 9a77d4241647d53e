//! Where policy.json and registries.d come from when no flag names them, as
//! containers/image finds them today (its `configfile` package, used by
//! `signature.DefaultPolicy` and `docker.loadRegistryConfiguration`):
//!
//! - policy.json: `$CONTAINERS_POLICY_JSON` if set (the only file, which
//!   must exist), else the first that exists of
//!   `$XDG_CONFIG_HOME/containers/policy.json` (or
//!   `$HOME/.config/containers/policy.json`), `/etc/containers/policy.json`,
//!   `/usr/share/containers/policy.json`.
//! - registries.d: drop-in directories, highest priority first: the per-user
//!   `…/containers/registries.d`, then under `/etc/containers` and then
//!   `/usr/share/containers` each the per-UID, rootless or rootful, and plain
//!   `registries.d`. A file name in a higher directory shadows the same name
//!   in lower ones; the surviving files are read in name order (see
//!   [`crate::registries_d::RegistriesD::load_dirs`]).
//!
//! Everything is a pure function of [`ConfigEnv`], so tests need not touch
//! the process environment or system directories.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The vendor defaults shipped by the distribution.
pub const VENDOR_DIR: &str = "/usr/share/containers";
/// The administrator's overrides.
pub const ADMIN_DIR: &str = "/etc/containers";

/// What the lookup depends on, captured once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigEnv {
    /// `$XDG_CONFIG_HOME` when set (even empty, as Go's `LookupEnv` sees it).
    pub xdg_config_home: Option<OsString>,
    /// `$HOME`.
    pub home: Option<OsString>,
    /// `$CONTAINERS_POLICY_JSON`, ignored when empty.
    pub policy_json: Option<OsString>,
    /// `_CONTAINERS_ROOTLESS_UID` if it parses, else the effective UID.
    pub uid: u32,
}

impl ConfigEnv {
    pub fn from_process() -> Self {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        let uid = std::env::var("_CONTAINERS_ROOTLESS_UID")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(euid);
        Self {
            xdg_config_home: std::env::var_os("XDG_CONFIG_HOME"),
            home: std::env::var_os("HOME"),
            policy_json: std::env::var_os("CONTAINERS_POLICY_JSON").filter(|v| !v.is_empty()),
            uid,
        }
    }

    /// `$XDG_CONFIG_HOME/containers`, else `$HOME/.config/containers`.
    pub fn user_dir(&self) -> Option<PathBuf> {
        if let Some(x) = &self.xdg_config_home {
            return Some(Path::new(x).join("containers"));
        }
        self.home
            .as_ref()
            .filter(|h| !h.is_empty())
            .map(|h| Path::new(h).join(".config/containers"))
    }

    /// policy.json candidates in order; the first that exists is used. With
    /// `$CONTAINERS_POLICY_JSON` the list is that one file.
    pub fn policy_candidates(&self) -> Vec<PathBuf> {
        if let Some(p) = &self.policy_json {
            return vec![PathBuf::from(p)];
        }
        let mut out: Vec<PathBuf> = self
            .user_dir()
            .map(|d| d.join("policy.json"))
            .into_iter()
            .collect();
        out.push(Path::new(ADMIN_DIR).join("policy.json"));
        out.push(Path::new(VENDOR_DIR).join("policy.json"));
        out
    }

    /// The registries.d drop-in directories, highest priority first.
    pub fn registries_d_dirs(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self
            .user_dir()
            .map(|d| d.join("registries.d"))
            .into_iter()
            .collect();
        for base in [ADMIN_DIR, VENDOR_DIR] {
            let base = Path::new(base);
            if self.uid > 0 {
                let rootless = base.join("registries.rootless.d");
                out.push(rootless.join(self.uid.to_string()));
                out.push(rootless);
            } else {
                out.push(base.join("registries.rootful.d"));
            }
            out.push(base.join("registries.d"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(xdg: Option<&str>, home: Option<&str>, uid: u32) -> ConfigEnv {
        ConfigEnv {
            xdg_config_home: xdg.map(Into::into),
            home: home.map(Into::into),
            policy_json: None,
            uid,
        }
    }

    fn strs(v: Vec<PathBuf>) -> Vec<String> {
        v.into_iter().map(|p| p.display().to_string()).collect()
    }

    #[test]
    fn registries_d_dirs_in_upstream_order() {
        assert_eq!(
            strs(env(None, Some("/home/u"), 1000).registries_d_dirs()),
            [
                "/home/u/.config/containers/registries.d",
                "/etc/containers/registries.rootless.d/1000",
                "/etc/containers/registries.rootless.d",
                "/etc/containers/registries.d",
                "/usr/share/containers/registries.rootless.d/1000",
                "/usr/share/containers/registries.rootless.d",
                "/usr/share/containers/registries.d",
            ]
        );
        assert_eq!(
            strs(env(Some("/x"), Some("/root"), 0).registries_d_dirs()),
            [
                "/x/containers/registries.d",
                "/etc/containers/registries.rootful.d",
                "/etc/containers/registries.d",
                "/usr/share/containers/registries.rootful.d",
                "/usr/share/containers/registries.d",
            ]
        );
        // No home at all: only the system directories.
        assert_eq!(env(None, None, 0).registries_d_dirs().len(), 4);
    }

    #[test]
    fn policy_candidates_in_upstream_order() {
        assert_eq!(
            strs(env(Some("/x"), Some("/home/u"), 1000).policy_candidates()),
            [
                "/x/containers/policy.json",
                "/etc/containers/policy.json",
                "/usr/share/containers/policy.json",
            ]
        );
        let mut e = env(None, Some("/home/u"), 0);
        assert_eq!(
            strs(e.policy_candidates())[0],
            "/home/u/.config/containers/policy.json"
        );
        e.policy_json = Some("/p.json".into());
        assert_eq!(strs(e.policy_candidates()), ["/p.json"]);
    }
}

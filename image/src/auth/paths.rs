//! Which auth files are consulted, in which order, and which one `login`
//! writes: containers/image's `getAuthFilePaths` and `getPathToAuth` on
//! Linux.
//!
//! The environment is an explicit value rather than `std::env` reads, so the
//! whole table is unit-tested without touching the test process's globals.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::AuthError;

/// The parts of the process environment the lookup depends on. An empty
/// variable counts as unset, as Go's `os.Getenv(..) != ""` tests do.
#[derive(Clone, Debug, Default)]
pub struct AuthEnv {
    /// `homedir.Get()`: `$HOME`, else the passwd entry's home.
    pub home: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub docker_config: Option<PathBuf>,
    pub uid: u32,
    /// `$PATH` for finding `docker-credential-NAME`; `None` inherits ours.
    pub path: Option<OsString>,
}

fn non_empty(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

impl AuthEnv {
    /// The environment of this process.
    pub fn from_process() -> Self {
        let uid = nix::unistd::getuid();
        let home = non_empty("HOME").map(PathBuf::from).or_else(|| {
            nix::unistd::User::from_uid(uid)
                .ok()
                .flatten()
                .map(|u| u.dir)
        });
        AuthEnv {
            home,
            xdg_runtime_dir: non_empty("XDG_RUNTIME_DIR").map(PathBuf::from),
            xdg_config_home: non_empty("XDG_CONFIG_HOME").map(PathBuf::from),
            docker_config: non_empty("DOCKER_CONFIG").map(PathBuf::from),
            uid: uid.as_raw(),
            path: None,
        }
    }

    fn home(&self) -> PathBuf {
        self.home.clone().unwrap_or_default()
    }
}

/// One auth file and whether it is in `~/.dockercfg`'s legacy format (a
/// top-level map of registries, no `"auths"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthPath {
    pub path: PathBuf,
    pub legacy: bool,
}

impl AuthPath {
    fn new(path: PathBuf) -> Self {
        AuthPath {
            path,
            legacy: false,
        }
    }
}

/// The file `login` writes and the first one read (`getPathToAuth`):
/// `--authfile`, else `$XDG_RUNTIME_DIR/containers/auth.json`, else
/// `/run/containers/$UID/auth.json`. A `$XDG_RUNTIME_DIR` naming a missing
/// directory is an error: it is a typo, and writing elsewhere would hide it.
pub fn primary(authfile: Option<&Path>, env: &AuthEnv) -> Result<AuthPath, AuthError> {
    if let Some(p) = authfile {
        return Ok(AuthPath::new(p.to_path_buf()));
    }
    if let Some(dir) = &env.xdg_runtime_dir {
        if let Err(e) = std::fs::metadata(dir) {
            if e.kind() == std::io::ErrorKind::NotFound {
                return Err(AuthError::RuntimeDir { dir: dir.clone() });
            }
        }
        return Ok(AuthPath::new(dir.join("containers/auth.json")));
    }
    Ok(AuthPath::new(PathBuf::from(format!(
        "/run/containers/{}/auth.json",
        env.uid
    ))))
}

/// Every file read, in order (`getAuthFilePaths`). A user-chosen file is the
/// only one read; otherwise the primary file is followed by
/// `$XDG_CONFIG_HOME/containers/auth.json`, Docker's `config.json`
/// (`$DOCKER_CONFIG` or `~/.docker`) and the legacy `~/.dockercfg`.
pub fn read_order(authfile: Option<&Path>, env: &AuthEnv) -> Vec<AuthPath> {
    let mut paths = Vec::new();
    match primary(authfile, env) {
        Ok(p) => paths.push(p),
        // As upstream: a public image must still be pullable.
        Err(e) => {
            tracing::warn!(
                "{}: Trying to pull image in the event that it is a public image.",
                crate::chain::one_line(&e)
            )
        }
    }
    if authfile.is_some() {
        return paths;
    }
    let home = env.home();
    let config_home = env
        .xdg_config_home
        .clone()
        .unwrap_or_else(|| home.join(".config"));
    paths.push(AuthPath::new(config_home.join("containers/auth.json")));
    paths.push(AuthPath::new(match &env.docker_config {
        Some(d) => d.join("config.json"),
        None => home.join(".docker/config.json"),
    }));
    paths.push(AuthPath {
        path: home.join(".dockercfg"),
        legacy: true,
    });
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(home: &str) -> AuthEnv {
        AuthEnv {
            home: Some(home.into()),
            uid: 1234,
            ..Default::default()
        }
    }

    fn names(v: &[AuthPath]) -> Vec<(String, bool)> {
        v.iter()
            .map(|p| (p.path.display().to_string(), p.legacy))
            .collect()
    }

    #[test]
    fn order_without_xdg_runtime_dir_falls_back_to_run_containers_uid() {
        let got = names(&read_order(None, &env("/h")));
        assert_eq!(
            got,
            [
                ("/run/containers/1234/auth.json".into(), false),
                ("/h/.config/containers/auth.json".into(), false),
                ("/h/.docker/config.json".into(), false),
                ("/h/.dockercfg".into(), true),
            ]
        );
        let root = AuthEnv {
            uid: 0,
            ..env("/root")
        };
        assert_eq!(
            primary(None, &root).unwrap().path,
            Path::new("/run/containers/0/auth.json")
        );
    }

    #[test]
    fn order_with_xdg_dirs_and_docker_config() {
        let dir = tempfile::tempdir().unwrap();
        let e = AuthEnv {
            xdg_runtime_dir: Some(dir.path().into()),
            xdg_config_home: Some("/cfg".into()),
            docker_config: Some("/dc".into()),
            ..env("/h")
        };
        let got = names(&read_order(None, &e));
        assert_eq!(
            got,
            [
                (
                    dir.path()
                        .join("containers/auth.json")
                        .display()
                        .to_string(),
                    false
                ),
                ("/cfg/containers/auth.json".into(), false),
                ("/dc/config.json".into(), false),
                ("/h/.dockercfg".into(), true),
            ]
        );
    }

    #[test]
    fn authfile_is_the_only_file_and_missing_runtime_dir_is_skipped_or_refused() {
        let got = names(&read_order(Some(Path::new("/a.json")), &env("/h")));
        assert_eq!(got, [("/a.json".into(), false)]);
        let e = AuthEnv {
            xdg_runtime_dir: Some("/nonexistent-vouch-runtime".into()),
            ..env("/h")
        };
        let err = primary(None, &e).unwrap_err().to_string();
        assert!(err.contains("/nonexistent-vouch-runtime"), "{err}");
        // Reading goes on with the other files.
        assert_eq!(
            read_order(None, &e)[0].path,
            Path::new("/h/.config/containers/auth.json")
        );
    }
}

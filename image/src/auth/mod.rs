//! Registry credentials: `--creds user:pass`, containers-auth.json files and
//! the credential helpers they name, looked up, written and removed exactly
//! as containers/image's `pkg/docker/config` does (docs/login.md has the
//! table), so vouch, podman and skopeo share one login.

mod check;
mod edit;
mod file;
mod helper;
mod paths;

use std::path::{Path, PathBuf};

pub use check::{check_auth, CheckError, LoginTarget};
pub use edit::{parse_key, remove, remove_all, set, validate_key};
pub use helper::validate_name as validate_helper_name;
pub use paths::{primary as write_path, read_order, AuthEnv, AuthPath};

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Anonymous,
    Basic { user: String, password: String },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => write!(f, "Anonymous"),
            Credentials::Basic { user, .. } => write!(f, "Basic({user}, ***)"),
        }
    }
}

/// Why credentials could not be had.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("--creds must be USER:PASSWORD")]
    CredsFormat,
    #[error("reading auth file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("auth file {path} is not valid containers-auth.json")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("auth file {path}: entry {key:?} has an invalid \"auth\" value")]
    Entry { path: PathBuf, key: String },
    #[error("auth file {path} is larger than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{dir:?} directory set by $XDG_RUNTIME_DIR does not exist. Either create the directory or unset $XDG_RUNTIME_DIR.")]
    RuntimeDir { dir: PathBuf },
    #[error("auth file {path}: credential helper {helper:?} for {registry}: {detail}")]
    Helper {
        path: PathBuf,
        helper: String,
        registry: String,
        detail: String,
    },
    #[error("{source_desc} holds an identity token (an OAuth2 refresh token), which vouch cannot use; log in with a username and password instead")]
    IdentityToken { source_desc: String },
    #[error("key {key}: {why}")]
    Key { key: String, why: &'static str },
    #[error("namespaced key {key} is not supported for credential helper {helper}")]
    NamespacedHelper { key: String, helper: String },
    #[error("writing auth file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Parses `--creds USER:PASSWORD` (the password may contain `:`).
pub fn parse_creds(s: &str) -> Result<Credentials, AuthError> {
    match s.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok(Credentials::Basic {
            user: user.into(),
            password: password.into(),
        }),
        _ => Err(AuthError::CredsFormat),
    }
}

/// Where stored credentials came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File { path: PathBuf, key: String },
    Helper { path: PathBuf, helper: String },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File { path, key } => write!(f, "auth file {} entry {key:?}", path.display()),
            Source::Helper { path, helper } => write!(
                f,
                "credential helper docker-credential-{helper} named in {}",
                path.display()
            ),
        }
    }
}

/// Credentials as stored: a password, or an identity token (an OAuth2
/// refresh token that containers/image trades for a bearer token).
#[derive(Clone, PartialEq, Eq)]
pub struct Stored {
    pub user: String,
    pub password: String,
    pub identity_token: String,
    pub source: Source,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stored({}, ***, from {})", self.user, self.source)
    }
}

/// The registry part of a key (`host[:port]` before the first `/`).
pub fn key_registry(key: &str) -> &str {
    key.split('/').next().unwrap_or(key)
}

/// containers/image's `GetCredentials` with the default helper list (auth
/// files only): the first file holding something for `key` wins; an
/// unreadable file or a failing helper is an error, never anonymous.
pub fn get_credentials(
    env: &AuthEnv,
    authfile: Option<&Path>,
    key: &str,
) -> Result<Option<Stored>, AuthError> {
    edit::validate_key(key)?;
    let registry = key_registry(key);
    for path in paths::read_order(authfile, env) {
        match file::find(&path, key, registry)? {
            file::Found::Nothing => {}
            file::Found::Entry { key: k, decoded } => {
                if decoded.user.is_empty()
                    && decoded.password.is_empty()
                    && decoded.identity_token.is_empty()
                {
                    continue;
                }
                return Ok(Some(Stored {
                    user: decoded.user,
                    password: decoded.password,
                    identity_token: decoded.identity_token,
                    source: Source::File {
                        path: path.path,
                        key: k,
                    },
                }));
            }
            file::Found::Helper(name) => {
                match helper::get(env, &name, registry)
                    .map_err(|d| helper::error(&path.path, &name, registry, d))?
                {
                    None => {}
                    Some((user, secret)) => {
                        let source = Source::Helper {
                            path: path.path,
                            helper: name,
                        };
                        return Ok(Some(if user == helper::TOKEN_USER {
                            Stored {
                                user: String::new(),
                                password: String::new(),
                                identity_token: secret,
                                source,
                            }
                        } else {
                            Stored {
                                user,
                                password: secret,
                                identity_token: String::new(),
                                source,
                            }
                        }));
                    }
                }
            }
        }
    }
    Ok(None)
}

/// `--authfile` must name an existing file (podman's `CheckAuthFile`).
pub fn check_authfile(authfile: Option<&Path>) -> Result<(), AuthError> {
    match authfile {
        Some(p) => std::fs::metadata(p)
            .map(|_| ())
            .map_err(|source| AuthError::Read {
                path: p.into(),
                source,
            }),
        None => Ok(()),
    }
}

/// Resolves the credentials for `registry/repository` in this process's
/// environment: `--creds` wins, then `--authfile` (which must exist) alone,
/// then the default files ([`resolve_in`]).
pub fn resolve(
    creds: Option<&str>,
    authfile: Option<&Path>,
    registry: &str,
    repository: &str,
) -> Result<Credentials, AuthError> {
    resolve_in(
        creds,
        authfile,
        registry,
        repository,
        &AuthEnv::from_process(),
    )
}

/// [`resolve`] in an explicit environment.
pub fn resolve_in(
    creds: Option<&str>,
    authfile: Option<&Path>,
    registry: &str,
    repository: &str,
    env: &AuthEnv,
) -> Result<Credentials, AuthError> {
    if let Some(c) = creds {
        return parse_creds(c);
    }
    check_authfile(authfile)?;
    let key = format!("{registry}/{repository}");
    match get_credentials(env, authfile, &key)? {
        None => Ok(Credentials::Anonymous),
        Some(s) if !s.identity_token.is_empty() => Err(AuthError::IdentityToken {
            source_desc: s.source.to_string(),
        }),
        Some(s) => Ok(Credentials::Basic {
            user: s.user,
            password: s.password,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creds_split_at_first_colon() {
        assert_eq!(
            parse_creds("u:p:w").unwrap(),
            Credentials::Basic {
                user: "u".into(),
                password: "p:w".into()
            }
        );
        assert!(parse_creds("nouser").is_err());
        assert!(parse_creds(":pw").is_err());
    }

    fn enc(s: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn home_env(dir: &Path) -> AuthEnv {
        AuthEnv {
            home: Some(dir.join("home")),
            xdg_runtime_dir: Some(dir.join("run")),
            uid: 4321,
            ..Default::default()
        }
    }

    fn write(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn files_are_read_in_order_and_the_first_with_an_entry_wins() {
        let dir = tempfile::tempdir().unwrap();
        let env = home_env(dir.path());
        let entry = |k: &str, c: &str| format!(r#"{{"auths":{{"{k}":{{"auth":"{}"}}}}}}"#, enc(c));
        write(
            &dir.path().join("home/.dockercfg"),
            &format!(
                r#"{{"https://index.docker.io/v1/":{{"auth":"{}"}}}}"#,
                enc("legacy:1")
            ),
        );
        let hub =
            |env: &AuthEnv| resolve_in(None, None, "docker.io", "library/alpine", env).unwrap();
        assert_eq!(hub(&env), parse_creds("legacy:1").unwrap());
        write(
            &dir.path().join("home/.docker/config.json"),
            &entry("https://index.docker.io/v1/", "docker:2"),
        );
        assert_eq!(hub(&env), parse_creds("docker:2").unwrap());
        write(
            &dir.path().join("home/.config/containers/auth.json"),
            &entry("docker.io", "config:3"),
        );
        assert_eq!(hub(&env), parse_creds("config:3").unwrap());
        write(
            &dir.path().join("run/containers/auth.json"),
            &entry("docker.io/library", "run:4"),
        );
        assert_eq!(hub(&env), parse_creds("run:4").unwrap());
        // --authfile is read alone, and must exist.
        let af = dir.path().join("af.json");
        assert!(resolve_in(None, Some(&af), "docker.io", "library/alpine", &env).is_err());
        write(&af, "{}");
        assert_eq!(
            resolve_in(None, Some(&af), "docker.io", "library/alpine", &env).unwrap(),
            Credentials::Anonymous
        );
        assert_eq!(
            resolve_in(Some("c:5"), Some(&af), "docker.io", "x", &env).unwrap(),
            parse_creds("c:5").unwrap()
        );
    }

    #[test]
    fn identity_tokens_and_bad_helpers_fail_closed() {
        let dir = tempfile::tempdir().unwrap();
        let env = home_env(dir.path());
        let af = dir.path().join("af.json");
        write(
            &af,
            &format!(
                r#"{{"auths":{{"r:1":{{"auth":"{}","identitytoken":"tok"}}}}}}"#,
                enc("u:")
            ),
        );
        let err = resolve_in(None, Some(&af), "r:1", "x", &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("identity token") && err.contains("af.json"),
            "{err}"
        );
        write(&af, r#"{"credHelpers":{"r:1":"../../bin/sh"}}"#);
        let err = resolve_in(None, Some(&af), "r:1", "x", &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("af.json") && err.contains("plain name"),
            "{err}"
        );
        write(&af, r#"{"credHelpers":{"r:1":"vouch-no-such-helper"}}"#);
        let err = resolve_in(None, Some(&af), "r:1", "x", &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("docker-credential-vouch-no-such-helper"),
            "{err}"
        );
    }
}

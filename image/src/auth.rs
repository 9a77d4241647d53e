//! Registry credentials: `--creds user:pass` and containers-auth.json files,
//! looked up the way podman does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

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
    #[error("reading auth file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("auth file {path} is not valid containers-auth.json: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("auth file {path}: entry {key:?} has an invalid \"auth\" value")]
    Entry { path: PathBuf, key: String },
}

#[derive(Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
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

/// The auth files podman consults, in order, when `--authfile` is not given.
pub fn default_auth_files() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE") {
        v.push(PathBuf::from(p));
        return v;
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        v.push(Path::new(&d).join("containers/auth.json"));
    }
    if let Some(h) = std::env::var_os("HOME") {
        v.push(Path::new(&h).join(".config/containers/auth.json"));
        v.push(Path::new(&h).join(".docker/config.json"));
    }
    v
}

/// Looks `registry/repository` up in an auth file, most specific key first
/// (`host/ns/repo`, `host/ns`, `host`), as containers/image does.
///
/// A missing file yields `None` so the next file is tried; a malformed one is
/// an error, never silently anonymous.
pub fn lookup(
    path: &Path,
    registry: &str,
    repository: &str,
) -> Result<Option<Credentials>, AuthError> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(AuthError::Read {
                path: path.into(),
                source,
            })
        }
    };
    let file: AuthFile = serde_json::from_slice(&text).map_err(|source| AuthError::Json {
        path: path.into(),
        source,
    })?;
    let full = format!("{registry}/{repository}");
    let mut key = full.as_str();
    loop {
        for candidate in [
            key.to_string(),
            format!("https://{key}"),
            format!("http://{key}"),
        ] {
            if let Some(entry) = file.auths.get(&candidate) {
                return decode(path, &candidate, entry).map(Some);
            }
        }
        match key.rfind('/') {
            Some(i) => key = &key[..i],
            None => return Ok(None),
        }
    }
}

fn decode(path: &Path, key: &str, entry: &AuthEntry) -> Result<Credentials, AuthError> {
    let bad = || AuthError::Entry {
        path: path.into(),
        key: key.into(),
    };
    let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) else {
        return Ok(Credentials::Anonymous);
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|_| bad())?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    parse_creds(&s).map_err(|_| bad())
}

/// Resolves the credentials for a registry from the flags: `--creds` wins,
/// then `--authfile` (which must exist), then podman's default files.
pub fn resolve(
    creds: Option<&str>,
    authfile: Option<&Path>,
    registry: &str,
    repository: &str,
) -> Result<Credentials, AuthError> {
    if let Some(c) = creds {
        return parse_creds(c);
    }
    if let Some(p) = authfile {
        if !p.exists() {
            return Err(AuthError::Read {
                path: p.into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        return Ok(lookup(p, registry, repository)?.unwrap_or(Credentials::Anonymous));
    }
    for p in default_auth_files() {
        if let Some(c) = lookup(&p, registry, repository)? {
            return Ok(c);
        }
    }
    Ok(Credentials::Anonymous)
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

    #[test]
    fn auth_file_most_specific_key_wins() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.json");
        let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        std::fs::write(
            &p,
            format!(
                r#"{{"auths":{{"r:5000":{{"auth":"{}"}},"r:5000/ns":{{"auth":"{}"}}}}}}"#,
                enc("a:1"),
                enc("b:2")
            ),
        )
        .unwrap();
        let got = lookup(&p, "r:5000", "ns/repo").unwrap().unwrap();
        assert_eq!(got, parse_creds("b:2").unwrap());
        let got = lookup(&p, "r:5000", "other").unwrap().unwrap();
        assert_eq!(got, parse_creds("a:1").unwrap());
        assert!(lookup(&p, "elsewhere", "x").unwrap().is_none());
        std::fs::write(&p, "{").unwrap();
        assert!(lookup(&p, "r:5000", "x").is_err());
        assert!(resolve(None, Some(&dir.path().join("missing")), "r", "x").is_err());
    }
}

//! Writing credentials (`login`) and removing them (`logout`), as
//! containers/image's `SetCredentials`, `RemoveAuthentication` and
//! `RemoveAllAuthentication` do: the primary auth file only, rewritten
//! whole through a temp file and a rename, mode 0600, in a 0700 directory.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::Path;

use base64::Engine as _;

use super::file::{self, Contents, Entry};
use super::paths::{self, AuthEnv, AuthPath};
use super::{helper, AuthError};

/// `validateKey`: `registry[/namespace…]` without a scheme, tag or digest;
/// `Ok(true)` if namespaced.
pub fn validate_key(key: &str) -> Result<bool, AuthError> {
    let bad = |why| AuthError::Key {
        key: key.into(),
        why,
    };
    if key.starts_with("http://") || key.starts_with("https://") {
        return Err(bad("contains http[s]:// prefix"));
    }
    if key.contains('@') {
        return Err(bad("contains a '@' character"));
    }
    match key.split_once('/') {
        Some((_, rest)) if rest.contains(':') => {
            Err(bad("contains a ':' character after host[:port]"))
        }
        Some(_) => Ok(true),
        None => Ok(false),
    }
}

/// podman's `parseCredentialsKey` with repositories accepted: a URL becomes
/// its `host[:port]`; returns `(key, registry)`.
pub fn parse_key(arg: &str) -> Result<(String, String), AuthError> {
    let key = match arg
        .strip_prefix("https://")
        .or_else(|| arg.strip_prefix("http://"))
    {
        Some(rest) => rest.split(['/', '?', '#']).next().unwrap_or("").to_string(),
        None => arg.to_string(),
    };
    let registry = super::key_registry(&key).to_string();
    let bad = |why| AuthError::Key {
        key: key.clone(),
        why,
    };
    if registry.is_empty() {
        return Err(bad("names no registry"));
    }
    if registry != key {
        validate_key(&key)?;
        // A first component that is not a host would make the reference
        // resolve to docker.io, not to that "registry".
        if !(registry.contains('.') || registry.contains(':') || registry == "localhost") {
            return Err(bad("does not start with a registry host"));
        }
        if key.ends_with('/') || key.contains("//") || key.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad("is not a valid repository name"));
        }
    }
    Ok((key, registry))
}

fn write_err(path: &Path) -> impl Fn(std::io::Error) -> AuthError + '_ {
    move |source| AuthError::Write {
        path: path.into(),
        source,
    }
}

/// `modifyJSON`: read the primary file, let `edit` change it, and write it
/// back if `edit` says so. Returns the file's path.
fn modify(
    env: &AuthEnv,
    authfile: Option<&Path>,
    edit: impl FnOnce(&Path, &mut Contents) -> Result<bool, AuthError>,
) -> Result<AuthPath, AuthError> {
    let path = paths::primary(authfile, env)?;
    let dir = path
        .path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(write_err(dir))?;
    let mut contents = file::parse(&path)?;
    if edit(&path.path, &mut contents)? {
        let text = file::serialize(&contents);
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(write_err(&path.path))?;
        tmp.write_all(text.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .and_then(|()| {
                tmp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(0o600))
            })
            .map_err(write_err(&path.path))?;
        tmp.persist(&path.path)
            .map_err(|e| write_err(&path.path)(e.error))?;
    }
    Ok(path)
}

/// Stores `user:password` for `key`; returns where, for `login -v`.
pub fn set(
    env: &AuthEnv,
    authfile: Option<&Path>,
    key: &str,
    user: &str,
    password: &str,
) -> Result<String, AuthError> {
    let namespaced = validate_key(key)?;
    let mut desc = None;
    let path = modify(env, authfile, |file, c| {
        if let Some(h) = c.cred_helpers.get(key) {
            if namespaced {
                return Err(AuthError::NamespacedHelper {
                    key: key.into(),
                    helper: h.clone(),
                });
            }
            helper::store(env, h, key, user, password)
                .map_err(|d| helper::error(file, h, key, d))?;
            desc = Some(format!("credential helper: {h}"));
            return Ok(false);
        }
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        c.auths.insert(
            key.into(),
            Entry {
                auth,
                ..Default::default()
            },
        );
        Ok(true)
    })?;
    Ok(desc.unwrap_or_else(|| path.path.display().to_string()))
}

/// Removes `key`'s entry (and its helper's copy); `Ok(false)` if there was
/// none (podman then says "not logged into").
pub fn remove(env: &AuthEnv, authfile: Option<&Path>, key: &str) -> Result<bool, AuthError> {
    let namespaced = validate_key(key)?;
    let mut logged_in = false;
    modify(env, authfile, |file, c| {
        if let Some(h) = c.cred_helpers.get(key) {
            if !namespaced {
                logged_in |=
                    helper::erase(env, h, key).map_err(|d| helper::error(file, h, key, d))?;
            }
        }
        logged_in |= c.auths.remove(key).is_some();
        Ok(true)
    })?;
    Ok(logged_in)
}

/// Empties the primary file, erasing what its helpers hold first.
pub fn remove_all(env: &AuthEnv, authfile: Option<&Path>) -> Result<(), AuthError> {
    modify(env, authfile, |file, c| {
        for (registry, h) in &c.cred_helpers {
            helper::erase(env, h, registry).map_err(|d| helper::error(file, h, registry, d))?;
        }
        *c = Contents::default();
        Ok(true)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    #[test]
    fn keys_are_validated_and_urls_cut_to_their_host() {
        assert!(!validate_key("r:5000").unwrap());
        assert!(validate_key("r:5000/ns/repo").unwrap());
        assert!(validate_key("r:5000/repo:tag").is_err());
        assert!(validate_key("r/repo@sha256:00").is_err());
        assert!(validate_key("https://r").is_err());
        assert_eq!(
            parse_key("https://r:5000/v2/").unwrap(),
            ("r:5000".into(), "r:5000".into())
        );
        assert_eq!(
            parse_key("quay.io/ns/repo").unwrap(),
            ("quay.io/ns/repo".into(), "quay.io".into())
        );
        assert!(parse_key("notahost/repo").is_err());
        assert!(parse_key("quay.io/repo:tag").is_err());
    }

    #[test]
    fn a_credhelpers_entry_stores_and_erases_through_the_helper() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        // Shell builtins only: $PATH holds nothing but this directory.
        let script = dir.path().join("docker-credential-rec");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nread -r line\nprintf '%s:%s\n' \"$1\" \"$line\" >> {log}\n",
                log = log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = AuthEnv {
            path: Some(dir.path().as_os_str().to_owned()),
            ..Default::default()
        };
        let af = dir.path().join("auth.json");
        std::fs::write(&af, r#"{"credHelpers":{"r:1":"rec"}}"#).unwrap();
        assert_eq!(
            set(&env, Some(&af), "r:1", "u", "p").unwrap(),
            "credential helper: rec"
        );
        // Nothing was written to the file itself.
        assert_eq!(
            std::fs::read_to_string(&af).unwrap(),
            r#"{"credHelpers":{"r:1":"rec"}}"#
        );
        assert!(remove(&env, Some(&af), "r:1").unwrap());
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "store:{\"ServerURL\":\"r:1\",\"Username\":\"u\",\"Secret\":\"p\"}\nerase:r:1\n"
        );
        // Helpers are per registry: a namespace key goes to the file, as upstream.
        set(&env, Some(&af), "r:1/ns", "u", "p").unwrap();
        let text = std::fs::read_to_string(&af).unwrap();
        assert!(
            text.contains("\"r:1/ns\"") && text.contains("\"credHelpers\""),
            "{text}"
        );
    }

    #[test]
    fn set_and_remove_keep_other_entries_and_write_0600() {
        let dir = tempfile::tempdir().unwrap();
        let af = dir.path().join("sub/auth.json");
        let env = AuthEnv::default();
        set(&env, Some(&af), "a:1", "u", "p").unwrap();
        set(&env, Some(&af), "b:2/ns", "v", "q").unwrap();
        let text = std::fs::read_to_string(&af).unwrap();
        assert_eq!(
            text,
            "{\n\t\"auths\": {\n\t\t\"a:1\": {\n\t\t\t\"auth\": \"dTpw\"\n\t\t},\n\t\t\"b:2/ns\": {\n\t\t\t\"auth\": \"djpx\"\n\t\t}\n\t}\n}"
        );
        assert_eq!(std::fs::metadata(&af).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(af.parent().unwrap()).unwrap().mode() & 0o777,
            0o700
        );
        assert!(remove(&env, Some(&af), "a:1").unwrap());
        assert!(!remove(&env, Some(&af), "a:1").unwrap());
        assert!(std::fs::read_to_string(&af).unwrap().contains("b:2/ns"));
        remove_all(&env, Some(&af)).unwrap();
        assert_eq!(
            std::fs::read_to_string(&af).unwrap(),
            "{\n\t\"auths\": {}\n}"
        );
        // A malformed file is refused, never replaced.
        std::fs::write(&af, "{").unwrap();
        assert!(set(&env, Some(&af), "a:1", "u", "p").is_err());
        assert_eq!(std::fs::read_to_string(&af).unwrap(), "{");
    }
}

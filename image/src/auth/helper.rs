//! Docker credential helpers (`credHelpers` in an auth file): the program
//! `docker-credential-NAME`, found on `$PATH`, speaking the
//! docker-credential-helpers protocol (`get`/`store`/`erase`, the request
//! on stdin, JSON on stdout), as containers/image calls them.

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::paths::AuthEnv;
use super::AuthError;

/// A helper's reply is one small JSON object.
const MAX_REPLY_BYTES: u64 = 1 << 20;

/// The message helpers print when they hold nothing for a registry.
const NOT_FOUND: &str = "credentials not found in native keychain";

/// Username helpers use to return an identity token instead of a password.
pub const TOKEN_USER: &str = "<token>";

#[derive(Deserialize, Serialize)]
struct HelperCreds {
    #[serde(rename = "ServerURL", default)]
    server_url: String,
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// A helper name from a file names a program on `$PATH`, never a path: a
/// `/` would let an auth file run any program on the machine.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty credential helper name".into());
    }
    if name.contains('/') || name.contains('\0') {
        return Err(format!(
            "credential helper name {name:?} must be a plain name (docker-credential-NAME on $PATH), not a path"
        ));
    }
    Ok(())
}

fn program(name: &str) -> String {
    format!("docker-credential-{name}")
}

/// Runs `docker-credential-NAME ACTION` with `input` on stdin; `Ok(None)`
/// for "credentials not found".
fn run(env: &AuthEnv, name: &str, action: &str, input: &[u8]) -> Result<Option<Vec<u8>>, String> {
    validate_name(name)?;
    let prog = program(name);
    let mut cmd = Command::new(&prog);
    cmd.arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(p) = &env.path {
        cmd.env("PATH", p);
    }
    let mut child = cmd.spawn().map_err(|e| format!("running {prog}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its exit status.
        let _ = stdin.write_all(input);
    }
    let mut out = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        stdout
            .take(MAX_REPLY_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("reading from {prog}: {e}"))?;
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for {prog}: {e}"))?;
    if out.len() as u64 > MAX_REPLY_BYTES {
        return Err(format!(
            "{prog} {action}: reply larger than {MAX_REPLY_BYTES} bytes"
        ));
    }
    if status.success() {
        return Ok(Some(out));
    }
    let said = String::from_utf8_lossy(&out).trim().to_string();
    if said == NOT_FOUND {
        return Ok(None);
    }
    Err(format!("{prog} {action} failed ({status}): {said}"))
}

/// `get`: the username and secret stored for `registry`, if any.
pub fn get(env: &AuthEnv, name: &str, registry: &str) -> Result<Option<(String, String)>, String> {
    let Some(out) = run(env, name, "get", registry.as_bytes())? else {
        return Ok(None);
    };
    let c: HelperCreds = serde_json::from_slice(&out)
        .map_err(|e| format!("{} get: reply is not credentials JSON: {e}", program(name)))?;
    Ok(Some((c.username, c.secret)))
}

/// `store`: saves a username and password for `registry`.
pub fn store(
    env: &AuthEnv,
    name: &str,
    registry: &str,
    user: &str,
    password: &str,
) -> Result<(), String> {
    let body = serde_json::to_vec(&HelperCreds {
        server_url: registry.into(),
        username: user.into(),
        secret: password.into(),
    })
    .map_err(|e| e.to_string())?;
    run(env, name, "store", &body).map(|_| ())
}

/// `erase`: `Ok(false)` if the helper held nothing for `registry`.
pub fn erase(env: &AuthEnv, name: &str, registry: &str) -> Result<bool, String> {
    run(env, name, "erase", registry.as_bytes()).map(|o| o.is_some())
}

/// Wraps a helper failure with the file that named it.
pub fn error(file: &std::path::Path, name: &str, registry: &str, detail: String) -> AuthError {
    AuthError::Helper {
        path: file.into(),
        helper: name.into(),
        registry: registry.into(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn names_must_be_plain() {
        assert!(validate_name("gcloud").is_ok());
        assert!(validate_name("ecr-login").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("../../bin/sh").is_err());
        assert!(validate_name("/bin/sh").is_err());
        let e = AuthEnv::default();
        let err = get(&e, "../x", "r").unwrap_err();
        assert!(err.contains("plain name"), "{err}");
    }

    #[test]
    fn get_speaks_the_helper_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("docker-credential-fake");
        // Echoes the registry it was asked about as the username; says
        // "not found" for one registry and fails for another.
        std::fs::write(
            &script,
            "#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread -r reg\ncase \"$reg\" in\n none) echo 'credentials not found in native keychain'; exit 1;;\n bad) echo 'boom' ; exit 1;;\nesac\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"u-%s\",\"Secret\":\"s\"}' \"$reg\" \"$reg\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = AuthEnv {
            path: Some(dir.path().as_os_str().to_owned()),
            ..Default::default()
        };
        assert_eq!(
            get(&env, "fake", "r:5000").unwrap(),
            Some(("u-r:5000".into(), "s".into()))
        );
        assert_eq!(get(&env, "fake", "none").unwrap(), None);
        let err = get(&env, "fake", "bad").unwrap_err();
        assert!(
            err.contains("docker-credential-fake get failed") && err.contains("boom"),
            "{err}"
        );
        let err = get(&env, "missing", "r").unwrap_err();
        assert!(err.contains("docker-credential-missing"), "{err}");
    }
}

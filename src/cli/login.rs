//! `vouch login` and `vouch logout`: podman 4.3's commands (containers/common
//! `pkg/auth`), messages included; the files and lookup live in
//! `vouch_image::auth`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _};
use clap::Args;
use vouch_image::auth::{self, AuthEnv, CheckError, LoginTarget};

use super::common::{self, Global};

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Path of the authentication file (default: ${XDG_RUNTIME_DIR}/containers/auth.json).
    #[arg(long, env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Use certificates at the specified path to access the registry (*.crt as CAs).
    #[arg(long = "cert-dir")]
    pub cert_dir: Option<PathBuf>,
    /// Password for registry.
    #[arg(short, long)]
    pub password: Option<String>,
    /// Username for registry.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Take the password from stdin.
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Return the current login user for the registry.
    #[arg(long = "get-login")]
    pub get_login: bool,
    /// Require HTTPS and verify certificates (`--tls-verify=false` for a plain-HTTP registry).
    #[arg(long = "tls-verify", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tls_verify: Option<bool>,
    /// Write more detailed information to stdout.
    #[arg(short, long)]
    pub verbose: bool,
    /// Registry (or registry/namespace) to log in to.
    pub registry: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// Path of the authentication file (default: ${XDG_RUNTIME_DIR}/containers/auth.json).
    #[arg(long, env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Remove the cached credentials for all registries in the auth file.
    #[arg(short, long)]
    pub all: bool,
    /// Registry (or registry/namespace) to log out of.
    pub registry: Option<String>,
}

fn check(
    target: &LoginTarget<'_>,
    user: &str,
    password: &str,
) -> anyhow::Result<Result<(), CheckError>> {
    Ok(common::runtime()?.block_on(auth::check_auth(target, user, password)))
}

pub fn login(_g: &Global, a: LoginArgs) -> anyhow::Result<ExitCode> {
    let Some(arg) = a.registry.as_deref() else {
        bail!("please provide a registry to login to");
    };
    let env = AuthEnv::from_process();
    let authfile = a.authfile.as_deref();
    let (key, registry) = auth::parse_key(arg)?;
    let target = LoginTarget {
        registry: &registry,
        tls_verify: a.tls_verify.unwrap_or(true),
        cert_dir: a.cert_dir.as_deref(),
    };
    let existing = auth::get_credentials(&env, authfile, &key).context("get credentials")?;
    let mut out = std::io::stdout();
    if a.get_login {
        match existing.as_ref().filter(|s| !s.user.is_empty()) {
            Some(s) => writeln!(out, "{}", s.user)?,
            None => bail!("not logged into {key}"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    if existing
        .as_ref()
        .is_some_and(|s| !s.identity_token.is_empty())
    {
        bail!("currently logged in, auth file contains an Identity token");
    }
    let mut password = a.password.clone().unwrap_or_default();
    if a.password_stdin {
        if !password.is_empty() {
            bail!("Can't specify both --password-stdin and --password");
        }
        if a.username.as_deref().unwrap_or("").is_empty() {
            bail!("Must provide --username with --password-stdin");
        }
        for line in std::io::stdin().lock().lines() {
            let line = line.context("reading password from stdin")?;
            password.push_str(line.strip_suffix('\r').unwrap_or(&line));
        }
    }
    let username = a.username.clone().unwrap_or_default();
    let old_user = existing
        .as_ref()
        .map(|s| s.user.clone())
        .unwrap_or_default();
    if username.is_empty() && password.is_empty() {
        if let Some(s) = existing
            .as_ref()
            .filter(|s| !s.user.is_empty() && !s.password.is_empty())
        {
            writeln!(out, "Authenticating with existing credentials for {key}")?;
            if check(&target, &s.user, &s.password)?.is_ok() {
                writeln!(
                    out,
                    "Existing credentials are valid. Already logged in to {registry}"
                )?;
                return Ok(ExitCode::SUCCESS);
            }
            writeln!(
                out,
                "Existing credentials are invalid, please enter valid username and password"
            )?;
        }
    }
    let (username, password) =
        prompt(username, password, &old_user).context("getting username and password")?;
    match check(&target, &username, &password)? {
        Ok(()) => {
            let desc = auth::set(&env, authfile, &key, &username, &password)?;
            if a.verbose {
                writeln!(out, "Used:  {desc}")?;
            }
            writeln!(out, "Login Succeeded!")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(CheckError::Unauthorized) => {
            Err(anyhow!("logging into \"{key}\": invalid username/password"))
        }
        Err(e) => Err(anyhow!("authenticating creds for \"{key}\": {e}")),
    }
}

/// podman's `getUserAndPass`: ask for what the flags did not give, on a
/// terminal only; an empty username answer keeps the stored one.
fn prompt(username: String, password: String, old_user: &str) -> anyhow::Result<(String, String)> {
    if (username.is_empty() || password.is_empty()) && !std::io::stdin().is_terminal() {
        bail!("standard input is not a terminal; give --username and --password (or --password-stdin)");
    }
    let mut user = username;
    if user.is_empty() {
        let mut out = std::io::stdout();
        if old_user.is_empty() {
            write!(out, "Username: ")?;
        } else {
            write!(out, "Username ({old_user}): ")?;
        }
        out.flush()?;
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading username")?;
        user = if line.trim().is_empty() {
            old_user.to_string()
        } else {
            line
        };
    }
    let password = if password.is_empty() {
        super::passphrase_prompt::read_hidden("Password: ").context("reading password")?
    } else {
        password
    };
    Ok((user.trim().to_string(), password))
}

pub fn logout(_g: &Global, a: LogoutArgs) -> anyhow::Result<ExitCode> {
    let env = AuthEnv::from_process();
    let authfile = a.authfile.as_deref();
    auth::check_authfile(authfile).context("checking authfile")?;
    let mut out = std::io::stdout();
    if a.all {
        if a.registry.is_some() {
            bail!("--all takes no arguments");
        }
        auth::remove_all(&env, authfile)?;
        writeln!(out, "Removed login credentials for all registries")?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(arg) = a.registry.as_deref() else {
        bail!("please provide a registry to logout from");
    };
    let (key, registry) = auth::parse_key(arg)?;
    if auth::remove(&env, authfile, &key).with_context(|| format!("logging out of \"{key}\""))? {
        writeln!(out, "Removed login credentials for {key}")?;
        return Ok(ExitCode::SUCCESS);
    }
    // Credentials from another file (Docker's) still work: say so, as podman.
    let existing = auth::get_credentials(&env, authfile, &key).context("get credentials")?;
    if let Some(s) = existing.filter(|s| !s.user.is_empty() && !s.password.is_empty()) {
        let target = LoginTarget {
            registry: &registry,
            tls_verify: true,
            cert_dir: None,
        };
        if check(&target, &s.user, &s.password)?.is_ok() {
            writeln!(out, "Not logged into {key} with current tool. Existing credentials were established via docker login. Please use docker logout instead.")?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    bail!("not logged into {key}")
}

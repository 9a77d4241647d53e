//! Whether a registry accepts a username and password (containers/image's
//! `docker.CheckAuth`, what `login` runs before writing anything): ping
//! `/v2/`, answer its challenge (Basic, or a Bearer token fetched with the
//! credentials), and read the verdict from the status.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;

use crate::referrers::http::{parse_bearer_challenge, read_capped};

/// A token endpoint's reply is a few kilobytes.
const MAX_REPLY_BYTES: u64 = 1 << 20;

/// The registry `login` talks to and how.
pub struct LoginTarget<'a> {
    pub registry: &'a str,
    /// `false`: plain HTTP, as `--tls-verify=false` means in vouch.
    pub tls_verify: bool,
    /// `--cert-dir`: every `*.crt` in it is trusted as a CA.
    pub cert_dir: Option<&'a Path>,
}

/// Why the check did not pass.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The registry refused these credentials.
    #[error("invalid username/password")]
    Unauthorized,
    #[error("{0}")]
    Other(String),
}

fn client(t: &LoginTarget<'_>) -> Result<reqwest::Client, CheckError> {
    let mut b = reqwest::Client::builder()
        .danger_accept_invalid_certs(!t.tls_verify)
        .redirect(reqwest::redirect::Policy::limited(10))
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(120))
        .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")));
    if t.tls_verify {
        let roots = crate::certs::roots_for(t.registry, t.cert_dir)
            .map_err(|e| CheckError::Other(crate::chain::one_line(&e)))?;
        for pem in roots {
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| CheckError::Other(format!("{}: {e}", t.registry)))?;
            b = b.add_root_certificate(cert);
        }
    }
    b.build()
        .map_err(|e| CheckError::Other(format!("setting up HTTP client: {e}")))
}

fn request_err(url: &str, e: reqwest::Error) -> CheckError {
    let mut msg = format!("pinging container registry {url}: {e}");
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    CheckError::Other(msg)
}

/// Checks `user:password` against the registry.
pub async fn check_auth(t: &LoginTarget<'_>, user: &str, password: &str) -> Result<(), CheckError> {
    let http = client(t)?;
    let scheme = if t.tls_verify { "https" } else { "http" };
    let url = format!("{scheme}://{}/v2/", t.registry);
    let ping = http
        .get(&url)
        .send()
        .await
        .map_err(|e| request_err(&url, e))?;
    match ping.status() {
        // No challenge: nothing to check, as upstream.
        StatusCode::OK => return Ok(()),
        StatusCode::UNAUTHORIZED => {}
        s => {
            return Err(CheckError::Other(format!(
                "pinging container registry {}: invalid status code from registry {}",
                t.registry,
                s.as_u16()
            )))
        }
    }
    let challenge = ping
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let verdict = match parse_bearer_challenge(&challenge) {
        None => http.get(&url).basic_auth(user, Some(password)).send().await,
        Some(c) => {
            let mut req = http.get(&c.realm).basic_auth(user, Some(password));
            if let Some(s) = &c.service {
                req = req.query(&[("service", s.as_str())]);
            }
            req = req.query(&[("account", user)]);
            let resp = req.send().await.map_err(|e| request_err(&c.realm, e))?;
            match resp.status() {
                StatusCode::OK => {}
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(CheckError::Unauthorized)
                }
                s => {
                    return Err(CheckError::Other(format!(
                        "token endpoint {} answered {}",
                        c.realm,
                        s.as_u16()
                    )))
                }
            }
            let reply = read_capped(&c.realm, resp, MAX_REPLY_BYTES)
                .await
                .map_err(|e| CheckError::Other(e.to_string()))?;
            let token = serde_json::from_slice::<serde_json::Value>(&reply.body)
                .ok()
                .and_then(|v| {
                    v.get("token")
                        .or_else(|| v.get("access_token"))
                        .and_then(|t| t.as_str())
                        .map(str::to_string)
                })
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    CheckError::Other(format!("token endpoint {} gave no token", c.realm))
                })?;
            http.get(&url).bearer_auth(token).send().await
        }
    };
    let resp = verdict.map_err(|e| request_err(&url, e))?;
    match resp.status() {
        StatusCode::OK => Ok(()),
        StatusCode::UNAUTHORIZED => Err(CheckError::Unauthorized),
        s => Err(CheckError::Other(format!(
            "{url}: invalid status code from registry {}",
            s.as_u16()
        ))),
    }
}

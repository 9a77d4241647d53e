//! The registry requests oci-client has no call for: listing referrers,
//! whose reply headers (`Link`, `OCI-Filters-Applied`) matter, and manifest
//! PUTs whose `OCI-Subject` reply says whether the registry indexes
//! referrers itself. oci-client's `pull_referrers` reads an unbounded body,
//! follows no pagination and hides the headers, so these go out here, with
//! [`Registry`]'s TLS and credential choices and every body capped before it
//! is buffered.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, StatusCode};

use crate::auth::Credentials;
use crate::reference::ImageRef;
use crate::registry::Registry;

/// A token endpoint's reply is a few kilobytes; more is not a token.
const MAX_TOKEN_BYTES: u64 = 1 << 20;

/// Why a request did not produce a reply to look at.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("request to {url} failed")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: the reply is larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: authentication required or refused (use --creds or --authfile)")]
    Unauthorized { url: String },
    #[error("{url}: the token endpoint {realm} gave no usable token")]
    Token { url: String, realm: String },
    #[error("cannot set up an HTTP client")]
    Client(#[source] reqwest::Error),
}

/// A reply whose body is fully read and within its cap.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of `name`, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of `name` that is text (a `Link` may come in several).
    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
}

/// One repository on one registry, spoken to directly.
pub struct RawClient {
    http: reqwest::Client,
    base: String,
    repo: String,
    basic: Option<(String, String)>,
    /// The token scope's actions: `pull`, `pull,push`, or `*` (a delete).
    actions: &'static str,
    bearer: Mutex<Option<String>>,
}

impl RawClient {
    /// A client for `image`'s repository; `push` asks tokens for push scope.
    pub fn new(registry: &Registry, image: &ImageRef, push: bool) -> Result<Self, HttpError> {
        Self::with_actions(registry, image, if push { "pull,push" } else { "pull" })
    }

    /// A client whose tokens ask for `actions`; containers/image deletes
    /// with `*`, the one string both distribution and quay.io accept.
    pub fn with_actions(
        registry: &Registry,
        image: &ImageRef,
        actions: &'static str,
    ) -> Result<Self, HttpError> {
        let (tls, creds, roots) = registry.raw_parts();
        let mut builder = reqwest::Client::builder();
        for pem in roots {
            builder = builder.add_root_certificate(
                reqwest::Certificate::from_pem(pem).map_err(HttpError::Client)?,
            );
        }
        let http = builder
            .danger_accept_invalid_certs(!tls)
            .redirect(reqwest::redirect::Policy::limited(10))
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(300))
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(HttpError::Client)?;
        let scheme = if tls { "https" } else { "http" };
        Ok(Self {
            http,
            base: format!("{scheme}://{}", image.as_oci().resolve_registry()),
            repo: image.repository().to_string(),
            basic: match creds {
                Credentials::Anonymous => None,
                Credentials::Basic { user, password } => Some((user.clone(), password.clone())),
            },
            actions,
            bearer: Mutex::new(None),
        })
    }

    /// `scheme://host` of the registry, for resolving relative `Link`s.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `<base>/v2/<repo>/<rest>`.
    pub fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{}", self.base, self.repo, rest)
    }

    pub async fn get(&self, url: &str, accept: &str, cap: u64) -> Result<Reply, HttpError> {
        self.send(Method::GET, url, &[(ACCEPT, accept)], None, cap)
            .await
    }

    pub async fn put(
        &self,
        url: &str,
        content_type: &str,
        body: Bytes,
        cap: u64,
    ) -> Result<Reply, HttpError> {
        self.send(
            Method::PUT,
            url,
            &[(CONTENT_TYPE, content_type)],
            Some(body),
            cap,
        )
        .await
    }

    pub async fn delete(&self, url: &str, accept: &str, cap: u64) -> Result<Reply, HttpError> {
        self.send(Method::DELETE, url, &[(ACCEPT, accept)], None, cap)
            .await
    }

    /// Sends once with what credentials we hold; on a Bearer challenge,
    /// fetches a token for this repository and sends once more.
    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(reqwest::header::HeaderName, &str)],
        body: Option<Bytes>,
        cap: u64,
    ) -> Result<Reply, HttpError> {
        let mut challenged = false;
        loop {
            let mut req = self.http.request(method.clone(), url);
            for (k, v) in headers {
                req = req.header(k, *v);
            }
            let bearer = self.bearer.lock().ok().and_then(|b| b.clone());
            req = match (&bearer, &self.basic) {
                (Some(t), _) => req.bearer_auth(t),
                (None, Some((u, p))) => req.basic_auth(u, Some(p)),
                (None, None) => req,
            };
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            let resp = req.send().await.map_err(|source| HttpError::Request {
                url: url.to_string(),
                source,
            })?;
            if resp.status() == StatusCode::UNAUTHORIZED && !challenged {
                let challenge = resp
                    .headers()
                    .get(reqwest::header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_bearer_challenge);
                if let Some(c) = challenge {
                    let token = self.token(url, &c).await?;
                    if let Ok(mut b) = self.bearer.lock() {
                        *b = Some(token);
                    }
                    challenged = true;
                    continue;
                }
            }
            if matches!(
                resp.status(),
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            ) {
                return Err(HttpError::Unauthorized {
                    url: url.to_string(),
                });
            }
            return read_capped(url, resp, cap).await;
        }
    }

    async fn token(&self, url: &str, c: &Challenge) -> Result<String, HttpError> {
        let scope = c
            .scope
            .clone()
            .unwrap_or_else(|| format!("repository:{}:{}", self.repo, self.actions));
        let sep = if c.realm.contains('?') { '&' } else { '?' };
        let mut token_url = format!("{}{sep}scope={}", c.realm, query_escape(&scope));
        if let Some(s) = &c.service {
            token_url.push_str(&format!("&service={}", query_escape(s)));
        }
        let mut req = self.http.get(&token_url);
        if let Some((u, p)) = &self.basic {
            req = req.basic_auth(u, Some(p));
        }
        let resp = req.send().await.map_err(|source| HttpError::Request {
            url: c.realm.clone(),
            source,
        })?;
        let no_token = || HttpError::Token {
            url: url.to_string(),
            realm: c.realm.clone(),
        };
        if !resp.status().is_success() {
            return Err(if resp.status() == StatusCode::UNAUTHORIZED {
                HttpError::Unauthorized {
                    url: url.to_string(),
                }
            } else {
                no_token()
            });
        }
        let reply = read_capped(&c.realm, resp, MAX_TOKEN_BYTES).await?;
        let v: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|_| no_token())?;
        v.get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(no_token)
    }
}

/// Reads `resp`'s body, refusing a declared or actual length over `cap`.
pub(crate) async fn read_capped(
    url: &str,
    mut resp: reqwest::Response,
    cap: u64,
) -> Result<Reply, HttpError> {
    let too_large = || HttpError::TooLarge {
        url: url.to_string(),
        limit: cap,
    };
    let declared = resp
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap) {
        return Err(too_large());
    }
    let status = resp.status();
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|source| HttpError::Request {
        url: url.to_string(),
        source,
    })? {
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// A `WWW-Authenticate: Bearer …` challenge (distribution's token auth).
#[derive(Debug, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
}

/// Parses `Bearer realm="…",service="…",scope="…"`; `None` for any other
/// scheme (Basic is already sent up front).
pub fn parse_bearer_challenge(h: &str) -> Option<Challenge> {
    let h = h.trim();
    let rest = h
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("bearer "))
        .and_then(|_| h.get(7..))?;
    let mut realm = None;
    let mut service = None;
    let mut scope = None;
    for (k, v) in auth_params(rest) {
        match k.to_ascii_lowercase().as_str() {
            "realm" => realm = Some(v),
            "service" => service = Some(v),
            "scope" => scope = Some(v),
            _ => {}
        }
    }
    Some(Challenge {
        realm: realm?,
        service,
        scope,
    })
}

/// `k="v", k2=v2` auth-params; quoted values may hold commas.
fn auth_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ','))
            .collect::<String>()
            .trim()
            .to_string();
        if key.is_empty() {
            return out;
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_string();
        }
        out.push((key, value));
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_distributions_challenge() {
        let c = parse_bearer_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull".into()),
            }
        );
        assert_eq!(parse_bearer_challenge(r#"Basic realm="x""#), None);
        assert_eq!(parse_bearer_challenge("Bearer service=x"), None);
        let c =
            parse_bearer_challenge(r#"bearer realm=https://a/t, scope="repository:x:pull,push""#)
                .unwrap();
        assert_eq!(c.realm, "https://a/t");
        assert_eq!(c.scope.as_deref(), Some("repository:x:pull,push"));
    }

    #[test]
    fn escapes_media_types_for_a_query() {
        assert_eq!(
            query_escape("application/vnd.dev.sigstore.bundle+json;version=0.3"),
            "application%2Fvnd.dev.sigstore.bundle%2Bjson%3Bversion%3D0.3"
        );
    }
}

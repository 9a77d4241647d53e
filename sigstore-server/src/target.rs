//! Request-target forms (RFC 9112 §3.2): only origin-form (`/path`) names a
//! file here, plus asterisk-form for `OPTIONS *`.
//!
//! hyper hands absolute-form (`GET http://host/…`) and authority-form
//! (`CONNECT host:443`, `GET host:80`) targets to the service with the path
//! split out, so without this check `GET http://evil/ns/app@…/signature-1`
//! was served as if it were the origin-form path: a proxy request answered
//! by a server that is no proxy, and a second spelling of every path for
//! caches and filters in front of it to disagree about. They are refused
//! before routing, whatever the method.

use axum::http::{Method, Uri};

/// Why a request target is refused (always a 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("absolute-form request target refused: send the path only")]
    AbsoluteForm,
    #[error("authority-form request target refused: this server is not a proxy")]
    AuthorityForm,
    #[error("asterisk-form request target is only for OPTIONS")]
    Asterisk,
}

/// Accepts origin-form targets, and `*` only with OPTIONS.
pub fn check(method: &Method, uri: &Uri) -> Result<(), TargetError> {
    if uri.scheme().is_some() {
        return Err(TargetError::AbsoluteForm);
    }
    if uri.authority().is_some() {
        return Err(TargetError::AuthorityForm);
    }
    if uri.path() == "*" && method != Method::OPTIONS {
        return Err(TargetError::Asterisk);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(method: &str, target: &str) -> Result<(), TargetError> {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        check(&m, &target.parse::<Uri>().unwrap())
    }

    #[test]
    fn only_origin_form_and_options_asterisk_pass() {
        use TargetError::*;
        for (m, t, want) in [
            ("GET", "/ns/app@sha256=ab/signature-1", Ok(())),
            ("GET", "/healthz?x=1", Ok(())),
            ("OPTIONS", "*", Ok(())),
            ("OPTIONS", "/healthz", Ok(())),
            (
                "GET",
                "http://x/ns/app@sha256=ab/signature-1",
                Err(AbsoluteForm),
            ),
            ("GET", "https://x/healthz", Err(AbsoluteForm)),
            (
                "POST",
                "http://x:8000/ns/app@sha256=ab/signatures",
                Err(AbsoluteForm),
            ),
            ("OPTIONS", "http://x/", Err(AbsoluteForm)),
            ("CONNECT", "x:443", Err(AuthorityForm)),
            ("GET", "x:80", Err(AuthorityForm)),
            ("GET", "localhost", Err(AuthorityForm)),
            ("GET", "*", Err(Asterisk)),
            ("HEAD", "*", Err(Asterisk)),
        ] {
            assert_eq!(judge(m, t), want, "{m} {t}");
        }
    }
}

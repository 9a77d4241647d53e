//! Where new and copied simple signatures of a registry image go: a
//! `file://` staging tree, or a sigstore-server taking `POST …/signatures`
//! (vouch's registries.d extension: containers/image refuses to write to
//! http(s) lookasides).

use vouch_verify::lookaside::{append_missing, append_signature, LookasideUrl, WriteError};

/// At most this much of a refusing server's body is read, and this many
/// characters of it are shown: the body is the server's, and may be
/// hostile or huge.
const ERROR_BODY_READ: usize = 4096;
const ERROR_BODY_SHOWN: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    #[error("storing signature under {base}")]
    Write {
        base: LookasideUrl,
        #[source]
        source: WriteError,
    },
    #[error("unexpected manifest digest {0}")]
    Digest(String),
    #[error("publishing signature to {url}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("publishing signature to {url}: {status}: {body}")]
    Refused {
        url: String,
        status: reqwest::StatusCode,
        body: String,
    },
}

pub enum Staging {
    File(LookasideUrl),
    Server { base: LookasideUrl, token: String },
}

impl Staging {
    /// Stores `sig` as the next free `signature-N`, never overwriting one.
    pub async fn store(&self, digest: &str, sig: Vec<u8>) -> Result<(), StagingError> {
        match self {
            Staging::File(base) => {
                append_signature(base, digest, &sig).map_err(|source| StagingError::Write {
                    base: base.clone(),
                    source,
                })?;
                Ok(())
            }
            Staging::Server { base, token } => publish(base, token, digest, sig).await,
        }
    }

    /// Stores those of `sigs` the staging lacks (a server is trusted to
    /// refuse nothing it already holds: each is published).
    pub async fn store_missing(
        &self,
        digest: &str,
        sigs: &[Vec<u8>],
    ) -> Result<usize, StagingError> {
        match self {
            Staging::File(base) => {
                let (added, _) =
                    append_missing(base, digest, sigs).map_err(|source| StagingError::Write {
                        base: base.clone(),
                        source,
                    })?;
                Ok(added)
            }
            Staging::Server { base, token } => {
                for s in sigs {
                    publish(base, token, digest, s.clone()).await?;
                }
                Ok(sigs.len())
            }
        }
    }
}

async fn publish(
    base: &LookasideUrl,
    token: &str,
    digest: &str,
    sig: Vec<u8>,
) -> Result<(), StagingError> {
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| StagingError::Digest(digest.to_string()))?;
    let url = format!("{base}@sha256={hex}/signatures");
    let resp = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token)
        .header("Content-Type", "application/octet-stream")
        .body(sig)
        .send()
        .await
        .map_err(|source| StagingError::Request {
            url: url.clone(),
            source,
        })?;
    let status = resp.status();
    if !status.is_success() {
        let body = error_body(resp).await;
        return Err(StagingError::Refused { url, status, body });
    }
    Ok(())
}

/// The first line's worth of a refusal body, for the error message.
async fn error_body(mut resp: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= ERROR_BODY_READ {
            body.truncate(ERROR_BODY_READ);
            break;
        }
    }
    truncate(String::from_utf8_lossy(&body).trim(), ERROR_BODY_SHOWN)
}

/// At most `max` characters of `text`, with `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", text.get(..at).unwrap_or(text)),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("ééé", 2), "éé…");
    }
}

//! Per-registry CA certificates, found as containers/image finds them:
//! an explicit `--cert-dir` (skopeo's `--src-cert-dir`, podman's
//! `--cert-dir`), else the first of `$HOME/.config/containers/certs.d/HOST`,
//! `/etc/containers/certs.d/HOST` and `/etc/docker/certs.d/HOST` that
//! exists. In it, every `*.crt` holds CAs trusted in addition to the
//! system's.
//!
//! Client certificates (`*.cert` with `*.key`) are refused, naming the
//! file: the registry clients here cannot present one, and connecting
//! without it would fail later with a less useful message.

use std::path::{Path, PathBuf};

/// A single certificate file larger than this is not a CA bundle.
pub const MAX_CRT_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {detail}", path.display())]
    Bad { path: PathBuf, detail: String },
}

/// The CA certificates (PEM, one certificate each) to trust for `host`
/// (`HOST[:PORT]`, as references spell it).
pub fn roots_for(host: &str, explicit: Option<&Path>) -> Result<Vec<Vec<u8>>, CertsError> {
    match explicit {
        Some(dir) => read_dir(dir),
        None => match implicit_dir(
            host,
            home().as_deref(),
            &["/etc/containers/certs.d", "/etc/docker/certs.d"],
        )? {
            Some(dir) => read_dir(&dir),
            None => Ok(Vec::new()),
        },
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// containers/image's `dockerCertDir`: the first candidate that exists; a
/// permission error skips a candidate, any other error fails.
fn implicit_dir(
    host: &str,
    home: Option<&Path>,
    system: &[&str],
) -> Result<Option<PathBuf>, CertsError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(h) = home {
        candidates.push(h.join(".config/containers/certs.d"));
    }
    candidates.extend(system.iter().map(PathBuf::from));
    for base in candidates {
        let dir = base.join(host);
        match std::fs::metadata(&dir) {
            Ok(_) => return Ok(Some(dir)),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                ) => {}
            Err(e) => {
                return Err(CertsError::Io {
                    path: dir,
                    source: e,
                })
            }
        }
    }
    Ok(None)
}

/// containers/image's `SetupCertificates`, for CAs: a missing directory
/// holds nothing; `*.crt` files are PEM bundles.
fn read_dir(dir: &Path) -> Result<Vec<Vec<u8>>, CertsError> {
    let io = |path: &Path, source| CertsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return Ok(Vec::new()),
        Err(e) => return Err(io(dir, e)),
    };
    let mut names = entries
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| io(dir, e))?;
    names.sort();
    let mut roots = Vec::new();
    for name in &names {
        let path = dir.join(name);
        if name.ends_with(".cert") || name.ends_with(".key") {
            return Err(CertsError::Bad {
                path,
                detail:
                    "client certificates are not supported (CA certificates use the extension .crt)"
                        .into(),
            });
        }
        if !name.ends_with(".crt") {
            continue;
        }
        let bytes = match read_capped(&path) {
            Ok(b) => b,
            // Removed between the listing and the read: upstream ignores it.
            Err(CertsError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                continue
            }
            Err(e) => return Err(e),
        };
        let blocks = pem::parse_many(&bytes).map_err(|e| CertsError::Bad {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let certs: Vec<_> = blocks
            .into_iter()
            .filter(|b| b.tag() == "CERTIFICATE")
            .collect();
        if certs.is_empty() {
            return Err(CertsError::Bad {
                path,
                detail: "no PEM certificate in the file".into(),
            });
        }
        roots.extend(certs.iter().map(|c| pem::encode(c).into_bytes()));
    }
    Ok(roots)
}

fn read_capped(path: &Path) -> Result<Vec<u8>, CertsError> {
    use std::io::Read;
    let io = |source| CertsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_CRT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_CRT_BYTES {
        return Err(CertsError::Bad {
            path: path.to_path_buf(),
            detail: format!("larger than {MAX_CRT_BYTES} bytes"),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str =
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZ2Vu\n-----END CERTIFICATE-----\n";

    #[test]
    fn the_first_existing_candidate_wins() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let sys1 = t.path().join("etc-containers");
        let sys2 = t.path().join("etc-docker");
        std::fs::create_dir_all(sys2.join("reg.example:5000")).unwrap();
        let system = [sys1.to_str().unwrap(), sys2.to_str().unwrap()];
        let got = implicit_dir("reg.example:5000", Some(&home), &system).unwrap();
        assert_eq!(got, Some(sys2.join("reg.example:5000")));
        std::fs::create_dir_all(home.join(".config/containers/certs.d/reg.example:5000")).unwrap();
        let got = implicit_dir("reg.example:5000", Some(&home), &system).unwrap();
        assert_eq!(
            got,
            Some(home.join(".config/containers/certs.d/reg.example:5000"))
        );
        assert_eq!(
            implicit_dir("other.example", Some(&home), &system).unwrap(),
            None
        );
    }

    #[test]
    fn crt_files_are_bundles_and_client_pairs_are_refused() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("ca.crt"), format!("{CERT}{CERT}")).unwrap();
        std::fs::write(t.path().join("README"), "not a cert").unwrap();
        assert_eq!(read_dir(t.path()).unwrap().len(), 2);
        std::fs::write(t.path().join("client.cert"), CERT).unwrap();
        let e = read_dir(t.path()).unwrap_err().to_string();
        assert!(
            e.contains("client.cert: client certificates are not supported"),
            "{e}"
        );
        assert!(read_dir(&t.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn a_crt_without_a_certificate_is_refused() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("ca.crt"), "garbage").unwrap();
        let e = read_dir(t.path()).unwrap_err().to_string();
        assert!(e.contains("ca.crt: no PEM certificate"), "{e}");
    }
}

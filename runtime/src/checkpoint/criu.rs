//! Finding CRIU and choosing its network lock.
//!
//! vouch drives CRIU through the OCI runtime (runc's global `--criu PATH`,
//! runc 1.1 `main.go`), so all it needs is a binary that is new enough:
//! `--criu PATH`, else `VOUCH_CRIU`, else `criu` on PATH. The version comes
//! from `criu --version` ("Version: 4.2.1"); CRIU older than 3.15 lacks what
//! runc's checkpoint needs (youki `container_criu.rs` CRIU_VERSION_MINIMUM =
//! 31500), and Debian 12's 3.17 cannot even dump on kernels ≥ 6.x
//! (runtime-notes §0), which `criu check` reports and a failed dump shows.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::CheckpointError;
use crate::tools::{is_exec, on_path};

/// The oldest CRIU vouch accepts (major*10000 + minor*100 + patch).
pub const MIN_VERSION: u32 = 31500;

/// A usable CRIU binary.
#[derive(Clone, Debug)]
pub struct Criu {
    pub path: PathBuf,
    pub version: u32,
}

/// `4.2.1` → 40201.
pub fn parse_version(out: &str) -> Option<u32> {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("Version:"))?;
    let v = line.split(':').nth(1)?.trim();
    let mut it = v.split(['.', '-']).map(|p| p.parse::<u32>().ok());
    let major = it.next()??;
    let minor = it.next().flatten().unwrap_or(0);
    let patch = it.next().flatten().unwrap_or(0);
    Some(major * 10000 + minor * 100 + patch)
}

pub fn version_string(v: u32) -> String {
    format!("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100)
}

/// Finds CRIU (`explicit`, then `VOUCH_CRIU`, then PATH) and checks its
/// version. Runs `criu --version` (a few ms), never `criu check`.
pub fn locate(explicit: Option<&Path>) -> Result<Criu, CheckpointError> {
    let want = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("VOUCH_CRIU").map(PathBuf::from));
    let path = match &want {
        Some(p) if p.components().count() > 1 => Some(p.clone()).filter(|p| is_exec(p)),
        Some(p) => on_path(&p.to_string_lossy()),
        None => on_path("criu"),
    };
    let shown = want.clone().unwrap_or_else(|| PathBuf::from("criu"));
    let Some(path) = path else {
        return Err(CheckpointError::CriuMissing { path: shown });
    };
    if let Some(v) = cached_version(&path) {
        return check_version(path, v);
    }
    let out =
        Command::new(&path)
            .arg("--version")
            .output()
            .map_err(|e| CheckpointError::CriuBroken {
                path: path.clone(),
                detail: e.to_string(),
            })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = parse_version(&text).ok_or_else(|| CheckpointError::CriuBroken {
        path: path.clone(),
        detail: format!("`criu --version` printed {:?}", text.trim()),
    })?;
    store_version(&path, version);
    check_version(path, version)
}

fn check_version(path: PathBuf, version: u32) -> Result<Criu, CheckpointError> {
    if version < MIN_VERSION {
        return Err(CheckpointError::CriuTooOld {
            path,
            found: version_string(version),
            min: version_string(MIN_VERSION),
        });
    }
    Ok(Criu { path, version })
}

/// `criu --version` costs a process start (through the loader wrapper here,
/// ~20 ms); its answer is cached per binary (path, size, mtime, inode) in
/// /run, which a reboot or a new binary invalidates.
const CACHE_DIR: &str = "/run/vouch/criu-version";

fn cache_key(path: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let m = path.metadata().ok()?;
    let mut h: u64 = 0xcbf29ce484222325;
    for b in path
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .chain(&m.ino().to_le_bytes())
        .chain(&m.size().to_le_bytes())
        .chain(&m.mtime_nsec().to_le_bytes())
        .chain(&m.mtime().to_le_bytes())
    {
        h = (h ^ *b as u64).wrapping_mul(0x100000001b3);
    }
    Some(Path::new(CACHE_DIR).join(format!("{h:016x}")))
}

fn cached_version(path: &Path) -> Option<u32> {
    std::fs::read_to_string(cache_key(path)?)
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn store_version(path: &Path, v: u32) {
    if let Some(k) = cache_key(path) {
        let _ = std::fs::create_dir_all(CACHE_DIR);
        let _ = crate::state::write_atomic(&k, v.to_string().as_bytes());
    }
}

/// CRIU's network lock defaults to iptables; on a host whose firewall is
/// nftables (no `iptables-restore`, or the nf_tables flavour of it) vouch
/// asks for `nftables` (runtime-notes §4.3). `VOUCH_CRIU_NETWORK_LOCK`
/// overrides (iptables, nftables, skip).
pub fn network_lock() -> String {
    if let Ok(v) = std::env::var("VOUCH_CRIU_NETWORK_LOCK") {
        if ["iptables", "nftables", "skip"].contains(&v.as_str()) {
            return v;
        }
    }
    let Some(ipt) = on_path("iptables-restore") else {
        return "nftables".into();
    };
    // Debian's alternatives name the flavour: …/xtables-nft-multi or
    // …/xtables-legacy-multi; only an unnamed one needs asking.
    if let Ok(real) = std::fs::canonicalize(&ipt) {
        let n = real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if n.contains("nft") {
            return if on_path("nft").is_some() {
                "nftables".into()
            } else {
                "iptables".into()
            };
        }
        if n.contains("legacy") {
            return "iptables".into();
        }
    }
    let nft_flavour = Command::new(ipt)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("nf_tables"))
        .unwrap_or(false);
    if nft_flavour && on_path("nft").is_some() {
        "nftables".into()
    } else {
        "iptables".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("Version: 4.2.1\n"), Some(40201));
        assert_eq!(parse_version("Version: 3.17\nGitID: x\n"), Some(31700));
        assert_eq!(parse_version("nonsense"), None);
        assert_eq!(version_string(31500), "3.15.0");
    }

    #[test]
    fn missing_criu_is_named() {
        let e = locate(Some(Path::new("/nonexistent/criu"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/criu"), "{e}");
        assert!(e.to_string().contains("not found"), "{e}");
    }
}

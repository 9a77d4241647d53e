//! The OCI runtime bundle's `config.json`, generated as podman generates it
//! for a rootful container (runtime-tools generator defaults +
//! podman pkg/specgen/generate/oci_linux.go; runtime-notes §2.2): namespaces,
//! the standard mounts, masked and read-only paths, capabilities, seccomp
//! and rlimits clamped to what this host permits.
//!
//! The document is assembled as JSON and parsed into `oci_spec::runtime::Spec`,
//! so every field is checked against the OCI types before runc sees it.

/// Why a bundle's spec cannot be made or written.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("image has no layers")]
    NoLayers,
    #[error("path {0:?} cannot be used in overlay options")]
    OverlayPath(PathBuf),
    #[error("{0} layers do not fit in one overlay mount")]
    TooManyLayers(usize),
    /// A bug in [`generate`], not bad input: the document it built is not a spec.
    #[error("generated spec")]
    Generated(#[source] serde_json::Error),
    /// The bundle's spec read back to add binds (podman archives).
    #[error("{path}")]
    Read {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0}: no mounts")]
    NoMounts(PathBuf),
    #[error("{path}")]
    Save {
        path: PathBuf,
        #[source]
        source: oci_spec::OciSpecError,
    },
}

use std::path::PathBuf;

use oci_spec::runtime::Spec;
use serde_json::{json, Value};

use crate::defaults::{MASKED_PATHS, READONLY_PATHS, RLIMIT_DEFAULT};
use crate::error::Result;
use crate::seccomp;

/// Everything a container's spec depends on.
#[derive(Clone, Debug)]
pub struct SpecInput {
    pub id: String,
    pub hostname: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub terminal: bool,
    pub read_only: bool,
    pub caps: Vec<String>,
    /// Path of a prepared network namespace; None with `Some(false)` in
    /// `new_netns` means a fresh empty one (`--network none`).
    pub netns_path: Option<PathBuf>,
    /// false for `--network host`.
    pub new_netns: bool,
    pub memory: Option<i64>,
    pub pids_limit: Option<i64>,
    /// Files bind-mounted over /etc/hosts, /etc/hostname, /etc/resolv.conf.
    pub etc_files: Vec<(String, PathBuf)>,
    /// Current (soft, hard) limits of RLIMIT_NOFILE and RLIMIT_NPROC.
    pub nofile_limit: (u64, u64),
    pub nproc_limit: (u64, u64),
    pub cgroups_path: String,
    pub kernel: (u32, u32),
    /// (rows, columns) the pty starts with, so a program that asks for the
    /// size before the monitor could set it (a shell's first prompt) gets
    /// the user's terminal, not 0x0.
    pub console_size: Option<(u16, u16)>,
}

/// podman's rlimit rule: 1048576 unless that exceeds the hard limit, which
/// only CAP_SYS_RESOURCE may raise (absent here; runtime-notes §0.6).
pub fn clamp_rlimit(hard: u64) -> u64 {
    RLIMIT_DEFAULT.min(hard)
}

/// Builds the spec for `i`.
pub fn generate(i: &SpecInput) -> Result<Spec> {
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if i.new_netns {
        match &i.netns_path {
            Some(p) => namespaces.push(json!({"type": "network", "path": p})),
            None => namespaces.push(json!({"type": "network"})),
        }
    }
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
    ];
    if !i.new_netns {
        // sysfs cannot be mounted fresh without a new netns (runc refuses):
        // podman bind-mounts the host's instead, read-only.
        mounts[4] = json!({"destination": "/sys", "type": "bind", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
    }
    for (dest, src) in &i.etc_files {
        mounts.push(json!({"destination": dest, "type": "bind", "source": src, "options": ["bind", "rprivate"]}));
    }
    let caps = &i.caps;
    // podman security_linux.go: a root user gets bounding = effective =
    // permitted; non-root users keep only the bounding set.
    let (eff, inh_amb): (Vec<String>, Vec<String>) = if i.uid == 0 {
        (caps.clone(), vec![])
    } else {
        (vec![], vec![])
    };
    let nofile = clamp_rlimit(i.nofile_limit.1);
    let nproc = clamp_rlimit(i.nproc_limit.1);
    let mut resources = json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "pids": {"limit": i.pids_limit.unwrap_or(crate::defaults::PIDS_LIMIT)},
    });
    if let Some(m) = i.memory {
        resources["memory"] = json!({"limit": m, "swap": m * 2});
    }
    let mut env = i.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, crate::defaults::DEFAULT_PATH.to_string());
    }
    for (k, v) in [
        ("container", "vouch".to_string()),
        ("HOSTNAME", i.hostname.clone()),
    ] {
        if !env.iter().any(|e| e.starts_with(&format!("{k}="))) {
            env.push(format!("{k}={v}"));
        }
    }
    if i.terminal && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let doc = json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": i.terminal,
            "user": {"uid": i.uid, "gid": i.gid, "additionalGids": i.additional_gids, "umask": 0o022},
            "args": i.args,
            "env": env,
            "cwd": i.cwd,
            "capabilities": {
                "bounding": caps, "effective": eff, "permitted": if i.uid == 0 { caps.clone() } else { vec![] },
                "inheritable": inh_amb, "ambient": [],
            },
            "rlimits": [
                {"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile},
                {"type": "RLIMIT_NPROC", "hard": nproc, "soft": nproc},
            ],
            "noNewPrivileges": true,
        },
        "root": {"path": "rootfs", "readonly": i.read_only},
        "hostname": i.hostname,
        "mounts": mounts,
        "linux": {
            "namespaces": namespaces,
            "maskedPaths": masked_paths(),
            "readonlyPaths": READONLY_PATHS,
            "seccomp": seccomp::oci_profile(caps, i.kernel)?,
            "resources": resources,
            "cgroupsPath": i.cgroups_path,
        },
    });
    let mut doc = doc;
    if let Some((rows, cols)) = i.console_size.filter(|_| i.terminal) {
        doc["process"]["consoleSize"] = json!({"height": rows, "width": cols});
    }
    Ok(serde_json::from_value::<Spec>(doc).map_err(SpecError::Generated)?)
}

/// The masked list plus the host's `cpu*/thermal_throttle` glob, expanded
/// as podman does (config_linux.go).
fn masked_paths() -> Vec<Value> {
    let mut out: Vec<Value> = MASKED_PATHS.iter().map(|p| json!(p)).collect();
    if let Ok(rd) = std::fs::read_dir("/sys/devices/system/cpu") {
        let mut extra: Vec<String> = rd
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("cpu"))
            .map(|e| e.path().join("thermal_throttle"))
            .filter(|p| p.exists())
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        extra.sort();
        out.extend(extra.into_iter().map(Value::String));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{Capability, LinuxNamespaceType, PosixRlimitType};

    fn input() -> SpecInput {
        SpecInput {
            id: "a".repeat(64),
            hostname: "aaaaaaaaaaaa".into(),
            args: vec!["/bin/httpd".into(), "-f".into()],
            env: vec!["FOO=bar".into()],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            terminal: false,
            read_only: false,
            caps: crate::defaults::capabilities(&[], &[]).unwrap(),
            netns_path: Some("/run/netns/vouch-x".into()),
            new_netns: true,
            memory: None,
            pids_limit: None,
            etc_files: vec![],
            nofile_limit: (1024, 20000),
            nproc_limit: (1024, u64::MAX),
            cgroups_path: "/vouch/a".into(),
            kernel: (6, 18),
            console_size: None,
        }
    }

    #[test]
    fn namespaces_follow_the_network_mode() {
        let s = generate(&input()).unwrap();
        let ns = s.linux().as_ref().unwrap().namespaces().as_ref().unwrap();
        let types: Vec<_> = ns.iter().map(|n| n.typ()).collect();
        for t in [
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::Ipc,
            LinuxNamespaceType::Uts,
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Network,
        ] {
            assert!(types.contains(&t), "{t:?} missing");
        }
        let net = ns
            .iter()
            .find(|n| n.typ() == LinuxNamespaceType::Network)
            .unwrap();
        assert_eq!(
            net.path().as_deref(),
            Some(std::path::Path::new("/run/netns/vouch-x"))
        );
        let mut host = input();
        host.new_netns = false;
        let s = generate(&host).unwrap();
        let ns = s.linux().as_ref().unwrap().namespaces().as_ref().unwrap();
        assert!(!ns.iter().any(|n| n.typ() == LinuxNamespaceType::Network));
        let sys = s
            .mounts()
            .as_ref()
            .unwrap()
            .iter()
            .find(|m| m.destination().to_str() == Some("/sys"))
            .unwrap();
        assert_eq!(sys.typ().as_deref(), Some("bind"));
    }

    #[test]
    fn standard_mounts_masks_and_readonly_paths() {
        let s = generate(&input()).unwrap();
        let mounts = s.mounts().as_ref().unwrap();
        let dests: Vec<_> = mounts
            .iter()
            .map(|m| m.destination().to_string_lossy().into_owned())
            .collect();
        for d in [
            "/proc",
            "/dev",
            "/dev/pts",
            "/dev/shm",
            "/dev/mqueue",
            "/sys",
        ] {
            assert!(dests.contains(&d.to_string()), "{d}");
        }
        let sys = mounts
            .iter()
            .find(|m| m.destination().to_str() == Some("/sys"))
            .unwrap();
        assert!(sys.options().as_ref().unwrap().contains(&"ro".to_string()));
        let linux = s.linux().as_ref().unwrap();
        let masked = linux.masked_paths().as_ref().unwrap();
        assert!(masked.contains(&"/proc/kcore".to_string()));
        assert!(linux
            .readonly_paths()
            .as_ref()
            .unwrap()
            .contains(&"/proc/sys".to_string()));
        assert!(linux.seccomp().is_some());
        assert_eq!(s.hostname().as_deref(), Some("aaaaaaaaaaaa"));
    }

    #[test]
    fn caps_nnp_and_env() {
        let s = generate(&input()).unwrap();
        let p = s.process().as_ref().unwrap();
        assert_eq!(p.no_new_privileges(), Some(true));
        let c = p.capabilities().as_ref().unwrap();
        assert_eq!(c.bounding().as_ref().unwrap().len(), 11);
        assert!(c.effective().as_ref().unwrap().contains(&Capability::Chown));
        assert!(!c
            .bounding()
            .as_ref()
            .unwrap()
            .contains(&Capability::SysAdmin));
        assert!(c.ambient().as_ref().unwrap().is_empty());
        let env = p.env().as_ref().unwrap();
        assert!(env[0].starts_with("PATH="));
        assert!(env.contains(&"FOO=bar".to_string()));
        assert!(env.contains(&"HOSTNAME=aaaaaaaaaaaa".to_string()));
    }

    #[test]
    fn rlimits_never_exceed_the_hard_limit() {
        let s = generate(&input()).unwrap();
        let rl = s.process().as_ref().unwrap().rlimits().as_ref().unwrap();
        let nofile = rl
            .iter()
            .find(|r| r.typ() == PosixRlimitType::RlimitNofile)
            .unwrap();
        assert_eq!((nofile.soft(), nofile.hard()), (20000, 20000));
        let nproc = rl
            .iter()
            .find(|r| r.typ() == PosixRlimitType::RlimitNproc)
            .unwrap();
        assert_eq!(nproc.hard(), RLIMIT_DEFAULT);
    }

    #[test]
    fn resources_carry_limits() {
        let mut i = input();
        i.memory = Some(64 << 20);
        i.pids_limit = Some(10);
        let s = generate(&i).unwrap();
        let r = s.linux().as_ref().unwrap().resources().as_ref().unwrap();
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(64 << 20));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 10);
    }
}

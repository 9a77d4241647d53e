//! The rootful defaults of upstream podman / containers-common, as data with
//! provenance (runtime-notes §2.3). The Debian 4.3.1 peer differs (14 caps,
//! an older masked list); those tables are kept too so tests comparing with
//! the peer can say which table they use.

/// containers/common pkg/config/default.go:DefaultCapabilities (upstream, 11).
pub const CAPS_UPSTREAM: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// Debian 12 podman 4.3.1 (observed spec.dump): the upstream 11 plus these.
pub const CAPS_DEBIAN_PEER_EXTRA: &[&str] = &["CAP_AUDIT_WRITE", "CAP_MKNOD", "CAP_NET_RAW"];

/// podman pkg/specgen/generate config_linux.go getMaskedPaths (upstream);
/// the cpu*/thermal_throttle glob is expanded on the host at spec time.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/proc/interrupts",
];

/// Identical upstream and in the Debian peer.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// podman's default PATH for containers whose image sets none
/// (containers/common pkg/config/default.go).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// podman libpod/define/config.go:RLimitDefaultValue, clamped to the
/// current hard limit where we lack CAP_SYS_RESOURCE.
pub const RLIMIT_DEFAULT: u64 = 1_048_576;

/// podman's default `pids_limit` (containers.conf).
pub const PIDS_LIMIT: i64 = 2048;

/// Every capability name runc 1.1 knows, for validating --cap-add.
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Normalises `net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` to the last form.
pub fn normalize_cap(c: &str) -> Option<String> {
    let up = c.trim().to_ascii_uppercase();
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    (full == "CAP_ALL" || ALL_CAPS.contains(&full.as_str())).then_some(full)
}

/// The capability set for `--cap-add`/`--cap-drop` (podman's order: start
/// from the defaults, add, then drop; `all` works in both).
pub fn capabilities(add: &[String], drop: &[String]) -> Result<Vec<String>, String> {
    let mut set: Vec<String> = CAPS_UPSTREAM.iter().map(|s| s.to_string()).collect();
    for a in add {
        let c = normalize_cap(a).ok_or_else(|| format!("unknown capability {a:?}"))?;
        if c == "CAP_ALL" {
            set = ALL_CAPS.iter().map(|s| s.to_string()).collect();
        } else if !set.contains(&c) {
            set.push(c);
        }
    }
    for d in drop {
        let c = normalize_cap(d).ok_or_else(|| format!("unknown capability {d:?}"))?;
        if c == "CAP_ALL" {
            set.clear();
        } else {
            set.retain(|x| *x != c);
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_add_drop_like_podman() {
        assert_eq!(capabilities(&[], &[]).unwrap().len(), 11);
        let s = capabilities(&["net_admin".into()], &["CAP_CHOWN".into()]).unwrap();
        assert!(s.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!s.contains(&"CAP_CHOWN".to_string()));
        assert!(capabilities(&[], &["all".into()]).unwrap().is_empty());
        assert!(capabilities(&["bogus".into()], &[]).is_err());
    }
}

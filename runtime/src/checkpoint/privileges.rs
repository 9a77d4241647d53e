//! What a checkpoint archive may grant the restored container. An archive
//! is hostile input, so `restore -i` gives it only what `vouch run IMAGE`
//! gives by default; anything more needs `--grant-archive-privileges`, and
//! is then listed on stderr.
//!
//! The saved [`ContainerConfig`], field by field:
//! * `runtime`: never taken; vouch's own lookup (`runc` on PATH), as `vouch
//!   run` without `--runtime`.
//! * `cap_add` / `cap_drop`: capabilities beyond the default set are a grant.
//! * `network`: `host` (the host's network namespace) is a grant; `bridge`
//!   is the default, `none` is less.
//! * `ports`: publishing host ports is a grant, unless `-p` says which.
//! * `user`: a user other than the image's is a grant, unless the image
//!   runs as root anyway.
//! * `lower_dirs`, `image_id`: replaced from this store's image; `bridge`
//!   from this host's network config; `ip`/`mac` are an address on vouch's
//!   own bridge, leased as any container's (a taken one is refused).
//! * `id`, `name`: checked when read; `read_only`, `memory`, `pids_limit`,
//!   `auto_remove`, `tty`, `interactive`, `stop_signal`, `env`, `command`,
//!   `working_dir`, `hostname`, `created`: they restrict or describe the
//!   container, and grant nothing.
//! * Devices, mounts and volumes, seccomp, AppArmor, sysctls, rlimits and
//!   namespaces are not in the config at all: the bundle is generated from
//!   vouch's defaults as for `vouch run`, and `spec.dump` is never used for
//!   them.

use crate::defaults::capabilities;
use crate::state::{ContainerConfig, NetworkMode};

/// Whether a user spec (`""`, `root`, `0`, `0:0`, `root:root`) means root.
fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or("");
    matches!(name, "" | "root" | "0")
}

/// What `cfg` (from an archive, after `-p`) grants beyond `vouch run`'s
/// defaults for an image whose configured user is `image_user`: one line
/// per privilege, empty if none. Err for a capability vouch does not know.
pub fn beyond_default(cfg: &ContainerConfig, image_user: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let default = capabilities(&[], &[])?;
    let caps = capabilities(&cfg.cap_add, &cfg.cap_drop)
        .map_err(|e| format!("config.dump: field `vouch.cap_add`: {e}"))?;
    let extra: Vec<&str> = caps
        .iter()
        .filter(|c| !default.contains(c))
        .map(String::as_str)
        .collect();
    if !extra.is_empty() {
        out.push(format!("capabilities {}", extra.join(",")));
    }
    if cfg.network == NetworkMode::Host {
        out.push("the host's network namespace (--network host)".into());
    }
    if !cfg.ports.is_empty() {
        let p: Vec<String> = cfg
            .ports
            .iter()
            .map(|p| {
                let ip = p.host_ip.map(|i| format!("{i}:")).unwrap_or_default();
                let (h, c, proto) = (p.host_port, p.container_port, p.protocol.as_str());
                format!("{ip}{h}:{c}/{proto}")
            })
            .collect();
        out.push(format!("host ports {}", p.join(",")));
    }
    if cfg.user != image_user && !is_root(image_user) {
        out.push(format!(
            "user {:?} (the image runs as {image_user:?})",
            cfg.user
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ContainerConfig {
        serde_json::from_value(serde_json::json!({
            "id": "a".repeat(64), "name": "a", "image_name": "i", "image_id": "1".repeat(64), "created": "",
            "command": ["sh"], "env": [], "working_dir": "/", "user": "", "hostname": "h",
            "tty": false, "interactive": false, "auto_remove": false, "network": "bridge",
            "ports": [], "runtime": "runc", "read_only": false, "stop_signal": 15,
            "lower_dirs": []
        }))
        .unwrap()
    }

    #[test]
    fn defaults_grant_nothing() {
        let mut c = cfg();
        assert!(beyond_default(&c, "").unwrap().is_empty());
        c.cap_add = vec!["CAP_CHOWN".into()]; // already in the default set
        c.cap_drop = vec!["CAP_KILL".into()];
        c.network = NetworkMode::None;
        c.user = "nobody".into();
        assert!(beyond_default(&c, "").unwrap().is_empty());
    }

    #[test]
    fn each_privilege_is_named() {
        let mut c = cfg();
        c.cap_add = vec!["sys_admin".into()];
        c.network = NetworkMode::Host;
        c.user = "0:0".into();
        let g = beyond_default(&c, "nobody").unwrap();
        assert_eq!(
            g,
            [
                "capabilities CAP_SYS_ADMIN",
                "the host's network namespace (--network host)",
                "user \"0:0\" (the image runs as \"nobody\")"
            ]
        );
        c.cap_add = vec!["CAP_BOGUS".into()];
        assert!(beyond_default(&c, "").is_err());
    }
}

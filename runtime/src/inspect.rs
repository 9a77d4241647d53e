//! Podman-shaped views of a container: the `inspect` document and the
//! `ps --format json` entries, with podman's field names so scripts that
//! read podman's output read vouch's.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::error::Result;
use crate::state::{ContainerConfig, ContainerDir, State, Status};
use crate::Engine;

/// One container with its effective state.
pub struct Entry {
    pub dir: ContainerDir,
    pub cfg: ContainerConfig,
    pub state: State,
}

impl Engine {
    /// Every container, newest first, with states merged from exit files.
    pub fn list(&self) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        for id in self.ids()? {
            let dir = self.dir(&id);
            let Ok(cfg) = dir.read_config() else { continue };
            let Ok(state) = self.effective_state(&dir, &self.host.proc) else {
                continue;
            };
            out.push(Entry { dir, cfg, state });
        }
        out.sort_by(|a, b| b.cfg.created.cmp(&a.cfg.created));
        Ok(out)
    }
}

fn ports_map(cfg: &ContainerConfig) -> Value {
    let mut m: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for p in &cfg.ports {
        m.entry(p.key()).or_default().push(json!({
            "HostIp": p.host_ip.map(|i| i.to_string()).unwrap_or_default(),
            "HostPort": p.host_port.to_string(),
        }));
    }
    json!(m)
}

/// podman's "Up 3 seconds" / "Exited (0) 2 minutes ago" / "Created".
pub fn status_text(s: &State, now: chrono::DateTime<chrono::FixedOffset>) -> String {
    let ago = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| human((now - t).num_seconds()))
            .unwrap_or_else(|| "unknown".into())
    };
    match s.status {
        Some(Status::Running) => format!("Up {}", ago(&s.started_at)),
        Some(Status::Stopping) => "Stopping".into(),
        Some(Status::Exited) => format!(
            "Exited ({}) {} ago",
            s.exit_code.unwrap_or(-1),
            ago(&s.finished_at)
        ),
        Some(Status::Created) | None => "Created".into(),
    }
}

/// go-units HumanDuration, as podman prints it.
pub fn human(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        60..=119 => "About a minute".into(),
        120..=3599 => format!("{} minutes", s / 60),
        3600..=7199 => "About an hour".into(),
        7200..=172_799 => format!("{} hours", s / 3600),
        _ => format!("{} days", s / 86400),
    }
}

pub fn ps_json(e: &Entry) -> Value {
    let c = &e.cfg;
    let s = &e.state;
    let ports: Vec<Value> = c
        .ports
        .iter()
        .map(|p| json!({"host_ip": p.host_ip.map(|i| i.to_string()).unwrap_or_default(), "container_port": p.container_port, "host_port": p.host_port, "range": 1, "protocol": p.protocol.as_str()}))
        .collect();
    json!({
        "Id": c.id, "Names": [c.name], "Image": c.image_name, "ImageID": c.image_id,
        "Command": c.command, "Created": c.created, "CreatedAt": c.created,
        "State": s.status.map(|s| s.as_str()).unwrap_or("created"),
        "Status": status_text(s, chrono::Local::now().fixed_offset()),
        "Exited": s.status == Some(Status::Exited), "ExitCode": s.exit_code.unwrap_or(0),
        "ExitedAt": s.finished_at, "StartedAt": s.started_at,
        "Pid": s.pid.unwrap_or(0), "Ports": ports, "AutoRemove": c.auto_remove,
        "Networks": if c.network == crate::state::NetworkMode::Bridge { json!([c.bridge.clone().unwrap_or_default()]) } else { json!([]) },
    })
}

pub fn inspect_json(e: &Entry, spec: Option<Value>) -> Value {
    let c = &e.cfg;
    let s = &e.state;
    let running = s.status == Some(Status::Running);
    let net = crate::net::NetConfig::from_env().ok();
    let (gateway, prefix) = match (&c.ip, &net) {
        (Some(_), Some(n)) => (n.subnet.gateway().to_string(), n.subnet.len as u32),
        _ => (String::new(), 0),
    };
    let ip = c.ip.map(|ip| ip.to_string()).unwrap_or_default();
    let mut networks = json!({});
    if c.network == crate::state::NetworkMode::Bridge {
        networks[c.bridge.clone().unwrap_or_default()] =
            json!({"IPAddress": ip, "Gateway": gateway, "IPPrefixLen": prefix});
    }
    json!({
        "Id": c.id,
        "Created": c.created,
        "Path": c.command.first().cloned().unwrap_or_default(),
        "Args": c.command.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": s.status.map(|s| s.as_str()).unwrap_or("created"),
            "Running": running, "Paused": false, "Restarting": false, "OOMKilled": false, "Dead": false,
            "Pid": s.pid.unwrap_or(0), "ConmonPid": if running { s.monitor_pid.unwrap_or(0) } else { 0 },
            "ExitCode": s.exit_code.unwrap_or(0), "Error": "",
            "StartedAt": s.started_at.clone().unwrap_or_default(), "FinishedAt": s.finished_at.clone().unwrap_or_default(),
        },
        "Image": c.image_id,
        "ImageName": c.image_name,
        "Rootfs": "",
        "ResolvConfPath": e.dir.dir.join("etc/resolv.conf"),
        "HostnamePath": e.dir.dir.join("etc/hostname"),
        "HostsPath": e.dir.dir.join("etc/hosts"),
        "LogPath": e.dir.log(),
        "Name": c.name,
        "RestartCount": 0,
        "Driver": "overlay",
        "OCIRuntime": c.runtime,
        "Mounts": [],
        "NetworkSettings": {
            "IPAddress": ip, "Gateway": gateway, "IPPrefixLen": prefix, "MacAddress": c.mac.map(|m| m.to_string()).unwrap_or_default(),
            "Ports": ports_map(c),
            "SandboxKey": if c.network == crate::state::NetworkMode::Bridge { crate::net::bridge::netns_path(&c.id).display().to_string() } else { String::new() },
            "Networks": networks,
        },
        "Config": {
            "Hostname": c.hostname, "User": c.user, "Env": c.env,
            "Cmd": c.command, "Image": c.image_name, "WorkingDir": c.working_dir,
            "Tty": c.tty, "OpenStdin": c.interactive, "StopSignal": c.stop_signal,
            "Entrypoint": Value::Null,
        },
        "HostConfig": {
            "NetworkMode": c.network.as_str(), "AutoRemove": c.auto_remove, "ReadonlyRootfs": c.read_only,
            "PortBindings": ports_map(c), "CapAdd": c.cap_add, "CapDrop": c.cap_drop,
            "Memory": c.memory.unwrap_or(0), "PidsLimit": c.pids_limit.unwrap_or(0),
        },
        "OCIConfig": spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_like_go_units() {
        assert_eq!(human(0), "Less than a second");
        assert_eq!(human(3), "3 seconds");
        assert_eq!(human(90), "About a minute");
        assert_eq!(human(600), "10 minutes");
        assert_eq!(human(10_000), "2 hours");
    }
}

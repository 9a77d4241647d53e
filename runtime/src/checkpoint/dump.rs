//! The JSON files of a checkpoint archive (`config.dump`, `spec.dump`,
//! `network.status`, `deleted.files`) as typed documents. Every field vouch
//! uses is required unless its format makes it optional (OCI's `terminal`,
//! `env`, `root.readonly`; podman's `omitempty` fields), so a missing or
//! ill-typed field is an error naming the file and the field, never a
//! silent root uid or default metadata.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::archive::FORMAT_VERSION;
use super::CheckpointMeta;
use crate::id::ContainerId;
use crate::net::{PortMapping, Proto};
use crate::signal::Signal;
use crate::state::{ContainerConfig, NetworkMode};
use vouch_image::ImageId;

/// vouch's own config.dump (the fields vouch reads back; `id`, `name`,
/// `rootfsImage*` are there for checkpointctl and repeat `vouch`).
#[derive(Debug, Deserialize)]
pub struct VouchDump {
    #[serde(rename = "vouchCheckpointVersion")]
    pub version: u64,
    pub vouch: ContainerConfig,
    pub checkpoint: CheckpointMeta,
    /// The binds dropped from spec.dump ([`super::podman::for_export`]);
    /// absent in archives of vouch 1 before podman exchange.
    #[serde(default)]
    pub binds: Vec<super::podman::Bind>,
}

/// podman 4.x's config.dump (libpod/container_config.go), the fields vouch
/// takes.
#[derive(Debug, Deserialize)]
pub struct PodmanDump {
    pub id: String,
    pub name: String,
    #[serde(rename = "rootfsImageID")]
    pub image_id: String,
    #[serde(rename = "rootfsImageName")]
    pub image_name: String,
    #[serde(rename = "createdTime")]
    pub created: String,
    #[serde(rename = "newPortMappings", default)]
    pub ports: Vec<PodmanPort>,
    /// `omitempty` in podman; SIGTERM is its default.
    #[serde(rename = "stopSignal", default = "sigterm")]
    pub stop_signal: Signal,
}

fn sigterm() -> Signal {
    Signal::TERM
}

#[derive(Debug, Deserialize)]
pub struct PodmanPort {
    #[serde(default)]
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

/// The OCI config.json of podman's spec.dump, the fields vouch takes.
#[derive(Debug, Deserialize)]
pub struct SpecDump {
    pub process: SpecProcess,
    #[serde(default)]
    pub hostname: String,
    pub root: SpecRoot,
    /// OCI `mounts` (`omitempty`).
    #[serde(default)]
    pub mounts: Vec<SpecMount>,
}

/// One OCI mount; `type`, `source` and `options` are `omitempty`.
#[derive(Debug, Deserialize)]
pub struct SpecMount {
    pub destination: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct SpecProcess {
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    pub cwd: String,
    pub user: SpecUser,
    #[serde(default)]
    pub terminal: bool,
}

#[derive(Debug, Deserialize)]
pub struct SpecUser {
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Deserialize)]
pub struct SpecRoot {
    #[serde(default)]
    pub readonly: bool,
}

/// Which kind of config.dump this is, from its top-level keys.
pub enum DumpKind {
    Vouch,
    /// A `vouchCheckpointVersion` this build does not read.
    Incompatible(String),
    Podman,
    Unknown,
}

pub fn kind(dump: &Value) -> DumpKind {
    match dump.get("vouchCheckpointVersion") {
        Some(v) if v.as_u64() == Some(FORMAT_VERSION) => DumpKind::Vouch,
        Some(v) => DumpKind::Incompatible(v.to_string()),
        None if dump.get("rootfsImageName").is_some() && dump.get("spec").is_some() => {
            DumpKind::Podman
        }
        None => DumpKind::Unknown,
    }
}

/// Parses `bytes` as `T`, the error being "FILE: serde's reason" (which
/// names the field: "missing field `uid` at line 1 column 40").
pub fn parse<T: DeserializeOwned>(file: &str, bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("{file}: {e}"))
}

/// A vouch container config from podman's config.dump + spec.dump. The
/// address is dropped: podman's subnet is not vouch's (`--ignore-static-ip`).
pub fn from_podman(
    dump: &PodmanDump,
    spec: &SpecDump,
    net_null: bool,
) -> Result<ContainerConfig, String> {
    let id = ContainerId::parse(&dump.id).map_err(|e| format!("config.dump: field `id`: {e}"))?;
    let image_id = ImageId::parse(&dump.image_id)
        .map_err(|e| format!("config.dump: field `rootfsImageID`: {e}"))?;
    if !crate::engine::valid_name(&dump.name) {
        return Err("config.dump: field `name`: not a valid container name".into());
    }
    let mut ports = Vec::new();
    for m in &dump.ports {
        let host_ip = if m.host_ip.is_empty() {
            None
        } else {
            Some(m.host_ip.parse().map_err(|_| {
                format!(
                    "config.dump: field `newPortMappings.host_ip`: {:?} is not an IP address",
                    m.host_ip
                )
            })?)
        };
        let protocol = match m.protocol.as_str() {
            "tcp" | "" => Proto::Tcp,
            "udp" => Proto::Udp,
            p => {
                return Err(format!(
                    "config.dump: field `newPortMappings.protocol`: {p:?} is neither tcp nor udp"
                ))
            }
        };
        ports.push(PortMapping {
            host_ip,
            host_port: m.host_port,
            container_port: m.container_port,
            protocol,
        });
    }
    let p = &spec.process;
    Ok(ContainerConfig {
        id,
        name: dump.name.clone(),
        image_name: dump.image_name.clone(),
        image_id,
        created: dump.created.clone(),
        command: p.args.clone(),
        env: p.env.clone(),
        working_dir: p.cwd.clone(),
        user: format!("{}:{}", p.user.uid, p.user.gid),
        hostname: spec.hostname.clone(),
        tty: p.terminal,
        interactive: false,
        auto_remove: false,
        network: if net_null {
            NetworkMode::None
        } else {
            NetworkMode::Bridge
        },
        ports,
        ip: None,
        mac: None,
        bridge: None,
        runtime: "runc".into(),
        read_only: spec.root.readonly,
        stop_signal: dump.stop_signal,
        layers: vec![],
        cap_add: vec![],
        cap_drop: vec![],
        memory: None,
        pids_limit: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_without_uid_is_refused_by_name() {
        let e = parse::<SpecDump>(
            "spec.dump",
            br#"{"process":{"args":["sh"],"cwd":"/","user":{"gid":0}},"root":{}}"#,
        )
        .unwrap_err();
        assert!(e.starts_with("spec.dump: missing field `uid`"), "{e}");
    }

    #[test]
    fn meta_fields_are_required() {
        let e = parse::<VouchDump>(
            "config.dump",
            br#"{"vouchCheckpointVersion":1,"vouch":{},"checkpoint":{}}"#,
        )
        .unwrap_err();
        assert!(e.starts_with("config.dump: missing field"), "{e}");
    }
}

//! Exchanging checkpoints with podman: its bind mounts in both directions.
//!
//! CRIU restores a container's mount tree from its images, but a bind
//! mount from the host is *external*: runc declares every `bind` of the
//! spec as an external mount keyed by its destination at dump time, and at
//! restore CRIU needs a mapping for each key (`--ext-mount-map`, runc adds
//! `dest → source` for each bind of the restore spec) or it stops with
//! `mnt: No mapping for …`. podman binds five files and directories of its
//! own (libpod `makeBindMounts`, and `/dev/shm` from `ShmDir`); vouch
//! binds three. So:
//!
//! * **podman → vouch**: [`plan`] reads spec.dump's mounts and maps each of
//!   podman's binds to a file vouch makes ([`Bind`]); any other bind (a
//!   volume, a host path) or an unknown mount is refused with one line
//!   naming it. The plan is kept in the container directory
//!   ([`BINDS_FILE`]) and [`apply`] adds the binds to vouch's own
//!   generated spec before every restore.
//! * **vouch → podman**: [`for_export`] drops these binds from the exported
//!   spec.dump, as their sources are paths of this host's store; podman's
//!   restore then adds its own for each missing destination
//!   (`restore`: `if !MountExists(g.Mounts(), dstPath)`).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::dump::SpecMount;
use super::Result;
use crate::error::{io, RuntimeError};
use crate::state::{read_json, write_atomic, write_json, ContainerConfig, ContainerDir};

/// The binds a restored container needs, in its directory.
pub const BINDS_FILE: &str = "checkpoint-binds.json";

/// A bind mount vouch can provide for a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bind {
    #[serde(rename = "/etc/hosts")]
    Hosts,
    #[serde(rename = "/etc/hostname")]
    Hostname,
    #[serde(rename = "/etc/resolv.conf")]
    ResolvConf,
    /// podman's `/run/.containerenv`, which tells programs they run in a
    /// container.
    #[serde(rename = "/run/.containerenv")]
    ContainerEnv,
    /// podman's `/dev/shm`, a bind of its `ShmDir` (vouch's own is a
    /// tmpfs, which CRIU dumps and restores by itself).
    #[serde(rename = "/dev/shm")]
    Shm,
}

impl Bind {
    pub const ALL: [Bind; 5] = [
        Bind::Hosts,
        Bind::Hostname,
        Bind::ResolvConf,
        Bind::ContainerEnv,
        Bind::Shm,
    ];

    pub fn destination(self) -> &'static str {
        match self {
            Bind::Hosts => "/etc/hosts",
            Bind::Hostname => "/etc/hostname",
            Bind::ResolvConf => "/etc/resolv.conf",
            Bind::ContainerEnv => "/run/.containerenv",
            Bind::Shm => "/dev/shm",
        }
    }

    fn from_destination(d: &str) -> Option<Bind> {
        let d = d.trim_end_matches('/');
        Bind::ALL.into_iter().find(|b| b.destination() == d)
    }

    /// Where vouch keeps the source, in the container directory.
    pub fn source(self, d: &ContainerDir) -> PathBuf {
        match self {
            Bind::Hosts => d.dir.join("etc/hosts"),
            Bind::Hostname => d.dir.join("etc/hostname"),
            Bind::ResolvConf => d.dir.join("etc/resolv.conf"),
            Bind::ContainerEnv => d.dir.join("etc/containerenv"),
            Bind::Shm => d.dir.join("shm"),
        }
    }
}

/// Mounts of vouch's own spec (runtime/src/spec.rs) that are not binds,
/// by destination and type: those CRIU restores from its images.
const OWN_MOUNTS: &[(&str, &str)] = &[
    ("/proc", "proc"),
    ("/dev", "tmpfs"),
    ("/dev/pts", "devpts"),
    ("/dev/mqueue", "mqueue"),
    ("/sys", "sysfs"),
    ("/sys", "bind"),
    ("/sys/fs/cgroup", "cgroup"),
    ("/dev/shm", "tmpfs"),
];

fn is_bind(m: &SpecMount) -> bool {
    m.kind == "bind" || m.options.iter().any(|o| o == "bind" || o == "rbind")
}

/// Maps spec.dump's `mounts` to the binds vouch provides. Every mount must
/// be one of vouch's own or a bind vouch can provide; anything else is the
/// one-line reason (`spec.dump: field `mounts`: …`).
pub fn plan(mounts: &[SpecMount]) -> Result<Vec<Bind>, String> {
    let mut out = Vec::new();
    for m in mounts {
        let dest = m.destination.trim_end_matches('/');
        if is_bind(m) {
            if let Some(b) = Bind::from_destination(dest) {
                if !out.contains(&b) {
                    out.push(b);
                }
                continue;
            }
            if dest == "/sys" {
                continue; // vouch's own (--network host)
            }
            return Err(format!(
                "spec.dump: field `mounts`: the bind mount of {:?} at {dest}: vouch maps only {} (volumes and host paths are not imported)",
                m.source,
                Bind::ALL.map(Bind::destination).join(", ")
            ));
        }
        if !OWN_MOUNTS.iter().any(|(d, t)| *d == dest && *t == m.kind) {
            return Err(format!(
                "spec.dump: field `mounts`: the {} mount at {dest}: vouch's containers have no such mount",
                if m.kind.is_empty() { "untyped" } else { &m.kind }
            ));
        }
    }
    Ok(out)
}

/// Records `binds` for the restores of the container in `d`.
pub fn record(d: &ContainerDir, binds: &[Bind]) -> Result<()> {
    let p = d.dir.join(BINDS_FILE);
    if binds.is_empty() {
        let _ = fs::remove_file(&p);
        return Ok(());
    }
    Ok(write_json(&p, &binds)?)
}

fn recorded(d: &ContainerDir) -> crate::Result<Vec<Bind>> {
    let p = d.dir.join(BINDS_FILE);
    if !p.exists() {
        return Ok(vec![]);
    }
    read_json(&p)
}

/// podman's `.containerenv` body (libpod `makeBindMounts`), with vouch as
/// the engine.
fn containerenv(cfg: &ContainerConfig) -> String {
    format!(
        "engine=\"vouch-{}\"\nname={:?}\nid={:?}\nimage={:?}\nimageid={:?}\nrootless=0\n",
        env!("CARGO_PKG_VERSION"),
        cfg.name,
        cfg.id,
        cfg.image_name,
        cfg.image_id
    )
}

/// Makes the sources of the recorded binds and adds the binds to the
/// bundle's spec (written by `prepare`), replacing a mount at the same
/// destination (vouch's `/dev/shm` tmpfs). A no-op without a record.
pub fn apply(d: &ContainerDir, cfg: &ContainerConfig) -> crate::Result<()> {
    let binds = recorded(d)?;
    if binds.is_empty() {
        return Ok(());
    }
    let spec_path = d.bundle().join("config.json");
    let bytes = fs::read(&spec_path).map_err(io(&spec_path))?;
    let mut spec: Value = serde_json::from_slice(&bytes).map_err(|source| {
        RuntimeError::Spec(crate::spec::SpecError::Read {
            path: spec_path.clone(),
            source,
        })
    })?;
    let etc = d.dir.join("etc");
    fs::create_dir_all(&etc).map_err(io(&etc))?;
    for b in &binds {
        let src = b.source(d);
        let mut options = vec!["bind", "rprivate"];
        match b {
            Bind::Shm => {
                if !src.is_dir() {
                    fs::create_dir(&src).map_err(io(&src))?;
                }
                fs::set_permissions(&src, fs::Permissions::from_mode(0o1777)).map_err(io(&src))?;
                options.extend(["nosuid", "noexec", "nodev"]);
            }
            Bind::ContainerEnv => write_atomic(&src, containerenv(cfg).as_bytes())?,
            Bind::ResolvConf if !src.exists() => {
                // vouch writes none for --network none; podman always binds one.
                let r = fs::read("/etc/resolv.conf").unwrap_or_default();
                write_atomic(&src, &r)?;
            }
            // hosts and hostname are written by `prepare` for every container.
            _ if !src.exists() => write_atomic(&src, b"")?,
            _ => {}
        }
        let m = serde_json::json!({
            "destination": b.destination(),
            "type": "bind",
            "source": src,
            "options": options,
        });
        let Some(mounts) = spec.get_mut("mounts").and_then(Value::as_array_mut) else {
            return Err(RuntimeError::Spec(crate::spec::SpecError::NoMounts(
                spec_path.clone(),
            )));
        };
        mounts.retain(|x| x.get("destination").and_then(Value::as_str) != Some(b.destination()));
        mounts.push(m);
    }
    let out = serde_json::to_vec_pretty(&spec).unwrap_or_default();
    write_atomic(&spec_path, &out)
}

/// The spec.dump of an export: the bundle's spec without the binds whose
/// sources are this store's files, so the restoring engine adds its own.
/// Returns the spec and the binds dropped (kept in config.dump for vouch).
pub fn for_export(spec: &[u8]) -> (Vec<u8>, Vec<Bind>) {
    let Ok(mut v) = serde_json::from_slice::<Value>(spec) else {
        return (spec.to_vec(), vec![]);
    };
    let mut dropped = vec![];
    if let Some(mounts) = v.get_mut("mounts").and_then(Value::as_array_mut) {
        mounts.retain(|m| {
            let bind = m.get("type").and_then(Value::as_str) == Some("bind");
            let b = m
                .get("destination")
                .and_then(Value::as_str)
                .and_then(Bind::from_destination);
            match (bind, b) {
                (true, Some(b)) => {
                    dropped.push(b);
                    false
                }
                _ => true,
            }
        });
    }
    (serde_json::to_vec_pretty(&v).unwrap_or_default(), dropped)
}

/// Where the restored container's `/dev/shm` content goes
/// (`devshm-checkpoint.tar`), if it has podman's shm bind.
pub fn shm_dir(d: &ContainerDir, binds: &[Bind]) -> Option<PathBuf> {
    binds.contains(&Bind::Shm).then(|| Bind::Shm.source(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(dest: &str, kind: &str, src: &str, opts: &[&str]) -> SpecMount {
        SpecMount {
            destination: dest.into(),
            kind: kind.into(),
            source: src.into(),
            options: opts.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn podmans_binds_map_and_others_are_refused() {
        let u = "/var/lib/containers/storage/overlay-containers/x/userdata";
        let mounts = vec![
            m("/proc", "proc", "proc", &[]),
            m("/dev", "tmpfs", "tmpfs", &[]),
            m(
                "/etc/resolv.conf",
                "bind",
                &format!("{u}/resolv.conf"),
                &["bind"],
            ),
            m("/etc/hosts", "bind", &format!("{u}/hosts"), &["bind"]),
            m("/dev/shm", "bind", &format!("{u}/shm"), &["bind"]),
            m(
                "/run/.containerenv",
                "bind",
                &format!("{u}/.containerenv"),
                &["bind"],
            ),
            m("/etc/hostname", "bind", &format!("{u}/hostname"), &["bind"]),
            m("/sys/fs/cgroup", "cgroup", "cgroup", &[]),
        ];
        assert_eq!(
            plan(&mounts).unwrap(),
            vec![
                Bind::ResolvConf,
                Bind::Hosts,
                Bind::Shm,
                Bind::ContainerEnv,
                Bind::Hostname
            ]
        );
        let e = plan(&[m("/data", "bind", "/srv/data", &["rbind"])]).unwrap_err();
        assert!(
            e.starts_with("spec.dump: field `mounts`: the bind mount of \"/srv/data\" at /data: vouch maps only /etc/hosts"),
            "{e}"
        );
        let e = plan(&[m("/run", "tmpfs", "tmpfs", &[])]).unwrap_err();
        assert_eq!(
            e,
            "spec.dump: field `mounts`: the tmpfs mount at /run: vouch's containers have no such mount"
        );
        // A bind written without type "bind" is still a bind.
        let e = plan(&[m("/x", "none", "/x", &["rbind"])]).unwrap_err();
        assert!(e.contains("bind mount of \"/x\" at /x"), "{e}");
    }

    #[test]
    fn export_drops_this_hosts_binds() {
        let spec = br#"{"mounts":[{"destination":"/proc","type":"proc","source":"proc"},
            {"destination":"/etc/hosts","type":"bind","source":"/var/lib/vouch/c/etc/hosts"},
            {"destination":"/dev/shm","type":"tmpfs","source":"shm"}]}"#;
        let (out, dropped) = for_export(spec);
        let v: Value = serde_json::from_slice(&out).unwrap();
        let dests: Vec<&str> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert_eq!(dests, ["/proc", "/dev/shm"]);
        assert_eq!(dropped, [Bind::Hosts]);
    }
}

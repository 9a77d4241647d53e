//! The bridge network: netavark's bridge driver (src/network/bridge.rs) in
//! outline. One bridge with the subnet's first address; per container a
//! named netns `vouch-<id>` (so CRIU can treat it as external and a restore
//! can rejoin it), a veth pair `vv<id12>` ↔ `eth0`, the address from IPAM
//! and a default route. Links are configured through iproute2's batch mode
//! (one `ip` process per namespace).
//!
//! IPAM is one file per address under `RUN/ipam/<bridge>/`, created with
//! O_EXCL, so concurrent `run`s from any store never share an address.

use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{nft, NetConfig, PortMapping};
use crate::error::{Result, RuntimeError};
use crate::state::Flock;

pub fn netns_name(id: &str) -> String {
    format!("vouch-{id}")
}
pub fn netns_path(id: &str) -> PathBuf {
    PathBuf::from("/run/netns").join(netns_name(id))
}
/// The container's MAC, derived from its address as Docker does
/// (02:42:<ip>): a reused address keeps its MAC, so neighbour entries the
/// host still holds for the previous owner stay correct instead of sending
/// the new container's traffic to a MAC that no longer exists (setup also
/// replaces the host's entry, for owners from before this rule).
pub fn mac_for(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

pub fn host_veth(id: &str) -> String {
    format!("vv{}", &id[..12.min(id.len())])
}

fn net_err(id: &str, what: &str, detail: impl Into<String>) -> RuntimeError {
    RuntimeError::Network {
        id: id.into(),
        what: what.into(),
        detail: detail.into(),
    }
}

fn ip_batch(netns: Option<&str>, script: &str) -> std::result::Result<(), String> {
    let mut c = Command::new("ip");
    if let Some(n) = netns {
        c.args(["-n", n]);
    }
    c.args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().map_err(|e| format!("running ip: {e}"))?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(script.as_bytes())
            .map_err(|e| format!("writing to ip: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr)
            .trim()
            .replace('\n', "; "))
    }
}

fn write_sysctl(path: &str, value: &str) -> std::result::Result<(), String> {
    match fs::read_to_string(path) {
        Ok(v) if v.trim() == value => Ok(()),
        _ => fs::write(path, value).map_err(|e| format!("{path}: {e}")),
    }
}

/// Creates the bridge, its address, the sysctls and the nft base once.
/// Callers hold the network lock.
fn ensure_bridge(id: &str, cfg: &NetConfig) -> Result<()> {
    let b = &cfg.bridge;
    if !Path::new("/sys/class/net").join(b).exists() {
        // A fixed, locally administered MAC: a bridge without one takes the
        // lowest port MAC and changes it as containers come and go, which
        // leaves stale gateway entries in running containers' ARP caches.
        let g = cfg.subnet.gateway().octets();
        let script = format!(
            "link add name {b} address 02:76:{:02x}:{:02x}:{:02x}:{:02x} type bridge\naddr add {}/{} dev {b}\nlink set {b} up\n",
            g[0],
            g[1],
            g[2],
            g[3],
            cfg.subnet.gateway(),
            cfg.subnet.len
        );
        ip_batch(None, &script).map_err(|e| net_err(id, &format!("creating bridge {b}"), e))?;
    } else {
        let g = cfg.subnet.gateway().octets();
        let want = format!("02:76:{:02x}:{:02x}:{:02x}:{:02x}", g[0], g[1], g[2], g[3]);
        let have = fs::read_to_string(Path::new("/sys/class/net").join(b).join("address"))
            .unwrap_or_default();
        if have.trim() != want {
            ip_batch(None, &format!("link set {b} address {want}\n"))
                .map_err(|e| net_err(id, &format!("fixing the MAC of bridge {b}"), e))?;
        }
    }
    // netavark sets ip_forward and route_localnet (so 127.0.0.1 DNAT can
    // leave the loopback path) on the bridge.
    write_sysctl("/proc/sys/net/ipv4/ip_forward", "1").map_err(|e| net_err(id, "sysctl", e))?;
    write_sysctl(&format!("/proc/sys/net/ipv4/conf/{b}/route_localnet"), "1")
        .map_err(|e| net_err(id, "sysctl", e))?;
    nft::ensure_base(b, &cfg.subnet).map_err(|e| net_err(id, "nftables base rules", e))
}

/// Reserves a free address for `id`.
pub fn allocate(run: &Path, cfg: &NetConfig, id: &str) -> Result<Ipv4Addr> {
    let dir = run.join("ipam").join(&cfg.bridge);
    fs::create_dir_all(&dir).map_err(crate::error::io(&dir))?;
    for ip in cfg.subnet.hosts() {
        match fs::File::options()
            .write(true)
            .create_new(true)
            .open(dir.join(ip.to_string()))
        {
            Ok(mut f) => {
                f.write_all(id.as_bytes())
                    .map_err(crate::error::io(dir.join(ip.to_string())))?;
                return Ok(ip);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(crate::error::io(dir.join(ip.to_string()))(e)),
        }
    }
    Err(net_err(
        id,
        "address allocation",
        format!("subnet {} is full", cfg.subnet),
    ))
}

/// Frees `ip` if it is still held by `id`.
pub fn release(run: &Path, bridge: &str, id: &str, ip: &str) {
    let p = run.join("ipam").join(bridge).join(ip);
    if fs::read_to_string(&p).is_ok_and(|owner| owner == id) {
        let _ = fs::remove_file(p);
    }
}

/// Sets the container's network up; on any failure tears down what was
/// made. Returns the address.
pub fn setup(
    run: &Path,
    cfg: &NetConfig,
    id: &str,
    want_ip: Option<Ipv4Addr>,
    ports: &[PortMapping],
) -> Result<Ipv4Addr> {
    let ip = match want_ip {
        Some(ip) => ip,
        None => allocate(run, cfg, id)?,
    };
    let r = (|| {
        {
            fs::create_dir_all(run).map_err(crate::error::io(run))?;
            let _lock = Flock::take(&run.join("network.lock"))?;
            ensure_bridge(id, cfg)?;
        }
        let ns = netns_name(id);
        let hv = host_veth(id);
        ip_batch(None, &format!("netns add {ns}\nlink add {hv} type veth peer name eth0 address {mac} netns {ns}\nlink set {hv} master {b} up\nneigh replace {ip} lladdr {mac} dev {b} nud reachable\n",
                mac = mac_for(ip), b = cfg.bridge))
            .map_err(|e| net_err(id, "creating veth", e))?;
        ip_batch(Some(&ns), &format!(
            "link set lo up\naddr add {ip}/{} dev eth0\nlink set eth0 up\nroute add default via {}\n",
            cfg.subnet.len,
            cfg.subnet.gateway()
        ))
        .map_err(|e| net_err(id, "configuring eth0", e))?;
        nft::add_container(id, ip, ports).map_err(|e| net_err(id, "publishing ports", e))
    })();
    if let Err(e) = r {
        teardown(run, &cfg.bridge, id, Some(&ip.to_string()));
        return Err(e);
    }
    Ok(ip)
}

/// Removes everything `setup` may have made for `id`; safe to repeat.
pub fn teardown(run: &Path, bridge: &str, id: &str, ip: Option<&str>) {
    teardown_with(run, bridge, id, ip, true)
}

/// [`teardown`], skipping the nftables listing when the container never
/// published a port (so it can have no rule): one `nft` process less.
pub fn teardown_with(run: &Path, bridge: &str, id: &str, ip: Option<&str>, published: bool) {
    if published {
        let _ = nft::remove_container(id);
    }
    if netns_path(id).exists() {
        let _ = ip_batch(None, &format!("netns del {}\n", netns_name(id)));
    }
    if Path::new("/sys/class/net").join(host_veth(id)).exists() {
        let _ = ip_batch(None, &format!("link del {}\n", host_veth(id)));
    }
    if let Some(ip) = ip {
        release(run, bridge, id, ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Subnet;

    #[test]
    fn a_reused_address_keeps_its_mac() {
        let ip: Ipv4Addr = "10.90.0.5".parse().unwrap();
        assert_eq!(mac_for(ip), "02:42:0a:5a:00:05");
        assert_eq!(host_veth(&"ab".repeat(32)).len(), 14, "IFNAMSIZ");
    }

    #[test]
    fn ipam_hands_out_each_address_once() {
        let d = tempfile::tempdir().unwrap();
        let cfg = NetConfig {
            bridge: "t0".into(),
            subnet: Subnet::parse("10.1.0.0/29").unwrap(),
        };
        let a = allocate(d.path(), &cfg, "a").unwrap();
        let b = allocate(d.path(), &cfg, "b").unwrap();
        assert_ne!(a, b);
        release(d.path(), "t0", "b", &a.to_string()); // not b's: kept
        assert!(d.path().join("ipam/t0").join(a.to_string()).exists());
        release(d.path(), "t0", "a", &a.to_string());
        assert_eq!(allocate(d.path(), &cfg, "c").unwrap(), a);
        for _ in 0..3 {
            allocate(d.path(), &cfg, "x").unwrap();
        }
        assert!(
            allocate(d.path(), &cfg, "y").is_err(),
            "/29 has 5 container addresses"
        );
    }
}

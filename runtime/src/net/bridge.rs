//! The bridge network: netavark's bridge driver (src/network/bridge.rs) in
//! outline. One bridge with the subnet's first address; per container a
//! named netns `vouch-<id>` (so CRIU can treat it as external and a restore
//! can rejoin it), a veth pair `vv<id12>` ↔ `eth0`, the address from IPAM
//! and a default route. Links are configured over rtnetlink from this
//! process ([`super::link`]: one socket on the host, one opened inside the
//! container's netns) and the netns is made as `ip netns add` makes it
//! ([`super::netns`]); no `ip` process is spawned.
//!
//! IPAM is one file per address under `RUN/ipam/<bridge>/`, created with
//! O_EXCL, so concurrent `run`s from any store never share an address.

use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::link::{Conn, Mac, Netlink};
use super::{netns, nft, NetConfig, NetError, PortMapping};
use crate::error::{Result, RuntimeError};
use crate::id::ContainerId;
use crate::state::Flock;

pub fn netns_name(id: &ContainerId) -> String {
    format!("vouch-{id}")
}
pub fn netns_path(id: &ContainerId) -> PathBuf {
    PathBuf::from(netns::RUN_DIR).join(netns_name(id))
}
/// The container's MAC, derived from its address as Docker does
/// (02:42:<ip>): a reused address keeps its MAC, so neighbour entries the
/// host still holds for the previous owner stay correct instead of sending
/// the new container's traffic to a MAC that no longer exists (setup also
/// replaces the host's entry, for owners from before this rule).
pub fn mac_for(ip: Ipv4Addr) -> Mac {
    let o = ip.octets();
    Mac([0x02, 0x42, o[0], o[1], o[2], o[3]])
}

/// The bridge's own MAC: fixed and locally administered (02:76:<gateway>).
/// A bridge without one takes the lowest port MAC and changes it as
/// containers come and go, which leaves stale gateway entries in running
/// containers' ARP caches.
fn bridge_mac(cfg: &NetConfig) -> Mac {
    let g = cfg.subnet.gateway().octets();
    Mac([0x02, 0x76, g[0], g[1], g[2], g[3]])
}

pub fn host_veth(id: &ContainerId) -> String {
    format!("vv{}", id.short())
}

/// The container's eth0 inside its netns.
const ETH0: &str = "eth0";

fn net_err(id: &ContainerId, source: NetError) -> RuntimeError {
    RuntimeError::Network {
        id: id.to_string(),
        source,
    }
}

/// Maps a failed netlink request of step `what` to the container's error.
fn nl_err(
    id: &ContainerId,
    what: impl Into<String>,
) -> impl FnOnce(rtnetlink::Error) -> RuntimeError + '_ {
    let what = what.into();
    move |e| net_err(id, NetError::netlink(what, &e))
}

/// A host-side netlink step that failed before any request was sent.
fn io_step<'a>(
    id: &'a ContainerId,
    step: &str,
) -> impl FnOnce(std::io::Error) -> RuntimeError + 'a {
    let step = step.to_string();
    move |source| net_err(id, NetError::Netlink { step, source })
}

fn open_netlink(id: &ContainerId) -> Result<Netlink> {
    Netlink::new().map_err(io_step(id, "starting netlink"))
}

fn write_sysctl(id: &ContainerId, path: &str, value: &str) -> Result<()> {
    match fs::read_to_string(path) {
        Ok(v) if v.trim() == value => Ok(()),
        _ => fs::write(path, value).map_err(|source| {
            net_err(
                id,
                NetError::Sysctl {
                    path: path.into(),
                    source,
                },
            )
        }),
    }
}

/// Creates the bridge, its address, the sysctls and the nft base once;
/// returns the bridge's index. Callers hold the network lock.
fn ensure_bridge(nl: &Netlink, host: &Conn, id: &ContainerId, cfg: &NetConfig) -> Result<u32> {
    let b = &cfg.bridge;
    let mac = bridge_mac(cfg);
    let index = nl.block_on(async {
        let found = host
            .link(b)
            .await
            .map_err(nl_err(id, format!("looking up bridge {b}")))?;
        match found {
            Some(l) => {
                if l.mac != Some(mac) {
                    host.set_mac(b, mac)
                        .await
                        .map_err(nl_err(id, format!("fixing the MAC of bridge {b}")))?;
                }
                Ok::<_, RuntimeError>(l.index)
            }
            None => {
                let what = format!("creating bridge {b}");
                host.add_bridge(b, mac).await.map_err(nl_err(id, &*what))?;
                let l = host
                    .link(b)
                    .await
                    .map_err(nl_err(id, &*what))?
                    .ok_or_else(|| {
                        net_err(
                            id,
                            NetError::Missing {
                                step: what.clone(),
                                what: "it vanished after creation".into(),
                            },
                        )
                    })?;
                host.add_address(l.index, cfg.subnet.gateway(), cfg.subnet.len)
                    .await
                    .map_err(nl_err(id, &*what))?;
                host.set_up(b).await.map_err(nl_err(id, &*what))?;
                Ok(l.index)
            }
        }
    })?;
    // netavark sets ip_forward and route_localnet (so 127.0.0.1 DNAT can
    // leave the loopback path) on the bridge.
    write_sysctl(id, "/proc/sys/net/ipv4/ip_forward", "1")?;
    write_sysctl(
        id,
        &format!("/proc/sys/net/ipv4/conf/{b}/route_localnet"),
        "1",
    )?;
    nft::ensure_base(b, &cfg.subnet).map_err(|source| {
        net_err(
            id,
            NetError::Nft {
                step: "nftables base rules",
                source,
            },
        )
    })?;
    Ok(index)
}

/// Reserves a free address for `id`.
pub fn allocate(run: &Path, cfg: &NetConfig, id: &ContainerId) -> Result<Ipv4Addr> {
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
    Err(net_err(id, NetError::SubnetFull(cfg.subnet)))
}

/// Frees `ip` if it is still held by `id`.
pub fn release(run: &Path, bridge: &str, id: &ContainerId, ip: Ipv4Addr) {
    let p = run.join("ipam").join(bridge).join(ip.to_string());
    if fs::read_to_string(&p).is_ok_and(|owner| id == &owner) {
        let _ = fs::remove_file(p);
    }
}

/// Sets the container's network up; on any failure tears down what was
/// made. Returns the address.
pub fn setup(
    run: &Path,
    cfg: &NetConfig,
    id: &ContainerId,
    want_ip: Option<Ipv4Addr>,
    ports: &[PortMapping],
) -> Result<Ipv4Addr> {
    let ip = match want_ip {
        Some(ip) => ip,
        None => allocate(run, cfg, id)?,
    };
    let r = (|| {
        let nl = open_netlink(id)?;
        let host = nl.connect().map_err(io_step(id, "opening netlink"))?;
        let bridge = {
            fs::create_dir_all(run).map_err(crate::error::io(run))?;
            let _lock = Flock::take(&run.join("network.lock"))?;
            netns::prepare_dir().map_err(|source| {
                net_err(
                    id,
                    NetError::Netns {
                        step: "preparing /run/netns",
                        source,
                    },
                )
            })?;
            ensure_bridge(&nl, &host, id, cfg)?
        };
        let (ns_fd, socket) = netns::create(&netns_path(id), || nl.socket()).map_err(|source| {
            net_err(
                id,
                NetError::Netns {
                    step: "creating netns",
                    source,
                },
            )
        })?;
        let ns = nl.conn(socket);
        let (hv, mac) = (host_veth(id), mac_for(ip));
        nl.block_on(async {
            host.add_veth(&hv, bridge, ETH0, mac, ns_fd.as_raw_fd())
                .await
                .map_err(nl_err(id, format!("creating veth {hv} in {}", cfg.bridge)))?;
            host.replace_neigh(bridge, ip, mac)
                .await
                .map_err(nl_err(id, format!("setting the neighbour entry for {ip}")))?;
            ns.set_up("lo").await.map_err(nl_err(id, "raising lo"))?;
            let what = format!("configuring {ETH0}");
            let eth0 = ns
                .link(ETH0)
                .await
                .map_err(nl_err(id, &*what))?
                .ok_or_else(|| {
                    net_err(
                        id,
                        NetError::Missing {
                            step: what.clone(),
                            what: format!("no {ETH0} in {}", netns_name(id)),
                        },
                    )
                })?;
            ns.add_address(eth0.index, ip, cfg.subnet.len)
                .await
                .map_err(nl_err(
                    id,
                    format!("adding {ip}/{} to {ETH0}", cfg.subnet.len),
                ))?;
            ns.set_up(ETH0).await.map_err(nl_err(id, &*what))?;
            ns.add_default_route(cfg.subnet.gateway())
                .await
                .map_err(nl_err(
                    id,
                    format!("adding the default route via {}", cfg.subnet.gateway()),
                ))
        })?;
        nft::add_container(id, ip, ports).map_err(|source| {
            net_err(
                id,
                NetError::Nft {
                    step: "publishing ports",
                    source,
                },
            )
        })
    })();
    if let Err(e) = r {
        teardown(run, &cfg.bridge, id, Some(ip));
        return Err(e);
    }
    Ok(ip)
}

/// Removes everything `setup` may have made for `id`; safe to repeat.
pub fn teardown(run: &Path, bridge: &str, id: &ContainerId, ip: Option<Ipv4Addr>) {
    teardown_with(run, bridge, id, ip, true)
}

/// How long teardown lets the kernel remove a container's host veth along
/// with its netns before deleting the veth itself.
const VETH_GRACE: Duration = Duration::from_millis(20);

/// Whether `path` is gone now or within `grace` (polled every 200 µs).
fn gone_within(path: &Path, grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    loop {
        if !path.exists() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// [`teardown`], skipping the nftables listing when the container never
/// published a port (so it can have no rule): one `nft` process less.
pub fn teardown_with(
    run: &Path,
    bridge: &str,
    id: &ContainerId,
    ip: Option<Ipv4Addr>,
    published: bool,
) {
    if published {
        let _ = nft::remove_container(id);
    }
    let _ = netns::delete(&netns_path(id));
    // Once nothing else holds the netns, the kernel frees it in a worker
    // and takes eth0 and so its host-side peer with it, about 1 ms after
    // the unmount. Deleting the veth here instead would wait ~15 ms for
    // the kernel's synchronous unregistration (RCU grace periods), so the
    // kernel gets a moment first; the veth is deleted here only if it
    // outlives that (something else still holds the netns).
    let veth = Path::new("/sys/class/net").join(host_veth(id));
    if !gone_within(&veth, VETH_GRACE) {
        if let Ok(nl) = Netlink::new() {
            if let Ok(host) = nl.connect() {
                let _ = nl.block_on(host.delete_link(&host_veth(id)));
            }
        }
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
        assert_eq!(mac_for(ip).to_string(), "02:42:0a:5a:00:05");
        let id = ContainerId::parse(&"ab".repeat(32)).unwrap();
        assert_eq!(host_veth(&id).len(), 14, "IFNAMSIZ");
    }

    #[test]
    fn ipam_hands_out_each_address_once() {
        let d = tempfile::tempdir().unwrap();
        let cfg = NetConfig {
            bridge: "t0".into(),
            subnet: Subnet::parse("10.1.0.0/29").unwrap(),
        };
        let id = |c: &str| ContainerId::parse(&c.repeat(64)).unwrap();
        let a = allocate(d.path(), &cfg, &id("a")).unwrap();
        let b = allocate(d.path(), &cfg, &id("b")).unwrap();
        assert_ne!(a, b);
        release(d.path(), "t0", &id("b"), a); // not b's: kept
        assert!(d.path().join("ipam/t0").join(a.to_string()).exists());
        release(d.path(), "t0", &id("a"), a);
        assert_eq!(allocate(d.path(), &cfg, &id("c")).unwrap(), a);
        for _ in 0..3 {
            allocate(d.path(), &cfg, &id("d")).unwrap();
        }
        assert!(
            allocate(d.path(), &cfg, &id("e")).is_err(),
            "/29 has 5 container addresses"
        );
    }
}

//! `-p [IP:][HOST:]CONTAINER[/tcp|/udp]` (podman's syntax) and the host-port
//! reservation: the ports are bound by vouch and held by the monitor for the
//! container's lifetime, as podman binds them and hands them to conmon
//! (libpod/networking_common.go bindPorts). A conflict is found at `run`
//! time, before anything is created.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};

use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortMapping {
    /// Host address to publish on; None means every address.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Proto,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

fn bad(spec: &str, why: impl Into<String>) -> RuntimeError {
    RuntimeError::BadPort {
        spec: spec.to_string(),
        why: why.into(),
    }
}

fn port(spec: &str, s: &str, what: &str) -> Result<u16> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(bad(
            spec,
            format!("{what} {s:?} is not a port number (1-65535)"),
        )),
    }
}

impl PortMapping {
    pub fn parse(spec: &str) -> Result<Self> {
        let (addr, proto) = match spec.rsplit_once('/') {
            Some((a, "tcp")) => (a, Proto::Tcp),
            Some((a, "udp")) => (a, Proto::Udp),
            Some((_, p)) => {
                return Err(bad(
                    spec,
                    format!("unsupported protocol {p:?} (tcp or udp)"),
                ))
            }
            None => (spec, Proto::Tcp),
        };
        let parts: Vec<&str> = addr.split(':').collect();
        let (ip, host, ctr) = match parts.as_slice() {
            [c] => (None, None, *c),
            [h, c] => (None, Some(*h), *c),
            [ip, h, c] => (Some(*ip), Some(*h), *c),
            _ => return Err(bad(spec, "expected [IP:][HOST:]CONTAINER[/PROTO]")),
        };
        if ctr.contains('-') || host.is_some_and(|h| h.contains('-')) {
            return Err(bad(spec, "port ranges are not supported"));
        }
        let host_ip = match ip.filter(|i| !i.is_empty()) {
            None => None,
            Some(i) => match i.parse::<IpAddr>() {
                Ok(IpAddr::V4(v4)) => Some(v4),
                Ok(IpAddr::V6(_)) => {
                    return Err(bad(spec, "IPv6 host addresses are not supported"))
                }
                Err(_) => return Err(bad(spec, format!("{i:?} is not an IP address"))),
            },
        };
        let host_port = match host.filter(|h| !h.is_empty()) {
            None => 0,
            Some(h) => port(spec, h, "host port")?,
        };
        Ok(Self {
            host_ip,
            host_port,
            container_port: port(spec, ctr, "container port")?,
            protocol: proto,
        })
    }

    /// podman's NetworkSettings.Ports key, `80/tcp`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol.as_str())
    }
}

/// Binds every mapping's host port (choosing one for `-p CONTAINER`) and
/// returns the sockets to hold; the mappings get their final host port.
pub fn reserve(maps: &mut [PortMapping]) -> Result<Vec<OwnedFd>> {
    let mut held = Vec::new();
    for m in maps.iter_mut() {
        let ip = m.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let addr = SocketAddr::new(IpAddr::V4(ip), m.host_port);
        let in_use = |source| RuntimeError::PortInUse {
            addr: addr.to_string(),
            source,
        };
        let (fd, local): (OwnedFd, SocketAddr) = match m.protocol {
            Proto::Tcp => {
                let l = TcpListener::bind(addr).map_err(in_use)?;
                let a = l.local_addr().map_err(in_use)?;
                (l.into(), a)
            }
            Proto::Udp => {
                let s = UdpSocket::bind(addr).map_err(in_use)?;
                let a = s.local_addr().map_err(in_use)?;
                (s.into(), a)
            }
        };
        m.host_port = local.port();
        held.push(fd);
    }
    Ok(held)
}

/// Clears FD_CLOEXEC so a held socket survives exec into the monitor.
pub fn inheritable(fd: &OwnedFd) -> std::io::Result<()> {
    // SAFETY: fcntl on an owned descriptor.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_podman_forms() {
        let m = PortMapping::parse("8080:80/tcp").unwrap();
        assert_eq!(
            (m.host_ip, m.host_port, m.container_port, m.protocol),
            (None, 8080, 80, Proto::Tcp)
        );
        let m = PortMapping::parse("127.0.0.1:8080:80/udp").unwrap();
        assert_eq!(m.host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(m.protocol, Proto::Udp);
        assert_eq!(PortMapping::parse("80").unwrap().host_port, 0);
        assert_eq!(m.key(), "80/udp");
        for bad in [
            "",
            "x:80",
            "8080:0",
            "8080:80/sctp",
            "1:2:3:4",
            "foo:8080:80",
            "70000:80",
            "80-81:80-81",
        ] {
            let e = PortMapping::parse(bad).unwrap_err();
            assert!(e.to_string().contains("invalid port mapping"), "{bad}: {e}");
        }
    }

    #[test]
    fn reservation_detects_conflicts() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = l.local_addr().unwrap().port();
        let mut maps = vec![PortMapping::parse(&format!("127.0.0.1:{taken}:80")).unwrap()];
        assert!(matches!(
            reserve(&mut maps),
            Err(RuntimeError::PortInUse { .. })
        ));
        let mut maps = vec![PortMapping::parse("127.0.0.1::80").unwrap()];
        let held = reserve(&mut maps).unwrap();
        assert_eq!(held.len(), 1);
        assert_ne!(maps[0].host_port, 0);
    }
}

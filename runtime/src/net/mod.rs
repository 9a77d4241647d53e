//! Container networking: `--network bridge` (a bridge, one veth per
//! container in its own named netns, a stable address from a configurable
//! subnet, `-p` as nftables DNAT), `none` (an empty netns from runc) and
//! `host`. Everything a container gets is keyed by its ID, so teardown is
//! idempotent and can finish a half-done setup.

pub mod bridge;
pub mod error;
pub mod link;
pub mod netns;
pub mod nft;
pub mod ports;

use std::net::Ipv4Addr;

pub use error::NetError;
pub use ports::{PortMapping, Proto};

/// An IPv4 subnet such as podman's `10.88.0.0/16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub len: u8,
}

impl Subnet {
    pub fn parse(s: &str) -> Option<Self> {
        let (a, l) = s.split_once('/')?;
        let addr: Ipv4Addr = a.parse().ok()?;
        let len: u8 = l.parse().ok().filter(|l| (8..=30).contains(l))?;
        let mask = u32::MAX << (32 - len);
        Some(Self {
            network: Ipv4Addr::from(u32::from(addr) & mask),
            len,
        })
    }
    /// The bridge's own address (first host).
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }
    /// Container addresses: second host up to the last before broadcast.
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        let base = u32::from(self.network);
        let size = 1u32 << (32 - self.len);
        (2..size - 1).map(move |i| Ipv4Addr::from(base + i))
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.len)
    }
}

/// Which bridge and subnet `--network bridge` uses (VOUCH_BRIDGE,
/// VOUCH_SUBNET; podman's default is podman0 on 10.88.0.0/16, vouch keeps
/// clear of it so both can run side by side).
#[derive(Clone, Debug)]
pub struct NetConfig {
    pub bridge: String,
    pub subnet: Subnet,
}

pub const DEFAULT_BRIDGE: &str = "vouch0";
pub const DEFAULT_SUBNET: &str = "10.90.0.0/16";

impl NetConfig {
    pub fn from_env() -> Result<Self, NetError> {
        let bridge = std::env::var("VOUCH_BRIDGE").unwrap_or_else(|_| DEFAULT_BRIDGE.into());
        if bridge.is_empty()
            || bridge.len() > 15
            || !bridge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(NetError::BadBridge(bridge));
        }
        let s = std::env::var("VOUCH_SUBNET").unwrap_or_else(|_| DEFAULT_SUBNET.into());
        let subnet = Subnet::parse(&s).ok_or(NetError::BadSubnet(s))?;
        Ok(Self { bridge, subnet })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_math() {
        let s = Subnet::parse("10.90.3.7/16").unwrap();
        assert_eq!(s.to_string(), "10.90.0.0/16");
        assert_eq!(s.gateway(), Ipv4Addr::new(10, 90, 0, 1));
        assert_eq!(s.hosts().next(), Some(Ipv4Addr::new(10, 90, 0, 2)));
        let small = Subnet::parse("192.168.5.0/30").unwrap();
        assert_eq!(
            small.hosts().collect::<Vec<_>>(),
            vec![Ipv4Addr::new(192, 168, 5, 2)]
        );
        assert!(Subnet::parse("10.0.0.0/33").is_none());
        assert!(Subnet::parse("nonsense").is_none());
    }
}

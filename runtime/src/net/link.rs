//! Links, addresses, routes and neighbours over rtnetlink, in place of the
//! `ip` processes the bridge network used to spawn: one socket per network
//! namespace instead of one process per batch. Every request is built here
//! in the shape iproute2 sends for the same command (noted on each), so
//! the kernel ends up with what `ip` would have made: for instance no
//! broadcast address on `addr add` and `proto boot` on `route add`, which
//! rtnetlink's own builders would set differently.
//!
//! The requests are async (rtnetlink is), but their callers are not: a
//! [`Netlink`] owns a tokio current-thread runtime that exists for the
//! duration of one setup or teardown and is driven with
//! [`Netlink::block_on`].

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;
use std::path::Path;

use futures_util::StreamExt;
use rtnetlink::packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE,
    NLM_F_REQUEST,
};
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkMessage};
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};
use rtnetlink::packet_route::route::{RouteMessage, RouteProtocol};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::sys::{protocols::NETLINK_ROUTE, AsyncSocket, TokioSocket};
use rtnetlink::{LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};

use super::netns;

/// A MAC address. Written as `ip` prints it (lower-case, colon-separated),
/// which is how state files and checkpoint archives have always held it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mac(pub [u8; 6]);

/// Why a string is not a MAC address.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a MAC address")]
pub struct BadMac(pub String);

impl Mac {
    /// `02:42:0a:5a:00:05` (either case); nothing but six two-digit hex
    /// octets.
    pub fn parse(s: &str) -> Result<Self, BadMac> {
        let bad = || BadMac(s.to_string());
        let mut mac = [0u8; 6];
        let mut parts = s.split(':');
        for b in &mut mac {
            let p = parts.next().ok_or_else(bad)?;
            if p.len() != 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        match parts.next() {
            None => Ok(Self(mac)),
            Some(_) => Err(bad()),
        }
    }
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl std::str::FromStr for Mac {
    type Err = BadMac;
    fn from_str(s: &str) -> Result<Self, BadMac> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Mac {
    type Error = BadMac;
    fn try_from(s: String) -> Result<Self, BadMac> {
        Self::parse(&s)
    }
}

impl From<Mac> for String {
    fn from(m: Mac) -> String {
        m.to_string()
    }
}

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.to_io().raw_os_error(),
        _ => None,
    }
}

/// What [`Conn::link`] reports about an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub mac: Option<Mac>,
}

fn link_of(m: &LinkMessage) -> Link {
    let mac = m.attributes.iter().find_map(|a| match a {
        LinkAttribute::Address(b) => <[u8; 6]>::try_from(b.as_slice()).ok().map(Mac),
        _ => None,
    });
    Link {
        index: m.header.index,
        mac,
    }
}

// ---- the requests, as iproute2 builds them ----

/// `ip link add name NAME address MAC type bridge` (left down, as there).
pub fn bridge_message(name: &str, mac: Mac) -> LinkMessage {
    LinkMessageBuilder::<LinkBridge>::new(name)
        .address(mac.0.to_vec())
        .build()
}

/// `ip link add HOST type veth peer name PEER address MAC netns NS` and
/// `ip link set HOST master BRIDGE up` in one request: the kernel enslaves
/// and raises a link it creates when asked in the same message. The peer
/// is a link message of its own inside IFLA_INFO_DATA, which rtnetlink's
/// veth builder fills with a name only: the peer's MAC and its namespace
/// (IFLA_NET_NS_FD) are added here, so eth0 is born in the container's
/// namespace and never appears on the host.
pub fn veth_message(
    host: &str,
    bridge: u32,
    peer: &str,
    peer_mac: Mac,
    netns: RawFd,
) -> LinkMessage {
    let peer = LinkUnspec::new_with_name(peer)
        .address(peer_mac.0.to_vec())
        .setns_by_fd(netns)
        .build();
    LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(host)
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .controller(bridge)
        .up()
        .build()
}

/// `ip link set NAME up`.
pub fn up_message(name: &str) -> LinkMessage {
    LinkUnspec::new_with_name(name).up().build()
}

/// `ip link set NAME address MAC`.
pub fn mac_message(name: &str, mac: Mac) -> LinkMessage {
    LinkUnspec::new_with_name(name)
        .address(mac.0.to_vec())
        .build()
}

/// `ip addr add IP/LEN dev INDEX`: IFA_LOCAL and IFA_ADDRESS, no
/// broadcast (rtnetlink's builder would add one).
pub fn address_message(index: u32, ip: Ipv4Addr, len: u8) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.prefix_len = len;
    m.header.index = index;
    m.attributes = vec![
        AddressAttribute::Local(IpAddr::V4(ip)),
        AddressAttribute::Address(IpAddr::V4(ip)),
    ];
    m
}

/// `ip route add default via GW`: main table, `proto boot` (iproute2's
/// default; rtnetlink's builder says static), the kernel picks the device.
pub fn default_route_message(gateway: Ipv4Addr) -> RouteMessage {
    RouteMessageBuilder::<Ipv4Addr>::new()
        .gateway(gateway)
        .protocol(RouteProtocol::Boot)
        .build()
}

/// `ip neigh replace IP lladdr MAC dev INDEX nud reachable`.
pub fn neigh_message(index: u32, ip: Ipv4Addr, mac: Mac) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.ifindex = index;
    m.header.state = NeighbourState::Reachable;
    m.attributes = vec![
        NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)),
        NeighbourAttribute::LinkLayerAddress(mac.0.to_vec()),
    ];
    m
}

const CREATE: u16 = NLM_F_CREATE | NLM_F_EXCL;
const REPLACE: u16 = NLM_F_CREATE | NLM_F_REPLACE;

// ---- runtime and connections ----

/// The runtime that drives rtnetlink for one operation. Connections made
/// from it ([`Netlink::connect`], [`Netlink::connect_in`]) live as long
/// as it does. Its callers are synchronous (the engine, the monitor): tokio
/// refuses a `block_on` from inside another runtime's task.
pub struct Netlink {
    rt: tokio::runtime::Runtime,
}

impl Netlink {
    pub fn new() -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        Ok(Self { rt })
    }

    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// A netlink socket registered with this runtime, bound to the network
    /// namespace of the calling thread: call it from a thread inside
    /// [`netns::create`] or [`netns::enter`] to talk to that namespace.
    pub fn socket(&self) -> io::Result<TokioSocket> {
        let _rt = self.rt.enter();
        TokioSocket::new(NETLINK_ROUTE)
    }

    /// A connection over `socket`.
    pub fn conn(&self, socket: TokioSocket) -> Conn {
        let (connection, handle, _) = rtnetlink::from_socket(socket);
        self.rt.spawn(connection);
        Conn { handle }
    }

    /// A connection in this thread's (the host's) namespace.
    pub fn connect(&self) -> io::Result<Conn> {
        Ok(self.conn(self.socket()?))
    }

    /// A connection in the named namespace at `path`.
    pub fn connect_in(&self, path: &Path) -> Result<Conn, netns::Error> {
        netns::enter(path, || self.socket()).map(|s| self.conn(s))
    }
}

/// One rtnetlink connection, and so one network namespace.
pub struct Conn {
    handle: rtnetlink::Handle,
}

impl Conn {
    /// Sends one request and waits for the kernel's acknowledgement.
    async fn request(&self, msg: RouteNetlinkMessage, flags: u16) -> Result<(), rtnetlink::Error> {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        let mut replies = self.handle.clone().request(req)?;
        while let Some(m) = replies.next().await {
            if let NetlinkPayload::Error(e) = m.payload {
                if e.code.is_some() {
                    return Err(rtnetlink::Error::NetlinkError(e));
                }
            }
        }
        Ok(())
    }

    /// The interface `name`, or None if there is none.
    pub async fn link(&self, name: &str) -> Result<Option<Link>, rtnetlink::Error> {
        let mut replies = self.handle.link().get().match_name(name).execute();
        match replies.next().await {
            Some(Ok(m)) => Ok(Some(link_of(&m))),
            Some(Err(e)) if errno(&e) == Some(libc::ENODEV) => Ok(None),
            Some(Err(e)) => Err(e),
            None => Ok(None),
        }
    }

    pub async fn add_bridge(&self, name: &str, mac: Mac) -> Result<(), rtnetlink::Error> {
        self.request(
            RouteNetlinkMessage::NewLink(bridge_message(name, mac)),
            CREATE,
        )
        .await
    }

    pub async fn add_veth(
        &self,
        host: &str,
        bridge: u32,
        peer: &str,
        peer_mac: Mac,
        netns: RawFd,
    ) -> Result<(), rtnetlink::Error> {
        let m = veth_message(host, bridge, peer, peer_mac, netns);
        self.request(RouteNetlinkMessage::NewLink(m), CREATE).await
    }

    pub async fn set_up(&self, name: &str) -> Result<(), rtnetlink::Error> {
        self.request(RouteNetlinkMessage::SetLink(up_message(name)), 0)
            .await
    }

    pub async fn set_mac(&self, name: &str, mac: Mac) -> Result<(), rtnetlink::Error> {
        self.request(RouteNetlinkMessage::SetLink(mac_message(name, mac)), 0)
            .await
    }

    pub async fn add_address(
        &self,
        index: u32,
        ip: Ipv4Addr,
        len: u8,
    ) -> Result<(), rtnetlink::Error> {
        let m = address_message(index, ip, len);
        self.request(RouteNetlinkMessage::NewAddress(m), CREATE)
            .await
    }

    pub async fn add_default_route(&self, gateway: Ipv4Addr) -> Result<(), rtnetlink::Error> {
        let m = default_route_message(gateway);
        self.request(RouteNetlinkMessage::NewRoute(m), CREATE).await
    }

    pub async fn replace_neigh(
        &self,
        index: u32,
        ip: Ipv4Addr,
        mac: Mac,
    ) -> Result<(), rtnetlink::Error> {
        let m = neigh_message(index, ip, mac);
        self.request(RouteNetlinkMessage::NewNeighbour(m), REPLACE)
            .await
    }

    /// `ip link del NAME`; false if there was no such link.
    pub async fn delete_link(&self, name: &str) -> Result<bool, rtnetlink::Error> {
        let m = LinkUnspec::new_with_name(name).build();
        match self.request(RouteNetlinkMessage::DelLink(m), 0).await {
            Ok(()) => Ok(true),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtnetlink::packet_core::{Emitable, Parseable};
    use rtnetlink::packet_route::link::{LinkFlags, LinkInfo};

    #[test]
    fn macs_round_trip_and_junk_is_refused() {
        let m = Mac::parse("02:42:0a:5a:00:05").unwrap();
        assert_eq!(m, Mac([2, 0x42, 10, 0x5a, 0, 5]));
        assert_eq!(m.to_string(), "02:42:0a:5a:00:05");
        assert_eq!(Mac::parse("02:42:0A:5A:00:05").unwrap(), m);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, "\"02:42:0a:5a:00:05\"", "as state files hold it");
        assert_eq!(serde_json::from_str::<Mac>(&json).unwrap(), m);
        for bad in [
            "",
            "02:42:0a:5a:00",
            "02:42:0a:5a:00:05:06",
            "2:42:0a:5a:00:05",
            "zz:42:0a:5a:00:05",
            "02-42-0a-5a-00-05",
            "+2:42:0a:5a:00:05",
        ] {
            assert!(Mac::parse(bad).is_err(), "{bad:?}");
        }
    }

    /// Serialises and parses back, as the kernel would read it.
    fn wire(m: &LinkMessage) -> LinkMessage {
        let mut buf = vec![0u8; m.buffer_len()];
        m.emit(&mut buf);
        LinkMessage::parse(buf.as_slice()).unwrap()
    }

    #[test]
    fn veth_peer_carries_name_mac_and_namespace() {
        let mac = Mac::parse("02:42:0a:5a:00:05").unwrap();
        let m = wire(&veth_message("vv0123456789ab", 7, "eth0", mac, 42));
        assert!(m.header.flags.contains(LinkFlags::Up));
        assert!(m.header.change_mask.contains(LinkFlags::Up));
        let attrs = &m.attributes;
        assert!(attrs.contains(&LinkAttribute::IfName("vv0123456789ab".into())));
        assert!(attrs.contains(&LinkAttribute::Controller(7)));
        let info = attrs
            .iter()
            .find_map(|a| match a {
                LinkAttribute::LinkInfo(i) => Some(i),
                _ => None,
            })
            .expect("IFLA_LINKINFO");
        assert!(info.contains(&LinkInfo::Kind(InfoKind::Veth)));
        let peer = info
            .iter()
            .find_map(|i| match i {
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))) => Some(p),
                _ => None,
            })
            .expect("VETH_INFO_PEER");
        assert_eq!(peer.header.index, 0);
        assert!(peer
            .attributes
            .contains(&LinkAttribute::IfName("eth0".into())));
        assert!(peer
            .attributes
            .contains(&LinkAttribute::Address(mac.0.to_vec())));
        assert!(peer.attributes.contains(&LinkAttribute::NetNsFd(42)));
        assert_eq!(
            link_of(&m).mac,
            None,
            "the MAC is the peer's, not the host side's"
        );
    }

    #[test]
    fn bridge_is_created_down_with_its_fixed_mac() {
        let mac = Mac([2, 0x76, 10, 0x5a, 0, 1]);
        let m = wire(&bridge_message("vouch0", mac));
        assert!(!m.header.flags.contains(LinkFlags::Up));
        assert!(m
            .attributes
            .contains(&LinkAttribute::IfName("vouch0".into())));
        assert_eq!(link_of(&m).mac, Some(mac));
        assert!(m.attributes.iter().any(|a| matches!(a, LinkAttribute::LinkInfo(i) if i.contains(&LinkInfo::Kind(InfoKind::Bridge)))));
    }

    #[test]
    fn address_route_and_neighbour_match_iproute2() {
        let a = address_message(2, Ipv4Addr::new(10, 90, 0, 5), 16);
        assert_eq!((a.header.index, a.header.prefix_len), (2, 16));
        assert_eq!(a.header.family, AddressFamily::Inet);
        assert_eq!(
            a.attributes.len(),
            2,
            "local and address, no broadcast: {a:?}"
        );

        let r = default_route_message(Ipv4Addr::new(10, 90, 0, 1));
        assert_eq!(r.header.destination_prefix_length, 0);
        assert_eq!(r.header.protocol, RouteProtocol::Boot);
        assert_eq!(
            r.header.table,
            rtnetlink::packet_route::route::RouteHeader::RT_TABLE_MAIN
        );
        assert_eq!(r.attributes.len(), 1, "only RTA_GATEWAY: {r:?}");

        let mac = Mac([2, 0x42, 10, 0x5a, 0, 5]);
        let n = neigh_message(5, Ipv4Addr::new(10, 90, 0, 5), mac);
        assert_eq!(n.header.state, NeighbourState::Reachable);
        assert_eq!(n.header.ifindex, 5);
        assert!(n
            .attributes
            .contains(&NeighbourAttribute::LinkLayerAddress(mac.0.to_vec())));
    }

    #[test]
    fn kernel_errors_read_as_errno_text() {
        let mut m = rtnetlink::packet_core::ErrorMessage::default();
        m.code = std::num::NonZeroI32::new(-libc::EEXIST);
        let e = rtnetlink::Error::NetlinkError(m);
        assert_eq!(errno(&e), Some(libc::EEXIST));
        let s = vouch_image::chain::one_line(&super::super::NetError::netlink("adding x", &e));
        assert!(s.starts_with("adding x: File exists"), "{s}");
    }
}

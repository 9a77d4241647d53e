//! Why setting up or restoring a container's network failed: the step, with
//! the kernel's, nft's or the environment's complaint as the source (the
//! container is named by [`crate::RuntimeError::Network`] around it).

use std::io;
use std::net::Ipv4Addr;

use super::{netns, nft, Subnet};

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("config: VOUCH_BRIDGE {0:?} is not a valid interface name")]
    BadBridge(String),
    #[error("config: VOUCH_SUBNET {0:?} is not an IPv4 subnet like 10.90.0.0/16")]
    BadSubnet(String),
    #[error("address: {ip} is taken by {owner}")]
    AddressTaken { ip: Ipv4Addr, owner: String },
    #[error("address allocation: subnet {0} is full")]
    SubnetFull(Subnet),
    /// A netlink request was refused or could not be made; the source is
    /// the kernel's errno when it refused.
    #[error("{step}")]
    Netlink {
        step: String,
        #[source]
        source: io::Error,
    },
    #[error("{step}")]
    Netns {
        step: &'static str,
        #[source]
        source: netns::Error,
    },
    #[error("sysctl {path}")]
    Sysctl {
        path: String,
        #[source]
        source: io::Error,
    },
    /// Something the kernel reported made is not there.
    #[error("{step}: {what}")]
    Missing { step: String, what: String },
    #[error("{step}")]
    Nft {
        step: &'static str,
        #[source]
        source: nft::NftError,
    },
}

impl NetError {
    /// A failed rtnetlink request of `step`: the kernel's errno as an
    /// io::Error when the kernel refused ("File exists (os error 17)"),
    /// rtnetlink's own text otherwise.
    pub fn netlink(step: impl Into<String>, e: &rtnetlink::Error) -> Self {
        let source = match e {
            rtnetlink::Error::NetlinkError(m) => m.to_io(),
            other => io::Error::other(other.to_string().replace('\n', " ")),
        };
        Self::Netlink {
            step: step.into(),
            source,
        }
    }
}

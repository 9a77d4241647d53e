//! The shared vocabulary of vouch: image references, digests, manifests, the
//! registry client, the local image store and layer unpacking.
//!
//! Every other crate (sign, verify, runtime, the CLI) speaks in these types,
//! so the dependency arrows point one way: CLI → crates → image.

pub mod apply;
pub mod archive;
pub mod attach;
pub mod auth;
pub mod certs;
pub mod chain;
pub mod digest;
pub mod docker_ref;
pub mod go_json;
pub mod id;
pub mod import;
pub mod lists;
pub mod manifest;
pub mod manifest_digest;
pub mod outfile;
pub mod pull;
pub mod push;
pub mod reference;
pub mod referrers;
pub mod registry;
pub mod remote;
pub mod sign_in_place;
pub mod sigstore_blob;
pub mod store;
pub mod unpack;

pub use digest::Digest;
pub use id::ImageId;
pub use reference::{ImageRef, RefError};
pub use store::{ImageRecord, Store};

//! The shared vocabulary of vouch: image references, digests, manifests, the
//! registry client, the local image store and layer unpacking.
//!
//! Every other crate (sign, verify, runtime, the CLI) speaks in these types,
//! so the dependency arrows point one way: CLI → crates → image.

pub mod reference;
pub mod unpack;

pub use reference::{ImageRef, RefError};

//! Copying images between transports, as skopeo's `copy` and `sync` do:
//! the source's policy is checked before the destination sees a byte,
//! blobs stream through a digest check, and signatures travel with the
//! manifest they were made over.
//!
//! A crate of its own because copying needs both the image layer (registry
//! client, manifests, store) and the verify layer (policy, lookaside,
//! registries.d); neither of those may depend on the other's writers.

pub mod dir;
pub mod docker;
pub mod docker_archive;
pub mod endpoint;
pub mod engine;
pub mod error;
pub mod local;
pub mod local_store;
mod localfs;
pub mod name;
pub mod oci_archive;
pub mod oci_layout;
pub mod open;
pub mod staging;
pub mod sync;
mod tar_safety;
pub mod verified;

pub use endpoint::{BlobStream, Dest, RawManifest, Source};
pub use error::CopyError;
pub use local::{open_local_dest, open_local_source};
pub use name::ImageName;

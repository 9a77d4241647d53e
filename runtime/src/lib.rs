//! vouch-runtime: runs images from the vouch store the way podman does,
//! without a daemon. The engine writes an OCI bundle (oci-spec) whose root
//! is an overlay of the image's layers, drives an OCI runtime binary (runc
//! by default) behind [`oci::OciRuntime`], and leaves each container to a
//! small monitor process (the `vouch-monitor` crate and executable) that
//! owns its stdio, log, ports and exit status.
//! State is files: see [`state`] and docs/runtime.md.

pub mod checkpoint;
pub mod defaults;
pub mod engine;
pub mod error;
pub mod id;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
pub mod net;
pub mod oci;
pub mod rootfs;
pub mod run;
pub mod seccomp;
pub mod signal;
pub mod spec;
pub mod state;
pub mod sys;
pub mod tools;
pub mod top;
pub mod user;

pub use engine::{CreateOptions, Engine};
pub use error::{Result, RuntimeError};

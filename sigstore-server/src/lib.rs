//! sigstore-server: an HTTP(S) server for containers/image "lookaside"
//! signature storage, replacing `python3 -m http.server` of the podman
//! tutorial for reading, and adding authenticated write-once publishing.
//!
//! Reading: `GET`/`HEAD /<repo>@<algo>=<hex>/signature-N`, with strong
//! ETags, `If-None-Match` and `Cache-Control`; 404 ends a client's scan.
//! Writing: `POST …/signatures` (next free N) or `PUT …/signature-N` with
//! `If-None-Match: *`, authorised by bearer tokens limited to repository
//! prefixes ([`tokens`]) and checked to be a signature of the digest in the
//! path ([`check`]). Files are published atomically ([`fsops`]).
//!
//! Layering: [`target`], [`path`] (pure grammar) → [`store`]/[`fsops`] (files) →
//! [`api`] (HTTP) → [`server`] (sockets; bound, or inherited through
//! [`activation`]) → [`cli`] (process, with [`notify`] for systemd). Tests drive
//! [`api::app`] with `tower::ServiceExt::oneshot`, and the binary over real
//! sockets (`tests/sigstore_server*.rs`). User documentation:
//! docs/sigstore-server.md.

pub mod activation;
pub mod api;
pub mod cache;
pub mod check;
pub mod cli;
pub mod fsops;
pub mod logbuf;
pub mod metrics;
pub mod notify;
pub mod observe;
pub mod path;
pub mod server;
pub mod store;
pub mod target;
pub mod tokens;

pub use api::{app, ApiError, AppConfig, AppState};
pub use check::{Rejection, SignerInfo, UploadCheck};
pub use server::{serve, ServeOptions};

//! podman's `image trust set` and `image trust show` as a library: editing
//! policy.json the way podman's pkg/trust does ([`edit`]) and describing it
//! the way podman shows it ([`describe`]), byte for byte ([`go_json`]).

pub mod describe;
pub mod edit;
mod go_json;

pub use describe::{describe, render_json, render_table, shown_uid, KeyRef, Row};
pub use edit::{set, validate_scope, EditError, SetRequest, TrustType};

//! The paranoid JSON layer shared by policy.json parsing, signature payload
//! parsing and (later) the policy linter.
//!
//! `parse` turns bytes into a position-carrying tree that keeps duplicate
//! members and reproduces Go's syntax errors; `reader` walks that tree with
//! containers/image's strictness and locates every error by key path and
//! line:column. serde's `deny_unknown_fields` misses duplicate keys, which is
//! why this layer exists.

pub mod parse;
pub mod reader;

pub use parse::{Pos, Spanned, SyntaxError, Value};
pub use reader::{parse_document, At, JsonError, JsonErrorKind, JsonPath, Located, Obj};

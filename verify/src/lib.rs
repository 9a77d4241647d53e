//! vouch-verify: deciding whether an image's simple signatures are trusted.
pub mod docker_ref;
pub mod json;
pub mod keyring;
pub mod mechanism;
pub mod sniff;
#[cfg(test)]
mod test_support;
pub mod untrusted;
#[cfg(test)]
mod untrusted_tests;
pub mod signature;
pub mod policy;
pub mod lookaside;
pub mod registries_d;
pub mod standalone;

//! Entry points for the fuzz targets in `fuzz/`; not an API.
//!
//! The payload parser is crate-private because in the product only bytes
//! the OpenPGP layer verified may reach it; fuzzing it through signed
//! messages would never get past the signature, so it is exposed here as is.

use crate::untrusted::{PayloadError, UntrustedSimpleSigning};

/// `UntrustedSimpleSigning::parse`, unchanged.
pub fn parse_payload(bytes: &[u8]) -> Result<UntrustedSimpleSigning, PayloadError> {
    UntrustedSimpleSigning::parse(bytes)
}

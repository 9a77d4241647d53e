//! Layer unpacking (in progress).

//! sigstore-server: filled in by its own issue.

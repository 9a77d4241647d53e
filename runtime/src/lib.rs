//! vouch-runtime: filled in by its own issue.

//! vouch-sign: filled in by its own issue.

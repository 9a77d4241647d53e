//! vouch-verify: filled in by its own issue.

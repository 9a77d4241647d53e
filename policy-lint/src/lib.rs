//! policy-lint: filled in by its own issue.

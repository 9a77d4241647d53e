//! An error and its causes as one line. Library errors print only their own
//! step and leave the cause to [`std::error::Error::source`], so whoever
//! turns one into text (the CLI, a message stored in a String, a test) walks
//! the chain here and every cause appears exactly once.

use std::error::Error;

/// `e: cause: cause's cause`, joined with `": "`.
pub fn one_line(e: &dyn Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(c) = next {
        out.push_str(": ");
        out.push_str(&c.to_string());
        next = c.source();
    }
    out
}

/// [`one_line`] as a method, for callers (tests above all) that would
/// otherwise write `e.to_string()` and lose the causes.
pub trait OneLine {
    fn one_line(&self) -> String;
}

impl<E: Error> OneLine for E {
    fn one_line(&self) -> String {
        one_line(self)
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("reading {0}")]
    struct Outer(&'static str, #[source] std::io::Error);

    #[test]
    fn every_cause_once_in_order() {
        let e = Outer("x", std::io::Error::other("disk on fire"));
        assert_eq!(super::one_line(&e), "reading x: disk on fire");
        use super::OneLine;
        assert_eq!(e.one_line(), "reading x: disk on fire");
    }
}

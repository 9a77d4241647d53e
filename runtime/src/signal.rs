//! Signals as `stop`, `kill` and an image's StopSignal name them: podman
//! accepts `SIGTERM`, `TERM`, `term` and `15`, and real-time signals by
//! number, so the type holds any number 1..=64 rather than only the
//! signals nix names.

use std::fmt;

/// A signal number in 1..=64. Serialized as the number, as state files
/// have always held `stop_signal`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "i32", into = "i32")]
pub struct Signal(i32);

/// Why a string or number is not a signal.
#[derive(Debug, thiserror::Error)]
#[error("invalid signal {0:?}")]
pub struct BadSignal(pub String);

impl Signal {
    pub const TERM: Signal = Signal(libc::SIGTERM);
    pub const KILL: Signal = Signal(libc::SIGKILL);

    /// `SIGTERM`, `TERM`, `term`, `15` → 15.
    pub fn parse(s: &str) -> Result<Self, BadSignal> {
        let bad = || BadSignal(s.to_string());
        if let Ok(n) = s.parse::<i32>() {
            return Self::try_from(n).map_err(|_| bad());
        }
        let up = s.to_ascii_uppercase();
        let name = if up.starts_with("SIG") {
            up
        } else {
            format!("SIG{up}")
        };
        name.parse::<nix::sys::signal::Signal>()
            .map(|s| Self(s as i32))
            .map_err(|_| bad())
    }
    pub fn as_raw(self) -> i32 {
        self.0
    }
}

impl TryFrom<i32> for Signal {
    type Error = BadSignal;
    fn try_from(n: i32) -> Result<Self, BadSignal> {
        if (1..=64).contains(&n) {
            Ok(Self(n))
        } else {
            Err(BadSignal(n.to_string()))
        }
    }
}

impl From<Signal> for i32 {
    fn from(s: Signal) -> i32 {
        s.0
    }
}

impl std::str::FromStr for Signal {
    type Err = BadSignal;
    fn from_str(s: &str) -> Result<Self, BadSignal> {
        Self::parse(s)
    }
}

/// The number, as `{:?}` printed it when signals were i32.
impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// The name when nix knows one (`SIGTERM`), else the number.
impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match nix::sys::signal::Signal::try_from(self.0) {
            Ok(s) => f.write_str(s.as_str()),
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_sig_and_numbers() {
        assert_eq!(Signal::parse("TERM").unwrap(), Signal::TERM);
        assert_eq!(Signal::parse("sigkill").unwrap(), Signal::KILL);
        assert_eq!(Signal::parse("9").unwrap(), Signal::KILL);
        assert_eq!(Signal::parse("40").unwrap().as_raw(), 40);
        for bad in ["NOPE", "0", "65", "-9", ""] {
            assert!(Signal::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Signal::TERM.to_string(), "SIGTERM");
        assert_eq!(serde_json::to_string(&Signal::TERM).unwrap(), "15");
        assert_eq!(serde_json::from_str::<Signal>("9").unwrap(), Signal::KILL);
        assert!(serde_json::from_str::<Signal>("0").is_err());
    }
}

//! Go's `time.Time` in JSON: read as RFC 3339, written back as
//! `RFC3339Nano` in the offset it was read with (fraction without trailing
//! zeros, `Z` for a zero offset), which is how skopeo prints `Created`.

use chrono::{DateTime, FixedOffset, Timelike};

/// A parsed timestamp, kept in its own offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoTime(DateTime<FixedOffset>);

/// Go's zero `time.Time`, what an absent non-pointer `created` becomes.
pub const ZERO: &str = "0001-01-01T00:00:00Z";

impl GoTime {
    /// Parses an RFC 3339 timestamp; `None` when Go would refuse it.
    pub fn parse(s: &str) -> Option<Self> {
        // Go's layout wants an upper-case `T` and `Z`, and Go refuses a
        // leap second (`:60`), which chrono reads.
        let b = s.as_bytes();
        if b.get(10) != Some(&b'T') || s.contains('z') || b.get(17..19) == Some(b"60".as_slice()) {
            return None;
        }
        DateTime::parse_from_rfc3339(s).ok().map(Self)
    }

    /// `t.Format(time.RFC3339Nano)`.
    pub fn format(&self) -> String {
        let t = &self.0;
        let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
        let nanos = t.nanosecond() % 1_000_000_000;
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        let offset = t.offset().local_minus_utc();
        if offset == 0 {
            out.push('Z');
        } else {
            let sign = if offset < 0 { '-' } else { '+' };
            let a = offset.unsigned_abs();
            out.push_str(&format!("{sign}{:02}:{:02}", a / 3600, (a / 60) % 60));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_go_rfc3339nano() {
        for (input, want) in [
            ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
            ("2024-01-02T03:04:05.120000000Z", "2024-01-02T03:04:05.12Z"),
            ("2024-01-02T03:04:05.000Z", "2024-01-02T03:04:05Z"),
            (
                "2024-01-02T03:04:05.123456789+05:30",
                "2024-01-02T03:04:05.123456789+05:30",
            ),
            ("2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05Z"),
            ("2024-01-02T03:04:05-07:00", "2024-01-02T03:04:05-07:00"),
        ] {
            assert_eq!(GoTime::parse(input).unwrap().format(), want, "{input}");
        }
        assert!(GoTime::parse("2024-01-02 03:04:05Z").is_none());
        assert!(GoTime::parse("yesterday").is_none());
        // Found by the remote_inspect fuzz target: what Go's time.Parse
        // refuses and chrono reads.
        assert!(GoTime::parse("2024-01-02T23:59:60Z").is_none());
        assert!(GoTime::parse("2024-01-02T03:04:05z").is_none());
    }
}

//! The metadata of one tar entry, read from its header and PAX records
//! before anything is written.

use std::ffi::CString;
use std::io::{self, Read};

use nix::sys::time::TimeSpec;

use super::context::{stream, Ctx};
use super::{Refusal, UnpackError};

const XATTR_PAX_PREFIX: &[u8] = b"SCHILY.xattr.";

/// Metadata every entry type carries.
pub(super) struct Meta {
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) mtime: TimeSpec,
    pub(super) xattrs: Vec<(CString, Vec<u8>)>,
}

pub(super) fn read_meta<R: Read>(
    cx: &Ctx,
    entry: &mut tar::Entry<'_, R>,
) -> Result<Meta, UnpackError> {
    let header = entry.header();
    let raw = header.as_old();
    let mode = numeric(&raw.mode, header.mode()).map_err(cx.header())? & 0o7777;
    let uid = id(cx, numeric(&raw.uid, header.uid()))?;
    let gid = id(cx, numeric(&raw.gid, header.gid()))?;
    let secs = numeric(&raw.mtime, header.mtime()).map_err(cx.header())?;
    let mut mtime = TimeSpec::new(i64::try_from(secs).unwrap_or(i64::MAX), 0);
    let mut xattrs = Vec::new();
    if let Some(pax) = entry.pax_extensions().map_err(stream)? {
        for ext in pax {
            let ext = ext.map_err(cx.header())?;
            let key = ext.key_bytes();
            if key == b"mtime" {
                mtime = parse_pax_time(ext.value_bytes()).unwrap_or(mtime);
            } else if let Some(name) = key.strip_prefix(XATTR_PAX_PREFIX) {
                if let Some(xattr) = wanted_xattr(cx, name)? {
                    xattrs.push((xattr, ext.value_bytes().to_vec()));
                }
            }
        }
    }
    Ok(Meta {
        mode,
        uid,
        gid,
        mtime,
        xattrs,
    })
}

/// Major and minor number of a device entry.
pub(super) fn device_numbers(cx: &Ctx, header: &tar::Header) -> Result<(u32, u32), UnpackError> {
    let (major, minor) = match (header.as_ustar(), header.as_gnu()) {
        (Some(h), _) => (&h.dev_major, &h.dev_minor),
        (None, Some(h)) => (&h.dev_major, &h.dev_minor),
        (None, None) => return Ok((0, 0)),
    };
    let major = numeric(major, header.device_major().map(Option::unwrap_or_default));
    let minor = numeric(minor, header.device_minor().map(Option::unwrap_or_default));
    Ok((major.map_err(cx.header())?, minor.map_err(cx.header())?))
}

/// Go's archive/tar, which wrote most layers and reads them for podman,
/// takes a blank numeric field (all NUL or spaces) as 0 where the tar crate
/// reports an error; follow Go.
fn numeric<T: Default>(field: &[u8], parsed: io::Result<T>) -> io::Result<T> {
    match parsed {
        Err(_) if field.iter().all(|&b| b == 0 || b == b' ') => Ok(T::default()),
        other => other,
    }
}

fn id(cx: &Ctx, value: io::Result<u64>) -> Result<u32, UnpackError> {
    let value = value.map_err(cx.header())?;
    u32::try_from(value)
        .map_err(|_| cx.header()(io::Error::other(format!("id {value} out of range"))))
}

/// Only `user.*` and `security.capability` are applied: `trusted.*` and
/// `user.overlay.*` would let a layer forge overlayfs metadata (redirects,
/// opaque markers) and `security.*` labels belong to the host's policy.
fn wanted_xattr(cx: &Ctx, name: &[u8]) -> Result<Option<CString>, UnpackError> {
    let wanted = (name.starts_with(b"user.") && !name.starts_with(b"user.overlay."))
        || name == b"security.capability";
    if !wanted {
        tracing::debug!(path = %cx.path(), xattr = %String::from_utf8_lossy(name), "ignoring xattr");
        return Ok(None);
    }
    CString::new(name)
        .map(Some)
        .map_err(|_| cx.refused(Refusal::NulByte))
}

/// PAX times are decimal seconds with an optional fraction ("1700000000.5").
fn parse_pax_time(value: &[u8]) -> Option<TimeSpec> {
    let text = std::str::from_utf8(value).ok()?;
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_only(whole) || !digits_only(frac) {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nanos: i64 = digits.parse().ok()?;
    Some(match (negative, nanos) {
        (false, _) => TimeSpec::new(secs, nanos),
        (true, 0) => TimeSpec::new(-secs, 0),
        (true, _) => TimeSpec::new(-secs - 1, 1_000_000_000 - nanos),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        assert_eq!(
            parse_pax_time(b"1700000000"),
            Some(TimeSpec::new(1_700_000_000, 0))
        );
        assert_eq!(
            parse_pax_time(b"1700000000.5"),
            Some(TimeSpec::new(1_700_000_000, 500_000_000))
        );
        assert_eq!(
            parse_pax_time(b"-1.25"),
            Some(TimeSpec::new(-2, 750_000_000))
        );
        assert_eq!(parse_pax_time(b"12.3x"), None);
        assert_eq!(parse_pax_time(b"--5"), None);
        assert_eq!(parse_pax_time(b".5"), None);
    }
}

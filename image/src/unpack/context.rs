//! Error context for one tar entry: every failure names the entry as it
//! appeared in the tarball, which is what a user can look for.

use std::io;

use nix::errno::Errno;

use super::{Refusal, UnpackError};

/// The entry name as found in the tarball, for error messages.
pub(super) struct Ctx<'a> {
    pub(super) raw: &'a [u8],
}

impl Ctx<'_> {
    pub(super) fn path(&self) -> String {
        String::from_utf8_lossy(self.raw).into_owned()
    }

    pub(super) fn refused(&self, reason: Refusal) -> UnpackError {
        UnpackError::Refused {
            path: self.path(),
            reason,
        }
    }

    pub(super) fn io(&self, op: &'static str) -> impl FnOnce(Errno) -> UnpackError + '_ {
        move |errno| UnpackError::Io {
            path: self.path(),
            op,
            source: errno.into(),
        }
    }

    pub(super) fn header(&self) -> impl FnOnce(io::Error) -> UnpackError + '_ {
        move |source| UnpackError::Header {
            path: self.path(),
            source,
        }
    }

    pub(super) fn privilege(
        &self,
        what: &'static str,
        op: &'static str,
        errno: Errno,
    ) -> UnpackError {
        if errno == Errno::EPERM {
            UnpackError::NeedsPrivilege {
                path: self.path(),
                what,
                source: errno.into(),
            }
        } else {
            self.io(op)(errno)
        }
    }

    /// Explains a failed walk to an entry's parent directory.
    pub(super) fn walk(&self, errno: Errno) -> UnpackError {
        match walk_refusal(errno) {
            Some(reason) => self.refused(reason),
            None => self.io("opening parent directory")(errno),
        }
    }
}

pub(super) fn walk_refusal(errno: Errno) -> Option<Refusal> {
    match errno {
        Errno::ELOOP => Some(Refusal::SymlinkInPath),
        Errno::ENOTDIR => Some(Refusal::ParentNotDirectory),
        Errno::ENOENT => Some(Refusal::Missing),
        _ => None,
    }
}

pub(super) fn stream(source: io::Error) -> UnpackError {
    UnpackError::Stream { source }
}

//! skopeo's progress lines for a copy: the same words on stdout, one line
//! per blob when the output is not a terminal (what skopeo prints to a
//! pipe), nothing with `-q`.

use std::io::Write;

use vouch_copy::engine::{Event, How, Report};

pub struct CopyReport {
    quiet: bool,
}

impl CopyReport {
    pub fn new(quiet: bool) -> Self {
        Self { quiet }
    }

    fn line(&self, s: &str) {
        if self.quiet {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", super::escape::escape(s));
    }
}

impl Report for CopyReport {
    fn event(&self, e: Event<'_>) {
        if let Some(l) = plain_line(&e) {
            self.line(&l);
        }
    }
}

/// skopeo's plain line for `e`, if it prints one.
pub fn plain_line(e: &Event<'_>) -> Option<String> {
    Some(match e {
        Event::GettingSignatures => "Getting image source signatures".to_string(),
        Event::Blob { kind, desc, how } => match how {
            How::Copied => format!("Copying {kind} {}", desc.digest),
            How::Mounted => format!("Copying {kind} {} (mounted)", desc.digest),
            How::Skipped => format!("Copying {kind} {} skipped: already exists", desc.digest),
        },
        Event::CopyingInstance {
            index,
            count,
            digest,
        } => format!("Copying image {digest} ({index}/{count})"),
        Event::WritingManifest => "Writing manifest to image destination".to_string(),
        Event::StoringSignatures => "Storing signatures".to_string(),
        Event::BlobDone { .. } => return None,
    })
}

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
        match e {
            Event::GettingSignatures => self.line("Getting image source signatures"),
            Event::Blob { kind, desc, how } => match how {
                How::Copied => self.line(&format!("Copying {kind} {}", desc.digest)),
                How::Mounted => self.line(&format!("Copying {kind} {} (mounted)", desc.digest)),
                How::Skipped => self.line(&format!(
                    "Copying {kind} {} skipped: already exists",
                    desc.digest
                )),
            },
            Event::CopyingInstance {
                index,
                count,
                digest,
            } => self.line(&format!("Copying image {digest} ({index}/{count})")),
            Event::WritingManifest => self.line("Writing manifest to image destination"),
            Event::StoringSignatures => self.line("Storing signatures"),
            Event::BlobDone { .. } => {}
        }
    }
}

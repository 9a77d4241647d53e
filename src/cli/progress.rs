//! skopeo's and podman's progress output for a copy: live per-blob bars
//! when the output is a terminal that can redraw (containers/image's mpb
//! bars, same words and layout), one plain line per step otherwise (what
//! skopeo prints to a pipe), nothing with `-q`.
//!
//! Every command that moves images through the copy engine gets its report
//! from [`for_output`]: skopeo's (copy, sync) on stdout, podman's
//! (`push --all`) on stderr, as each writes its report.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use vouch_copy::engine::{Event, How, Quiet, Report};
use vouch_image::Digest;

/// Where a command writes its progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// skopeo's copy and sync.
    Stdout,
    /// podman's push and pull.
    Stderr,
}

impl Stream {
    fn is_terminal(self) -> bool {
        match self {
            Stream::Stdout => std::io::stdout().is_terminal(),
            Stream::Stderr => std::io::stderr().is_terminal(),
        }
    }

    fn write_line(self, s: &str) {
        let s = super::escape::escape(s);
        let _ = match self {
            Stream::Stdout => writeln!(std::io::stdout().lock(), "{s}"),
            Stream::Stderr => writeln!(std::io::stderr().lock(), "{s}"),
        };
    }
}

/// The engine report for a command's `-q` and output stream, as
/// containers/image decides: bars only on a terminal (and not under
/// `TERM=dumb` or with no `TERM`, where redraws would show as garbage).
pub fn for_output(quiet: bool, to: Stream) -> Arc<dyn Report> {
    report(quiet, to, live(to))
}

/// Whether `to` shows live bars (a terminal that redraws).
pub fn live(to: Stream) -> bool {
    let term = std::env::var("TERM").ok();
    to.is_terminal() && can_redraw(term.as_deref())
}

/// The report for `-q`, the stream, and whether it can show live bars.
pub fn report(quiet: bool, to: Stream, live: bool) -> Arc<dyn Report> {
    match (quiet, live) {
        (true, _) => Arc::new(Quiet),
        (false, false) => Arc::new(Lines { to }),
        (false, true) => Arc::new(Bars::new(to)),
    }
}

/// Whether a terminal with this `TERM` redraws lines in place.
fn can_redraw(term: Option<&str>) -> bool {
    matches!(term, Some(t) if !t.is_empty() && t != "dumb")
}

/// The lines skopeo prints whatever the output: everything but the blobs.
fn step_line(e: &Event<'_>) -> Option<String> {
    match e {
        Event::GettingSignatures => Some("Getting image source signatures".into()),
        Event::CopyingInstance {
            index,
            count,
            digest,
        } => Some(format!("Copying image {digest} ({index}/{count})")),
        Event::WritingManifest => Some("Writing manifest to image destination".into()),
        Event::StoringSignatures => Some("Storing signatures".into()),
        Event::Blob { .. } | Event::Bytes { .. } | Event::BlobDone { .. } => None,
    }
}

/// Plain lines: one per blob as it starts, as skopeo writes to a pipe.
struct Lines {
    to: Stream,
}

impl Report for Lines {
    fn event(&self, e: Event<'_>) {
        if let Some(l) = plain_line(&e) {
            self.to.write_line(&l);
        }
    }
}

/// skopeo's plain line for `e`, if it prints one: a sync holds these per
/// image to print them in order.
pub fn plain_line(e: &Event<'_>) -> Option<String> {
    if let Some(l) = step_line(e) {
        return Some(l);
    }
    let Event::Blob { kind, desc, how } = e else {
        return None;
    };
    Some(match how {
        How::Copied => format!("Copying {kind} {}", desc.digest),
        How::Mounted => format!("Copying {kind} {} (mounted)", desc.digest),
        How::Skipped => format!("Copying {kind} {} skipped: already exists", desc.digest),
    })
}

/// Live bars, one per blob in flight. A finished blob's bar becomes its
/// final line above the live ones ("… done", "… skipped: already exists"),
/// so a long sync scrolls like skopeo's output instead of keeping every
/// bar on screen.
struct Bars {
    multi: MultiProgress,
    live: Mutex<HashMap<Digest, (ProgressBar, String)>>,
}

/// skopeo's bar is 40 columns with its brackets. No colour, as skopeo's
/// (so `NO_COLOR` holds here as it does for the logs): the template styles
/// nothing.
const BAR_TEMPLATE: &str = "{prefix} [{bar:38}] {counters}";

impl Bars {
    fn new(to: Stream) -> Self {
        let target = match to {
            Stream::Stdout => ProgressDrawTarget::stdout(),
            Stream::Stderr => ProgressDrawTarget::stderr(),
        };
        Self {
            multi: MultiProgress::with_draw_target(target),
            live: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, s: &str) {
        let _ = self.multi.println(super::escape::escape(s));
    }

    fn start(&self, prefix: String, digest: &Digest, size: u64) {
        let bar = if size > 0 {
            let style = ProgressStyle::with_template(BAR_TEMPLATE)
                .expect("the bar template is valid")
                .progress_chars("=>-")
                .with_key("counters", counters);
            ProgressBar::new(size).with_style(style)
        } else {
            // Unknown size: skopeo's dots instead of a bar.
            let style = ProgressStyle::with_template("{prefix} {spinner}")
                .expect("the spinner template is valid")
                .tick_strings(&[".", "..", "...", "....", ""]);
            ProgressBar::new_spinner().with_style(style)
        };
        let bar = self.multi.add(bar.with_prefix(prefix.clone()));
        bar.tick();
        let old = self.lock().insert(digest.clone(), (bar, prefix));
        if let Some((old, _)) = old {
            self.multi.remove(&old);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, (ProgressBar, String)>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Report for Bars {
    fn event(&self, e: Event<'_>) {
        if let Some(l) = step_line(&e) {
            return self.line(&l);
        }
        match e {
            Event::Blob { kind, desc, how } => {
                let prefix = bar_prefix(kind, &desc.digest);
                match how {
                    // containers/image reports a reused or mounted blob alike.
                    How::Skipped | How::Mounted => {
                        self.line(&format!("{prefix} skipped: already exists"))
                    }
                    How::Copied => self.start(prefix, &desc.digest, desc.size),
                }
            }
            Event::Bytes { digest, sent } => {
                if let Some((bar, _)) = self.lock().get(digest) {
                    bar.set_position(sent);
                }
            }
            Event::BlobDone { digest } => {
                let done = self.lock().remove(digest);
                if let Some((bar, prefix)) = done {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                    self.line(&format!("{prefix} done"));
                }
            }
            _ => {}
        }
    }
}

/// "Copying blob 0123456789ab": skopeo cuts the digest so every bar's
/// prefix is as long as a blob's, keeping the bars in one column.
fn bar_prefix(kind: &str, digest: &Digest) -> String {
    let full = format!("Copying {kind} {}", digest.hex());
    let max = "Copying blob ".len() + 12;
    full.get(..max).unwrap_or(&full).to_string()
}

fn counters(s: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(
        w,
        "{} / {}",
        size_1024(s.pos()),
        size_1024(s.len().unwrap_or(0))
    );
}

/// mpb's `%.1f` binary size, as in skopeo's "12.3MiB / 45.6MiB".
fn size_1024(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n}.0b");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    let mut out = String::new();
    let _ = write!(out, "{v:.1}{unit}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_skopeos_counters() {
        assert_eq!(size_1024(0), "0.0b");
        assert_eq!(size_1024(1023), "1023.0b");
        assert_eq!(size_1024(1024), "1.0KiB");
        assert_eq!(size_1024(12_897_485), "12.3MiB");
        assert_eq!(size_1024(3 * 1024 * 1024 * 1024), "3.0GiB");
    }

    #[test]
    fn prefixes_are_cut_to_one_column() {
        let d = Digest::of(b"x");
        let blob = bar_prefix("blob", &d);
        assert_eq!(blob, format!("Copying blob {}", &d.hex()[..12]));
        let config = bar_prefix("config", &d);
        assert_eq!(config.len(), blob.len());
        assert_eq!(config, format!("Copying config {}", &d.hex()[..10]));
    }

    #[test]
    fn only_a_terminal_that_redraws_gets_bars() {
        assert!(can_redraw(Some("xterm-256color")));
        assert!(!can_redraw(Some("dumb")));
        assert!(!can_redraw(Some("")));
        assert!(!can_redraw(None));
    }
}

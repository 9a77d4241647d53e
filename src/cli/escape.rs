//! Making untrusted text safe to print on a terminal.
//!
//! Error lines, progress lines and warnings carry names from tar headers,
//! archives, registries and signature servers. Printed raw, a `\x1b[2J` in a
//! tar entry name clears the operator's screen, a `\r` overwrites the line
//! with something reassuring, and a bidi override reorders what is shown
//! (issue 11 item 6). Everything that is not plain printable text is shown in
//! a visible escaped form instead.

use std::fmt::Write as _;

/// `text` with C0 controls, DEL, C1 controls and Unicode format characters
/// (bidi overrides and isolates, zero-width characters, BOM, line and
/// paragraph separators) replaced by `\xNN` / `\u{NNNN}`. A newline becomes
/// a space, so a message stays on one line.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push(' '),
            '\0'..='\x1f' | '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_hidden(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// C1 controls and the format characters that change how text around them
/// is displayed.
fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{80}'..='\u{9f}'
        | '\u{ad}'
        | '\u{61c}'
        | '\u{180e}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_escaped() {
        assert_eq!(
            escape("a\x1b[2Jb\rc\n\x7f\0"),
            "a\\x1b[2Jb\\x0dc \\x7f\\x00"
        );
        assert_eq!(escape("tab\there"), "tab\\x09here");
        assert_eq!(escape("\u{9b}31m"), "\\u{009b}31m");
        assert_eq!(
            escape("evil\u{202e}gpj.exe\u{2066}\u{200b}\u{feff}"),
            "evil\\u{202e}gpj.exe\\u{2066}\\u{200b}\\u{feff}"
        );
        // Ordinary text, including non-ASCII letters, is untouched.
        assert_eq!(
            escape("pulling docker.io/library/busybox: café ✓"),
            "pulling docker.io/library/busybox: café ✓"
        );
    }
}

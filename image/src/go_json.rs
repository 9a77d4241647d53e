//! Strings as Go's `encoding/json` writes them (HTML escaping on, the
//! default), shared by everything that must produce the bytes containers/image
//! and podman produce: simple-signing payloads, sigstore attachments and
//! `trust set` policy files.

/// Appends `s` as a Go JSON string literal.
pub fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `s` as a Go JSON string literal.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_string(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_as_go_does() {
        assert_eq!(
            super::string("a<b>&c\u{2028}\"\\\n\u{1}é"),
            r#""a\u003cb\u003e\u0026c\u2028\"\\\n\u0001é""#
        );
    }
}

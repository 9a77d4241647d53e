//! The bytes Go's `encoding/json` writes, so that `trust set` and
//! `trust show --json` produce what podman produces byte for byte: string
//! escaping with HTML characters escaped, `MarshalIndent` re-indenting raw
//! (already valid) JSON, and finding where a raw value ends. Inputs are
//! documents that vouch's strict parser already accepted.

/// `s` as a Go JSON string literal (shared with the signer, in the image crate).
pub use vouch_image::go_json::string;

/// The end (exclusive) of the JSON value starting at `start` in valid JSON.
pub fn value_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut i = start;
    while let Some(&c) = bytes.get(i) {
        i += 1;
        if in_string {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => {
                    in_string = false;
                    if depth == 0 {
                        return i;
                    }
                }
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            // A scalar ends at a delimiter (not consumed).
            b',' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => return i - 1,
            _ => {}
        }
    }
    bytes.len()
}

/// `json.MarshalIndent` of raw JSON: whitespace outside strings dropped, HTML
/// characters in strings escaped (`compact`), then one member or element per
/// line, `indent` per level, `": "` after keys, empty `{}`/`[]` kept on one line.
pub fn indent(raw: &[u8], indent: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() * 2);
    let mut depth = 0usize;
    let mut need_indent = false;
    let mut in_string = false;
    let mut escaped = false;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        for _ in 0..depth {
            out.extend_from_slice(indent.as_bytes());
        }
    };
    let mut i = 0;
    while let Some(&c) = raw.get(i) {
        i += 1;
        if in_string {
            match c {
                _ if escaped => {
                    escaped = false;
                    out.push(c);
                }
                b'\\' => {
                    escaped = true;
                    out.push(c);
                }
                b'"' => {
                    in_string = false;
                    out.push(c);
                }
                b'<' | b'>' | b'&' => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
                0xE2 if raw.get(i) == Some(&0x80)
                    && matches!(raw.get(i + 1), Some(0xA8 | 0xA9)) =>
                {
                    let last = raw.get(i + 1).copied().unwrap_or(0xA8);
                    out.extend_from_slice(if last == 0xA8 { b"\\u2028" } else { b"\\u2029" });
                    i += 2;
                }
                _ => out.push(c),
            }
            continue;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        if need_indent && c != b']' && c != b'}' {
            need_indent = false;
            depth += 1;
            newline(&mut out, depth);
        }
        match c {
            b'"' => {
                in_string = true;
                out.push(c);
            }
            b'{' | b'[' => {
                need_indent = true;
                out.push(c);
            }
            b',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            b'}' | b']' => {
                if need_indent {
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_as_go() {
        assert_eq!(
            string("a<b>&\"\\\n\u{1}"),
            r#""a\u003cb\u003e\u0026\"\\\n\u0001""#
        );
        assert_eq!(string("/etc/pki/ключ.pub"), "\"/etc/pki/ключ.pub\"");
    }

    #[test]
    fn values_end_where_they_end() {
        let doc = br#"{"a": [1, {"b": "x]}"}], "c": 12 , "d": "q\"w"}"#;
        let start = doc.iter().position(|&c| c == b'[').unwrap();
        assert_eq!(&doc[start..value_end(doc, start)], br#"[1, {"b": "x]}"}]"#);
        let start = doc.windows(2).position(|w| w == b"12").unwrap();
        assert_eq!(&doc[start..value_end(doc, start)], b"12");
        let start = doc.windows(2).position(|w| w == b"\"q").unwrap();
        assert_eq!(&doc[start..value_end(doc, start)], br#""q\"w""#);
    }

    #[test]
    fn indents_as_marshal_indent() {
        let raw = br#"{"default":[ {"type" :"reject"}],"t":{},"e":[], "s":"<x>"}"#;
        let want = "{\n    \"default\": [\n        {\n            \"type\": \"reject\"\n        }\n    ],\n    \"t\": {},\n    \"e\": [],\n    \"s\": \"\\u003cx\\u003e\"\n}";
        assert_eq!(String::from_utf8(indent(raw, "    ")).unwrap(), want);
    }
}

//! gtmpl prints a list or map with Rust's debug format; Go prints `[a b]`
//! and `map[k:v]`. Every action that prints gets `| vouch_go_print` as its
//! last command, so values leave the template the way Go's `fmt` writes
//! them. Control actions, comments and variable declarations print
//! nothing and stay as they are.

use crate::funcs::PRINT;

const KEYWORDS: &[&str] = &[
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
];

/// `text` with a print command appended to each output action.
pub fn print_actions(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let body_start = start + 2;
        let Some(len) = action_len(&rest[body_start..]) else {
            // Unterminated: leave it for the parser to report.
            out.push_str(&rest[start..]);
            return out;
        };
        let body = &rest[body_start..body_start + len];
        out.push_str("{{");
        out.push_str(&rewrite_body(body));
        out.push_str("}}");
        rest = &rest[body_start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// Length of an action's body up to its closing `}}`, stepping over
/// quoted strings and comments.
fn action_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    let lead = if s.starts_with("- ") { 2 } else { 0 };
    if s[lead..].starts_with("/*") {
        let end = s[lead + 2..].find("*/")? + lead + 4;
        return s[end..].find("}}").map(|k| end + k);
    }
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Whether `text` has a `{{range .}}` action (podman's EnforceRange test).
pub fn ranges_over_dot(text: &str) -> bool {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let body = &rest[start + 2..];
        let Some(len) = action_len(body) else {
            return false;
        };
        if body[..len].split_whitespace().collect::<Vec<_>>() == ["range", "."] {
            return true;
        }
        rest = &body[len + 2..];
    }
    false
}

fn rewrite_body(body: &str) -> String {
    let (lead, inner) = match body.strip_prefix("- ") {
        Some(r) => ("- ", r),
        None => ("", body),
    };
    let (inner, trail) = match inner.strip_suffix(" -") {
        Some(r) => (r, " -"),
        None => (inner, ""),
    };
    let t = inner.trim_start();
    if t.trim().is_empty() || t.starts_with("/*") || is_control(t) || is_declaration(t) {
        return body.to_string();
    }
    format!("{lead}{inner} | {PRINT}{trail}")
}

fn is_control(t: &str) -> bool {
    let word: String = t
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    KEYWORDS.contains(&word.as_str())
}

/// `$x := …`, `$x = …`, `$i, $v := …`.
fn is_declaration(t: &str) -> bool {
    let mut s = t;
    loop {
        let Some(r) = s.strip_prefix('$') else {
            return false;
        };
        let n = r
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(r.len());
        s = r[n..].trim_start();
        if let Some(r) = s.strip_prefix(',') {
            s = r.trim_start();
            continue;
        }
        return s.starts_with(":=") || (s.starts_with('=') && !s.starts_with("=="));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_output_actions_get_the_printer() {
        assert_eq!(print_actions("{{.A}}"), "{{.A | vouch_go_print}}");
        assert_eq!(
            print_actions("{{- .A -}} x"),
            "{{- .A | vouch_go_print -}} x"
        );
        assert_eq!(
            print_actions("{{range $k, $v := .L}}{{$k}}{{end}}"),
            "{{range $k, $v := .L}}{{$k | vouch_go_print}}{{end}}"
        );
        assert_eq!(print_actions("{{$x := .A}}"), "{{$x := .A}}");
        assert_eq!(print_actions("{{/* c }} */}}"), "{{/* c }} */}}");
        assert_eq!(print_actions("{{\"}}\"}}"), "{{\"}}\" | vouch_go_print}}");
        assert_eq!(print_actions("{{.A"), "{{.A");
        assert_eq!(print_actions("{{else}}{{end}}"), "{{else}}{{end}}");
        assert_eq!(print_actions("{{ end }}"), "{{ end }}");
    }
}

//! Go's `path.Clean`, `path.Join` and `path.Base`: skopeo builds sync
//! destinations with them, so the same inputs must give the same names
//! (`Join` drops empty parts and cleans `..`; `Base` of `""` is `"."`).

/// Go's `path.Clean`: the shortest equivalent slash-separated path.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            s => out.push(s),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// Go's `path.Join`: the non-empty parts joined by `/`, cleaned; `""` when
/// every part is empty.
pub fn join(parts: &[&str]) -> String {
    let kept: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if kept.is_empty() {
        return String::new();
    }
    clean(&kept.join("/"))
}

/// Go's `path.Base`: the last element, trailing slashes ignored.
pub fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    match trimmed.rfind('/') {
        Some(i) => trimmed[i + 1..].to_string(),
        None => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases from Go's path_test.go.
    #[test]
    fn clean_matches_go() {
        for (i, want) in [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("/abc", "/abc"),
            ("/", "/"),
            ("abc/", "abc"),
            ("/abc/def/", "/abc/def"),
            ("//abc", "/abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("abc/./../def", "def"),
            ("abc//./../def", "def"),
        ] {
            assert_eq!(clean(i), want, "Clean({i:?})");
        }
    }

    #[test]
    fn join_matches_go() {
        for (parts, want) in [
            (&[][..], ""),
            (&[""][..], ""),
            (&["a", "b"][..], "a/b"),
            (&["a", ""][..], "a"),
            (&["", "b"][..], "b"),
            (&["/", "a"][..], "/a"),
            (&["/", ""][..], "/"),
            (&["a/", "b"][..], "a/b"),
            (&["a/", ""][..], "a"),
            (&["", ""][..], ""),
        ] {
            assert_eq!(join(parts), want, "Join({parts:?})");
        }
    }

    #[test]
    fn base_matches_go() {
        for (i, want) in [
            ("", "."),
            (".", "."),
            ("/.", "."),
            ("/", "/"),
            ("////", "/"),
            ("x/", "x"),
            ("abc", "abc"),
            ("abc/def", "def"),
            ("a/b/.x", ".x"),
            ("a/b/c.", "c."),
            ("a/b/c.x", "c.x"),
        ] {
            assert_eq!(base(i), want, "Base({i:?})");
        }
    }
}

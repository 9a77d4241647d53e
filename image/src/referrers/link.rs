//! The `Link: <url>; rel="next"` header (RFC 8288) that paginates a
//! referrers listing (distribution-spec 1.1 "Listing Referrers", as for
//! tag lists). A registry's header is untrusted text: this reads it without
//! panicking and returns the one target that matters.

/// The target of the first link whose `rel` includes `next`, across every
/// `Link` header value given; `None` when there is none.
pub fn next_link<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    values.into_iter().find_map(next_in)
}

fn next_in(value: &str) -> Option<String> {
    let mut rest = value;
    loop {
        let open = rest.find('<')?;
        let after = rest.get(open + 1..)?;
        let close = after.find('>')?;
        let target = after.get(..close)?;
        let params_etc = after.get(close + 1..)?;
        // Parameters run to the next link (a `,` outside quotes).
        let (params, next) = split_link(params_etc);
        if params
            .split(';')
            .filter_map(|p| p.split_once('='))
            .any(|(k, v)| {
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            })
        {
            return Some(target.trim().to_string());
        }
        rest = next?;
    }
}

/// Splits at the first `,` outside a quoted string: this link's
/// parameters, and what follows.
fn split_link(s: &str) -> (&str, Option<&str>) {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => return (s.get(..i).unwrap_or(s), s.get(i + 1..)),
            _ => {}
        }
    }
    (s, None)
}

/// Resolves a link target against the registry's `scheme://host`: the spec
/// gives relative paths (`/v2/…`); absolute URLs must stay on that host, so
/// a registry cannot send the client (and its token) elsewhere.
pub fn resolve(base: &str, target: &str) -> Option<String> {
    if target.starts_with('/') && !target.starts_with("//") {
        return Some(format!("{base}{target}"));
    }
    let prefix = format!("{base}/");
    target.starts_with(&prefix).then(|| target.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_among_links() {
        assert_eq!(
            next_link([r#"</v2/a/referrers/sha256:x?n=1&last=y>; rel="next""#]),
            Some("/v2/a/referrers/sha256:x?n=1&last=y".into())
        );
        assert_eq!(
            next_link([r#"</p1>; rel="prev", </p3>; rel="next""#]),
            Some("/p3".into())
        );
        assert_eq!(
            next_link([r#"</p1>; rel="prev""#, r#"</p3>; title="a,b"; rel=next"#]),
            Some("/p3".into())
        );
        assert_eq!(
            next_link([r#"</p1>; rel="prefetch next""#]),
            Some("/p1".into())
        );
    }

    #[test]
    fn no_next_is_none() {
        assert_eq!(next_link([r#"</p1>; rel="prev""#]), None);
        assert_eq!(next_link(["garbage", "<unterminated; rel=next", ""]), None);
        assert_eq!(next_link(Vec::<&str>::new()), None);
    }

    #[test]
    fn resolves_only_onto_the_registry() {
        let b = "http://127.0.0.1:5000";
        assert_eq!(
            resolve(b, "/v2/a/referrers/x?last=1").as_deref(),
            Some("http://127.0.0.1:5000/v2/a/referrers/x?last=1")
        );
        assert_eq!(
            resolve(b, "http://127.0.0.1:5000/v2/x").as_deref(),
            Some("http://127.0.0.1:5000/v2/x")
        );
        assert_eq!(resolve(b, "http://evil.example/v2/x"), None);
        assert_eq!(resolve(b, "//evil.example/v2/x"), None);
        assert_eq!(resolve(b, "http://127.0.0.1:50000/v2/x"), None);
    }
}

//! `GET /v2/<name>/tags/list`, following `Link` pages as containers/image's
//! `GetRepositoryTags` does: only the path and query of the link are used,
//! so every page comes from the same registry. The replies are untrusted:
//! each page and all pages together are capped, and a link seen before ends
//! the listing with an error instead of looping.

use std::collections::HashSet;

use serde_json::Value;

use super::{error_detail, RemoteError};
use crate::referrers::http::RawClient;

/// One page of tags; a registry that lists millions sends several.
pub const MAX_PAGE_BYTES: u64 = 8 << 20;
/// All pages of one listing together.
pub const MAX_TOTAL_BYTES: u64 = 64 << 20;
/// Pages of one listing: tiny pages with ever new links must end too.
pub const MAX_PAGES: usize = 10_000;

/// Every tag of the client's repository, in the registry's order.
pub async fn list_tags(client: &RawClient) -> Result<Vec<String>, RemoteError> {
    let mut url = client.url("tags/list");
    let mut tags = Vec::new();
    let mut seen = HashSet::new();
    let mut total = 0u64;
    loop {
        if !seen.insert(url.clone()) || total > MAX_TOTAL_BYTES || seen.len() > MAX_PAGES {
            return Err(RemoteError::TagsTooLarge {
                url,
                limit: MAX_TOTAL_BYTES,
            });
        }
        let reply = client.get(&url, "application/json", MAX_PAGE_BYTES).await?;
        total += reply.body.len() as u64;
        if !reply.status.is_success() {
            return Err(RemoteError::Status {
                url,
                what: "fetching tags list",
                detail: error_detail(reply.status, &reply.body),
            });
        }
        tags.extend(
            page_tags(&reply.body).map_err(|detail| RemoteError::TagsJson {
                url: url.clone(),
                detail,
            })?,
        );
        match reply.header("Link").and_then(link_path) {
            Some(path) => url = format!("{}{path}", client.base()),
            None => return Ok(tags),
        }
    }
}

/// The `tags` of one page, matched as Go matches the field `Tags`
/// (case-insensitively); only the first JSON value is read, as Go's
/// `json.Decoder.Decode` does. Public for the `remote_inspect` fuzz target.
pub fn page_tags(body: &[u8]) -> Result<Vec<String>, String> {
    let v = serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .next()
        .ok_or("empty reply")?
        .map_err(|e| e.to_string())?;
    let obj = match &v {
        Value::Object(o) => o,
        Value::Null => return Ok(Vec::new()),
        _ => return Err("not an object".into()),
    };
    let field = obj.get("Tags").or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("tags"))
            .map(|(_, v)| v)
    });
    match field {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| match t {
                Value::String(s) => Ok(s.clone()),
                Value::Null => Ok(String::new()),
                _ => Err("a tag is not a string".to_string()),
            })
            .collect(),
        Some(_) => Err("tags is not a list".into()),
    }
}

/// `/path?query` of a `Link: <target>; rel="next"` value (upstream takes
/// everything before the first `;`, trims `<>`, and keeps path and query).
/// Public for the `remote_inspect` fuzz target.
pub fn link_path(link: &str) -> Option<String> {
    if link.is_empty() {
        return None;
    }
    let target = link
        .split(';')
        .next()?
        .trim_matches(|c| c == '<' || c == '>');
    let target = target.split('#').next().unwrap_or(target);
    let rest = match target.find("://") {
        Some(i) => {
            let after = target.get(i + 3..)?;
            after.find('/').and_then(|j| after.get(j..)).unwrap_or("")
        }
        None => target,
    };
    if rest.is_empty() {
        return Some("/".into());
    }
    Some(if rest.starts_with('/') {
        rest.to_string()
    } else {
        format!("/{rest}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pages_as_go_decodes_them() {
        assert_eq!(
            page_tags(br#"{"name":"a","tags":["1","2"]}"#).unwrap(),
            ["1", "2"]
        );
        assert_eq!(
            page_tags(br#"{"name":"a","TAGS":["x"]} trailing"#).unwrap(),
            ["x"]
        );
        assert!(page_tags(br#"{"name":"a","tags":null}"#)
            .unwrap()
            .is_empty());
        assert!(page_tags(br#"{"tags":"1"}"#).is_err());
        assert!(page_tags(b"").is_err());
    }

    #[test]
    fn keeps_only_path_and_query_of_a_link() {
        assert_eq!(
            link_path(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(
            link_path(r#"<https://evil.example/v2/a/tags/list?last=b>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?last=b")
        );
        assert_eq!(link_path(""), None);
    }
}

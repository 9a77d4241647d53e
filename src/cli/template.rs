//! `--format TEMPLATE` for the listing commands: renders rows through
//! vouch-format and prints them; a template that does not parse or does
//! not fit the rows is one error line (exit 2).

use std::io::Write;

use serde_json::Value;

/// Renders `rows` through `format` and writes the result to stdout; a
/// `table` template gets `header` as its first row when there is one.
pub fn print(format: &str, header: Option<&Value>, rows: &[Value]) -> anyhow::Result<()> {
    let out = vouch_format::render(format, header, rows).map_err(|e| anyhow::anyhow!("{e}"))?;
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(())
}

/// podman's inspect rewrites a few spellings before parsing: `{{.Id}}`
/// alone (the Go field is `ID`), `.Src`/`.Dst`, `.ImageID` (a container's
/// `.Image`) and, for images, `.Config.Healthcheck`.
pub fn inspect_normalize(format: &str, image: bool) -> String {
    let mut out = String::with_capacity(format.len());
    let mut rest = format;
    // `{{\s*.Id\s*}}` → `{{.ID}}`
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let body_end = after.find("}}");
        match body_end {
            Some(e) if after[..e].trim() == ".Id" => {
                out.push_str("{{.ID}}");
                rest = &after[e + 2..];
            }
            _ => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    let mut reps = vec![
        (".Src", ".Source"),
        (".Dst", ".Destination"),
        (".ImageID", ".Image"),
    ];
    if image {
        reps.push((".Config.Healthcheck", ".HealthCheck"));
    }
    replace_all(&out, &reps)
}

/// Go's `strings.NewReplacer`: one left-to-right pass, first match wins.
fn replace_all(s: &str, reps: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    'outer: while i < s.len() {
        for (from, to) in reps {
            if s[i..].starts_with(from) {
                out.push_str(to);
                i += from.len();
                continue 'outer;
            }
        }
        let c = s[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// An RFC 3339 time as Go's `time.Time` prints in a template
/// (`2006-01-02 15:04:05.999999999 -0700 MST`); other text is kept.
pub fn go_time(s: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) else {
        return s.to_string();
    };
    let frac = t.format("%f").to_string();
    let frac = frac.trim_end_matches('0');
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    let off = t.format("%z").to_string();
    let zone = if t.offset().local_minus_utc() == 0 {
        "UTC".to_string()
    } else {
        off.clone()
    };
    format!("{}{frac} {off} {zone}", t.format("%Y-%m-%d %H:%M:%S"))
}

/// A Unix time as Go's `time.Time` prints (UTC).
pub fn go_time_unix(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| go_time(&t.to_rfc3339()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_go_prints_them() {
        assert_eq!(
            go_time("2026-12-03T17:24:19.811430034Z"),
            "2026-12-03 17:24:19.811430034 +0000 UTC"
        );
        assert_eq!(
            go_time("2026-12-03T17:24:15+00:00"),
            "2026-12-03 17:24:15 +0000 UTC"
        );
        assert_eq!(go_time_unix(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(go_time("x"), "x");
    }

    #[test]
    fn inspect_spellings_as_podman_rewrites_them() {
        assert_eq!(
            inspect_normalize("{{ .Id }} {{truncate .Id 5}}", false),
            "{{.ID}} {{truncate .Id 5}}"
        );
        assert_eq!(
            inspect_normalize("{{.ImageID}} {{.Config.Healthcheck}}", true),
            "{{.Image}} {{.HealthCheck}}"
        );
    }
}

//! podman's `--format`: Go templates over the same field names podman
//! reports, with podman's `table` prefix, header naming and tab alignment.
//!
//! The template language itself is gtmpl's (a port of Go's text/template);
//! this crate only shapes the data as podman's Go structs would look to a
//! template, adds podman's functions (containers/common `report`), and
//! prints values the way Go's `fmt` does, so `{{.Config.Cmd}}` reads
//! `[sh -c true]` as in podman rather than as a Rust debug dump.

mod funcs;
mod headers;
mod rewrite;
mod tabwriter;
mod value;

pub use headers::headers;
pub use value::{go_print, to_template_value};

use serde_json::Value as Json;

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The template text does not parse.
    #[error("template {template:?}: {message}")]
    Parse { template: String, message: String },
    /// A row does not fit the template (an unknown field, a bad argument).
    #[error("template {template:?}: {message}")]
    Execute { template: String, message: String },
}

/// Whether `--format` asks for podman's JSON output (`json` or `{{json .}}`)
/// rather than a template.
pub fn is_json(format: &str) -> bool {
    let f = format.trim();
    if f == "json" {
        return true;
    }
    let Some(inner) = f.strip_prefix("{{").and_then(|s| s.strip_suffix("}}")) else {
        return false;
    };
    let words: Vec<&str> = inner.split_whitespace().collect();
    words == ["json"] || words == ["json", "."]
}

/// A parsed `--format` template.
pub struct Template {
    source: String,
    table: bool,
    /// The text has its own `{{range .}}…{{end}}`: it gets all rows at once
    /// (containers/common `EnforceRange` wraps only texts without one).
    ranges: bool,
    tmpl: gtmpl::Template,
}

impl Template {
    /// Parses podman's `--format` text: `table ` prefix, `\t` and `\n`
    /// escapes typed on a command line, and the newline podman adds after
    /// each row.
    ///
    /// As in containers/common, when the normalized text does not parse
    /// (`{{"\n"}}` becomes a raw newline inside quotes) the text as typed
    /// is parsed instead, without the added newline.
    pub fn parse(format: &str) -> Result<Self, FormatError> {
        let (table, text) = normalize(format);
        let compile = |text: &str| {
            let mut tmpl = gtmpl::Template::default();
            tmpl.add_funcs(funcs::ALL);
            tmpl.parse(rewrite::print_actions(text))
                .map(|()| tmpl)
                .map_err(|e| e.to_string())
        };
        let tmpl = compile(&text)
            .or_else(|_| compile(format))
            .map_err(|message| FormatError::Parse {
                template: format.to_string(),
                message,
            })?;
        Ok(Template {
            source: format.to_string(),
            table,
            ranges: !table && rewrite::ranges_over_dot(&text),
            tmpl,
        })
    }

    /// Whether the template started with `table`: podman then prints a
    /// header row and aligns the columns.
    pub fn is_table(&self) -> bool {
        self.table
    }

    /// Renders each of `rows` (podman's field names as JSON keys). A table
    /// first renders its header row from `header` (field name → column
    /// title, see [`headers`]; commands without headers, like inspect, pass
    /// `None`), and its output is tab-aligned as podman's tabwriter does.
    pub fn render(&self, header: Option<&Json>, rows: &[Json]) -> Result<String, FormatError> {
        let mut out = String::new();
        if let (true, Some(h)) = (self.table, header) {
            out.push_str(&self.render_one(&value::header_value(h))?);
        }
        if self.ranges {
            let all = gtmpl::Value::Array(rows.iter().map(to_template_value).collect());
            out.push_str(&self.render_one(&all)?);
        } else {
            for r in rows {
                out.push_str(&self.render_one(&to_template_value(r))?);
            }
        }
        Ok(if self.table {
            tabwriter::align(&out)
        } else {
            out
        })
    }

    fn render_one(&self, v: &gtmpl::Value) -> Result<String, FormatError> {
        self.tmpl
            .render(&gtmpl::Context::from(v.clone()))
            .map_err(|e| FormatError::Execute {
                template: self.source.clone(),
                message: one_line(&e.to_string()),
            })
    }
}

/// gtmpl's execution errors end in a debug dump of the value they were
/// applied to (`no field X for {…the whole row…}`): keep the part that
/// names the problem, on one line.
fn one_line(msg: &str) -> String {
    let cut = [
        " for {",
        " for Object(",
        " for Map(",
        " in Object(",
        " in Map(",
    ]
    .iter()
    .filter_map(|p| msg.find(p))
    .min()
    .unwrap_or(msg.len());
    let m: String = msg[..cut].replace('\n', " ");
    if m.chars().count() > 200 {
        format!("{}…", m.chars().take(200).collect::<String>())
    } else {
        m
    }
}

/// One call for callers holding rows: parse `format` and render `rows`.
pub fn render(format: &str, header: Option<&Json>, rows: &[Json]) -> Result<String, FormatError> {
    Template::parse(format)?.render(header, rows)
}

/// containers/common `report.NormalizeFormat`: the `table` prefix goes and
/// its spaces become column breaks; escaped tabs and newlines typed in a
/// shell become real ones; every row ends in a newline.
fn normalize(format: &str) -> (bool, String) {
    let (table, mut f) = match format.strip_prefix("table ") {
        Some(rest) => (
            true,
            rest.replace("\\t", "\t")
                .replace("\\n", "\n")
                .replace(' ', "\t"),
        ),
        None => (false, format.replace("\\t", "\t").replace("\\n", "\n")),
    };
    if !f.ends_with('\n') {
        f.push('\n');
    }
    (table, f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ps_row() -> Json {
        json!({
            "ID": "4ff84987d8b2", "Names": "fmtc", "Image": "localhost/fmt-httpd:latest",
            "Labels": {}, "Mounts": "[]", "Pid": 30306, "Command": ["a", "b"],
        })
    }

    fn ps_header() -> Json {
        headers(
            &["ID", "Names", "Image", "Labels", "Mounts", "Pid"],
            &[("ID", "CONTAINER ID")],
        )
    }

    #[test]
    fn table_prints_podman_headers_aligned() {
        let out = render(
            "table {{.ID}}\\t{{.Names}}",
            Some(&ps_header()),
            &[ps_row()],
        )
        .unwrap();
        assert_eq!(out, "CONTAINER ID  NAMES\n4ff84987d8b2  fmtc\n");
        let out = render(
            "table {{.ID}} {{.Image}} {{.Labels}} {{.Mounts}}",
            Some(&ps_header()),
            &[ps_row()],
        )
        .unwrap();
        assert_eq!(
            out,
            "CONTAINER ID  IMAGE                       LABELS      MOUNTS\n\
             4ff84987d8b2  localhost/fmt-httpd:latest  map[]       []\n"
        );
    }

    #[test]
    fn unknown_header_reads_no_value_as_in_go() {
        let out = render("table {{.ID}}\t{{.Nope}}", Some(&ps_header()), &[]).unwrap();
        assert_eq!(out, "CONTAINER ID  <no value>\n");
    }

    #[test]
    fn plain_templates_print_go_values() {
        let r = [ps_row()];
        let h = ps_header();
        let h = Some(&h);
        assert_eq!(render("{{.Names}}", h, &r).unwrap(), "fmtc\n");
        assert_eq!(render("{{.Command}}", h, &r).unwrap(), "[a b]\n");
        assert_eq!(
            render("{{json .Command}}", h, &r).unwrap(),
            "[\"a\",\"b\"]\n"
        );
        assert_eq!(render("{{join .Command \",\"}}", h, &r).unwrap(), "a,b\n");
        assert_eq!(
            render(
                "{{upper .Names}} {{title \"up two\"}} {{truncate .ID 4}}",
                h,
                &r
            )
            .unwrap(),
            "FMTC Up Two 4ff8\n"
        );
        assert_eq!(
            render("{{range .Command}}{{.}}-{{end}}", h, &r).unwrap(),
            "a-b-\n"
        );
        assert_eq!(
            render("{{if eq .Pid 30306}}yes{{else}}no{{end}}", h, &r).unwrap(),
            "yes\n"
        );
        assert_eq!(
            render("{{printf \"%s:%d\" .Names .Pid}}", h, &r).unwrap(),
            "fmtc:30306\n"
        );
        assert_eq!(
            render("{{index .Command 1}}{{\"\\n\"}}x", h, &r).unwrap(),
            "b\nx"
        );
    }

    #[test]
    fn a_template_with_its_own_range_gets_all_rows() {
        let rows = [ps_row(), json!({"ID": "b"})];
        assert_eq!(
            render("{{range .}}{{.ID}},{{end}}", None, &rows).unwrap(),
            "4ff84987d8b2,b,\n"
        );
    }

    #[test]
    fn errors_name_the_template() {
        let e = render("{{.ID", Some(&ps_header()), &[ps_row()])
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("template \"{{.ID\": "), "{e}");
        let e = render("{{.Restarts}}", Some(&ps_header()), &[ps_row()])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("Restarts"), "{e}");
        assert!(!e.contains("4ff84987d8b2"), "no dump of the row: {e}");
    }

    #[test]
    fn json_spellings() {
        assert!(is_json("json"));
        assert!(is_json("{{json .}}"));
        assert!(is_json(" {{ json . }} "));
        assert!(!is_json("{{json .Names}}"));
        assert!(!is_json("table"));
    }
}

//! Rendering findings: `text` reads like a compiler's diagnostics
//! (`file:line:col: error[PL002]: …`, the source line, a caret, the hint),
//! `json` is an array of objects, `sarif` is SARIF 2.1.0 for code-scanning UIs.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::finding::Finding;
use crate::rules::{Rule, Severity};

/// `file:line:col: severity[ID]: message`, then the source line with a caret
/// and `= hint:`; a summary line at the end.
pub fn text(w: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    let mut sources: HashMap<PathBuf, Option<Source>> = HashMap::new();
    for f in findings {
        let loc = if f.line == 0 {
            f.file.display().to_string()
        } else {
            format!("{}:{}:{}", f.file.display(), f.line, f.column)
        };
        write!(w, "{loc}: {}[{}]: {}", f.severity(), f.rule.id(), f.message)?;
        if let Some(p) = &f.path {
            write!(w, " (at {p})")?;
        }
        writeln!(w)?;
        let source = sources
            .entry(f.file.clone())
            .or_insert_with(|| std::fs::read_to_string(&f.file).ok().map(Source::new));
        if let Some(line) = source.as_ref().and_then(|s| s.line(f.line)) {
            let n = f.line.to_string();
            let pad = " ".repeat(n.len());
            let caret = " ".repeat(caret_offset(line, f.column));
            writeln!(w, " {n} | {line}")?;
            writeln!(w, " {pad} | {caret}^")?;
            if !f.hint.is_empty() {
                writeln!(w, " {pad} = hint: {}", f.hint)?;
            }
        } else if !f.hint.is_empty() {
            writeln!(w, "    = hint: {}", f.hint)?;
        }
    }
    let count = |s: Severity| findings.iter().filter(|f| f.severity() == s).count();
    let (errors, warnings, notes) = (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Note),
    );
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if !findings.is_empty() {
        write!(
            w,
            "{errors} error{}, {warnings} warning{}",
            plural(errors),
            plural(warnings)
        )?;
        if notes > 0 {
            write!(w, ", {notes} note{}", plural(notes))?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// A file's text with its line starts, so each snippet costs O(1) to find.
struct Source {
    text: String,
    starts: Vec<usize>,
}

impl Source {
    fn new(text: String) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, starts }
    }

    /// Line `n` (1-based) without its newline, if short enough to show.
    fn line(&self, n: u32) -> Option<&str> {
        let i = usize::try_from(n).ok()?.checked_sub(1)?;
        let start = *self.starts.get(i)?;
        let end = self.starts.get(i + 1).map_or(self.text.len(), |e| e - 1);
        let l = self.text.get(start..end)?.trim_end();
        (l.len() <= 200).then_some(l)
    }
}

/// Columns are 1-based byte offsets; tabs stay tabs so the caret lines up.
fn caret_offset(line: &str, column: u32) -> usize {
    let bytes = usize::try_from(column.saturating_sub(1)).unwrap_or(0);
    line.get(..bytes.min(line.len()))
        .map_or(0, |s| s.chars().count())
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "file": f.file.display().to_string(),
        "line": f.line,
        "column": f.column,
        "rule": f.rule.id(),
        "name": f.rule.name(),
        "severity": f.severity().as_str(),
        "message": f.message,
        "hint": f.hint,
        "path": f.path,
    })
}

/// A JSON array of findings.
pub fn json(w: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    let v: Vec<Value> = findings.iter().map(finding_json).collect();
    serde_json::to_writer_pretty(&mut *w, &v)?;
    writeln!(w)
}

fn uri(p: &Path) -> String {
    p.display()
        .to_string()
        .replace('%', "%25")
        .replace(' ', "%20")
}

/// SARIF 2.1.0 with every rule in the driver and one result per finding.
pub fn sarif(w: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    let level = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    };
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.id(),
                "name": r.name(),
                "shortDescription": {"text": r.summary()},
                "defaultConfiguration": {"level": level(r.severity())},
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut region = json!({});
            if f.line > 0 {
                region = json!({"startLine": f.line, "startColumn": f.column.max(1)});
            }
            let text = if f.hint.is_empty() {
                f.message.clone()
            } else {
                format!("{} Hint: {}", f.message, f.hint)
            };
            json!({
                "ruleId": f.rule.id(),
                "ruleIndex": Rule::ALL.iter().position(|r| *r == f.rule),
                "level": level(f.severity()),
                "message": {"text": text},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": uri(&f.file)},
                    "region": region,
                }}],
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "policy-lint",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

//! A finding: what is wrong, where (file:line:column and JSON key path), the
//! rule that found it and a hint on how to fix it.

use std::path::PathBuf;

use vouch_verify::json::{JsonPath, Pos};

use crate::rules::{Rule, Severity};

/// One problem in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The file as named on the command line (or the registries.d file).
    pub file: PathBuf,
    /// 1-based; 0 when the problem has no position (a whole directory).
    pub line: u32,
    pub column: u32,
    pub rule: Rule,
    /// What is wrong; for load errors, containers/image's own wording.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// Where in the JSON document, when the file is a policy.
    pub path: Option<String>,
}

impl Finding {
    pub fn new(file: impl Into<PathBuf>, pos: Pos, rule: Rule, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: pos.line,
            column: pos.column,
            rule,
            message: message.into(),
            hint: String::new(),
            path: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    /// Records the JSON key path (the empty root path is not recorded).
    pub fn at(mut self, path: &JsonPath) -> Self {
        if !path.as_str().is_empty() {
            self.path = Some(path.to_string());
        }
        self
    }

    pub fn severity(&self) -> Severity {
        self.rule.severity()
    }
}

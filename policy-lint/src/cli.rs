//! Command-line front end shared by the `policy-lint` binary and
//! `vouch policy-lint`. Exit codes: 0 clean, 1 a finding at error level
//! (with `--strict`, also a warning), 2 usage or I/O errors (which win).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, ValueEnum};

use crate::{Finding, Linter, Severity};
use vouch_verify::registries_d::Search;

/// Output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
    Sarif,
}

/// Flags of `policy-lint` and `vouch policy-lint`.
#[derive(Args, Debug, Clone)]
#[command(after_long_help = AFTER_HELP)]
pub struct LintArgs {
    /// Lint this registries.d directory (instead of the drop-in directories
    /// containers/image reads: per-user, /etc/containers, /usr/share/containers)
    /// and check that every signedBy scope has a lookaside configured.
    #[arg(long = "registries.d", value_name = "DIR")]
    pub registries_d: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Fail (exit 1) on warnings too (notes never fail).
    #[arg(long)]
    pub strict: bool,
    /// policy.json files to lint (default: the one containers/image reads:
    /// $CONTAINERS_POLICY_JSON, else the per-user, /etc or /usr/share file).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

const AFTER_HELP: &str = "\
Exit status: 0 no findings at error level (with --strict: no errors or warnings;
notes never fail),
1 findings at error level (or, with --strict, warnings), 2 usage or I/O errors.
Every file is linted even when an earlier one fails to read.

Examples:
  policy-lint /etc/containers/policy.json
  policy-lint --registries.d /etc/containers/registries.d --strict policy.json
  policy-lint --format sarif policy.json > policy-lint.sarif

Rules and examples: docs/policy-lint.md.";

/// The standalone binary's parser.
#[derive(Parser, Debug)]
#[command(
    name = "policy-lint",
    version,
    about = "Lint containers policy.json and registries.d."
)]
pub struct Cli {
    #[command(flatten)]
    pub args: LintArgs,
}

/// Entry point of the `policy-lint` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli.args) {
        Ok(code) => code,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("policy-lint: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Lints, prints, and returns the exit code. `Err` only for output failures
/// and an unusable registries.d directory.
pub fn run(a: &LintArgs) -> anyhow::Result<ExitCode> {
    let search = match &a.registries_d {
        Some(dir) => Search::explicit(dir),
        None => Search::from_env(),
    };
    let mut linter = if search.any_exists() {
        Linter::with_registries_search(&search).map_err(anyhow::Error::from)?
    } else {
        Linter::new()
    }
    .exiting_soon();
    let files = if a.files.is_empty() {
        vec![vouch_verify::policy::Policy::default_path().context("finding the policy to lint")?]
    } else {
        a.files.clone()
    };
    let mut findings: Vec<Finding> = linter.take_registries_findings();
    let mut io_failed = false;
    for file in &files {
        match linter.lint(file) {
            Ok(f) if findings.is_empty() => findings = f,
            Ok(f) => findings.extend(f),
            Err(e) => {
                io_failed = true;
                eprintln!("policy-lint: {:#}", anyhow::Error::from(e));
            }
        }
    }
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    match a.format {
        Format::Text => crate::output::text(&mut w, &findings),
        Format::Json => crate::output::json(&mut w, &findings),
        Format::Sarif => crate::output::sarif(&mut w, &findings),
    }
    .and_then(|()| w.flush())
    .context("writing findings")?;
    let failing = findings.iter().any(|f| {
        f.severity() == Severity::Error || (a.strict && f.severity() == Severity::Warning)
    });
    Ok(if io_failed {
        ExitCode::from(2)
    } else if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

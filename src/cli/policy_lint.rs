//! `vouch policy-lint`: the linter of crate `policy-lint`, with the same
//! flags, output and exit codes as the standalone `policy-lint` binary
//! (0 clean, 1 findings at error level or, with --strict, warnings, 2 usage
//! or I/O errors). See docs/policy-lint.md.

use std::process::ExitCode;

use clap::Args;

use super::Global;

/// Flags of `vouch policy-lint`.
#[derive(Args, Debug)]
pub struct PolicyLintArgs {
    #[command(flatten)]
    pub lint: policy_lint::cli::LintArgs,
}

pub fn run(_g: &Global, a: PolicyLintArgs) -> anyhow::Result<ExitCode> {
    policy_lint::cli::run(&a.lint)
}

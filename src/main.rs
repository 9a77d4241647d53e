//! The `vouch` command: clap definitions that dispatch into the crates.
//!
//! Exit codes (as ripgrep and the style guide have it): 0 success, 1 a
//! policy or lint said no, 2 any other error (usage, I/O, registry). Errors
//! print once, on one line, as `Error: <context>: <cause>`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}

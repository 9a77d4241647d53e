//! The `vouch` command: clap definitions that dispatch into the crates.
//!
//! Exit codes (as ripgrep and the style guide have it): 0 success, 1 a
//! policy or lint said no, 2 any other error (usage, I/O, registry). Errors
//! print once, on one line, as `Error: <context>: <cause>`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // The monitor's exit command (`vouch-monitor` runs it when a container
    // has exited): no user command, so it stays out of the parser, the
    // completions and the man pages.
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == cli::CLEANUP_ARG) {
        return cli::cleanup_main(args);
    }
    cli::main()
}

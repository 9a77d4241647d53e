//! The `vouch` command: clap definitions that dispatch into the crates.
//!
//! Exit codes (as ripgrep and the style guide have it): 0 success, 1 a
//! policy or lint said no, 2 any other error (usage, I/O, registry). Errors
//! print once, on one line, as `Error: <context>: <cause>`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // The per-container monitor lives as long as its container, so its
    // memory is a per-container cost (conmon's is ~1.5 MB): it is entered
    // here, before clap, tracing or anything else has touched a page.
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == cli::MONITOR_ARG) {
        return cli::monitor_main(args);
    }
    cli::main()
}

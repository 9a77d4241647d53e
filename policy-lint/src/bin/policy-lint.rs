//! `policy-lint`: lint containers policy.json and registries.d. All logic
//! lives in the library (`policy_lint::cli`), shared with `vouch policy-lint`.

fn main() -> std::process::ExitCode {
    policy_lint::cli::main()
}

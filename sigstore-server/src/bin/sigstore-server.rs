//! `sigstore-server`: serve and accept containers/image lookaside signatures.
//! All logic lives in the library (`sigstore_server::cli`), shared with
//! `vouch sigstore-server`.

fn main() -> std::process::ExitCode {
    sigstore_server::cli::main()
}

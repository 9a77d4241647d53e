//! Top-level flags and subcommand dispatch.

mod checkpoint;
mod common;
mod completion;
mod containers;
mod copy;
mod delete;
mod escape;
mod examples;
mod image_sign;
mod image_trust;
mod images;
mod list_tags;
mod login;
mod manifest_digest;
mod manifest_list;
mod output;
mod passphrase_prompt;
mod policy_lint;
mod progress;
mod ps;
mod pull;
mod push;
mod remote_inspect;
mod signing;
mod sigstore_key;
mod sigstore_layout;
mod sigstore_server;
mod standalone;
mod standalone_sigstore;
mod sync;
mod template;
mod transfer;
mod trust;
mod untrusted_dump;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use common::Global;

/// Push, sign, verify and run container images; podman's files and flags.
#[derive(Parser, Debug)]
#[command(name = "vouch", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Pull an image from a registry into the local store.
    Pull(pull::PullArgs),
    /// Push a local image to a registry.
    Push(push::PushArgs),
    /// Create, inspect and push multi-arch manifest lists (podman's).
    #[command(subcommand)]
    Manifest(manifest_list::ManifestCommand),
    /// Copy an image between transports, signatures along (skopeo's copy).
    Copy(Box<copy::CopyArgs>),
    /// Copy every image of a repository, directory or YAML list (skopeo's sync).
    Sync(Box<sync::SyncArgs>),
    /// List local images.
    Images(images::ImagesArgs),
    /// Add names to a local image.
    Tag(images::TagArgs),
    /// Remove local images.
    Rmi(images::RmiArgs),
    /// Create an image from a root-filesystem tarball.
    Import(transfer::ImportArgs),
    /// Save images to an oci-archive.
    Save(transfer::SaveArgs),
    /// Load images from an oci-archive.
    Load(transfer::LoadArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(images::ImageCommand),
    /// Sign a manifest file offline (skopeo's standalone-sign).
    StandaloneSign(standalone::StandaloneSignArgs),
    /// Verify a signature of a manifest file (skopeo's standalone-verify).
    StandaloneVerify(standalone::StandaloneVerifyArgs),
    /// Run a command in a new container.
    Run(Box<containers::RunArgs>),
    /// List containers.
    Ps(ps::PsArgs),
    /// Show a container's configuration and state, or a registry image's (`docker://REF`, skopeo's inspect).
    Inspect(ps::InspectArgs),
    /// Show a container's output.
    Logs(ps::LogsArgs),
    /// Show a container's processes.
    Top(ps::TopArgs),
    /// Stop containers (stop signal, then SIGKILL after --time).
    Stop(containers::StopArgs),
    /// Start stopped containers.
    Start(containers::NamesArgs),
    /// Restart containers.
    Restart(containers::StopArgs),
    /// Send a signal to containers.
    Kill(containers::KillArgs),
    /// Wait for containers to exit and print their exit codes.
    Wait(containers::NamesArgs),
    /// Remove containers.
    Rm(containers::RmArgs),
    /// Run a process in a running container.
    Exec(containers::ExecArgs),
    /// Manage containers (checkpoint, restore).
    #[command(subcommand)]
    Container(checkpoint::ContainerCommand),
    /// Generate a sigstore key pair (skopeo's generate-sigstore-key).
    GenerateSigstoreKey(sigstore_key::GenerateSigstoreKeyArgs),
    /// Serve a lookaside signature directory and accept signed uploads.
    SigstoreServer(sigstore_server::SigstoreServerArgs),
    /// Lint policy.json and registries.d (exit 1 on errors; see docs/policy-lint.md).
    PolicyLint(policy_lint::PolicyLintArgs),
    /// Print the digest of a manifest file (skopeo's manifest-digest).
    ManifestDigest(manifest_digest::ManifestDigestArgs),
    /// Print a simple signature's claims WITHOUT verifying it (skopeo's, for debugging).
    UntrustedSignatureDumpWithoutVerification(untrusted_dump::UntrustedDumpArgs),
    /// List a registry repository's tags (skopeo's list-tags).
    ListTags(list_tags::ListTagsArgs),
    /// Delete an image from a registry, and its staged signatures (skopeo's delete).
    Delete(delete::DeleteArgs),
    /// Log in to a container registry (podman's; writes auth.json).
    Login(login::LoginArgs),
    /// Log out of a container registry (podman's).
    Logout(login::LogoutArgs),
    /// Generate shell autocompletions (podman's: bash, zsh, fish, powershell).
    Completion(completion::CompletionArgs),
}

pub use containers::cleanup_main;
pub use vouch_runtime::lifecycle::CLEANUP_ARG;

/// Parses, runs, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    // The packagers' generator stays out of the clap definitions, so the
    // completions it writes do not offer it.
    let mut args = std::env::args_os().skip(1);
    if args
        .next()
        .is_some_and(|a| a == completion::GENERATE_DOCS_ARG)
    {
        return completion::generate_docs_main(args);
    }
    use clap::FromArgMatches as _;
    let cli =
        Cli::from_arg_matches(&examples::command().get_matches()).unwrap_or_else(|e| e.exit());
    if !relays_stdio(&cli.command) {
        output::die_quietly_on_broken_pipe();
    }
    common::init_tracing(&cli.global);
    let runs_a_command = matches!(cli.command, Command::Run(_) | Command::Exec(_));
    let result = match cli.command {
        Command::Pull(a) => pull::run(&cli.global, a),
        Command::Push(a) => push::run(&cli.global, a),
        Command::Copy(a) => copy::run(&cli.global, *a),
        Command::Sync(a) => sync::run(&cli.global, *a),
        Command::Manifest(c) => manifest_list::run(&cli.global, c),
        Command::Images(a) => images::images(&cli.global, a),
        Command::Tag(a) => images::tag(&cli.global, a),
        Command::Rmi(a) => images::rmi(&cli.global, a),
        Command::Import(a) => transfer::import(&cli.global, a),
        Command::Save(a) => transfer::save(&cli.global, a),
        Command::Load(a) => transfer::load(&cli.global, a),
        Command::Image(c) => images::image(&cli.global, c),
        Command::StandaloneSign(a) => standalone::sign(&cli.global, a),
        Command::StandaloneVerify(a) => standalone::verify(&cli.global, a),
        Command::Run(a) => containers::run(&cli.global, *a),
        Command::Ps(a) => ps::ps(&cli.global, a),
        Command::Inspect(a) => ps::inspect(&cli.global, a),
        Command::Logs(a) => ps::logs(&cli.global, a),
        Command::Top(a) => ps::top(&cli.global, a),
        Command::Stop(a) => containers::stop(&cli.global, a),
        Command::Start(a) => containers::start(&cli.global, a),
        Command::Restart(a) => containers::restart(&cli.global, a),
        Command::Kill(a) => containers::kill(&cli.global, a),
        Command::Wait(a) => containers::wait(&cli.global, a),
        Command::Rm(a) => containers::rm(&cli.global, a),
        Command::Exec(a) => containers::exec(&cli.global, a),
        Command::Container(c) => checkpoint::run(&cli.global, c),
        Command::GenerateSigstoreKey(a) => sigstore_key::run(&cli.global, a),
        Command::SigstoreServer(a) => sigstore_server::run(&cli.global, a),
        Command::PolicyLint(a) => policy_lint::run(&cli.global, a),
        Command::ManifestDigest(a) => manifest_digest::run(&cli.global, a),
        Command::UntrustedSignatureDumpWithoutVerification(a) => {
            untrusted_dump::run(&cli.global, a)
        }
        Command::ListTags(a) => list_tags::run(a),
        Command::Delete(a) => delete::run(&cli.global, a),
        Command::Login(a) => login::login(&cli.global, a),
        Command::Logout(a) => login::logout(&cli.global, a),
        Command::Completion(a) => completion::completion(&cli.global, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("Error: {}", one_line(&e));
            // A policy refusal is 1 for every command, `run` too (podman
            // says 125 there): scripts tell "not trusted" from "broken".
            if e.chain().any(|c| c.is::<trust::PolicyRejected>()) {
                return ExitCode::from(1);
            }
            if runs_a_command {
                return ExitCode::from(container_exit_code(&e));
            }
            ExitCode::from(2)
        }
    }
}

/// The error chain on one line, each cause once (library errors leave
/// their cause to `source()` rather than repeating it in their message),
/// with untrusted bytes escaped ([`escape::escape`]).
pub(crate) fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&cause.to_string());
    }
    escape::escape(&out)
}

/// A library error and its causes on one line, escaped as [`one_line`]
/// escapes: for errors printed without going through anyhow.
pub(crate) fn error_line(e: &(dyn std::error::Error + 'static)) -> String {
    escape::escape(&vouch_image::chain::one_line(e))
}

/// podman's status for a `run` or `exec` that failed before the command
/// ran: 126 or 127 when the runtime could not execute or find it, else 125
/// (the container's own status is the success path).
fn container_exit_code(e: &anyhow::Error) -> u8 {
    e.chain()
        .find_map(|c| c.downcast_ref::<vouch_runtime::RuntimeError>())
        .map_or(
            vouch_runtime::error::EXIT_GENERIC,
            vouch_runtime::RuntimeError::podman_exit_code,
        )
}

/// Commands that copy a container's or a client's streams themselves: a
/// reader going away there is an error to handle (a container that closed
/// its stdin must not kill `vouch run` and lose its exit code), as Go's
/// runtime treats any descriptor but stdout and stderr.
fn relays_stdio(c: &Command) -> bool {
    matches!(
        c,
        Command::Run(_)
            | Command::Exec(_)
            | Command::Start(_)
            | Command::Restart(_)
            | Command::Container(_)
            | Command::SigstoreServer(_)
    )
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Where the store lives unless `--root` says otherwise (podman: /var/lib/containers/storage).
pub const DEFAULT_ROOT: &str = "/var/lib/vouch";

//! Top-level flags and subcommand dispatch.

mod common;
mod images;
mod pull;
mod push;
mod transfer;

use std::path::PathBuf;
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
}

/// Parses, runs, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    common::init_tracing(&cli.global);
    let result = match cli.command {
        Command::Pull(a) => pull::run(&cli.global, a),
        Command::Push(a) => push::run(&cli.global, a),
        Command::Images(a) => images::images(&cli.global, a),
        Command::Tag(a) => images::tag(&cli.global, a),
        Command::Rmi(a) => images::rmi(&cli.global, a),
        Command::Import(a) => transfer::import(&cli.global, a),
        Command::Save(a) => transfer::save(&cli.global, a),
        Command::Load(a) => transfer::load(&cli.global, a),
        Command::Image(c) => images::image(&cli.global, c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("Error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

/// The error chain on one line, skipping causes already spelled out by the
/// message above them (library errors name their source in their message).
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let msg = cause.to_string();
        if out.contains(&msg) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&msg);
    }
    out.replace('\n', " ")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Where the store lives unless `--root` says otherwise (podman: /var/lib/containers/storage).
pub const DEFAULT_ROOT: &str = "/var/lib/vouch";

#[allow(dead_code)]
fn default_root() -> PathBuf {
    PathBuf::from(DEFAULT_ROOT)
}

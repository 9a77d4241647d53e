//! `vouch manifest create|add|inspect|push`: podman's multi-arch lists in
//! the local store (`vouch_image::lists`), pushed with every image and
//! signed per image and for the list (`push` goes through the copy engine,
//! so an instance is never left unsigned under a signed list).

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use vouch_copy::engine::Options;
use vouch_copy::ImageName;
use vouch_image::lists;
use vouch_image::manifest::Platform;

use super::common::{runtime, Global};
use super::copy::{Copier, EndFlags};
use super::progress::Stream;
use super::signing::{SignFlags, SignPlan};

#[derive(Subcommand, Debug)]
pub enum ManifestCommand {
    /// Create a manifest list from local images.
    Create(CreateArgs),
    /// Add a local image to a manifest list.
    Add(AddArgs),
    /// Print a manifest list.
    Inspect(InspectArgs),
    /// Push a manifest list and (with --all) its images, signing each.
    Push(Box<PushArgs>),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Name of the new list.
    pub list: String,
    /// Local images to add.
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// Override the architecture the image is listed for.
    #[arg(long)]
    pub arch: Option<String>,
    /// Override the OS the image is listed for.
    #[arg(long)]
    pub os: Option<String>,
    /// Set the architecture variant.
    #[arg(long)]
    pub variant: Option<String>,
    pub list: String,
    pub image: String,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    pub list: String,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Push the list's images too (the only way vouch pushes a list).
    #[arg(long)]
    pub all: bool,
    /// Require HTTPS and verify certificates (`--tls-verify=false` for plain HTTP).
    #[arg(long = "tls-verify", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tls_verify: Option<bool>,
    /// Credentials USER[:PASSWORD].
    #[arg(long)]
    pub creds: Option<String>,
    /// Path of a containers-auth.json file.
    #[arg(long, env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub sign: SignFlags,
    /// Do not push signatures kept with the images.
    #[arg(long = "remove-signatures")]
    pub remove_signatures: bool,
    /// Write the digest of the pushed list to this file.
    #[arg(long)]
    pub digestfile: Option<std::path::PathBuf>,
    #[arg(short, long)]
    pub quiet: bool,
    /// Local manifest list.
    pub list: String,
    /// Destination (`[docker://]registry/repo[:tag]`).
    pub destination: String,
}

pub fn run(g: &Global, c: ManifestCommand) -> anyhow::Result<ExitCode> {
    match c {
        ManifestCommand::Create(a) => {
            let store = g.store()?;
            anyhow::ensure!(
                lists::find(&store, &a.list)?.is_none(),
                "{}: a manifest list of that name exists",
                a.list
            );
            let mut index = lists::with_entries(None, Vec::new());
            for i in &a.images {
                let rec = store.resolve(i)?;
                index =
                    lists::with_entries(Some(&index), vec![lists::entry_for(&store, &rec, None)?]);
            }
            let rec = lists::put(&store, &a.list, &index)?;
            println!("{}", rec.digest.hex());
            Ok(ExitCode::SUCCESS)
        }
        ManifestCommand::Add(a) => {
            let store = g.store()?;
            let list = lists::find(&store, &a.list)?
                .with_context(|| format!("{}: no such manifest list", a.list))?;
            let index = lists::index_of(&store, &list)?;
            let rec = store.resolve(&a.image)?;
            let platform = (a.arch.is_some() || a.os.is_some() || a.variant.is_some()).then(|| {
                let base = lists::entry_for(&store, &rec, None)
                    .ok()
                    .and_then(|d| d.platform)
                    .unwrap_or_default();
                Platform {
                    architecture: a.arch.clone().unwrap_or(base.architecture),
                    os: a.os.clone().unwrap_or(base.os),
                    variant: a.variant.clone().or(base.variant),
                }
            });
            let entry = lists::entry_for(&store, &rec, platform)?;
            let rec = lists::put(
                &store,
                &a.list,
                &lists::with_entries(Some(&index), vec![entry]),
            )?;
            println!("{}", rec.digest.hex());
            Ok(ExitCode::SUCCESS)
        }
        ManifestCommand::Inspect(a) => {
            let store = g.store()?;
            let list = lists::find(&store, &a.list)?
                .with_context(|| format!("{}: no such manifest list", a.list))?;
            let bytes = store.read_blob(&list.digest)?;
            println!("{}", String::from_utf8_lossy(&bytes));
            Ok(ExitCode::SUCCESS)
        }
        ManifestCommand::Push(a) => push(g, *a),
    }
}

/// Pushes the list `a.list` with its images, through the copy engine.
pub fn push(g: &Global, a: PushArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        a.all,
        "{}: pushing a manifest list without its images would name images the registry may lack; use --all",
        a.list
    );
    let dest = a.destination.trim_start_matches("docker://");
    let dst = super::copy::parse_name("destination", &format!("docker://{dest}"))?;
    let src = ImageName::Store(a.list.clone());
    let ends = EndFlags {
        dest_tls_verify: a.tls_verify,
        dest_creds: a.creds.clone(),
        dest_authfile: a.authfile.clone(),
        ..EndFlags::default()
    };
    let mut signer = Some(SignPlan::for_copy(g, &a.sign, &dst)?);
    let copier = Copier {
        g,
        ends: &ends,
        sign: &a.sign,
        opts: Options {
            all: true,
            remove_signatures: a.remove_signatures,
            platform: Platform::default(),
            concurrency: 6,
            blob_locks: Default::default(),
        },
        quiet: a.quiet,
        progress: Stream::Stderr,
        // The store's own content: what may be pushed is the user's call,
        // as for `vouch push`.
        insecure_source: true,
    };
    let digest = runtime()?.block_on(copier.copy(&src, &dst, &mut signer))?;
    if let (Some(f), Some(d)) = (&a.digestfile, digest) {
        vouch_image::outfile::write_output(f, d.to_string().as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

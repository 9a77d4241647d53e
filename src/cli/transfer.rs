//! `vouch import`, `save`, `load`: images in and out of files.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use vouch_image::{archive, import, ImageRef};

use super::common::Global;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Dockerfile instruction to apply (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, WORKDIR).
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    /// Print only the image ID.
    #[arg(short, long)]
    pub quiet: bool,
    /// Root-filesystem tarball (plain, gzip or zstd).
    pub tarball: PathBuf,
    /// Name for the new image.
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Output file.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Archive format (only oci-archive).
    #[arg(long, default_value = "oci-archive")]
    pub format: String,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Input oci-archive.
    #[arg(short, long)]
    pub input: PathBuf,
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn import(g: &Global, a: ImportArgs) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let name = a
        .reference
        .as_deref()
        .map(|n| {
            if n.contains('/') {
                n.to_string()
            } else {
                format!("localhost/{n}")
            }
        })
        .map(|n| ImageRef::parse(&n))
        .transpose()?;
    let rec = import::import_tarball(&store, &a.tarball, name.as_ref(), &a.change)
        .with_context(|| format!("importing {}", a.tarball.display()))?;
    println!("{}", rec.id);
    Ok(ExitCode::SUCCESS)
}

pub fn save(g: &Global, a: SaveArgs) -> anyhow::Result<ExitCode> {
    if a.format != "oci-archive" {
        anyhow::bail!("--format {:?}: only oci-archive is supported", a.format);
    }
    let store = g.store()?;
    let mut images = Vec::new();
    for n in &a.images {
        let rec = store.resolve(n)?;
        let name = ImageRef::parse(n)
            .ok()
            .map(|r| r.to_string())
            .filter(|full| rec.names.contains(full))
            .or_else(|| rec.names.first().cloned());
        images.push((rec, name));
    }
    archive::save(&store, &images, &a.output)
        .with_context(|| format!("saving to {}", a.output.display()))?;
    Ok(ExitCode::SUCCESS)
}

pub fn load(g: &Global, a: LoadArgs) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    // Every ArchiveError names the archive already: no context, or the
    // path would be printed twice.
    let recs = archive::load(&store, &a.input)?;
    for r in recs {
        match r.names.first() {
            Some(n) => println!("Loaded image: {}", super::escape::escape(&n.to_string())),
            None => println!("Loaded image: sha256:{}", r.id),
        }
    }
    Ok(ExitCode::SUCCESS)
}

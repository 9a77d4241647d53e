//! `vouch sigstore-server`: the lookaside signature server of crate
//! `sigstore-server`, with the same flags as the standalone binary. The
//! lookaside directory is vouch's global `--root` (the flag is shared, so
//! `vouch sigstore-server --root DIR …` reads exactly like
//! `sigstore-server --root DIR …`); it must be given explicitly, since the
//! default root is the image store.

use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use super::Global;

/// Flags of `vouch sigstore-server` (see docs/sigstore-server.md).
#[derive(Args, Debug)]
pub struct SigstoreServerArgs {
    #[command(flatten)]
    pub server: sigstore_server::cli::ServerArgs,
}

pub fn run(g: &Global, a: SigstoreServerArgs) -> anyhow::Result<ExitCode> {
    if g.root.as_os_str() == super::DEFAULT_ROOT {
        bail!("vouch sigstore-server needs --root DIR, the lookaside directory to serve");
    }
    sigstore_server::cli::run(&g.root, &a.server)?;
    Ok(ExitCode::SUCCESS)
}

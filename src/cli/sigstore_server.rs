//! `vouch sigstore-server`: the lookaside signature server of crate
//! `sigstore-server`, with the same flags and subcommands (`hash-token`) as
//! the standalone binary. The
//! lookaside directory is vouch's global `--root` (the flag is shared, so
//! `vouch sigstore-server --root DIR …` reads exactly like
//! `sigstore-server --root DIR …`); it must be given explicitly, since the
//! default root is the image store.

use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use super::Global;

/// Flags and subcommands of `vouch sigstore-server` (see
/// docs/sigstore-server.md): the standalone binary's own definition.
#[derive(Args, Debug)]
pub struct SigstoreServerArgs {
    #[command(flatten)]
    pub cmd: sigstore_server::cli::ServerCommand,
}

pub fn run(g: &Global, a: SigstoreServerArgs) -> anyhow::Result<ExitCode> {
    a.cmd.run(|| {
        if g.root.as_os_str() == super::DEFAULT_ROOT {
            bail!("vouch sigstore-server needs --root DIR, the lookaside directory to serve");
        }
        Ok(g.root.clone())
    })?;
    Ok(ExitCode::SUCCESS)
}

//! `vouch inspect docker://REF`: skopeo's remote image inspect (the
//! container inspect in ps.rs hands a `docker://` argument over here).

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use vouch_image::registry::Registry;
use vouch_image::remote::inspect::{inspect, InspectRequest};
use vouch_image::remote::platform::PlatformChoice;
use vouch_image::ImageRef;

use super::common::{runtime, Global, RegistryFlags};

/// skopeo inspect's flags (used only with a `docker://` argument).
#[derive(Args, Debug, Clone)]
pub struct RemoteInspectFlags {
    /// Print the manifest bytes as served (with --config: the config bytes).
    #[arg(long)]
    pub raw: bool,
    /// Print the image config (OCI form; with --raw: as stored).
    #[arg(long)]
    pub config: bool,
    /// Do not list the repository's tags in the output.
    #[arg(short = 'n', long = "no-tags")]
    pub no_tags: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

impl RemoteInspectFlags {
    /// Whether any of these flags was given (they need a `docker://` argument).
    pub fn any(&self) -> bool {
        self.raw || self.config || self.no_tags
    }
}

/// `--override-*` are global flags, as in skopeo.
pub fn run(g: &Global, names: &[String], f: &RemoteInspectFlags) -> anyhow::Result<ExitCode> {
    let [name] = names else {
        anyhow::bail!("Exactly one argument expected");
    };
    let reference = ImageRef::parse(name)?;
    let opts = f.registry.options(&reference)?;
    let req = InspectRequest {
        raw: f.raw,
        config: f.config,
        no_tags: f.no_tags,
        platform: PlatformChoice {
            os: g.override_os.clone(),
            arch: g.override_arch.clone(),
            variant: g.override_variant.clone(),
        },
    };
    let out = runtime()?.block_on(async {
        let registry = Registry::new(&reference, &opts);
        inspect(&registry, &reference, &req).await
    })?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

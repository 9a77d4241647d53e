//! `vouch delete docker://REF` (skopeo's): the manifest goes from the
//! registry, then its simple signatures from the `file://` lookaside staging.

use std::process::ExitCode;

use clap::Args;
use vouch_image::referrers::http::RawClient;
use vouch_image::registry::Registry;
use vouch_image::remote::delete::{delete_manifest, resolve_digest};
use vouch_image::ImageRef;
use vouch_verify::lookaside::{check_deletable, delete_signatures};
use vouch_verify::registries_d::BuiltinDefault;

use super::common::{runtime, Global, RegistryFlags};
use super::trust;

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The image, `docker://REGISTRY/NAME[:TAG|@DIGEST]`.
    pub image: String,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

pub fn run(g: &Global, a: DeleteArgs) -> anyhow::Result<ExitCode> {
    if !a.image.starts_with("docker://") {
        anyhow::bail!("{}: only docker:// references can be deleted", a.image);
    }
    let reference = ImageRef::parse(&a.image)?;
    let opts = a.registry.options(&reference)?;
    let base = trust::load_registries_d(g)?
        .write_base(&trust::docker_ref(&reference)?, &BuiltinDefault::from_env())?;
    runtime()?.block_on(async {
        let registry = Registry::new(&reference, &opts);
        let client = RawClient::with_actions(&registry, &reference, "*")?;
        let digest = resolve_digest(&client, &reference).await?;
        // Refuse an HTTP staging before anything is deleted.
        check_deletable(&base, &digest)?;
        delete_manifest(&client, &digest).await?;
        delete_signatures(&base, &digest)?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

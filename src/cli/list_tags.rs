//! `vouch list-tags docker://REPO` (skopeo's), printed as skopeo prints it.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use vouch_image::docker_ref::DockerRef;
use vouch_image::go_json;
use vouch_image::referrers::http::RawClient;
use vouch_image::registry::Registry;
use vouch_image::remote::go_indent::{marshal_indent, GoValue};
use vouch_image::remote::tags::list_tags;
use vouch_image::ImageRef;

use super::common::{runtime, RegistryFlags};

#[derive(Args, Debug)]
pub struct ListTagsArgs {
    /// The repository, `docker://REGISTRY/NAME` without tag or digest.
    pub repository: String,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

pub fn run(a: ListTagsArgs) -> anyhow::Result<ExitCode> {
    let Some(body) = a.repository.strip_prefix("docker://") else {
        anyhow::bail!(
            "Unsupported transport for tag listing in {}: only docker:// is supported",
            go_json::string(&a.repository)
        );
    };
    let name = DockerRef::parse_normalized(body)
        .with_context(|| format!("invalid repository name {}", go_json::string(body)))?;
    if !name.is_name_only() {
        anyhow::bail!("{}: No tag or digest allowed in reference", a.repository);
    }
    let reference = ImageRef::parse(body)?;
    let opts = a.registry.options(&reference)?;
    let tags = runtime()?.block_on(async {
        let registry = Registry::new(&reference, &opts);
        let client = RawClient::new(&registry, &reference, false)?;
        anyhow::Ok(list_tags(&client).await?)
    })?;
    let doc = GoValue::Object(vec![
        ("Repository".into(), GoValue::Str(reference.name())),
        ("Tags".into(), GoValue::strings(Some(&tags))),
    ]);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", marshal_indent(&doc, "    "))?;
    Ok(ExitCode::SUCCESS)
}

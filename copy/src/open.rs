//! From an [`ImageName`] to the transport that serves it.

use std::sync::Arc;

use vouch_image::registry::RegistryOptions;
use vouch_image::Store;
use vouch_verify::gate::Gate;

use crate::docker::{DockerDest, DockerDestConfig, DockerSource};
use crate::endpoint::{Dest, Source};
use crate::error::CopyError;
use crate::local_store::{StoreDest, StoreSource};
use crate::name::ImageName;

/// What opening a source may need: registry options for `docker://`, the
/// gate's registries.d for its signatures, the store for `vouch-store:`.
pub struct SourceContext<'a> {
    pub registry: &'a RegistryOptions,
    pub gate: Arc<Gate>,
    pub store: &'a dyn Fn() -> Result<Arc<Store>, CopyError>,
}

pub async fn source(name: &ImageName, cx: SourceContext<'_>) -> Result<Box<dyn Source>, CopyError> {
    match name {
        ImageName::Docker(r) => Ok(Box::new(DockerSource::open(r, cx.registry, cx.gate).await?)),
        ImageName::Store(n) => Ok(Box::new(StoreSource::open((cx.store)()?, n)?)),
        local => crate::local::open_local_source(local),
    }
}

/// What opening a destination may need.
pub struct DestContext<'a> {
    pub registry: &'a RegistryOptions,
    pub docker: DockerDestConfig,
    pub store: &'a dyn Fn() -> Result<Arc<Store>, CopyError>,
}

pub async fn dest(name: &ImageName, cx: DestContext<'_>) -> Result<Box<dyn Dest>, CopyError> {
    match name {
        ImageName::Docker(r) => Ok(Box::new(DockerDest::open(r, cx.registry, cx.docker).await?)),
        ImageName::Store(n) => Ok(Box::new(StoreDest::open((cx.store)()?, n)?)),
        local => crate::local::open_local_dest(local),
    }
}

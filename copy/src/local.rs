//! Opening the local transports by name: the engine's one entry point to
//! `dir:`, `oci:`, `oci-archive:` and `docker-archive:`.

use crate::dir::{DirDest, DirSource};
use crate::docker_archive::{DockerArchiveDest, DockerArchiveSource};
use crate::endpoint::{Dest, Source};
use crate::error::CopyError;
use crate::name::ImageName;
use crate::oci_archive::{OciArchiveDest, OciArchiveSource};
use crate::oci_layout::{OciDest, OciSource};

fn not_local(name: &ImageName) -> CopyError {
    CopyError::Unsupported(format!(
        "{name}: the {} transport is not a local one",
        name.transport()
    ))
}

/// A source for a `dir:`, `oci:`, `oci-archive:` or `docker-archive:` name.
pub fn open_local_source(name: &ImageName) -> Result<Box<dyn Source>, CopyError> {
    let n = name.clone();
    Ok(match name {
        ImageName::Dir(p) => Box::new(DirSource::open(n, p)?),
        ImageName::Oci { path, reference } => {
            Box::new(OciSource::open(n, path, reference.as_deref())?)
        }
        ImageName::OciArchive { path, reference } => {
            Box::new(OciArchiveSource::open(n, path, reference.as_deref())?)
        }
        ImageName::DockerArchive { path, reference } => {
            Box::new(DockerArchiveSource::open(n, path, reference.as_deref())?)
        }
        ImageName::Docker(_) | ImageName::Store(_) => return Err(not_local(name)),
    })
}

/// A destination for a `dir:`, `oci:`, `oci-archive:` or `docker-archive:` name.
pub fn open_local_dest(name: &ImageName) -> Result<Box<dyn Dest>, CopyError> {
    let n = name.clone();
    Ok(match name {
        ImageName::Dir(p) => Box::new(DirDest::open(n, p)?),
        ImageName::Oci { path, reference } => {
            Box::new(OciDest::open(n, path, reference.as_deref())?)
        }
        ImageName::OciArchive { path, reference } => {
            Box::new(OciArchiveDest::open(n, path, reference.as_deref())?)
        }
        ImageName::DockerArchive { path, reference } => {
            Box::new(DockerArchiveDest::open(n, path, reference.as_deref())?)
        }
        ImageName::Docker(_) | ImageName::Store(_) => return Err(not_local(name)),
    })
}

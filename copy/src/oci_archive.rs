//! The `oci-archive:PATH[:REF]` transport (containers/image `oci/archive/`):
//! a tar of an OCI image layout.
//!
//! A source is extracted into a private temp dir and read as `oci:`; the
//! archive is hostile input, so entry names must stay inside it, links and
//! special files are refused, and the total size is capped. A destination
//! builds a fresh layout in a temp dir next to the target and tars it into
//! place at `commit`: as in containers/image, the archive then holds this
//! one image, and until the rename the old file (if any) is untouched.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;
use vouch_image::manifest::Descriptor;
use vouch_image::outfile::OutFile;
use vouch_image::Digest;

use crate::endpoint::{BlobStream, Dest, RawManifest, Source};
use crate::error::CopyError;
use crate::localfs;
use crate::name::ImageName;
use crate::oci_layout::{OciDest, OciSource};
use crate::tar_safety::{self, Budget, Kind};

/// Reads an oci-archive through its extracted layout.
pub struct OciArchiveSource {
    inner: OciSource,
    _dir: tempfile::TempDir,
}

impl OciArchiveSource {
    pub fn open(
        name: ImageName,
        archive: &Path,
        reference: Option<&str>,
    ) -> Result<Self, CopyError> {
        let dir = tempfile::Builder::new()
            .prefix("vouch-oci-archive")
            .tempdir()
            .map_err(CopyError::io("temporary directory"))?;
        extract(archive, dir.path())?;
        let inner = OciSource::open(name, dir.path(), reference).map_err(|e| match e {
            // A name error stays a name error; a file inside the temp dir
            // is reported as the archive's.
            CopyError::Io { path, source } => CopyError::Io {
                path: format!(
                    "{}: {}",
                    archive.display(),
                    path.strip_prefix(&dir.path().display().to_string())
                        .map(|p| p.trim_start_matches('/'))
                        .unwrap_or(&path)
                ),
                source,
            },
            e => e,
        })?;
        Ok(Self { inner, _dir: dir })
    }
}

/// Unpacks the regular files and directories of `archive` into `dest`.
pub fn extract(archive: &Path, dest: &Path) -> Result<(), CopyError> {
    let (reader, _) = tar_safety::open_maybe_compressed(archive)?;
    let mut tar = tar::Archive::new(reader);
    let mut budget = Budget::default();
    let io = |e| CopyError::io(archive.display())(e);
    for entry in tar.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        let raw = entry.path().map_err(io)?.into_owned();
        let Some(name) = tar_safety::entry_name(archive, &raw)? else {
            continue;
        };
        let kind = tar_safety::entry_kind(archive, &name, entry.header())?;
        let size = entry.size();
        budget.take(archive, &name, size)?;
        let path = dest.join(&name);
        match kind {
            Kind::Dir => std::fs::create_dir_all(&path).map_err(CopyError::io(path.display()))?,
            Kind::File => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(CopyError::io(parent.display()))?;
                }
                let mut out = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(|e| tar_safety::invalid(archive, format!("entry {name:?}: {e}")))?;
                let n = std::io::copy(&mut Read::take(&mut entry, size), &mut out).map_err(io)?;
                if n != size {
                    return Err(tar_safety::invalid(
                        archive,
                        format!("entry {name:?} is truncated"),
                    ));
                }
                out.flush().map_err(CopyError::io(path.display()))?;
            }
        }
    }
    Ok(())
}

impl Source for OciArchiveSource {
    fn name(&self) -> &ImageName {
        self.inner.name()
    }

    fn manifest<'a>(
        &'a self,
        instance: Option<&'a Digest>,
    ) -> BoxFuture<'a, Result<RawManifest, CopyError>> {
        self.inner.manifest(instance)
    }

    fn blob<'a>(&'a self, desc: &'a Descriptor) -> BoxFuture<'a, Result<BlobStream, CopyError>> {
        self.inner.blob(desc)
    }

    fn signatures<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<Vec<u8>>, CopyError>> {
        self.inner.signatures(digest)
    }
}

/// Writes an oci-archive: a staged layout, tarred into place at `commit`.
pub struct OciArchiveDest {
    inner: OciDest,
    target: PathBuf,
    _staging: tempfile::TempDir,
}

impl OciArchiveDest {
    pub fn open(
        name: ImageName,
        archive: &Path,
        reference: Option<&str>,
    ) -> Result<Self, CopyError> {
        let parent = localfs::parent_dir(archive);
        let staging = tempfile::Builder::new()
            .prefix(".vouch-oci-archive")
            .tempdir_in(&parent)
            .map_err(CopyError::io(parent.display()))?;
        let inner = OciDest::open(name, staging.path(), reference)?;
        Ok(Self {
            inner,
            target: archive.to_path_buf(),
            _staging: staging,
        })
    }
}

/// Tars the layout at `dir` into `out` as containers/image's `archive.Tar`
/// lays it out: directories first, then files, each level sorted.
pub fn tar_layout(dir: &Path, out: &Path) -> Result<(), CopyError> {
    let file = OutFile::create(out).map_err(localfs::output_error)?;
    {
        let w = std::io::BufWriter::with_capacity(1 << 20, file.file());
        let mut tar = tar::Builder::new(w);
        append_tree(&mut tar, dir, "", out)?;
        let mut w = tar.into_inner().map_err(CopyError::io(out.display()))?;
        w.flush().map_err(CopyError::io(out.display()))?;
    }
    file.commit().map_err(localfs::output_error)
}

fn append_tree<W: Write>(
    tar: &mut tar::Builder<W>,
    dir: &Path,
    prefix: &str,
    out: &Path,
) -> Result<(), CopyError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(CopyError::io(dir.display()))?
        .collect::<Result<_, _>>()
        .map_err(CopyError::io(dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        let path = e.path();
        let ft = e.file_type().map_err(CopyError::io(path.display()))?;
        let mut h = tar::Header::new_ustar();
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            h.set_cksum();
            tar.append_data(&mut h, format!("{name}/"), std::io::empty())
                .map_err(CopyError::io(out.display()))?;
            append_tree(tar, &path, &format!("{name}/"), out)?;
        } else if ft.is_file() {
            let mut f = std::fs::File::open(&path).map_err(CopyError::io(path.display()))?;
            let len = f.metadata().map_err(CopyError::io(path.display()))?.len();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(len);
            h.set_cksum();
            tar.append_data(&mut h, &name, &mut f)
                .map_err(CopyError::io(out.display()))?;
        }
    }
    Ok(())
}

impl Dest for OciArchiveDest {
    fn name(&self) -> &ImageName {
        self.inner.name()
    }

    fn has_blob<'a>(&'a self, desc: &'a Descriptor) -> BoxFuture<'a, Result<bool, CopyError>> {
        self.inner.has_blob(desc)
    }

    fn put_blob<'a>(
        &'a self,
        desc: &'a Descriptor,
        data: BlobStream,
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        self.inner.put_blob(desc, data)
    }

    fn check_signatures(&self) -> Result<(), CopyError> {
        self.inner.check_signatures()
    }

    fn check_manifest_type(&self, media_type: &str) -> Result<(), CopyError> {
        self.inner.check_manifest_type(media_type)
    }

    fn put_signatures<'a>(
        &'a self,
        manifest: &'a RawManifest,
        signatures: &'a [Vec<u8>],
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        self.inner.put_signatures(manifest, signatures)
    }

    fn put_manifest<'a>(
        &'a self,
        manifest: &'a RawManifest,
        instance: bool,
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        self.inner.put_manifest(manifest, instance)
    }

    fn commit(&mut self) -> BoxFuture<'_, Result<(), CopyError>> {
        Box::pin(async move {
            self.inner.write_index()?;
            tar_layout(self.inner.dir(), &self.target)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::localfs::test_support::*;
    use vouch_image::chain::OneLine;

    fn name(p: &Path) -> ImageName {
        ImageName::OciArchive {
            path: p.to_path_buf(),
            reference: None,
        }
    }

    #[tokio::test]
    async fn round_trip_and_nothing_before_commit() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("img.tar");
        let img = tiny_oci();
        let mut dest = OciArchiveDest::open(name(&a), &a, Some("v1")).unwrap();
        let m: vouch_image::manifest::ImageManifest =
            serde_json::from_slice(&img.manifest.bytes).unwrap();
        dest.put_blob(&m.config, stream_of(&img.config))
            .await
            .unwrap();
        let e = dest
            .put_blob(&m.layers[0], failing_stream(&img.layer))
            .await
            .unwrap_err();
        assert!(e.one_line().contains("boom"));
        dest.put_blob(&m.layers[0], stream_of(&img.layer))
            .await
            .unwrap();
        dest.put_manifest(&img.manifest, false).await.unwrap();
        assert!(!a.exists());
        dest.commit().await.unwrap();
        drop(dest);
        assert_eq!(files(t.path()), vec!["img.tar".to_string()]);

        let mut names = Vec::new();
        let mut ar = tar::Archive::new(std::fs::File::open(&a).unwrap());
        for e in ar.entries().unwrap() {
            names.push(e.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(
            names[..2],
            ["blobs/".to_string(), "blobs/sha256/".to_string()]
        );
        assert_eq!(
            names[names.len() - 2..],
            ["index.json".to_string(), "oci-layout".to_string()]
        );

        let src = OciArchiveSource::open(name(&a), &a, Some("v1")).unwrap();
        let got = src.manifest(None).await.unwrap();
        assert_eq!(got.bytes, img.manifest.bytes);
        assert_eq!(
            collect(src.blob(&m.layers[0]).await.unwrap()).await,
            img.layer
        );
    }

    #[tokio::test]
    async fn compressed_archives_are_read() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("img.tar");
        let img = tiny_oci();
        let mut dest = OciArchiveDest::open(name(&a), &a, None).unwrap();
        crate::oci_layout::tests::write_tiny(&mut dest, &img).await;
        let gz = t.path().join("img.tar.gz");
        let mut e = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        e.write_all(&std::fs::read(&a).unwrap()).unwrap();
        e.finish().unwrap();
        let src = OciArchiveSource::open(name(&gz), &gz, None).unwrap();
        assert_eq!(src.manifest(None).await.unwrap().bytes, img.manifest.bytes);
    }

    fn evil_tar(path: &Path, name: &[u8], link: Option<&str>) {
        let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match link {
            Some(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_link_name(target).unwrap();
                h.set_size(0);
            }
            None => h.set_size(1),
        }
        // Written into the raw header, as tar's safe setters refuse "..".
        let field = &mut h.as_old_mut().name;
        field[..name.len()].copy_from_slice(name);
        h.set_cksum();
        b.append(&h, &b"x"[..(link.is_none() as usize)]).unwrap();
        b.finish().unwrap();
    }

    #[test]
    fn traversal_links_and_absolute_names_are_refused() {
        let t = tempfile::tempdir().unwrap();
        for (entry, link, want) in [
            (&b"../escape"[..], None, ".."),
            (b"/etc/escape", None, "absolute"),
            (
                b"blobs/sha256/x",
                Some("../../../etc/passwd"),
                "links are refused",
            ),
        ] {
            let a = t.path().join("evil.tar");
            evil_tar(&a, entry, link);
            let e = OciArchiveSource::open(name(&a), &a, None)
                .err()
                .unwrap()
                .one_line();
            assert!(e.contains("evil.tar") && e.contains(want), "{e}");
        }
        assert!(!t.path().join("escape").exists());
    }
}

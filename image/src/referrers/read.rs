//! Reading the Sigstore bundles that refer to a manifest.
//!
//! Everything the registry says is untrusted: the listing is capped in
//! pages, entries and bytes; each referrer manifest is size-capped before
//! it is fetched and digest-checked after, and must be exactly a bundle
//! artifact for this subject; each bundle blob is size-capped before it is
//! read. A bad referrer fails the read (fail closed) rather than being
//! skipped, so a registry cannot make a pull's outcome depend on silently
//! dropped input. Referrers of other artifact types (SBOMs, attestations
//! of other tools) are not fetched at all.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::http::{query_escape, HttpError, RawClient, Reply};
use super::{fallback_tag, is_bundle_media_type, link, BUNDLE_MEDIA_TYPES};
use crate::digest::Digest;
use crate::manifest::{Descriptor, MAX_MANIFEST_BYTES, OCI_INDEX, OCI_MANIFEST};
use crate::reference::ImageRef;
use crate::registry::{Registry, RegistryError};

/// containers/image `iolimits.MaxSignatureBodySize`, as for attachments.
pub const MAX_BUNDLE_BYTES: u64 = 4 << 20;
/// Bundles read for one manifest: one per signing is the real pattern.
pub const MAX_BUNDLES: usize = 128;
/// All bundles together, so count and size caps cannot multiply.
pub const MAX_TOTAL_BYTES: u64 = 16 << 20;
/// Pages of one referrers listing before it counts as endless.
pub const MAX_PAGES: usize = 16;
/// Entries of any artifact type across all pages of one listing.
pub const MAX_DESCRIPTORS: usize = 4096;
/// One page of the listing, or the fallback index.
pub const MAX_INDEX_BYTES: u64 = MAX_MANIFEST_BYTES as u64;

/// Why the bundles of an image could not be read; the pull stops.
#[derive(Debug, thiserror::Error)]
pub enum ReferrersReadError {
    #[error("setting up the referrers client")]
    Client(#[source] HttpError),
    #[error("listing referrers")]
    Http(#[source] HttpError),
    #[error("listing referrers at {url}: the registry answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("parsing the referrers index from {url}")]
    Parse {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "referrers at {url}: more than {MAX_PAGES} pages (the registry paginates without end)"
    )]
    EndlessPages { url: String },
    #[error("referrers at {url}: next page link {link:?} does not point into the registry")]
    ForeignLink { url: String, link: String },
    #[error("referrers at {url}: more than {MAX_DESCRIPTORS} entries")]
    TooManyEntries { url: String },
    #[error("referrers tag {tag} holds {media_type:?}, not an OCI image index")]
    FallbackMediaType { tag: String, media_type: String },
    #[error("{count} Sigstore bundle referrers of {subject}, over the limit of {MAX_BUNDLES}")]
    TooManyBundles { subject: Digest, count: usize },
    #[error("bundle referrer manifest {digest} declares {size} bytes, over the limit of {MAX_INDEX_BYTES}")]
    ManifestTooLarge { digest: Digest, size: u64 },
    #[error("fetching bundle referrer manifest {digest}")]
    ManifestFetch {
        digest: Digest,
        #[source]
        source: HttpError,
    },
    #[error("bundle referrer manifest {digest}: the registry answered HTTP {status}")]
    ManifestStatus { digest: Digest, status: u16 },
    #[error("bundle referrer manifest {digest}: the registry sent {got} instead")]
    ManifestDigest { digest: Digest, got: Digest },
    #[error("bundle referrer manifest {digest}: {detail}")]
    ManifestShape { digest: Digest, detail: String },
    #[error(
        "Sigstore bundle {digest} declares {size} bytes, over the limit of {MAX_BUNDLE_BYTES}"
    )]
    BundleTooLarge { digest: Digest, size: u64 },
    #[error("Sigstore bundles of {subject} declare {total} bytes together, over the limit of {MAX_TOTAL_BYTES}")]
    TotalTooLarge { subject: Digest, total: u64 },
    #[error("fetching Sigstore bundle {digest}")]
    Bundle {
        digest: Digest,
        #[source]
        source: RegistryError,
    },
}

/// One entry of a referrers index (image-spec descriptor, with the 1.1
/// `artifactType`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReferrerEntry {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default)]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReferrersIndex {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<ReferrerEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactManifest {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    artifact_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
    #[serde(default)]
    subject: Option<Descriptor>,
}

/// Parses one page of a referrers listing (or the fallback index).
/// `content_type` is the reply's; either it or the body's `mediaType` must
/// say OCI index, and they must not disagree.
pub fn parse_index(
    url: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Option<Vec<ReferrerEntry>>, ReferrersReadError> {
    let idx: ReferrersIndex =
        serde_json::from_slice(body).map_err(|source| ReferrersReadError::Parse {
            url: url.to_string(),
            source,
        })?;
    let ct = content_type.map(|c| c.split(';').next().unwrap_or(c).trim());
    let is_index = match (ct, idx.media_type.as_deref()) {
        (_, Some(m)) if m != OCI_INDEX => false,
        (Some(c), None) => c == OCI_INDEX,
        _ => true,
    };
    Ok(is_index.then_some(idx.manifests))
}

/// The bundle entries among `entries`, each digest once, in digest order:
/// the Referrers API promises no order, so this is the stable one.
pub fn bundle_entries(entries: Vec<ReferrerEntry>) -> Vec<ReferrerEntry> {
    let mut by_digest = BTreeMap::new();
    for e in entries {
        if e.artifact_type.as_deref().is_some_and(is_bundle_media_type) {
            by_digest.entry(e.digest.to_string()).or_insert(e);
        }
    }
    by_digest.into_values().collect()
}

/// The Sigstore bundles referring to the manifest `subject` in `image`'s
/// repository: the bundle JSON bytes (no prefix), in digest order of their
/// referrer manifests. No referrers, or no fallback tag, is no bundles.
pub async fn read_bundles(
    registry: &Registry,
    image: &ImageRef,
    subject: &Digest,
) -> Result<Vec<Vec<u8>>, ReferrersReadError> {
    let client = RawClient::new(registry, image, false).map_err(ReferrersReadError::Client)?;
    let entries = match list_api(&client, subject).await? {
        Some(entries) => entries,
        None => list_fallback(&client, subject).await?,
    };
    let bundles = bundle_entries(entries);
    if bundles.len() > MAX_BUNDLES {
        return Err(ReferrersReadError::TooManyBundles {
            subject: subject.clone(),
            count: bundles.len(),
        });
    }
    let mut layers = Vec::with_capacity(bundles.len());
    for e in &bundles {
        layers.push(fetch_referrer(&client, e, subject).await?);
    }
    let total: u64 = layers.iter().map(|l| l.size).sum();
    if total > MAX_TOTAL_BYTES {
        return Err(ReferrersReadError::TotalTooLarge {
            subject: subject.clone(),
            total,
        });
    }
    let mut out = Vec::with_capacity(layers.len());
    for layer in &layers {
        // Caps the declared size before reading, the bytes while reading,
        // and checks the digest after.
        let blob = registry
            .fetch_small_blob(image, layer, MAX_BUNDLE_BYTES)
            .await
            .map_err(|source| ReferrersReadError::Bundle {
                digest: layer.digest.clone(),
                source,
            })?;
        out.push(blob);
    }
    Ok(out)
}

/// The Referrers API listing, every page; `None` when the registry has no
/// such API (404, or a reply that is not an OCI index, as the spec says a
/// client must then use the tag schema).
async fn list_api(
    client: &RawClient,
    subject: &Digest,
) -> Result<Option<Vec<ReferrerEntry>>, ReferrersReadError> {
    let mut all = Vec::new();
    // Registries that apply the filter drop other types, so each accepted
    // bundle type is asked for; one that ignores it answers everything at
    // the first request.
    for (i, artifact_type) in BUNDLE_MEDIA_TYPES.iter().enumerate() {
        let first = client.url(&format!(
            "referrers/{subject}?artifactType={}",
            query_escape(artifact_type)
        ));
        let Some((entries, filtered)) = list_pages(client, &first).await? else {
            return if i == 0 { Ok(None) } else { Ok(Some(all)) };
        };
        all.extend(entries);
        if !filtered || all.len() > MAX_DESCRIPTORS {
            break;
        }
    }
    if all.len() > MAX_DESCRIPTORS {
        return Err(ReferrersReadError::TooManyEntries {
            url: client.url(&format!("referrers/{subject}")),
        });
    }
    Ok(Some(all))
}

/// Follows one listing's `Link: rel="next"` chain within the caps.
async fn list_pages(
    client: &RawClient,
    first: &str,
) -> Result<Option<(Vec<ReferrerEntry>, bool)>, ReferrersReadError> {
    let mut url = first.to_string();
    let mut entries = Vec::new();
    let mut filtered = true;
    for page in 0.. {
        if page >= MAX_PAGES {
            return Err(ReferrersReadError::EndlessPages {
                url: first.to_string(),
            });
        }
        let reply = client
            .get(&url, OCI_INDEX, MAX_INDEX_BYTES)
            .await
            .map_err(ReferrersReadError::Http)?;
        if page == 0 && reply.status.as_u16() == 404 {
            return Ok(None);
        }
        if !reply.status.is_success() {
            return Err(ReferrersReadError::Status {
                url,
                status: reply.status.as_u16(),
            });
        }
        let Some(got) = parse_index(&url, reply.header("content-type"), &reply.body)? else {
            if page == 0 {
                return Ok(None);
            }
            return Err(ReferrersReadError::Status {
                url,
                status: reply.status.as_u16(),
            });
        };
        filtered &= applied_artifact_type(&reply);
        entries.extend(got);
        if entries.len() > MAX_DESCRIPTORS {
            return Err(ReferrersReadError::TooManyEntries {
                url: first.to_string(),
            });
        }
        let Some(next) = link::next_link(reply.headers_all("link")) else {
            break;
        };
        url =
            link::resolve(client.base(), &next).ok_or_else(|| ReferrersReadError::ForeignLink {
                url: first.to_string(),
                link: next.clone(),
            })?;
    }
    Ok(Some((entries, filtered)))
}

/// Whether the registry says it filtered by `artifactType`.
fn applied_artifact_type(reply: &Reply) -> bool {
    reply.headers_all("oci-filters-applied").iter().any(|v| {
        v.split(',')
            .any(|f| f.trim().eq_ignore_ascii_case("artifactType"))
    })
}

/// The referrers tag schema: the index under `sha256-<hex>`, if any.
async fn list_fallback(
    client: &RawClient,
    subject: &Digest,
) -> Result<Vec<ReferrerEntry>, ReferrersReadError> {
    let tag = fallback_tag(subject);
    let url = client.url(&format!("manifests/{tag}"));
    let reply = client
        .get(&url, OCI_INDEX, MAX_INDEX_BYTES)
        .await
        .map_err(ReferrersReadError::Http)?;
    if reply.status.as_u16() == 404 {
        return Ok(Vec::new());
    }
    if !reply.status.is_success() {
        return Err(ReferrersReadError::Status {
            url,
            status: reply.status.as_u16(),
        });
    }
    let ct = reply.header("content-type").map(str::to_string);
    match parse_index(&url, ct.as_deref(), &reply.body)? {
        Some(entries) if entries.len() <= MAX_DESCRIPTORS => Ok(entries),
        Some(_) => Err(ReferrersReadError::TooManyEntries { url }),
        None => Err(ReferrersReadError::FallbackMediaType {
            tag,
            media_type: ct.unwrap_or_default(),
        }),
    }
}

/// Fetches and checks one referrer manifest; returns its bundle layer.
async fn fetch_referrer(
    client: &RawClient,
    entry: &ReferrerEntry,
    subject: &Digest,
) -> Result<Descriptor, ReferrersReadError> {
    let digest = &entry.digest;
    if entry.size > MAX_INDEX_BYTES {
        return Err(ReferrersReadError::ManifestTooLarge {
            digest: digest.clone(),
            size: entry.size,
        });
    }
    let url = client.url(&format!("manifests/{digest}"));
    let reply = client
        .get(&url, OCI_MANIFEST, entry.size)
        .await
        .map_err(|source| ReferrersReadError::ManifestFetch {
            digest: digest.clone(),
            source,
        })?;
    if !reply.status.is_success() {
        return Err(ReferrersReadError::ManifestStatus {
            digest: digest.clone(),
            status: reply.status.as_u16(),
        });
    }
    let got = Digest::of(&reply.body);
    if &got != digest {
        return Err(ReferrersReadError::ManifestDigest {
            digest: digest.clone(),
            got,
        });
    }
    check_referrer(digest, reply.header("content-type"), &reply.body, subject)
}

/// A bundle artifact manifest for `subject`, with one bundle layer within
/// the size cap: everything else is refused before any blob is read.
pub fn check_referrer(
    digest: &Digest,
    content_type: Option<&str>,
    body: &[u8],
    subject: &Digest,
) -> Result<Descriptor, ReferrersReadError> {
    let shape = |detail: String| ReferrersReadError::ManifestShape {
        digest: digest.clone(),
        detail,
    };
    let m: ArtifactManifest =
        serde_json::from_slice(body).map_err(|e| shape(format!("not an image manifest: {e}")))?;
    let ct = content_type.map(|c| c.split(';').next().unwrap_or(c).trim());
    let media_type = m.media_type.as_deref().or(ct).unwrap_or_default();
    if media_type != OCI_MANIFEST || ct.is_some_and(|c| c != OCI_MANIFEST) {
        return Err(shape(format!(
            "media type {media_type:?}, not an OCI image manifest"
        )));
    }
    match &m.subject {
        Some(s) if &s.digest == subject => {}
        Some(s) => return Err(shape(format!("refers to {}, not {subject}", s.digest))),
        None => {
            return Err(shape(format!(
                "has no subject, so does not refer to {subject}"
            )))
        }
    }
    let [layer] = m.layers.as_slice() else {
        return Err(shape(format!(
            "has {} layers, a bundle artifact has one",
            m.layers.len()
        )));
    };
    if !is_bundle_media_type(&layer.media_type) {
        return Err(shape(format!(
            "layer media type {:?} is not a Sigstore bundle",
            layer.media_type
        )));
    }
    // cosign's artifacts say what they are in artifactType (or, as image-
    // spec allows, the config's media type); a disagreeing one is refused.
    let declared = m.artifact_type.as_deref().unwrap_or(&m.config.media_type);
    if !is_bundle_media_type(declared) {
        return Err(shape(format!(
            "artifact type {declared:?} is not a Sigstore bundle"
        )));
    }
    if layer.size > MAX_BUNDLE_BYTES {
        return Err(ReferrersReadError::BundleTooLarge {
            digest: layer.digest.clone(),
            size: layer.size,
        });
    }
    Ok(layer.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigstore_blob::BUNDLE_V03_MEDIA_TYPE;
    use serde_json::json;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn entry(c: char, artifact_type: &str) -> serde_json::Value {
        json!({"mediaType": OCI_MANIFEST, "digest": d(c), "size": 500, "artifactType": artifact_type})
    }

    #[test]
    fn index_needs_the_oci_index_type() {
        let body = json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [entry('a', BUNDLE_V03_MEDIA_TYPE)]})
        .to_string();
        let got = parse_index("u", Some(OCI_INDEX), body.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(got.len(), 1);
        let bare = json!({"manifests": []}).to_string();
        assert!(parse_index("u", Some("application/json"), bare.as_bytes())
            .unwrap()
            .is_none());
        let other = json!({"mediaType": OCI_MANIFEST, "layers": []}).to_string();
        assert!(parse_index("u", None, other.as_bytes()).unwrap().is_none());
        let e = parse_index("http://r/v2/a/referrers/x", None, b"<html>").unwrap_err();
        assert_eq!(
            e.to_string(),
            "parsing the referrers index from http://r/v2/a/referrers/x"
        );
    }

    #[test]
    fn only_bundles_once_each_in_digest_order() {
        let entries: Vec<ReferrerEntry> = serde_json::from_value(json!([
            entry('c', BUNDLE_V03_MEDIA_TYPE),
            entry('a', "application/vnd.dev.sigstore.bundle+json;version=0.2"),
            entry('b', "application/spdx+json"),
            entry('c', BUNDLE_V03_MEDIA_TYPE),
            {"mediaType": OCI_MANIFEST, "digest": d('d'), "size": 1},
        ]))
        .unwrap();
        let got: Vec<String> = bundle_entries(entries)
            .into_iter()
            .map(|e| e.digest.to_string())
            .collect();
        assert_eq!(got, vec![d('a'), d('c')]);
    }

    fn referrer(subject: &str, layers: serde_json::Value) -> Vec<u8> {
        json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": super::super::EMPTY_MEDIA_TYPE, "digest": d('e'), "size": 2},
            "layers": layers,
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 10},
            "artifactType": BUNDLE_V03_MEDIA_TYPE})
        .to_string()
        .into_bytes()
    }

    fn bundle_layer(size: u64) -> serde_json::Value {
        json!([{"mediaType": BUNDLE_V03_MEDIA_TYPE, "digest": d('b'), "size": size}])
    }

    #[test]
    fn accepts_cosigns_referrer() {
        let subject: Digest = d('5').parse().unwrap();
        let me: Digest = d('6').parse().unwrap();
        let body = referrer(&d('5'), bundle_layer(4971));
        let layer = check_referrer(&me, Some(OCI_MANIFEST), &body, &subject).unwrap();
        assert_eq!(layer.size, 4971);
    }

    #[test]
    fn refuses_what_is_not_a_bundle_for_this_subject() {
        let subject: Digest = d('5').parse().unwrap();
        let me: Digest = d('6').parse().unwrap();
        let other =
            check_referrer(&me, None, &referrer(&d('0'), bundle_layer(1)), &subject).unwrap_err();
        assert_eq!(
            other.to_string(),
            format!(
                "bundle referrer manifest {me}: refers to {}, not {subject}",
                d('0')
            )
        );
        let two = json!([bundle_layer(1)[0], bundle_layer(1)[0]]);
        let e = check_referrer(&me, None, &referrer(&d('5'), two), &subject).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("has 2 layers, a bundle artifact has one"),
            "{e}"
        );
        let spdx = json!([{"mediaType": "application/spdx+json", "digest": d('b'), "size": 1}]);
        let e = check_referrer(&me, None, &referrer(&d('5'), spdx), &subject).unwrap_err();
        assert!(e.to_string().contains("is not a Sigstore bundle"), "{e}");
        let e = check_referrer(
            &me,
            Some("application/vnd.docker.distribution.manifest.v2+json"),
            &referrer(&d('5'), bundle_layer(1)),
            &subject,
        )
        .unwrap_err();
        assert!(e.to_string().contains("not an OCI image manifest"), "{e}");
    }

    #[test]
    fn refuses_a_huge_bundle_before_reading_it() {
        let subject: Digest = d('5').parse().unwrap();
        let me: Digest = d('6').parse().unwrap();
        let e = check_referrer(
            &me,
            None,
            &referrer(&d('5'), bundle_layer(1 << 40)),
            &subject,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "Sigstore bundle {} declares {} bytes, over the limit of {MAX_BUNDLE_BYTES}",
                d('b'),
                1u64 << 40
            )
        );
    }
}

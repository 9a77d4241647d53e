//! Sigstore bundle referrers against a real registry: Debian's
//! docker-registry 2.8, which has no Referrers API (so the referrers tag
//! schema is what is written and read), and the same registry behind
//! fixtures/fault-proxy.py's `referrers*` modes, which add a Referrers API
//! in front of it (no registry implementing one is installable here from
//! apt, PyPI or npm) and inject the bad replies a hostile registry can give.

mod common;

use common::{FaultProxy, Registry as TestRegistry, Vouch};
use vouch_image::manifest::{Descriptor, OCI_INDEX, OCI_MANIFEST};
use vouch_image::push::push;
use vouch_image::referrers::read::read_bundles;
use vouch_image::referrers::write::push_bundle;
use vouch_image::referrers::{fallback_tag, BUNDLE_MEDIA_TYPES};
use vouch_image::registry::{Registry, RegistryOptions};
use vouch_image::{Digest, ImageRef, Store};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn opts() -> RegistryOptions {
    RegistryOptions {
        tls_verify: false,
        ..RegistryOptions::default()
    }
}

/// Pushes a one-layer image to `host/app:1`; returns it and its manifest
/// descriptor.
async fn push_image(host: &str, seed: &str) -> (ImageRef, Descriptor) {
    let image = ImageRef::parse(&format!("{host}/app:1")).unwrap();
    let reg = Registry::new(&image, &opts());
    let layer = format!("layer {seed}").into_bytes();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    for b in [&layer[..], &config[..]] {
        reg.push_blob_bytes(&image, &Digest::of(b), b.to_vec().into())
            .await
            .unwrap();
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": Digest::of(config).to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": Digest::of(&layer).to_string(), "size": layer.len()}],
    })
    .to_string()
    .into_bytes();
    reg.push_manifest(&image, manifest.clone().into(), OCI_MANIFEST)
        .await
        .unwrap();
    let desc = Descriptor {
        media_type: OCI_MANIFEST.into(),
        digest: Digest::of(&manifest),
        size: manifest.len() as u64,
        platform: None,
        annotations: None,
    };
    (image, desc)
}

fn bundle(n: u32) -> Vec<u8> {
    format!(
        r#"{{"mediaType":"{}","verificationMaterial":{{}},"messageSignature":{{"signature":"c2ln{n}"}}}}"#,
        BUNDLE_MEDIA_TYPES[0]
    )
    .into_bytes()
}

/// GET of a manifest straight from the upstream (no proxy), by tag.
async fn upstream_manifest(host: &str, tag: &str) -> Option<serde_json::Value> {
    let image = ImageRef::parse(&format!("{host}/app:{tag}")).unwrap();
    let reg = Registry::new(&image, &opts());
    reg.fetch_manifest(&image)
        .await
        .ok()
        .map(|m| serde_json::from_slice(&m.bytes).unwrap())
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

#[test]
fn tag_schema_is_written_and_read_on_a_registry_without_the_api() {
    let r = TestRegistry::start();
    rt().block_on(async {
        let (image, subject) = push_image(&r.host(), "a").await;
        let reg = Registry::new(&image, &opts());
        assert!(read_bundles(&reg, &image, &subject.digest)
            .await
            .unwrap()
            .is_empty());

        let first = push_bundle(&reg, &image, &subject, &bundle(1))
            .await
            .unwrap();
        let tag = fallback_tag(&subject.digest);
        let index = upstream_manifest(&r.host(), &tag)
            .await
            .expect("the tag index");
        assert_eq!(index["mediaType"], OCI_INDEX);
        assert_eq!(index["manifests"][0]["digest"], first.to_string());
        assert_eq!(index["manifests"][0]["artifactType"], BUNDLE_MEDIA_TYPES[0]);
        assert_eq!(
            index["manifests"][0]["annotations"]["dev.sigstore.bundle.content"],
            "message-signature"
        );

        // Someone else's referrer (an SBOM) already in the index survives,
        // and is not read as a bundle.
        let sbom_manifest = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "artifactType": "application/spdx+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                       "digest": Digest::of(b"{}").to_string(), "size": 2},
            "layers": [{"mediaType": "application/spdx+json",
                        "digest": Digest::of(b"{}").to_string(), "size": 2}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest.to_string(),
                        "size": subject.size}})
        .to_string();
        let sbom_digest = Digest::of(sbom_manifest.as_bytes());
        reg.push_manifest(
            &image.with_digest(&sbom_digest.to_string()),
            sbom_manifest.clone().into_bytes().into(),
            OCI_MANIFEST,
        )
        .await
        .unwrap();
        let mut with_sbom = index.clone();
        with_sbom["manifests"].as_array_mut().unwrap().insert(
            0,
            serde_json::json!({"mediaType": OCI_MANIFEST,
                "digest": sbom_digest.to_string(), "size": sbom_manifest.len(),
                "artifactType": "application/spdx+json"}),
        );
        reg.push_manifest(
            &image.with_tag(&tag),
            with_sbom.to_string().into_bytes().into(),
            OCI_INDEX,
        )
        .await
        .unwrap();

        let second = push_bundle(&reg, &image, &subject, &bundle(2))
            .await
            .unwrap();
        let index = upstream_manifest(&r.host(), &tag).await.unwrap();
        let digests: Vec<&str> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["digest"].as_str().unwrap())
            .collect();
        assert_eq!(
            digests,
            vec![
                sbom_digest.to_string(),
                first.to_string(),
                second.to_string()
            ]
        );

        let got = read_bundles(&reg, &image, &subject.digest).await.unwrap();
        assert_eq!(sorted(got.clone()), sorted(vec![bundle(1), bundle(2)]));
        // Stable: the same order every time.
        assert_eq!(
            read_bundles(&reg, &image, &subject.digest).await.unwrap(),
            got
        );

        // Writing the same bundle again adds nothing to the index.
        let again = push_bundle(&reg, &image, &subject, &bundle(2))
            .await
            .unwrap();
        let n = upstream_manifest(&r.host(), &tag).await.unwrap()["manifests"]
            .as_array()
            .unwrap()
            .len();
        if again == second {
            assert_eq!(n, 3);
        } else {
            // A second later the created annotation differs: a new referrer.
            assert_eq!(n, 4);
        }
    });
}

#[test]
fn referrers_api_is_used_when_the_registry_has_one() {
    let r = TestRegistry::start();
    for mode in ["referrers", "referrers-paged"] {
        let p = FaultProxy::start(&r, mode);
        rt().block_on(async {
            let (image, subject) = push_image(&p.host(), mode).await;
            let reg = Registry::new(&image, &opts());
            assert!(read_bundles(&reg, &image, &subject.digest)
                .await
                .unwrap()
                .is_empty());
            for n in 1..=3 {
                push_bundle(&reg, &image, &subject, &bundle(n))
                    .await
                    .unwrap();
            }
            // The registry answered OCI-Subject, so no tag was written.
            assert!(
                upstream_manifest(&r.host(), &fallback_tag(&subject.digest))
                    .await
                    .is_none(),
                "{mode}: a fallback tag was written"
            );
            let got = read_bundles(&reg, &image, &subject.digest).await.unwrap();
            assert_eq!(
                sorted(got),
                sorted(vec![bundle(1), bundle(2), bundle(3)]),
                "{mode}"
            );
        });
    }
}

/// Pushes an image with one bundle through a `referrers` proxy, switches
/// the proxy to `mode`, and returns the read's error on one line.
fn read_error(mode: &str) -> (String, Digest) {
    let r = TestRegistry::start();
    let p = FaultProxy::start(&r, "referrers");
    rt().block_on(async {
        let (image, subject) = push_image(&p.host(), mode).await;
        let reg = Registry::new(&image, &opts());
        push_bundle(&reg, &image, &subject, &bundle(1))
            .await
            .unwrap();
        assert_eq!(
            read_bundles(&reg, &image, &subject.digest).await.unwrap(),
            vec![bundle(1)]
        );
        let st = std::process::Command::new("curl")
            .args(["-sf", "-X", "PUT", "--data", mode])
            .arg(format!("http://{}/_fault-proxy/mode", p.host()))
            .output()
            .unwrap();
        assert!(st.status.success(), "switching the proxy to {mode}");
        let e = read_bundles(&reg, &image, &subject.digest)
            .await
            .expect_err(mode);
        let line = vouch_image::chain::one_line(&e);
        assert!(!line.contains('\n'), "{line}");
        (line, subject.digest)
    })
}

#[test]
fn endless_pagination_is_an_error_naming_the_url() {
    let (line, subject) = read_error("referrers-endless");
    assert!(line.starts_with("referrers at http://127.0.0.1:"), "{line}");
    assert!(
        line.contains(&format!("/v2/app/referrers/{subject}?artifactType=")),
        "{line}"
    );
    assert!(
        line.ends_with(": more than 16 pages (the registry paginates without end)"),
        "{line}"
    );
}

#[test]
fn a_huge_referrer_manifest_is_refused_before_reading() {
    let (line, _) = read_error("referrers-huge-manifest");
    let huge = Digest::of(b"huge");
    assert_eq!(
        line,
        format!(
            "bundle referrer manifest {huge} declares 1099511627776 bytes, over the limit of 4194304"
        )
    );
}

#[test]
fn a_missing_referrer_manifest_is_an_error_naming_it() {
    let (line, _) = read_error("referrers-missing-manifest");
    let missing = Digest::of(b"missing");
    assert_eq!(
        line,
        format!("bundle referrer manifest {missing}: the registry answered HTTP 404")
    );
}

#[test]
fn a_huge_bundle_blob_is_refused_before_reading() {
    let (line, _) = read_error("referrers-huge-blob");
    assert!(line.starts_with("Sigstore bundle sha256:"), "{line}");
    assert!(
        line.ends_with(" declares 1099511627776 bytes, over the limit of 4194304"),
        "{line}"
    );
}

#[test]
fn a_missing_bundle_blob_is_an_error_naming_it() {
    let (line, _) = read_error("referrers-missing-blob");
    assert!(
        line.starts_with("fetching Sigstore bundle sha256:"),
        "{line}"
    );
    let digest = line
        .strip_prefix("fetching Sigstore bundle ")
        .and_then(|s| s.get(.."sha256:".len() + 64))
        .unwrap_or_default();
    assert!(digest.starts_with("sha256:"), "{line}");
    assert!(line.contains(&format!("blob {digest}")), "{line}");
}

#[test]
fn push_writes_bundles_as_referrers_of_the_pushed_manifest() {
    let r = TestRegistry::start();
    let v = Vouch::new();
    v.import_httpd("localhost/app:1");
    let store = Store::open(&v.root()).unwrap();
    let image = store.resolve("localhost/app:1").unwrap();
    let dest = ImageRef::parse(&format!("{}/pushed:1", r.host())).unwrap();
    rt().block_on(async {
        let pushed = push(&store, &image, &dest, &opts(), &[], &[bundle(1), bundle(2)])
            .await
            .unwrap();
        assert_eq!(pushed.referrers.len(), 2);
        let reg = Registry::new(&dest, &opts());
        let top = reg.fetch_manifest(&dest).await.unwrap();
        assert_eq!(top.digest, pushed.digest);
        let got = read_bundles(&reg, &dest, &pushed.digest).await.unwrap();
        assert_eq!(sorted(got), sorted(vec![bundle(1), bundle(2)]));
        // Without bundles, push writes no referrers.
        let plain = ImageRef::parse(&format!("{}/plain:1", r.host())).unwrap();
        let pushed = push(&store, &image, &plain, &opts(), &[], &[])
            .await
            .unwrap();
        assert!(pushed.referrers.is_empty());
        assert!(read_bundles(&reg, &plain, &pushed.digest)
            .await
            .unwrap()
            .is_empty());
    });
}

//! A stored sigstore signature through `sigstoreSigned` evaluation: the
//! blob, the payload, the Rekor bundle and the certificate annotations are
//! all attacker-controlled, so every parser on that path runs here. The
//! policy trusts the upstream fixture key with the fixture Rekor key, and a
//! second requirement exercises the Fulcio path; evaluation must return
//! (allow or deny), never panic. The payload parser runs on the raw payload
//! too, since the signature check would otherwise stop almost every input
//! before it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vouch_image::sigstore_blob::SigstoreComponents;
use vouch_verify::policy::{Policy, PolicyImage};
use vouch_verify::sigstore::{certificate, payload::UntrustedSigstorePayload, pem};

const COSIGN: &[u8] =
    include_bytes!("../../fixtures/containers-image/signature/fixtures/cosign.pub");
const REKOR: &[u8] = include_bytes!("../../fixtures/containers-image/signature/fixtures/rekor.pub");
const FULCIO: &[u8] =
    include_bytes!("../../fixtures/containers-image/signature/fixtures/fulcio_v1.crt.pem");

fn b64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn policies() -> &'static [Policy] {
    static P: OnceLock<Vec<Policy>> = OnceLock::new();
    P.get_or_init(|| {
        let key = format!(
            r#"{{"default":[{{"type":"sigstoreSigned","keyData":"{}","rekorPublicKeyData":"{}","signedIdentity":{{"type":"matchRepository"}}}}]}}"#,
            b64(COSIGN),
            b64(REKOR)
        );
        let fulcio = format!(
            r#"{{"default":[{{"type":"sigstoreSigned","fulcio":{{"caData":"{}","oidcIssuer":"https://github.com/login/oauth","subjectEmail":"mitr@redhat.com"}},"rekorPublicKeyData":"{}"}}]}}"#,
            b64(FULCIO),
            b64(REKOR)
        );
        [key, fulcio]
            .iter()
            .map(|p| Policy::parse(p.as_bytes()).expect("fuzz policy"))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let image = PolicyImage::docker("192.168.64.2:5000/cosign-signed-single-sample:latest")
        .expect("fuzz image");
    let (manifest, blob) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i..]),
        None => (&data[..0], data),
    };
    for policy in policies() {
        let _ = policy.evaluate(&image, manifest, &[blob.to_vec()]);
    }
    if let Ok(c) = SigstoreComponents::from_blob(blob) {
        let _ = UntrustedSigstorePayload::parse(&c.payload);
        for value in c.annotations.values() {
            let _ = certificate::certificates_from_pem(value.as_bytes());
            let _ = pem::decode(value.as_bytes());
        }
    }
});

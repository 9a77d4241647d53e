//! A Sigstore bundle referrer through `sigstoreSigned` evaluation, and each
//! bundle parser on its own: the whole bundle is attacker-controlled, and
//! the signature check would stop most inputs before the log-entry body,
//! Merkle proof, checkpoint and statement parsers, so those run directly on
//! whatever the bundle holds. Nothing may panic.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use vouch_image::sigstore_blob::BUNDLE_BLOB_PREFIX;
use vouch_verify::policy::{Policy, PolicyImage};
use vouch_verify::sigstore::bundle::model::Content;
use vouch_verify::sigstore::bundle::tlog::{self, Binding, BoundContent};
use vouch_verify::sigstore::bundle::{dsse, merkle, parse};
use vouch_verify::sigstore::public_key::PublicKey;

const COSIGN: &[u8] =
    include_bytes!("../../fixtures/containers-image/signature/fixtures/cosign.pub");
const REKOR: &[u8] = include_bytes!("../../fixtures/containers-image/signature/fixtures/rekor.pub");

fn b64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| {
        let text = format!(
            r#"{{"default":[{{"type":"sigstoreSigned","keyData":"{}","rekorPublicKeyData":"{}","signedIdentity":{{"type":"matchRepository"}}}}]}}"#,
            b64(COSIGN),
            b64(REKOR)
        );
        Policy::parse(text.as_bytes()).expect("fuzz policy")
    })
}

fn rekor() -> &'static [PublicKey] {
    static K: OnceLock<Vec<PublicKey>> = OnceLock::new();
    K.get_or_init(|| vec![PublicKey::from_pem(REKOR).expect("fuzz Rekor key")])
}

fuzz_target!(|data: &[u8]| {
    let image = PolicyImage::docker("example.com/app:latest").expect("fuzz image");
    let mut blob = BUNDLE_BLOB_PREFIX.to_vec();
    blob.extend_from_slice(data);
    let now = UNIX_EPOCH + Duration::from_secs(1_798_761_600);
    let _ = policy().evaluate_at(&image, b"{}", &[blob], now);

    let Ok(bundle) = parse(data) else {
        return;
    };
    let (signature, content) = match &bundle.content {
        Content::Dsse(env) => {
            let _ = dsse::statement(&env.payload_type, &env.payload);
            (
                env.signatures.first().cloned().unwrap_or_default(),
                BoundContent::Dsse {
                    payload_type: &env.payload_type,
                    payload: &env.payload,
                },
            )
        }
        Content::Message(m) => (m.signature.clone(), BoundContent::Message([0; 32])),
    };
    let binding = Binding {
        signature: &signature,
        signer_der: COSIGN,
        content,
    };
    for entry in &bundle.tlog_entries {
        let _ = tlog::verify_entry(entry, rekor(), &binding);
        if let Some(p) = &entry.proof {
            if let Some(note) = &p.checkpoint {
                let _ = merkle::verify_checkpoint(note, rekor(), p.tree_size, &p.root_hash);
            }
            if let (Ok(i), Ok(n)) = (u64::try_from(p.log_index), u64::try_from(p.tree_size)) {
                let _ = merkle::verify_inclusion(
                    i,
                    n,
                    merkle::leaf_hash(&entry.body),
                    &p.hashes,
                    &p.root_hash,
                );
            }
        }
    }
});

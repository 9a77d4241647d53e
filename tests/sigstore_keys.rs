//! Sigstore keys against the real peer: skopeo 1.22 with sigstore enabled
//! (`skopeo-sigstore`, scripts/install-skopeo-sigstore.sh). skopeo signs with
//! a key `vouch generate-sigstore-key` made and verifies the result under a
//! `sigstoreSigned` policy; vouch signs with a key skopeo made and skopeo
//! verifies that. Each direction is also checked to be refused under a
//! different key, so a policy that accepted anything could not pass.
//! Signatures travel through `dir:` images, whose `signature-N` files are
//! the stored sigstore blob (`\0sigstore-json\n{…}`).

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{assert_fails, layer_with_file, oci_layout, OciImage, Vouch};
use vouch_sign::sigstore::{EncryptedPrivateKey, SigstoreSigningKey};
use vouch_sign::Passphrase;

/// The identity every signature here claims (signing into `dir:` needs one).
const IDENTITY: &str = "localhost:5000/vouch/keys:v1";
const PASSPHRASE: &str = "interop passphrase";

/// A scratch directory with the peer, a passphrase file and a one-layer
/// OCI image `oci:DIR/oci:v1`.
struct Bench {
    dir: tempfile::TempDir,
    skopeo: PathBuf,
    vouch: Vouch,
}

impl Bench {
    fn new() -> Option<Self> {
        let skopeo = match common::skopeo_sigstore() {
            Ok(s) => s,
            Err(why) => {
                common::skip::skip(&why);
                return None;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pf"), format!("{PASSPHRASE}\n")).unwrap();
        let layer = layer_with_file("hello.txt", b"signed by sigstore keys\n");
        oci_layout(
            &dir.path().join("oci"),
            &[OciImage::one_layer(
                layer,
                "application/vnd.oci.image.layer.v1.tar",
                "amd64",
            )],
            Some("v1"),
        );
        Some(Self {
            dir,
            skopeo,
            vouch: Vouch::new(),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn skopeo(&self, policy: &Path, args: &[&str]) -> Output {
        Command::new(&self.skopeo)
            .env("HOME", self.dir.path())
            .arg("--policy")
            .arg(policy)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn skopeo_ok(&self, policy: &Path, args: &[&str]) -> String {
        let out = self.skopeo(policy, args);
        assert!(
            out.status.success(),
            "skopeo-sigstore {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A policy accepting anything, for the steps that only move images.
    fn open_policy(&self) -> PathBuf {
        let p = self.path("open-policy.json");
        std::fs::write(&p, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
        p
    }

    /// `dir:` images must carry a sigstore signature by `public_key` for
    /// [`IDENTITY`]; everything else is rejected.
    fn sigstore_policy(&self, public_key: &Path) -> PathBuf {
        let p = self.path("sigstore-policy.json");
        let policy = serde_json::json!({
            "default": [{"type": "reject"}],
            "transports": {"dir": {"": [{
                "type": "sigstoreSigned",
                "keyPath": public_key,
                "signedIdentity": {"type": "exactReference", "dockerReference": IDENTITY},
            }]}},
        });
        std::fs::write(&p, policy.to_string()).unwrap();
        p
    }

    /// `skopeo-sigstore generate-sigstore-key --output-prefix DIR/prefix`.
    fn skopeo_key(&self, prefix: &str) -> PathBuf {
        let out = Command::new(&self.skopeo)
            .env("HOME", self.dir.path())
            .args(["generate-sigstore-key", "--output-prefix"])
            .arg(self.path(prefix))
            .arg("--passphrase-file")
            .arg(self.path("pf"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.path(prefix)
    }

    /// Copies `dir:from` to `dir:to` under `policy`: skopeo's verdict.
    fn verify(&self, policy: &Path, from: &str) -> Output {
        let to = format!("dir:{}", self.s(&format!("{from}-checked")));
        let _ = std::fs::remove_dir_all(self.path(&format!("{from}-checked")));
        self.skopeo(policy, &["copy", &format!("dir:{}", self.s(from)), &to])
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn skopeo_signs_with_a_key_vouch_generated() {
    let Some(b) = Bench::new() else { return };
    let prefix = b.s("vouch");
    let out = b.vouch.ok(&[
        "generate-sigstore-key",
        "--output-prefix",
        &prefix,
        "--passphrase-file",
        &b.s("pf"),
    ]);
    // skopeo's own line.
    assert_eq!(
        out,
        format!("Key written to \"{prefix}.private\" and \"{prefix}.pub\"\n")
    );
    let mode = |p: &str| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&format!("{prefix}.private")), 0o600);
    assert_eq!(mode(&format!("{prefix}.pub")) & 0o644, 0o644);

    b.skopeo_ok(
        &b.open_policy(),
        &[
            "copy",
            "--sign-by-sigstore-private-key",
            &format!("{prefix}.private"),
            "--sign-passphrase-file",
            &b.s("pf"),
            "--sign-identity",
            IDENTITY,
            &format!("oci:{}:v1", b.s("oci")),
            &format!("dir:{}", b.s("signed")),
        ],
    );
    let blob = std::fs::read(b.path("signed/signature-1")).unwrap();
    assert!(blob.starts_with(b"\0sigstore-json\n"));

    let accepted = b.verify(
        &b.sigstore_policy(Path::new(&format!("{prefix}.pub"))),
        "signed",
    );
    assert!(accepted.status.success(), "{}", stderr(&accepted));

    let other = b.skopeo_key("other");
    let refused = b.verify(&b.sigstore_policy(&other.with_extension("pub")), "signed");
    assert!(!refused.status.success(), "accepted under another key");
    assert!(
        stderr(&refused).contains("signature"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn vouch_signs_with_a_key_skopeo_generated() {
    let Some(b) = Bench::new() else { return };
    let prefix = b.skopeo_key("peer");
    b.skopeo_ok(
        &b.open_policy(),
        &[
            "copy",
            &format!("oci:{}:v1", b.s("oci")),
            &format!("dir:{}", b.s("img")),
        ],
    );
    let manifest = std::fs::read(b.path("img/manifest.json")).unwrap();
    let digest = vouch_sign::manifest_digest(&manifest).unwrap();
    let pass = Passphrase::read_file(&b.path("pf")).unwrap();
    let key = SigstoreSigningKey::load(&prefix.with_extension("private"), &pass).unwrap();
    let sig = key.sign(IDENTITY, &digest).unwrap();
    std::fs::write(b.path("img/signature-1"), sig.to_blob()).unwrap();

    let accepted = b.verify(&b.sigstore_policy(&prefix.with_extension("pub")), "img");
    assert!(accepted.status.success(), "{}", stderr(&accepted));

    // The same signature for another identity is refused by the peer.
    let mut wrong = key.sign("localhost:5000/vouch/other:v1", &digest).unwrap();
    std::fs::write(b.path("img/signature-1"), wrong.to_blob()).unwrap();
    let refused = b.verify(&b.sigstore_policy(&prefix.with_extension("pub")), "img");
    assert!(!refused.status.success(), "accepted another identity");

    // And a right identity under another key.
    std::fs::write(b.path("img/signature-1"), sig.to_blob()).unwrap();
    let other = b.skopeo_key("other");
    let refused = b.verify(&b.sigstore_policy(&other.with_extension("pub")), "img");
    assert!(!refused.status.success(), "accepted under another key");

    // A signature over changed payload bytes is refused too.
    wrong = sig.clone();
    wrong.payload.push(b' ');
    std::fs::write(b.path("img/signature-1"), wrong.to_blob()).unwrap();
    let refused = b.verify(&b.sigstore_policy(&prefix.with_extension("pub")), "img");
    assert!(!refused.status.success(), "accepted a modified payload");
}

#[test]
fn generate_refuses_to_overwrite_as_skopeo_does() {
    let v = Vouch::new();
    let dir = tempfile::tempdir().unwrap();
    let pf = dir.path().join("pf");
    std::fs::write(&pf, "pw\n").unwrap();
    let prefix = dir.path().join("k").display().to_string();
    std::fs::write(format!("{prefix}.pub"), "mine").unwrap();
    let err = v.fails(
        2,
        &[
            "generate-sigstore-key",
            "--output-prefix",
            &prefix,
            "--passphrase-file",
            &pf.display().to_string(),
        ],
    );
    assert!(
        err.contains(&format!(
            "Error: Refusing to overwrite existing \"{prefix}.pub\""
        )),
        "{err}"
    );
    assert_eq!(std::fs::read(format!("{prefix}.pub")).unwrap(), b"mine");
    assert!(!Path::new(&format!("{prefix}.private")).exists());

    // A dangling symlink is a taken name too: nothing is written through it.
    std::fs::remove_file(format!("{prefix}.pub")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), format!("{prefix}.private")).unwrap();
    let err = v.fails(
        2,
        &[
            "generate-sigstore-key",
            "--output-prefix",
            &prefix,
            "--passphrase-file",
            &pf.display().to_string(),
        ],
    );
    assert!(err.contains("Refusing to overwrite existing"), "{err}");
    assert!(!dir.path().join("elsewhere").exists());
}

#[test]
fn generate_needs_a_passphrase_file_or_a_terminal() {
    let v = Vouch::new();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("k").display().to_string();
    let out = v
        .cmd()
        .args(["generate-sigstore-key", "--output-prefix", &prefix])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = assert_fails(2, "generate without a terminal", &out);
    assert!(
        err.contains(&format!(
            "Cannot prompt for a passphrase for key {prefix}.private, standard input is not a TTY"
        )),
        "{err}"
    );

    let missing = dir.path().join("no-such-pf").display().to_string();
    let err = v.fails(
        2,
        &[
            "generate-sigstore-key",
            "--output-prefix",
            &prefix,
            "--passphrase-file",
            &missing,
        ],
    );
    assert!(err.contains(&missing), "{err}");

    let nodir = dir.path().join("no/such/dir/k").display().to_string();
    let pf = dir.path().join("pf");
    std::fs::write(&pf, "pw").unwrap();
    let err = v.fails(
        2,
        &[
            "generate-sigstore-key",
            "--output-prefix",
            &nodir,
            "--passphrase-file",
            &pf.display().to_string(),
        ],
    );
    assert!(err.contains(&format!("{nodir}.private")), "{err}");
    for suffix in ["private", "pub"] {
        assert!(!Path::new(&format!("{prefix}.{suffix}")).exists());
    }
}

#[test]
fn bad_key_files_fail_closed_with_one_line_naming_the_file() {
    let Some(b) = Bench::new() else { return };
    let prefix = b.skopeo_key("peer");
    let good = std::fs::read(prefix.with_extension("private")).unwrap();
    let pass = Passphrase::new(PASSPHRASE);
    SigstoreSigningKey::load(&prefix.with_extension("private"), &pass).unwrap();

    // The envelope JSON inside the PEM, to damage field by field.
    let text = String::from_utf8(good.clone()).unwrap();
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let envelope = common::sigstore_key_envelope(&text);
    let repack = common::sigstore_key_pem;
    let mut wrong_kdf = envelope.clone();
    wrong_kdf["kdf"]["name"] = "pbkdf2".into();
    let mut truncated = envelope.clone();
    let ct = engine
        .decode(envelope["ciphertext"].as_str().unwrap())
        .unwrap();
    truncated["ciphertext"] = engine.encode(&ct[..ct.len() - 10]).into();
    let mut huge_n = envelope.clone();
    huge_n["kdf"]["params"]["N"] = (1u64 << 40).into();

    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "wrong-pass",
            good.clone(),
            "wrong passphrase",
            "encrypted: decryption failed (wrong passphrase",
        ),
        (
            "corrupt-pem",
            text.replacen('\n', "\n!!!!", 1).into_bytes(),
            PASSPHRASE,
            "invalid pem block",
        ),
        (
            "no-pem",
            b"just text\n".to_vec(),
            PASSPHRASE,
            "invalid pem block",
        ),
        (
            "public",
            std::fs::read(prefix.with_extension("pub")).unwrap(),
            PASSPHRASE,
            "unsupported pem type: PUBLIC KEY",
        ),
        (
            "wrong-kdf",
            repack(&wrong_kdf),
            PASSPHRASE,
            "encrypted: unknown kdf name \"pbkdf2\"",
        ),
        (
            "truncated",
            repack(&truncated),
            PASSPHRASE,
            "encrypted: decryption failed",
        ),
        (
            "huge-n",
            repack(&huge_n),
            PASSPHRASE,
            "unsupported scrypt parameters",
        ),
        (
            "huge-file",
            vec![b'A'; 1 << 20],
            PASSPHRASE,
            "larger than 65536 bytes",
        ),
    ];
    for (name, bytes, pass, want) in cases {
        let path = b.path(&format!("{name}.private"));
        std::fs::write(&path, bytes).unwrap();
        let err = SigstoreSigningKey::load(&path, &Passphrase::new(pass)).unwrap_err();
        // As the binary prints it: the chain on one line.
        let line = vouch_image::chain::one_line(&err);
        assert!(line.contains(&path.display().to_string()), "{name}: {line}");
        assert!(line.contains(want), "{name}: {line}");
        assert!(!line.contains('\n'), "{name}: {line}");
        // Parsing alone (no scrypt) already refuses what is not well formed.
        if !["wrong-pass", "truncated"].contains(&name) {
            assert!(EncryptedPrivateKey::read_file(&path).is_err(), "{name}");
        }
    }
}

/// `openssl genpkey ARGS…` as PKCS#8 DER, wrapped in the encrypted sigstore
/// envelope under the bench passphrase; returns (private key file, PEM public key file).
fn openssl_key(b: &Bench, name: &str, args: &[&str]) -> (PathBuf, PathBuf) {
    let [pem, der, public] = ["pem", "der", "pub"].map(|ext| b.s(&format!("{name}.{ext}")));
    // genpkey's DER is the traditional form for RSA; pkcs8 -topk8 makes PKCS#8.
    let steps = [
        [&["genpkey"][..], args, &["-out", &pem]].concat(),
        vec![
            "pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in", &pem, "-out", &der,
        ],
        vec!["pkey", "-pubout", "-in", &pem, "-out", &public],
    ];
    for step in steps {
        let out = Command::new("openssl").args(&step).output().unwrap();
        assert!(out.status.success(), "openssl {step:?}: {}", stderr(&out));
    }
    let pem = vouch_sign::sigstore::private_key::encode_encrypted_pkcs8(
        &std::fs::read(&der).unwrap(),
        PASSPHRASE.as_bytes(),
    )
    .unwrap();
    let private = b.path(&format!("{name}.private"));
    std::fs::write(&private, pem).unwrap();
    (private, PathBuf::from(public))
}

/// containers/image signs with RSA, ECDSA on other curves and Ed25519 keys
/// (`loadPrivateKey`); vouch must too, in a form skopeo accepts, and must
/// verify them itself; a key type upstream cannot use is refused by name.
#[test]
fn rsa_p384_and_ed25519_keys_sign_as_containers_image_does() {
    let Some(b) = Bench::new() else { return };
    b.skopeo_ok(
        &b.open_policy(),
        &[
            "copy",
            &format!("oci:{}:v1", b.s("oci")),
            &format!("dir:{}", b.s("img")),
        ],
    );
    let manifest = b.s("img/manifest.json");
    let kinds: [(&str, &[&str]); 3] = [
        (
            "rsa",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        ),
        (
            "p384",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        ),
        ("ed25519", &["-algorithm", "ED25519"]),
    ];
    let (_, p256_pub) = {
        let prefix = b.skopeo_key("p256");
        (
            prefix.with_extension("private"),
            prefix.with_extension("pub"),
        )
    };
    let pf = b.s("pf");
    let sign = |private: &Path, out: &str| {
        b.vouch.output(&[
            "standalone-sign",
            "--sigstore-private-key",
            private.to_str().unwrap(),
            "--passphrase-file",
            &pf,
            "-o",
            out,
            &manifest,
            IDENTITY,
        ])
    };
    for (name, args) in kinds {
        let (private, public) = openssl_key(&b, name, args);
        let sig = b.s("img/signature-1");
        let out = sign(&private, &sig);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let accepted = b.verify(&b.sigstore_policy(&public), "img");
        assert!(
            accepted.status.success(),
            "{name}: skopeo refused: {}",
            stderr(&accepted)
        );
        let refused = b.verify(&b.sigstore_policy(&p256_pub), "img");
        assert!(
            !refused.status.success(),
            "{name}: accepted under another key"
        );
        b.vouch.ok(&[
            "standalone-verify",
            "--sigstore-public-key",
            public.to_str().unwrap(),
            &manifest,
            IDENTITY,
            &sig,
        ]);
        b.vouch.fails(
            1,
            &[
                "standalone-verify",
                "--sigstore-public-key",
                p256_pub.to_str().unwrap(),
                &manifest,
                IDENTITY,
                &sig,
            ],
        );
    }
    // secp256k1 is no curve Go's x509 parses: refused, naming the file.
    let (private, _) = openssl_key(
        &b,
        "k1",
        &[
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:secp256k1",
        ],
    );
    let err = assert_fails(2, "secp256k1 key", &sign(&private, &b.s("k1.sig")));
    assert!(err.contains(private.to_str().unwrap()), "{err}");
    assert!(
        err.contains("not an RSA, ECDSA (P-224, P-256, P-384, P-521) or Ed25519 key"),
        "{err}"
    );
}

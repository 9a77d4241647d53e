//! Whether the files and blobs of `sigstoreSigned` requirements can verify
//! anything: public keys, Rekor keys and Fulcio/PKI CA certificates must be
//! PEM of the right kind (judged by vouch-verify's [`pem_material`], which
//! follows how containers/image loads them), and paths must exist. A file
//! that fails makes containers/image reject every image the requirement
//! applies to, at pull time, with the policy otherwise loading fine.
//! Results are cached per file and per blob, as for OpenPGP keys.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use vouch_verify::json::At;
use vouch_verify::pem_material::{self, Material, MaterialError};
use vouch_verify::policy::{PathOrData, PathsOrDatas, Requirement, SigstoreKeys};

use crate::finding::Finding;
use crate::keys::relative_path;
use crate::layout::List;
use crate::rules::Rule;

/// What checking one file or blob found.
#[derive(Clone, Debug)]
enum Verdict {
    Unreadable(String),
    Bad(MaterialError),
    Good,
}

/// Checked material, by (file, kind) and by (blob, kind).
#[derive(Default)]
pub struct MaterialCache {
    files: HashMap<(PathBuf, Material), Rc<Verdict>>,
    blobs: HashMap<(Vec<u8>, Material), Rc<Verdict>>,
}

fn judge(bytes: &[u8], what: Material) -> Verdict {
    match pem_material::check(bytes, what) {
        Ok(()) => Verdict::Good,
        Err(e) => Verdict::Bad(e),
    }
}

fn describe(what: Material) -> &'static str {
    match what {
        Material::PublicKey => "a PEM public key",
        Material::RekorKey => "a PEM ECDSA public key (Rekor's)",
        Material::CaCertificates => "PEM CA certificates",
        Material::IntermediateCertificates => "PEM intermediate certificates",
    }
}

fn hint(what: Material) -> &'static str {
    match what {
        Material::PublicKey => "point it at the signer's public key as `skopeo generate-sigstore-key` or `cosign generate-key-pair` writes it (-----BEGIN PUBLIC KEY-----); an OpenPGP key belongs in a signedBy requirement",
        Material::RekorKey => "use the Rekor instance's public key (for the public instance: `curl https://rekor.sigstore.dev/api/v1/log/publicKey`)",
        Material::CaCertificates | Material::IntermediateCertificates => "use the CA's certificates as PEM (-----BEGIN CERTIFICATE-----), e.g. Fulcio's fulcio_v1.crt.pem",
    }
}

impl MaterialCache {
    fn file(&mut self, path: &Path, what: Material) -> Rc<Verdict> {
        self.files
            .entry((path.to_path_buf(), what))
            .or_insert_with(|| {
                Rc::new(match pem_material::read_capped(path) {
                    Ok(bytes) => judge(&bytes, what),
                    Err(e) => Verdict::Unreadable(e.to_string()),
                })
            })
            .clone()
    }

    fn blob(&mut self, bytes: &[u8], what: Material) -> Rc<Verdict> {
        let key = (bytes.to_vec(), what);
        if let Some(v) = self.blobs.get(&key) {
            return v.clone();
        }
        let v = Rc::new(judge(bytes, what));
        self.blobs.insert(key, v.clone());
        v
    }

    /// Checks every sigstoreSigned requirement of `list`.
    pub fn check(&mut self, file: &Path, list: &List<'_>, out: &mut Vec<Finding>) {
        for r in &list.reqs {
            let Requirement::SigstoreSigned(s) = r.req else {
                continue;
            };
            let Ok(obj) = r.at.object(None) else {
                continue;
            };
            match &s.keys {
                SigstoreKeys::Keys(k) => self.family(
                    file,
                    &obj,
                    ["keyPath", "keyPaths", "keyData", "keyDatas"],
                    k,
                    Material::PublicKey,
                    out,
                ),
                SigstoreKeys::Fulcio { ca, .. } => {
                    if let Some(f) = obj.get("fulcio").and_then(|f| f.object(None).ok()) {
                        self.single(
                            file,
                            &f,
                            ["caPath", "caData"],
                            ca,
                            Material::CaCertificates,
                            out,
                        );
                    }
                }
                SigstoreKeys::Pki {
                    ca_roots,
                    ca_intermediates,
                    ..
                } => {
                    if let Some(p) = obj.get("pki").and_then(|p| p.object(None).ok()) {
                        self.single(
                            file,
                            &p,
                            ["caRootsPath", "caRootsData"],
                            ca_roots,
                            Material::CaCertificates,
                            out,
                        );
                        if let Some(i) = ca_intermediates {
                            self.single(
                                file,
                                &p,
                                ["caIntermediatesPath", "caIntermediatesData"],
                                i,
                                Material::IntermediateCertificates,
                                out,
                            );
                        }
                    }
                }
            }
            if let Some(k) = &s.rekor_public_keys {
                self.family(
                    file,
                    &obj,
                    [
                        "rekorPublicKeyPath",
                        "rekorPublicKeyPaths",
                        "rekorPublicKeyData",
                        "rekorPublicKeyDatas",
                    ],
                    k,
                    Material::RekorKey,
                    out,
                );
            }
        }
    }

    fn family(
        &mut self,
        file: &Path,
        obj: &vouch_verify::json::Obj<'_>,
        [path, paths, data, datas]: [&str; 4],
        value: &PathsOrDatas,
        what: Material,
        out: &mut Vec<Finding>,
    ) {
        match value {
            PathsOrDatas::Path(p) => {
                if let Some(at) = obj.get(path) {
                    self.path(file, p, &at, path, what, out);
                }
            }
            PathsOrDatas::Paths(ps) => {
                let Some(Ok(Some(items))) = obj.get(paths).map(|a| a.array()) else {
                    return;
                };
                for (p, at) in ps.iter().zip(items) {
                    self.path(file, p, &at, &format!("{paths} entry"), what, out);
                }
            }
            PathsOrDatas::Data(d) => {
                if let Some(at) = obj.get(data) {
                    let v = self.blob(d, what);
                    report(file, &at, data, what, &v, out);
                }
            }
            PathsOrDatas::Datas(ds) => {
                let Some(Ok(Some(items))) = obj.get(datas).map(|a| a.array()) else {
                    return;
                };
                for (d, at) in ds.iter().zip(items) {
                    let v = self.blob(d, what);
                    report(file, &at, &format!("{datas} entry"), what, &v, out);
                }
            }
        }
    }

    fn single(
        &mut self,
        file: &Path,
        obj: &vouch_verify::json::Obj<'_>,
        [path, data]: [&str; 2],
        value: &PathOrData,
        what: Material,
        out: &mut Vec<Finding>,
    ) {
        match value {
            PathOrData::Path(p) => {
                if let Some(at) = obj.get(path) {
                    self.path(file, p, &at, path, what, out);
                }
            }
            PathOrData::Data(d) => {
                if let Some(at) = obj.get(data) {
                    let v = self.blob(d, what);
                    report(file, &at, data, what, &v, out);
                }
            }
        }
    }

    fn path(
        &mut self,
        file: &Path,
        p: &Path,
        at: &At<'_>,
        what: &str,
        material: Material,
        out: &mut Vec<Finding>,
    ) {
        if p.is_relative() {
            out.push(relative_path(file, at, what, p));
            return;
        }
        let v = self.file(p, material);
        report(
            file,
            at,
            &format!("{what} \"{}\"", p.display()),
            material,
            &v,
            out,
        );
    }
}

fn report(
    file: &Path,
    at: &At<'_>,
    what: &str,
    material: Material,
    v: &Verdict,
    out: &mut Vec<Finding>,
) {
    let finding =
        |rule, message: String| Finding::new(file, at.value.pos, rule, message).at(&at.path);
    match v {
        Verdict::Good => {}
        Verdict::Unreadable(e) => out.push(
            finding(Rule::KeyFileMissing, format!("{what} cannot be read: {e}"))
                .hint("every image under this scope is rejected until the file exists on the host"),
        ),
        Verdict::Bad(e) => out.push(
            finding(
                Rule::BadSigstoreMaterial,
                format!("{what} is not {}: {e}", describe(material)),
            )
            .hint(hint(material)),
        ),
    }
}

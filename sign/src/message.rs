//! The OpenPGP message that carries a payload.
//!
//! Shape (docs/trust-formats.md §2.1, §2.4): a binary, unarmored signed message
//! of new-format packets — one-pass signature (`0xC4`), literal data (`b`, no
//! file name), one signature (`0xC2`) — without compression, which is what
//! Sequoia-based signers emit and what GPGME (skopeo/podman 1.9.3) and every
//! other mechanism accept. Exactly one signature per message: GPGME rejects
//! any other count (§9.3). The first byte `0xC4` passes the storage sniffing
//! of §2.2 (old-format `0x93` would not).

use std::io::Write;
use std::time::SystemTime;

use sequoia_openpgp::crypto;
use sequoia_openpgp::packet::key::{PublicParts, UnspecifiedRole};
use sequoia_openpgp::packet::Key;
use sequoia_openpgp::serialize::stream::{LiteralWriter, Message, Signer};
use sequoia_openpgp::types::HashAlgorithm;

/// Lends a boxed signer to Sequoia's streaming `Signer`, which wants to own one,
/// so one loaded key can sign many manifests (`push --sign-by` with `--all`).
struct Lent<'a>(&'a mut (dyn crypto::Signer + Send + Sync));

impl crypto::Signer for Lent<'_> {
    fn public(&self) -> &Key<PublicParts, UnspecifiedRole> {
        self.0.public()
    }

    fn acceptable_hashes(&self) -> &[HashAlgorithm] {
        self.0.acceptable_hashes()
    }

    fn sign(
        &mut self,
        hash_algo: HashAlgorithm,
        digest: &[u8],
    ) -> sequoia_openpgp::Result<crypto::mpi::Signature> {
        self.0.sign(hash_algo, digest)
    }
}

/// Wraps `payload` in a signed message made by `signer` at `time`.
pub(crate) fn sign_message(
    signer: &mut (dyn crypto::Signer + Send + Sync),
    payload: &[u8],
    time: SystemTime,
) -> sequoia_openpgp::Result<Vec<u8>> {
    let mut sink = Vec::with_capacity(payload.len() + 1024);
    {
        let message = Message::new(&mut sink);
        let message = Signer::new(message, Lent(signer))?
            .creation_time(time)
            .build()?;
        let mut literal = LiteralWriter::new(message).build()?;
        literal.write_all(payload)?;
        literal.finalize()?;
    }
    Ok(sink)
}

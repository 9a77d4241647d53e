#!/usr/bin/env node
// Checks a Sigstore bundle with sigstore-js, an implementation no one here
// wrote: the evidence that cosign-family verifiers accept what vouch signs.
//
//   node verify-bundle.js BUNDLE.json KEY.pub sha256:HEX
//
// Exit 0: sigstore-js (@sigstore/bundle parses and validates it,
// @sigstore/verify checks the signature over the DSSE envelope with the key)
// accepts the bundle, and its in-toto statement is cosign 3's image
// signature for that digest. Exit 1: it is refused (one line on stderr says
// why). Exit 2: usage or I/O error.
//
// This harness is ours; the verification is theirs. It trusts exactly the
// given key, under the hint cosign computes for it (base64 SHA-256 of the
// PKIX DER), and asks for no tlog entry, SCT or timestamp: a key-signed
// bundle written with tlog upload off carries none, as
// `cosign verify --key K --insecure-ignore-tlog` accepts. sigstore-js does
// not look inside the statement, so the subject-digest check (what
// sigstore-go's WithArtifactDigest does for cosign) is done here.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const { bundleFromJSON, BUNDLE_V03_MEDIA_TYPE } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const MAX_BUNDLE_BYTES = 1 << 20;
const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';

class Refused extends Error {}

function readCapped(path) {
  const size = fs.statSync(path).size;
  if (size > MAX_BUNDLE_BYTES) {
    throw new Refused(`${path}: larger than ${MAX_BUNDLE_BYTES} bytes`);
  }
  return fs.readFileSync(path);
}

function checkStatement(envelope, digest) {
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new Refused(`dsseEnvelope.payloadType is ${JSON.stringify(envelope.payloadType)}`);
  }
  let statement;
  try {
    statement = JSON.parse(Buffer.from(envelope.payload).toString('utf8'));
  } catch (e) {
    throw new Refused(`dsseEnvelope.payload is not JSON: ${e.message}`);
  }
  if (statement._type !== IN_TOTO_STATEMENT_V1) {
    throw new Refused(`statement _type is ${JSON.stringify(statement._type)}`);
  }
  if (statement.predicateType !== COSIGN_SIGN_PREDICATE_TYPE) {
    throw new Refused(`statement predicateType is ${JSON.stringify(statement.predicateType)}`);
  }
  const [algorithm, hex] = digest.split(':');
  const subjects = Array.isArray(statement.subject) ? statement.subject : [];
  if (!subjects.some((s) => s && s.digest && s.digest[algorithm] === hex)) {
    throw new Refused(`statement subject does not name ${digest}`);
  }
}

function main(argv) {
  if (argv.length !== 3 || !/^[a-z0-9]+:[0-9a-f]+$/.test(argv[2])) {
    process.stderr.write('usage: verify-bundle.js BUNDLE.json KEY.pub sha256:HEX\n');
    return 2;
  }
  const [bundlePath, keyPath, digest] = argv;
  let json;
  let publicKey;
  try {
    json = JSON.parse(readCapped(bundlePath).toString('utf8'));
    publicKey = crypto.createPublicKey(fs.readFileSync(keyPath));
  } catch (e) {
    process.stderr.write(`verify-bundle: ${e.message}\n`);
    return e instanceof Refused || e instanceof SyntaxError ? 1 : 2;
  }
  try {
    const bundle = bundleFromJSON(json);
    if (bundle.mediaType !== BUNDLE_V03_MEDIA_TYPE) {
      throw new Refused(`bundle mediaType is ${JSON.stringify(bundle.mediaType)}`);
    }
    if (bundle.content.$case !== 'dsseEnvelope') {
      throw new Refused(`bundle content is ${bundle.content.$case}, not dsseEnvelope`);
    }
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const hint = crypto.createHash('sha256').update(der).digest('base64');
    const trust = toTrustMaterial(
      { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] },
      { [hint]: { rawBytes: der } },
    );
    const verifier = new Verifier(trust, {
      tlogThreshold: 0,
      ctlogThreshold: 0,
      timestampThreshold: 0,
    });
    verifier.verify(toSignedEntity(bundle));
    checkStatement(bundle.content.dsseEnvelope, digest);
  } catch (e) {
    process.stderr.write(`verify-bundle: refused: ${e.message}\n`);
    return 1;
  }
  process.stdout.write(`verified: ${bundlePath} signs ${digest}\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));

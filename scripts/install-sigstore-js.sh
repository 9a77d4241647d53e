#!/usr/bin/env bash
# Installs sigstore-js (@sigstore/verify, @sigstore/bundle) at the versions
# pinned by tests/interop/sigstore-js/package-lock.json into that folder's
# node_modules (gitignored): the independent verifier that
# sign/tests/bundle_interop.rs runs on the bundles vouch writes. Uses the
# machine's Node.js (these versions need >= 20.17). Idempotent: a stamp of
# the lockfile's hash skips `npm ci` when nothing changed.
set -euo pipefail

dir="$(cd "$(dirname "$0")/../tests/interop/sigstore-js" && pwd)"
stamp="$dir/node_modules/.vouch-lock.sha256"

command -v node >/dev/null && command -v npm >/dev/null || {
  echo "install-sigstore-js: node and npm are required" >&2
  exit 1
}
node -e 'const [a, b] = process.versions.node.split(".").map(Number);
  process.exit(a > 20 || (a === 20 && b >= 17) ? 0 : 1)' || {
  echo "install-sigstore-js: Node.js >= 20.17 is required, found $(node --version)" >&2
  exit 1
}

want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
printf '%s\n' "$want" >"$stamp"

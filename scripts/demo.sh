#!/usr/bin/env bash
# The demo: the whole vouch loop on one machine.
#   1. a registry image built from Debian's docker-registry runs under vouch;
#   2. the busybox httpd image is pushed and signed (throwaway GnuPG key);
#   3. sigstore-server serves the signatures;
#   4. the image is removed, pulled back under a signedBy policy, and a
#      wrongly signed pull is refused;
#   4b. it is pushed again signed with a sigstore key (a `.sig` attachment
#      in the registry itself) and pulled back under sigstoreSigned;
#   4c. it is promoted with `vouch copy` (checked, carried, re-signed for
#      the new name) and inspected in the registry;
#   4d. its repository is mirrored with `vouch sync` through a directory
#      (an air-gapped transfer) into a mirror repository, signed there;
#   5. the verified image runs with a published port and answers;
#   6. everything is stopped and removed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

bash scripts/setup.sh
cargo build --release --quiet
vouch=$here/target/release/vouch

work=$(mktemp -d /tmp/vouch-demo.XXXXXX)
store=$work/store
run=$work/run
serverpid=
cleanup() {
  set +e
  "$vouch" --root "$store" --runroot "$run" rm -f -a >/dev/null 2>&1
  [[ -n $serverpid ]] && kill "$serverpid" 2>/dev/null && wait "$serverpid" 2>/dev/null
  gpgconf --homedir "$work/gnupg" --kill all 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
v() { show "$vouch" --root "$store" --runroot "$run" "$@"; }

say "1. A registry image from Debian's docker-registry, run by vouch"
bash fixtures/build-registry-rootfs.sh "$work/registry-rootfs.tar" >/dev/null
v import --change 'CMD ["/usr/bin/docker-registry","serve","/etc/docker/registry/config.yml"]' \
  --change 'EXPOSE 5000/tcp' "$work/registry-rootfs.tar" localhost/registry
regport=$(free_port)
v run -d --name registry -p "$regport:5000" localhost/registry
reg=127.0.0.1:$regport
for _ in $(seq 100); do curl -fs "http://$reg/v2/" >/dev/null && break; sleep 0.1; done
v ps

say "2. Push the httpd image and sign it with a throwaway GnuPG key"
export GNUPGHOME=$work/gnupg
mkdir -m 700 -p "$GNUPGHOME"
gpg --batch --passphrase '' --quick-gen-key you@example.com rsa3072 sign never 2>/dev/null
gpg --batch --export you@example.com >"$work/you.gpg"
mkdir -p "$work/sigstore" "$work/registries.d"
sigport=$(free_port)
cat >"$work/registries.d/demo.yaml" <<YAML
docker:
  $reg:
    lookaside: http://127.0.0.1:$sigport
    lookaside-staging: file://$work/sigstore
    use-sigstore-attachments: true
YAML
bash fixtures/build-httpd.sh "$work/httpd-rootfs.tar" >/dev/null
v import --change 'CMD ["/bin/httpd","-f","-v","-p","80","-h","/www"]' --change 'EXPOSE 80/tcp' \
  "$work/httpd-rootfs.tar" localhost/httpd
v --registries.d "$work/registries.d" push --tls-verify=false --sign-by you@example.com localhost/httpd "$reg/httpd"
show find "$work/sigstore" -type f

say "3. sigstore-server serves the signatures"
"$vouch" --root "$work/sigstore" sigstore-server --listen "127.0.0.1:$sigport" 2>"$work/sigstore-server.log" &
serverpid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$sigport/healthz" >/dev/null && break; sleep 0.1; done

say "4. Remove the image, pull it back under a signedBy policy"
cat >"$work/policy.json" <<JSON
{"default": [{"type": "insecureAcceptAnything"}],
 "transports": {"docker": {"$reg": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "$work/you.gpg"}]}}}
JSON
v image trust show --policypath "$work/policy.json"
v rmi localhost/httpd
v --registries.d "$work/registries.d" pull --tls-verify=false --signature-policy "$work/policy.json" "$reg/httpd"
v images
echo
echo "A policy trusting another key refuses the same image (exit code 1):"
gpg --batch --passphrase '' --quick-gen-key mallory@example.com rsa3072 sign never 2>/dev/null
gpg --batch --export mallory@example.com >"$work/mallory.gpg"
sed "s|$work/you.gpg|$work/mallory.gpg|" "$work/policy.json" >"$work/wrong.json"
"$vouch" --root "$work/store2" --registries.d "$work/registries.d" pull --tls-verify=false \
  --signature-policy "$work/wrong.json" "$reg/httpd" && exit 1 || echo "(refused, exit code $?)"
show "$vouch" policy-lint --registries.d "$work/registries.d" "$work/policy.json" || true

say "4b. Sign with a sigstore key: into the registry, as a .sig attachment (podman) and a bundle referrer (cosign 3)"
echo "demo sigstore passphrase" >"$work/sigstore.pass"
v generate-sigstore-key --output-prefix "$work/cosign" --passphrase-file "$work/sigstore.pass"
v --registries.d "$work/registries.d" push --tls-verify=false \
  --sign-by-sigstore-private-key "$work/cosign.private" --sign-passphrase-file "$work/sigstore.pass" --sigstore-layout both \
  "$reg/httpd" "$reg/httpd-sigstore"
show curl -fsS "http://$reg/v2/httpd-sigstore/tags/list"
echo
cat >"$work/sigstore-policy.json" <<JSON
{"default": [{"type": "insecureAcceptAnything"}],
 "transports": {"docker": {"$reg/httpd-sigstore": [{"type": "sigstoreSigned", "keyPath": "$work/cosign.pub"}]}}}
JSON
v image trust show --policypath "$work/sigstore-policy.json"
"$vouch" --root "$work/store3" --registries.d "$work/registries.d" pull --tls-verify=false \
  --signature-policy "$work/sigstore-policy.json" "$reg/httpd-sigstore"
echo "(accepted under sigstoreSigned)"
v generate-sigstore-key --output-prefix "$work/mallory-cosign" --passphrase-file "$work/sigstore.pass"
sed "s|$work/cosign.pub|$work/mallory-cosign.pub|" "$work/sigstore-policy.json" >"$work/sigstore-wrong.json"
"$vouch" --root "$work/store4" --registries.d "$work/registries.d" pull --tls-verify=false \
  --signature-policy "$work/sigstore-wrong.json" "$reg/httpd-sigstore" && exit 1 || echo "(refused, exit code $?)"

say "4c. Promote it with vouch copy: policy first, signature carried, signed for its new name"
v --policy "$work/policy.json" --registries.d "$work/registries.d" copy \
  --src-tls-verify=false --dest-tls-verify=false --sign-by you@example.com \
  "docker://$reg/httpd" "docker://$reg/prod/httpd"
v list-tags --tls-verify=false "docker://$reg/prod/httpd"
show sh -c "\"$vouch\" inspect --tls-verify=false --raw docker://$reg/prod/httpd | sha256sum; \"$vouch\" inspect --tls-verify=false --raw docker://$reg/httpd | sha256sum"
"$vouch" --root "$work/store5" --registries.d "$work/registries.d" pull -q --tls-verify=false \
  --signature-policy "$work/policy.json" "$reg/prod/httpd" >/dev/null
echo "(the promoted image pulls under signedBy: same digest, signed for $reg/prod/httpd)"

say "4d. Mirror through a directory with vouch sync (air-gapped): checked out, signed in"
v --policy "$work/policy.json" --registries.d "$work/registries.d" sync -q \
  --src docker --dest dir --scoped --src-tls-verify=false "$reg/prod/httpd" "$work/usb"
show find "$work/usb" -maxdepth 4
v --policy "$work/policy.json" --registries.d "$work/registries.d" sync \
  --src dir --dest docker --dest-tls-verify=false --sign-by you@example.com \
  "$work/usb/$reg/prod" "$reg/mirror"
"$vouch" --root "$work/store6" --registries.d "$work/registries.d" pull -q --tls-verify=false \
  --signature-policy "$work/policy.json" "$reg/mirror/httpd" >/dev/null
echo "(the mirrored image pulls under signedBy, signed for $reg/mirror/httpd)"

say "5. Run the verified image and ask it for a page"
webport=$(free_port)
v run --name basic_httpd -dt -p "$webport:80/tcp" "$reg/httpd"
v ps
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$webport/" >/dev/null && break; sleep 0.1; done
show curl -fsS "http://127.0.0.1:$webport/"
v logs basic_httpd
v top basic_httpd

say "6. Stop and remove"
v stop basic_httpd registry
v rm basic_httpd registry
v ps -a
echo
echo "demo: done (all state was under $work, now removed)"

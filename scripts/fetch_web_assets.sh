#!/usr/bin/env bash
# Copy the browser assets of `framestyle serve` from the npm registry into framestyle/web/static/vendor/.
#   onnxruntime-web (on-device webcam mode: ort.wasm.min.js + the single-file SIMD wasm and its loader; and
#     ort.webgpu.min.js + its asyncify wasm, loaded only when the browser offers WebGPU)
#   swagger-ui-dist (the offline /docs page)
# Pinned versions, tarballs checked against their sha512 integrity. Needs node's npm; writes nothing else.
# Usage: scripts/fetch_web_assets.sh [DEST]     (idempotent: skips when the files are already there)
set -euo pipefail

ORT_VERSION=1.30.0
ORT_SHA512="q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
SWAGGER_VERSION=5.35.0
SWAGGER_SHA512="U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ=="

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$here/framestyle/web/static/vendor}"
ORT_FILES="ort.wasm.min.js ort-wasm-simd-threaded.wasm ort-wasm-simd-threaded.mjs ort.webgpu.min.js ort-wasm-simd-threaded.asyncify.wasm ort-wasm-simd-threaded.asyncify.mjs"
SWAGGER_FILES="swagger-ui-bundle.js swagger-ui.css"

have_all() {  # have_all DIR FILE...
  local d="$1"; shift
  for f in "$@"; do [ -s "$d/$f" ] || return 1; done
}

stamp="onnxruntime-web@$ORT_VERSION swagger-ui-dist@$SWAGGER_VERSION"
if have_all "$dest" $ORT_FILES && have_all "$dest/swagger" $SWAGGER_FILES \
   && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$stamp" ]; then
  echo "web assets already present in $dest ($stamp)"
  exit 0
fi

command -v npm >/dev/null || { echo "error: npm not found (install Node.js and npm)" >&2; exit 2; }
work="$(mktemp -d)"
stage=""
trap 'rm -rf "$work" ${stage:+"$stage"}' EXIT

fetch() {  # fetch NAME VERSION SHA512 -> unpacks into $work/NAME/package
  local name="$1" version="$2" sha="$3" tgz
  (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
  tgz="$work/$name-$version.tgz"
  local got
  got="$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [ "$got" != "$sha" ]; then
    echo "error: $name@$version tarball checksum mismatch (got sha512-$got)" >&2; exit 2
  fi
  mkdir -p "$work/$name" && tar xzf "$tgz" -C "$work/$name"
}

fetch onnxruntime-web "$ORT_VERSION" "$ORT_SHA512"
fetch swagger-ui-dist "$SWAGGER_VERSION" "$SWAGGER_SHA512"

# stage next to the destination, then swap in, so a failed run never leaves half a folder
mkdir -p "$(dirname "$dest")"
stage="$(mktemp -d "$(dirname "$dest")/.vendor.XXXXXX")"
chmod 755 "$stage"
mkdir -p "$stage/swagger"
for f in $ORT_FILES; do cp "$work/onnxruntime-web/package/dist/$f" "$stage/$f"; done
for f in $SWAGGER_FILES; do cp "$work/swagger-ui-dist/package/$f" "$stage/swagger/$f"; done
cp "$work/swagger-ui-dist/package/LICENSE" "$stage/swagger/LICENSE"
echo "$stamp" > "$stage/VERSION"
rm -rf "$dest"
mv "$stage" "$dest"
echo "web assets: $stamp -> $dest ($(du -sh "$dest" | cut -f1))"

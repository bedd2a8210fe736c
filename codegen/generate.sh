#!/usr/bin/env bash
# Generate the low-level client from openapi.yaml into a fresh temporary folder, then
#   generate.sh OUT          replace OUT with it;
#   generate.sh --check OUT  fail, showing the diff, when OUT differs from it.
# Generating aside keeps stale files out and makes the check independent of the tree.
set -euo pipefail
check=0
if [[ "${1:-}" == "--check" ]]; then check=1; shift; fi
out="${1:?usage: generate.sh [--check] OUT}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
py="${PY:-$root/.venv/bin/python}"
bindir="$(cd "$(dirname "$py")" && pwd)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The post-hooks call ruff by name: use the pinned one from the venv.
PATH="$bindir:$PATH" "$bindir/openapi-python-client" generate \
    --path "$root/openapi.yaml" \
    --config "$here/config.yaml" \
    --custom-template-path "$here/templates" \
    --meta none \
    --fail-on-warning \
    --output-path "$tmp/pkg" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
printf '# Marker file for PEP 561\n' >"$tmp/pkg/py.typed"
find "$tmp/pkg" -name __pycache__ -prune -exec rm -rf {} +

if (( check )); then
    if ! diff -r -x __pycache__ "$tmp/pkg" "$out"; then
        echo "generated/ is out of date with openapi.yaml or codegen/: run 'make generate'" >&2
        exit 1
    fi
    echo "generated/ matches a fresh generation"
else
    rm -rf "$out"
    mkdir -p "$(dirname "$out")"
    cp -r "$tmp/pkg" "$out"
    echo "generated $out"
fi

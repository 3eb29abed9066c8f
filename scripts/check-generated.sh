#!/usr/bin/env bash
# Regenerate the wire layer into a scratch copy and compare it with the
# committed files.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for dir in internal/api/*/; do
  cp -r "$dir" "$scratch/"
done
go generate ./internal/api/...
status=0
for dir in internal/api/*/; do
  name=$(basename "$dir")
  if ! diff -r "$scratch/$name" "$dir" >/dev/null; then
    echo "generated code in $dir is stale or hand-edited; run 'make generate' and commit:" >&2
    diff -ru "$scratch/$name" "$dir" | head -40 >&2 || true
    # Restore what was committed so the check leaves no trace.
    rm -rf "$dir" && cp -r "$scratch/$name" "$dir"
    status=1
  fi
done
exit $status

#!/usr/bin/env bash
# Runs every test: unit, contract (embedded and PostgreSQL stores), SDK and
# end-to-end (boto3, AWS CLI). With CI=true a missing database or client
# fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CLEANROOMS_TEST_POSTGRES_URL:-}" ]; then
  if url=$(scripts/ensure-postgres.sh); then
    export CLEANROOMS_TEST_POSTGRES_URL="$url"
  elif [ "${CI:-}" = "true" ]; then
    echo "PostgreSQL is required under CI=true" >&2; exit 1
  fi
fi
exec go test -race -count=1 -timeout 9m ./...

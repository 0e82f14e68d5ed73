#!/usr/bin/env bash
# Python lint: the modules Baton ships and its test drivers under the project's ruff.toml, and the
# projects the three adapters generate for the example under ruff's defaults — what a user's own
# `ruff check` applies to them.
set -euo pipefail
cd "$(dirname "$0")/.."
ruff=(uvx --from "$(cat scripts/requirements-lint.txt)" ruff)
"${ruff[@]}" check packages tests
"${ruff[@]}" format --check packages tests
out="$PWD/.baton/generated"
rm -rf "$out"
(
  cd examples/customer-metrics
  for target in dagster airflow prefect; do pnpm exec baton "$target" build --out "$out/$target" >/dev/null; done
)
for target in dagster airflow prefect; do (cd "$out/$target" && "${ruff[@]}" check --isolated .); done

#!/usr/bin/env bash
# Every test: lint, typecheck, unit tests, and the integration tests against real Dagster,
# Airflow and Prefect (their virtual environments are created here, with uv, from pinned files).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-python
export BATON_VENV_ROOT="${BATON_VENV_ROOT:-$PWD/.venvs}"
export BATON_CONFORMANCE_DIR="${BATON_CONFORMANCE_DIR:-$PWD/.baton/conformance}"
pnpm exec turbo run build --output-logs=errors-only
pnpm run lint
pnpm exec turbo run typecheck --output-logs=errors-only
# The Python packages (check-python.sh): versions in step with npm, ruff, mypy --strict, pytest (each in its orchestrator's venv).
mkdir -p .baton
bash scripts/check-python.sh 2>&1 | tee .baton/python.log
# ruff over every shipped module and test driver, and over the projects generated for the example.
bash scripts/lint-python.sh
rm -rf "$BATON_CONFORMANCE_DIR"  # a report left by an earlier run must not stand in for a missing one
pnpm exec turbo run test --concurrency=1 2>&1 | tee .baton/test.log
node scripts/conformance-matrix.mjs "$BATON_CONFORMANCE_DIR"
node scripts/count-tests.mjs .baton/test.log .baton/python.log

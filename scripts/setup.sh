#!/usr/bin/env bash
# Installs what a fresh clone needs: pnpm (pinned), uv (for the orchestrators' virtual
# environments), and the workspace's node modules. Idempotent; safe to run on every build.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.4.2
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "› installing pnpm $PNPM_VERSION"
  npm install --global --silent "pnpm@$PNPM_VERSION" >/dev/null
fi
# uv builds the Python wheels of every package, so even `make example` needs it.
if ! command -v uv >/dev/null 2>&1; then
  echo "› installing uv"
  python3 -m pip install --quiet uv
fi
echo "› pnpm install"
pnpm install --frozen-lockfile --reporter=silent

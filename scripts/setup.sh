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

# The tests' own servers: Redis is the Celery broker of the distributed Airflow test (started by the
# test on 127.0.0.1, never as a system service). It comes from Debian's packages.
if [ "${1:-}" = "--with-python" ] && ! command -v redis-server >/dev/null 2>&1; then
  echo "› installing redis-server (Debian package)"
  SUDO=""
  [ "$(id -u)" = "0" ] || SUDO="sudo"
  $SUDO apt-get install -y --no-install-recommends redis-server >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y --no-install-recommends redis-server >/dev/null; } \
    || { echo "setup: could not install redis-server; install the Debian package redis-server and rerun" >&2; exit 1; }
  # The package's own service is not used; tests start their own server on a free port.
  { command -v systemctl >/dev/null && $SUDO systemctl disable --now redis-server >/dev/null 2>&1; } || true
fi

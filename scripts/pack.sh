#!/usr/bin/env bash
# `make pack`: what a project outside this repository installs until @baton/* is published.
# Builds the packages (TypeScript and each package's wheel), then writes to dist/ (gitignored):
#   - the npm tarballs of the user-facing packages, made by `pnpm pack` so that workspace:
#     ranges become real versions (install them with `npm install ./dist/baton-core-<v>.tgz …`);
#   - the four Python wheels (baton_core, baton_dagster, baton_airflow, baton_prefect), the same
#     files the tarballs carry under python/dist, for a deployment's `pip install --find-links`.
# Usage: bash scripts/pack.sh [--no-build] [OUT_DIR]   (default dist/; --no-build: the packages are
# built already, as in tests/registry, whose turbo task builds them first)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=1
if [ "${1:-}" = "--no-build" ]; then BUILD=0; shift; fi
OUT="${1:-dist}"
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac

PACKAGES=(core adapter-dagster adapter-airflow adapter-prefect testing)

if [ "$BUILD" = 1 ]; then
  bash scripts/setup.sh
  filters=()
  for p in "${PACKAGES[@]}"; do filters+=("--filter=./packages/$p"); done
  pnpm exec turbo run build "${filters[@]}" --output-logs=errors-only
fi

# Replace only a previous pack output: a folder holding nothing but tarballs and wheels.
if [ -d "$OUT" ] && find "$OUT" -mindepth 1 ! -name '*.tgz' ! -name '*.whl' | grep -q .; then
  echo "✘ $OUT holds files other than .tgz and .whl; fix: name a new or empty folder (bash scripts/pack.sh [--no-build] DIR)" >&2
  exit 1
fi
rm -rf "$OUT"
mkdir -p "$OUT"
for p in "${PACKAGES[@]}"; do
  (cd "packages/$p" && pnpm pack --pack-destination "$OUT" >/dev/null)
done
for p in "${PACKAGES[@]}"; do
  dir="packages/$p/python/dist"
  [ -d "$dir" ] || continue
  wheels=("$dir"/*.whl)
  if [ ! -e "${wheels[0]}" ]; then
    echo "✘ $dir has no wheel; fix: build it with 'pnpm --filter ./packages/$p build' (needs uv)" >&2
    exit 1
  fi
  cp "${wheels[@]}" "$OUT/"
done

echo "wrote $OUT:"
(cd "$OUT" && for f in *.tgz *.whl; do printf '  %-48s %8s bytes\n' "$f" "$(wc -c <"$f" | tr -d ' ')"; done)
core=$(cd "$OUT" && ls baton-core-*.tgz)
echo
echo "Install into a project outside this repository (README: \"Install Baton into your own project\"):"
echo "  npm install $OUT/$core $OUT/baton-adapter-<target>-<version>.tgz"

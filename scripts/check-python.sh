#!/usr/bin/env bash
# The Python quality gate (BUILD-CONTRACT.md, "Python packages"), run by scripts/test.sh after the
# build: baton_core gets ruff, mypy --strict and pytest; each adapter with
# python/requirements-test.txt gets mypy --strict and pytest inside its orchestrator's pinned venv.
# Every package is checked as it ships: its wheel and baton_core's, from python/dist, are installed
# (--reinstall --no-deps) into the venv. Venvs live under $BATON_VENV_ROOT, keyed by the hash of
# their pins (as @baton/testing's ensurePythonEnv keys them), and are reused while the pins hold.
# Runs every check, prints each failure as "<package>: <tool>", and exits 1 if any failed.
set -uo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
repo=$PWD
root="${BATON_VENV_ROOT:-$repo/.venvs}"
uv="${BATON_UV:-uv}"
python_version="${BATON_PYTHON:-3.11}"
dev_pins=packages/core/python-requirements-dev.txt
failed=()

say() { printf '%s\n' "$*"; }
fail() { failed+=("$1"); say "✘ $1"; }

# venv NAME REQUIREMENTS... -> prints the venv folder. Built in place (scripts hold its path);
# the marker written last tells a finished venv from an interrupted one; flock keeps two runs
# from building the same one at once.
venv() {
  local name=$1
  shift
  local hash dir
  hash=$( (cat "$@"; printf '%s' "$python_version") | sha256sum | cut -c1-12)
  dir="$root/$name-$hash"
  mkdir -p "$root"
  (
    flock 9
    [[ -f "$dir/.baton-ready" ]] && exit 0
    rm -rf "$dir"
    local args=()
    for f in "$@"; do args+=(-r "$f"); done
    "$uv" venv --quiet --python "$python_version" "$dir" >&2 &&
      "$uv" pip install --quiet --python "$dir/bin/python" "${args[@]}" >&2 &&
      cat "$@" >"$dir/.baton-ready"
  ) 9>"$dir.lock" || return 1
  printf '%s\n' "$dir"
}

# wheel PACKAGE_DIR MODULE NPM_NAME -> the one wheel in PACKAGE_DIR/python/dist, refused when
# missing or older than the module's sources or pyproject (a check of stale code proves nothing).
wheel() {
  local dist="$1/python/dist" found
  found=$(find "$dist" -maxdepth 1 -name '*.whl' 2>/dev/null)
  if [[ -z "$found" || $(wc -l <<<"$found") -ne 1 ]]; then
    say "  no single wheel in $dist; fix: pnpm --filter $3 build" >&2
    return 1
  fi
  if [[ -n $(find "$1/python/$2" "$1/python/pyproject.toml" \( -name '*.py' -o -name pyproject.toml \) -newer "$found" -print -quit) ]]; then
    say "  $found is older than $1/python/$2 or its pyproject.toml; fix: pnpm --filter $3 build" >&2
    return 1
  fi
  printf '%s\n' "$found"
}

# step LABEL DIR COMMAND...: runs COMMAND in DIR, timed; records LABEL on failure.
step() {
  local label=$1 dir=$2 start
  shift 2
  start=$(date +%s.%N)
  if (cd "$dir" && "$@"); then
    say "✔ $label ($(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f s", e - s }'))"
  else
    fail "$label"
  fi
}

step "python versions: pyproject = package.json" . node scripts/python-versions.mjs --check
core_wheel=$(wheel packages/core baton_core @baton/core) || fail "baton_core: wheel"

# -- baton_core ----------------------------------------------------------------------------------
if [[ -n "${core_wheel:-}" ]]; then
  # read_output's extras (polars, s3fs) and the moto server its S3 tests start.
  core_pins=("$dev_pins" packages/core/python/requirements-s3.txt packages/testing/python/requirements-moto.txt)
  if env=$(venv check-core "${core_pins[@]}"); then
    "$uv" pip install --quiet --python "$env/bin/python" --reinstall --no-deps "$core_wheel"
    step "baton_core: types generated from the schema" . node scripts/gen-manifest-types.mjs --check
    step "baton_core: ruff check" packages/core/python "$env/bin/ruff" check .
    step "baton_core: ruff format" packages/core/python "$env/bin/ruff" format --check .
    step "baton_core: mypy --strict" packages/core/python "$env/bin/mypy" --strict --cache-dir "$env/.mypy_cache" baton_core tests
    step "baton_core: pytest" packages/core/python "$env/bin/pytest" -q -p no:cacheprovider tests
  else
    fail "baton_core: venv from ${core_pins[*]}"
  fi
fi

# -- the adapters, each in its orchestrator's venv -------------------------------------------------
for requirements in packages/*/python/requirements-test.txt; do
  pkg=${requirements%/python/requirements-test.txt}
  [[ $pkg == packages/core ]] && continue
  npm_name=$(node -p "require('./$pkg/package.json').name")
  module=$(cd "$pkg/python" && find . -maxdepth 2 -name __init__.py -path './baton_*' | cut -d/ -f2 | head -1)
  if [[ -z "$module" ]]; then
    fail "$pkg: no baton_* module in $pkg/python"
    continue
  fi
  adapter_wheel=$(wheel "$pkg" "$module" "$npm_name") || {
    fail "$module: wheel"
    continue
  }
  [[ -n "${core_wheel:-}" ]] || continue
  if ! env=$(venv "check-${module#baton_}" "$requirements" "$dev_pins"); then
    fail "$module: venv from $requirements + $dev_pins"
    continue
  fi
  "$uv" pip install --quiet --python "$env/bin/python" --reinstall --no-deps "$core_wheel" "$adapter_wheel"
  targets=("$module")
  [[ -d "$pkg/python/tests" ]] && targets+=(tests)
  step "$module: mypy --strict" "$pkg/python" "$env/bin/mypy" --strict --cache-dir "$env/.mypy_cache" "${targets[@]}"
  if [[ -d "$pkg/python/tests" ]]; then
    step "$module: pytest" "$pkg/python" "$env/bin/pytest" -q -p no:cacheprovider tests
  else
    fail "$module: pytest (no $pkg/python/tests)"
  fi
done

if ((${#failed[@]})); then
  say ""
  say "check-python: ${#failed[@]} failed:"
  printf '  - %s\n' "${failed[@]}"
  exit 1
fi
say "check-python: every Python package passed"

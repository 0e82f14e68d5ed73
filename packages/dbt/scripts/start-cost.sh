#!/usr/bin/env bash
# dbt's start cost: CPU and wall of `dbt build` for one model vs the whole fixture project, `dbt parse`,
# and `import dbt.cli.main` alone. Usage: start-cost.sh DBT_VENV [ROUNDS]  (DBT_VENV from python/requirements-dbt.txt)
# Prints one line per run; DESIGN.md quotes the figures. Not a test: a measurement on whatever load the machine has.
set -euo pipefail
venv=${1:?give the dbt venv (uv venv V && uv pip install --python V/bin/python -r python/requirements-dbt.txt)}
rounds=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/../testing/fixtures/dbt/jaffle" "$work/jaffle"
cd "$work/jaffle"
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
"$venv/bin/python" -c "import duckdb; duckdb.sql(\"select order_id, 'high' as priority from range(1, 13) t(order_id)\").write_parquet('prio.parquet')"
vars="{\"baton_order_priorities\": \"$work/jaffle/prio.parquet\"}"
measure() { local label=$1; shift; /usr/bin/time -f "$label wall=%es user=%Us sys=%Ss" "$@" >/dev/null 2>>"$work/times" || { cat "$work/times"; exit 1; }; }
"$venv/bin/dbt" build --profiles-dir . --vars "$vars" >/dev/null  # warm the DuckDB file and the OS cache
for _ in $(seq "$rounds"); do
  measure "build-1-model" "$venv/bin/dbt" build --profiles-dir . --vars "$vars" --select fqn:jaffle.staging.stg_customers --indirect-selection empty
  measure "build-all-26-nodes" "$venv/bin/dbt" build --profiles-dir . --vars "$vars"
  measure "parse" "$venv/bin/dbt" parse --profiles-dir . --vars "$vars"
  measure "import-dbt.cli.main" "$venv/bin/python" -c "import dbt.cli.main"
done
cat "$work/times"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

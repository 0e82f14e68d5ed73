#!/usr/bin/env bash
# The main job: the customer-metrics example on the embedded executor, printing customer_metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pnpm exec turbo run build --filter=@baton/core --output-logs=errors-only
cd examples/customer-metrics
pnpm exec baton materialize --select +published_metrics --show customer_metrics

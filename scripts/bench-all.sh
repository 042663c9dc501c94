#!/usr/bin/env bash
# Reproduce every figure in docs/benchmarks.md: checkout and flash sale against the platform,
# the database's own limit, and the mixed run, on PostgreSQL and SQLite; the harness floor;
# then the plot.
# Run it on a quiet machine. Reports (JSON) go to $OUT; the plot to docs/benchmarks.png.
#   DURATION=20 CONCURRENCIES="8 16 32 64" bash scripts/bench-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
OUT=${OUT:-var/bench-results}
DURATION=${DURATION:-20}
CONCURRENCIES=${CONCURRENCIES:-"8 16 32 64"}
FLASH_CONCURRENCIES=${FLASH_CONCURRENCIES:-"50 100 200"}
BUYERS=${BUYERS:-5000}
UNITS=${UNITS:-100}
WORKERS=${WORKERS:-2}
PGURL=${PGURL:-postgresql+asyncpg://postgres@127.0.0.1:5432}
DB=kuaidan_bench_all_$$
WORK=$(mktemp -d)

cleanup() {
  psql -h 127.0.0.1 -U postgres -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
    >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$OUT"
psql -h 127.0.0.1 -U postgres -q -d postgres -c "CREATE DATABASE $DB"
echo "machine: $(nproc) CPUs; $(uptime)" | tee "$OUT/machine.txt"

run() {  # run BACKEND NAME ARGS... → $OUT/BACKEND-NAME.json
  local backend=$1 name=$2
  shift 2
  echo "== $backend $name (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  "$PY" -m kuaidan bench "$@" --json >"$OUT/$backend-$name.json"
}

for backend in postgres sqlite; do
  export KUAIDAN_DATA_DIR="$WORK/$backend"
  if [ "$backend" = postgres ]; then
    export KUAIDAN_DATABASE_URL="$PGURL/$DB"
  else
    unset KUAIDAN_DATABASE_URL
  fi
  "$PY" -m kuaidan bench prepare --buyers "$BUYERS" --skus 400
  run "$backend" db-limit db-limit --concurrency 32 --duration "$DURATION"
  for c in $CONCURRENCIES; do
    run "$backend" "checkout-c$c" checkout --concurrency "$c" --duration "$DURATION" \
      --workers "$WORKERS"
  done
  for c in $FLASH_CONCURRENCIES; do
    run "$backend" "flash-c$c" flash-sale --buyers "$BUYERS" --units "$UNITS" \
      --concurrency "$c" --workers "$WORKERS"
  done
  run "$backend" mixed mixed --concurrency 16 --duration "$DURATION" --buyers 2000 \
    --units "$UNITS" --flash-concurrency 200 --workers "$WORKERS"
done

# The harness floor: the same load generator against a bare app that only answers "sold out".
export KUAIDAN_DATA_DIR="$WORK/floor"
for c in 32 200; do
  run floor "c$c" floor --concurrency "$c" --duration "$DURATION" --workers "$WORKERS"
done

"$PY" -m kuaidan bench plot --results "$OUT" --out docs/benchmarks.png

#!/usr/bin/env bash
# Command 2: set everything up (first run only), then run every test and print one summary line.
#   ./test.sh                 all steps: lint, install in a fresh database, addon tests, plain tests, browser tours
#   ./test.sh --only plain    one step (lint, addon, plain, tours); repeatable
#   ./test.sh --keep-db       keep the throwaway database for inspection
set -euo pipefail
cd "$(dirname "$0")"
source tools/setup.sh
exec "$HALO_VENV/bin/python" tools/run_tests.py "$@"

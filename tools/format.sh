#!/usr/bin/env bash
# Rewrite the repository's files the way the lint hooks want them (.pre-commit-config.yaml):
#   ruff check --fix, ruff format, prettier (XML). Then the checks of ./test.sh pass.
#   tools/format.sh            every file of the repository
#   tools/format.sh FILE...    only these files
# It also empties .pre-commit-pending: once its result is committed, ./test.sh checks the
# formatting of every file (see .pre-commit-config.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
HALO_SKIP_PRECOMMIT=0 source tools/setup.sh
files=(--all-files)
[ $# -gt 0 ] && files=(--files "$@")
for hook in ruff-fix ruff-format prettier; do
  # a fixing hook "fails" when it changed a file: run it again to see that it is now clean
  "$HALO_VENV/bin/pre-commit" run --hook-stage manual "$hook" "${files[@]}" >/dev/null 2>&1 || true
  "$HALO_VENV/bin/pre-commit" run --hook-stage manual "$hook" "${files[@]}"
done
if [ $# -eq 0 ] && [ -f .pre-commit-pending ]; then
  sed -i -E '/^(ruff-format-check|prettier-check)$/d' .pre-commit-pending
fi
echo "[format] done; review with: git diff --stat"

#!/usr/bin/env bash
# Fails when git tracks a generated or scratch file (profiles, pid files,
# bytecode, build output, fuzzer crash files): they belong in .gitignore.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(git ls-files | grep -E '(^|/)(__pycache__/|build(-[a-z]+)?/|data/)|\.(pyc|pid|profraw|profdata|gcda|gcno)$|(^|/)perf[^/]*\.data(\.old)?$|(^|/)(crash|leak|timeout)-[0-9a-f]+$' || true)
if [ -n "$bad" ]; then
  echo "check-tracked: generated or scratch files are tracked by git (remove them with git rm --cached):" >&2
  echo "$bad" >&2
  exit 1
fi
echo "check-tracked: no generated files tracked"

#!/usr/bin/env bash
# Fails when a C++ file differs from clang-format's output (.clang-format: Google, 100 columns).
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cc' '*.h')
[ -z "$files" ] && exit 0
if ! echo "$files" | xargs clang-format --dry-run --Werror 2>/tmp/clang-format.out; then
  head -40 /tmp/clang-format.out
  echo "clang-format: the files above need 'clang-format -i'"
  exit 1
fi
echo "clang-format: $(echo "$files" | wc -l) files clean"

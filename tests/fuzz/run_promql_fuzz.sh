#!/usr/bin/env bash
# Builds a PromQL fuzz target with clang (libFuzzer, ASan, UBSan) and runs it for a bounded time
# on a copy of the seed corpus. Exits non-zero on any crash, leak, sanitizer report, broken
# print/parse round trip (parser) or malformed query result (engine); the failing input is kept
# in <build-dir>/artifacts/.
#
# Usage: tests/fuzz/run_promql_fuzz.sh [build-dir] [parser|engine]
#   build-dir            where to configure the clang build (default: $TMPDIR/tidemark-promql-fuzz)
#   parser|engine        the target: promql_parser_fuzz (default) or promql_engine_fuzz, which
#                        evaluates what parses against a small store; both are seeded from
#                        promql_corpus/ (the engine also from promql_engine_corpus/)
#   PROMQL_FUZZ_SECONDS  fuzzing time in seconds (default: 60)
#   PROMQL_FUZZ_JOBS     build parallelism (default: 2)
set -euo pipefail

src_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_dir="${1:-${TMPDIR:-/tmp}/tidemark-promql-fuzz}"
target_kind="${2:-parser}"
seconds="${PROMQL_FUZZ_SECONDS:-60}"
case "$target_kind" in
  parser | engine) target="promql_${target_kind}_fuzz" ;;
  *)
    echo "run_promql_fuzz.sh: unknown target '$target_kind' (parser or engine)" >&2
    exit 2
    ;;
esac
jobs="${PROMQL_FUZZ_JOBS:-2}"

for tool in clang clang++ cmake; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "run_promql_fuzz.sh: $tool not found (apt install clang libclang-rt-dev cmake)" >&2
    exit 1
  fi
done

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

mkdir -p "$build_dir"
CC=clang CXX=clang++ cmake -S "$src_dir" -B "$build_dir/build" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIDEMARK_FUZZ=ON >"$build_dir/configure.log" 2>&1 || {
  cat "$build_dir/configure.log" >&2
  exit 1
}
cmake --build "$build_dir/build" --target "$target" -j "$jobs"

# Work on a copy: libFuzzer adds the inputs it finds to the corpus directory.
rm -rf "$build_dir/corpus" "$build_dir/artifacts"
mkdir -p "$build_dir/corpus" "$build_dir/artifacts"
cp "$src_dir"/promql_corpus/* "$build_dir/corpus/"
if [[ $target_kind == engine ]]; then cp "$src_dir"/promql_engine_corpus/* "$build_dir/corpus/"; fi

echo "run_promql_fuzz.sh: fuzzing $target for ${seconds}s in $build_dir"
status=0
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1:quarantine_size_mb=64" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  "$build_dir/build/$target" \
  -max_total_time="$seconds" -max_len=4096 -timeout=20 -rss_limit_mb=4096 -malloc_limit_mb=1024 \
  -dict="$src_dir/promql.dict" -print_final_stats=1 \
  -artifact_prefix="$build_dir/artifacts/" "$build_dir/corpus" || status=$?

if [[ $status -ne 0 ]] || compgen -G "$build_dir/artifacts/*" >/dev/null; then
  echo "run_promql_fuzz.sh: FAILED (exit $status); reproducer(s):" >&2
  ls -l "$build_dir/artifacts/" >&2
  exit 1
fi
echo "run_promql_fuzz.sh: OK"

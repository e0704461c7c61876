#!/usr/bin/env bash
# Installs what is missing (build tools and the real peers: Prometheus, node_exporter, dockerd,
# busybox), builds everything with -Werror and runs the whole test suite with ctest.
# Run as root so the privileged tests (real cgroups, OOM kills, dockerd) run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
BUILD_DIR=${BUILD_DIR:-build-test}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIDEMARK_WERROR=ON >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 600 -j1 "$@"

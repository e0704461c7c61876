#!/usr/bin/env bash
# Installs what is missing, builds tidemark (Release) and runs the agent with its embedded
# defaults (HTTP on 127.0.0.1:9920, data in ./data). Extra arguments go to `tidemark agent`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DTIDEMARK_BUILD_TESTS=OFF >/dev/null
cmake --build build-release --target tidemark
exec build-release/agent/tidemark agent "$@"

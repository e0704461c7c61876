#!/usr/bin/env bash
# Installs what tidemark needs to build, test and benchmark on Debian 12, with apt-get.
# Idempotent: installs only what is missing. Needs root.
set -euo pipefail

BUILD_PKGS=(cmake ninja-build g++ pkg-config clang-format
  libboost-dev libboost-system-dev libspdlog-dev nlohmann-json3-dev prometheus-cpp-dev
  libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev librocksdb-dev libre2-dev
  libbpf-dev libelf-dev zlib1g-dev libssl-dev libsnappy-dev clang llvm bpftool)
# Real peers the tests and benchmarks run against.
TEST_PKGS=(prometheus prometheus-node-exporter prometheus-alertmanager docker.io busybox-static
  libbpf-tools bpftrace iptables curl procps python3 util-linux file)

want=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

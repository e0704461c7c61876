#!/usr/bin/env bash
# Keeps the module picture in DESIGN.md true: fails on any #include "<dir>/..." edge between
# top-level folders that the design does not allow, and on includes of another module's internal/.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [common]=""
  [collector]="common"
  [ebpf]="common"
  [tsdb]="common"
  [alerting]="common tsdb"
  [autoscaler]="common tsdb"
  [agent]="common collector ebpf tsdb alerting autoscaler"
)
bad=0
for dir in "${!allowed[@]}"; do
  [[ -d $dir ]] || continue
  while IFS=: read -r file _ inc; do
    target=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$inc")
    [[ $target == "$dir" ]] && continue
    [[ -d $target ]] || continue
    if [[ " ${allowed[$dir]} " != *" $target "* ]]; then
      echo "forbidden edge $dir -> $target: $file: $inc"; bad=1
    elif [[ $inc == *"$target/internal/"* ]]; then
      echo "private header of $target included from $dir: $file: $inc"; bad=1
    fi
  done < <(grep -rnE '^#include "[a-z_]+/' "$dir" --include='*.h' --include='*.cc' --include='*.c' || true)
done
[[ $bad == 0 ]] && echo "module include edges match DESIGN.md"
exit $bad

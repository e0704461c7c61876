// The label sets of the exported cgroups by cgroup path, so other readers (eBPF series, OOM
// events) label a container exactly as its container_* series do.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/labels.h"

namespace tidemark::collector {

// Path (relative to the hierarchy root, e.g. "/docker/<id>") -> the container's base labels, as
// the cgroup collector's last Collect() emitted them. Thread-safe: the collector replaces the
// table on its thread, any thread looks up.
class ContainerLabelIndex {
 public:
  using Table = std::unordered_map<std::string, LabelSetPtr>;

  // Labels of the exported cgroup at `path`, else of its nearest exported ancestor (processes in
  // a container's sub-cgroups belong to the container; the root "/" matches only itself); null
  // when there is none.
  LabelSetPtr Find(std::string_view path) const;
  // Installs a new table and bumps version().
  void Replace(Table table);
  // Changes whenever the table does; lets callers cache Find() results until it moves.
  uint64_t version() const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Table> table_ = std::make_shared<const Table>();  // Guarded by mu_.
  uint64_t version_ = 0;                                                  // Guarded by mu_.
};

}  // namespace tidemark::collector

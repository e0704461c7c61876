#include "collector/container_label_index.h"

namespace tidemark::collector {

LabelSetPtr ContainerLabelIndex::Find(std::string_view path) const {
  std::shared_ptr<const Table> table;
  {
    std::lock_guard<std::mutex> lock(mu_);
    table = table_;
  }
  if (table->empty() || path.empty()) return nullptr;
  std::string key(path);
  while (!key.empty()) {
    auto it = table->find(key);
    if (it != table->end()) return it->second;
    size_t slash = key.rfind('/');
    if (slash == 0 || slash == std::string::npos) break;  // Never fall back to the root.
    key.resize(slash);
  }
  return nullptr;
}

void ContainerLabelIndex::Replace(Table table) {
  auto next = std::make_shared<const Table>(std::move(table));
  std::lock_guard<std::mutex> lock(mu_);
  table_ = std::move(next);
  ++version_;
}

uint64_t ContainerLabelIndex::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

size_t ContainerLabelIndex::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return table_->size();
}

}  // namespace tidemark::collector

#include "ebpf/internal/row_grouping.h"

namespace tidemark::ebpf::internal {

void CycleResolver::Start(std::chrono::steady_clock::time_point seen_at) {
  if (memo_.size() > 2 * used_ + 64) {
    std::erase_if(memo_, [this](const auto& kv) { return kv.second.cycle != cycle_; });
  }
  seen_at_ = seen_at;
  ++cycle_;
  used_ = 0;
}

const CycleResolver::Entry& CycleResolver::Get(uint64_t cgroup_id) {
  if (cgroup_id == 0 || resolver_ == nullptr) return none_;
  Entry& e = memo_[cgroup_id];
  if (e.cycle != cycle_) {
    std::optional<CgroupRef> ref = resolver_->Resolve(hierarchy_, cgroup_id, seen_at_);
    e.gone = !ref.has_value();
    e.labels = ref ? std::move(ref->labels) : nullptr;
    e.cycle = cycle_;
    ++used_;
  }
  return e;
}

size_t ContainerSlots::Slot(const LabelSetPtr& labels) {
  auto it = by_ptr_.find(labels.get());
  if (it != by_ptr_.end()) return it->second;
  auto [rit, inserted] = by_rendered_.try_emplace(labels->rendered(), labels_.size());
  if (inserted) labels_.push_back(labels);
  by_ptr_.emplace(labels.get(), rit->second);
  return rit->second;
}

void ContainerSlots::Clear() {
  by_ptr_.clear();
  by_rendered_.clear();
  labels_.clear();
}

}  // namespace tidemark::ebpf::internal

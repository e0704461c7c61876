// The map readers' per-cycle helpers: one Resolve per cgroup id and cycle, rows grouped by
// container whether their label sets are the same object or only equal.
#include "ebpf/internal/row_grouping.h"

#include <gtest/gtest.h>

#include <map>

namespace tidemark::ebpf::internal {
namespace {

// Ids below 100 are containers "/c<id>", 100..199 removed cgroups; counts the calls.
class CountingResolver final : public CgroupResolver {
 public:
  std::optional<CgroupRef> Resolve(CgroupHierarchy, uint64_t id,
                                   std::chrono::steady_clock::time_point) override {
    ++calls[id];
    if (id >= 100) return std::nullopt;
    std::string path = "/c" + std::to_string(id);
    return CgroupRef{path, std::make_shared<const LabelSet>(Labels{{"id", path}})};
  }
  std::map<uint64_t, int> calls;
};

TEST(CycleResolverTest, ResolvesEachIdOncePerCycle) {
  CountingResolver resolver;
  CycleResolver cycle(&resolver, CgroupHierarchy::kUnified);
  cycle.Start({});
  const CycleResolver::Entry& a = cycle.Get(7);
  ASSERT_NE(a.labels, nullptr);
  EXPECT_EQ(a.labels->Get("id"), "/c7");
  EXPECT_FALSE(a.gone);
  EXPECT_EQ(cycle.Get(7).labels, a.labels);
  EXPECT_TRUE(cycle.Get(150).gone);
  EXPECT_FALSE(cycle.Get(0).gone);  // Unknown cgroup: kept, never resolved.
  EXPECT_EQ(cycle.Get(0).labels, nullptr);
  EXPECT_EQ(resolver.calls, (std::map<uint64_t, int>{{7, 1}, {150, 1}}));
  cycle.Start({});  // A new cycle asks again (labels or removal may have changed).
  cycle.Get(7);
  EXPECT_EQ(resolver.calls[7], 2);
}

TEST(CycleResolverTest, WithoutResolverNothingResolvesOrGoes) {
  CycleResolver cycle(nullptr, CgroupHierarchy::kBlkio);
  cycle.Start({});
  EXPECT_FALSE(cycle.Get(42).gone);
  EXPECT_EQ(cycle.Get(42).labels, nullptr);
}

TEST(ContainerSlotsTest, SameOrEqualLabelSetsShareASlot) {
  ContainerSlots slots;
  auto a = std::make_shared<const LabelSet>(Labels{{"id", "/a"}, {"name", "web"}});
  auto a_copy = std::make_shared<const LabelSet>(Labels{{"name", "web"}, {"id", "/a"}});
  auto b = std::make_shared<const LabelSet>(Labels{{"id", "/b"}});
  EXPECT_EQ(slots.Slot(a), 0u);
  EXPECT_EQ(slots.Slot(b), 1u);
  EXPECT_EQ(slots.Slot(a), 0u);
  EXPECT_EQ(slots.Slot(a_copy), 0u);  // Equal labels: exported once.
  EXPECT_EQ(slots.size(), 2u);
  EXPECT_EQ(slots.labels(1), b);
  slots.Clear();
  EXPECT_EQ(slots.size(), 0u);
  EXPECT_EQ(slots.Slot(b), 0u);
}

}  // namespace
}  // namespace tidemark::ebpf::internal

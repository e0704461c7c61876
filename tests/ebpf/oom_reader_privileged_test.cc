// OomReader on the real kernel: a process allocating in a memory-limited test cgroup until the
// OOM killer takes it gives exactly one event with that cgroup, the victim's pid and comm.
#include <gtest/gtest.h>
#include <sys/prctl.h>

#include <cstdlib>

#include "common/clock.h"
#include "ebpf/oom_reader.h"
#include "tests/ebpf/privileged_util.h"

namespace tidemark::ebpf {
namespace {

using testing::TestCgroup;

class RecordingSink final : public OomEventSink {
 public:
  void OnOomEvent(const OomEvent& e) override { events.push_back(e); }
  std::vector<OomEvent> events;
};

TEST(OomReaderPrivilegedTest, OomKillInLimitedCgroupGivesOneEvent) {
  if (std::string reason = testing::EbpfSkipReason(); !reason.empty()) GTEST_SKIP() << reason;
  Result<CgroupRoots> roots = CgroupRoots::FromMountInfo(HostPaths{});
  ASSERT_TRUE(roots.ok()) << roots.status().ToString();
  CgroupIdIndex index(*roots, SystemClock::Instance());
  Result<std::unique_ptr<OomReader>> reader = OomReader::Create(&index, SystemClock::Instance());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  RecordingSink sink;
  (*reader)->Subscribe(&sink);

  TestCgroup cg(*roots, "oom");
  constexpr uint64_t kLimit = 32ull << 20;
  const bool v1 = roots->memory != roots->unified;
  ASSERT_TRUE(testing::WriteString(
      cg.Dir(CgroupHierarchy::kMemory) + (v1 ? "/memory.limit_in_bytes" : "/memory.max"),
      std::to_string(kLimit)))
      << strerror(errno);
  if (v1) {
    // No swap escape: cap memory+swap too where the kernel accounts swap.
    testing::WriteString(cg.Dir(CgroupHierarchy::kMemory) + "/memory.memsw.limit_in_bytes",
                         std::to_string(kLimit));
  } else {
    testing::WriteString(cg.Dir(CgroupHierarchy::kMemory) + "/memory.swap.max", "0");
  }

  testing::Child child = testing::Fork([] {
    ::prctl(PR_SET_NAME, "tm-oom-victim");
    for (size_t total = 0; total < (1ull << 30); total += 1 << 20) {
      // volatile: the compiler may not elide the allocation.
      volatile char* p = static_cast<volatile char*>(std::malloc(1 << 20));
      if (p == nullptr) return 2;
      for (size_t i = 0; i < (1 << 20); i += 4096) p[i] = 1;
    }
    return 0;  // Not killed within 1 GiB: the limit did not apply.
  });
  ASSERT_GT(child.pid, 0);
  cg.Adopt(child.pid);
  ASSERT_TRUE(child.Go());
  int status = child.Wait();
  cg.Reaped(child.pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "wait status " << status;

  // mark_victim fires before the kill is delivered, so the event is queued by now.
  Result<int> n = (*reader)->Poll(0);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  const uint64_t memcg_id = cg.Id(CgroupHierarchy::kMemory);
  std::vector<OomEvent> ours;
  for (const OomEvent& e : sink.events) {
    if (e.memcg_id == memcg_id) ours.push_back(e);
  }
  ASSERT_EQ(ours.size(), 1u) << "events seen: " << sink.events.size();
  const OomEvent& e = ours[0];
  EXPECT_EQ(e.pid, static_cast<uint32_t>(child.pid));
  EXPECT_EQ(e.comm, "tm-oom-victim");
  EXPECT_EQ(e.cgroup_path, cg.rel());
  EXPECT_EQ(e.cgroup_id, cg.Id(CgroupHierarchy::kUnified));
  ASSERT_NE(e.container, nullptr);
  EXPECT_EQ(e.container->Get("id"), cg.rel());
  EXPECT_EQ(e.limit_bytes, kLimit);
  EXPECT_GT(e.usage_bytes, kLimit / 2);
  EXPECT_LE(e.usage_bytes, kLimit);
  EXPECT_GT(e.anon_rss_bytes, kLimit / 2);
  EXPECT_FALSE(e.pid_only);
  EXPECT_EQ((*reader)->lost(), 0u);

  SampleBatch batch;
  (*reader)->Collect(&batch);
  double kills = -1;
  for (const MetricFamily& f : batch.families()) {
    if (f.name != "container_oom_events_total") continue;
    for (const Sample& s : f.samples) {
      if (s.base != nullptr && s.base->Get("id") == cg.rel()) kills = s.value;
    }
  }
  EXPECT_EQ(kills, 1);
}

}  // namespace
}  // namespace tidemark::ebpf

// OomReader on the real kernel: a process allocating in a memory-limited test cgroup until the
// OOM killer takes it gives exactly one event with that cgroup, the victim's pid and comm, and
// the agent's OOM event interface gets it once with the container's labels.
#include <gtest/gtest.h>
#include <sys/prctl.h>

#include <cstdlib>

#include "common/clock.h"
#include "common/oom_event.h"
#include "ebpf/ebpf_collector.h"
#include "ebpf/oom_reader.h"
#include "tests/ebpf/privileged_util.h"

namespace tidemark::ebpf {
namespace {

using testing::TestCgroup;

constexpr uint64_t kLimit = 32ull << 20;

class RecordingSink final : public OomEventSink {
 public:
  void OnOomEvent(const OomEvent& e) override { events.push_back(e); }
  std::vector<OomEvent> events;
};

// Limits `cg` to kLimit (no swap) and runs a child named "tm-oom-victim" in it that allocates
// until the OOM killer takes it; returns its pid (-1 after a failed assertion).
pid_t OomKillIn(const CgroupRoots& roots, TestCgroup& cg) {
  const bool v1 = roots.memory != roots.unified;
  const std::string dir = cg.Dir(CgroupHierarchy::kMemory);
  EXPECT_TRUE(testing::WriteString(dir + (v1 ? "/memory.limit_in_bytes" : "/memory.max"),
                                   std::to_string(kLimit)))
      << strerror(errno);
  if (v1) {
    // No swap escape: cap memory+swap too where the kernel accounts swap.
    testing::WriteString(dir + "/memory.memsw.limit_in_bytes", std::to_string(kLimit));
  } else {
    testing::WriteString(dir + "/memory.swap.max", "0");
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
  if (child.pid <= 0) {
    ADD_FAILURE() << "fork failed";
    return -1;
  }
  cg.Adopt(child.pid);
  EXPECT_TRUE(child.Go());
  int status = child.Wait();
  cg.Reaped(child.pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "wait status " << status;
  return child.pid;
}

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
  const pid_t victim = OomKillIn(*roots, cg);
  ASSERT_GT(victim, 0);

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
  EXPECT_EQ(e.pid, static_cast<uint32_t>(victim));
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

// What the agent wires: the collector publishes to the OOM event hub, and the resolver labels
// cgroups as the cgroup collector's series are labelled (here a fixed container label set).
TEST(OomReaderPrivilegedTest, OomKillReachesTheHubOnceWithContainerLabels) {
  if (std::string reason = testing::EbpfSkipReason(); !reason.empty()) GTEST_SKIP() << reason;
  Result<CgroupRoots> roots = CgroupRoots::FromMountInfo(HostPaths{});
  ASSERT_TRUE(roots.ok()) << roots.status().ToString();
  TestCgroup cg(*roots, "oomhub");
  const Labels container = {{"id", cg.rel()},
                            {"name", "web.1.x7f3"},
                            {"image", "busybox:latest"},
                            {"container_label_com_docker_compose_service", "web"}};
  auto labels = std::make_shared<const LabelSet>(container);
  CgroupIdIndexOptions options;
  options.labeler = [&](CgroupHierarchy, std::string_view path) -> LabelSetPtr {
    return path == cg.rel() ? labels : nullptr;
  };
  CgroupIdIndex index(*roots, SystemClock::Instance(), options);
  EbpfOptions ebpf_options;
  ebpf_options.tcpretrans = false;
  ebpf_options.biolatency = false;
  auto collector =
      EbpfCollector::Create(&index, SystemClock::Instance(), HostPaths{}, ebpf_options);
  ASSERT_TRUE(collector->oom_up()) << collector->oom_error();
  auto hub = std::make_shared<OomEventHub>();
  std::vector<tidemark::OomEvent> events;
  hub->Subscribe([&events](const tidemark::OomEvent& e) { events.push_back(e); });
  collector->PublishOom(hub);

  const auto before = std::chrono::system_clock::now();
  const pid_t victim = OomKillIn(*roots, cg);
  ASSERT_GT(victim, 0);
  Result<int> n = collector->PollOom(0);
  ASSERT_TRUE(n.ok()) << n.status().ToString();

  std::vector<tidemark::OomEvent> ours;
  for (const tidemark::OomEvent& e : events) {
    if (e.cgroup_path == cg.rel()) ours.push_back(e);
  }
  ASSERT_EQ(ours.size(), 1u) << "hub events: " << events.size();
  const tidemark::OomEvent& e = ours[0];
  EXPECT_EQ(e.source, "ebpf");
  EXPECT_EQ(e.container, labels->labels());  // As the series carry them (sorted by name).
  EXPECT_EQ(e.pid, static_cast<uint32_t>(victim));
  EXPECT_EQ(e.comm, "tm-oom-victim");
  EXPECT_EQ(e.count, 1u);
  EXPECT_EQ(e.memory_limit_bytes, kLimit);
  EXPECT_GT(e.memory_usage_bytes, kLimit / 2);
  EXPECT_LE(e.memory_usage_bytes, kLimit);
  EXPECT_GE(
      e.time_ms,
      std::chrono::duration_cast<std::chrono::milliseconds>(before.time_since_epoch()).count());
  // A second poll finds nothing new: one kill, one event.
  ASSERT_TRUE(collector->PollOom(0).ok());
  size_t again = 0;
  for (const tidemark::OomEvent& x : events) again += x.cgroup_path == cg.rel() ? 1 : 0;
  EXPECT_EQ(again, 1u);
}

TEST(OomReaderTest, AgentEventHasNoLimitForUnlimitedCgroups) {
  OomEvent e;
  e.pid = 7;
  e.comm = "x";
  e.cgroup_path = "/a";
  e.container = std::make_shared<const LabelSet>(Labels{{"id", "/a"}});
  e.limit_bytes = 9223372036854771712ull;  // v1 PAGE_COUNTER_MAX pages in bytes.
  e.usage_bytes = 4096;
  e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  tidemark::OomEvent out = ToAgentOomEvent(e);
  EXPECT_EQ(out.memory_limit_bytes, 0u);
  EXPECT_EQ(out.memory_usage_bytes, 4096u);
  EXPECT_EQ(out.time_ms, 1700000000123);
  EXPECT_EQ(out.container, (Labels{{"id", "/a"}}));
  EXPECT_EQ(out.source, "ebpf");
  e.limit_bytes = kLimit;
  EXPECT_EQ(ToAgentOomEvent(e).memory_limit_bytes, kLimit);
}

}  // namespace
}  // namespace tidemark::ebpf

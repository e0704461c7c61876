// CgroupCollector against the real host: creates cgroups tidemark-test-<pid>-<name> at the root
// of every hierarchy the collector reads, moves forked children into them and checks the series.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "collector/cgroup_collector.h"
#include "collector/cgroup_layout.h"
#include "tests/testing/testing.h"

namespace tidemark::collector {
namespace {

constexpr size_t kMiB = 1024 * 1024;

bool WriteString(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  ::close(fd);
  return ok;
}

// One cgroup, created in every hierarchy of `layout`; removed (after killing its members) on
// destruction, also when the test fails.
class TestCgroup {
 public:
  TestCgroup(const CgroupLayout& layout, const std::string& suffix)
      : rel_("/tidemark-test-" + std::to_string(::getpid()) + "-" + suffix), layout_(layout) {
    for (const std::string& root : layout.Hierarchies()) {
      std::string dir = root + rel_;
      if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) {
        dirs_.push_back(dir);
      } else {
        ADD_FAILURE() << "mkdir " << dir << ": " << strerror(errno);
      }
    }
  }
  ~TestCgroup() {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    Remove();
  }
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;

  const std::string& rel() const { return rel_; }
  std::string Dir(const std::string& root) const { return root + rel_; }

  // rmdir in every hierarchy; retries while the kernel still tears down exited tasks.
  void Remove() {
    for (const std::string& dir : dirs_) {
      for (int i = 0; i < 200 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    dirs_.clear();
  }

  // Moves `pid` into this cgroup in every hierarchy (v1: cgroup.procs; v2: cgroup.procs).
  void Adopt(pid_t pid) {
    children_.push_back(pid);
    for (const std::string& dir : dirs_) {
      EXPECT_TRUE(WriteString(dir + "/cgroup.procs", std::to_string(pid)))
          << dir << ": " << strerror(errno);
    }
  }
  // Marks a child already reaped by the test.
  void Reaped(pid_t pid) { std::erase(children_, pid); }

 private:
  std::string rel_;
  CgroupLayout layout_;
  std::vector<std::string> dirs_;
  std::vector<pid_t> children_;
};

double ThreadCpuSeconds() {
  struct timespec ts;
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A forked child that waits for "go", burns `cpu_seconds` of CPU, touches `touch_bytes` of
// anonymous memory, reports "ready" and then sleeps until killed.
struct Worker {
  pid_t pid = -1;
  int go_fd = -1;     // Parent writes a byte here.
  int ready_fd = -1;  // Parent reads a byte here.
};

Worker StartWorker(double cpu_seconds, size_t touch_bytes) {
  int go[2], ready[2];
  if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(ready, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    char c;
    if (::read(go[0], &c, 1) != 1) _exit(1);
    volatile uint64_t sink = 0;
    for (double start = ThreadCpuSeconds(); ThreadCpuSeconds() - start < cpu_seconds;) {
      for (int i = 0; i < 100000; ++i) sink = sink + i;
    }
    char* mem = static_cast<char*>(::malloc(touch_bytes));
    for (size_t i = 0; mem != nullptr && i < touch_bytes; i += 4096) mem[i] = 1;
    if (::write(ready[1], "r", 1) != 1) _exit(1);
    for (;;) ::pause();
  }
  ::close(go[0]);
  ::close(ready[1]);
  return Worker{pid, go[1], ready[0]};
}

bool Go(const Worker& w) { return ::write(w.go_fd, "g", 1) == 1; }

bool WaitReady(const Worker& w, int timeout_ms) {
  struct pollfd p = {w.ready_fd, POLLIN, 0};
  char c;
  return ::poll(&p, 1, timeout_ms) == 1 && ::read(w.ready_fd, &c, 1) == 1;
}

const MetricFamily* FindFamily(const SampleBatch& b, std::string_view name) {
  for (const MetricFamily& f : b.families()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::optional<double> Value(const SampleBatch& b, std::string_view family, std::string_view id,
                            const Labels& extra = {}) {
  const MetricFamily* f = FindFamily(b, family);
  if (f == nullptr) return std::nullopt;
  for (const Sample& s : f->samples) {
    std::string_view sid = s.base == nullptr ? std::string_view() : s.base->Get("id");
    if (sid == id && s.extra == extra) return s.value;
  }
  return std::nullopt;
}

bool HasId(const SampleBatch& b, std::string_view id) {
  for (const MetricFamily& f : b.families()) {
    for (const Sample& s : f.samples) {
      if (s.base != nullptr && s.base->Get("id") == id) return true;
    }
  }
  return false;
}

class CgroupCollectorPrivilegedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason = tidemark::testing::PrivilegedSkipReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
    Result<CgroupLayout> l = DetectCgroupLayout(HostPaths{});
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    layout_ = *l;
  }

  std::unique_ptr<CgroupCollector> Collector(const std::string& rel, bool use_inotify = true) {
    CgroupCollectorOptions o;
    o.export_containers = false;
    o.export_systemd_services = false;
    o.include = {"^" + rel + "$"};
    o.use_inotify = use_inotify;
    Result<std::unique_ptr<CgroupCollector>> c =
        CgroupCollector::Create(HostPaths{}, clock_, o, nullptr);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c.value());
  }

  SampleBatch Collect(CgroupCollector& c) {
    SampleBatch b;
    Status st = c.Collect(&b);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return b;
  }

  std::string MemoryDir(const TestCgroup& cg) const {
    return cg.Dir(layout_.mode == CgroupMode::kV2 ? layout_.unified : layout_.memory);
  }

  CgroupLayout layout_;
  tidemark::testing::FakeClock clock_;
};

TEST_F(CgroupCollectorPrivilegedTest, DefaultsCollectOnThisHost) {
  tidemark::testing::FakeClock clock;
  Result<std::unique_ptr<CgroupCollector>> c =
      CgroupCollector::Create(HostPaths{}, clock, {}, nullptr);
  ASSERT_TRUE(c.ok());
  SampleBatch b;
  ASSERT_TRUE((*c)->Collect(&b).ok());
  EXPECT_TRUE((*c)->inotify_active()) << "inotify should work on cgroupfs here";
  EXPECT_TRUE(Value(b, "tidemark_cgroup_containers", "").has_value());
}

TEST_F(CgroupCollectorPrivilegedTest, CpuAndMemoryOfARealProcess) {
  TestCgroup cg(layout_, "work");
  auto collector = Collector(cg.rel());
  Worker w = StartWorker(/*cpu_seconds=*/0.3, /*touch_bytes=*/64 * kMiB);
  ASSERT_GT(w.pid, 0);
  cg.Adopt(w.pid);
  ASSERT_TRUE(Go(w));
  ASSERT_TRUE(WaitReady(w, 30000)) << "worker did not finish its work";

  SampleBatch b = Collect(*collector);
  const std::string& id = cg.rel();
  std::optional<double> cpu = Value(b, "container_cpu_usage_seconds_total", id, {{"cpu", "total"}});
  ASSERT_TRUE(cpu.has_value());
  EXPECT_GT(*cpu, 0.2);
  EXPECT_LT(*cpu, 30);
  EXPECT_GT(Value(b, "container_cpu_user_seconds_total", id).value_or(0) +
                Value(b, "container_cpu_system_seconds_total", id).value_or(0),
            0);
  std::optional<double> mem = Value(b, "container_memory_usage_bytes", id);
  ASSERT_TRUE(mem.has_value());
  EXPECT_GT(*mem, 48.0 * kMiB);
  EXPECT_GT(Value(b, "container_memory_rss", id).value_or(0), 48.0 * kMiB);
  EXPECT_GE(Value(b, "container_memory_working_set_bytes", id).value_or(0), 48.0 * kMiB);
  EXPECT_EQ(Value(b, "container_spec_memory_limit_bytes", id), 0);
  EXPECT_EQ(Value(b, "container_threads", id), 1);
  EXPECT_EQ(Value(b, "container_last_seen", id), 1700000000);
  if (!layout_.unified.empty()) {
    EXPECT_TRUE(Value(b, "container_pressure_cpu_waiting_seconds_total", id).has_value());
  }
  EXPECT_EQ(Value(b, "container_info", id), 1);
}

// The collector keeps cgroup files open between cycles and re-reads them with pread; a later
// cycle must see the work done since, and a new limit once spec_refresh_interval has passed.
TEST_F(CgroupCollectorPrivilegedTest, KeptOpenFilesReadFreshValuesEachCycle) {
  TestCgroup cg(layout_, "fresh");
  auto collector = Collector(cg.rel());
  Worker w1 = StartWorker(/*cpu_seconds=*/0.2, /*touch_bytes=*/8 * kMiB);
  ASSERT_GT(w1.pid, 0);
  cg.Adopt(w1.pid);
  ASSERT_TRUE(Go(w1));
  ASSERT_TRUE(WaitReady(w1, 30000));
  const std::string& id = cg.rel();
  SampleBatch b1 = Collect(*collector);
  double cpu1 = Value(b1, "container_cpu_usage_seconds_total", id, {{"cpu", "total"}}).value_or(-1);
  double mem1 = Value(b1, "container_memory_usage_bytes", id).value_or(-1);
  ASSERT_GT(cpu1, 0.1);
  EXPECT_EQ(Value(b1, "container_spec_memory_limit_bytes", id), 0);

  Worker w2 = StartWorker(/*cpu_seconds=*/0.3, /*touch_bytes=*/48 * kMiB);
  ASSERT_GT(w2.pid, 0);
  cg.Adopt(w2.pid);
  ASSERT_TRUE(Go(w2));
  ASSERT_TRUE(WaitReady(w2, 30000));
  const bool v2 = layout_.mode == CgroupMode::kV2;
  const std::string limit_file = MemoryDir(cg) + (v2 ? "/memory.max" : "/memory.limit_in_bytes");
  ASSERT_TRUE(WriteString(limit_file, "1073741824"));
  clock_.Advance(std::chrono::seconds(1));
  SampleBatch cached = Collect(*collector);  // Within spec_refresh_interval: the cached limit.
  EXPECT_EQ(Value(cached, "container_spec_memory_limit_bytes", id), 0);
  clock_.Advance(CgroupCollectorOptions{}.spec_refresh_interval);
  SampleBatch b2 = Collect(*collector);
  EXPECT_GT(Value(b2, "container_cpu_usage_seconds_total", id, {{"cpu", "total"}}).value_or(0),
            cpu1 + 0.2);
  EXPECT_GT(Value(b2, "container_memory_usage_bytes", id).value_or(0), mem1 + 32.0 * kMiB);
  EXPECT_EQ(Value(b2, "container_spec_memory_limit_bytes", id), 1073741824);
  EXPECT_EQ(Value(b2, "container_threads", id), 2);
}

// Limits `cg` to 32 MiB without swap.
void LimitMemory(const std::string& mem_dir, bool v2) {
  if (v2) {
    ASSERT_TRUE(WriteString(mem_dir + "/memory.max", std::to_string(32 * kMiB)));
    WriteString(mem_dir + "/memory.swap.max", "0");
  } else {
    ASSERT_TRUE(WriteString(mem_dir + "/memory.limit_in_bytes", std::to_string(32 * kMiB)));
    if (::access((mem_dir + "/memory.memsw.limit_in_bytes").c_str(), W_OK) == 0) {
      ASSERT_TRUE(WriteString(mem_dir + "/memory.memsw.limit_in_bytes", std::to_string(32 * kMiB)));
    }
  }
}

// Runs a worker in `cg` that touches 256 MiB, so the OOM killer takes it.
void OomKillIn(TestCgroup& cg) {
  Worker w = StartWorker(/*cpu_seconds=*/0, /*touch_bytes=*/256 * kMiB);
  ASSERT_GT(w.pid, 0);
  cg.Adopt(w.pid);
  ASSERT_TRUE(Go(w));
  int status = 0;
  ASSERT_EQ(::waitpid(w.pid, &status, 0), w.pid);
  cg.Reaped(w.pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child was not killed; status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST_F(CgroupCollectorPrivilegedTest, OomKillIsCountedFromCgroupFiles) {
  TestCgroup cg(layout_, "oom");
  ASSERT_NO_FATAL_FAILURE(LimitMemory(MemoryDir(cg), layout_.mode == CgroupMode::kV2));
  auto collector = Collector(cg.rel());
  // No eBPF: the cgroup counters are the OOM source and publish to the hub.
  auto hub = std::make_shared<OomEventHub>();
  std::vector<OomEvent> events;
  hub->Subscribe([&events](const OomEvent& e) { events.push_back(e); });
  collector->SetOomEvents(hub, OomSource::kCgroupCounters);
  SampleBatch before = Collect(*collector);
  EXPECT_EQ(Value(before, "container_oom_events_total", cg.rel()), 0);
  EXPECT_EQ(Value(before, "container_spec_memory_limit_bytes", cg.rel()), 32.0 * kMiB);

  ASSERT_NO_FATAL_FAILURE(OomKillIn(cg));

  SampleBatch b = Collect(*collector);
  EXPECT_EQ(Value(b, "container_oom_events_total", cg.rel()), 1);
  EXPECT_EQ(Value(b, "container_memory_events_oom_kill_total", cg.rel()), 1);
  // Exported once: one series in the family, for the one exported cgroup.
  ASSERT_NE(FindFamily(b, "container_oom_events_total"), nullptr);
  EXPECT_EQ(FindFamily(b, "container_oom_events_total")->samples.size(), 1u);
  // Exactly one event for the one kill, with the labels the series carry.
  ASSERT_EQ(events.size(), 1u);
  const OomEvent& e = events[0];
  EXPECT_EQ(e.source, "cgroup");
  EXPECT_EQ(e.count, 1u);
  EXPECT_EQ(e.pid, 0u);
  EXPECT_EQ(e.cgroup_path, cg.rel());
  EXPECT_EQ(e.memory_limit_bytes, 32 * kMiB);
  const MetricFamily* last_seen = FindFamily(b, "container_last_seen");
  ASSERT_TRUE(last_seen != nullptr && last_seen->samples.size() == 1u);
  ASSERT_NE(last_seen->samples[0].base, nullptr);
  EXPECT_EQ(e.container, last_seen->samples[0].base->labels());
  EXPECT_EQ(GetLabel(e.container, "id"), cg.rel());

  Collect(*collector);  // No further kill, no further event.
  EXPECT_EQ(events.size(), 1u);
}

// With the eBPF source the kernel counter and the eBPF event report the same kill: counted once.
// (The eBPF program is not in this binary; the test publishes what it would.)
TEST_F(CgroupCollectorPrivilegedTest, OomKillWithEbpfSourceIsCountedOnce) {
  TestCgroup cg(layout_, "oom-ebpf");
  ASSERT_NO_FATAL_FAILURE(LimitMemory(MemoryDir(cg), layout_.mode == CgroupMode::kV2));
  auto collector = Collector(cg.rel());
  auto hub = std::make_shared<OomEventHub>();
  collector->SetOomEvents(hub, OomSource::kEbpf);
  std::vector<OomEvent> events;
  hub->Subscribe([&events](const OomEvent& e) { events.push_back(e); });
  SampleBatch before = Collect(*collector);
  EXPECT_EQ(Value(before, "container_oom_events_total", cg.rel()), 0);

  ASSERT_NO_FATAL_FAILURE(OomKillIn(cg));
  OomEvent ebpf;
  ebpf.source = "ebpf";
  ebpf.cgroup_path = cg.rel();
  hub->Publish(ebpf);

  SampleBatch b = Collect(*collector);
  EXPECT_EQ(Value(b, "container_memory_events_oom_kill_total", cg.rel()), 1);  // Kernel.
  EXPECT_EQ(Value(b, "container_oom_events_total", cg.rel()), 1);
  EXPECT_EQ(FindFamily(b, "container_oom_events_total")->samples.size(), 1u);
  EXPECT_EQ(events.size(), 1u) << "the collector published nothing of its own";
}

TEST_F(CgroupCollectorPrivilegedTest, RemovedCgroupSeriesDisappear) {
  for (bool use_inotify : {true, false}) {
    SCOPED_TRACE(use_inotify ? "inotify" : "rescan");
    auto cg = std::make_unique<TestCgroup>(layout_, use_inotify ? "gone-i" : "gone-r");
    const std::string id = cg->rel();
    auto collector = Collector(id, use_inotify);
    SampleBatch b1 = Collect(*collector);
    EXPECT_EQ(collector->inotify_active(), use_inotify);
    EXPECT_TRUE(HasId(b1, id));
    EXPECT_EQ(Value(b1, "tidemark_cgroup_containers", ""), 1);
    cg.reset();                            // rmdir in every hierarchy.
    SampleBatch b2 = Collect(*collector);  // Same FakeClock time: no periodic rescan.
    EXPECT_FALSE(HasId(b2, id));
    EXPECT_EQ(Value(b2, "tidemark_cgroup_containers", ""), 0);
  }
}

TEST_F(CgroupCollectorPrivilegedTest, NewCgroupAppearsWithInotify) {
  const std::string id = "/tidemark-test-" + std::to_string(::getpid()) + "-late";
  auto collector = Collector(id);
  SampleBatch b1 = Collect(*collector);
  EXPECT_FALSE(HasId(b1, id));
  TestCgroup cg(layout_, "late");
  ASSERT_EQ(cg.rel(), id);
  SampleBatch b2 = Collect(*collector);  // No clock advance: only inotify can have told us.
  EXPECT_TRUE(HasId(b2, id));
}

}  // namespace
}  // namespace tidemark::collector

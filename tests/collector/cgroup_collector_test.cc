// CgroupCollector on fixture trees copied from real hosts (tests/fixtures/cgroup/<case>/sys).
#include "collector/cgroup_collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "tests/testing/testing.h"

namespace tidemark::collector {
namespace {

using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

const std::string kIdA = "0388ac1bed7b08402899ce0004bb6371269ada01d4901ab52b4fbb3638f5a137";
const std::string kIdB = "d645f8fe33eb37292a0b1f65f3a735e21c084607b1c6bda19f441a9f16f81c9c";
const std::string kIdC = "8a92bcdd6dbdaa6ec99d4a31687e1492a9cd038ec3bcd570a1b1eb29dc6c8ac7";
const std::string kIdD = "688116434228fbfdd03d9cd934322f980dd3fddb26fab37473033c7173572be2";
const std::string kIdE = "0deac0a26c0d846d7869c23130c6346c4040904a4134bb2f40a8c206a03748ed";
const std::string kIdF = "17c132990e8e8523ccd403287b6ae761c1cd57f764df278bce7ed310bbddd7f1";
const std::string kPodSlice =
    "/kubepods.slice/kubepods-burstable.slice/"
    "kubepods-burstable-pod1b4e28ba_2fa1_11d2_883f_b9a761bde3fb.slice";

class FakeMetadataProvider final : public MetadataProvider {
 public:
  std::optional<ContainerMetadata> Lookup(std::string_view id) override {
    ++lookups;
    auto it = entries.find(std::string(id));
    if (it == entries.end()) return std::nullopt;
    return it->second;
  }
  std::map<std::string, ContainerMetadata> entries;
  int lookups = 0;
};

HostPaths FixtureHost(const std::string& name) {
  HostPaths p;
  p.sys = tidemark::testing::FixturePath("cgroup/" + name + "/sys");
  p.proc = "/nonexistent/proc";
  p.root = "/nonexistent";
  return p;
}

const MetricFamily* FindFamily(const SampleBatch& b, std::string_view name) {
  for (const MetricFamily& f : b.families()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// The value of family{id=<id>, extra...}; nullopt when absent. Fails the test on duplicates.
std::optional<double> Value(const SampleBatch& b, std::string_view family, std::string_view id,
                            const Labels& extra = {}) {
  const MetricFamily* f = FindFamily(b, family);
  if (f == nullptr) return std::nullopt;
  std::optional<double> out;
  for (const Sample& s : f->samples) {
    std::string_view sid = s.base == nullptr ? std::string_view() : s.base->Get("id");
    if (sid != id || s.extra != extra) continue;
    EXPECT_FALSE(out.has_value()) << "duplicate series " << family << " " << id;
    out = s.value;
  }
  return out;
}

// Every id label value that appears in any family.
std::set<std::string> Ids(const SampleBatch& b) {
  std::set<std::string> out;
  for (const MetricFamily& f : b.families()) {
    for (const Sample& s : f.samples) {
      if (s.base != nullptr) out.insert(std::string(s.base->Get("id")));
    }
  }
  return out;
}

const LabelSet* BaseOf(const SampleBatch& b, std::string_view id) {
  const MetricFamily* f = FindFamily(b, "container_last_seen");
  if (f == nullptr) return nullptr;
  for (const Sample& s : f->samples) {
    if (s.base != nullptr && s.base->Get("id") == id) return s.base;
  }
  return nullptr;
}

std::unique_ptr<CgroupCollector> MakeCollector(const HostPaths& paths, Clock& clock,
                                               CgroupCollectorOptions options = {},
                                               MetadataProvider* metadata = nullptr) {
  Result<std::unique_ptr<CgroupCollector>> c =
      CgroupCollector::Create(paths, clock, std::move(options), metadata);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c.value()) : nullptr;
}

SampleBatch CollectOnce(CgroupCollector& c) {
  SampleBatch b;
  Status st = c.Collect(&b);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return b;
}

const double kTicks = static_cast<double>(::sysconf(_SC_CLK_TCK));

TEST(CgroupCollectorTest, V1SeparateCpuAndCpuacctMounts) {
  tidemark::testing::FakeClock clock;
  auto c = MakeCollector(FixtureHost("v1_separate"), clock);
  SampleBatch b = CollectOnce(*c);
  ASSERT_TRUE(c->layout().has_value());
  EXPECT_EQ(c->layout()->mode, CgroupMode::kV1);
  const std::string a = "/docker/" + kIdA, bb = "/docker/" + kIdB;
  EXPECT_THAT(Ids(b), UnorderedElementsAre(a, bb));

  EXPECT_EQ(Value(b, "container_cpu_usage_seconds_total", a, {{"cpu", "total"}}), 2.5);
  EXPECT_EQ(Value(b, "container_cpu_usage_seconds_total", a), std::nullopt);
  EXPECT_DOUBLE_EQ(*Value(b, "container_cpu_user_seconds_total", a), 150 / kTicks);
  EXPECT_DOUBLE_EQ(*Value(b, "container_cpu_system_seconds_total", a), 60 / kTicks);
  EXPECT_EQ(Value(b, "container_spec_cpu_quota", a), 50000);
  EXPECT_EQ(Value(b, "container_spec_cpu_period", a), 100000);
  EXPECT_EQ(Value(b, "container_spec_cpu_shares", a), 512);
  EXPECT_EQ(Value(b, "container_cpu_cfs_periods_total", a), 120);
  EXPECT_EQ(Value(b, "container_cpu_cfs_throttled_periods_total", a), 7);
  EXPECT_EQ(Value(b, "container_cpu_cfs_throttled_seconds_total", a), 1.5);
  EXPECT_EQ(Value(b, "container_memory_usage_bytes", a), 104857600);
  EXPECT_EQ(Value(b, "container_memory_working_set_bytes", a), 104857600 - 20971520);
  EXPECT_EQ(Value(b, "container_memory_rss", a), 52428800);
  EXPECT_EQ(Value(b, "container_memory_cache", a), 41943040);
  EXPECT_EQ(Value(b, "container_memory_mapped_file", a), 4096000);
  EXPECT_EQ(Value(b, "container_memory_swap", a), 0);
  EXPECT_EQ(Value(b, "container_spec_memory_limit_bytes", a), 268435456);
  EXPECT_EQ(Value(b, "container_memory_max_usage_bytes", a), 157286400);
  EXPECT_EQ(Value(b, "container_memory_failcnt", a), 3);
  EXPECT_EQ(Value(b, "container_oom_events_total", a), 2);
  EXPECT_EQ(Value(b, "container_memory_events_oom_kill_total", a), 2);
  EXPECT_EQ(Value(b, "container_fs_reads_bytes_total", a, {{"device", "/dev/sda"}}), 4096);
  EXPECT_EQ(Value(b, "container_fs_writes_bytes_total", a, {{"device", "/dev/sda"}}), 8192);
  EXPECT_EQ(Value(b, "container_fs_reads_total", a, {{"device", "/dev/sda"}}), 1);
  EXPECT_EQ(Value(b, "container_fs_writes_total", a, {{"device", "/dev/sda"}}), 2);
  // No uevent for 253:0 in this fixture: the device stays maj:min.
  EXPECT_EQ(Value(b, "container_fs_reads_bytes_total", a, {{"device", "253:0"}}), 100);
  EXPECT_EQ(Value(b, "container_fs_reads_total", a, {{"device", "253:0"}}), 3);
  EXPECT_EQ(Value(b, "container_threads", a), 7);
  EXPECT_EQ(Value(b, "container_threads_max", a), 0);
  EXPECT_EQ(Value(b, "container_last_seen", a), 1700000000);
  EXPECT_GT(Value(b, "container_start_time_seconds", a).value_or(0), 0);
  EXPECT_EQ(Value(b, "container_info", a, {{"runtime", "docker"}}), 1);

  // B: no CFS quota, unlimited memory, a pre-4.13 oom_control, no blkio/pids cgroup.
  EXPECT_EQ(Value(b, "container_cpu_usage_seconds_total", bb, {{"cpu", "total"}}), 1.0);
  EXPECT_EQ(Value(b, "container_spec_cpu_quota", bb), std::nullopt);
  EXPECT_EQ(Value(b, "container_spec_cpu_period", bb), 100000);
  EXPECT_EQ(Value(b, "container_cpu_cfs_periods_total", bb), std::nullopt);
  EXPECT_EQ(Value(b, "container_spec_memory_limit_bytes", bb), 0);
  EXPECT_EQ(Value(b, "container_memory_swap", bb), std::nullopt);
  EXPECT_EQ(Value(b, "container_oom_events_total", bb), std::nullopt);
  EXPECT_EQ(Value(b, "container_threads", bb), std::nullopt);

  EXPECT_EQ(Value(b, "tidemark_cgroup_containers", ""), 2);
  EXPECT_EQ(Value(b, "tidemark_cgroup_containers_dropped_total", ""), 0);

  // Base labels without metadata: id and the cgroup basename as name.
  const LabelSet* base = BaseOf(b, a);
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(base->labels(), (Labels{{"id", a}, {"name", kIdA}}));
}

TEST(CgroupCollectorTest, FamiliesHaveCadvisorTypes) {
  tidemark::testing::FakeClock clock;
  auto c = MakeCollector(FixtureHost("v2_docker"), clock);
  SampleBatch b = CollectOnce(*c);
  std::map<std::string, MetricType> types;
  for (const MetricFamily& f : b.families()) {
    EXPECT_TRUE(IsValidMetricName(f.name)) << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
    EXPECT_FALSE(f.samples.empty()) << f.name;
    types[f.name] = f.type;
    bool counter_name = f.name.ends_with("_total") || f.name == "container_memory_failcnt";
    EXPECT_EQ(f.type == MetricType::kCounter, counter_name) << f.name;
  }
  EXPECT_EQ(types.at("container_cpu_usage_seconds_total"), MetricType::kCounter);
  EXPECT_EQ(types.at("container_memory_working_set_bytes"), MetricType::kGauge);
  EXPECT_EQ(types.at("container_spec_cpu_quota"), MetricType::kGauge);
}

TEST(CgroupCollectorTest, V1CombinedCpuCpuacctWithSymlinks) {
  tidemark::testing::FakeClock clock;
  auto c = MakeCollector(FixtureHost("v1_combined"), clock);
  SampleBatch b = CollectOnce(*c);
  ASSERT_TRUE(c->layout().has_value());
  EXPECT_EQ(c->layout()->cpu, c->layout()->cpuacct);
  EXPECT_TRUE(c->layout()->cpu.ends_with("/cpu,cpuacct"));
  const std::string id = "/docker/" + kIdC;
  EXPECT_THAT(Ids(b), UnorderedElementsAre(id));
  EXPECT_EQ(Value(b, "container_cpu_usage_seconds_total", id, {{"cpu", "total"}}), 4.0);
  EXPECT_DOUBLE_EQ(*Value(b, "container_cpu_user_seconds_total", id), 300 / kTicks);
  EXPECT_EQ(Value(b, "container_spec_cpu_quota", id), 200000);
  EXPECT_EQ(Value(b, "container_spec_cpu_shares", id), 2048);
  EXPECT_EQ(Value(b, "container_cpu_cfs_throttled_seconds_total", id), 0.25);
  // inactive_file above usage: the working set clamps at 0.
  EXPECT_EQ(Value(b, "container_memory_working_set_bytes", id), 0);
  EXPECT_EQ(Value(b, "container_oom_events_total", id), 0);
  // Read from the *_recursive blkio files.
  EXPECT_EQ(Value(b, "container_fs_reads_bytes_total", id, {{"device", "/dev/sdb"}}), 1048576);
  EXPECT_EQ(Value(b, "container_fs_writes_total", id, {{"device", "/dev/sdb"}}), 20);
  EXPECT_EQ(Value(b, "container_threads", id), 3);
  EXPECT_EQ(Value(b, "container_threads_max", id), 100);
  // Every series appears once although cpu and cpuacct resolve to the same hierarchy.
  EXPECT_EQ(FindFamily(b, "container_cpu_usage_seconds_total")->samples.size(), 1u);
}

TEST(CgroupCollectorTest, V2DockerSystemdDriver) {
  tidemark::testing::FakeClock clock;
  auto c = MakeCollector(FixtureHost("v2_docker"), clock);
  SampleBatch b = CollectOnce(*c);
  ASSERT_TRUE(c->layout().has_value());
  EXPECT_EQ(c->layout()->mode, CgroupMode::kV2);
  const std::string d = "/system.slice/docker-" + kIdD + ".scope";
  const std::string svc = "/system.slice/containerd.service";
  EXPECT_THAT(Ids(b), UnorderedElementsAre(d, svc));

  EXPECT_EQ(Value(b, "container_cpu_usage_seconds_total", d, {{"cpu", "total"}}), 3.5);
  EXPECT_EQ(Value(b, "container_cpu_user_seconds_total", d), 2.0);
  EXPECT_EQ(Value(b, "container_cpu_system_seconds_total", d), 1.5);
  EXPECT_EQ(Value(b, "container_spec_cpu_quota", d), 200000);
  EXPECT_EQ(Value(b, "container_spec_cpu_period", d), 100000);
  EXPECT_EQ(Value(b, "container_spec_cpu_shares", d), 998);
  EXPECT_EQ(Value(b, "container_cpu_cfs_periods_total", d), 300);
  EXPECT_EQ(Value(b, "container_cpu_cfs_throttled_periods_total", d), 12);
  EXPECT_DOUBLE_EQ(*Value(b, "container_cpu_cfs_throttled_seconds_total", d), 0.64);
  EXPECT_EQ(Value(b, "container_memory_usage_bytes", d), 73400320);
  EXPECT_EQ(Value(b, "container_memory_working_set_bytes", d), 73400320 - 10485760);
  EXPECT_EQ(Value(b, "container_memory_rss", d), 41943040);
  EXPECT_EQ(Value(b, "container_memory_cache", d), 25165824);
  EXPECT_EQ(Value(b, "container_memory_mapped_file", d), 2097152);
  EXPECT_EQ(Value(b, "container_memory_swap", d), 1048576);
  EXPECT_EQ(Value(b, "container_spec_memory_limit_bytes", d), 134217728);
  EXPECT_EQ(Value(b, "container_memory_max_usage_bytes", d), 99999744);
  EXPECT_EQ(Value(b, "container_memory_events_low_total", d), 0);
  EXPECT_EQ(Value(b, "container_memory_events_high_total", d), 4);
  EXPECT_EQ(Value(b, "container_memory_events_max_total", d), 9);
  EXPECT_EQ(Value(b, "container_memory_events_oom_total", d), 2);
  EXPECT_EQ(Value(b, "container_memory_events_oom_kill_total", d), 1);
  EXPECT_EQ(Value(b, "container_oom_events_total", d), 1);
  EXPECT_EQ(Value(b, "container_fs_reads_bytes_total", d, {{"device", "/dev/sda"}}), 1048576);
  EXPECT_EQ(Value(b, "container_fs_writes_bytes_total", d, {{"device", "/dev/sda"}}), 2097152);
  EXPECT_EQ(Value(b, "container_fs_reads_total", d, {{"device", "/dev/sda"}}), 30);
  EXPECT_EQ(Value(b, "container_fs_writes_total", d, {{"device", "/dev/sda"}}), 40);
  EXPECT_EQ(Value(b, "container_fs_reads_bytes_total", d, {{"device", "253:0"}}), 512);
  EXPECT_EQ(Value(b, "container_threads", d), 5);
  EXPECT_EQ(Value(b, "container_threads_max", d), 4096);
  EXPECT_DOUBLE_EQ(*Value(b, "container_pressure_cpu_waiting_seconds_total", d), 0.12);
  EXPECT_DOUBLE_EQ(*Value(b, "container_pressure_cpu_stalled_seconds_total", d), 0.06);
  EXPECT_DOUBLE_EQ(*Value(b, "container_pressure_memory_waiting_seconds_total", d), 0.003);
  EXPECT_DOUBLE_EQ(*Value(b, "container_pressure_memory_stalled_seconds_total", d), 0.001);
  EXPECT_DOUBLE_EQ(*Value(b, "container_pressure_io_waiting_seconds_total", d), 2.5);
  EXPECT_DOUBLE_EQ(*Value(b, "container_pressure_io_stalled_seconds_total", d), 2.0);

  // The systemd service: no quota, no limit, default weight.
  EXPECT_EQ(Value(b, "container_cpu_usage_seconds_total", svc, {{"cpu", "total"}}), 7.0);
  EXPECT_EQ(Value(b, "container_spec_cpu_quota", svc), std::nullopt);
  EXPECT_EQ(Value(b, "container_cpu_cfs_periods_total", svc), std::nullopt);
  EXPECT_EQ(Value(b, "container_spec_cpu_shares", svc), 2597);
  EXPECT_EQ(Value(b, "container_spec_memory_limit_bytes", svc), 0);
  EXPECT_EQ(Value(b, "container_memory_working_set_bytes", svc), 0);
  EXPECT_EQ(Value(b, "container_threads_max", svc), 0);
  EXPECT_EQ(Value(b, "container_info", svc), 1);
  const LabelSet* base = BaseOf(b, svc);
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(base->labels(), (Labels{{"id", svc}, {"name", "containerd.service"}}));
}

TEST(CgroupCollectorTest, HybridMergesV1ControllersWithV2Pressure) {
  tidemark::testing::FakeClock clock;
  auto c = MakeCollector(FixtureHost("hybrid"), clock);
  SampleBatch b = CollectOnce(*c);
  ASSERT_TRUE(c->layout().has_value());
  EXPECT_EQ(c->layout()->mode, CgroupMode::kHybrid);
  EXPECT_TRUE(c->layout()->unified.ends_with("/fs/cgroup/unified"));
  const std::string e = "/docker/" + kIdE, cron = "/system.slice/cron.service";
  EXPECT_THAT(Ids(b), UnorderedElementsAre(e, cron));
  // v1 cpuacct wins over the unified cpu.stat (7.4 s).
  EXPECT_EQ(Value(b, "container_cpu_usage_seconds_total", e, {{"cpu", "total"}}), 7.5);
  EXPECT_EQ(Value(b, "container_memory_usage_bytes", e), 52428800);
  EXPECT_EQ(Value(b, "container_spec_memory_limit_bytes", e), 0);
  EXPECT_EQ(Value(b, "container_fs_writes_bytes_total", e, {{"device", "8:0"}}), 4096);
  EXPECT_EQ(Value(b, "container_threads", e), 2);
  EXPECT_EQ(Value(b, "container_pressure_cpu_waiting_seconds_total", e), 1.5);
  EXPECT_EQ(Value(b, "container_pressure_cpu_stalled_seconds_total", e), 0.5);
  EXPECT_DOUBLE_EQ(*Value(b, "container_pressure_io_waiting_seconds_total", e), 42e-6);
  // A service that exists only in the v2 tree (no v1 accounting) still gets CPU and PSI.
  EXPECT_EQ(Value(b, "container_cpu_usage_seconds_total", cron, {{"cpu", "total"}}), 0.25);
  EXPECT_EQ(Value(b, "container_cpu_user_seconds_total", cron), 0.15);
  EXPECT_DOUBLE_EQ(*Value(b, "container_pressure_cpu_waiting_seconds_total", cron), 1e-5);
  EXPECT_EQ(Value(b, "container_memory_usage_bytes", cron), std::nullopt);
  EXPECT_EQ(Value(b, "container_last_seen", cron), 1700000000);
}

TEST(CgroupCollectorTest, KubernetesSystemdDriverWithMetadata) {
  tidemark::testing::FakeClock clock;
  FakeMetadataProvider meta;
  meta.entries[kIdF] =
      ContainerMetadata{"k8s_app_web-7d9c_shop_1b4e28ba_0",
                        "registry.example/web:1.2",
                        {{"io.kubernetes.pod.namespace", "shop"},
                         {"io.kubernetes.pod.name", "web-7d9c"},
                         {"io.kubernetes.container.name", "app"},
                         {"io.kubernetes.pod.uid", "1b4e28ba-2fa1-11d2-883f-b9a761bde3fb"},
                         {"com.docker.compose.service", "web"}}};
  auto c = MakeCollector(FixtureHost("v2_k8s"), clock, {}, &meta);
  SampleBatch b = CollectOnce(*c);
  const std::string f = kPodSlice + "/cri-containerd-" + kIdF + ".scope";
  std::set<std::string> ids = Ids(b);
  EXPECT_TRUE(ids.contains(f));
  EXPECT_FALSE(ids.contains(kPodSlice));  // Pod-level cgroups are off by default.
  EXPECT_EQ(ids.size(), 2u);              // The container and the pause container.
  const LabelSet* base = BaseOf(b, f);
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(base->labels(), (Labels{{"container", "app"},
                                    {"container_label_com_docker_compose_service", "web"},
                                    {"id", f},
                                    {"image", "registry.example/web:1.2"},
                                    {"name", "k8s_app_web-7d9c_shop_1b4e28ba_0"},
                                    {"namespace", "shop"},
                                    {"pod", "web-7d9c"}}));
  EXPECT_EQ(Value(b, "container_oom_events_total", f), 1);
  EXPECT_EQ(Value(b, "container_memory_events_max_total", f), 17);
  EXPECT_EQ(Value(b, "container_spec_memory_limit_bytes", f), 67108864);
  EXPECT_EQ(Value(b, "container_spec_cpu_shares", f), CpuWeightToShares(10));
  EXPECT_EQ(Value(b, "container_info", f, {{"runtime", "containerd"}}), 1);

  CgroupCollectorOptions with_pods;
  with_pods.export_pods = true;
  auto c2 = MakeCollector(FixtureHost("v2_k8s"), clock, with_pods, &meta);
  SampleBatch b2 = CollectOnce(*c2);
  EXPECT_EQ(Value(b2, "container_cpu_usage_seconds_total", kPodSlice, {{"cpu", "total"}}), 9.0);
  EXPECT_EQ(Value(b2, "container_info", kPodSlice), 1);
}

TEST(CgroupCollectorTest, MetadataNameImageAndAllowListedLabelsOnly) {
  tidemark::testing::FakeClock clock;
  FakeMetadataProvider meta;
  meta.entries[kIdA] = ContainerMetadata{"web.1.x7f3",
                                         "nginx:1.25",
                                         {{"com.docker.swarm.service.name", "web"},
                                          {"com.docker.stack.namespace", "shop"},
                                          {"maintainer", "someone@example.com"},
                                          {"secret-token", "hunter2"}}};
  auto c = MakeCollector(FixtureHost("v1_separate"), clock, {}, &meta);
  SampleBatch b = CollectOnce(*c);
  const std::string a = "/docker/" + kIdA;
  const LabelSet* base = BaseOf(b, a);
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(base->labels(), (Labels{{"container_label_com_docker_stack_namespace", "shop"},
                                    {"container_label_com_docker_swarm_service_name", "web"},
                                    {"id", a},
                                    {"image", "nginx:1.25"},
                                    {"name", "web.1.x7f3"}}));
  EXPECT_EQ(base->rendered().find("hunter2"), std::string::npos);
  EXPECT_EQ(base->rendered().find("maintainer"), std::string::npos);
  // Unknown to the runtime: falls back to the cgroup basename.
  EXPECT_EQ(BaseOf(b, "/docker/" + kIdB)->Get("name"), kIdB);

  // The label set is reused while metadata is unchanged and rebuilt when it changes.
  SampleBatch b2 = CollectOnce(*c);
  EXPECT_EQ(BaseOf(b2, a), base) << "cached LabelSet expected";
  meta.entries[kIdA].name = "web.2.abcd";
  SampleBatch b3 = CollectOnce(*c);
  EXPECT_EQ(BaseOf(b3, a)->Get("name"), "web.2.abcd");
}

TEST(CgroupCollectorTest, IncludeRegexExportsArbitraryCgroups) {
  tidemark::testing::FakeClock clock;
  CgroupCollectorOptions o;
  o.export_containers = false;
  o.export_systemd_services = false;
  o.include = {"^/user\\.slice/.*\\.scope$"};
  auto c = MakeCollector(FixtureHost("v2_docker"), clock, o);
  SampleBatch b = CollectOnce(*c);
  EXPECT_THAT(Ids(b), UnorderedElementsAre("/user.slice/user-1000.slice/session-1.scope"));
}

TEST(CgroupCollectorTest, BadIncludeRegexIsRejected) {
  tidemark::testing::FakeClock clock;
  CgroupCollectorOptions o;
  o.include = {"(unclosed"};
  Result<std::unique_ptr<CgroupCollector>> c =
      CgroupCollector::Create(FixtureHost("v2_docker"), clock, o, nullptr);
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
}

TEST(CgroupCollectorTest, MissingCgroupRootIsUnavailable) {
  tidemark::testing::FakeClock clock;
  tidemark::testing::TempDir tmp;
  HostPaths p;
  p.sys = tmp.path() + "/sys";
  auto c = MakeCollector(p, clock);
  SampleBatch b;
  EXPECT_EQ(c->Collect(&b).code(), StatusCode::kUnavailable);
  EXPECT_EQ(b.SampleCount(), 0u);
}

TEST(CgroupCollectorTest, MaxContainersCapCountsEachRefusalOnce) {
  tidemark::testing::FakeClock clock;
  CgroupCollectorOptions o;
  o.max_containers = 1;
  auto c = MakeCollector(FixtureHost("v1_separate"), clock, o);
  for (int i = 0; i < 3; ++i) {
    SampleBatch b = CollectOnce(*c);
    EXPECT_EQ(Ids(b).size(), 1u);
    EXPECT_EQ(Value(b, "tidemark_cgroup_containers", ""), 1);
    EXPECT_EQ(Value(b, "tidemark_cgroup_containers_dropped_total", ""), 1);
    clock.Advance(std::chrono::seconds(61));  // Through full rescans too.
  }
}

// Copies a fixture into a writable temp dir so cgroups can come and go.
class CgroupCollectorChurnTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::filesystem::copy(tidemark::testing::FixturePath("cgroup/v2_docker/sys"),
                          tmp_.path() + "/sys", std::filesystem::copy_options::recursive);
    paths_.sys = tmp_.path() + "/sys";
    CgroupCollectorOptions o;
    o.use_inotify = GetParam();
    collector_ = MakeCollector(paths_, clock_, o);
  }
  std::string Dir(const std::string& rel) const { return paths_.sys + "/fs/cgroup" + rel; }

  tidemark::testing::TempDir tmp_;
  tidemark::testing::FakeClock clock_;
  HostPaths paths_;
  std::unique_ptr<CgroupCollector> collector_;
};

TEST_P(CgroupCollectorChurnTest, RemovedCgroupLeavesNoSeriesNextCycle) {
  const std::string d = "/system.slice/docker-" + kIdD + ".scope";
  SampleBatch b1 = CollectOnce(*collector_);
  EXPECT_EQ(collector_->inotify_active(), GetParam());
  ASSERT_TRUE(Ids(b1).contains(d));
  std::filesystem::remove_all(Dir(d));
  SampleBatch b2 = CollectOnce(*collector_);  // No clock advance: no periodic rescan.
  EXPECT_THAT(Ids(b2), UnorderedElementsAre("/system.slice/containerd.service"));
  EXPECT_EQ(Value(b2, "tidemark_cgroup_containers", ""), 1);
}

TEST_P(CgroupCollectorChurnTest, NewCgroupIsPickedUp) {
  const std::string n = "/system.slice/nginx.service";
  SampleBatch b1 = CollectOnce(*collector_);
  EXPECT_FALSE(Ids(b1).contains(n));
  tmp_.WriteFile("sys/fs/cgroup" + n + "/cpu.stat", "usage_usec 2000000\n");
  SampleBatch b2 = CollectOnce(*collector_);
  // With inotify at once; without it at the next periodic rescan.
  EXPECT_EQ(Ids(b2).contains(n), GetParam());
  clock_.Advance(std::chrono::seconds(10));
  SampleBatch b3 = CollectOnce(*collector_);
  EXPECT_EQ(Value(b3, "container_cpu_usage_seconds_total", n, {{"cpu", "total"}}), 2.0);
  // A nested directory created after its parent is watched too.
  tmp_.WriteFile("sys/fs/cgroup" + n + "/sub.service/cpu.stat", "usage_usec 1000000\n");
  clock_.Advance(std::chrono::seconds(10));
  SampleBatch b4 = CollectOnce(*collector_);
  EXPECT_EQ(Value(b4, "container_cpu_usage_seconds_total", n + "/sub.service", {{"cpu", "total"}}),
            1.0);
}

INSTANTIATE_TEST_SUITE_P(InotifyOnOff, CgroupCollectorChurnTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "Inotify" : "Rescan";
                         });

// A copy of fixture `name` that tests may rewrite (the collector keeps files open and re-reads
// them, so a rewrite in place is what the next Collect() sees).
class WritableFixture {
 public:
  explicit WritableFixture(const std::string& name) {
    std::filesystem::copy(tidemark::testing::FixturePath("cgroup/" + name + "/sys"),
                          dir_.path() + "/sys", std::filesystem::copy_options::recursive);
  }
  HostPaths paths() const {
    HostPaths p;
    p.sys = dir_.path() + "/sys";
    p.proc = "/nonexistent/proc";
    p.root = "/nonexistent";
    return p;
  }
  void Write(const std::string& rel, const std::string& content) const {
    dir_.WriteFile("sys/fs/cgroup" + rel, content);
  }

 private:
  tidemark::testing::TempDir dir_;
};

std::string MemoryEvents(int oom_kill) {
  return "low 0\nhigh 4\nmax 9\noom 2\noom_kill " + std::to_string(oom_kill) +
         "\noom_group_kill 0\n";
}

TEST(CgroupCollectorTest, OomKillCounterIncreasePublishesOneCgroupEvent) {
  WritableFixture fx("v2_docker");
  tidemark::testing::FakeClock clock;
  auto c = MakeCollector(fx.paths(), clock);
  auto hub = std::make_shared<OomEventHub>();
  std::vector<OomEvent> events;
  hub->Subscribe([&events](const OomEvent& e) { events.push_back(e); });
  c->SetOomEvents(hub, OomSource::kCgroupCounters);
  const std::string d = "/system.slice/docker-" + kIdD + ".scope";

  SampleBatch b1 = CollectOnce(*c);
  EXPECT_EQ(Value(b1, "container_oom_events_total", d), 1);
  EXPECT_TRUE(events.empty()) << "the first reading is a baseline, not a kill";

  fx.Write(d + "/memory.events", MemoryEvents(3));
  clock.Advance(std::chrono::seconds(1));
  SampleBatch b2 = CollectOnce(*c);
  EXPECT_EQ(Value(b2, "container_oom_events_total", d), 3);
  EXPECT_EQ(FindFamily(b2, "container_oom_events_total")->samples.size(), 2u);  // d and svc.
  ASSERT_EQ(events.size(), 1u);
  const OomEvent& e = events[0];
  EXPECT_EQ(e.source, "cgroup");
  EXPECT_EQ(e.count, 2u);
  EXPECT_EQ(e.pid, 0u);
  EXPECT_EQ(e.comm, "");
  EXPECT_EQ(e.cgroup_path, d);
  ASSERT_NE(BaseOf(b2, d), nullptr);
  EXPECT_EQ(e.container, BaseOf(b2, d)->labels());
  EXPECT_EQ(e.memory_limit_bytes, 134217728u);
  EXPECT_EQ(e.memory_usage_bytes, 73400320u);
  EXPECT_EQ(e.time_ms, 1700000001000);

  CollectOnce(*c);  // Unchanged counter: nothing new.
  EXPECT_EQ(events.size(), 1u);
}

// A container that appears after the agent's first cycle and was OOM-killed before its first
// reading (a kill within its first interval) still gives one event; containers present at the
// agent's start keep their first reading as a baseline.
TEST(CgroupCollectorTest, OomKillBeforeANewContainersFirstReadingIsPublished) {
  WritableFixture fx("v2_docker");
  tidemark::testing::FakeClock clock;
  CgroupCollectorOptions opts;
  opts.rescan_interval = std::chrono::seconds(1);
  opts.inotify_backstop_interval = std::chrono::seconds(1);
  auto c = MakeCollector(fx.paths(), clock, opts);
  auto hub = std::make_shared<OomEventHub>();
  std::vector<OomEvent> events;
  hub->Subscribe([&events](const OomEvent& e) { events.push_back(e); });
  c->SetOomEvents(hub, OomSource::kCgroupCounters);
  CollectOnce(*c);
  EXPECT_TRUE(events.empty());

  const std::string id2(64, 'e');
  const std::string d = "/system.slice/docker-" + kIdD + ".scope";
  const std::string d2 = "/system.slice/docker-" + id2 + ".scope";
  std::filesystem::copy(fx.paths().sys + "/fs/cgroup" + d, fx.paths().sys + "/fs/cgroup" + d2,
                        std::filesystem::copy_options::recursive);
  fx.Write(d2 + "/memory.events", MemoryEvents(1));
  clock.Advance(std::chrono::seconds(2));
  SampleBatch b = CollectOnce(*c);
  EXPECT_EQ(Value(b, "container_oom_events_total", d2), 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].cgroup_path, d2);
  EXPECT_EQ(events[0].count, 1u);
  EXPECT_EQ(events[0].source, "cgroup");
}

TEST(CgroupCollectorTest, EbpfOomSourceCountsHubEventsOnTopOfFirstReading) {
  WritableFixture fx("v2_docker");
  tidemark::testing::FakeClock clock;
  auto c = MakeCollector(fx.paths(), clock);
  auto hub = std::make_shared<OomEventHub>();
  c->SetOomEvents(hub, OomSource::kEbpf);
  size_t published = 0;
  hub->Subscribe([&published](const OomEvent&) { ++published; });
  const std::string d = "/system.slice/docker-" + kIdD + ".scope";

  SampleBatch b1 = CollectOnce(*c);
  EXPECT_EQ(Value(b1, "container_oom_events_total", d), 1);  // The kernel's count so far.

  auto ebpf_kill = [&](const std::string& path) {
    OomEvent e;
    e.source = "ebpf";
    e.cgroup_path = path;
    e.pid = 42;
    hub->Publish(e);
  };
  ebpf_kill(d);
  ebpf_kill(d + "/init.scope");  // A sub-cgroup's kill counts for the container.
  ebpf_kill("/user.slice/not-exported");
  // The kernel counts the same two kills; the collector must not add them again.
  fx.Write(d + "/memory.events", MemoryEvents(3));
  SampleBatch b2 = CollectOnce(*c);
  EXPECT_EQ(Value(b2, "container_oom_events_total", d), 3);
  EXPECT_EQ(FindFamily(b2, "container_oom_events_total")->samples.size(), 2u);  // d and svc.
  EXPECT_EQ(Value(b2, "container_memory_events_oom_kill_total", d), 3);
  EXPECT_EQ(published, 3u) << "with the eBPF source the collector publishes nothing";
}

TEST(CgroupCollectorTest, LabelIndexHoldsTheSeriesLabels) {
  tidemark::testing::FakeClock clock;
  FakeMetadataProvider meta;
  meta.entries[kIdD] = ContainerMetadata{
      "web.1.x7f3", "busybox:latest", {{"com.docker.compose.service", "web"}, {"other", "x"}}};
  auto c = MakeCollector(FixtureHost("v2_docker"), clock, {}, &meta);
  std::shared_ptr<const ContainerLabelIndex> index = c->label_index();
  EXPECT_EQ(index->Find("/system.slice/docker-" + kIdD + ".scope"), nullptr);  // Before Collect.
  SampleBatch b = CollectOnce(*c);
  const std::string d = "/system.slice/docker-" + kIdD + ".scope";
  ASSERT_NE(BaseOf(b, d), nullptr);
  LabelSetPtr found = index->Find(d);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->labels(), BaseOf(b, d)->labels());
  EXPECT_EQ(found->Get("image"), "busybox:latest");
  EXPECT_EQ(found->Get("container_label_com_docker_compose_service"), "web");
  EXPECT_EQ(index->Find(d + "/init.scope/x"), found);  // Nearest exported ancestor.
  EXPECT_EQ(index->Find("/system.slice"), nullptr);
  EXPECT_EQ(index->Find("/"), nullptr);
  EXPECT_EQ(index->size(), 2u);

  const uint64_t version = index->version();
  CollectOnce(*c);
  EXPECT_EQ(index->version(), version) << "nothing changed, nothing republished";
  meta.entries[kIdD].image = "busybox:1.36";
  CollectOnce(*c);
  EXPECT_NE(index->version(), version);
  EXPECT_EQ(index->Find(d)->Get("image"), "busybox:1.36");
}

}  // namespace
}  // namespace tidemark::collector

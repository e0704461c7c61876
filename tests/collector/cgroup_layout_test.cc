#include "collector/cgroup_layout.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/testing/testing.h"

namespace tidemark::collector {
namespace {

HostPaths Fixture(const std::string& name) {
  HostPaths p;
  p.sys = tidemark::testing::FixturePath("cgroup/" + name + "/sys");
  return p;
}

TEST(CgroupLayoutTest, DetectsV1WithSeparateCpuAndCpuacct) {
  Result<CgroupLayout> l = DetectCgroupLayout(Fixture("v1_separate"));
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  const std::string root = Fixture("v1_separate").CgroupRoot();
  EXPECT_EQ(l->mode, CgroupMode::kV1);
  EXPECT_EQ(l->cpu, root + "/cpu");
  EXPECT_EQ(l->cpuacct, root + "/cpuacct");
  EXPECT_EQ(l->memory, root + "/memory");
  EXPECT_EQ(l->blkio, root + "/blkio");
  EXPECT_EQ(l->pids, root + "/pids");
  EXPECT_EQ(l->unified, "");
  EXPECT_EQ(l->Hierarchies().size(), 5u);
}

TEST(CgroupLayoutTest, DetectsCombinedCpuCpuacctThroughSymlinks) {
  Result<CgroupLayout> l = DetectCgroupLayout(Fixture("v1_combined"));
  ASSERT_TRUE(l.ok());
  const std::string root = Fixture("v1_combined").CgroupRoot();
  EXPECT_EQ(l->cpu, root + "/cpu,cpuacct");
  EXPECT_EQ(l->cpuacct, root + "/cpu,cpuacct");
  EXPECT_EQ(l->Hierarchies().size(), 4u);  // cpu,cpuacct once, memory, blkio, pids.
}

TEST(CgroupLayoutTest, DetectsPureV2) {
  Result<CgroupLayout> l = DetectCgroupLayout(Fixture("v2_docker"));
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->mode, CgroupMode::kV2);
  EXPECT_EQ(l->unified, Fixture("v2_docker").CgroupRoot());
  EXPECT_TRUE(l->V2Has("memory"));
  EXPECT_TRUE(l->V2Has("io"));
  EXPECT_FALSE(l->V2Has("cpuacct"));
  EXPECT_EQ(l->Hierarchies().size(), 1u);
}

TEST(CgroupLayoutTest, DetectsHybrid) {
  Result<CgroupLayout> l = DetectCgroupLayout(Fixture("hybrid"));
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->mode, CgroupMode::kHybrid);
  EXPECT_EQ(l->unified, Fixture("hybrid").CgroupRoot() + "/unified");
  EXPECT_TRUE(l->v2_controllers.empty());
  EXPECT_EQ(l->Hierarchies().size(), 6u);
}

TEST(CgroupLayoutTest, RecognisesControllersByFilesNotNames) {
  tidemark::testing::TempDir tmp;
  tmp.WriteFile("sys/fs/cgroup/weird-a/memory.usage_in_bytes", "0\n");
  tmp.WriteFile("sys/fs/cgroup/weird-b/cpuacct.usage", "0\n");
  tmp.WriteFile("sys/fs/cgroup/weird-b/cpu.shares", "1024\n");
  tmp.WriteFile("sys/fs/cgroup/v2/cgroup.controllers", "cpu memory\n");
  HostPaths p;
  p.sys = tmp.path() + "/sys";
  Result<CgroupLayout> l = DetectCgroupLayout(p);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->mode, CgroupMode::kHybrid);
  EXPECT_EQ(l->memory, p.CgroupRoot() + "/weird-a");
  EXPECT_EQ(l->cpu, p.CgroupRoot() + "/weird-b");
  EXPECT_EQ(l->cpuacct, p.CgroupRoot() + "/weird-b");
  EXPECT_EQ(l->unified, p.CgroupRoot() + "/v2");
  EXPECT_TRUE(l->V2Has("memory"));
}

TEST(CgroupLayoutTest, NothingMountedIsNotFound) {
  tidemark::testing::TempDir tmp;
  tmp.WriteFile("sys/fs/cgroup/systemd/cgroup.procs", "1\n");
  HostPaths p;
  p.sys = tmp.path() + "/sys";
  EXPECT_EQ(DetectCgroupLayout(p).status().code(), StatusCode::kNotFound);
  p.sys = tmp.path() + "/missing";
  EXPECT_EQ(DetectCgroupLayout(p).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tidemark::collector

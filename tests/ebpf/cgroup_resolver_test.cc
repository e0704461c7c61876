#include "ebpf/cgroup_resolver.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/testing/testing.h"

namespace tidemark::ebpf {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kHybrid =
    "25 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "30 25 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
    "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw\n"
    "34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid shared:13 - cgroup cgroup rw,memory\n"
    "35 30 0:31 / /sys/fs/cgroup/blkio rw,nosuid shared:14 - cgroup cgroup rw,blkio\n"
    "36 30 0:32 / /sys/fs/cgroup/cpu,cpuacct rw shared:15 - cgroup cgroup rw,cpu,cpuacct\n";

TEST(CgroupRootsTest, ParsesHybridMountInfo) {
  Result<CgroupRoots> r = CgroupRoots::ParseMountInfo(kHybrid, "/");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->unified, "/sys/fs/cgroup/unified");
  EXPECT_EQ(r->memory, "/sys/fs/cgroup/memory");
  EXPECT_EQ(r->blkio, "/sys/fs/cgroup/blkio");
  EXPECT_EQ(r->Of(CgroupHierarchy::kBlkio), "/sys/fs/cgroup/blkio");
}

TEST(CgroupRootsTest, PureV2ServesEveryHierarchyFromTheUnifiedTree) {
  Result<CgroupRoots> r = CgroupRoots::ParseMountInfo(
      "29 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n", "/");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->unified, "/sys/fs/cgroup");
  EXPECT_EQ(r->memory, "/sys/fs/cgroup");
  EXPECT_EQ(r->blkio, "/sys/fs/cgroup");
}

TEST(CgroupRootsTest, PrefixesHostRootAndSkipsOptionalFields) {
  Result<CgroupRoots> r = CgroupRoots::ParseMountInfo(
      "34 30 0:30 / /sys/fs/cgroup/memory rw shared:13 master:2 - cgroup cgroup rw,memory\n",
      "/host");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->memory, "/host/sys/fs/cgroup/memory");
  EXPECT_EQ(r->unified, "");
  EXPECT_EQ(r->blkio, "");
}

TEST(CgroupRootsTest, NoCgroupMountIsNotFound) {
  Result<CgroupRoots> r =
      CgroupRoots::ParseMountInfo("25 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n", "/");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

uint64_t Inode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

class CgroupIdIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() + "/docker/abc/nested");
    std::filesystem::create_directories(dir_.path() + "/system.slice");
    roots_.unified = roots_.memory = roots_.blkio = dir_.path();
  }
  tidemark::testing::TempDir dir_;
  tidemark::testing::FakeClock clock_;
  CgroupRoots roots_;
};

TEST_F(CgroupIdIndexTest, ResolvesDirectoryInodesToPathsAndLabels) {
  CgroupIdIndex index(roots_, clock_);
  auto ref = index.Resolve(CgroupHierarchy::kMemory, Inode(dir_.path() + "/docker/abc"),
                           clock_.MonotonicNow());
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->path, "/docker/abc");
  ASSERT_NE(ref->labels, nullptr);
  EXPECT_EQ(ref->labels->Get("id"), "/docker/abc");
  auto root = index.Resolve(CgroupHierarchy::kUnified, Inode(dir_.path()), clock_.MonotonicNow());
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(root->path, "/");
  EXPECT_EQ(root->labels, nullptr);
  EXPECT_EQ(index.scans(), 1u);  // The second lookup hit the first scan's table.
}

TEST_F(CgroupIdIndexTest, LabelerDecidesWhatIsExported) {
  CgroupIdIndexOptions o;
  o.labeler = [](CgroupHierarchy, std::string_view path) -> LabelSetPtr {
    if (path.rfind("/docker/", 0) != 0) return nullptr;
    return std::make_shared<const LabelSet>(Labels{{"id", std::string(path)}, {"name", "web"}});
  };
  CgroupIdIndex index(roots_, clock_, o);
  auto c = index.Resolve(CgroupHierarchy::kBlkio, Inode(dir_.path() + "/docker/abc"),
                         clock_.MonotonicNow());
  ASSERT_TRUE(c && c->labels);
  EXPECT_EQ(c->labels->Get("name"), "web");
  auto s = index.Resolve(CgroupHierarchy::kBlkio, Inode(dir_.path() + "/system.slice"),
                         clock_.MonotonicNow());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->path, "/system.slice");
  EXPECT_EQ(s->labels, nullptr);
}

TEST_F(CgroupIdIndexTest, LabelsFollowTheLabelSourceVersion) {
  // A live source, as the agent wires the cgroup collector's labels in: asked again only when its
  // version moves, and one LabelSet per cgroup in between (readers group series by the pointer).
  std::string image = "busybox:1";
  uint64_t version = 1;
  int asked = 0;
  CgroupIdIndexOptions o;
  o.labeler = [&](CgroupHierarchy, std::string_view path) -> LabelSetPtr {
    ++asked;
    return std::make_shared<const LabelSet>(Labels{{"id", std::string(path)}, {"image", image}});
  };
  o.labels_version = [&] { return version; };
  CgroupIdIndex index(roots_, clock_, o);
  const uint64_t id = Inode(dir_.path() + "/docker/abc");
  auto first = index.Resolve(CgroupHierarchy::kUnified, id, clock_.MonotonicNow());
  ASSERT_TRUE(first && first->labels);
  clock_.Advance(std::chrono::minutes(1));  // Stale table: rescanned; the labels stay.
  auto again = index.Resolve(CgroupHierarchy::kUnified, id, clock_.MonotonicNow());
  ASSERT_TRUE(again && again->labels);
  EXPECT_EQ(again->labels, first->labels);
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(index.scans(), 2u);
  image = "busybox:2";
  ++version;
  auto changed = index.Resolve(CgroupHierarchy::kUnified, id, clock_.MonotonicNow());
  ASSERT_TRUE(changed && changed->labels);
  EXPECT_EQ(changed->labels->Get("image"), "busybox:2");
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(index.LabelsOfPath(CgroupHierarchy::kMemory, "/docker/abc")->Get("image"), "busybox:2");
}

TEST_F(CgroupIdIndexTest, NewCgroupIsFoundByRescanAfterInterval) {
  CgroupIdIndex index(roots_, clock_);
  ASSERT_TRUE(index.Resolve(CgroupHierarchy::kUnified, Inode(dir_.path() + "/docker"),
                            clock_.MonotonicNow()));
  std::filesystem::create_directories(dir_.path() + "/new");
  const uint64_t id = Inode(dir_.path() + "/new");
  clock_.Advance(milliseconds(10));
  // Too soon after the last scan: unknown for now, not "gone".
  auto soon = index.Resolve(CgroupHierarchy::kUnified, id, clock_.MonotonicNow());
  ASSERT_TRUE(soon.has_value());
  EXPECT_EQ(soon->path, "");
  clock_.Advance(seconds(2));
  auto later = index.Resolve(CgroupHierarchy::kUnified, id, clock_.MonotonicNow());
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->path, "/new");
  EXPECT_EQ(index.scans(), 2u);
}

TEST_F(CgroupIdIndexTest, RemovedCgroupIsGoneOnceAScanMissesIt) {
  CgroupIdIndex index(roots_, clock_);
  const uint64_t id = Inode(dir_.path() + "/docker/abc/nested");
  const auto seen_at = clock_.MonotonicNow();
  ASSERT_TRUE(index.Resolve(CgroupHierarchy::kUnified, id, seen_at).has_value());
  std::filesystem::remove(dir_.path() + "/docker/abc/nested");
  clock_.Advance(seconds(2));
  // The table is fresh enough to be trusted: still known.
  EXPECT_TRUE(index.Resolve(CgroupHierarchy::kUnified, id, seen_at).has_value());
  // An id no directory has, seen before the last scan started: gone, without a rescan.
  EXPECT_FALSE(index.Resolve(CgroupHierarchy::kUnified, id + 1000000, seen_at).has_value());
  EXPECT_EQ(index.scans(), 1u);
  // Once the table is too old it is rebuilt, and the removed cgroup is gone.
  clock_.Advance(seconds(30));
  EXPECT_FALSE(index.Resolve(CgroupHierarchy::kUnified, id, seen_at).has_value());
  EXPECT_EQ(index.scans(), 2u);
}

}  // namespace
}  // namespace tidemark::ebpf

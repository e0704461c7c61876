// BioLatencyReader on the real kernel: N direct-I/O writes from a process in a test cgroup land in
// that cgroup's histogram (N plus at most a few), and the node histogram of the disk agrees with
// libbpf-tools biolatency run over the same time.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/clock.h"
#include "ebpf/biolatency_reader.h"
#include "tests/ebpf/privileged_util.h"
#include "tests/testing/testing.h"

namespace tidemark::ebpf {
namespace {

using testing::TestCgroup;

constexpr int kWrites = 300;
constexpr size_t kBlock = 4096;

// The whole disk holding `dev` (a partition's parent), as (major, minor, name); name "" when the
// device is not a block device (tmpfs, overlay).
struct Disk {
  uint32_t major = 0, minor = 0;
  std::string name;
};
Disk DiskOf(dev_t dev) {
  char buf[PATH_MAX];
  std::string link =
      "/sys/dev/block/" + std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
  if (::realpath(link.c_str(), buf) == nullptr) return {};
  std::string path = buf;
  if (::access((path + "/partition").c_str(), F_OK) == 0) path = path.substr(0, path.rfind('/'));
  std::ifstream in(path + "/dev");
  unsigned ma = 0, mi = 0;
  char colon;
  if (!(in >> ma >> colon >> mi)) return {};
  return Disk{ma, mi, path.substr(path.rfind('/') + 1)};
}

// libbpf-tools biolatency for one disk, started and stopped by hand; its floor-log2 µs slots.
class Biolatency {
 public:
  bool Start(const std::string& disk) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return false;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      // Line-buffered: its "Tracing ..." line is the sign that it attached.
      ::execlp("stdbuf", "stdbuf", "-oL", "/usr/sbin/biolatency", "-d", disk.c_str(),
               static_cast<char*>(nullptr));
      _exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
    std::string text;
    for (char c; text.find("Hit Ctrl-C") == std::string::npos;) {
      struct pollfd p = {out_, POLLIN, 0};
      if (::poll(&p, 1, 60000) != 1 || ::read(out_, &c, 1) != 1) return false;
      text += c;
    }
    return true;
  }
  // SIGINT, then slot j = count of latencies in [2^j, 2^(j+1)) µs (slot 0: 0..1).
  std::vector<uint64_t> Stop() {
    ::kill(pid_, SIGINT);
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(out_, buf, sizeof(buf))) > 0;) text.append(buf, n);
    ::close(out_);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    std::vector<uint64_t> slots(40, 0);
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      unsigned long long lo, hi, count;
      if (std::sscanf(line.c_str(), " %llu -> %llu : %llu", &lo, &hi, &count) != 3) continue;
      size_t j = lo == 0 ? 0 : static_cast<size_t>(std::log2(static_cast<double>(lo)));
      if (j < slots.size()) slots[j] += count;
    }
    return slots;
  }
  ~Biolatency() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

// Sum of the rows matching `pred` (slots only).
template <typename Pred>
std::vector<uint64_t> SumSlots(const std::vector<BioLatencyRow>& rows, Pred pred) {
  std::vector<uint64_t> out;
  for (const BioLatencyRow& r : rows) {
    if (!pred(r)) continue;
    if (out.size() < r.hist.slots.size()) out.resize(r.hist.slots.size(), 0);
    for (size_t i = 0; i < r.hist.slots.size(); ++i) out[i] += r.hist.slots[i];
  }
  return out;
}

uint64_t Total(const std::vector<uint64_t>& v) {
  uint64_t n = 0;
  for (uint64_t c : v) n += c;
  return n;
}

TEST(BioLatencyReaderPrivilegedTest, DirectWritesOfCgroupCountedAndAgreeWithBiolatency) {
  if (std::string reason = testing::EbpfSkipReason(); !reason.empty()) GTEST_SKIP() << reason;
  tidemark::testing::TempDir dir;
  struct stat st;
  ASSERT_EQ(::stat(dir.path().c_str(), &st), 0);
  const Disk disk = DiskOf(st.st_dev);
  if (disk.name.empty()) GTEST_SKIP() << dir.path() << " is not on a block device";
  Result<CgroupRoots> roots = CgroupRoots::FromMountInfo(HostPaths{});
  ASSERT_TRUE(roots.ok()) << roots.status().ToString();
  CgroupIdIndex index(*roots, SystemClock::Instance());
  Result<std::unique_ptr<BioLatencyReader>> reader =
      BioLatencyReader::Create(&index, SystemClock::Instance());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();

  // The file's blocks are allocated and written first, so the direct writes below need no
  // metadata updates.
  const std::string file = dir.path() + "/direct.bin";
  {
    std::string zeros(kBlock * kWrites, '\0');
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, zeros.data(), zeros.size()), static_cast<ssize_t>(zeros.size()));
    ASSERT_EQ(::fsync(fd), 0);
    ::close(fd);
  }

  TestCgroup cg(*roots, "bio");
  testing::Child writer = testing::Fork([&] {
    int fd = ::open(file.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0) return 1;
    void* buf = nullptr;
    if (::posix_memalign(&buf, kBlock, kBlock) != 0) return 2;
    std::memset(buf, 'x', kBlock);
    for (int i = 0; i < kWrites; ++i) {
      if (::pwrite(fd, buf, kBlock, static_cast<off_t>(i) * kBlock) !=
          static_cast<ssize_t>(kBlock)) {
        return 3;
      }
    }
    ::close(fd);
    return 0;
  });
  ASSERT_GT(writer.pid, 0);
  cg.Adopt(writer.pid);

  const bool have_peer = ::access("/usr/sbin/biolatency", X_OK) == 0;
  Biolatency peer;
  if (have_peer) {
    ASSERT_TRUE(peer.Start(disk.name)) << "biolatency did not attach";
  }
  ASSERT_TRUE((*reader)->ReadMaps().ok());
  auto on_disk = [&](const BioLatencyRow& r) {
    return r.node && r.major == disk.major && r.minor == disk.minor;
  };
  const std::vector<uint64_t> node_before = SumSlots((*reader)->rows(), on_disk);
  ASSERT_TRUE(writer.Go());
  const int status = writer.Wait();
  cg.Reaped(writer.pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE((*reader)->ReadMaps().ok());
  const std::vector<uint64_t> theirs = have_peer ? peer.Stop() : std::vector<uint64_t>();

  const uint64_t cg_id = cg.Id(CgroupHierarchy::kBlkio);
  const std::vector<uint64_t> ours_writes =
      SumSlots((*reader)->rows(), [&](const BioLatencyRow& r) {
        return !r.node && r.cgroup_id == cg_id && r.operation == "write";
      });
  const std::vector<uint64_t> ours_all = SumSlots(
      (*reader)->rows(), [&](const BioLatencyRow& r) { return !r.node && r.cgroup_id == cg_id; });
  EXPECT_GE(Total(ours_writes), static_cast<uint64_t>(kWrites));
  EXPECT_LE(Total(ours_all), static_cast<uint64_t>(kWrites) + 5);
  for (const BioLatencyRow& r : (*reader)->rows()) {
    if (!r.node && r.cgroup_id == cg_id && r.operation == "write") {
      EXPECT_GT(r.hist.sum, 0);
      EXPECT_EQ(r.major, disk.major);
    }
  }

  std::vector<uint64_t> node = SumSlots((*reader)->rows(), on_disk);
  for (size_t i = 0; i < node_before.size(); ++i) node[i] -= node_before[i];
  EXPECT_GE(Total(node), Total(ours_all));
  SampleBatch batch;
  ASSERT_TRUE((*reader)->Collect(&batch).ok());
  double exported = -1;
  for (const MetricFamily& f : batch.families()) {
    if (f.name != "container_blkio_latency_seconds") continue;
    for (const Sample& s : f.samples) {
      // The series' labels are one set: the container's, device and operation.
      if (s.base != nullptr && s.base->Get("id") == cg.rel() && s.part == SeriesPart::kCount &&
          s.base->Get("device") == "/dev/" + disk.name && s.base->Get("operation") == "write" &&
          s.extra.empty()) {
        exported = s.value;
      }
    }
  }
  EXPECT_EQ(exported, static_cast<double>(Total(ours_writes)));
  EXPECT_EQ((*reader)->lost(), 0u);
  if (!have_peer) return;

  // Same requests, two bucketings: ours counts v <= 2^k µs up to slot k, biolatency counts
  // v < 2^k below slot k. For identical request sets
  //   theirs(v < 2^k) <= ours(v <= 2^k) <= theirs(v < 2^(k+1)).
  // biolatency runs slightly longer than our window (from its attach to SIGINT, ours between two
  // map reads), so other processes' requests at the edges may differ: tolerance 5% (>= 10).
  const uint64_t total_ours = Total(node), total_theirs = Total(theirs);
  const double tol = std::max(10.0, 0.05 * static_cast<double>(total_theirs));
  std::printf("disk %s: ours %lu requests (cgroup %lu writes), biolatency %lu\n", disk.name.c_str(),
              static_cast<unsigned long>(total_ours),
              static_cast<unsigned long>(Total(ours_writes)),
              static_cast<unsigned long>(total_theirs));
  EXPECT_NEAR(static_cast<double>(total_ours), static_cast<double>(total_theirs), tol);
  uint64_t ours_le = 0, theirs_lt = 0;
  for (size_t k = 0; k < node.size(); ++k) {
    ours_le += node[k];
    const uint64_t theirs_lt_next = theirs_lt + (k < theirs.size() ? theirs[k] : 0);
    std::printf("  le %8.0f us: ours %6lu  biolatency [%6lu, %6lu]\n", std::ldexp(1.0, k),
                static_cast<unsigned long>(ours_le), static_cast<unsigned long>(theirs_lt),
                static_cast<unsigned long>(theirs_lt_next));
    EXPECT_GE(static_cast<double>(ours_le) + tol, static_cast<double>(theirs_lt)) << "k=" << k;
    EXPECT_LE(static_cast<double>(ours_le), static_cast<double>(theirs_lt_next) + tol) << "k=" << k;
    theirs_lt = theirs_lt_next;
    if (ours_le == total_ours && theirs_lt == total_theirs) break;
  }
}

TEST(BioLatencyReaderPrivilegedTest, RowsOfRemovedCgroupsAreDeletedFromTheMap) {
  if (std::string reason = testing::EbpfSkipReason(); !reason.empty()) GTEST_SKIP() << reason;
  tidemark::testing::TempDir dir;
  struct stat st;
  ASSERT_EQ(::stat(dir.path().c_str(), &st), 0);
  if (DiskOf(st.st_dev).name.empty()) GTEST_SKIP() << dir.path() << " is not on a block device";
  Result<CgroupRoots> roots = CgroupRoots::FromMountInfo(HostPaths{});
  ASSERT_TRUE(roots.ok());
  tidemark::testing::FakeClock clock;
  CgroupIdIndex index(*roots, clock);
  Result<std::unique_ptr<BioLatencyReader>> reader = BioLatencyReader::Create(&index, clock);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();

  const std::string file = dir.path() + "/direct.bin";
  uint64_t cg_id = 0;
  uint64_t rows = 0;
  auto node_total = [&] {
    uint64_t n = 0;
    for (const BioLatencyRow& r : (*reader)->rows()) n += r.node ? r.hist.Count() : 0;
    return n;
  };
  uint64_t node_before = 0;
  {
    TestCgroup cg(*roots, "bio-sweep");
    cg_id = cg.Id(CgroupHierarchy::kBlkio);
    testing::Child writer = testing::Fork([&] {
      int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
      void* buf = nullptr;
      if (fd < 0 || ::posix_memalign(&buf, kBlock, kBlock) != 0) return 1;
      std::memset(buf, 'y', kBlock);
      for (int i = 0; i < 20; ++i) {
        if (::pwrite(fd, buf, kBlock, static_cast<off_t>(i) * kBlock) < 0) return 2;
      }
      return ::fsync(fd) == 0 ? 0 : 3;
    });
    cg.Adopt(writer.pid);
    ASSERT_TRUE(writer.Go());
    ASSERT_EQ(writer.Wait(), 0);
    cg.Reaped(writer.pid);
    ASSERT_TRUE((*reader)->ReadMaps().ok());
    auto has_cgroup = [&] {
      for (const BioLatencyRow& r : (*reader)->rows()) {
        if (r.cgroup_id == cg_id) return true;
      }
      return false;
    };
    ASSERT_TRUE(has_cgroup());
    for (const BioLatencyRow& r : (*reader)->rows()) rows += r.cgroup_id == cg_id ? 1 : 0;
    node_before = node_total();
  }  // The cgroup is removed here.
  const uint64_t swept_before = (*reader)->swept();
  clock.Advance(std::chrono::minutes(1));  // The resolver's table is stale: it rescans.
  ASSERT_TRUE((*reader)->ReadMaps().ok());
  for (const BioLatencyRow& r : (*reader)->rows()) EXPECT_NE(r.cgroup_id, cg_id);
  // Every row of the cgroup was deleted from the kernel map, once: a second read finds none.
  EXPECT_EQ((*reader)->swept() - swept_before, rows);
  // The node histograms (sums over all cgroups) keep the swept rows: they never go backwards.
  EXPECT_GE(node_total(), node_before);
  clock.Advance(std::chrono::minutes(1));
  ASSERT_TRUE((*reader)->ReadMaps().ok());
  EXPECT_EQ((*reader)->swept() - swept_before, rows);
}

}  // namespace
}  // namespace tidemark::ebpf

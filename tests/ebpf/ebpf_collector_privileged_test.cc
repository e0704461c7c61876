// EbpfCollector on the real kernel: everything up as root; without privileges one log line,
// program_up 0 for every program, and Collect() still succeeds.
#include <gtest/gtest.h>

#include <sstream>

#include "common/clock.h"
#include "ebpf/ebpf_collector.h"
#include "tests/ebpf/privileged_util.h"

namespace tidemark::ebpf {
namespace {

// program -> value of `family` (labels {program=...}).
std::map<std::string, double> ByProgram(const SampleBatch& b, std::string_view family) {
  std::map<std::string, double> out;
  for (const MetricFamily& f : b.families()) {
    if (f.name != family) continue;
    for (const Sample& s : f.samples) {
      for (const Label& l : s.extra) {
        if (l.name == "program") out[l.value] = s.value;
      }
    }
  }
  return out;
}

TEST(EbpfCollectorPrivilegedTest, AllProgramsUpAsRoot) {
  if (std::string reason = testing::EbpfSkipReason(); !reason.empty()) GTEST_SKIP() << reason;
  Result<CgroupRoots> roots = CgroupRoots::FromMountInfo(HostPaths{});
  ASSERT_TRUE(roots.ok());
  CgroupIdIndex index(*roots, SystemClock::Instance());
  auto c = EbpfCollector::Create(&index, SystemClock::Instance(), HostPaths{}, EbpfOptions{});
  EXPECT_TRUE(c->oom_up()) << c->oom_error();
  EXPECT_GE(c->oom_fd(), 0);
  SampleBatch b;
  ASSERT_TRUE(c->Collect(&b).ok());
  using M = std::map<std::string, double>;
  EXPECT_EQ(ByProgram(b, "tidemark_ebpf_program_up"),
            (M{{"biolatency", 1}, {"oomkill", 1}, {"tcpretrans", 1}}));
  EXPECT_EQ(ByProgram(b, "tidemark_ebpf_events_lost_total").size(), 3u);
}

TEST(EbpfCollectorPrivilegedTest, WithoutPrivilegesProgramsAreDownAndLoggedOnce) {
  if (std::string reason = testing::EbpfSkipReason(); !reason.empty()) GTEST_SKIP() << reason;
  int err[2];
  ASSERT_EQ(::pipe2(err, O_CLOEXEC), 0);
  // The child drops root, then builds and collects; its exit code says what it saw.
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(err[1], 1);  // spdlog's default logger writes to stdout
    ::dup2(err[1], 2);
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) _exit(10);
    CgroupRoots roots;  // Nothing to resolve.
    CgroupIdIndex index(roots, SystemClock::Instance());
    auto c = EbpfCollector::Create(&index, SystemClock::Instance(), HostPaths{}, EbpfOptions{});
    if (c->oom_up() || c->oom_fd() != -1) _exit(11);
    if (c->oom_error().find("not permitted") == std::string::npos) _exit(12);
    SampleBatch b;
    if (!c->Collect(&b).ok()) _exit(13);
    if (ByProgram(b, "tidemark_ebpf_program_up") !=
        std::map<std::string, double>{{"biolatency", 0}, {"oomkill", 0}, {"tcpretrans", 0}}) {
      _exit(14);
    }
    if (!ByProgram(b, "tidemark_ebpf_events_lost_total").empty()) _exit(15);
    if (!c->PollOom(0).ok()) _exit(16);
    _exit(0);
  }
  ASSERT_GT(pid, 0);
  ::close(err[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(err[0], buf, sizeof(buf))) > 0;) text.append(buf, n);
  ::close(err[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << text;
  int lines = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 1) << text;
  EXPECT_NE(text.find("eBPF collectors"), std::string::npos) << text;
  std::printf("log: %s", text.c_str());
}

}  // namespace
}  // namespace tidemark::ebpf

// TcpRetransReader on the real kernel: a client and a server in two test cgroups talk over the
// loopback of a private network namespace while iptables drops ~30% of the packets to the
// server's port. The namespace has no other sockets, so its RetransSegs delta is exactly the
// client's and server's retransmits; a bpftrace one-liner on the same tracepoint runs beside us.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/clock.h"
#include "ebpf/tcpretrans_reader.h"
#include "tests/ebpf/privileged_util.h"

namespace tidemark::ebpf {
namespace {

using testing::TestCgroup;

constexpr int kPort = 47391;

// Tcp: RetransSegs of the network namespace `pid` lives in; -1 when unreadable.
long RetransSegs(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/net/snmp");
  std::string header, values;
  while (std::getline(in, header)) {
    if (header.rfind("Tcp:", 0) != 0 || !std::getline(in, values)) continue;
    std::istringstream h(header), v(values);
    for (std::string name, value; h >> name && v >> value;) {
      if (name == "RetransSegs") return std::stol(value);
    }
  }
  return -1;
}

bool WaitByte(int fd, int timeout_ms) {
  struct pollfd p = {fd, POLLIN, 0};
  char c;
  return ::poll(&p, 1, timeout_ms) == 1 && ::read(fd, &c, 1) == 1;
}

// A child holding a fresh network namespace with lo up; killed on destruction.
struct NetnsHolder {
  pid_t pid = -1;
  NetnsHolder() {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) return;
    pid = ::fork();
    if (pid == 0) {
      if (::unshare(CLONE_NEWNET) != 0) _exit(1);
      int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      struct ifreq ifr = {};
      std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
      if (s < 0 || ::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) _exit(2);
      ifr.ifr_flags |= IFF_UP;
      if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) _exit(3);
      if (::write(ready[1], "r", 1) != 1) _exit(4);
      for (;;) ::pause();
    }
    ::close(ready[1]);
    if (!WaitByte(ready[0], 10000)) pid = -1;
    ::close(ready[0]);
  }
  ~NetnsHolder() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  std::string NsPath() const { return "/proc/" + std::to_string(pid) + "/ns/net"; }
  bool Enter() const {
    int fd = ::open(NsPath().c_str(), O_RDONLY | O_CLOEXEC);
    bool ok = fd >= 0 && ::setns(fd, CLONE_NEWNET) == 0;
    if (fd >= 0) ::close(fd);
    return ok;
  }
};

// bpftrace counting tracepoint:tcp:tcp_retransmit_skb hits to kPort, started and stopped by hand.
class Bpftrace {
 public:
  bool Start() {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return false;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      std::string prog =
          "BEGIN { printf(\"ready\\n\"); } tracepoint:tcp:tcp_retransmit_skb /args->dport == " +
          std::to_string(kPort) + "/ { @events = count(); }";
      ::execlp("bpftrace", "bpftrace", "-e", prog.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
    // Attached once BEGIN has printed.
    std::string line;
    for (char c; line.find("ready\n") == std::string::npos;) {
      struct pollfd p = {out_, POLLIN, 0};
      if (::poll(&p, 1, 60000) != 1 || ::read(out_, &c, 1) != 1) return false;
      line += c;
    }
    return true;
  }
  // SIGINT, then the final @events value (0 when the map stayed empty); -1 on failure.
  long Stop() {
    ::kill(pid_, SIGINT);
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(out_, buf, sizeof(buf))) > 0;) text.append(buf, n);
    ::close(out_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    size_t at = text.find("@events: ");
    if (at == std::string::npos) return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
    return std::stol(text.substr(at + 9));
  }
  ~Bpftrace() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

TEST(TcpRetransReaderPrivilegedTest, CountsSenderRetransmitsLikeKernelAndBpftrace) {
  if (std::string reason = testing::EbpfSkipReason(); !reason.empty()) GTEST_SKIP() << reason;
  if (std::system("command -v iptables >/dev/null && command -v nsenter >/dev/null") != 0) {
    GTEST_SKIP() << "needs iptables and nsenter";
  }
  const bool have_bpftrace = std::system("command -v bpftrace >/dev/null") == 0;
  Result<CgroupRoots> roots = CgroupRoots::FromMountInfo(HostPaths{});
  ASSERT_TRUE(roots.ok()) << roots.status().ToString();
  if (roots->unified.empty()) GTEST_SKIP() << "no cgroup v2 hierarchy for socket attribution";
  CgroupIdIndex index(*roots, SystemClock::Instance());
  Result<std::unique_ptr<TcpRetransReader>> reader =
      TcpRetransReader::Create(&index, SystemClock::Instance());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();

  NetnsHolder ns;
  ASSERT_GT(ns.pid, 0);
  const std::string rule = "INPUT -i lo -p tcp --dport " + std::to_string(kPort) +
                           " -m statistic --mode random --probability 0.3 -j DROP";
  ASSERT_EQ(std::system(("nsenter --net=" + ns.NsPath() + " iptables -A " + rule).c_str()), 0);

  TestCgroup server_cg(*roots, "tcp-server");
  TestCgroup client_cg(*roots, "tcp-client");
  int server_ready[2];
  ASSERT_EQ(::pipe2(server_ready, O_CLOEXEC), 0);
  testing::Child server = testing::Fork([&] {
    if (!ns.Enter()) return 1;
    int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_port = htons(kPort);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(l, 1) != 0) return 2;
    if (::write(server_ready[1], "r", 1) != 1) return 3;
    int c = ::accept(l, nullptr, nullptr);
    if (c < 0) return 4;
    char buf[65536];
    while (::read(c, buf, sizeof(buf)) > 0) {
    }
    // Reset instead of FIN: the server sends nothing the client's dropped ACKs would make it
    // retransmit, so every retransmit in the namespace is the client's.
    struct linger lg = {1, 0};
    ::setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    ::close(c);
    return 0;
  });
  testing::Child client = testing::Fork([&] {
    if (!ns.Enter()) return 1;
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int mss = 1400;  // Many segments, so ~30% loss gives many retransmits.
    ::setsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
    struct sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_port = htons(kPort);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return 2;
    static char data[256 * 1024];
    for (size_t off = 0; off < sizeof(data);) {
      ssize_t n = ::write(s, data + off, sizeof(data) - off);
      if (n <= 0) return 3;
      off += static_cast<size_t>(n);
    }
    ::shutdown(s, SHUT_WR);
    char c;
    while (::read(s, &c, 1) > 0) {
    }
    return 0;
  });
  ASSERT_GT(server.pid, 0);
  ASSERT_GT(client.pid, 0);
  server_cg.Adopt(server.pid);
  client_cg.Adopt(client.pid);
  ::close(server_ready[1]);

  Bpftrace bpftrace;
  if (have_bpftrace) {
    ASSERT_TRUE(bpftrace.Start()) << "bpftrace did not attach";
  }
  const long before = RetransSegs(ns.pid);
  ASSERT_GE(before, 0);
  ASSERT_TRUE(server.Go());
  ASSERT_TRUE(WaitByte(server_ready[0], 10000));
  ASSERT_TRUE(client.Go());
  int client_status = client.Wait();
  client_cg.Reaped(client.pid);
  int server_status = server.Wait();
  server_cg.Reaped(server.pid);
  const long after = RetransSegs(ns.pid);
  const long bpftrace_events = have_bpftrace ? bpftrace.Stop() : -1;
  EXPECT_EQ(std::system(("nsenter --net=" + ns.NsPath() + " iptables -D " + rule).c_str()), 0);
  ASSERT_TRUE(WIFEXITED(client_status) && WEXITSTATUS(client_status) == 0) << client_status;
  ASSERT_TRUE(WIFEXITED(server_status) && WEXITSTATUS(server_status) == 0) << server_status;

  ASSERT_TRUE((*reader)->ReadMaps().ok());
  const uint64_t client_id = client_cg.Id(CgroupHierarchy::kUnified);
  const uint64_t server_id = server_cg.Id(CgroupHierarchy::kUnified);
  RetransCount client_count, server_count;
  for (const RetransCount& c : (*reader)->counts()) {
    if (c.cgroup_id == client_id) client_count = c;
    if (c.cgroup_id == server_id) server_count = c;
  }
  const long delta = after - before;
  std::printf(
      "RetransSegs delta %ld; client cgroup: %lu segments in %lu events; server cgroup: %lu; "
      "bpftrace events %ld\n",
      delta, static_cast<unsigned long>(client_count.segs),
      static_cast<unsigned long>(client_count.events),
      static_cast<unsigned long>(server_count.segs), bpftrace_events);
  ASSERT_GT(delta, 0) << "no retransmits: the drop rule did not apply";
  EXPECT_EQ(static_cast<long>(client_count.segs), delta);
  EXPECT_EQ(server_count.segs, 0u);
  if (have_bpftrace) {
    EXPECT_EQ(static_cast<long>(client_count.events), bpftrace_events);
  }

  bool peer_seen = false;
  for (const RetransPeer& p : (*reader)->peers()) {
    if (p.cgroup_id == client_id && p.peer == "127.0.0.1:" + std::to_string(kPort)) {
      peer_seen = true;
      EXPECT_EQ(static_cast<long>(p.segs), delta);
    }
  }
  EXPECT_TRUE(peer_seen);

  SampleBatch batch;
  ASSERT_TRUE((*reader)->Collect(&batch).ok());
  double exported = -1;
  for (const MetricFamily& f : batch.families()) {
    if (f.name != "container_tcp_retransmits_total") continue;
    for (const Sample& s : f.samples) {
      if (s.base != nullptr && s.base->Get("id") == client_cg.rel()) exported = s.value;
    }
  }
  EXPECT_EQ(exported, static_cast<double>(delta));
  EXPECT_EQ((*reader)->lost(), 0u);
}

}  // namespace
}  // namespace tidemark::ebpf

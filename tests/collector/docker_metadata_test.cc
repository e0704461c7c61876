#include "collector/docker_metadata.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/file_util.h"
#include "tests/testing/testing.h"

namespace tidemark::collector {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kId1[] = "c723383540599519be36c3e33285863124ba5e43bde57376ef4e3dd724dc7c05";
constexpr char kId2[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

std::string ListJson(bool with_second) {
  std::string j = R"([{"Id":")" + std::string(kId1) + R"(","Names":["/web.1.x7f3"],
    "Image":"tidemark-busybox","ImageID":"sha256:d821","Command":"sleep 300",
    "Labels":{"com.docker.swarm.service.name":"web","secret":"x"},"State":"running"})";
  if (with_second) {
    j += R"(,{"Id":")" + std::string(kId2) + R"(","Names":["/db"],"Image":"postgres:16",
      "Labels":null})";
  }
  return j + "]";
}

// A fake Docker Engine API on a unix socket: answers every request with the current body.
class FakeDockerd {
 public:
  explicit FakeDockerd(const std::string& path)
      : path_(path), acceptor_(ioc_, asio::local::stream_protocol::endpoint(path)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeDockerd() {
    stop_ = true;
    try {
      asio::io_context wake_ioc;
      asio::local::stream_protocol::socket wake(wake_ioc);
      wake.connect(asio::local::stream_protocol::endpoint(path_));
    } catch (...) {
    }
    thread_.join();
  }
  void SetResponse(int status, std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    body_ = std::move(body);
  }
  int requests() const { return requests_; }
  std::string last_target() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_target_;
  }

 private:
  void Loop() {
    while (!stop_) {
      asio::local::stream_protocol::socket sock(ioc_);
      beast::error_code ec;
      acceptor_.accept(sock, ec);
      if (ec || stop_) break;
      beast::flat_buffer buf;
      http::request<http::string_body> req;
      http::read(sock, buf, req, ec);
      if (ec) continue;
      http::response<http::string_body> res;
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_target_ = std::string(req.target());
        res.result(status_);
        res.body() = body_;
      }
      ++requests_;
      res.version(11);
      res.set(http::field::content_type, "application/json");
      res.prepare_payload();
      http::write(sock, res, ec);
    }
  }

  std::string path_;
  asio::io_context ioc_;
  asio::local::stream_protocol::acceptor acceptor_;
  std::mutex mu_;
  int status_ = 200;         // Guarded by mu_.
  std::string body_ = "[]";  // Guarded by mu_.
  std::string last_target_;  // Guarded by mu_.
  std::atomic<int> requests_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

DockerMetadataOptions OptionsFor(const std::string& socket) {
  DockerMetadataOptions o;
  o.socket_path = socket;
  return o;
}

TEST(DockerMetadataTest, ParsesContainerList) {
  auto r = ParseDockerContainerList(ListJson(true));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  const ContainerMetadata& web = r->at(kId1);
  EXPECT_EQ(web.name, "web.1.x7f3");
  EXPECT_EQ(web.image, "tidemark-busybox");
  EXPECT_EQ(web.labels.at("com.docker.swarm.service.name"), "web");
  EXPECT_EQ(web.labels.at("secret"), "x");
  const ContainerMetadata& db = r->at(kId2);
  EXPECT_EQ(db.name, "db");
  EXPECT_EQ(db.image, "postgres:16");
  EXPECT_TRUE(db.labels.empty());
}

TEST(DockerMetadataTest, PrefersOwnNameOverLinkAliases) {
  auto r = ParseDockerContainerList(R"([{"Id":"a","Names":["/web/db","/db"]},
                                        {"Id":"b","Names":["/x/only-alias"]},{"Id":"c"}])");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->at("a").name, "db");
  EXPECT_EQ(r->at("b").name, "x/only-alias");
  EXPECT_EQ(r->at("c").name, "");
}

TEST(DockerMetadataTest, SkipsEntriesWithoutIdAndIgnoresOddTypes) {
  auto r = ParseDockerContainerList(
      R"([{"Names":["/a"]},{"Id":5},"str",{"Id":"z","Image":7,"Labels":{"k":1,"ok":"v"}}])");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->at("z").image, "");
  EXPECT_EQ(r->at("z").labels, (std::map<std::string, std::string>{{"ok", "v"}}));
}

TEST(DockerMetadataTest, BadJsonIsInvalidArgument) {
  for (const char* bad : {"", "{", "[{\"Id\":\"a\"", "not json", "{\"message\":\"x\"}", "null"}) {
    auto r = ParseDockerContainerList(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  auto empty = ParseDockerContainerList("[]");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(DockerMetadataTest, DefaultSocketIsUnderHostRoot) {
  testing::FakeClock clock;
  EXPECT_EQ(DockerMetadataProvider(HostPaths{}, clock).socket_path(), "/var/run/docker.sock");
  EXPECT_EQ(DockerMetadataProvider(HostPaths::Under("/host"), clock).socket_path(),
            "/host/var/run/docker.sock");
  HostPaths trailing;
  trailing.root = "/host/";
  EXPECT_EQ(DockerMetadataProvider(trailing, clock).socket_path(), "/host/var/run/docker.sock");
  EXPECT_EQ(DockerMetadataProvider(HostPaths{}, clock, OptionsFor("/x.sock")).socket_path(),
            "/x.sock");
}

TEST(DockerMetadataTest, LooksUpFromCacheAndRefreshesOnSchedule) {
  testing::TempDir dir;
  FakeDockerd dockerd(dir.path() + "/docker.sock");
  dockerd.SetResponse(200, ListJson(false));
  testing::FakeClock clock;
  DockerMetadataProvider p(HostPaths{}, clock, OptionsFor(dir.path() + "/docker.sock"));

  auto web = p.Lookup(kId1);  // first use lists
  ASSERT_TRUE(web.has_value());
  EXPECT_EQ(web->name, "web.1.x7f3");
  EXPECT_EQ(web->labels.at("com.docker.swarm.service.name"), "web");
  EXPECT_EQ(dockerd.requests(), 1);
  EXPECT_EQ(dockerd.last_target(), "/containers/json");

  ASSERT_TRUE(p.Lookup(kId1).has_value());  // hit: no request
  EXPECT_EQ(dockerd.requests(), 1);

  // A new container is not listed until a miss is allowed to refresh (2 s).
  dockerd.SetResponse(200, ListJson(true));
  clock.Advance(milliseconds(1500));
  EXPECT_FALSE(p.Lookup(kId2).has_value());
  EXPECT_EQ(dockerd.requests(), 1);
  clock.Advance(milliseconds(500));
  auto db = p.Lookup(kId2);
  ASSERT_TRUE(db.has_value());
  EXPECT_EQ(db->image, "postgres:16");
  EXPECT_EQ(dockerd.requests(), 2);

  // Misses for unknown ids refresh at most once per min_refresh_interval.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(p.Lookup("unknown").has_value());
  EXPECT_EQ(dockerd.requests(), 2);
  clock.Advance(seconds(2));
  EXPECT_FALSE(p.Lookup("unknown").has_value());
  EXPECT_FALSE(p.Lookup("unknown").has_value());
  EXPECT_EQ(dockerd.requests(), 3);

  // Hits only: the full refresh every 30 s drops removed containers.
  dockerd.SetResponse(200, ListJson(false));
  clock.Advance(seconds(29));
  EXPECT_TRUE(p.Lookup(kId2).has_value());
  EXPECT_EQ(dockerd.requests(), 3);
  clock.Advance(seconds(1));
  EXPECT_TRUE(p.Lookup(kId1).has_value());
  EXPECT_EQ(dockerd.requests(), 4);
  EXPECT_EQ(p.cached_containers(), 1u);
  EXPECT_FALSE(p.Lookup(kId2).has_value());
  EXPECT_EQ(dockerd.requests(), 4);  // the full refresh just happened
}

TEST(DockerMetadataTest, BadResponsesKeepTheCache) {
  testing::TempDir dir;
  FakeDockerd dockerd(dir.path() + "/docker.sock");
  dockerd.SetResponse(200, ListJson(true));
  testing::FakeClock clock;
  DockerMetadataProvider p(HostPaths{}, clock, OptionsFor(dir.path() + "/docker.sock"));
  ASSERT_TRUE(p.Refresh().ok());
  EXPECT_EQ(p.cached_containers(), 2u);

  dockerd.SetResponse(200, "[{\"Id\":");
  Status st = p.Refresh();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_EQ(p.cached_containers(), 2u);

  dockerd.SetResponse(500, R"({"message":"boom"})");
  st = p.Refresh();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("boom"), std::string::npos);
  EXPECT_EQ(p.cached_containers(), 2u);

  clock.Advance(seconds(31));  // scheduled refresh fails: cached entries still served
  EXPECT_TRUE(p.Lookup(kId2).has_value());
}

TEST(DockerMetadataTest, AbsentDockerIsHarmlessAndCheap) {
  testing::TempDir dir;
  testing::FakeClock clock;
  DockerMetadataProvider p(HostPaths::Under(dir.path()), clock);
  EXPECT_EQ(p.socket_path(), dir.path() + "/var/run/docker.sock");
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(p.Lookup(kId1).has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(500));
  EXPECT_EQ(p.refresh_attempts(), 1u);
  EXPECT_FALSE(p.Refresh().ok());
}

TEST(DockerMetadataTest, MissRefreshBacksOffWhileDockerFails) {
  testing::TempDir dir;
  testing::FakeClock clock;
  DockerMetadataProvider p(HostPaths::Under(dir.path()), clock);
  EXPECT_FALSE(p.Lookup(kId1).has_value());  // attempt 1, miss gap → 4 s
  clock.Advance(seconds(2));
  EXPECT_FALSE(p.Lookup(kId1).has_value());
  EXPECT_EQ(p.refresh_attempts(), 1u);
  clock.Advance(seconds(2));
  EXPECT_FALSE(p.Lookup(kId1).has_value());  // attempt 2, gap → 8 s
  EXPECT_EQ(p.refresh_attempts(), 2u);
  clock.Advance(seconds(7));
  EXPECT_FALSE(p.Lookup(kId1).has_value());
  EXPECT_EQ(p.refresh_attempts(), 2u);

  // Docker comes up: the next allowed refresh succeeds and the gap resets to 2 s.
  std::filesystem::create_directories(dir.path() + "/var/run");
  FakeDockerd dockerd(dir.path() + "/var/run/docker.sock");
  clock.Advance(seconds(1));
  EXPECT_FALSE(p.Lookup(kId1).has_value());  // the fake lists "[]" until told otherwise
  EXPECT_EQ(p.refresh_attempts(), 3u);
  dockerd.SetResponse(200, ListJson(false));
  clock.Advance(seconds(2));
  EXPECT_TRUE(p.Lookup(kId1).has_value());
  EXPECT_EQ(p.refresh_attempts(), 4u);
}

// ---- Real dockerd ----

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

CommandResult RunCommand(const std::string& cmd) {
  CommandResult r;
  FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) r.output.append(buf, n);
  int status = ::pclose(f);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string DockerCli() {
  const char* d = getenv("DOCKER");
  return d != nullptr && *d != '\0' ? d : "/usr/bin/docker";  // Debian's client, like dockerd.sh
}

// Starts dockerd through tests/integration/lib/dockerd.sh, and stops it again only if this test
// started it.
class DockerMetadataPrivilegedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (starts dockerd, runs a container)";
    if (!PathExists("/usr/sbin/dockerd")) GTEST_SKIP() << "/usr/sbin/dockerd missing (docker.io)";
    std::string lib = std::string(TIDEMARK_SOURCE_DIR) + "/tests/integration/lib";
    dockerd_script_ = lib + "/dockerd.sh";
    CommandResult start = RunCommand(dockerd_script_ + " start");
    if (start.exit_code != 0) GTEST_SKIP() << "dockerd cannot start here: " << start.output;
    started_dockerd_ = start.output.find("started pid") != std::string::npos;
    std::cout << "[ dockerd  ] " << Trim(start.output) << "\n";
    CommandResult image = RunCommand(lib + "/make_busybox_image.sh");
    ASSERT_EQ(image.exit_code, 0) << image.output;
    name_ = "tidemark-test-" + std::to_string(getpid());
    (void)RunCommand(DockerCli() + " rm -f " + name_);  // a leftover from a crashed run
  }
  void TearDown() override {
    if (!name_.empty()) RunCommand(DockerCli() + " rm -f " + name_);
    if (started_dockerd_) {
      CommandResult stop = RunCommand(dockerd_script_ + " stop");
      std::cout << "[ dockerd  ] " << Trim(stop.output) << "\n";
    }
  }

  std::string dockerd_script_;
  bool started_dockerd_ = false;
  std::string name_;
};

TEST_F(DockerMetadataPrivilegedTest, ReturnsNameImageAndLabelsOfARunningContainer) {
  CommandResult run = RunCommand(DockerCli() + " run -d --network none --name " + name_ +
                                 " --label com.docker.swarm.service.name=web --label secret=x"
                                 " tidemark-busybox sleep 300");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::string id = Trim(run.output);
  if (size_t nl = id.rfind('\n'); nl != std::string::npos) id = id.substr(nl + 1);
  ASSERT_EQ(id.size(), 64u) << run.output;

  DockerMetadataProvider provider(HostPaths{}, SystemClock::Instance());
  std::optional<ContainerMetadata> m = provider.Lookup(id);
  ASSERT_TRUE(m.has_value()) << "no metadata for " << id;
  EXPECT_EQ(m->name, name_);
  EXPECT_EQ(m->image, "tidemark-busybox");
  EXPECT_EQ(m->labels.at("com.docker.swarm.service.name"), "web");
  EXPECT_EQ(m->labels.at("secret"), "x");
  EXPECT_FALSE(provider.Lookup(std::string(64, 'f')).has_value());

  // Where dockerd put the container's cgroups on this host.
  CommandResult info =
      RunCommand(DockerCli() + " info --format '{{.CgroupDriver}} v{{.CgroupVersion}}'");
  CommandResult pid = RunCommand(DockerCli() + " inspect -f '{{.State.Pid}}' " + id);
  ASSERT_EQ(pid.exit_code, 0) << pid.output;
  Result<std::string> cgroup = ReadFile("/proc/" + Trim(pid.output) + "/cgroup");
  ASSERT_TRUE(cgroup.ok()) << cgroup.status().ToString();
  std::cout << "[ cgroups  ] driver " << Trim(info.output) << "; /proc/<pid>/cgroup:\n" << *cgroup;
  EXPECT_NE(cgroup->find(id), std::string::npos) << *cgroup;

  const std::string candidates[] = {
      "/sys/fs/cgroup/memory/docker/" + id,                          // v1, cgroupfs driver
      "/sys/fs/cgroup/memory/system.slice/docker-" + id + ".scope",  // v1, systemd driver
      "/sys/fs/cgroup/unified/docker/" + id,                         // hybrid v2 hierarchy
      "/sys/fs/cgroup/docker/" + id,                                 // pure v2, cgroupfs
      "/sys/fs/cgroup/system.slice/docker-" + id + ".scope",         // pure v2, systemd
  };
  int found = 0;
  for (const std::string& c : candidates) {
    if (PathExists(c)) {
      std::cout << "[ cgroups  ] exists: " << c << "\n";
      ++found;
    }
  }
  EXPECT_GT(found, 0) << "no cgroup directory for " << id;
}

}  // namespace
}  // namespace tidemark::collector

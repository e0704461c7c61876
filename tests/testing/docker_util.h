// A private dockerd in Swarm mode for *PrivilegedTest suites (header-only, so any test binary can
// use it). It never touches a system dockerd: its own socket, data-root, exec-root and pidfile
// live under a fresh /tmp/tmd-XXXXXX, started and stopped by tests/integration/lib/dockerd.sh
// (the shell tests' helper), with the busybox image from make_busybox_image.sh.
// Measured here: Start() takes about 3-4 s (dockerd ~1 s, swarm init ~1 s, image import ~2 s);
// Stop() a few seconds more when services still run.
#pragma once

#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace tidemark::testing {

class PrivateDockerd {
 public:
  static constexpr char kImage[] = "tidemark-busybox:test";

  PrivateDockerd() = default;
  PrivateDockerd(const PrivateDockerd&) = delete;
  PrivateDockerd& operator=(const PrivateDockerd&) = delete;
  ~PrivateDockerd() { Stop(); }

  // Why this machine cannot run it ("" when it can): root, dockerd, docker CLI, busybox-static.
  static std::string SkipReason() {
    if (geteuid() != 0) return "needs root to start a private dockerd";
    for (const char* bin : {"/usr/sbin/dockerd", "/usr/bin/docker", "/bin/busybox"}) {
      if (access(bin, X_OK) != 0) {
        return std::string(bin) + " missing (apt-get install docker.io busybox-static)";
      }
    }
    return "";
  }

  // Starts dockerd, `docker swarm init`s it on 127.0.0.1 (unless !swarm) and imports kImage. ""
  // on success, else what failed with its output (the daemon is stopped again).
  std::string Start(bool swarm = true) {
    char tmpl[] = "/tmp/tmd-XXXXXX";  // Short: containerd's sockets live under the exec-root.
    if (mkdtemp(tmpl) == nullptr) return "mkdtemp failed";
    dir_ = tmpl;
    socket_ = dir_ + "/docker.sock";
    std::string out;
    if (Run(Env() + " bash " + Lib("dockerd.sh") + " start", &out) != 0) {
      std::string err = "dockerd.sh start failed: " + out;
      Stop();
      return err;
    }
    started_ = true;
    // Free ports, so private daemons of tests running at the same time do not collide on 2377.
    std::string swarm_port = std::to_string(FreePort(SOCK_STREAM));
    if (swarm &&
        Docker("swarm init --advertise-addr 127.0.0.1:" + swarm_port + " --listen-addr 127.0.0.1:" +
                   swarm_port + " --data-path-port " + std::to_string(FreePort(SOCK_DGRAM)),
               &out) != 0 &&
        out.find("already part of a swarm") == std::string::npos) {
      std::string err = "docker swarm init failed: " + out;
      Stop();
      return err;
    }
    if (Run("DOCKER_HOST=unix://" + socket_ + " IMAGE=" + kImage + " DOCKER=/usr/bin/docker bash " +
                Lib("make_busybox_image.sh"),
            &out) != 0) {
      std::string err = "make_busybox_image.sh failed: " + out;
      Stop();
      return err;
    }
    return "";
  }

  // Removes every service, leaves the swarm, stops the daemon (SIGTERM, SIGKILL after 30 s),
  // unmounts what it left under its directories and deletes them. Idempotent.
  void Stop() {
    if (dir_.empty()) return;
    std::string out;
    if (started_) {
      Docker("service rm $(docker -H unix://" + socket_ + " service ls -q) 2>/dev/null", &out);
      // Give the removed tasks' containers a moment to go, so dockerd stops quickly.
      Run("for i in $(seq 1 40); do [ -z \"$(docker -H unix://" + socket_ +
              " ps -q 2>/dev/null)\" ] && break; sleep 0.25; done",
          &out);
      Docker("swarm leave --force", &out);
      Run(Env() + " bash " + Lib("dockerd.sh") + " stop", &out);
      started_ = false;
    }
    // Leftover overlay/netns/shm mounts below our directories, deepest first.
    Run("grep -o ' " + dir_ + "[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l", &out);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }

  const std::string& socket() const { return socket_; }
  std::string endpoint() const { return "unix://" + socket_; }

  // Runs `docker -H unix://<socket> <args>` (args are shell words). Exit status; stdout+stderr in
  // *out.
  int Docker(const std::string& args, std::string* out) const {
    return Run("/usr/bin/docker -H unix://" + socket_ + " " + args, out);
  }

  // Runs a shell command; exit status, stdout+stderr in *out.
  static int Run(const std::string& cmd, std::string* out) {
    out->clear();
    FILE* p = popen(("(" + cmd + ") 2>&1").c_str(), "r");
    if (p == nullptr) return -1;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out->append(buf.data(), n);
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }

 private:
  // A port in [20000, 32767] (inside Swarm's 1024-49151, below Linux's ephemeral range) that
  // binds right now on 127.0.0.1, for `type` SOCK_STREAM or SOCK_DGRAM; 0 when none was found.
  static int FreePort(int type) {
    static unsigned seed = static_cast<unsigned>(getpid()) * 2654435761u;
    for (int attempt = 0; attempt < 100; ++attempt) {
      seed = seed * 1103515245u + 12345u;
      int port = 20000 + static_cast<int>((seed >> 8) % 12768);
      int fd = ::socket(AF_INET, type, 0);
      if (fd < 0) return 0;
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(port));
      bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
      ::close(fd);
      if (ok) return port;
    }
    return 0;
  }
  static std::string Lib(const std::string& script) {
    return std::string(TIDEMARK_SOURCE_DIR) + "/tests/integration/lib/" + script;
  }
  std::string Env() const {
    return "TIDEMARK_DOCKERD_STATE=" + dir_ + "/s TIDEMARK_DOCKERD_EXEC_ROOT=" + dir_ +
           "/x DOCKER_HOST_SOCK=" + socket_ + " DOCKER=/usr/bin/docker";
  }

  std::string dir_;
  std::string socket_;
  bool started_ = false;
};

}  // namespace tidemark::testing

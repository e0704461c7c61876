// Helpers of the eBPF privileged tests: real cgroups in every hierarchy the readers resolve
// against, and forked children placed in them.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "ebpf/cgroup_resolver.h"

namespace tidemark::ebpf::testing {

inline bool WriteString(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  ::close(fd);
  return ok;
}

inline uint64_t Inode(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

// /tidemark-ebpf-test-<pid>-<suffix> in the unified, memory and blkio hierarchies (each distinct
// root once); children adopted into it are killed and the cgroup removed on destruction.
class TestCgroup {
 public:
  TestCgroup(const CgroupRoots& roots, const std::string& suffix)
      : rel_("/tidemark-ebpf-test-" + std::to_string(::getpid()) + "-" + suffix), roots_(roots) {
    for (const std::string* root : {&roots.unified, &roots.memory, &roots.blkio}) {
      if (root->empty()) continue;
      std::string dir = *root + rel_;
      bool seen = false;
      for (const std::string& d : dirs_) seen = seen || d == dir;
      if (seen) continue;
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
    for (const std::string& dir : dirs_) {
      for (int i = 0; i < 500 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;

  const std::string& rel() const { return rel_; }
  std::string Dir(CgroupHierarchy h) const { return roots_.Of(h) + rel_; }
  uint64_t Id(CgroupHierarchy h) const { return Inode(Dir(h)); }

  // Moves `pid` into this cgroup in every hierarchy; the cgroup kills it at destruction unless
  // Reaped() says the test did.
  void Adopt(pid_t pid) {
    children_.push_back(pid);
    for (const std::string& dir : dirs_) {
      EXPECT_TRUE(WriteString(dir + "/cgroup.procs", std::to_string(pid)))
          << dir << ": " << strerror(errno);
    }
  }
  void Reaped(pid_t pid) { std::erase(children_, pid); }

 private:
  std::string rel_;
  CgroupRoots roots_;
  std::vector<std::string> dirs_;
  std::vector<pid_t> children_;
};

// A forked child blocked until Go(); then runs `body` and _exit()s with its result.
struct Child {
  pid_t pid = -1;
  int go_fd = -1;
  bool Go() {
    bool ok = ::write(go_fd, "g", 1) == 1;
    ::close(go_fd);
    go_fd = -1;
    return ok;
  }
  // Waits for the child to end; its wait status.
  int Wait() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
  }
};

template <typename Body>
Child Fork(Body body) {
  int go[2];
  if (::pipe2(go, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(go[1]);
    char c;
    if (::read(go[0], &c, 1) != 1) _exit(100);
    _exit(body());
  }
  ::close(go[0]);
  return Child{pid, go[1]};
}

// Empty when the privileged eBPF tests can run here, else the reason to skip.
inline std::string EbpfSkipReason() {
  if (::geteuid() != 0) return "needs root (loads BPF programs, creates cgroups)";
  if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) return "kernel has no BTF";
  if (::access("/sys/fs/cgroup", W_OK) != 0) return "/sys/fs/cgroup is not writable";
  return "";
}

}  // namespace tidemark::ebpf::testing

// Shared test helpers: temporary directories, fixture paths, fake clock, privilege checks.
#pragma once

#include <chrono>
#include <string>

#include "common/clock.h"

namespace tidemark::testing {

// Absolute path of tests/fixtures/<rel>.
std::string FixturePath(const std::string& rel);

// A fresh directory under $TMPDIR, removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `content` to path()/rel, creating parent directories.
  void WriteFile(const std::string& rel, const std::string& content) const;

 private:
  std::string path_;
};

// A clock tests set and advance by hand. Thread-safe enough for single-threaded tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point start =
                         std::chrono::system_clock::time_point(std::chrono::seconds(1700000000)))
      : now_(start) {}
  std::chrono::system_clock::time_point Now() const override { return now_; }
  std::chrono::steady_clock::time_point MonotonicNow() const override {
    return std::chrono::steady_clock::time_point(now_.time_since_epoch());
  }
  void Set(std::chrono::system_clock::time_point t) { now_ = t; }
  void Advance(std::chrono::nanoseconds d) {
    now_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  }

 private:
  std::chrono::system_clock::time_point now_;
};

// Empty when the process can run privileged tests (root, cgroup fs writable); otherwise the reason
// to pass to GTEST_SKIP().
std::string PrivilegedSkipReason();

}  // namespace tidemark::testing

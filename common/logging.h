// Process-wide logging setup on spdlog, and a rate limiter for run-time warnings.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/status.h"

namespace tidemark {

enum class LogFormat { kText, kJson };

// Parses "debug", "info", "warn", "error" (also "trace", "off"); InvalidArgument otherwise.
Status ValidateLogLevel(std::string_view level);
// Configures the default spdlog logger to write to stderr in `format` at `level`. Call once at
// start-up, before other threads log.
Status SetupLogging(std::string_view level, LogFormat format);

// Lets one event per key through per `interval`; counts the rest. Thread-safe.
class RateLimiter {
 public:
  RateLimiter(const Clock& clock, std::chrono::steady_clock::duration interval)
      : clock_(clock), interval_(interval) {}
  // True when the caller should log now; *suppressed (optional) gets how many were held back
  // since the last time this key was let through.
  bool Allow(std::string_view key, uint64_t* suppressed = nullptr);

 private:
  struct Entry {
    std::chrono::steady_clock::time_point last;
    uint64_t suppressed = 0;
  };
  const Clock& clock_;
  const std::chrono::steady_clock::duration interval_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // Guarded by mu_.
};

// The body of a background thread: runs `body` until it returns; an exception escaping it (which
// would otherwise terminate the agent) is logged as an error naming `thread` and `body` is run
// again after a second, so the subsystem keeps working with the state it kept.
void RunGuarded(std::string_view thread, const std::function<void()>& body);

}  // namespace tidemark

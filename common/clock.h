// Time source. Everything that needs "now" takes a Clock& so tests can drive time.
#pragma once

#include <chrono>
#include <cstdint>

namespace tidemark {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (Unix epoch). Thread-safe.
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // Monotonic time for durations and timers. Thread-safe.
  virtual std::chrono::steady_clock::time_point MonotonicNow() const = 0;
};

// The real clocks. Thread-safe; stateless.
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override;
  std::chrono::steady_clock::time_point MonotonicNow() const override;
  static SystemClock& Instance();
};

// Milliseconds since the Unix epoch, as Prometheus timestamps are.
int64_t ToUnixMillis(std::chrono::system_clock::time_point t);

}  // namespace tidemark

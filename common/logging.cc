#include "common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <thread>

namespace tidemark {

namespace {

// One JSON object per line: {"ts":"2026-11-22T05:03:01.123Z","level":"info","msg":"..."}.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto t = std::chrono::system_clock::to_time_t(msg.time);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count() %
        1000;
    std::tm tm;
    gmtime_r(&t, &tm);
    char ts[40];
    size_t n = std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(ts + n, sizeof(ts) - n, ".%03lldZ", static_cast<long long>(ms));
    std::string out = "{\"ts\":\"";
    out += ts;
    out += "\",\"level\":\"";
    auto lv = spdlog::level::to_string_view(msg.level);
    out.append(lv.data(), lv.size());
    out += "\",\"msg\":\"";
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            out += buf;
          } else {
            out += c;
          }
      }
    }
    out += "\"}\n";
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

Status ValidateLogLevel(std::string_view level) {
  static constexpr std::string_view kLevels[] = {"trace", "debug",    "info", "warn",
                                                 "error", "critical", "off"};
  for (auto l : kLevels) {
    if (l == level) return Status::Ok();
  }
  return Status::InvalidArgument("log level \"" + std::string(level) +
                                 "\" must be one of trace, debug, info, warn, error, off");
}

Status SetupLogging(std::string_view level, LogFormat format) {
  TIDEMARK_RETURN_IF_ERROR(ValidateLogLevel(level));
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("tidemark", sink);
  if (format == LogFormat::kJson) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  }
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  return Status::Ok();
}

bool RateLimiter::Allow(std::string_view key, uint64_t* suppressed) {
  auto now = clock_.MonotonicNow();
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = entries_.try_emplace(std::string(key));
  Entry& e = it->second;
  if (inserted || now - e.last >= interval_) {
    if (suppressed != nullptr) *suppressed = e.suppressed;
    e.last = now;
    e.suppressed = 0;
    return true;
  }
  ++e.suppressed;
  return false;
}

void RunGuarded(std::string_view thread, const std::function<void()>& body) {
  for (;;) {
    try {
      body();
      return;
    } catch (const std::exception& e) {
      spdlog::error("{}: unexpected error, restarting in 1s: {}", thread, e.what());
    } catch (...) {
      spdlog::error("{}: unexpected non-standard exception, restarting in 1s", thread);
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace tidemark

#include "common/duration.h"

#include <cstdint>
#include <limits>

namespace tidemark {

namespace {
struct Unit {
  std::string_view suffix;
  int64_t ms;
};
// Order matters: "ms" must be tried before "m" and "s".
constexpr Unit kUnits[] = {{"y", 365LL * 24 * 3600 * 1000},
                           {"w", 7LL * 24 * 3600 * 1000},
                           {"d", 24LL * 3600 * 1000},
                           {"h", 3600LL * 1000},
                           {"ms", 1},
                           {"m", 60LL * 1000},
                           {"s", 1000}};
// Canonical order of appearance (y w d h m s ms).
constexpr int kRank[] = {0, 1, 2, 3, 6, 4, 5};
}  // namespace

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&](const char* why) {
    return Status::InvalidArgument("invalid duration \"" + std::string(text) + "\": " + why);
  };
  if (text.empty()) return bad("empty");
  if (text == "0") return std::chrono::milliseconds(0);
  int64_t total = 0;
  int last_rank = -1;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') return bad("expected a number");
    int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (n > (std::numeric_limits<int64_t>::max() - 9) / 10) return bad("too large");
      n = n * 10 + (text[i] - '0');
      ++i;
    }
    int found = -1;
    for (int u = 0; u < 7; ++u) {
      if (text.substr(i).starts_with(kUnits[u].suffix)) {
        found = u;
        break;
      }
    }
    if (found < 0) return bad("unknown or missing unit (use ms, s, m, h, d, w, y)");
    if (kRank[found] <= last_rank) return bad("units must appear once, largest first");
    last_rank = kRank[found];
    i += kUnits[found].suffix.size();
    if (n > std::numeric_limits<int64_t>::max() / kUnits[found].ms) return bad("too large");
    int64_t add = n * kUnits[found].ms;
    if (total > std::numeric_limits<int64_t>::max() - add) return bad("too large");
    total += add;
  }
  return std::chrono::milliseconds(total);
}

std::string FormatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  static constexpr Unit kOrder[] = {{"y", 365LL * 24 * 3600 * 1000},
                                    {"w", 7LL * 24 * 3600 * 1000},
                                    {"d", 24LL * 3600 * 1000},
                                    {"h", 3600LL * 1000},
                                    {"m", 60LL * 1000},
                                    {"s", 1000},
                                    {"ms", 1}};
  for (const Unit& u : kOrder) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms);
      out += u.suffix;
      ms %= u.ms;
    }
  }
  return out;
}

}  // namespace tidemark

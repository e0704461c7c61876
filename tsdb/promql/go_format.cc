#include "tsdb/promql/go_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iterator>

namespace tidemark::promql {

int64_t PromMillisFromSeconds(double seconds) { return GoFloatToInt64(std::round(seconds * 1000)); }

std::string FormatAtTimestamp(int64_t ms) {
  const double seconds = static_cast<double>(ms) / 1000.0;
  std::string text = FormatGoFixed(seconds, 3);
  double parsed = 0;
  std::from_chars(text.data() + (text[0] == '-' ? 1 : 0), text.data() + text.size(), parsed);
  if (text[0] == '-') parsed = -parsed;
  if (PromMillisFromSeconds(parsed) == ms) return text;
  // Look for a nearby double that parses back to `ms` and print it with all the digits it needs.
  double up = seconds;
  double down = seconds;
  for (int i = 0; i < 64; ++i) {
    for (double d : {up, down}) {
      if (PromMillisFromSeconds(d) == ms) {
        char buf[400];
        auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::fixed);
        return std::string(buf, res.ptr);
      }
    }
    up = std::nextafter(up, INFINITY);
    down = std::nextafter(down, -INFINITY);
  }
  return text;
}

std::string FormatPromDuration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string r;
  auto unit = [&](const char* name, int64_t mult, bool exact) {
    if (exact && ms % mult != 0) return;
    if (int64_t v = ms / mult; v > 0) {
      r += std::to_string(v);
      r += name;
      ms -= v * mult;
    }
  };
  constexpr int64_t kDay = 1000LL * 60 * 60 * 24;
  unit("y", kDay * 365, true);
  unit("w", kDay * 7, true);
  unit("d", kDay, false);
  unit("h", 1000LL * 60 * 60, false);
  unit("m", 1000LL * 60, false);
  unit("s", 1000, false);
  unit("ms", 1, false);
  return r;
}

}  // namespace tidemark::promql

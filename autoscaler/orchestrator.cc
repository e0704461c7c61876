#include "autoscaler/orchestrator.h"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace tidemark::autoscaler {

std::string ScaleTarget::Describe() const {
  if (kind == "SwarmService") return "swarm service " + name;
  std::string k = kind == "StatefulSet" ? "statefulset " : "deployment ";
  return k + namespace_ + "/" + name;
}

int64_t ParseApiTimeMillis(std::string_view s) {
  int y, mo, d, h, mi, sec, n = 0;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
      n != 19 || y <= 1) {
    return 0;
  }
  size_t i = 19;
  int64_t ms = 0;
  if (i < str.size() && str[i] == '.') {
    int digits = 0;
    for (++i; i < str.size() && std::isdigit(static_cast<unsigned char>(str[i])); ++i, ++digits) {
      if (digits < 3) ms = ms * 10 + (str[i] - '0');
    }
    for (; digits < 3; ++digits) ms *= 10;
  }
  int64_t offset_s = 0;
  if (i < str.size() && (str[i] == '+' || str[i] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(str.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return 0;
    offset_s = (str[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  } else if (i >= str.size() || (str[i] != 'Z' && str[i] != 'z')) {
    return 0;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return (static_cast<int64_t>(timegm(&tm)) - offset_s) * 1000 + ms;
}

std::string PercentEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace tidemark::autoscaler

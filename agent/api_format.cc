#include "agent/api_format.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "common/duration.h"
#include "common/go_format.h"

namespace tidemark::agent {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Bytes encoding/json copies verbatim: printable ASCII except '"', '\\', '<', '>' and '&'.
constexpr std::array<bool, 256> MakeJsonSafe() {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = true;
  for (char c : {'"', '\\', '<', '>', '&'}) t[static_cast<unsigned char>(c)] = false;
  return t;
}
constexpr std::array<bool, 256> kJsonSafe = MakeJsonSafe();

void AppendU4(uint32_t r, std::string* out) {
  *out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) *out += kHex[(r >> shift) & 0xF];
}

int64_t WrapMul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}
int64_t WrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// time.Unix(sec, nsec)'s normalisation, with Go's wrapping arithmetic.
ApiTime GoUnix(int64_t sec, int64_t nsec) {
  if (nsec < 0 || nsec >= 1'000'000'000) {
    int64_t n = nsec / 1'000'000'000;
    sec = WrapAdd(sec, n);
    nsec -= n * 1'000'000'000;
    if (nsec < 0) {
      nsec += 1'000'000'000;
      sec = WrapAdd(sec, -1);
    }
  }
  return ApiTime{sec, nsec};
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int Num(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int DaysIn(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

// Go's time.Parse(time.RFC3339Nano, s) for 4-digit years.
bool ParseRfc3339Nano(std::string_view s, ApiTime* out) {
  if (s.size() < 4 || !AllDigits(s.substr(0, 4))) return false;
  int year = Num(s.substr(0, 4));
  s.remove_prefix(4);
  auto two = [&](char sep, int* v) {
    if (s.size() < 3 || s[0] != sep || !AllDigits(s.substr(1, 2))) return false;
    *v = Num(s.substr(1, 2));
    s.remove_prefix(3);
    return true;
  };
  int month, day, hour, minute, second;
  if (!two('-', &month) || month < 1 || month > 12) return false;
  if (!two('-', &day)) return false;
  if (s.empty() || s[0] != 'T') return false;
  s.remove_prefix(1);
  // Go's "15" takes one or two digits.
  size_t hd = 0;
  while (hd < 2 && hd < s.size() && s[hd] >= '0' && s[hd] <= '9') ++hd;
  if (hd == 0) return false;
  hour = Num(s.substr(0, hd));
  s.remove_prefix(hd);
  if (hour >= 24) return false;
  if (!two(':', &minute) || minute >= 60) return false;
  if (!two(':', &second) || second >= 60) return false;
  int64_t nsec = 0;
  if (s.size() >= 2 && (s[0] == '.' || s[0] == ',') && s[1] >= '0' && s[1] <= '9') {
    size_t n = 0;
    while (n < 9 && n + 1 < s.size() && s[n + 1] >= '0' && s[n + 1] <= '9') ++n;
    std::string_view digits = s.substr(1, n);
    for (size_t k = 0; k < 9; ++k) nsec = nsec * 10 + (k < digits.size() ? digits[k] - '0' : 0);
    s.remove_prefix(1 + n);
  }
  if (day < 1 || day > DaysIn(year, month)) return false;
  int64_t offset = 0;
  if (s == "Z") {
    s = {};
  } else if (s.size() == 6 && (s[0] == '+' || s[0] == '-') && s[3] == ':' &&
             AllDigits(s.substr(1, 2)) && AllDigits(s.substr(4, 2))) {
    offset = (Num(s.substr(1, 2)) * 3600 + Num(s.substr(4, 2)) * 60) * (s[0] == '-' ? -1 : 1);
    s = {};
  } else {
    return false;
  }
  int64_t secs =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second - offset;
  *out = ApiTime{secs, nsec};
  return true;
}

constexpr std::string_view kSuccessPrefix = "{\"status\":\"success\",\"data\":";

constexpr char kMinTimeFormatted[] = "-292273086-05-16T16:47:06Z";
constexpr char kMaxTimeFormatted[] = "292277026596-12-04T15:30:07.999999999Z";

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  *out += '"';
  for (size_t i = 0; i < s.size();) {
    // Fast path: append the run of bytes that need no escaping in one go.
    size_t run = i;
    while (run < s.size() && kJsonSafe[static_cast<unsigned char>(s[run])]) ++run;
    if (run > i) {
      out->append(s.data() + i, run - i);
      i = run;
      if (i == s.size()) break;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          *out += "\\\"";
          break;
        case '\\':
          *out += "\\\\";
          break;
        case '\n':
          *out += "\\n";
          break;
        case '\r':
          *out += "\\r";
          break;
        case '\t':
          *out += "\\t";
          break;
        default:  // '<', '>', '&' and the other control characters.
          AppendU4(c, out);
      }
      ++i;
      continue;
    }
    int n = 0;
    const int32_t rune = DecodeRune(s, i, &n);
    if (rune == 0xFFFD && n == 1) {  // Invalid UTF-8.
      *out += "\\ufffd";
      ++i;
      continue;
    }
    if (rune == 0x2028 || rune == 0x2029) {
      AppendU4(static_cast<uint32_t>(rune), out);
    } else {
      out->append(s.substr(i, static_cast<size_t>(n)));
    }
    i += static_cast<size_t>(n);
  }
  *out += '"';
}

void AppendJsonNumber(double v, std::string* out) {
  double a = std::fabs(v);
  bool e = a != 0 && (a < 1e-6 || a >= 1e21);
  size_t start = out->size();
  AppendGoFloat(v, e ? 'e' : 'f', out);
  if (e) {
    // encoding/json writes e-07 as e-7.
    size_t n = out->size() - start;
    std::string& b = *out;
    size_t end = b.size();
    if (n >= 4 && b[end - 4] == 'e' && b[end - 3] == '-' && b[end - 2] == '0') {
      b[end - 2] = b[end - 1];
      b.pop_back();
    }
  }
}

void AppendSampleValue(double v, std::string* out) {
  double a = std::fabs(v);
  bool e = a != 0 && (a < 1e-6 || a >= 1e21);
  *out += '"';
  AppendGoFloat(v, e ? 'e' : 'f', out);
  *out += '"';
}

void AppendSampleTimestamp(int64_t ms, std::string* out) {
  uint64_t t = static_cast<uint64_t>(ms);
  if (ms < 0) {
    *out += '-';
    t = 0 - t;
  }
  *out += std::to_string(t / 1000);
  uint64_t frac = t % 1000;
  if (frac != 0) {
    *out += '.';
    if (frac < 100) *out += '0';
    if (frac < 10) *out += '0';
    *out += std::to_string(frac);
  }
}

void AppendLabelsJson(const Labels& labels, std::string* out) {
  *out += '{';
  bool first = true;
  for (const Label& l : labels) {
    if (!first) *out += ',';
    first = false;
    AppendJsonString(l.name, out);
    *out += ':';
    AppendJsonString(l.value, out);
  }
  *out += '}';
}

void AppendStringArray(const std::vector<std::string>& values, std::string* out) {
  *out += '[';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) *out += ',';
    AppendJsonString(values[i], out);
  }
  *out += ']';
}

namespace {

// A generous estimate of FormatQueryData's size (plus SuccessBody's envelope), so that the body is
// built without regrowing the buffer.
size_t EstimateQueryDataSize(const promql::Value& value) {
  auto labels_size = [](const Labels& labels) {
    size_t n = 2;
    for (const Label& l : labels) n += l.name.size() + l.value.size() + 6;
    return n;
  };
  size_t n = 128;
  switch (value.type) {
    case promql::ValueType::kString:
      n += value.str.size() + value.str.size() / 8;
      break;
    case promql::ValueType::kVector:
      for (const promql::Sample& s : value.vector) n += labels_size(s.metric) + 64;
      break;
    case promql::ValueType::kMatrix:
      for (const promql::Series& s : value.matrix)
        n += labels_size(s.metric) + 32 + s.points.size() * 40;
      break;
    default:
      break;
  }
  return n;
}

}  // namespace

std::string FormatQueryData(const promql::Value& value) {
  std::string out;
  out.reserve(EstimateQueryDataSize(value));
  out += "{\"resultType\":";
  AppendJsonString(promql::ApiTypeName(value.type), &out);
  out += ",\"result\":";
  switch (value.type) {
    case promql::ValueType::kScalar:
    case promql::ValueType::kString:
      out += '[';
      AppendJsonNumber(static_cast<double>(value.scalar.t) / 1000, &out);
      out += ',';
      if (value.type == promql::ValueType::kScalar) {
        std::string v;
        AppendGoFloat(value.scalar.v, 'f', &v);
        AppendJsonString(v, &out);
      } else {
        AppendJsonString(value.str, &out);
      }
      out += ']';
      break;
    case promql::ValueType::kVector:
      out += '[';
      for (size_t i = 0; i < value.vector.size(); ++i) {
        const promql::Sample& s = value.vector[i];
        if (i > 0) out += ',';
        out += "{\"metric\":";
        AppendLabelsJson(s.metric, &out);
        out += ",\"value\":[";
        AppendSampleTimestamp(s.t, &out);
        out += ',';
        AppendSampleValue(s.v, &out);
        out += "]}";
      }
      out += ']';
      break;
    case promql::ValueType::kMatrix:
      out += '[';
      for (size_t i = 0; i < value.matrix.size(); ++i) {
        const promql::Series& s = value.matrix[i];
        if (i > 0) out += ',';
        out += "{\"metric\":";
        AppendLabelsJson(s.metric, &out);
        out += ",\"values\":[";
        for (size_t k = 0; k < s.points.size(); ++k) {
          if (k > 0) out += ',';
          out += '[';
          AppendSampleTimestamp(s.points[k].t, &out);
          out += ',';
          AppendSampleValue(s.points[k].v, &out);
          out += ']';
        }
        out += "]}";
      }
      out += ']';
      break;
    case promql::ValueType::kNone:
      out += "null";
      break;
  }
  out += '}';
  return out;
}

std::string SuccessBody(std::string_view data_json, const std::vector<std::string>& warnings) {
  std::string out(kSuccessPrefix);
  out += data_json;
  if (!warnings.empty()) {
    out += ",\"warnings\":";
    AppendStringArray(warnings, &out);
  }
  out += '}';
  return out;
}

std::string SuccessBodyInPlace(std::string&& data_json, const std::vector<std::string>& warnings) {
  std::string out = std::move(data_json);
  out.insert(0, kSuccessPrefix);
  if (!warnings.empty()) {
    out += ",\"warnings\":";
    AppendStringArray(warnings, &out);
  }
  out += '}';
  return out;
}

std::string ErrorBody(std::string_view error_type, std::string_view message,
                      const std::vector<std::string>& warnings) {
  std::string out = "{\"status\":\"error\",\"errorType\":";
  AppendJsonString(error_type, &out);
  out += ",\"error\":";
  AppendJsonString(message, &out);
  if (!warnings.empty()) {
    out += ",\"warnings\":";
    AppendStringArray(warnings, &out);
  }
  out += '}';
  return out;
}

Result<ApiTime> ParseApiTime(std::string_view s) {
  double f = 0;
  if (ParseGoFloat(s, &f)) {
    double ipart = 0;
    double frac = std::isinf(f) ? std::numeric_limits<double>::quiet_NaN() : std::modf(f, &ipart);
    if (std::isinf(f)) ipart = f;
    frac = std::round(frac * 1000) / 1000;
    return GoUnix(GoFloatToInt64(ipart), GoFloatToInt64(frac * 1e9));
  }
  ApiTime t;
  if (ParseRfc3339Nano(s, &t)) return t;
  if (s == kMinTimeFormatted) return ApiMinTime();
  if (s == kMaxTimeFormatted) return ApiMaxTime();
  return Status::InvalidArgument("cannot parse " + GoQuote(s) + " to a valid timestamp");
}

ApiTime ApiMinTime() {
  return ApiTime{std::numeric_limits<int64_t>::min() / 1000 + 62135596801, 0};
}

ApiTime ApiMaxTime() {
  return ApiTime{std::numeric_limits<int64_t>::max() / 1000 - 62135596801, 999999999};
}

int64_t ApiTimeToMillis(ApiTime t) { return WrapAdd(WrapMul(t.sec, 1000), t.nsec / 1'000'000); }

int64_t ApiTimeToEngineMillis(ApiTime t) {
  return WrapAdd(WrapMul(t.sec, 1'000'000'000), t.nsec) / 1'000'000;
}

Result<int64_t> ParseApiDuration(std::string_view s) {
  double f = 0;
  if (ParseGoFloat(s, &f)) {
    double ns = f * 1e9;
    if (ns > 9223372036854775807.0 || ns < -9223372036854775808.0) {
      return Status::InvalidArgument("cannot parse " + GoQuote(s) +
                                     " to a valid duration. It overflows int64");
    }
    return GoFloatToInt64(ns);
  }
  auto d = ParseDuration(s);
  if (d.ok()) {
    if (d->count() > std::numeric_limits<int64_t>::max() / 1'000'000) {
      return Status::InvalidArgument("cannot parse " + GoQuote(s) +
                                     " to a valid duration. It overflows int64");
    }
    return static_cast<int64_t>(d->count()) * 1'000'000;
  }
  return Status::InvalidArgument("cannot parse " + GoQuote(s) + " to a valid duration");
}

}  // namespace tidemark::agent

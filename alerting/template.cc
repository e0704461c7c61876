#include "alerting/template.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/duration.h"
#include "common/go_format.h"

namespace tidemark::alerting {
namespace {

using StrMap = std::map<std::string, std::string>;

// A template value: the Go types Prometheus' template data and functions use.
struct Value {
  enum Kind { kNil, kBool, kInt, kFloat, kString, kMap, kRoot } kind = kNil;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::shared_ptr<const StrMap> m;

  static Value Bool(bool v) {
    Value x;
    x.kind = kBool;
    x.b = v;
    return x;
  }
  static Value Int(int64_t v) {
    Value x;
    x.kind = kInt;
    x.i = v;
    return x;
  }
  static Value Float(double v) {
    Value x;
    x.kind = kFloat;
    x.f = v;
    return x;
  }
  static Value Str(std::string v) {
    Value x;
    x.kind = kString;
    x.s = std::move(v);
    return x;
  }
  static Value Map(std::shared_ptr<const StrMap> v) {
    Value x;
    x.kind = kMap;
    x.m = std::move(v);
    return x;
  }
};

std::string TypeName(const Value& v) {
  switch (v.kind) {
    case Value::kNil:
      return "<nil>";
    case Value::kBool:
      return "bool";
    case Value::kInt:
      return "int";
    case Value::kFloat:
      return "float64";
    case Value::kString:
      return "string";
    case Value::kMap:
      return "map[string]string";
    case Value::kRoot:
      return "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL "
             "string; Value float64 }";
  }
  return "?";
}

bool Truth(const Value& v) {
  switch (v.kind) {
    case Value::kNil:
      return false;
    case Value::kBool:
      return v.b;
    case Value::kInt:
      return v.i != 0;
    case Value::kFloat:
      return v.f != 0;
    case Value::kString:
      return !v.s.empty();
    case Value::kMap:
      return v.m && !v.m->empty();
    case Value::kRoot:
      return true;
  }
  return false;
}

// fmt's %v of a value.
std::string Print(const Value& v) {
  switch (v.kind) {
    case Value::kNil:
      return "<nil>";
    case Value::kBool:
      return v.b ? "true" : "false";
    case Value::kInt:
      return std::to_string(v.i);
    case Value::kFloat:
      return FormatGoFloat(v.f, 'g');
    case Value::kString:
      return v.s;
    case Value::kMap: {
      std::string out = "map[";
      bool first = true;
      if (v.m) {
        for (const auto& [k, val] : *v.m) {
          if (!first) out += ' ';
          first = false;
          out += k + ":" + val;
        }
      }
      return out + "]";
    }
    case Value::kRoot:
      return "{...}";
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Go fmt subset for printf.

std::string FormatNonFinite(double v, bool plus) {
  if (std::isnan(v)) return plus ? "+NaN" : "NaN";
  return v > 0 ? "+Inf" : "-Inf";
}

std::string CFormat(const char* fmt, int prec, double v) {
  char buf[512];
  std::snprintf(buf, sizeof(buf), fmt, prec, v);
  return buf;
}

struct Spec {
  bool minus = false, plus = false, sharp = false, space = false, zero = false;
  int width = -1, prec = -1;
  char verb = 'v';
};

std::string Pad(std::string s, const Spec& sp, bool numeric) {
  if (sp.width < 0 || static_cast<int>(s.size()) >= sp.width) return s;
  size_t n = static_cast<size_t>(sp.width) - s.size();
  if (sp.minus) return s + std::string(n, ' ');
  if (sp.zero && numeric) {
    size_t at = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    s.insert(at, std::string(n, '0'));
    return s;
  }
  return std::string(n, ' ') + s;
}

std::string BadVerb(char verb, const Value& v) {
  if (v.kind == Value::kNil) return std::string("%!") + verb + "(<nil>)";
  return std::string("%!") + verb + "(" + TypeName(v) + "=" + Print(v) + ")";
}

std::string FormatFloatVerb(double v, const Spec& sp) {
  std::string s;
  if (!std::isfinite(v)) {
    s = FormatNonFinite(v, sp.plus);
    Spec nz = sp;
    nz.zero = false;
    return Pad(s, nz, false);
  }
  switch (sp.verb) {
    case 'v':
    case 'g':
    case 'G':
      s = sp.prec < 0 ? FormatGoFloat(v, 'g') : FormatGoG(v, sp.prec);
      break;
    case 'f':
    case 'F':
      s = FormatGoFixed(v, sp.prec < 0 ? 6 : sp.prec);
      break;
    case 'e':
    case 'E':
      s = sp.prec < 0 ? CFormat("%.*e", 6, v) : CFormat("%.*e", sp.prec, v);
      break;
    default:
      return BadVerb(sp.verb, Value::Float(v));
  }
  if (sp.verb == 'G' || sp.verb == 'E') {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (sp.plus && s[0] != '-') s = "+" + s;
  return Pad(s, sp, true);
}

std::string FormatOne(const Value& v, const Spec& sp) {
  switch (v.kind) {
    case Value::kFloat:
      return FormatFloatVerb(v.f, sp);
    case Value::kInt: {
      std::string s;
      switch (sp.verb) {
        case 'v':
        case 'd':
          s = std::to_string(v.i);
          break;
        case 'x':
        case 'X': {
          char buf[32];
          std::snprintf(buf, sizeof(buf), sp.verb == 'x' ? "%llx" : "%llX",
                        static_cast<unsigned long long>(v.i < 0 ? -v.i : v.i));
          s = std::string(v.i < 0 ? "-" : "") + buf;
          break;
        }
        default:
          return BadVerb(sp.verb, v);
      }
      if (sp.plus && v.i >= 0) s = "+" + s;
      return Pad(s, sp, true);
    }
    case Value::kString: {
      std::string s;
      if (sp.verb == 's' || sp.verb == 'v') {
        s = sp.prec >= 0 && static_cast<size_t>(sp.prec) < v.s.size() ? v.s.substr(0, sp.prec)
                                                                      : v.s;
      } else if (sp.verb == 'q') {
        s = GoQuote(v.s);
      } else {
        return BadVerb(sp.verb, v);
      }
      return Pad(s, sp, false);
    }
    case Value::kBool:
      if (sp.verb != 't' && sp.verb != 'v') return BadVerb(sp.verb, v);
      return Pad(v.b ? "true" : "false", sp, false);
    case Value::kMap:
      if (sp.verb != 's' && sp.verb != 'v') return BadVerb(sp.verb, v);
      return Pad(Print(v), sp, false);
    case Value::kNil:
      if (sp.verb == 'v' || sp.verb == 's')
        return Pad("%!" + std::string(1, sp.verb) + "(<nil>)", sp, false);
      return BadVerb(sp.verb, v);
    case Value::kRoot:
      return Pad(Print(v), sp, false);
  }
  return "";
}

std::string GoSprintf(const std::string& format, const std::vector<Value>& args) {
  std::string out;
  size_t argi = 0;
  for (size_t i = 0; i < format.size();) {
    char c = format[i];
    if (c != '%') {
      out += c;
      ++i;
      continue;
    }
    ++i;
    Spec sp;
    for (; i < format.size(); ++i) {
      char f = format[i];
      if (f == '-') {
        sp.minus = true;
      } else if (f == '+') {
        sp.plus = true;
      } else if (f == '#') {
        sp.sharp = true;
      } else if (f == ' ') {
        sp.space = true;
      } else if (f == '0') {
        sp.zero = true;
      } else {
        break;
      }
    }
    auto read_num = [&](int* out_n) {
      if (i < format.size() && format[i] == '*') {
        ++i;
        if (argi < args.size() && args[argi].kind == Value::kInt) {
          *out_n = static_cast<int>(args[argi++].i);
        }
        return;
      }
      if (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) {
        int n = 0;
        while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) {
          n = std::min(n * 10 + (format[i] - '0'), 1000000);
          ++i;
        }
        *out_n = n;
      }
    };
    read_num(&sp.width);
    if (i < format.size() && format[i] == '.') {
      ++i;
      sp.prec = 0;
      read_num(&sp.prec);
    }
    if (i >= format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    sp.verb = format[i++];
    if (sp.verb == '%') {
      out += '%';
      continue;
    }
    if (argi >= args.size()) {
      out += std::string("%!") + sp.verb + "(MISSING)";
      continue;
    }
    out += FormatOne(args[argi++], sp);
  }
  if (argi < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = argi; k < args.size(); ++k) {
      if (k > argi) out += ", ";
      out += TypeName(args[k]) + "=" + Print(args[k]);
    }
    out += ")";
  }
  return out;
}

// fmt.Sprint: spaces between operands when neither side is a string.
std::string GoSprint(const std::vector<Value>& args, bool ln) {
  std::string out;
  for (size_t k = 0; k < args.size(); ++k) {
    if (k > 0 && (ln || (args[k].kind != Value::kString && args[k - 1].kind != Value::kString))) {
      out += ' ';
    }
    out += Print(args[k]);
  }
  if (ln) out += '\n';
  return out;
}

// ---------------------------------------------------------------------------------------------
// Prometheus' template functions.

Result<double> ToFloat(const Value& v) {
  switch (v.kind) {
    case Value::kFloat:
      return v.f;
    case Value::kInt:
      return static_cast<double>(v.i);
    case Value::kString: {
      double d = 0;
      if (!ParseGoFloat(v.s, &d)) {
        return Status::InvalidArgument("strconv.ParseFloat: parsing " + GoQuote(v.s) +
                                       ": invalid syntax");
      }
      return d;
    }
    default:
      return Status::InvalidArgument("can't convert " + TypeName(v) + " to float");
  }
}

}  // namespace

std::string Humanize(double v) {
  if (v == 0 || std::isnan(v) || std::isinf(v)) return FormatGoG(v, 4);
  std::string prefix;
  if (std::fabs(v) >= 1) {
    for (const char* p : {"k", "M", "G", "T", "P", "E", "Z", "Y"}) {
      if (std::fabs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return FormatGoG(v, 4) + prefix;
  }
  for (const char* p : {"m", "u", "n", "p", "f", "a", "z", "y"}) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return FormatGoG(v, 4) + prefix;
}

std::string Humanize1024(double v) {
  if (std::fabs(v) <= 1 || std::isnan(v) || std::isinf(v)) return FormatGoG(v, 4);
  std::string prefix;
  for (const char* p : {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"}) {
    if (std::fabs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return FormatGoG(v, 4) + prefix;
}

std::string HumanizeDuration(double v) {
  if (std::isnan(v) || std::isinf(v)) return FormatGoG(v, 4);
  if (v == 0) return FormatGoG(v, 4) + "s";
  if (std::fabs(v) >= 1) {
    std::string sign;
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    int64_t d = GoFloatToInt64(v);
    int64_t seconds = d % 60, minutes = (d / 60) % 60, hours = (d / 3600) % 24, days = d / 86400;
    auto s = [](int64_t x) { return std::to_string(x); };
    if (days != 0) {
      return sign + s(days) + "d " + s(hours) + "h " + s(minutes) + "m " + s(seconds) + "s";
    }
    if (hours != 0) return sign + s(hours) + "h " + s(minutes) + "m " + s(seconds) + "s";
    if (minutes != 0) return sign + s(minutes) + "m " + s(seconds) + "s";
    return sign + FormatGoG(v, 4) + "s";
  }
  std::string prefix;
  for (const char* p : {"m", "u", "n", "p", "f", "a", "z", "y"}) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return FormatGoG(v, 4) + prefix + "s";
}

std::string FormatGoTime(int64_t secs, int64_t nanos, bool rfc3339) {
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d%c%02d:%02d:%02d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, rfc3339 ? 'T' : ' ', tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  if (nanos > 0) {
    char frac[32];
    std::snprintf(frac, sizeof(frac), ".%09lld", static_cast<long long>(nanos));
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + (rfc3339 ? "Z" : " +0000 UTC");
}

namespace {

std::string HumanizeTimestamp(double v) {
  if (std::isnan(v) || std::isinf(v)) return FormatGoG(v, 4);
  double secs = std::floor(v);
  return FormatGoTime(static_cast<int64_t>(secs), static_cast<int64_t>((v - secs) * 1e9), false);
}

}  // namespace

std::string GoQueryEscape(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

namespace {

std::string PathPrefix(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  size_t slash = url.find('/', scheme + 3);
  if (slash == std::string_view::npos) return "";
  std::string_view path = url.substr(slash);
  size_t q = path.find_first_of("?#");
  return std::string(path.substr(0, q));
}

// Go regexp replacement syntax ($1, ${name}) into RE2's (\1).
std::string GoReplacementToRe2(std::string_view repl) {
  std::string out;
  for (size_t i = 0; i < repl.size(); ++i) {
    char c = repl[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '$' && i + 1 < repl.size() && repl[i + 1] == '$') {
      out += '$';
      ++i;
    } else if (c == '$') {
      size_t j = i + 1;
      bool brace = j < repl.size() && repl[j] == '{';
      if (brace) ++j;
      size_t start = j;
      while (j < repl.size() && std::isdigit(static_cast<unsigned char>(repl[j]))) ++j;
      if (j > start && (!brace || (j < repl.size() && repl[j] == '}'))) {
        out += '\\';
        out.append(repl.substr(start, j - start));
        i = brace ? j : j - 1;
      } else {
        out += c;
      }
    } else {
      out += c;
    }
  }
  return out;
}

// Whether two values compare (Go's basicKind rules: int with int, float with float, …).
Result<int> Compare(const Value& a, const Value& b, bool ordered) {
  auto bad = [] { return Status::InvalidArgument("incompatible types for comparison"); };
  auto invalid = [] { return Status::InvalidArgument("invalid type for comparison"); };
  if (a.kind == Value::kNil || b.kind == Value::kNil || a.kind == Value::kMap ||
      b.kind == Value::kMap || a.kind == Value::kRoot || b.kind == Value::kRoot) {
    return invalid();
  }
  if (a.kind != b.kind) return bad();
  switch (a.kind) {
    case Value::kBool:
      if (ordered) return invalid();
      return a.b == b.b ? 0 : 1;
    case Value::kInt:
      return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
    case Value::kFloat:
      if (a.f < b.f) return -1;
      if (a.f > b.f) return 1;
      return a.f == b.f ? 0 : 2;  // NaN: unordered and unequal.
    case Value::kString:
      return a.s < b.s ? -1 : (a.s > b.s ? 1 : 0);
    default:
      return invalid();
  }
}

struct ExecData {
  const TemplateData* data;
  std::shared_ptr<const StrMap> labels, external_labels;
};

using Func = std::function<Result<Value>(std::vector<Value>&, const ExecData&)>;

Status WrongArgs(std::string_view name, size_t want, size_t got) {
  return Status::InvalidArgument("wrong number of args for " + std::string(name) + ": want " +
                                 std::to_string(want) + " got " + std::to_string(got));
}

Result<std::string> StringArg(const Value& v) {
  if (v.kind != Value::kString) {
    return Status::InvalidArgument("wrong type for value; expected string; got " + TypeName(v));
  }
  return v.s;
}

Func FloatFunc(std::string name, std::string (*fn)(double)) {
  return [name, fn](std::vector<Value>& a, const ExecData&) -> Result<Value> {
    if (a.size() != 1) return WrongArgs(name, 1, a.size());
    Result<double> d = ToFloat(a[0]);
    if (!d.ok())
      return Status::InvalidArgument("error calling " + name + ": " + d.status().message());
    return Value::Str(fn(*d));
  };
}

Func StringFunc(std::string name, std::string (*fn)(std::string)) {
  return [name, fn](std::vector<Value>& a, const ExecData&) -> Result<Value> {
    if (a.size() != 1) return WrongArgs(name, 1, a.size());
    Result<std::string> s = StringArg(a[0]);
    if (!s.ok()) return s.status();
    return Value::Str(fn(*s));
  };
}

Func CompareFunc(std::string name, bool (*pred)(int)) {
  return [name, pred](std::vector<Value>& a, const ExecData&) -> Result<Value> {
    if (a.size() != 2) return WrongArgs(name, 2, a.size());
    Result<int> c = Compare(a[0], a[1], true);
    if (!c.ok())
      return Status::InvalidArgument("error calling " + name + ": " + c.status().message());
    return Value::Bool(*c != 2 && pred(*c));
  };
}

Status CallError(std::string_view name, const Status& st) {
  return Status::InvalidArgument("error calling " + std::string(name) + ": " + st.message());
}

Status RegexpError(std::string_view name, const RE2& re) {
  return CallError(name, Status::InvalidArgument("error parsing regexp: " + re.error()));
}

std::string GraphLink(std::string_view external_url, const std::string& expr, int tab) {
  return PathPrefix(external_url) + "/graph?g0.expr=" + GoQueryEscape(expr) +
         "&g0.tab=" + std::to_string(tab);
}

const std::unordered_map<std::string, Func>& Functions() {
  static const auto* fns = new std::unordered_map<std::string, Func>{
      {"humanize", FloatFunc("humanize", Humanize)},
      {"humanize1024", FloatFunc("humanize1024", Humanize1024)},
      {"humanizeDuration", FloatFunc("humanizeDuration", HumanizeDuration)},
      {"humanizePercentage",
       FloatFunc("humanizePercentage", [](double v) { return FormatGoG(v * 100, 4) + "%"; })},
      {"humanizeTimestamp", FloatFunc("humanizeTimestamp", HumanizeTimestamp)},
      {"toUpper", StringFunc("toUpper",
                             [](std::string s) {
                               for (char& c : s) c = static_cast<char>(std::toupper(
                                                     static_cast<unsigned char>(c)));
                               return s;
                             })},
      {"toLower", StringFunc("toLower",
                             [](std::string s) {
                               for (char& c : s) c = static_cast<char>(std::tolower(
                                                     static_cast<unsigned char>(c)));
                               return s;
                             })},
      {"title", StringFunc("title",
                           [](std::string s) {
                             bool start = true;
                             for (char& c : s) {
                               unsigned char u = static_cast<unsigned char>(c);
                               bool word = std::isalnum(u) || u == '_' || u >= 0x80 || u == '\'';
                               if (start && std::isalpha(u)) c = static_cast<char>(std::toupper(u));
                               start = !word;
                             }
                             return s;
                           })},
      {"safeHtml", StringFunc("safeHtml", [](std::string s) { return s; })},
      {"stripPort", StringFunc("stripPort",
                               [](std::string s) {
                                 if (!s.empty() && s[0] == '[') {
                                   size_t e = s.find(']');
                                   return e == std::string::npos ? s : s.substr(1, e - 1);
                                 }
                                 size_t c = s.rfind(':');
                                 if (c == std::string::npos || s.find(':') != c) return s;
                                 return s.substr(0, c);
                               })},
      {"urlquery", [](std::vector<Value>& a, const ExecData&) -> Result<Value> {
         return Value::Str(GoQueryEscape(GoSprint(a, false)));
       }},
      {"printf",
       [](std::vector<Value>& a, const ExecData&) -> Result<Value> {
         if (a.empty()) return WrongArgs("printf", 1, 0);
         Result<std::string> f = StringArg(a[0]);
         if (!f.ok()) return f.status();
         return Value::Str(GoSprintf(*f, std::vector<Value>(a.begin() + 1, a.end())));
       }},
      {"print", [](std::vector<Value>& a,
                   const ExecData&) -> Result<Value> { return Value::Str(GoSprint(a, false)); }},
      {"println", [](std::vector<Value>& a,
                     const ExecData&) -> Result<Value> { return Value::Str(GoSprint(a, true)); }},
      {"eq",
       [](std::vector<Value>& a, const ExecData&) -> Result<Value> {
         if (a.size() < 2) return WrongArgs("eq", 2, a.size());
         for (size_t k = 1; k < a.size(); ++k) {
           Result<int> c = Compare(a[0], a[k], false);
           if (!c.ok()) return CallError("eq", c.status());
           if (*c == 0) return Value::Bool(true);
         }
         return Value::Bool(false);
       }},
      {"ne",
       [](std::vector<Value>& a, const ExecData&) -> Result<Value> {
         if (a.size() != 2) return WrongArgs("ne", 2, a.size());
         Result<int> c = Compare(a[0], a[1], false);
         if (!c.ok()) return CallError("ne", c.status());
         return Value::Bool(*c != 0);
       }},
      {"lt", CompareFunc("lt", [](int c) { return c < 0; })},
      {"le", CompareFunc("le", [](int c) { return c <= 0; })},
      {"gt", CompareFunc("gt", [](int c) { return c > 0; })},
      {"ge", CompareFunc("ge", [](int c) { return c >= 0; })},
      {"and",
       [](std::vector<Value>& a, const ExecData&) -> Result<Value> {
         if (a.empty()) return WrongArgs("and", 1, 0);
         for (Value& v : a) {
           if (!Truth(v)) return v;
         }
         return a.back();
       }},
      {"or",
       [](std::vector<Value>& a, const ExecData&) -> Result<Value> {
         if (a.empty()) return WrongArgs("or", 1, 0);
         for (Value& v : a) {
           if (Truth(v)) return v;
         }
         return a.back();
       }},
      {"not",
       [](std::vector<Value>& a, const ExecData&) -> Result<Value> {
         if (a.size() != 1) return WrongArgs("not", 1, a.size());
         return Value::Bool(!Truth(a[0]));
       }},
      {"len",
       [](std::vector<Value>& a, const ExecData&) -> Result<Value> {
         if (a.size() != 1) return WrongArgs("len", 1, a.size());
         if (a[0].kind == Value::kString) return Value::Int(static_cast<int64_t>(a[0].s.size()));
         if (a[0].kind == Value::kMap) return Value::Int(static_cast<int64_t>(a[0].m->size()));
         return CallError("len", Status::InvalidArgument("len of type " + TypeName(a[0])));
       }},
      {"index",
       [](std::vector<Value>& a, const ExecData&) -> Result<Value> {
         if (a.size() != 2 || a[0].kind != Value::kMap || a[1].kind != Value::kString) {
           return CallError("index", Status::InvalidArgument("can't index item of type " +
                                                             TypeName(a.empty() ? Value() : a[0])));
         }
         auto it = a[0].m->find(a[1].s);
         return Value::Str(it == a[0].m->end() ? "" : it->second);
       }},
      {"match",
       [](std::vector<Value>& a, const ExecData&) -> Result<Value> {
         if (a.size() != 2) return WrongArgs("match", 2, a.size());
         Result<std::string> p = StringArg(a[0]), s = StringArg(a[1]);
         if (!p.ok()) return p.status();
         if (!s.ok()) return s.status();
         RE2 re(*p, RE2::Quiet);
         if (!re.ok()) return RegexpError("match", re);
         return Value::Bool(RE2::PartialMatch(*s, re));
       }},
      {"reReplaceAll",
       [](std::vector<Value>& a, const ExecData&) -> Result<Value> {
         if (a.size() != 3) return WrongArgs("reReplaceAll", 3, a.size());
         Result<std::string> p = StringArg(a[0]), r = StringArg(a[1]), s = StringArg(a[2]);
         if (!p.ok()) return p.status();
         if (!r.ok()) return r.status();
         if (!s.ok()) return s.status();
         RE2 re(*p, RE2::Quiet);
         if (!re.ok()) return RegexpError("reReplaceAll", re);
         std::string out = *s;
         RE2::GlobalReplace(&out, re, GoReplacementToRe2(*r));
         return Value::Str(out);
       }},
      {"parseDuration",
       [](std::vector<Value>& a, const ExecData&) -> Result<Value> {
         if (a.size() != 1) return WrongArgs("parseDuration", 1, a.size());
         Result<std::string> s = StringArg(a[0]);
         if (!s.ok()) return s.status();
         Result<std::chrono::milliseconds> d = ParseDuration(*s);
         if (!d.ok()) return CallError("parseDuration", d.status());
         return Value::Float(static_cast<double>(d->count()) / 1000);
       }},
      {"externalURL",
       [](std::vector<Value>& a, const ExecData& d) -> Result<Value> {
         if (!a.empty()) return WrongArgs("externalURL", 0, a.size());
         return Value::Str(std::string(d.data->external_url));
       }},
      {"pathPrefix",
       [](std::vector<Value>& a, const ExecData& d) -> Result<Value> {
         if (!a.empty()) return WrongArgs("pathPrefix", 0, a.size());
         return Value::Str(PathPrefix(d.data->external_url));
       }},
      {"graphLink",
       [](std::vector<Value>& a, const ExecData& d) -> Result<Value> {
         if (a.size() != 1) return WrongArgs("graphLink", 1, a.size());
         Result<std::string> s = StringArg(a[0]);
         if (!s.ok()) return s.status();
         return Value::Str(GraphLink(d.data->external_url, *s, 0));
       }},
      {"tableLink",
       [](std::vector<Value>& a, const ExecData& d) -> Result<Value> {
         if (a.size() != 1) return WrongArgs("tableLink", 1, a.size());
         Result<std::string> s = StringArg(a[0]);
         if (!s.ok()) return s.status();
         return Value::Str(GraphLink(d.data->external_url, *s, 1));
       }},
  };
  return *fns;
}

// Prometheus functions that need a query engine or reflection we do not offer in templates: they
// parse (so Prometheus rule files load) and fail clearly when executed.
bool IsUnsupportedPrometheusFunc(std::string_view name) {
  for (std::string_view n : {"query", "first", "label", "value", "strvalue", "sortByLabel", "args",
                             "toTime", "html", "js", "call", "slice"}) {
    if (n == name) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Syntax tree.

struct Pipe;

struct Operand {
  enum Kind { kDot, kField, kVar, kFunc, kLiteral, kPipe } kind = kDot;
  std::string name;                 // Variable ("$x") or function name.
  std::vector<std::string> fields;  // Field chain applied after the term.
  Value literal;
  std::shared_ptr<Pipe> pipe;
};

struct Command {
  std::vector<Operand> args;
  size_t pos = 0;
  std::string text;
};

struct Pipe {
  std::vector<std::string> decl;
  bool assign = false;
  std::vector<Command> cmds;
};

struct Node {
  enum Kind { kText, kAction, kIf, kRange, kWith } kind = kText;
  std::string text;
  Pipe pipe;
  std::vector<Node> body, else_body;
};

}  // namespace

struct Template::Tree {
  std::string name;
  std::string source;
  std::vector<Node> root;
  bool plain = true;
};

namespace {

// ---------------------------------------------------------------------------------------------
// Lexer and parser.

struct Token {
  enum Kind {
    kIdent,
    kVar,
    kField,
    kDot,
    kString,
    kNumber,
    kLParen,
    kRParen,
    kPipe,
    kDeclare,
    kAssign,
    kComma,
    kEnd,  // End of the action.
  } kind = kEnd;
  std::string text;  // Identifier, variable, field name (without '.'), string value, number.
  size_t pos = 0;
};

class Parser {
 public:
  Parser(std::string_view name, std::string_view src) : name_(name), src_(src) {}

  Status Parse(std::vector<Node>* root, bool* plain) {
    vars_.push_back({"$"});
    size_t i = 0;
    std::vector<Frame> stack;
    stack.push_back(Frame{root, Node::kText});
    bool trim_next = false;
    *plain = true;
    while (i <= src_.size()) {
      size_t open = src_.find("{{", i);
      std::string_view text =
          src_.substr(i, open == std::string_view::npos ? std::string_view::npos : open - i);
      bool trim_left = open != std::string_view::npos && open + 3 < src_.size() &&
                       src_[open + 2] == '-' && IsSpace(src_[open + 3]);
      if (trim_next) {
        size_t k = 0;
        while (k < text.size() && IsSpace(text[k])) ++k;
        text.remove_prefix(k);
      }
      if (trim_left) {
        while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
      }
      if (!text.empty()) {
        Node n;
        n.kind = Node::kText;
        n.text = std::string(text);
        stack.back().list->push_back(std::move(n));
      }
      if (open == std::string_view::npos) break;
      *plain = false;
      size_t p = open + 2 + (trim_left ? 2 : 0);
      // Comment.
      size_t q = p;
      while (q < src_.size() && IsSpace(src_[q]) && trim_left) ++q;
      if (src_.substr(q, 2) == "/*") {
        size_t end = src_.find("*/", q + 2);
        if (end == std::string_view::npos) return Error(open, "unclosed comment");
        size_t r = end + 2;
        bool trim_right = false;
        if (r + 2 < src_.size() && IsSpace(src_[r]) && src_[r + 1] == '-' &&
            src_.substr(r + 2, 2) == "}}") {
          trim_right = true;
          r += 2;
        }
        if (src_.substr(r, 2) != "}}") return Error(end, "comment ends before closing delimiter");
        i = r + 2;
        trim_next = trim_right;
        continue;
      }
      std::vector<Token> toks;
      bool trim_right = false;
      size_t after = 0;
      TIDEMARK_RETURN_IF_ERROR(Lex(p, &toks, &trim_right, &after));
      TIDEMARK_RETURN_IF_ERROR(Action(toks, open, &stack));
      i = after;
      trim_next = trim_right;
    }
    if (stack.size() > 1) return Error(src_.size(), "unexpected EOF");
    return Status::Ok();
  }

 private:
  struct Frame {
    std::vector<Node>* list;
    Node::Kind kind;
    Node* node = nullptr;
    bool in_else = false;
    size_t var_depth = 0;
    int extra_ends = 0;  // "else if" chains close with the one {{end}}.
  };

  static bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  static bool IsAlnum(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
  }

  int LineOf(size_t pos) const {
    return 1 + static_cast<int>(
                   std::count(src_.begin(), src_.begin() + std::min(pos, src_.size()), '\n'));
  }

  Status Error(size_t pos, const std::string& msg) const {
    return Status::InvalidArgument("template: " + std::string(name_) + ":" +
                                   std::to_string(LineOf(pos)) + ": " + msg);
  }

  Status Lex(size_t p, std::vector<Token>* toks, bool* trim_right, size_t* after) {
    const size_t start = p;
    while (true) {
      while (p < src_.size() && IsSpace(src_[p])) ++p;
      if (p >= src_.size()) return Error(start, "unclosed action");
      if (src_[p] == '-' && p + 2 < src_.size() + 1 && src_.substr(p + 1, 2) == "}}" && p > start &&
          IsSpace(src_[p - 1])) {
        *trim_right = true;
        *after = p + 3;
        break;
      }
      if (src_.substr(p, 2) == "}}") {
        *after = p + 2;
        break;
      }
      Token t;
      t.pos = p;
      char c = src_[p];
      bool prev_term = !toks->empty() &&
                       (toks->back().kind == Token::kVar || toks->back().kind == Token::kField ||
                        toks->back().kind == Token::kRParen) &&
                       toks->back().pos + 1 <= p && !IsSpace(src_[p - 1]);
      if (c == '.' && (p + 1 >= src_.size() || !IsAlnum(src_[p + 1]) ||
                       std::isdigit(static_cast<unsigned char>(src_[p + 1])))) {
        if (p + 1 < src_.size() && std::isdigit(static_cast<unsigned char>(src_[p + 1]))) {
          // A number like .5.
        } else {
          t.kind = Token::kDot;
          ++p;
          toks->push_back(t);
          continue;
        }
      }
      if (c == '.' && p + 1 < src_.size() && IsAlnum(src_[p + 1]) &&
          !std::isdigit(static_cast<unsigned char>(src_[p + 1]))) {
        size_t e = p + 1;
        while (e < src_.size() && IsAlnum(src_[e])) ++e;
        t.kind = Token::kField;
        t.text = std::string(src_.substr(p + 1, e - p - 1));
        (void)prev_term;
        p = e;
        toks->push_back(t);
        continue;
      }
      if (c == '$') {
        size_t e = p + 1;
        while (e < src_.size() && IsAlnum(src_[e])) ++e;
        t.kind = Token::kVar;
        t.text = std::string(src_.substr(p, e - p));
        p = e;
        toks->push_back(t);
        continue;
      }
      if (c == '"' || c == '`') {
        size_t e = p + 1;
        std::string val;
        if (c == '`') {
          size_t close = src_.find('`', e);
          if (close == std::string_view::npos) return Error(p, "unterminated raw quoted string");
          val = std::string(src_.substr(e, close - e));
          e = close + 1;
        } else {
          bool done = false;
          while (e < src_.size()) {
            char d = src_[e];
            if (d == '"') {
              done = true;
              ++e;
              break;
            }
            if (d == '\n') break;
            if (d == '\\' && e + 1 < src_.size()) {
              char x = src_[e + 1];
              switch (x) {
                case 'n':
                  val += '\n';
                  break;
                case 't':
                  val += '\t';
                  break;
                case 'r':
                  val += '\r';
                  break;
                case '\\':
                  val += '\\';
                  break;
                case '"':
                  val += '"';
                  break;
                case '\'':
                  val += '\'';
                  break;
                default:
                  return Error(p, "invalid syntax");
              }
              e += 2;
              continue;
            }
            val += d;
            ++e;
          }
          if (!done) return Error(p, "unterminated quoted string");
        }
        t.kind = Token::kString;
        t.text = val;
        p = e;
        toks->push_back(t);
        continue;
      }
      if (std::isdigit(static_cast<unsigned char>(c)) ||
          ((c == '-' || c == '+' || c == '.') && p + 1 < src_.size() &&
           (std::isdigit(static_cast<unsigned char>(src_[p + 1])) || src_[p + 1] == '.'))) {
        size_t e = p + 1;
        while (e < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[e])) ||
                                   src_[e] == '.' || src_[e] == '_' ||
                                   ((src_[e] == '+' || src_[e] == '-') &&
                                    (src_[e - 1] == 'e' || src_[e - 1] == 'E')))) {
          ++e;
        }
        t.kind = Token::kNumber;
        t.text = std::string(src_.substr(p, e - p));
        p = e;
        toks->push_back(t);
        continue;
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t e = p + 1;
        while (e < src_.size() && IsAlnum(src_[e])) ++e;
        t.kind = Token::kIdent;
        t.text = std::string(src_.substr(p, e - p));
        p = e;
        toks->push_back(t);
        continue;
      }
      switch (c) {
        case '(':
          t.kind = Token::kLParen;
          break;
        case ')':
          t.kind = Token::kRParen;
          break;
        case '|':
          t.kind = Token::kPipe;
          break;
        case ',':
          t.kind = Token::kComma;
          break;
        case '=':
          t.kind = Token::kAssign;
          break;
        case ':':
          if (p + 1 < src_.size() && src_[p + 1] == '=') {
            t.kind = Token::kDeclare;
            ++p;
            break;
          }
          return Error(p, "expected :=");
        default:
          return Error(p,
                       "unexpected " + GoQuoteRune(static_cast<unsigned char>(c)) + " in command");
      }
      ++p;
      toks->push_back(t);
    }
    Token end;
    end.kind = Token::kEnd;
    end.pos = p;
    toks->push_back(end);
    return Status::Ok();
  }

  bool VarDefined(const std::string& v) const {
    return std::find(vars_.begin(), vars_.end(), v) != vars_.end();
  }

  Status Action(const std::vector<Token>& toks, size_t open, std::vector<Frame>* stack) {
    if (toks.empty() || toks[0].kind == Token::kEnd)
      return Error(open, "missing value for command");
    const Token& first = toks[0];
    if (first.kind == Token::kIdent) {
      const std::string& kw = first.text;
      if (kw == "end") {
        if (stack->size() <= 1) return Error(open, "unexpected {{end}}");
        if (toks[1].kind != Token::kEnd)
          return Error(open, "unexpected " + toks[1].text + " in end");
        int ends = stack->back().extra_ends;
        for (int k = 0; k <= ends; ++k) {
          vars_.resize(stack->back().var_depth);
          stack->pop_back();
        }
        return Status::Ok();
      }
      if (kw == "else") {
        if (stack->size() <= 1 || stack->back().in_else) return Error(open, "unexpected {{else}}");
        Frame& f = stack->back();
        f.in_else = true;
        vars_.resize(f.var_depth);
        f.list = &f.node->else_body;
        if (toks[1].kind == Token::kIdent && (toks[1].text == "if" || toks[1].text == "with")) {
          // {{else if x}} is {{else}}{{if x}} … with the one {{end}} closing both.
          std::vector<Token> rest(toks.begin() + 1, toks.end());
          int ends = f.extra_ends;
          f.extra_ends = 0;
          TIDEMARK_RETURN_IF_ERROR(Action(rest, open, stack));
          stack->back().extra_ends = ends + 1;
          return Status::Ok();
        }
        if (toks[1].kind != Token::kEnd)
          return Error(open, "unexpected " + toks[1].text + " in else");
        return Status::Ok();
      }
      if (kw == "if" || kw == "range" || kw == "with") {
        Node n;
        n.kind = kw == "if" ? Node::kIf : (kw == "range" ? Node::kRange : Node::kWith);
        size_t depth = vars_.size();
        size_t idx = 1;
        TIDEMARK_RETURN_IF_ERROR(ParsePipe(toks, &idx, &n.pipe, n.kind == Node::kRange, kw));
        if (n.pipe.cmds.empty()) return Error(open, "missing value for " + kw);
        std::vector<Node>* list = stack->back().list;
        list->push_back(std::move(n));
        Node* node = &list->back();
        stack->push_back(Frame{&node->body, node->kind, node, false, depth, 0});
        return Status::Ok();
      }
      if (kw == "define" || kw == "template" || kw == "block" || kw == "break" ||
          kw == "continue") {
        return Error(open, "{{" + kw + "}} is not supported in alert templates");
      }
    }
    Node n;
    n.kind = Node::kAction;
    size_t idx = 0;
    TIDEMARK_RETURN_IF_ERROR(ParsePipe(toks, &idx, &n.pipe, false, "command"));
    if (n.pipe.cmds.empty()) return Error(open, "missing value for command");
    stack->back().list->push_back(std::move(n));
    return Status::Ok();
  }

  Status ParsePipe(const std::vector<Token>& toks, size_t* idx, Pipe* pipe, bool range,
                   const std::string& ctx) {
    size_t i = *idx;
    // Declarations: $x := / $x = / (range) $k, $v :=
    if (toks[i].kind == Token::kVar) {
      size_t j = i;
      std::vector<std::string> names{toks[j].text};
      if (range && toks[j + 1].kind == Token::kComma && toks[j + 2].kind == Token::kVar) {
        names.push_back(toks[j + 2].text);
        j += 2;
      }
      if (toks[j + 1].kind == Token::kDeclare || toks[j + 1].kind == Token::kAssign) {
        pipe->assign = toks[j + 1].kind == Token::kAssign;
        if (pipe->assign) {
          for (const auto& v : names) {
            if (!VarDefined(v)) return Error(toks[i].pos, "undefined variable \"" + v + "\"");
          }
        }
        pipe->decl = names;
        i = j + 2;
      }
    }
    while (true) {
      Command cmd;
      cmd.pos = toks[i].pos;
      TIDEMARK_RETURN_IF_ERROR(ParseCommand(toks, &i, &cmd));
      if (cmd.args.empty()) return Error(toks[i].pos, "missing value for " + ctx);
      size_t end_pos = toks[i].pos;
      cmd.text = std::string(src_.substr(cmd.pos, end_pos - cmd.pos));
      while (!cmd.text.empty() && IsSpace(cmd.text.back())) cmd.text.pop_back();
      pipe->cmds.push_back(std::move(cmd));
      if (toks[i].kind == Token::kPipe) {
        ++i;
        continue;
      }
      break;
    }
    if (!pipe->assign) {
      for (const auto& v : pipe->decl) vars_.push_back(v);
    }
    if (toks[i].kind != Token::kEnd && toks[i].kind != Token::kRParen) {
      return Error(toks[i].pos, "unexpected " + TokText(toks[i]) + " in " + ctx);
    }
    *idx = i;
    return Status::Ok();
  }

  std::string TokText(const Token& t) const {
    switch (t.kind) {
      case Token::kString:
        return GoQuote(t.text);
      case Token::kEnd:
        return "<end>";
      case Token::kField:
        return "<." + t.text + ">";
      default:
        return "<" + (t.text.empty() ? std::string(src_.substr(t.pos, 1)) : t.text) + ">";
    }
  }

  Status ParseCommand(const std::vector<Token>& toks, size_t* idx, Command* cmd) {
    size_t i = *idx;
    while (toks[i].kind != Token::kEnd && toks[i].kind != Token::kPipe &&
           toks[i].kind != Token::kRParen) {
      const Token& t = toks[i];
      Operand op;
      switch (t.kind) {
        case Token::kDot:
          op.kind = Operand::kDot;
          ++i;
          break;
        case Token::kField:
          op.kind = Operand::kField;
          while (toks[i].kind == Token::kField && (op.fields.empty() || Adjacent(toks, i))) {
            op.fields.push_back(toks[i].text);
            ++i;
          }
          break;
        case Token::kVar:
          if (!VarDefined(t.text)) return Error(t.pos, "undefined variable \"" + t.text + "\"");
          op.kind = Operand::kVar;
          op.name = t.text;
          ++i;
          break;
        case Token::kString:
          op.kind = Operand::kLiteral;
          op.literal = Value::Str(t.text);
          ++i;
          break;
        case Token::kNumber: {
          op.kind = Operand::kLiteral;
          const std::string& s = t.text;
          bool is_float = s.find_first_of(".eE") != std::string::npos && s.rfind("0x", 0) != 0 &&
                          s.rfind("0X", 0) != 0;
          if (is_float) {
            double d = 0;
            if (!ParseGoFloat(s, &d)) return Error(t.pos, "illegal number syntax: " + GoQuote(s));
            op.literal = Value::Float(d);
          } else {
            char* end = nullptr;
            errno = 0;
            long long v = std::strtoll(s.c_str(), &end, 0);
            if (errno != 0 || *end != '\0') {
              return Error(t.pos, "illegal number syntax: " + GoQuote(s));
            }
            op.literal = Value::Int(v);
          }
          ++i;
          break;
        }
        case Token::kIdent:
          if (t.text == "true" || t.text == "false") {
            op.kind = Operand::kLiteral;
            op.literal = Value::Bool(t.text == "true");
          } else if (t.text == "nil") {
            op.kind = Operand::kLiteral;
          } else {
            if (!Functions().count(t.text) && !IsUnsupportedPrometheusFunc(t.text)) {
              return Error(t.pos, "function " + GoQuote(t.text) + " not defined");
            }
            op.kind = Operand::kFunc;
            op.name = t.text;
          }
          ++i;
          break;
        case Token::kLParen: {
          ++i;
          auto inner = std::make_shared<Pipe>();
          TIDEMARK_RETURN_IF_ERROR(
              ParsePipe(toks, &i, inner.get(), false, "parenthesized pipeline"));
          if (toks[i].kind != Token::kRParen) return Error(toks[i].pos, "unclosed left paren");
          ++i;
          op.kind = Operand::kPipe;
          op.pipe = std::move(inner);
          break;
        }
        default:
          return Error(t.pos, "unexpected " + TokText(t) + " in operand");
      }
      // Field chain right after a term: $labels.x, (pipe).x.
      if (op.kind == Operand::kVar || op.kind == Operand::kPipe) {
        while (toks[i].kind == Token::kField && Adjacent(toks, i)) {
          op.fields.push_back(toks[i].text);
          ++i;
        }
      }
      cmd->args.push_back(std::move(op));
    }
    *idx = i;
    return Status::Ok();
  }

  // Whether toks[i] directly follows the previous token with no space between.
  bool Adjacent(const std::vector<Token>& toks, size_t i) const {
    return i > 0 && toks[i].pos > 0 && !IsSpace(src_[toks[i].pos - 1]);
  }

  std::string_view name_;
  std::string_view src_;
  std::vector<std::string> vars_;
};

// ---------------------------------------------------------------------------------------------
// Execution.

class Executor {
 public:
  Executor(const Template::Tree& tree, const ExecData& data) : tree_(tree), data_(data) {
    Value root;
    root.kind = Value::kRoot;
    vars_.push_back({"$", root});
  }

  Status Run(std::string* out) {
    Value root;
    root.kind = Value::kRoot;
    return Walk(tree_.root, root, out);
  }

 private:
  Status Walk(const std::vector<Node>& list, const Value& dot, std::string* out) {
    for (const Node& n : list) {
      switch (n.kind) {
        case Node::kText:
          *out += n.text;
          break;
        case Node::kAction: {
          Value v;
          TIDEMARK_RETURN_IF_ERROR(EvalPipe(n.pipe, dot, &v));
          if (n.pipe.decl.empty()) *out += v.kind == Value::kNil ? "<no value>" : Print(v);
          break;
        }
        case Node::kIf:
        case Node::kWith: {
          size_t mark = vars_.size();
          Value v;
          TIDEMARK_RETURN_IF_ERROR(EvalPipe(n.pipe, dot, &v));
          Status st = Truth(v) ? Walk(n.body, n.kind == Node::kWith ? v : dot, out)
                               : Walk(n.else_body, dot, out);
          vars_.resize(mark);
          TIDEMARK_RETURN_IF_ERROR(st);
          break;
        }
        case Node::kRange: {
          size_t mark = vars_.size();
          Pipe p = n.pipe;
          std::vector<std::string> decl = p.decl;
          p.decl.clear();
          Value v;
          TIDEMARK_RETURN_IF_ERROR(EvalPipe(p, dot, &v));
          if (v.kind != Value::kMap && v.kind != Value::kNil) {
            return ExecError(n.pipe.cmds[0], "range can't iterate over " + Print(v));
          }
          if (v.kind == Value::kNil || !v.m || v.m->empty()) {
            TIDEMARK_RETURN_IF_ERROR(Walk(n.else_body, dot, out));
          } else {
            for (const auto& [k, val] : *v.m) {
              size_t inner = vars_.size();
              if (decl.size() == 1) vars_.push_back({decl[0], Value::Str(val)});
              if (decl.size() == 2) {
                vars_.push_back({decl[0], Value::Str(k)});
                vars_.push_back({decl[1], Value::Str(val)});
              }
              Status st = Walk(n.body, Value::Str(val), out);
              vars_.resize(inner);
              TIDEMARK_RETURN_IF_ERROR(st);
            }
          }
          vars_.resize(mark);
          break;
        }
      }
    }
    return Status::Ok();
  }

  Status EvalPipe(const Pipe& pipe, const Value& dot, Value* result) {
    Value final_v;
    bool has_final = false;
    for (const Command& cmd : pipe.cmds) {
      Value v;
      TIDEMARK_RETURN_IF_ERROR(EvalCommand(cmd, dot, has_final ? &final_v : nullptr, &v));
      final_v = std::move(v);
      has_final = true;
    }
    for (const std::string& name : pipe.decl) {
      if (pipe.assign) {
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
          if (it->first == name) {
            it->second = final_v;
            break;
          }
        }
      } else {
        vars_.push_back({name, final_v});
      }
    }
    *result = std::move(final_v);
    return Status::Ok();
  }

  Status ExecError(const Command& cmd, const std::string& msg) const {
    const std::string& src = tree_.source;
    size_t pos = std::min(cmd.pos, src.size());
    int line = 1 + static_cast<int>(std::count(src.begin(), src.begin() + pos, '\n'));
    size_t nl = src.rfind('\n', pos == 0 ? 0 : pos - 1);
    size_t col = (nl == std::string::npos || pos == 0) ? pos : pos - nl - 1;
    std::string ctx = cmd.text;
    if (ctx.size() > 20) ctx = ctx.substr(0, 20) + "...";
    return Status::InvalidArgument("template: " + tree_.name + ":" + std::to_string(line) + ":" +
                                   std::to_string(col) + ": executing " + GoQuote(tree_.name) +
                                   " at <" + ctx + ">: " + msg);
  }

  Status EvalCommand(const Command& cmd, const Value& dot, const Value* final_v, Value* out) {
    const Operand& head = cmd.args[0];
    if (head.kind == Operand::kFunc) {
      std::vector<Value> args;
      for (size_t k = 1; k < cmd.args.size(); ++k) {
        Value v;
        TIDEMARK_RETURN_IF_ERROR(EvalOperand(cmd, cmd.args[k], dot, &v));
        args.push_back(std::move(v));
      }
      if (final_v != nullptr) args.push_back(*final_v);
      if (IsUnsupportedPrometheusFunc(head.name)) {
        return ExecError(cmd, "error calling " + head.name +
                                  ": function not supported in tidemark alert templates");
      }
      Result<Value> r = Functions().at(head.name)(args, data_);
      if (!r.ok()) {
        const std::string& m = r.status().message();
        return ExecError(cmd, m.rfind("error calling", 0) == 0 || m.rfind("wrong number", 0) == 0
                                  ? m
                                  : "error calling " + head.name + ": " + m);
      }
      *out = std::move(r).value();
      return Status::Ok();
    }
    if (cmd.args.size() > 1 || final_v != nullptr) {
      return ExecError(cmd, "can't give argument to non-function " + cmd.args[0].name);
    }
    return EvalOperand(cmd, head, dot, out);
  }

  Status EvalOperand(const Command& cmd, const Operand& op, const Value& dot, Value* out) {
    Value v;
    switch (op.kind) {
      case Operand::kDot:
        v = dot;
        break;
      case Operand::kField:
        v = dot;
        break;
      case Operand::kVar: {
        bool found = false;
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
          if (it->first == op.name) {
            v = it->second;
            found = true;
            break;
          }
        }
        if (!found) return ExecError(cmd, "undefined variable: " + op.name);
        break;
      }
      case Operand::kLiteral:
        v = op.literal;
        break;
      case Operand::kPipe:
        TIDEMARK_RETURN_IF_ERROR(EvalPipe(*op.pipe, dot, &v));
        break;
      case Operand::kFunc: {
        Command sub;
        sub.args.push_back(op);
        sub.pos = cmd.pos;
        sub.text = cmd.text;
        return EvalCommand(sub, dot, nullptr, out);
      }
    }
    for (const std::string& f : op.fields) {
      TIDEMARK_RETURN_IF_ERROR(Field(cmd, &v, f));
    }
    *out = std::move(v);
    return Status::Ok();
  }

  Status Field(const Command& cmd, Value* v, const std::string& name) {
    if (v->kind == Value::kRoot) {
      if (name == "Labels") {
        *v = Value::Map(data_.labels);
      } else if (name == "ExternalLabels") {
        *v = Value::Map(data_.external_labels);
      } else if (name == "ExternalURL") {
        *v = Value::Str(std::string(data_.data->external_url));
      } else if (name == "Value") {
        *v = Value::Float(data_.data->value);
      } else {
        return ExecError(cmd, "can't evaluate field " + name + " in type " + TypeName(*v));
      }
      return Status::Ok();
    }
    if (v->kind == Value::kMap) {
      std::string s;
      if (v->m) {
        auto it = v->m->find(name);
        if (it != v->m->end()) s = it->second;
      }
      *v = Value::Str(std::move(s));
      return Status::Ok();
    }
    if (v->kind == Value::kNil) {
      return ExecError(cmd, "nil pointer evaluating interface {}." + name);
    }
    return ExecError(cmd, "can't evaluate field " + name + " in type " + TypeName(*v));
  }

  const Template::Tree& tree_;
  const ExecData& data_;
  std::vector<std::pair<std::string, Value>> vars_;
};

std::shared_ptr<const StrMap> ToMap(const Labels* labels) {
  auto m = std::make_shared<StrMap>();
  if (labels != nullptr) {
    for (const Label& l : *labels) (*m)[l.name] = l.value;
  }
  return m;
}

constexpr std::string_view kAlertDefs =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := "
    ".ExternalURL}}{{$value := .Value}}";

}  // namespace

std::string FormatGoG(double v, int precision) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return CFormat("%.*g", precision, v);
}

Result<Template> Template::Parse(std::string_view name, std::string_view text) {
  auto tree = std::make_shared<Tree>();
  tree->name = std::string(name);
  tree->source = std::string(text);
  Parser parser(tree->name, tree->source);
  TIDEMARK_RETURN_IF_ERROR(parser.Parse(&tree->root, &tree->plain));
  Template t;
  t.tree_ = std::move(tree);
  return t;
}

bool Template::IsPlainText() const { return tree_ == nullptr || tree_->plain; }

const std::string& Template::name() const {
  static const std::string kEmpty;
  return tree_ == nullptr ? kEmpty : tree_->name;
}

Result<std::string> Template::Execute(const TemplateData& data) const {
  if (tree_ == nullptr) return std::string();
  if (tree_->plain) {
    return tree_->root.empty() ? std::string() : tree_->root.front().text;
  }
  ExecData exec{&data, ToMap(data.labels), ToMap(data.external_labels)};
  Executor ex(*tree_, exec);
  std::string out;
  TIDEMARK_RETURN_IF_ERROR(ex.Run(&out));
  return out;
}

Result<Template> ParseAlertTemplate(std::string_view alert_name, std::string_view text) {
  std::string name = "__alert_" + std::string(alert_name);
  if (text.find("{{") == std::string_view::npos) return Template::Parse(name, text);
  return Template::Parse(name, std::string(kAlertDefs) + std::string(text));
}

Status CheckAlertTemplate(std::string_view alert_name, std::string_view text) {
  Result<Template> t = ParseAlertTemplate(alert_name, text);
  return t.ok() ? Status::Ok() : t.status();
}

std::string ExpandParsedAlertTemplate(const Template& tmpl, const TemplateData& data) {
  Result<std::string> r = tmpl.Execute(data);
  if (r.ok()) return std::move(r).value();
  return "<error expanding template: error executing template " + tmpl.name() + ": " +
         r.status().message() + ">";
}

std::string ExpandAlertTemplate(std::string_view alert_name, std::string_view text,
                                const TemplateData& data) {
  Result<Template> t = ParseAlertTemplate(alert_name, text);
  if (!t.ok()) {
    return "<error expanding template: error parsing template __alert_" + std::string(alert_name) +
           ": " + t.status().message() + ">";
  }
  Result<std::string> r = t->Execute(data);
  if (r.ok()) return std::move(r).value();
  return "<error expanding template: error executing template __alert_" + std::string(alert_name) +
         ": " + r.status().message() + ">";
}

}  // namespace tidemark::alerting

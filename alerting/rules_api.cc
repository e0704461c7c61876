#include "alerting/rules_api.h"

#include <cmath>

#include "common/go_format.h"

namespace tidemark::alerting {
namespace {

// encoding/json string escaping with HTML escaping, as Prometheus' jsoniter config does.
void Str(std::string_view s, std::string* out) {
  static const char* kHex = "0123456789abcdef";
  *out += '"';
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      int n = 0;
      int32_t r = DecodeRune(s, i, &n);
      if (r == 0xFFFD && n == 1) {
        *out += "\\ufffd";
      } else if (r == 0x2028 || r == 0x2029) {
        *out += r == 0x2028 ? "\\u2028" : "\\u2029";
      } else {
        out->append(s.substr(i, static_cast<size_t>(n)));
      }
      i += static_cast<size_t>(n);
      continue;
    }
    if (c == '"') {
      *out += "\\\"";
    } else if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '\r') {
      *out += "\\r";
    } else if (c == '\t') {
      *out += "\\t";
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      *out += "\\u00";
      *out += kHex[c >> 4];
      *out += kHex[c & 15];
    } else {
      *out += static_cast<char>(c);
    }
    ++i;
  }
  *out += '"';
}

// encoding/json float64: 'f' form unless tiny or huge, then 'e' with a short exponent.
void Num(double v, std::string* out) {
  double a = std::fabs(v);
  bool e = a != 0 && (a < 1e-6 || a >= 1e21);
  std::string s = FormatGoFloat(v, e ? 'e' : 'f');
  if (e) {
    size_t n = s.size();
    if (n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') s.erase(n - 2, 1);
  }
  *out += s;
}

void Key(std::string_view k, std::string* out) {
  Str(k, out);
  *out += ':';
}

void LabelsObj(const Labels& ls, std::string* out) {
  *out += '{';
  for (size_t i = 0; i < ls.size(); ++i) {
    if (i) *out += ',';
    Key(ls[i].name, out);
    Str(ls[i].value, out);
  }
  *out += '}';
}

std::chrono::system_clock::time_point FromMs(int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

void AlertObj(const RuleAlert& a, std::string* out) {
  *out += '{';
  Key("labels", out);
  LabelsObj(a.labels, out);
  *out += ',';
  Key("annotations", out);
  LabelsObj(a.annotations, out);
  *out += ',';
  Key("state", out);
  Str(AlertStateName(a.state), out);
  *out += ',';
  Key("activeAt", out);
  Str(FormatApiTime(FromMs(a.active_at_ms)), out);
  if (a.keep_firing_since_ms != 0) {
    *out += ',';
    Key("keepFiringSince", out);
    Str(FormatApiTime(FromMs(a.keep_firing_since_ms)), out);
  }
  *out += ',';
  Key("value", out);
  Str(FormatGoFloat(a.value, 'e'), out);
  *out += '}';
}

void AlertList(const std::vector<RuleAlert>& alerts, std::string* out) {
  *out += '[';
  for (size_t i = 0; i < alerts.size(); ++i) {
    if (i) *out += ',';
    AlertObj(alerts[i], out);
  }
  *out += ']';
}

void EvalFields(const RuleSnapshot& r, std::string* out) {
  Key("health", out);
  Str(RuleHealthName(r.health), out);
  if (!r.last_error.empty()) {
    *out += ',';
    Key("lastError", out);
    Str(r.last_error, out);
  }
  *out += ',';
  Key("evaluationTime", out);
  Num(r.evaluation_seconds, out);
  *out += ',';
  Key("lastEvaluation", out);
  Str(FormatApiTime(r.last_evaluation), out);
}

void RuleObj(const RuleSnapshot& r, std::string* out) {
  *out += '{';
  if (r.kind == RuleSpec::Kind::kAlerting) {
    Key("state", out);
    Str(AlertStateName(r.state), out);
    *out += ',';
    Key("name", out);
    Str(r.name, out);
    *out += ',';
    Key("query", out);
    Str(r.query, out);
    *out += ',';
    Key("duration", out);
    Num(r.duration_s, out);
    *out += ',';
    Key("keepFiringFor", out);
    Num(r.keep_firing_for_s, out);
    *out += ',';
    Key("labels", out);
    LabelsObj(r.labels, out);
    *out += ',';
    Key("annotations", out);
    LabelsObj(r.annotations, out);
    *out += ',';
    Key("alerts", out);
    AlertList(r.alerts, out);
    *out += ',';
    EvalFields(r, out);
    *out += ',';
    Key("type", out);
    Str("alerting", out);
  } else {
    Key("name", out);
    Str(r.name, out);
    *out += ',';
    Key("query", out);
    Str(r.query, out);
    if (!r.labels.empty()) {
      *out += ',';
      Key("labels", out);
      LabelsObj(r.labels, out);
    }
    *out += ',';
    EvalFields(r, out);
    *out += ',';
    Key("type", out);
    Str("recording", out);
  }
  *out += '}';
}

constexpr std::string_view kSuccess = "{\"status\":\"success\",\"data\":";

}  // namespace

std::string FormatApiTime(std::chrono::system_clock::time_point t) {
  const int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  if (ns == 0) return "0001-01-01T00:00:00Z";
  int64_t secs = ns / 1000000000;
  int64_t frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  return FormatGoTime(secs, frac, true);
}

ApiResponse RulesApiResponse(const std::vector<GroupSnapshot>& groups, std::string_view type) {
  ApiResponse resp;
  if (!type.empty() && type != "alert" && type != "record") {
    resp.http_status = 400;
    resp.body = "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":";
    Str("invalid parameter \"type\": not supported value " + GoQuote(type), &resp.body);
    resp.body += '}';
    return resp;
  }
  std::string& out = resp.body;
  out = kSuccess;
  out += "{\"groups\":[";
  for (size_t i = 0; i < groups.size(); ++i) {
    const GroupSnapshot& g = groups[i];
    if (i) out += ',';
    out += '{';
    Key("name", &out);
    Str(g.name, &out);
    out += ',';
    Key("file", &out);
    Str(g.file, &out);
    out += ',';
    Key("rules", &out);
    out += '[';
    bool first = true;
    for (const RuleSnapshot& r : g.rules) {
      if (type == "alert" && r.kind != RuleSpec::Kind::kAlerting) continue;
      if (type == "record" && r.kind != RuleSpec::Kind::kRecording) continue;
      if (!first) out += ',';
      first = false;
      RuleObj(r, &out);
    }
    out += "],";
    Key("interval", &out);
    Num(g.interval_s, &out);
    out += ',';
    Key("limit", &out);
    out += std::to_string(g.limit);
    out += ',';
    Key("evaluationTime", &out);
    Num(g.evaluation_seconds, &out);
    out += ',';
    Key("lastEvaluation", &out);
    Str(FormatApiTime(g.last_evaluation), &out);
    out += '}';
  }
  out += "]}}";
  return resp;
}

ApiResponse AlertsApiResponse(const std::vector<GroupSnapshot>& groups) {
  ApiResponse resp;
  std::string& out = resp.body;
  out = kSuccess;
  out += "{\"alerts\":[";
  bool first = true;
  for (const GroupSnapshot& g : groups) {
    for (const RuleSnapshot& r : g.rules) {
      if (r.kind != RuleSpec::Kind::kAlerting) continue;
      for (const RuleAlert& a : r.alerts) {
        if (!first) out += ',';
        first = false;
        AlertObj(a, &out);
      }
    }
  }
  out += "]}}";
  return resp;
}

}  // namespace tidemark::alerting

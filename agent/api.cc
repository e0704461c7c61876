#include "agent/api.h"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include "agent/api_format.h"
#include "common/labels.h"
#include "tsdb/promql/parser.h"

namespace tidemark::agent {

namespace {

constexpr std::string_view kPrefix = "/api/v1/";
constexpr std::string_view kPrometheusVersion = "2.42.0";
constexpr char kStoreUnavailable[] =
    "the local store is not available (storage.enabled is false, or the store could not be "
    "opened: see the agent's log)";

// Prometheus' respondError status codes; "unavailable" falls through to 500 there too.
int StatusFor(std::string_view error_type) {
  if (error_type == "bad_data") return 400;
  if (error_type == "execution") return 422;
  if (error_type == "timeout" || error_type == "canceled") return 503;
  if (error_type == "not_found") return 404;
  return 500;
}

// "/api/v1/label/<name>/values" → name; nullopt for other paths.
std::optional<std::string_view> LabelValuesName(std::string_view path) {
  constexpr std::string_view kHead = "/api/v1/label/";
  constexpr std::string_view kTail = "/values";
  if (!path.starts_with(kHead) || !path.ends_with(kTail)) return std::nullopt;
  if (path.size() <= kHead.size() + kTail.size()) return std::nullopt;
  std::string_view name = path.substr(kHead.size(), path.size() - kHead.size() - kTail.size());
  if (name.find('/') != std::string_view::npos) return std::nullopt;
  return name;
}

struct Route {
  std::string_view path;
  bool post;  // POST (form) accepted besides GET.
  bool slow;
};

constexpr Route kRoutes[] = {
    {"/api/v1/query", true, true},
    {"/api/v1/query_range", true, true},
    {"/api/v1/series", true, true},
    {"/api/v1/labels", true, true},
    {"/api/v1/query_exemplars", true, false},
    {"/api/v1/format_query", true, false},
    {"/api/v1/metadata", false, false},
    {"/api/v1/status/buildinfo", false, false},
    {"/api/v1/rules", false, false},
};
constexpr Route kLabelValuesRoute = {"/api/v1/label/:name/values", false, true};

const Route* FindRoute(std::string_view path) {
  for (const Route& r : kRoutes) {
    if (r.path == path) return &r;
  }
  if (LabelValuesName(path)) return &kLabelValuesRoute;
  return nullptr;
}

// "line:col" (1-based) of byte offset `pos` in `text`, as the PromQL parser reports positions.
std::string Position(std::string_view text, size_t pos) {
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return std::to_string(line) + ":" + std::to_string(pos - line_start + 1);
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || c == ':' || (c >= '0' && c <= '9'); }

// The error Prometheus' ParseMetricSelector gives for input that is not a bare selector
// (`up[5m]`, `sum(up)`, `1`, `up offset 5m`): the first token after the selector is
// "unexpected". *end (optional) receives that token's byte offset.
std::string NotASelectorError(std::string_view s, size_t* end = nullptr) {
  size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  auto describe = [&](size_t p) -> std::string {
    if (p >= s.size()) return "end of input";
    if ((s[p] >= '0' && s[p] <= '9') || s[p] == '.') {
      size_t e = p;
      while (e < s.size() && (IsIdentChar(s[e]) || s[e] == '.')) ++e;
      return "number \"" + std::string(s.substr(p, e - p)) + "\"";
    }
    if (IsIdentStart(s[p])) {
      size_t e = p;
      while (e < s.size() && IsIdentChar(s[e])) ++e;
      std::string word(s.substr(p, e - p));
      for (const char* kw : {"offset", "by", "without", "bool", "on", "ignoring", "group_left",
                             "group_right", "and", "or", "unless", "atan2"}) {
        if (word == kw) return "<" + word + ">";
      }
      return "identifier \"" + word + "\"";
    }
    return GoQuote(s.substr(p, 1));
  };
  if (end != nullptr) *end = i;
  if (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '(' || s[i] == '-' ||
                       s[i] == '+' || s[i] == '"' || s[i] == '\'')) {
    return Position(s, i) + ": parse error: unexpected " + describe(i);
  }
  if (i < s.size() && IsIdentStart(s[i])) {
    while (i < s.size() && IsIdentChar(s[i])) ++i;
    while (i < s.size() && IsSpace(s[i])) ++i;
  }
  if (i < s.size() && s[i] == '{') {
    char quote = 0;
    for (++i; i < s.size(); ++i) {
      char c = s[i];
      if (quote) {
        if (c == '\\' && quote != '`') {
          ++i;
        } else if (c == quote) {
          quote = 0;
        }
      } else if (c == '"' || c == '\'' || c == '`') {
        quote = c;
      } else if (c == '}') {
        ++i;
        break;
      }
    }
    while (i < s.size() && IsSpace(s[i])) ++i;
  }
  if (end != nullptr) *end = i;
  return Position(s, i) + ": parse error: unexpected " + describe(i);
}

// The byte offset a parse error message ("line:col: parse error: …") points at, or npos.
size_t ErrorOffset(std::string_view text, std::string_view message) {
  size_t colon = message.find(':');
  if (colon == std::string_view::npos) return std::string_view::npos;
  size_t colon2 = message.find(':', colon + 1);
  if (colon2 == std::string_view::npos) return std::string_view::npos;
  int line = 0, col = 0;
  auto l = std::from_chars(message.data(), message.data() + colon, line);
  auto c = std::from_chars(message.data() + colon + 1, message.data() + colon2, col);
  if (l.ec != std::errc() || c.ec != std::errc() || line < 1 || col < 1) {
    return std::string_view::npos;
  }
  size_t off = 0;
  for (int n = 1; n < line; ++n) {
    off = text.find('\n', off);
    if (off == std::string_view::npos) return std::string_view::npos;
    ++off;
  }
  return off + static_cast<size_t>(col) - 1;
}

constexpr std::string_view kEmptyMatcherParseError =
    "vector selector must contain at least one non-empty matcher";
constexpr char kEmptyMatchError[] = "match[] must contain at least one non-empty matcher";

bool LabelsLess(const Labels& a, const Labels& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i].name != b[i].name) return a[i].name < b[i].name;
    if (a[i].value != b[i].value) return a[i].value < b[i].value;
  }
  return a.size() < b.size();
}

}  // namespace

struct PrometheusApi::Reply {
  std::string error_type;  // Empty on success.
  std::string error;
  std::string data;  // JSON of `data` on success.
  std::vector<std::string> warnings;
  bool ok() const { return error_type.empty(); }

  static Reply Error(std::string type, std::string message) {
    Reply r;
    r.error_type = std::move(type);
    r.error = std::move(message);
    return r;
  }
  static Reply BadData(std::string message) { return Error("bad_data", std::move(message)); }
  static Reply InvalidParam(std::string_view name, std::string_view message) {
    return BadData("invalid parameter " + GoQuote(name) + ": " + std::string(message));
  }
  static Reply Data(std::string data) {
    Reply r;
    r.data = std::move(data);
    return r;
  }
};

namespace {

std::vector<std::string_view> Params(const HttpRequest& req, std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : req.query) {
    if (k == name) out.push_back(v);
  }
  return out;
}

// parseTimeParam: absent/empty → `def`; errors wrapped as Prometheus wraps them.
Result<ApiTime> TimeParam(const HttpRequest& req, std::string_view name, ApiTime def) {
  std::string_view v = req.Param(name);
  if (v.empty()) return def;
  auto t = ParseApiTime(v);
  if (!t.ok()) {
    return Status::InvalidArgument("Invalid time value for '" + std::string(name) +
                                   "': " + t.status().message());
  }
  return t;
}

// Parses the match[] selectors as Prometheus' parseMatchersParam does. The error text is bare
// (callers wrap it or not, as Prometheus does per endpoint).
Result<std::vector<std::vector<tsdb::Matcher>>> MatcherSets(
    const std::vector<std::string_view>& selectors) {
  std::vector<std::vector<tsdb::Matcher>> sets;
  bool all_empty_seen = false;
  for (std::string_view s : selectors) {
    auto expr = promql::ParseExpr(s);
    if (!expr.ok()) {
      const std::string& msg = expr.status().message();
      if (msg.ends_with(kEmptyMatcherParseError)) {
        all_empty_seen = true;
        continue;
      }
      // An error past the selector (`up(`) is where ParseMetricSelector stops: report it so.
      size_t selector_end = 0;
      std::string selector_error = NotASelectorError(s, &selector_end);
      size_t at = ErrorOffset(s, msg);
      if (at != std::string_view::npos && at >= selector_end) {
        return Status::InvalidArgument(selector_end < s.size()
                                           ? selector_error
                                           : Position(s, s.size()) +
                                                 ": parse error: unexpected end of input");
      }
      return Status::InvalidArgument(msg);
    }
    const promql::Expr& e = **expr;
    if (e.kind != promql::ExprKind::kVectorSelector) {
      return Status::InvalidArgument(NotASelectorError(s));
    }
    const auto& vs = static_cast<const promql::VectorSelector&>(e);
    if (vs.offset_ms != 0 || vs.at.kind != promql::AtKind::kNone) {
      return Status::InvalidArgument(NotASelectorError(s));
    }
    sets.push_back(vs.matchers);
  }
  if (all_empty_seen) return Status::InvalidArgument(kEmptyMatchError);
  for (const auto& set : sets) {
    bool non_empty = false;
    for (const auto& m : set) non_empty = non_empty || !m.matches_empty();
    if (!non_empty) return Status::InvalidArgument(kEmptyMatchError);
  }
  return sets;
}

}  // namespace

PrometheusApi::PrometheusApi(const tsdb::Db* db, const promql::Engine* engine,
                             MetadataSource metadata, const Clock& clock, std::string version)
    : db_(db),
      engine_(engine),
      metadata_(std::move(metadata)),
      clock_(clock),
      version_(std::move(version)) {}

bool PrometheusApi::Handles(std::string_view path) { return path.starts_with(kPrefix); }

std::string PrometheusApi::RouteLabel(std::string_view path) {
  const Route* r = FindRoute(path);
  return r ? std::string(r->path) : "other";
}

bool PrometheusApi::IsSlow(std::string_view path) {
  const Route* r = FindRoute(path);
  return r != nullptr && r->slow;
}

void PrometheusApi::Serve(const HttpRequest& req, HttpResponse* resp) const {
  const Route* route = FindRoute(req.path);
  if (req.method == "OPTIONS") {
    // Prometheus answers OPTIONS on every API path (CORS preflight) with an empty 204.
    resp->status = 204;
    return;
  }
  if (route == nullptr) {
    // Prometheus' router: plain-text 404 for unknown API paths.
    resp->status = 404;
    resp->headers.emplace_back("X-Content-Type-Options", "nosniff");
    resp->body = "404 page not found\n";
    return;
  }
  if (req.method != "GET" && !(route->post && req.method == "POST")) {
    resp->status = 405;
    resp->headers.emplace_back("Allow", route->post ? "GET, OPTIONS, POST" : "GET, OPTIONS");
    resp->headers.emplace_back("X-Content-Type-Options", "nosniff");
    resp->body = "Method Not Allowed\n";
    return;
  }
  Reply reply;
  std::string_view p = route->path;
  // The slow routes are exactly those that read the store.
  if (route->slow && (db_ == nullptr || engine_ == nullptr)) {
    reply = Reply::Error("unavailable", kStoreUnavailable);
  } else if (p == "/api/v1/query") {
    reply = Query(req);
  } else if (p == "/api/v1/query_range") {
    reply = QueryRange(req);
  } else if (p == "/api/v1/series") {
    reply = Series(req);
  } else if (p == "/api/v1/labels") {
    reply = LabelNames(req);
  } else if (route == &kLabelValuesRoute) {
    reply = LabelValues(req, *LabelValuesName(req.path));
  } else if (p == "/api/v1/metadata") {
    reply = Metadata(req);
  } else if (p == "/api/v1/status/buildinfo") {
    reply = BuildInfo();
  } else if (p == "/api/v1/rules") {
    reply = Reply::Data("{\"groups\":[]}");
  } else if (p == "/api/v1/query_exemplars") {
    reply = Reply::Data("[]");
  } else {
    reply = FormatQuery(req);
  }
  resp->content_type = "application/json";
  if (reply.ok()) {
    resp->status = 200;
    resp->body = SuccessBodyInPlace(std::move(reply.data), reply.warnings);
  } else {
    resp->status = StatusFor(reply.error_type);
    resp->body = ErrorBody(reply.error_type, reply.error, reply.warnings);
  }
}

int64_t PrometheusApi::Timeout(const HttpRequest& req, Reply* error) const {
  std::string_view v = req.Param("timeout");
  if (v.empty()) return 0;
  auto ns = ParseApiDuration(v);
  if (!ns.ok()) {
    *error = Reply::InvalidParam("timeout", ns.status().message());
    return 0;
  }
  if (*ns <= 0) {
    // Prometheus' context deadline has passed before the query is even queued.
    *error = Reply::Error("timeout", "query timed out in query queue");
    return 0;
  }
  int64_t ms = std::max<int64_t>(1, *ns / 1'000'000);
  return std::min<int64_t>(ms, engine_->options().timeout.count());
}

PrometheusApi::Reply PrometheusApi::RunQuery(const promql::QueryResult& result) const {
  Reply r;
  r.warnings = result.warnings;
  if (!result.ok()) {
    r.error_type = std::string(promql::ErrorTypeName(result.error_type));
    r.error = result.error;
    return r;
  }
  r.data = FormatQueryData(result.value);
  return r;
}

PrometheusApi::Reply PrometheusApi::Query(const HttpRequest& req) const {
  int64_t now_ms = ToUnixMillis(clock_.Now());
  int64_t now_sec = now_ms / 1000 - (now_ms % 1000 < 0 ? 1 : 0);
  ApiTime now{now_sec, (now_ms - now_sec * 1000) * 1'000'000};
  auto t = TimeParam(req, "time", now);
  if (!t.ok()) return Reply::InvalidParam("time", t.status().message());
  Reply error;
  int64_t timeout_ms = Timeout(req, &error);
  if (!error.ok()) return error;
  auto expr = promql::ParseExpr(req.Param("query"));
  if (!expr.ok()) return Reply::InvalidParam("query", expr.status().message());
  return RunQuery(engine_->InstantExpr(**expr, ApiTimeToEngineMillis(*t),
                                       std::chrono::milliseconds(timeout_ms)));
}

PrometheusApi::Reply PrometheusApi::QueryRange(const HttpRequest& req) const {
  auto start = ParseApiTime(req.Param("start"));
  if (!start.ok()) return Reply::InvalidParam("start", start.status().message());
  auto end = ParseApiTime(req.Param("end"));
  if (!end.ok()) return Reply::InvalidParam("end", end.status().message());
  if (end->sec < start->sec || (end->sec == start->sec && end->nsec < start->nsec)) {
    return Reply::InvalidParam("end", "end timestamp must not be before start time");
  }
  auto step = ParseApiDuration(req.Param("step"));
  if (!step.ok()) return Reply::InvalidParam("step", step.status().message());
  if (*step <= 0) {
    return Reply::InvalidParam("step",
                               "zero or negative query resolution step widths are not accepted. "
                               "Try a positive integer");
  }
  // end.Sub(start) saturates at the int64 nanosecond range, as Go's does.
  __int128 span =
      (static_cast<__int128>(end->sec) - start->sec) * 1'000'000'000 + (end->nsec - start->nsec);
  if (span > INT64_MAX) span = INT64_MAX;
  if (span / *step > 11000) {
    return Reply::BadData(
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
        "resolution (?step=XX)");
  }
  Reply error;
  int64_t timeout_ms = Timeout(req, &error);
  if (!error.ok()) return error;
  auto expr = promql::ParseExpr(req.Param("query"));
  if (!expr.ok()) return Reply::InvalidParam("query", expr.status().message());
  promql::ValueType type = (*expr)->Type();
  if (type != promql::ValueType::kVector && type != promql::ValueType::kScalar) {
    return Reply::BadData("invalid expression type \"" +
                          std::string(promql::DocumentedTypeName(type)) +
                          "\" for range query, must be Scalar or instant Vector");
  }
  // The engine works in whole milliseconds; a sub-millisecond step becomes 1 ms.
  int64_t step_ms = std::max<int64_t>(1, *step / 1'000'000);
  return RunQuery(engine_->RangeExpr(**expr, ApiTimeToEngineMillis(*start),
                                     ApiTimeToEngineMillis(*end), step_ms,
                                     std::chrono::milliseconds(timeout_ms)));
}

PrometheusApi::Reply PrometheusApi::Series(const HttpRequest& req) const {
  std::vector<std::string_view> match = Params(req, "match[]");
  if (match.empty()) return Reply::BadData("no match[] parameter provided");
  auto start = TimeParam(req, "start", ApiMinTime());
  if (!start.ok()) return Reply::InvalidParam("start", start.status().message());
  auto end = TimeParam(req, "end", ApiMaxTime());
  if (!end.ok()) return Reply::InvalidParam("end", end.status().message());
  auto sets = MatcherSets(match);
  if (!sets.ok()) return Reply::InvalidParam("match[]", sets.status().message());
  int64_t mint = ApiTimeToMillis(*start), maxt = ApiTimeToMillis(*end);
  // Without a time range every stored series qualifies: list them from the index instead of
  // loading all their chunks (Grafana's metrics browser asks this way).
  const bool whole_range = Params(req, "start").empty() && Params(req, "end").empty();
  std::vector<Labels> found;
  for (const auto& set : *sets) {
    if (whole_range) {
      auto labels = db_->SeriesLabels(set);
      if (!labels.ok()) return Reply::Error("execution", labels.status().message());
      std::move(labels->begin(), labels->end(), std::back_inserter(found));
      continue;
    }
    auto series = db_->Select(set, mint, maxt);
    if (!series.ok()) return Reply::Error("execution", series.status().message());
    for (const tsdb::SeriesData& s : *series) {
      // Only series with data in [start, end].
      auto it = s.Iterate();
      if (it->Next()) found.push_back(s.labels);
    }
  }
  std::sort(found.begin(), found.end(), LabelsLess);
  found.erase(std::unique(found.begin(), found.end()), found.end());
  std::string data = "[";
  for (size_t i = 0; i < found.size(); ++i) {
    if (i > 0) data += ',';
    AppendLabelsJson(found[i], &data);
  }
  data += ']';
  return Reply::Data(std::move(data));
}

PrometheusApi::Reply PrometheusApi::LabelStrings(const HttpRequest& req,
                                                 const MatcherListFn& list) const {
  auto start = TimeParam(req, "start", ApiMinTime());
  if (!start.ok()) return Reply::InvalidParam("start", start.status().message());
  auto end = TimeParam(req, "end", ApiMaxTime());
  if (!end.ok()) return Reply::InvalidParam("end", end.status().message());
  auto sets = MatcherSets(Params(req, "match[]"));
  if (!sets.ok()) return Reply::BadData(sets.status().message());
  std::set<std::string> found;
  if (sets->empty()) {
    for (auto& v : list(nullptr)) found.insert(std::move(v));
  }
  for (const auto& set : *sets) {
    for (auto& v : list(&set)) found.insert(std::move(v));
  }
  std::string data;
  AppendStringArray(std::vector<std::string>(found.begin(), found.end()), &data);
  return Reply::Data(std::move(data));
}

PrometheusApi::Reply PrometheusApi::LabelNames(const HttpRequest& req) const {
  return LabelStrings(req, [&](const std::vector<tsdb::Matcher>* set) {
    return set ? db_->LabelNames(*set) : db_->LabelNames();
  });
}

PrometheusApi::Reply PrometheusApi::LabelValues(const HttpRequest& req,
                                                std::string_view name) const {
  if (!IsValidLabelName(name)) return Reply::BadData("invalid label name: " + GoQuote(name));
  return LabelStrings(req, [&](const std::vector<tsdb::Matcher>* set) {
    return set ? db_->LabelValues(name, *set) : db_->LabelValues(name);
  });
}

PrometheusApi::Reply PrometheusApi::Metadata(const HttpRequest& req) const {
  int64_t limit = -1;
  std::string_view ls = req.Param("limit");
  if (!ls.empty()) {
    // strconv.Atoi: optional sign, decimal digits only.
    std::string_view digits = ls;
    bool neg = false;
    if (digits[0] == '+' || digits[0] == '-') {
      neg = digits[0] == '-';
      digits.remove_prefix(1);
    }
    if (digits.empty() || digits.size() > 18 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Reply::BadData("limit must be a number");
    }
    limit = std::stoll(std::string(digits)) * (neg ? -1 : 1);
  }
  std::string_view metric = req.Param("metric");
  std::map<std::string_view, const MetricFamily*> families;
  auto batch = metadata_ ? metadata_() : nullptr;
  if (batch) {
    for (const MetricFamily& f : batch->families()) {
      if (!metric.empty() && f.name != metric) continue;
      families.emplace(f.name, &f);
    }
  }
  std::string data = "{";
  int64_t n = 0;
  for (const auto& [name, f] : families) {
    if (limit >= 0 && n >= limit) break;
    if (n++ > 0) data += ',';
    AppendJsonString(name, &data);
    data += ":[{\"type\":";
    // Prometheus calls untyped families "unknown".
    AppendJsonString(f->type == MetricType::kUntyped ? "unknown" : MetricTypeName(f->type), &data);
    data += ",\"help\":";
    AppendJsonString(f->help, &data);
    data += ",\"unit\":\"\"}]";
  }
  data += '}';
  return Reply::Data(std::move(data));
}

PrometheusApi::Reply PrometheusApi::BuildInfo() const {
  // A Prometheus version makes Grafana treat the agent as Prometheus; no "features" key (Grafana
  // would take it for Mimir).
  std::string data = "{\"version\":";
  AppendJsonString(kPrometheusVersion, &data);
  data += ",\"revision\":";
  AppendJsonString("tidemark-" + version_, &data);
  data +=
      ",\"branch\":\"tidemark\",\"buildUser\":\"tidemark\",\"buildDate\":\"\",\"goVersion\":\"\"}";
  return Reply::Data(std::move(data));
}

PrometheusApi::Reply PrometheusApi::FormatQuery(const HttpRequest& req) const {
  auto expr = promql::ParseExpr(req.Param("query"));
  if (!expr.ok()) return Reply::InvalidParam("query", expr.status().message());
  std::string data;
  AppendJsonString((*expr)->ToString(), &data);
  return Reply::Data(std::move(data));
}

}  // namespace tidemark::agent

#include "agent/query_cli.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "agent/api.h"
#include "agent/api_format.h"
#include "agent/tsdb_cli.h"
#include "common/duration.h"
#include "common/http_client.h"
#include "tsdb/db.h"
#include "tsdb/promql/engine.h"

namespace tidemark::agent {

namespace {

constexpr char kUsage[] =
    "Usage: tidemark query EXPR [--time T | --start S [--end E] [--step D]]\n"
    "                      [--server URL | --data-dir DIR] [--json]\n"
    "\n"
    "Evaluates the PromQL expression EXPR, against a running agent's /api/v1 (default) or\n"
    "directly on a data directory (the agent must not be running on it).\n"
    "\n"
    "  --time T        Instant query at T (default: now)\n"
    "  --start S       Range query from S ...\n"
    "  --end E         ... to E (default: now) ...\n"
    "  --step D        ... every D, e.g. 15s or 0.5 (default: (end - start) / 250, at least 1s)\n"
    "  --server URL    Agent or Prometheus to ask (default http://127.0.0.1:9920)\n"
    "  --data-dir DIR  Evaluate locally on DIR (an agent's data dir, or its tsdb/ store)\n"
    "  --json          Print the API's JSON response instead of a table\n"
    "  -h, --help      Show this help\n"
    "\n"
    "Times: Unix seconds (1700000000.5), RFC3339 (2023-11-14T22:13:20Z), now, or relative to\n"
    "now: -1h, now-30m. Exit codes: 0 ok, 1 the query or the connection failed, 2 bad input.\n";

constexpr char kDefaultServer[] = "http://127.0.0.1:9920";

struct Options {
  std::string expr;
  std::string time, start, end, step;
  std::string server;
  std::string data_dir;
  bool json = false;
  bool help = false;
};

Result<Options> ParseArgs(const std::vector<std::string>& args) {
  Options o;
  bool have_expr = false, flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_done || !a.starts_with("-") || a == "-") {
      if (have_expr) {
        return Status::InvalidArgument("more than one expression (\"" + o.expr + "\", \"" + a +
                                       "\"): quote EXPR");
      }
      o.expr = a;
      have_expr = true;
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      o.help = true;
      return o;
    }
    if (a == "--json") {
      o.json = true;
      continue;
    }
    std::string name = a, value;
    size_t eq = a.find('=');
    bool inline_value = eq != std::string::npos;
    if (inline_value) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    std::string* dst = nullptr;
    if (name == "--time") dst = &o.time;
    if (name == "--start") dst = &o.start;
    if (name == "--end") dst = &o.end;
    if (name == "--step") dst = &o.step;
    if (name == "--server") dst = &o.server;
    if (name == "--data-dir") dst = &o.data_dir;
    if (dst == nullptr) {
      return Status::InvalidArgument("unknown flag \"" + a + "\" (see tidemark query --help)");
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) return Status::InvalidArgument(name + ": missing value");
      value = args[++i];
    }
    if (value.empty()) return Status::InvalidArgument(name + ": empty value");
    *dst = value;
  }
  if (!have_expr) return Status::InvalidArgument("missing EXPR (see tidemark query --help)");
  if (o.expr.empty()) return Status::InvalidArgument("EXPR is empty");
  bool range = !o.start.empty() || !o.end.empty() || !o.step.empty();
  if (range && !o.time.empty()) {
    return Status::InvalidArgument(
        "--time is for instant queries; it cannot go with --start, "
        "--end or --step");
  }
  if (range && o.start.empty()) return Status::InvalidArgument("a range query needs --start");
  if (!o.server.empty() && !o.data_dir.empty()) {
    return Status::InvalidArgument("--server and --data-dir are alternatives; give one");
  }
  return o;
}

std::string UrlEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

struct ServerUrl {
  std::string host;
  uint16_t port = 80;
  std::string prefix;  // Path before /api/v1, without a trailing '/'.
};

Result<ServerUrl> ParseServerUrl(std::string_view url) {
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    return Status::InvalidArgument("--server " + std::string(url) +
                                   ": only http:// URLs are supported");
  }
  ServerUrl u;
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos) u.prefix = std::string(rest.substr(slash));
  while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
  std::string_view host = hostport;
  size_t colon = hostport.rfind(':');
  if (colon != std::string_view::npos && hostport.find(']', colon) == std::string_view::npos) {
    host = hostport.substr(0, colon);
    std::string_view p = hostport.substr(colon + 1);
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc() || ptr != p.data() + p.size() || port == 0 || port > 65535) {
      return Status::InvalidArgument("--server " + std::string(url) + ": bad port");
    }
    u.port = static_cast<uint16_t>(port);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return Status::InvalidArgument("--server " + std::string(url) + ": no host");
  u.host = std::string(host);
  return u;
}

// civil_from_days (Howard Hinnant): days since 1970-01-01 → y, m, d.
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

std::string FormatTime(int64_t ms) {
  int64_t secs = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
  int64_t frac = ms - secs * 1000;
  int64_t days = secs / 86400 - (secs % 86400 < 0 ? 1 : 0);
  int64_t sod = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(sod / 3600),
                static_cast<long long>(sod / 60 % 60), static_cast<long long>(sod % 60),
                static_cast<long long>(frac));
  return buf;
}

std::string FormatSeries(const Labels& labels) {
  std::string name, out;
  for (const Label& l : labels) {
    if (l.name == "__name__") {
      name = l.value;
      continue;
    }
    out += out.empty() ? "{" : ", ";
    out += l.name + "=\"";
    AppendEscapedLabelValue(l.value, &out);
    out += '"';
  }
  if (!out.empty()) out += '}';
  if (name.empty() && out.empty()) return "{}";
  return name + out;
}

std::string FormatValue(double v) {
  std::string s;
  AppendSampleValue(v, &s);
  return s.substr(1, s.size() - 2);
}

// Seconds with millisecond precision, as the API's parameters take them.
std::string Seconds(int64_t ms) {
  std::string s;
  AppendSampleTimestamp(ms, &s);
  return s;
}

// Opens a store for an offline query with the tsdb tools' options (OpenOfflineStore).
Result<std::unique_ptr<tsdb::Db>> OpenStore(const std::string& dir) {
  std::error_code ec;
  std::string store = dir;
  if (std::filesystem::is_directory(dir + "/tsdb", ec)) store = dir + "/tsdb";
  if (!std::filesystem::is_directory(store, ec)) {
    return Status::InvalidArgument("--data-dir " + dir + ": not a directory");
  }
  auto db = OpenOfflineStore(store);
  if (!db.ok()) {
    return Status(db.status().code(),
                  "store " + store + ": " + db.status().message() +
                      " (is an agent running on it? then ask it with --server)");
  }
  return std::move(*db);
}

}  // namespace

Result<int64_t> ParseCliTime(std::string_view s, int64_t now_ms) {
  if (s == "now") return now_ms;
  std::string_view rel;
  if (s.starts_with("now-")) {
    rel = s.substr(4);
  } else if (s.starts_with("-")) {
    double f = 0;
    if (!ParseGoFloat(s, &f)) rel = s.substr(1);
  }
  if (!rel.empty()) {
    auto d = ParseDuration(rel);
    if (!d.ok()) {
      return Status::InvalidArgument("bad time \"" + std::string(s) +
                                     "\": " + d.status().message());
    }
    return now_ms - d->count();
  }
  auto t = ParseApiTime(s);
  if (!t.ok()) {
    return Status::InvalidArgument("bad time \"" + std::string(s) +
                                   "\": expected Unix seconds, RFC3339, now or -DURATION");
  }
  return ApiTimeToEngineMillis(*t);
}

std::string FormatResultTable(const promql::Value& value) {
  struct Row {
    std::string series, value, time;
  };
  std::vector<Row> rows;
  switch (value.type) {
    case promql::ValueType::kScalar:
      rows.push_back({"scalar", FormatValue(value.scalar.v), FormatTime(value.scalar.t)});
      break;
    case promql::ValueType::kString: {
      std::string quoted;
      AppendJsonString(value.str, &quoted);
      rows.push_back({"string", quoted, FormatTime(value.scalar.t)});
      break;
    }
    case promql::ValueType::kVector:
      for (const auto& s : value.vector) {
        rows.push_back({FormatSeries(s.metric), FormatValue(s.v), FormatTime(s.t)});
      }
      break;
    case promql::ValueType::kMatrix:
      for (const auto& s : value.matrix) {
        std::string series = FormatSeries(s.metric);
        for (const auto& p : s.points) rows.push_back({series, FormatValue(p.v), FormatTime(p.t)});
      }
      break;
    case promql::ValueType::kNone:
      break;
  }
  if (rows.empty()) return "(empty result)\n";
  size_t w1 = 6, w2 = 5;
  for (const Row& r : rows) {
    w1 = std::max(w1, r.series.size());
    w2 = std::max(w2, r.value.size());
  }
  auto line = [&](const std::string& a, const std::string& b, const std::string& c) {
    return a + std::string(w1 - a.size() + 2, ' ') + b + std::string(w2 - b.size() + 2, ' ') + c +
           "\n";
  };
  std::string out = line("SERIES", "VALUE", "TIME");
  for (const Row& r : rows) out += line(r.series, r.value, r.time);
  return out;
}

Result<promql::Value> ParseQueryResponse(std::string_view body) {
  try {
    auto j = nlohmann::json::parse(body);
    if (j.value("status", "") != "success") {
      std::string type = j.value("errorType", "error");
      std::string msg = type + ": " + j.value("error", std::string(body));
      if (type == "bad_data") return Status::InvalidArgument(msg);
      return Status::Internal(msg);
    }
    const auto& data = j.at("data");
    promql::Value v;
    std::string type = data.at("resultType").get<std::string>();
    const auto& result = data.at("result");
    auto ms = [](const nlohmann::json& t) {
      return static_cast<int64_t>(std::llround(t.get<double>() * 1000));
    };
    auto num = [](const nlohmann::json& s) {
      double d = 0;
      if (!ParseGoFloat(s.get<std::string>(), &d)) throw std::runtime_error("bad sample value");
      return d;
    };
    auto labels = [](const nlohmann::json& m) {
      Labels l;
      for (auto& [k, val] : m.items()) l.push_back(Label{k, val.get<std::string>()});
      return l;
    };
    if (type == "scalar" || type == "string") {
      v.type = type == "scalar" ? promql::ValueType::kScalar : promql::ValueType::kString;
      v.scalar.t = ms(result.at(0));
      if (type == "scalar") {
        v.scalar.v = num(result.at(1));
      } else {
        v.str = result.at(1).get<std::string>();
      }
    } else if (type == "vector") {
      v.type = promql::ValueType::kVector;
      for (const auto& s : result) {
        v.vector.push_back(promql::Sample{labels(s.at("metric")), ms(s.at("value").at(0)),
                                          num(s.at("value").at(1))});
      }
    } else if (type == "matrix") {
      v.type = promql::ValueType::kMatrix;
      for (const auto& s : result) {
        promql::Series series{labels(s.at("metric")), {}};
        for (const auto& p : s.at("values")) series.points.push_back({ms(p.at(0)), num(p.at(1))});
        v.matrix.push_back(std::move(series));
      }
    } else {
      return Status::Internal("unknown resultType \"" + type + "\"");
    }
    return v;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("unexpected response: ") + e.what());
  }
}

int RunQueryCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                const Clock& clock) {
  auto opts = ParseArgs(args);
  if (!opts.ok()) {
    err << "tidemark query: " << opts.status().message() << "\n";
    return 2;
  }
  if (opts->help) {
    out << kUsage;
    return 0;
  }
  const int64_t now_ms = ToUnixMillis(clock.Now());
  bool range = !opts->start.empty();
  std::vector<std::pair<std::string, std::string>> params = {{"query", opts->expr}};
  if (range) {
    auto start = ParseCliTime(opts->start, now_ms);
    auto end = opts->end.empty() ? Result<int64_t>(now_ms) : ParseCliTime(opts->end, now_ms);
    for (auto* r : {&start, &end}) {
      if (!r->ok()) {
        err << "tidemark query: " << (r == &start ? "--start: " : "--end: ")
            << r->status().message() << "\n";
        return 2;
      }
    }
    if (*end < *start) {
      err << "tidemark query: --end is before --start\n";
      return 2;
    }
    std::string step = opts->step;
    if (step.empty()) {
      step = Seconds(std::max<int64_t>(1000, (*end - *start) / 250));
    } else if (auto ns = ParseApiDuration(step); !ns.ok() || *ns <= 0) {
      err << "tidemark query: --step: expected a positive duration such as 15s or 0.5, got \""
          << step << "\"\n";
      return 2;
    }
    params.emplace_back("start", Seconds(*start));
    params.emplace_back("end", Seconds(*end));
    params.emplace_back("step", step);
  } else {
    auto t = opts->time.empty() ? Result<int64_t>(now_ms) : ParseCliTime(opts->time, now_ms);
    if (!t.ok()) {
      err << "tidemark query: --time: " << t.status().message() << "\n";
      return 2;
    }
    params.emplace_back("time", Seconds(*t));
  }
  const std::string path = range ? "/api/v1/query_range" : "/api/v1/query";

  std::string body;
  if (!opts->data_dir.empty()) {
    auto db = OpenStore(opts->data_dir);
    if (!db.ok()) {
      err << "tidemark query: " << db.status().message() << "\n";
      return db.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
    }
    promql::Engine engine(db->get(), promql::EngineOptions{});
    PrometheusApi api(db->get(), &engine, nullptr, clock, "");
    HttpRequest req;
    req.method = "GET";
    req.path = path;
    req.target = path;
    req.query = params;
    HttpResponse resp;
    api.Serve(req, &resp);
    body = std::move(resp.body);
  } else {
    auto url = ParseServerUrl(opts->server.empty() ? kDefaultServer : opts->server);
    if (!url.ok()) {
      err << "tidemark query: " << url.status().message() << "\n";
      return 2;
    }
    std::string target = url->prefix + path + "?";
    for (size_t i = 0; i < params.size(); ++i) {
      if (i > 0) target += '&';
      target += params[i].first + "=" + UrlEncode(params[i].second);
    }
    HttpClient client = HttpClient::Tcp(url->host, url->port);
    // The server applies its own query timeout; leave it room to answer.
    auto resp = client.Get(target, std::chrono::minutes(5));
    if (!resp.ok()) {
      err << "tidemark query: cannot reach "
          << (opts->server.empty() ? kDefaultServer : opts->server) << ": "
          << resp.status().message() << "\n";
      return 1;
    }
    if (!resp->Header("Content-Type").starts_with("application/json")) {
      err << "tidemark query: " << url->host << ":" << url->port << " answered HTTP "
          << resp->status << " without JSON (is it a tidemark agent or Prometheus?)\n";
      return 1;
    }
    body = std::move(resp->body);
  }
  auto value = ParseQueryResponse(body);
  if (opts->json) {
    out << body << "\n";
  } else if (value.ok()) {
    out << FormatResultTable(*value);
  }
  if (!value.ok()) {
    err << "tidemark query: " << value.status().message() << "\n";
    return value.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}

}  // namespace tidemark::agent

#include "agent/api.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <sstream>
#include <thread>

#include "agent/agent.h"
#include "agent/cli.h"
#include "agent/query_cli.h"
#include "common/http_client.h"
#include "tests/testing/testing.h"
#include "tsdb/promql/engine.h"

namespace tidemark::agent {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

constexpr int64_t kT0 = 1700000000000;  // FakeClock's start, Unix ms.

// A real store in a temp dir with a few series every 15 s over the last 5 minutes before kT0,
// the real engine, and metadata from a batch like the collectors produce.
class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tsdb::DbOptions o;
    o.dir = dir_.path() + "/tsdb";
    o.min_free_bytes = 0;
    auto db = tsdb::Db::Open(o, clock_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto app = db_->NewAppender();
    for (int64_t t = kT0 - 300'000; t <= kT0; t += 15'000) {
      double k = static_cast<double>((t - (kT0 - 300'000)) / 15'000);
      app.Add({{"__name__", "up"}, {"instance", "a:1"}, {"job", "node"}}, t, 1);
      app.Add({{"__name__", "up"}, {"instance", "b:1"}, {"job", "node"}}, t, 0);
      app.Add({{"__name__", "up"}, {"instance", "c:1"}, {"job", "self"}}, t, 1);
      app.Add({{"__name__", "x_total"}, {"instance", "a:1"}, {"job", "node"}, {"path", "<&>"}}, t,
              10 * k);
      app.Add({{"__name__", "y_total"}, {"instance", "a:1"}, {"job", "node"}}, t, 2 * k);
    }
    // A series with data only long before the others.
    app.Add({{"__name__", "old_metric"}, {"job", "old"}}, kT0 - 3'000'000, 5);
    auto r = app.Commit();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    engine_ = std::make_unique<promql::Engine>(db_.get(), promql::EngineOptions{});
    batch_ = std::make_shared<SampleBatch>();
    batch_->Add(batch_->Family("up", "Whether the target is up.", MetricType::kGauge), nullptr, 1);
    batch_->Add(batch_->Family("x_total", "Things <counted>.", MetricType::kCounter), nullptr, 1);
    batch_->Add(batch_->Family("misc", "No type.", MetricType::kUntyped), nullptr, 1);
    api_ = std::make_unique<PrometheusApi>(
        db_.get(), engine_.get(), [this] { return std::shared_ptr<const SampleBatch>(batch_); },
        clock_, "9.9.9");
  }

  HttpResponse Send(const std::string& method, const std::string& path, const Params& params) {
    HttpRequest req;
    req.method = method;
    req.path = path;
    req.target = path;
    req.query = params;
    HttpResponse resp;
    api_->Serve(req, &resp);
    return resp;
  }
  HttpResponse Get(const std::string& path, const Params& params = {}) {
    return Send("GET", path, params);
  }
  // The body of a GET that must answer `status`.
  std::string Body(const std::string& path, const Params& params, int status = 200) {
    HttpResponse r = Get(path, params);
    EXPECT_EQ(r.status, status) << path << " → " << r.body;
    if (r.status != 404 && r.status != 405 && r.status != 204) {
      EXPECT_EQ(r.content_type, "application/json");
    }
    return r.body;
  }
  static std::string Error(const std::string& type, const std::string& json_message) {
    return "{\"status\":\"error\",\"errorType\":\"" + type + "\",\"error\":\"" + json_message +
           "\"}";
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<tsdb::Db> db_;
  std::unique_ptr<promql::Engine> engine_;
  std::shared_ptr<SampleBatch> batch_;
  std::unique_ptr<PrometheusApi> api_;
};

TEST_F(ApiTest, GrafanaHealthCheckIsByteExact) {
  EXPECT_EQ(Body("/api/v1/query", {{"query", "1+1"}, {"time", "4"}}),
            "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[4,\"2\"]}}");
  EXPECT_EQ(Send("POST", "/api/v1/query", {{"query", "1+1"}, {"time", "4"}}).body,
            "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[4,\"2\"]}}");
}

TEST_F(ApiTest, ScalarAndVectorNumbersAsPrometheus242) {
  EXPECT_EQ(Body("/api/v1/query", {{"query", "1e-7"}, {"time", "1435781451.05"}}),
            "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1435781451."
            "05,\"0.0000001\"]}}");
  EXPECT_EQ(Body("/api/v1/query", {{"query", "vector(1e-7)"}, {"time", "1435781451.05"}}),
            "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{"
            "},\"value\":[1435781451.050,\"1e-07\"]}]}}");
  EXPECT_EQ(Body("/api/v1/query", {{"query", "vector(1e21)"}, {"time", "1.5"}}),
            "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{"
            "},\"value\":[1.500,\"1e+21\"]}]}}");
  EXPECT_EQ(Body("/api/v1/query", {{"query", "1e21"}, {"time", "1.5"}}),
            "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1.5,"
            "\"1000000000000000000000\"]}}");
  EXPECT_EQ(Body("/api/v1/query", {{"query", "\"a<b\""}, {"time", "4"}}),
            "{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":[4,"
            "\"a\\u003cb\"]}}");
  EXPECT_EQ(Body("/api/v1/query", {{"query", "vector(0)/0"}, {"time", "4"}}),
            "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{"
            "},\"value\":[4,\"NaN\"]}]}}");
}

TEST_F(ApiTest, InstantSelectorReturnsSortedLabelMaps) {
  std::string t = "1700000000";
  EXPECT_EQ(Body("/api/v1/query", {{"query", "up{job=\"node\"}"}, {"time", t}}),
            "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
            "{\"metric\":{\"__name__\":\"up\",\"instance\":\"a:1\",\"job\":\"node\"},\"value\":["
            "1700000000,\"1\"]},"
            "{\"metric\":{\"__name__\":\"up\",\"instance\":\"b:1\",\"job\":\"node\"},\"value\":["
            "1700000000,\"0\"]}]}}");
  // Label values are escaped as Go's encoding/json does.
  EXPECT_NE(Body("/api/v1/query", {{"query", "x_total"}, {"time", t}})
                .find("\"path\":\"\\u003c\\u0026\\u003e\""),
            std::string::npos);
  // The default time is the clock's now.
  EXPECT_NE(Body("/api/v1/query", {{"query", "up{instance=\"c:1\"}"}}).find("[1700000000,\"1\"]"),
            std::string::npos);
}

TEST_F(ApiTest, EmptyResultsAreEmptyArrays) {
  EXPECT_EQ(Body("/api/v1/query", {{"query", "nonexistent"}, {"time", "1700000000"}}),
            "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}");
  EXPECT_EQ(Body("/api/v1/query_range", {{"query", "nonexistent"},
                                         {"start", "1699999990"},
                                         {"end", "1700000000"},
                                         {"step", "5"}}),
            "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}");
  EXPECT_EQ(Body("/api/v1/series", {{"match[]", "nonexistent"}}),
            "{\"status\":\"success\",\"data\":[]}");
  EXPECT_EQ(Body("/api/v1/label/nonexistent/values", {}), "{\"status\":\"success\",\"data\":[]}");
}

TEST_F(ApiTest, QueryParameterErrorsAreExact) {
  EXPECT_EQ(Body("/api/v1/query", {{"query", "sum(rate("}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"query\\\": 1:10: parse error: unclosed left parenthesis"));
  EXPECT_EQ(Body("/api/v1/query", {{"query", "{a=\"\"}"}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"query\\\": 1:1: parse error: vector selector must contain "
                  "at least one non-empty matcher"));
  EXPECT_EQ(
      Body("/api/v1/query", {}, 400),
      Error("bad_data",
            "invalid parameter \\\"query\\\": 1:1: parse error: no expression found in input"));
  EXPECT_EQ(Body("/api/v1/query", {{"query", "1"}, {"time", "abc"}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"time\\\": Invalid time value for 'time': cannot parse "
                  "\\\"abc\\\" to a valid timestamp"));
  // time is checked before timeout, timeout before the query.
  EXPECT_EQ(
      Body("/api/v1/query", {{"query", "sum("}, {"timeout", "abc"}}, 400),
      Error("bad_data",
            "invalid parameter \\\"timeout\\\": cannot parse \\\"abc\\\" to a valid duration"));
  EXPECT_EQ(Body("/api/v1/query", {{"query", "1"}, {"timeout", "0"}}, 503),
            Error("timeout", "query timed out in query queue"));
  EXPECT_EQ(Body("/api/v1/query", {{"query", "1"}, {"timeout", "30s"}, {"time", "4"}}),
            "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[4,\"1\"]}}");
}

TEST_F(ApiTest, QueryRangeValidatesInPrometheusOrder) {
  auto range = [&](Params p, int status) { return Body("/api/v1/query_range", p, status); };
  EXPECT_EQ(range({{"query", "1"}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"start\\\": cannot parse \\\"\\\" to a valid timestamp"));
  EXPECT_EQ(range({{"query", "1"}, {"start", "1"}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"end\\\": cannot parse \\\"\\\" to a valid timestamp"));
  EXPECT_EQ(range({{"query", "1"}, {"start", "2"}, {"end", "1"}, {"step", "x"}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"end\\\": end timestamp must not be before start time"));
  EXPECT_EQ(range({{"query", "1"}, {"start", "1"}, {"end", "2"}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"step\\\": cannot parse \\\"\\\" to a valid duration"));
  EXPECT_EQ(range({{"query", "1"}, {"start", "1"}, {"end", "2"}, {"step", "0"}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"step\\\": zero or negative query resolution step widths "
                  "are not accepted. Try a positive integer"));
  EXPECT_EQ(range({{"query", "sum("}, {"start", "0"}, {"end", "11001"}, {"step", "1"}}, 400),
            Error("bad_data",
                  "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing "
                  "the query resolution (?step=XX)"));
  // Integer division of the durations: 11000.9 s / 1 s = 11000 points is still accepted.
  EXPECT_EQ(Get("/api/v1/query_range",
                {{"query", "1"}, {"start", "0"}, {"end", "11000.9"}, {"step", "1"}})
                .status,
            200);
  EXPECT_EQ(range({{"query", "up[5m]"}, {"start", "1"}, {"end", "2"}, {"step", "1"}}, 400),
            Error("bad_data",
                  "invalid expression type \\\"range vector\\\" for range query, must be Scalar "
                  "or instant Vector"));
  EXPECT_EQ(range({{"query", "sum("}, {"start", "1"}, {"end", "2"}, {"step", "1"}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"query\\\": 1:5: parse error: unclosed left "
                  "parenthesis"));
}

TEST_F(ApiTest, QueryRangeEvaluatesAtEachStep) {
  EXPECT_EQ(Body("/api/v1/query_range", {{"query", "up{instance=\"a:1\"}"},
                                         {"start", "1699999996"},
                                         {"end", "1700000000"},
                                         {"step", "2"}}),
            "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{"
            "\"__name__\":\"up\",\"instance\":\"a:1\",\"job\":\"node\"},\"values\":[[1699999996,"
            "\"1\"],[1699999998,\"1\"],[1700000000,\"1\"]]}]}}");
  EXPECT_EQ(
      Body("/api/v1/query_range",
           {{"query", "time()"}, {"start", "-1.5"}, {"end", "0"}, {"step", "0.5"}}),
      "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},"
      "\"values\":[[-1.500,\"-1.5\"],[-1,\"-1\"],[-0.500,\"-0.5\"],[0,\"0\"]]}]}}");
  // POST form and durations written the Prometheus way.
  HttpResponse r =
      Send("POST", "/api/v1/query_range",
           {{"query", "sum(up)"}, {"start", "1699999940"}, {"end", "1700000000"}, {"step", "1m"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(
      r.body,
      "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},"
      "\"values\":[[1699999940,\"2\"],[1700000000,\"2\"]]}]}}");
}

TEST_F(ApiTest, EvaluationErrorsAreExecution422) {
  EXPECT_EQ(Body("/api/v1/query", {{"query", "up + on(job) up"}, {"time", "1700000000"}}, 422)
                .find("{\"status\":\"error\",\"errorType\":\"execution\",\"error\":\"found "
                      "duplicate series for the match group {job=\\\"node\\\"} on the right "
                      "hand-side of the operation:"),
            0u);
  EXPECT_EQ(Body("/api/v1/query",
                 {{"query", "up + on(job) sum by (job) (up)"}, {"time", "1700000000"}}, 422),
            Error("execution",
                  "multiple matches for labels: many-to-one matching must be explicit "
                  "(group_left/group_right)"));
  EXPECT_EQ(Body("/api/v1/query",
                 {{"query", "rate({__name__=~\"up|y_total\",instance=\"a:1\"}[1m])"},
                  {"time", "1700000000"}},
                 422),
            Error("execution", "vector cannot contain metrics with the same labelset"));
}

TEST_F(ApiTest, SeriesMatchesUnionsAndRanges) {
  EXPECT_EQ(Body("/api/v1/series", {}, 400), Error("bad_data", "no match[] parameter provided"));
  EXPECT_EQ(Body("/api/v1/series", {{"match[]", "{a=\"\"}"}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"match[]\\\": match[] must contain at least one non-empty "
                  "matcher"));
  EXPECT_EQ(Body("/api/v1/series", {{"match[]", "up[5m]"}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"match[]\\\": 1:3: parse error: unexpected "
                  "\\\"[\\\""));
  EXPECT_EQ(Body("/api/v1/series", {{"match[]", "sum(up)"}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"match[]\\\": 1:4: parse error: unexpected "
                  "\\\"(\\\""));
  EXPECT_EQ(Body("/api/v1/series", {{"match[]", "1"}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"match[]\\\": 1:1: parse error: unexpected "
                  "number \\\"1\\\""));
  EXPECT_EQ(Body("/api/v1/series", {{"match[]", "up"}, {"start", "abc"}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"start\\\": Invalid time value for 'start': cannot parse "
                  "\\\"abc\\\" to a valid timestamp"));
  // Two selectors: the union, sorted, each series once; Grafana's `limit` is ignored.
  EXPECT_EQ(Body("/api/v1/series", {{"match[]", "up{job=\"self\"}"},
                                    {"match[]", "{__name__=~\"old_metric|up\",job=~\"old|self\"}"},
                                    {"limit", "1"}}),
            "{\"status\":\"success\",\"data\":[{\"__name__\":\"old_metric\",\"job\":\"old\"},"
            "{\"__name__\":\"up\",\"instance\":\"c:1\",\"job\":\"self\"}]}");
  // Only series with samples in [start, end].
  EXPECT_EQ(Body("/api/v1/series", {{"match[]", "{job=~\"old|self\"}"},
                                    {"start", "1699999000"},
                                    {"end", "2023-11-14T22:13:20Z"}}),
            "{\"status\":\"success\",\"data\":[{\"__name__\":\"up\",\"instance\":\"c:1\","
            "\"job\":\"self\"}]}");
}

TEST_F(ApiTest, LabelNamesAndValues) {
  EXPECT_EQ(Body("/api/v1/labels", {}),
            "{\"status\":\"success\",\"data\":[\"__name__\",\"instance\",\"job\",\"path\"]}");
  EXPECT_EQ(Body("/api/v1/labels", {{"match[]", "up"}}),
            "{\"status\":\"success\",\"data\":[\"__name__\",\"instance\",\"job\"]}");
  EXPECT_EQ(Body("/api/v1/label/__name__/values", {{"start", "1699999000"}, {"end", "1700000000"}}),
            "{\"status\":\"success\",\"data\":[\"old_metric\",\"up\",\"x_total\",\"y_total\"]}");
  EXPECT_EQ(Body("/api/v1/label/__name__/values", {{"match[]", "{job=\"node\"}"}}),
            "{\"status\":\"success\",\"data\":[\"up\",\"x_total\",\"y_total\"]}");
  EXPECT_EQ(Body("/api/v1/label/job/values", {{"match[]", "up"}, {"match[]", "old_metric"}}),
            "{\"status\":\"success\",\"data\":[\"node\",\"old\",\"self\"]}");
  EXPECT_EQ(Body("/api/v1/label/x-y/values", {}, 400),
            Error("bad_data", "invalid label name: \\\"x-y\\\""));
  EXPECT_EQ(Body("/api/v1/label/__name__/values", {{"match[]", "{a=\"\"}"}}, 400),
            Error("bad_data", "match[] must contain at least one non-empty matcher"));
  EXPECT_EQ(Body("/api/v1/labels", {{"match[]", "up("}}, 400),
            Error("bad_data", "1:3: parse error: unexpected \\\"(\\\""));
  EXPECT_EQ(Body("/api/v1/labels", {{"match[]", "up{job=\"x\"}["}}, 400),
            Error("bad_data", "1:12: parse error: unexpected \\\"[\\\""));
  EXPECT_EQ(Body("/api/v1/labels", {{"match[]", ""}}, 400),
            Error("bad_data", "1:1: parse error: unexpected end of input"));
  EXPECT_EQ(Body("/api/v1/labels", {{"match[]", " up{} "}}),
            "{\"status\":\"success\",\"data\":[\"__name__\",\"instance\",\"job\"]}");
  EXPECT_EQ(Body("/api/v1/label/job/values", {{"start", "abc"}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"start\\\": Invalid time value for 'start': cannot parse "
                  "\\\"abc\\\" to a valid timestamp"));
}

TEST_F(ApiTest, MetadataComesFromTheCollectedFamilies) {
  EXPECT_EQ(Body("/api/v1/metadata", {}),
            "{\"status\":\"success\",\"data\":{"
            "\"misc\":[{\"type\":\"unknown\",\"help\":\"No type.\",\"unit\":\"\"}],"
            "\"up\":[{\"type\":\"gauge\",\"help\":\"Whether the target is up.\",\"unit\":\"\"}],"
            "\"x_total\":[{\"type\":\"counter\",\"help\":\"Things \\u003ccounted\\u003e.\","
            "\"unit\":\"\"}]}}");
  EXPECT_EQ(Body("/api/v1/metadata", {{"limit", "1"}}),
            "{\"status\":\"success\",\"data\":{\"misc\":[{\"type\":\"unknown\",\"help\":\"No "
            "type.\",\"unit\":\"\"}]}}");
  EXPECT_EQ(Body("/api/v1/metadata", {{"metric", "up"}}),
            "{\"status\":\"success\",\"data\":{\"up\":[{\"type\":\"gauge\",\"help\":\"Whether the "
            "target is up.\",\"unit\":\"\"}]}}");
  EXPECT_EQ(Body("/api/v1/metadata", {{"metric", "nope"}}), "{\"status\":\"success\",\"data\":{}}");
  EXPECT_EQ(Body("/api/v1/metadata", {{"limit", "abc"}}, 400),
            Error("bad_data", "limit must be a number"));
  batch_ = nullptr;  // Before the first collection.
  EXPECT_EQ(Body("/api/v1/metadata", {}), "{\"status\":\"success\",\"data\":{}}");
}

TEST_F(ApiTest, GrafanaStartupStubs) {
  EXPECT_EQ(Body("/api/v1/status/buildinfo", {}),
            "{\"status\":\"success\",\"data\":{\"version\":\"2.42.0\",\"revision\":\"tidemark-9.9."
            "9\",\"branch\":\"tidemark\",\"buildUser\":\"tidemark\",\"buildDate\":\"\","
            "\"goVersion\":\"\"}}");
  EXPECT_EQ(Body("/api/v1/rules", {}), "{\"status\":\"success\",\"data\":{\"groups\":[]}}");
  EXPECT_EQ(Body("/api/v1/query_exemplars",
                 {{"query", "test"}, {"start", "1699998200000"}, {"end", "1700000000000"}}),
            "{\"status\":\"success\",\"data\":[]}");
  EXPECT_EQ(Send("POST", "/api/v1/query_exemplars", {{"query", "test"}}).status, 200);
}

TEST_F(ApiTest, FormatQueryPrintsCanonicalText) {
  EXPECT_EQ(Body("/api/v1/format_query", {{"query", "sum(rate(x[5m]))by(a)"}}),
            "{\"status\":\"success\",\"data\":\"sum by (a) (rate(x[5m]))\"}");
  EXPECT_EQ(Body("/api/v1/format_query", {{"query", "sum("}}, 400),
            Error("bad_data",
                  "invalid parameter \\\"query\\\": 1:5: parse error: unclosed left parenthesis"));
}

TEST_F(ApiTest, MethodsAndUnknownPathsAnswerAsPrometheusRouter) {
  for (const char* p : {"/api/v1/label/job/values", "/api/v1/metadata", "/api/v1/status/buildinfo",
                        "/api/v1/rules"}) {
    HttpResponse r = Send("POST", p, {});
    EXPECT_EQ(r.status, 405) << p;
    EXPECT_EQ(r.body, "Method Not Allowed\n");
    EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
    ASSERT_FALSE(r.headers.empty());
    EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>("Allow", "GET, OPTIONS")));
  }
  HttpResponse put = Send("PUT", "/api/v1/query", {{"query", "1"}});
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.headers[0].second, "GET, OPTIONS, POST");
  EXPECT_EQ(Send("HEAD", "/api/v1/query", {}).status, 405);
  EXPECT_EQ(Send("OPTIONS", "/api/v1/query", {}).status, 204);
  for (const char* p :
       {"/api/v1/nope", "/api/v1/", "/api/v1/label//values", "/api/v1/label/a/b/values"}) {
    HttpResponse r = Send("GET", p, {});
    EXPECT_EQ(r.status, 404) << p;
    EXPECT_EQ(r.body, "404 page not found\n");
  }
}

TEST_F(ApiTest, RoutesLabelMetricsByPatternNotPath) {
  EXPECT_EQ(PrometheusApi::RouteLabel("/api/v1/query"), "/api/v1/query");
  EXPECT_EQ(PrometheusApi::RouteLabel("/api/v1/label/job/values"), "/api/v1/label/:name/values");
  EXPECT_EQ(PrometheusApi::RouteLabel("/api/v1/label/x/values"), "/api/v1/label/:name/values");
  EXPECT_EQ(PrometheusApi::RouteLabel("/api/v1/whatever"), "other");
  EXPECT_TRUE(PrometheusApi::IsSlow("/api/v1/query_range"));
  EXPECT_TRUE(PrometheusApi::IsSlow("/api/v1/label/job/values"));
  EXPECT_FALSE(PrometheusApi::IsSlow("/api/v1/status/buildinfo"));
}

TEST(ApiNoStoreTest, DataEndpointsAreUnavailableOthersWork) {
  testing::FakeClock clock;
  PrometheusApi api(nullptr, nullptr, nullptr, clock, "1");
  for (const char* p : {"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels",
                        "/api/v1/label/__name__/values"}) {
    HttpRequest req;
    req.method = "GET";
    req.path = p;
    req.query = {{"query", "1+1"}, {"match[]", "up"}};
    HttpResponse resp;
    api.Serve(req, &resp);
    EXPECT_EQ(resp.status, 500) << p;
    EXPECT_EQ(resp.body.find("{\"status\":\"error\",\"errorType\":\"unavailable\",\"error\":\"the "
                             "local store is not available"),
              0u)
        << resp.body;
  }
  HttpRequest req;
  req.method = "GET";
  req.path = "/api/v1/status/buildinfo";
  HttpResponse resp;
  api.Serve(req, &resp);
  EXPECT_EQ(resp.status, 200);
}

// Through a real HTTP server: a form-encoded POST as Grafana sends it.
TEST_F(ApiTest, PostFormOverHttp) {
  boost::asio::io_context io;
  auto server = HttpServer::Create(
      io, "127.0.0.1:0", [this](const HttpRequest& q, HttpResponse* r) { api_->Serve(q, r); });
  ASSERT_TRUE(server.ok());
  std::thread t([&] { io.run(); });
  HttpClient client = HttpClient::Tcp("127.0.0.1", (*server)->port());
  HttpClientRequest req;
  req.method = "POST";
  req.target = "/api/v1/query";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = "query=1%2B1&time=4";
  auto resp = client.Send(req);
  (*server)->Stop();
  io.stop();
  t.join();
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->Header("Content-Type"), "application/json");
  EXPECT_EQ(resp->body,
            "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[4,\"2\"]}}");
}

// The agent routes /api/v1/* to the API and counts requests by route.
TEST(AgentApiTest, AgentServesTheApiAndCountsByRoute) {
  testing::TempDir dir;
  testing::FakeClock clock;
  tsdb::DbOptions o;
  o.dir = dir.path() + "/tsdb";
  o.min_free_bytes = 0;
  auto db = tsdb::Db::Open(o, clock);
  ASSERT_TRUE(db.ok());
  auto agent = Agent::CreateForTest(AgentConfig{}, clock, CollectorSet{}, std::move(*db));
  agent->CollectOnce();
  auto get = [&](const std::string& path, Params q) {
    HttpRequest req;
    req.method = "GET";
    req.path = path;
    req.query = std::move(q);
    HttpResponse resp;
    agent->HandleHttp(req, &resp);
    return resp;
  };
  // The first cycle stored the agent's own metrics at the clock's time.
  HttpResponse r = get("/api/v1/query", {{"query", "tidemark_collection_cycles_total"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"value\":[1700000000,\"1\"]"), std::string::npos) << r.body;
  EXPECT_EQ(get("/api/v1/label/job/values", {}).status, 200);
  EXPECT_EQ(get("/api/v1/label/instance/values", {}).status, 200);
  r = get("/api/v1/metadata", {{"metric", "tidemark_collection_cycles_total"}});
  EXPECT_NE(r.body.find("\"type\":\"counter\""), std::string::npos) << r.body;
  std::string metrics = get("/metrics", {}).body;
  EXPECT_NE(metrics.find("tidemark_http_requests_total{code=\"200\",handler=\"/api/v1/query\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("handler=\"/api/v1/label/:name/values\"} 2"), std::string::npos);
  EXPECT_EQ(metrics.find("handler=\"/api/v1/label/job/values\""), std::string::npos);
}

TEST(QueryConfigTest, SectionIsParsedValidatedAndPrinted) {
  auto c = ParseConfig(
      "query:\n  lookback_delta: 1m\n  timeout: 30s\n  max_samples: 1000\n  max_concurrency: 2\n",
      "a.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->query.lookback_delta, std::chrono::minutes(1));
  EXPECT_EQ(c->query.timeout, std::chrono::seconds(30));
  EXPECT_EQ(c->query.max_samples, 1000u);
  EXPECT_EQ(c->query.max_concurrency, 2u);
  std::string yaml = ConfigToYaml(*c);
  EXPECT_NE(yaml.find("query:\n  lookback_delta: 1m\n  timeout: 30s\n  max_samples: 1000\n  "
                      "max_concurrency: 2\n"),
            std::string::npos)
      << yaml;
  // Defaults.
  auto d = ParseConfig("", "d.yaml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->query.lookback_delta, std::chrono::minutes(5));
  EXPECT_EQ(d->query.timeout, std::chrono::minutes(2));
  EXPECT_EQ(d->query.max_samples, 50'000'000u);
  EXPECT_EQ(d->query.max_concurrency, 4u);
  struct Bad {
    const char* yaml;
    const char* message;
  } bad[] = {
      {"query:\n  lookback: 1m\n", "a.yaml:2: query.lookback: unknown key"},
      {"query:\n  timeout: fast\n", "a.yaml:2: query.timeout:"},
      {"query:\n  timeout: 0s\n", "a.yaml: query.timeout: must be greater than 0"},
      {"query:\n  lookback_delta: 0s\n", "a.yaml: query.lookback_delta: must be greater than 0"},
      {"query:\n  max_samples: 0\n", "a.yaml: query.max_samples: must be at least 1"},
      {"query:\n  max_concurrency: 65\n", "a.yaml: query.max_concurrency: must be from 1 to 64"},
      {"query:\n  max_concurrency: -1\n", "a.yaml:2: query.max_concurrency: expected a"},
  };
  for (const Bad& b : bad) {
    auto r = ParseConfig(b.yaml, "a.yaml");
    ASSERT_FALSE(r.ok()) << b.yaml;
    EXPECT_EQ(r.status().message().find(b.message), 0u) << r.status().message();
  }
  testing::TempDir dir;
  dir.WriteFile("q.yaml", "query: {timeout: 10s}\n");
  std::ostringstream out, err;
  EXPECT_EQ(RunCli({"check", "config", dir.path() + "/q.yaml"}, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("  timeout: 10s\n"), std::string::npos) << out.str();
}

TEST(QueryCliTest, TimesAcceptApiFormatsNowAndRelative) {
  const int64_t now = kT0;
  EXPECT_EQ(*ParseCliTime("now", now), now);
  EXPECT_EQ(*ParseCliTime("-1h", now), now - 3'600'000);
  EXPECT_EQ(*ParseCliTime("now-30m", now), now - 1'800'000);
  EXPECT_EQ(*ParseCliTime("-1.5", now), -1500);  // A float is Unix seconds, even negative.
  EXPECT_EQ(*ParseCliTime("1700000000.5", now), 1700000000500);
  EXPECT_EQ(*ParseCliTime("2023-11-14T22:13:20Z", now), 1700000000000);
  EXPECT_FALSE(ParseCliTime("yesterday", now).ok());
  EXPECT_FALSE(ParseCliTime("-1x", now).ok());
  EXPECT_FALSE(ParseCliTime("now-", now).ok());
}

TEST(QueryCliTest, TableAlignsSeriesValueAndTime) {
  promql::Value v;
  v.type = promql::ValueType::kVector;
  v.vector.push_back(promql::Sample{{{"__name__", "up"}, {"job", "a\"b"}}, 1700000000500, 1});
  v.vector.push_back(promql::Sample{{{"job", "x"}}, 1700000000000, 1e-7});
  EXPECT_EQ(FormatResultTable(v),
            "SERIES          VALUE  TIME\n"
            "up{job=\"a\\\"b\"}  1      2023-11-14T22:13:20.500Z\n"
            "{job=\"x\"}       1e-07  2023-11-14T22:13:20.000Z\n");
  promql::Value s;
  s.type = promql::ValueType::kScalar;
  s.scalar = {4000, 2};
  EXPECT_EQ(FormatResultTable(s), "SERIES  VALUE  TIME\nscalar  2      1970-01-01T00:00:04.000Z\n");
  promql::Value m;
  m.type = promql::ValueType::kMatrix;
  EXPECT_EQ(FormatResultTable(m), "(empty result)\n");
  m.matrix.push_back(promql::Series{{}, {{-1500, -1.5}, {0, 0}}});
  EXPECT_EQ(FormatResultTable(m),
            "SERIES  VALUE  TIME\n"
            "{}      -1.5   1969-12-31T23:59:58.500Z\n"
            "{}      0      1970-01-01T00:00:00.000Z\n");
}

TEST(QueryCliTest, ParsesApiResponsesBack) {
  auto v = ParseQueryResponse(
      "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{"
      "\"a\":\"b\"},\"values\":[[1435781451.050,\"1e-07\"],[1435781452,\"+Inf\"]]}]}}");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->matrix.size(), 1u);
  EXPECT_EQ(v->matrix[0].metric, (Labels{{"a", "b"}}));
  EXPECT_EQ(v->matrix[0].points[0].t, 1435781451050);
  EXPECT_EQ(v->matrix[0].points[0].v, 1e-7);
  EXPECT_TRUE(std::isinf(v->matrix[0].points[1].v));
  auto e = ParseQueryResponse(
      "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter\"}");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.status().message(), "bad_data: invalid parameter");
  EXPECT_EQ(ParseQueryResponse("<html>").status().code(), StatusCode::kInternal);
}

TEST(QueryCliTest, RunsOnADataDirAndRejectsBadInput) {
  testing::TempDir dir;
  testing::FakeClock clock;
  {
    tsdb::DbOptions o;
    o.dir = dir.path() + "/tsdb";  // An agent's data dir layout.
    o.min_free_bytes = 0;
    auto db = tsdb::Db::Open(o, clock);
    ASSERT_TRUE(db.ok());
    auto app = (*db)->NewAppender();
    app.Add({{"__name__", "up"}, {"job", "a"}}, kT0 - 10'000, 1);
    app.Add({{"__name__", "up"}, {"job", "a"}}, kT0, 0);
    app.Add({{"__name__", "down"}, {"job", "b"}}, kT0, 0);
    ASSERT_TRUE(app.Commit().ok());
  }
  std::ostringstream out, err;
  EXPECT_EQ(RunQueryCli({"up", "--data-dir", dir.path()}, out, err, clock), 0) << err.str();
  EXPECT_EQ(out.str(),
            "SERIES       VALUE  TIME\nup{job=\"a\"}  0      2023-11-14T22:13:20.000Z\n");
  out.str("");
  EXPECT_EQ(RunQueryCli({"up", "--data-dir=" + dir.path() + "/tsdb", "--start", "-10s", "--step",
                         "10s", "--json"},
                        out, err, clock),
            0)
      << err.str();
  EXPECT_EQ(
      out.str(),
      "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{"
      "\"__name__\":\"up\",\"job\":\"a\"},\"values\":[[1699999990,\"1\"],[1700000000,\"0\"]]}]}}"
      "\n");
  struct Bad {
    std::vector<std::string> args;
    int code;
    const char* message;
  } bad[] = {
      {{}, 2, "tidemark query: missing EXPR"},
      {{"up", "down"}, 2, "tidemark query: more than one expression"},
      {{"up", "--time"}, 2, "tidemark query: --time: missing value"},
      {{"up", "--time", "soon"}, 2, "tidemark query: --time: bad time \"soon\""},
      {{"up", "--end", "now"}, 2, "tidemark query: a range query needs --start"},
      {{"up", "--start", "-1h", "--step", "0"}, 2, "tidemark query: --step: expected a positive"},
      {{"up", "--start", "now", "--end", "-1h"}, 2, "tidemark query: --end is before --start"},
      {{"up", "--server", "https://x"}, 2, "tidemark query: --server https://x: only http://"},
      {{"up", "--server", "x", "--data-dir", "y"}, 2, "tidemark query: --server and --data-dir"},
      {{"up", "--data-dir", dir.path() + "/nope"}, 2, "tidemark query: --data-dir"},
      {{"sum(", "--data-dir", dir.path()},
       2,
       "tidemark query: bad_data: invalid parameter \"query\": 1:5: parse error: unclosed left "
       "parenthesis"},
      {{"{__name__=~\"up|down\"} + on() up", "--data-dir", dir.path()},
       1,
       "tidemark query: execution: multiple matches for labels: many-to-one matching must be "
       "explicit (group_left/group_right)"},
  };
  for (const Bad& b : bad) {
    std::ostringstream o2, e2;
    EXPECT_EQ(RunQueryCli(b.args, o2, e2, clock), b.code) << e2.str();
    const std::string msg = e2.str();
    EXPECT_EQ(msg.find(b.message), 0u) << msg;
    EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 1) << msg;
  }
  std::ostringstream o3, e3;
  EXPECT_EQ(RunCli({"query", "--help"}, o3, e3), 0);
  EXPECT_NE(o3.str().find("Usage: tidemark query EXPR"), std::string::npos);
  EXPECT_EQ(RunCli({"--help"}, o3, e3), 0);
  EXPECT_NE(o3.str().find("  query "), std::string::npos);
}

}  // namespace
}  // namespace tidemark::agent

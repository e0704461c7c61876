#include "autoscaler/metric_source.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

#include "common/http_server.h"
#include "tests/testing/testing.h"
#include "tsdb/db.h"
#include "tsdb/promql/engine.h"

namespace tidemark::autoscaler {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;
const std::string kIdA = std::string(64, 'a');
const std::string kIdB = std::string(64, 'b');

TEST(MetricSourceTest, ParsesVectorAndScalarResponses) {
  auto v = ParseQueryResponse(R"({"status":"success","data":{"resultType":"vector","result":[)"
                              R"({"metric":{"id":"/docker/x"},"value":[1700000000.5,"0.25"]},)"
                              R"({"metric":{},"value":[1700000000.5,"NaN"]}]}})",
                              200);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ((*v)[0].labels.at("id"), "/docker/x");
  EXPECT_DOUBLE_EQ((*v)[0].value, 0.25);
  EXPECT_TRUE(std::isnan((*v)[1].value));
  auto s = ParseQueryResponse(
      R"({"status":"success","data":{"resultType":"scalar","result":[1,"3.5"]}})", 200);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->size(), 1u);
  EXPECT_DOUBLE_EQ((*s)[0].value, 3.5);
}

TEST(MetricSourceTest, ReportsTheApiErrorAndRejectsMatrices) {
  auto e = ParseQueryResponse(
      R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: x"})", 400);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("bad_data: 1:5: parse error: x"), std::string::npos);
  auto m =
      ParseQueryResponse(R"({"status":"success","data":{"resultType":"matrix","result":[]}})", 200);
  EXPECT_FALSE(m.ok());
  EXPECT_FALSE(ParseQueryResponse("<html>", 502).ok());
}

TEST(MetricSourceTest, ServiceValueIsTheSumAndNoDataIsNotZero) {
  EXPECT_EQ(ServiceValue({}), std::nullopt);
  EXPECT_EQ(ServiceValue({{{}, 1.5}, {{}, 2}}), 3.5);
  EXPECT_EQ(ServiceValue({{{}, 1.5}, {{}, std::nan("")}}), std::nullopt);
}

TEST(MetricSourceTest, CpuQueryMatchesIdsAndPrefersTheContainerCgroup) {
  const std::string q = ContainerCpuQuery({kIdA, "bad id\"", kIdB}, std::chrono::seconds(3));
  EXPECT_EQ(q,
            "rate(container_cpu_usage_seconds_total{id=~\".*(" + kIdA + "|" + kIdB + ").*\"}[3s])");
  EXPECT_EQ(ContainerCpuQuery({kIdA}, std::chrono::seconds(3), CpuRate::kLastInterval),
            "irate(container_cpu_usage_seconds_total{id=~\".*(" + kIdA + ").*\"}[3s])");
  EXPECT_EQ(ContainerCpuQuery({kIdA}, std::chrono::seconds(3), CpuRate::kThrottledLastInterval),
            "irate(container_cpu_cfs_throttled_seconds_total{id=~\".*(" + kIdA + ").*\"}[3s])");
  std::vector<QuerySample> samples = {
      {{{"id", "/system.slice/docker-" + kIdA + ".scope/sub"}}, 9},
      {{{"id", "/system.slice/docker-" + kIdA + ".scope"}}, 0.4},
      {{{"id", "/system.slice/other.service"}}, 5},
  };
  auto m = MatchContainerCpu({kIdA, kIdB}, samples, kT0, std::chrono::seconds(3));
  ASSERT_EQ(m.size(), 1u);  // B has no data: absent (missing), not zero.
  EXPECT_DOUBLE_EQ(m.at(kIdA).cores, 0.4);
  EXPECT_EQ(m.at(kIdA).timestamp_ms, kT0);
  EXPECT_EQ(m.at(kIdA).window_ms, 3000);
}

TEST(MetricSourceTest, EngineSourceComputesCoresFromTheStore) {
  testing::TempDir dir;
  testing::FakeClock clock;
  clock.Set(std::chrono::system_clock::time_point(std::chrono::milliseconds(kT0)));
  tsdb::DbOptions o;
  o.dir = dir.path() + "/tsdb";
  auto db = tsdb::Db::Open(o, clock);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  promql::Engine engine(db->get(), promql::EngineOptions{});
  for (int i = 0; i <= 10; ++i) {
    auto app = (*db)->NewAppender();
    const int64_t t = kT0 + i * 1000;
    // A uses half a core, B a quarter.
    app.Add({{"__name__", "container_cpu_usage_seconds_total"}, {"id", "/docker/" + kIdA}}, t,
            0.5 * i);
    app.Add({{"__name__", "container_cpu_usage_seconds_total"}, {"id", "/docker/" + kIdB}}, t,
            0.25 * i);
    ASSERT_TRUE(app.Commit().ok());
  }
  EngineMetricSource src(&engine);
  auto cpu = src.ContainerCpu({kIdA, kIdB, std::string(64, 'c')}, kT0 + 10'000,
                              std::chrono::seconds(3), CpuRate::kAverage);
  ASSERT_TRUE(cpu.ok()) << cpu.status().ToString();
  ASSERT_EQ(cpu->size(), 2u);
  EXPECT_NEAR(cpu->at(kIdA).cores, 0.5, 1e-9);
  EXPECT_NEAR(cpu->at(kIdB).cores, 0.25, 1e-9);
  auto total = src.Query("sum(rate(container_cpu_usage_seconds_total[3s]))", kT0 + 10'000);
  ASSERT_TRUE(total.ok());
  EXPECT_NEAR(*ServiceValue(*total), 0.75, 1e-9);
  EXPECT_FALSE(src.Query("sum(", kT0).ok());
  EngineMetricSource disabled(nullptr);
  EXPECT_EQ(disabled.Query("1", kT0).status().code(), StatusCode::kUnavailable);
}

// A Prometheus-compatible query endpoint answering from a fixed body.
class FakeQueryApi {
 public:
  explicit FakeQueryApi(std::string body) : body_(std::move(body)) {
    auto s =
        HttpServer::Create(io_, "127.0.0.1:0", [this](const HttpRequest& req, HttpResponse* resp) {
          last_query_ = std::string(req.Param("query"));
          last_path_ = req.path;
          resp->content_type = "application/json";
          resp->body = body_;
        });
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeQueryApi() {
    server_->Stop();
    io_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::string last_query_;
  std::string last_path_;

 private:
  std::string body_;
  boost::asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

std::string CpuBody(const std::string& id, double v) {
  return R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"id":"/docker/)" +
         id + R"("},"value":[1,")" + std::to_string(v) + R"("]}]}})";
}

TEST(MetricSourceTest, RemoteSourcesAreMergedAndAFailedOneIsMissingNotZero) {
  FakeQueryApi node1(CpuBody(kIdA, 0.5));
  FakeQueryApi node2(CpuBody(kIdB, 0.125));
  auto src = PrometheusMetricSource::Create({node1.url(), node2.url() + "/prom/"});
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  auto cpu = (*src)->ContainerCpu({kIdA, kIdB}, kT0, std::chrono::seconds(3), CpuRate::kAverage);
  ASSERT_TRUE(cpu.ok()) << cpu.status().ToString();
  EXPECT_NEAR(cpu->at(kIdA).cores, 0.5, 1e-9);
  EXPECT_NEAR(cpu->at(kIdB).cores, 0.125, 1e-9);
  EXPECT_EQ(node2.last_path_, "/prom/api/v1/query");
  EXPECT_EQ(node1.last_query_, ContainerCpuQuery({kIdA, kIdB}, std::chrono::seconds(3)));
  // Service totals add up over the nodes.
  auto total = (*src)->Query("x", kT0);
  ASSERT_TRUE(total.ok());
  EXPECT_NEAR(*ServiceValue(*total), 0.625, 1e-9);

  // One node down: its containers are missing for CPU, and totals fail instead of being too low.
  auto partial = PrometheusMetricSource::Create({node1.url(), "http://127.0.0.1:1"},
                                                PrometheusSourceOptions{std::chrono::seconds(1)});
  ASSERT_TRUE(partial.ok());
  auto cpu2 =
      (*partial)->ContainerCpu({kIdA, kIdB}, kT0, std::chrono::seconds(3), CpuRate::kAverage);
  ASSERT_TRUE(cpu2.ok());
  EXPECT_EQ(cpu2->size(), 1u);
  EXPECT_EQ(cpu2->count(kIdB), 0u);
  auto total2 = (*partial)->Query("x", kT0);
  ASSERT_FALSE(total2.ok());
  EXPECT_EQ(total2.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(total2.status().message().find("127.0.0.1:1"), std::string::npos);

  auto down = PrometheusMetricSource::Create({"http://127.0.0.1:1"});
  ASSERT_TRUE(down.ok());
  EXPECT_FALSE((*down)->ContainerCpu({kIdA}, kT0, std::chrono::seconds(3), CpuRate::kAverage).ok());
  EXPECT_FALSE(PrometheusMetricSource::Create({"node1:9920"}).ok());
}

}  // namespace
}  // namespace tidemark::autoscaler

#include "agent/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tidemark::agent {
namespace {

SampleBatch MakeBatch() {
  SampleBatch b;
  const LabelSet* web = b.Intern(std::make_shared<LabelSet>(
      Labels{{"id", "/docker/abc"}, {"name", "web"}, {"image", "busybox:latest"}}));
  size_t cpu = b.Family("container_cpu_usage_seconds_total", "Cumulative cpu time consumed.",
                        MetricType::kCounter);
  b.Add(cpu, web, {{"cpu", "total"}}, 12.5);
  size_t fail = b.Family("container_memory_failcnt", "Number of memory usage hits limits.",
                         MetricType::kCounter);
  b.Add(fail, web, 3);
  size_t load = b.Family("node_load1", "1m load average.\nSecond \\ line.", MetricType::kGauge);
  b.Add(load, nullptr, 0.25);
  size_t retr =
      b.Family("node_netstat_Tcp_RetransSegs", "Statistic TcpRetransSegs.", MetricType::kUntyped);
  b.Add(retr, nullptr, 7);
  size_t h = b.Family("x_seconds", "A histogram.", MetricType::kHistogram);
  b.Add(h, web, {{"le", "1"}}, 2, SeriesPart::kBucket);
  b.Add(h, web, {{"le", "+Inf"}}, 3, SeriesPart::kBucket);
  b.Add(h, web, {}, 4.5, SeriesPart::kSum);
  b.Add(h, web, {}, 3, SeriesPart::kCount);
  b.Family("empty_family", "Has no samples.", MetricType::kGauge);
  return b;
}

TEST(ExpositionTest, RendersText004) {
  SampleBatch b = MakeBatch();
  const SampleBatch* batches[] = {&b};
  std::string out;
  RenderExposition(batches, ExpositionFormat::kText004, &out);
  FinishExposition(ExpositionFormat::kText004, &out);
  EXPECT_EQ(
      out,
      "# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed.\n"
      "# TYPE container_cpu_usage_seconds_total counter\n"
      "container_cpu_usage_seconds_total{id=\"/docker/abc\",image=\"busybox:latest\","
      "name=\"web\",cpu=\"total\"} 12.5\n"
      "# HELP container_memory_failcnt Number of memory usage hits limits.\n"
      "# TYPE container_memory_failcnt counter\n"
      "container_memory_failcnt{id=\"/docker/abc\",image=\"busybox:latest\",name=\"web\"} 3\n"
      "# HELP node_load1 1m load average.\\nSecond \\\\ line.\n"
      "# TYPE node_load1 gauge\n"
      "node_load1 0.25\n"
      "# HELP node_netstat_Tcp_RetransSegs Statistic TcpRetransSegs.\n"
      "# TYPE node_netstat_Tcp_RetransSegs untyped\n"
      "node_netstat_Tcp_RetransSegs 7\n"
      "# HELP x_seconds A histogram.\n"
      "# TYPE x_seconds histogram\n"
      "x_seconds_bucket{id=\"/docker/abc\",image=\"busybox:latest\",name=\"web\",le=\"1\"} 2\n"
      "x_seconds_bucket{id=\"/docker/abc\",image=\"busybox:latest\",name=\"web\",le=\"+Inf\"} 3\n"
      "x_seconds_sum{id=\"/docker/abc\",image=\"busybox:latest\",name=\"web\"} 4.5\n"
      "x_seconds_count{id=\"/docker/abc\",image=\"busybox:latest\",name=\"web\"} 3\n");
}

TEST(ExpositionTest, RendersOpenMetrics) {
  SampleBatch b = MakeBatch();
  const SampleBatch* batches[] = {&b};
  std::string out;
  RenderExposition(batches, ExpositionFormat::kOpenMetrics100, &out);
  FinishExposition(ExpositionFormat::kOpenMetrics100, &out);
  EXPECT_NE(out.find("# TYPE container_cpu_usage_seconds counter\n"
                     "container_cpu_usage_seconds_total{"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("# TYPE container_memory_failcnt unknown\n"), std::string::npos);
  EXPECT_NE(out.find("# TYPE node_netstat_Tcp_RetransSegs unknown\n"), std::string::npos);
  EXPECT_NE(out.find("le=\"1.0\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_TRUE(
      out.ends_with("x_seconds_count{id=\"/docker/abc\",image=\"busybox:latest\","
                    "name=\"web\"} 3\n# EOF\n"));
  EXPECT_EQ(out.find("\n\n"), std::string::npos) << "OpenMetrics forbids blank lines";
}

TEST(ExpositionTest, FormatsFloatsShortestAndSpecials) {
  auto f = [](double v) {
    std::string s;
    AppendDouble(v, &s);
    return s;
  };
  EXPECT_EQ(f(0), "0");
  EXPECT_EQ(f(1234567), "1234567");
  EXPECT_EQ(f(0.1), "0.1");
  EXPECT_EQ(f(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(f(1e21), "1e+21");
  EXPECT_EQ(f(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(f(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(f(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(std::stod(f(123456789.123456789)), 123456789.123456789);
}

TEST(ExpositionTest, NegotiatesLikePrometheusScraper) {
  // Prometheus 2.42's scrape Accept header.
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;version=1.0.0,application/"
                            "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,"
                            "*/*;q=0.1"),
            ExpositionFormat::kOpenMetrics100);
  EXPECT_EQ(NegotiateFormat(""), ExpositionFormat::kText004);
  EXPECT_EQ(NegotiateFormat("*/*"), ExpositionFormat::kText004);
  EXPECT_EQ(NegotiateFormat("text/plain;version=0.0.4"), ExpositionFormat::kText004);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text; version=2.0.0"),
            ExpositionFormat::kText004);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;q=0.2,text/plain;q=0.9"),
            ExpositionFormat::kText004);
  EXPECT_EQ(NegotiateFormat("application/openmetrics-text;q=0"), ExpositionFormat::kText004);
}

}  // namespace
}  // namespace tidemark::agent

#include "common/labels.h"

#include <gtest/gtest.h>

#include "common/sample_batch.h"
#include "common/status.h"

namespace tidemark {
namespace {

TEST(LabelSetTest, SortsDropsEmptyAndEscapes) {
  LabelSet s({{"name", "web\"1\""}, {"id", "/docker/a\\b"}, {"image", ""}, {"x", "a\nb"}});
  EXPECT_EQ(s.rendered(), R"(id="/docker/a\\b",name="web\"1\"",x="a\nb")");
  EXPECT_EQ(s.labels().size(), 3u);
  EXPECT_EQ(s.Get("name"), "web\"1\"");
  EXPECT_EQ(s.Get("image"), "");
}

TEST(LabelSetTest, SanitizesLabelNamesLikeCadvisor) {
  EXPECT_EQ(SanitizeLabelName("com.docker.swarm.service.name"), "com_docker_swarm_service_name");
  EXPECT_EQ(SanitizeLabelName("9lives"), "_9lives");
  EXPECT_EQ(SanitizeLabelName("a-b/c"), "a_b_c");
}

TEST(LabelSetTest, ValidatesNames) {
  EXPECT_TRUE(IsValidMetricName("container_cpu_usage_seconds_total"));
  EXPECT_TRUE(IsValidMetricName("job:rate5m"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_FALSE(IsValidMetricName("1a"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_TRUE(IsValidLabelName("_x1"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  // From the engine's and the API's copies (label_replace, count_values, /label/<name>/values).
  EXPECT_TRUE(IsValidLabelName("Le_2"));
  EXPECT_FALSE(IsValidLabelName("2le"));
  EXPECT_FALSE(IsValidLabelName(""));
  EXPECT_FALSE(IsValidLabelName("a-b"));
  EXPECT_FALSE(IsValidLabelName("\xc3\xa9"));
}

TEST(LabelsTest, GetLabelFindsTheValueOrEmpty) {
  const Labels ls = {{"__name__", "up"}, {"job", "api"}};
  EXPECT_EQ(GetLabel(ls, "job"), "api");
  EXPECT_EQ(GetLabel(ls, "__name__"), "up");
  EXPECT_EQ(GetLabel(ls, "instance"), "");
  EXPECT_EQ(GetLabel({}, "job"), "");
}

TEST(SampleBatchTest, FamiliesAreDeclaredOnceInOrder) {
  SampleBatch b;
  size_t a = b.Family("a_total", "A.", MetricType::kCounter);
  size_t g = b.Family("g", "G.", MetricType::kGauge);
  EXPECT_EQ(b.Family("a_total", "other help", MetricType::kGauge), a);
  const LabelSet* base = b.Intern(std::make_shared<LabelSet>(Labels{{"id", "/x"}}));
  b.Add(a, base, 1);
  b.Add(g, nullptr, {{"cpu", "0"}}, 2);
  b.Add(a, base, 3);
  ASSERT_EQ(b.families().size(), 2u);
  EXPECT_EQ(b.families()[a].type, MetricType::kCounter);
  EXPECT_EQ(b.families()[a].samples.size(), 2u);
  EXPECT_EQ(b.families()[a].samples[1].value, 3);
  EXPECT_EQ(b.families()[a].samples[0].base->rendered(), "id=\"/x\"");
  EXPECT_EQ(b.SampleCount(), 3u);
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status s = Status::NotFound("/sys/x: gone");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "NotFound: /sys/x: gone");
  EXPECT_TRUE(Status::Ok().ok());
  Result<int> r = 5;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(*r, 5);
  Result<int> e = Status::IoError("disk");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace tidemark

#include "ebpf/log2_histogram.h"

#include <gtest/gtest.h>

#include "ebpf/biolatency_reader.h"

namespace tidemark::ebpf {
namespace {

TEST(Log2HistogramTest, UpperBoundsArePowersOfTwoMicroseconds) {
  EXPECT_DOUBLE_EQ(Log2Histogram::UpperBound(0, 1e-6), 0.000001);
  EXPECT_DOUBLE_EQ(Log2Histogram::UpperBound(1, 1e-6), 0.000002);
  EXPECT_DOUBLE_EQ(Log2Histogram::UpperBound(10, 1e-6), 0.001024);
  EXPECT_DOUBLE_EQ(Log2Histogram::UpperBound(15, 1e-6), 0.032768);
  EXPECT_DOUBLE_EQ(Log2Histogram::UpperBound(20, 1e-6), 1.048576);
  EXPECT_DOUBLE_EQ(Log2Histogram::UpperBound(26, 1e-6), 67.108864);
}

TEST(Log2HistogramTest, EmitsCumulativeBucketsInfSumAndCount) {
  Log2Histogram h;
  h.slots = {1, 0, 3, 2};  // Last slot: everything above 4 us, so it only feeds +Inf.
  h.sum = 0.5;
  SampleBatch b;
  size_t fam = b.Family("x_seconds", "help", MetricType::kHistogram);
  const Labels extra{{"device", "vda"}};
  h.Emit(&b, fam, nullptr, extra, 1e-6);
  const std::vector<Sample>& s = b.families()[fam].samples;
  ASSERT_EQ(s.size(), 6u);  // le=1e-06, 2e-06, 4e-06, +Inf, sum, count
  EXPECT_EQ(s[0].extra, (Labels{{"device", "vda"}, {"le", "1e-06"}}));
  EXPECT_EQ(s[0].value, 1);
  EXPECT_EQ(s[1].extra, (Labels{{"device", "vda"}, {"le", "2e-06"}}));
  EXPECT_EQ(s[1].value, 1);
  EXPECT_EQ(s[2].extra, (Labels{{"device", "vda"}, {"le", "4e-06"}}));
  EXPECT_EQ(s[2].value, 4);
  EXPECT_EQ(s[3].extra, (Labels{{"device", "vda"}, {"le", "+Inf"}}));
  EXPECT_EQ(s[3].value, 6);
  EXPECT_EQ(s[3].part, SeriesPart::kBucket);
  EXPECT_EQ(s[4].part, SeriesPart::kSum);
  EXPECT_EQ(s[4].value, 0.5);
  EXPECT_EQ(s[4].extra, extra);
  EXPECT_EQ(s[5].part, SeriesPart::kCount);
  EXPECT_EQ(s[5].value, 6);
}

TEST(Log2HistogramTest, MergeAddsSlotsAndSums) {
  Log2Histogram a, b;
  a.slots = {1, 2};
  a.sum = 1;
  b.slots = {0, 1, 5};
  b.sum = 2;
  a.Merge(b);
  EXPECT_EQ(a.slots, (std::vector<uint64_t>{1, 3, 5}));
  EXPECT_EQ(a.sum, 3);
  EXPECT_EQ(a.Count(), 9u);
}

TEST(BioLatencyReaderTest, OperationNamesFollowReqOp) {
  EXPECT_EQ(BioLatencyReader::OperationName(0), "read");
  EXPECT_EQ(BioLatencyReader::OperationName(1), "write");
  EXPECT_EQ(BioLatencyReader::OperationName(2), "flush");
  EXPECT_EQ(BioLatencyReader::OperationName(3), "discard");
  EXPECT_EQ(BioLatencyReader::OperationName(9), "write_zeroes");
  EXPECT_EQ(BioLatencyReader::OperationName(34), "other");
}

}  // namespace
}  // namespace tidemark::ebpf

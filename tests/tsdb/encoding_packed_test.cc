#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <vector>

#include "tsdb/encoding/chunk.h"
#include "tsdb/encoding/packed_chunk.h"

namespace tidemark::tsdb::encoding {
namespace {

std::vector<int64_t> Ticks(size_t n, int64_t step = 1000) {
  std::vector<int64_t> ts(n);
  for (size_t i = 0; i < n; ++i) ts[i] = 1767225600000 + static_cast<int64_t>(i) * step;
  return ts;
}

struct Decoded {
  std::vector<int64_t> ts;
  std::vector<double> vs;
};

Decoded DecodePacked(const std::string& data) {
  PackedIterator it;
  EXPECT_TRUE(it.Init(data).ok());
  Decoded d;
  while (it.Next()) {
    d.ts.push_back(it.t());
    d.vs.push_back(it.v());
  }
  EXPECT_TRUE(it.status().ok()) << it.status().ToString();
  return d;
}

void ExpectRoundTrip(const std::vector<int64_t>& ts, const std::vector<double>& vs,
                     ValueKind want_kind) {
  const std::string data = EncodePacked(ts, vs);
  auto summary = ReadPackedSummary(data);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->value_kind, want_kind);
  EXPECT_EQ(summary->num_samples, ts.size());
  EXPECT_EQ(summary->min_t, ts.front());
  EXPECT_EQ(summary->max_t, ts.back());
  const Decoded d = DecodePacked(data);
  ASSERT_EQ(d.ts, ts);
  ASSERT_EQ(d.vs.size(), vs.size());
  for (size_t i = 0; i < vs.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint64_t>(d.vs[i]), std::bit_cast<uint64_t>(vs[i])) << i;
  }
}

TEST(PackedChunkTest, ConstantSeriesOnTicksCostAFewBytes) {
  const auto ts = Ticks(240);
  const std::vector<double> limit(240, 1073741824.0);
  const std::string data = EncodePacked(ts, limit);
  EXPECT_LE(data.size(), 14u);  // count, layout (step code), t0, varint value
  ExpectRoundTrip(ts, limit, ValueKind::kConstInt);
  const std::vector<double> stale(240, std::bit_cast<double>(uint64_t{0x7ff0000000000002}));
  ExpectRoundTrip(ts, stale, ValueKind::kConstRaw);
}

TEST(PackedChunkTest, PageGaugesUseTheGcd) {
  const auto ts = Ticks(240);
  std::vector<double> vs;
  int64_t v = 89478144;
  for (size_t i = 0; i < 240; ++i)
    vs.push_back(static_cast<double>(v += 4096 * ((i * 37) % 129 - 64)));
  ExpectRoundTrip(ts, vs, ValueKind::kInt);
  // 129 possible steps: about 7 bits a sample, plus the header.
  EXPECT_LE(EncodePacked(ts, vs).size(), 240u * 7 / 8 + 24);
}

TEST(PackedChunkTest, SteadyCounterCostsNothingPerSample) {
  const auto ts = Ticks(240);
  std::vector<double> vs;
  for (size_t i = 0; i < 240; ++i) vs.push_back(1e6 + 123.0 * static_cast<double>(i));
  ExpectRoundTrip(ts, vs, ValueKind::kInt);
  EXPECT_LE(EncodePacked(ts, vs).size(), 20u);
}

TEST(PackedChunkTest, DecimalsUseMantissas) {
  const auto ts = Ticks(240);
  std::vector<double> vs;
  int64_t m = 1234;
  for (size_t i = 0; i < 240; ++i) vs.push_back(static_cast<double>(m += (i % 3) - 1) / 100);
  ExpectRoundTrip(ts, vs, ValueKind::kDecimal);
  EXPECT_LE(EncodePacked(ts, vs).size(), 240u * 2 / 8 + 24);
}

TEST(PackedChunkTest, NegativeZeroIsNeverAnInteger) {
  const auto ts = Ticks(4);
  for (const std::vector<double>& vs :
       {std::vector<double>{1.0, -0.0, 2.0, 0.0}, std::vector<double>{0.5, -0.0, 0.25, 1.0}}) {
    const std::string data = EncodePacked(ts, vs);
    auto s = ReadPackedSummary(data);
    ASSERT_TRUE(s.ok());
    EXPECT_NE(s->value_kind, ValueKind::kInt);
    EXPECT_NE(s->value_kind, ValueKind::kDecimal);
    const Decoded d = DecodePacked(data);
    ASSERT_EQ(d.vs.size(), 4u);
    EXPECT_TRUE(std::signbit(d.vs[1]));
    EXPECT_EQ(d.vs[1], 0.0);
  }
}

TEST(PackedChunkTest, CounterResetsAndPowerOfTwoCrossingsBecomeExceptions) {
  const auto ts = Ticks(240);
  std::vector<double> resets;
  double c = 5000;
  for (size_t i = 0; i < 240; ++i) resets.push_back(c = (i == 100 || i == 200) ? 3 : c + 7);
  ExpectRoundTrip(ts, resets, ValueKind::kInt);
  EXPECT_LE(EncodePacked(ts, resets).size(), 40u);

  // A byte counter with a fractional start crossing 2^29: its float bits keep a large GCD only
  // with the crossing delta set aside.
  std::vector<double> bytes;
  double b = 536870912.0 - 120 * 1000.5 + 0.1234567891;  // Not a decimal with <= 6 digits.
  for (size_t i = 0; i < 240; ++i) bytes.push_back(b += 1000 + static_cast<double>(i % 5));
  ExpectRoundTrip(ts, bytes, ValueKind::kFloatBits);
  EXPECT_LE(EncodePacked(ts, bytes).size(), 240u * 4 / 8 + 40);
}

TEST(PackedChunkTest, JitteredTimestampsRoundTrip) {
  std::vector<int64_t> ts;
  for (int64_t i = 0; i < 240; ++i) ts.push_back(1767225600000 + i * 1000 + (i * 7919) % 11 - 5);
  std::vector<double> vs(240, 1.0);
  ExpectRoundTrip(ts, vs, ValueKind::kConstInt);
  auto s = ReadPackedSummary(EncodePacked(ts, vs));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->ts_kind, TsKind::kSequence);
  // Deltas spread over 21 ms: about 5 bits a sample.
  EXPECT_LE(EncodePacked(ts, vs).size(), 240u * 5 / 8 + 24);
}

TEST(PackedChunkTest, UnusualStepsAndSingleSamples) {
  ExpectRoundTrip({42}, {3.5}, ValueKind::kConstRaw);
  ExpectRoundTrip({-7}, {-2}, ValueKind::kConstInt);
  ExpectRoundTrip({0, 7, 14, 21}, {1, 2, 3, 5}, ValueKind::kInt);
  ExpectRoundTrip(Ticks(3, 60000), {1, 1, 2}, ValueKind::kInt);
}

}  // namespace
}  // namespace tidemark::tsdb::encoding

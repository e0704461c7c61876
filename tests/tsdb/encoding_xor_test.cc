#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tsdb/encoding/xor_chunk.h"

namespace tidemark::tsdb::encoding {
namespace {

constexpr uint64_t kStaleNaN = 0x7ff0000000000002;

std::string Hex(std::string_view s) {
  static const char* kDigits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
    out += ' ';
  }
  return out;
}

// Bytes worked out by hand from prometheus/prometheus@v2.42.0 tsdb/chunkenc/xor.go.
TEST(XorChunkTest, MatchesPrometheusLayoutByteForByte) {
  XorAppender a;
  ASSERT_TRUE(a.Append(1000, 1.0).ok());
  ASSERT_TRUE(a.Append(2000, 1.0).ok());
  ASSERT_TRUE(a.Append(3000, 2.0).ok());
  ASSERT_TRUE(a.Append(4000, 2.0).ok());
  ASSERT_TRUE(a.Append(5500, 3.0).ok());
  // 00 05                      uint16 BE sample count
  // D0 0F                      varint(1000) = uvarint(2000)
  // 3F F0 00 00 00 00 00 00    1.0
  // E8 07                      uvarint(t1 - t0 = 1000)
  // then bits: 0 (v1 = v0) | 0 (dod 0) 11 00001 001011 11111111111 (2.0: lead 1, 11 sig bits)
  //   | 0 0 | 10 00000111110100 (dod 500) 11 01100 000001 1 (3.0: lead 12, 1 sig bit) | pad
  const std::string expected(
      "\x00\x05\xD0\x0F\x3F\xF0\x00\x00\x00\x00\x00\x00\xE8\x07"
      "\x30\x97\xFF\xC8\x1F\x4D\x80\xC0",
      22);
  EXPECT_EQ(Hex(a.bytes()), Hex(expected));
  EXPECT_EQ(a.NumSamples(), 5u);
  EXPECT_EQ(a.first_t(), 1000);
  EXPECT_EQ(a.last_t(), 5500);

  XorIterator it(expected);
  std::vector<std::pair<int64_t, double>> got;
  while (it.Next()) got.emplace_back(it.t(), it.v());
  ASSERT_TRUE(it.status().ok()) << it.status().ToString();
  const std::vector<std::pair<int64_t, double>> want = {
      {1000, 1.0}, {2000, 1.0}, {3000, 2.0}, {4000, 2.0}, {5500, 3.0}};
  EXPECT_EQ(got, want);
}

TEST(XorChunkTest, EmptyChunkIsTwoZeroBytes) {
  XorAppender a;
  EXPECT_EQ(a.bytes(), std::string_view("\x00\x00", 2));
  XorIterator it(a.bytes());
  EXPECT_FALSE(it.Next());
  EXPECT_TRUE(it.status().ok());
}

TEST(XorChunkTest, RejectsNonIncreasingTimestampsAndOverflow) {
  XorAppender a;
  ASSERT_TRUE(a.Append(10, 1).ok());
  EXPECT_EQ(a.Append(10, 2).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.Append(9, 2).code(), StatusCode::kInvalidArgument);
  for (size_t i = 1; i < kMaxXorSamples; ++i) {
    ASSERT_TRUE(a.Append(10 + static_cast<int64_t>(i), 1).ok());
  }
  EXPECT_EQ(a.Append(1'000'000, 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.NumSamples(), kMaxXorSamples);
}

TEST(XorChunkTest, KeepsStaleMarkerAndSpecialValuesBitExact) {
  const std::vector<uint64_t> bits = {kStaleNaN,
                                      0x7ff8000000000001,
                                      0xfff0000000000000,
                                      0x7ff0000000000000,
                                      0x8000000000000000,
                                      0,
                                      1,
                                      0x000fffffffffffff,
                                      kStaleNaN,
                                      0xfff8deadbeef0000,
                                      0x3ff0000000000000,
                                      0x3ff0000000000000};
  XorAppender a;
  for (size_t i = 0; i < bits.size(); ++i) {
    ASSERT_TRUE(a.Append(static_cast<int64_t>(i) * 15000, std::bit_cast<double>(bits[i])).ok());
  }
  XorIterator it(a.bytes());
  size_t i = 0;
  while (it.Next()) {
    ASSERT_LT(i, bits.size());
    EXPECT_EQ(std::bit_cast<uint64_t>(it.v()), bits[i]) << i;
    ++i;
  }
  EXPECT_TRUE(it.status().ok());
  EXPECT_EQ(i, bits.size());
}

TEST(XorChunkTest, ReopenAndContinueEqualsAppendingInOneGo) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 40; ++round) {
    const size_t n = 1 + rng() % 150;
    std::vector<int64_t> ts;
    std::vector<double> vs;
    int64_t t = static_cast<int64_t>(rng() % 2'000'000'000'000) - 1'000'000'000'000;
    double v = 0;
    for (size_t i = 0; i < n; ++i) {
      t += 1 + static_cast<int64_t>(round % 3 == 0 ? rng() % 100'000 : 1000);
      switch (round % 4) {
        case 0:
          v = std::bit_cast<double>(rng());
          break;
        case 1:
          v += static_cast<double>(rng() % 3);
          break;
        case 2:
          break;  // constant
        default:
          v = static_cast<double>(rng() % 1000) / 100;
      }
      ts.push_back(t);
      vs.push_back(v);
    }
    XorAppender whole;
    for (size_t i = 0; i < n; ++i) ASSERT_TRUE(whole.Append(ts[i], vs[i]).ok());
    for (size_t cut = 0; cut <= n; ++cut) {
      XorAppender first;
      for (size_t i = 0; i < cut; ++i) ASSERT_TRUE(first.Append(ts[i], vs[i]).ok());
      auto reopened = XorAppender::FromBytes(first.bytes());
      ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
      EXPECT_EQ(reopened->NumSamples(), cut);
      for (size_t i = cut; i < n; ++i) ASSERT_TRUE(reopened->Append(ts[i], vs[i]).ok());
      ASSERT_TRUE(reopened->bytes() == whole.bytes()) << "round " << round << " cut " << cut;
      EXPECT_EQ(reopened->first_t(), ts[0]);
      EXPECT_EQ(reopened->last_t(), ts[n - 1]);
    }
  }
}

TEST(XorChunkTest, ReopenRejectsGarbage) {
  EXPECT_FALSE(XorAppender::FromBytes("").ok());
  EXPECT_FALSE(XorAppender::FromBytes(std::string("\x00\x03\x01", 3)).ok());
  XorAppender a;
  ASSERT_TRUE(a.Append(1, 1).ok());
  EXPECT_FALSE(XorAppender::FromBytes(std::string(a.bytes()) + "x").ok());
}

TEST(XorChunkTest, HandlesTimestampsNearInt64Bounds) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const std::vector<std::vector<int64_t>> cases = {
      {kMin, kMax}, {kMin, kMin + 1, kMax - 1, kMax}, {kMax - 3, kMax - 2, kMax}, {-5, 0, kMax}};
  for (const auto& ts : cases) {
    XorAppender a;
    for (int64_t t : ts) ASSERT_TRUE(a.Append(t, 1.5).ok());
    XorIterator it(a.bytes());
    std::vector<int64_t> got;
    while (it.Next()) got.push_back(it.t());
    EXPECT_TRUE(it.status().ok());
    EXPECT_EQ(got, ts);
  }
}

}  // namespace
}  // namespace tidemark::tsdb::encoding
